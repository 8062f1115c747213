//! Running the `gdistill` binary from integration tests, and what a clean failure looks like.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `gdistill ARGS` with `data_dir` as its data directory.
pub fn gdistill(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args(args)
        .env("GDISTILL_DATA_DIR", data_dir)
        .output()
        .expect("the gdistill binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: exit status 1 (2 for a flag clap rejects), an `error:` line
/// mentioning every `needle`, no panic.
pub fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success; stdout: {}", stdout(o));
    assert!(matches!(o.status.code(), Some(1 | 2)), "exit code {:?}; stderr: {err}", o.status.code());
    assert!(!err.contains("panicked"), "panicked: {err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line in: {err}"));
    for needle in needles {
        assert!(line.contains(needle), "error line lacks '{needle}': {line}");
    }
}
