//! The binary's version as run journals record it (`src/cmd/resume.rs`): the package version
//! and, in a git checkout, the commit it was built from, so that a journal written by another
//! build is refused rather than mixed into this one's report. Uncommitted changes are not seen.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

pub fn main() {
    let package = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => format!("{package} (git {commit})"),
        None => package,
    };
    println!("cargo:rustc-env=GDISTILL_VERSION={version}");
    // Rebuilt when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|b| b.starts_with("refs/")) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    // A path that does not exist would rerun this script on every build.
    for path in watched.into_iter().flatten().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
}
