//! Where tests find the real datasets, and what they do when the data is not there.
//!
//! Shared by the tests of every crate (`#[path = ".../tests/support/data.rs"] mod data;`).
//! The data lives in `shared/data` beside the repository (override with `GDISTILL_DATA_DIR`).
//! When a folder is missing: with `CI=true` the test fails saying so; otherwise it prints a note
//! and returns early.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The data directory tests read from: `$GDISTILL_DATA_DIR`, else the first `shared/data` found
/// beside the crate or one of its ancestors.
pub fn data_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("GDISTILL_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/data"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| manifest.join("../shared/data"))
}

/// `data_root()/sub` when it exists; `None` (after a note) when it does not and CI is not set;
/// panics when it does not and `CI=true`.
pub fn data_dir(sub: &str) -> Option<PathBuf> {
    let dir = data_root().join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").map(|v| v.eq_ignore_ascii_case("true") || v == "1").unwrap_or(false);
    let message = format!(
        "real dataset folder {} is missing (set GDISTILL_DATA_DIR to the folder holding cora/, citeseer/, pubmed/)",
        dir.display()
    );
    if ci {
        panic!("{message}; CI=true, so a missing dataset is a failure");
    }
    eprintln!("note: {message}; skipping this test");
    None
}
