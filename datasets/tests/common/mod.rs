//! Where the tests find the real datasets, and what they do when the data is not there.
//!
//! The data lives in `../shared/data` relative to the workspace root (override with
//! `GDISTILL_DATA_DIR`). When a folder is missing: with `CI=true` the test fails with a message
//! saying so; otherwise it prints a note and the test returns early (passes vacuously).

#![allow(dead_code)]

use std::path::PathBuf;

/// The data directory tests read from.
pub fn data_root() -> PathBuf {
    match std::env::var_os("GDISTILL_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
    }
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
