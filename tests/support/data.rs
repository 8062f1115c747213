//! Where tests find the real datasets, and what they do when the data is not there.
//!
//! Shared by the tests of every crate (`#[path = ".../tests/support/data.rs"] mod data;`).
//! The data lives in `shared/data` beside the repository (override with `GDISTILL_DATA_DIR`).
//! The repository carries the demo's Planetoid files (`data/cora`, `data/citeseer`), so a
//! fresh clone with nothing beside it still runs the tests that need only those: a folder
//! missing from the data directory is looked up in the repository's `data/` before giving up.
//! When a folder is missing from both: with `CI=true` the test fails saying so; otherwise it
//! prints a note and returns early.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The data directory tests read from: `$GDISTILL_DATA_DIR`, else the first `shared/data` found
/// beside the crate or one of its ancestors, else the repository's own `data/`.
pub fn data_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("GDISTILL_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/data"))
        .find(|d| d.is_dir())
        .or_else(repo_data)
        .unwrap_or_else(|| manifest.join("../shared/data"))
}

/// The repository's `data/` folder (the one holding PROVENANCE.md), found from whichever crate
/// includes this file.
pub fn repo_data() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("data"))
        .find(|d| d.join("PROVENANCE.md").is_file())
}

/// `data_root()/sub` when it exists (else the repository's `data/sub`); `None` (after a note)
/// when neither does and CI is not set; panics when neither does and `CI=true`.
pub fn data_dir(sub: &str) -> Option<PathBuf> {
    data_dir_with(sub, &[])
}

/// [`data_dir`] for a test that needs `files` in the folder: the repository carries only the
/// Planetoid files of `cora/` and `citeseer/`, so a test of their LINQS text must skip (or, in
/// CI, fail) in a fresh clone rather than fail on a missing file.
pub fn data_dir_with(sub: &str, files: &[&str]) -> Option<PathBuf> {
    let dir = data_root().join(sub);
    let complete = |d: &PathBuf| d.is_dir() && files.iter().all(|f| d.join(f).is_file());
    if complete(&dir) {
        return Some(dir);
    }
    if let Some(carried) = repo_data().map(|d| d.join(sub)).filter(complete) {
        return Some(carried);
    }
    let ci = std::env::var("CI").map(|v| v.eq_ignore_ascii_case("true") || v == "1").unwrap_or(false);
    let what = if files.is_empty() || !dir.is_dir() {
        format!("real dataset folder {} is missing", dir.display())
    } else {
        format!("real dataset files {} are missing from {}", files.join(", "), dir.display())
    };
    let message = format!("{what} (set GDISTILL_DATA_DIR to the folder holding cora/, citeseer/, pubmed/)");
    if ci {
        panic!("{message}; CI=true, so a missing dataset is a failure");
    }
    eprintln!("note: {message}; skipping this test");
    None
}
