//! Running gdistill under `mpirun` in tests: one job at a time, bounded in time, with the flags
//! this machine needs (`--oversubscribe`, `--allow-run-as-root` as root). Without `mpirun` on
//! the PATH a test prints a note and returns, unless `CI=true`, where that is a failure.
//!
//! Include with `#[path = "support/mpirun.rs"] mod mpirun;` beside `support/cli.rs` and
//! `support/data.rs` (declared as `mod cli;` and `mod data;`).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One multi-rank job at a time: the machine has few cores and each job oversubscribes them.
pub static ONE_JOB: Mutex<()> = Mutex::new(());

pub const LIMIT: Duration = Duration::from_secs(300);

pub fn ci() -> bool {
    std::env::var("CI").map(|v| v.eq_ignore_ascii_case("true") || v == "1").unwrap_or(false)
}

/// Whether `mpirun` is there; with CI=true its absence is a failure.
pub fn have_mpirun() -> bool {
    let found = Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!ci(), "mpirun is missing; CI=true, so that is a failure (make bootstrap installs openmpi-bin)");
        eprintln!("note: mpirun is missing; skipping this test");
    }
    found
}

/// Runs `command` to the end, failing the test if it takes longer than `limit`.
pub fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let start = Instant::now();
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    loop {
        if child.try_wait().expect("waiting").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {limit:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `mpirun -np RANKS gdistill ARGS` in `dir`, with extra environment for every rank.
pub fn mpirun(ranks: usize, args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    mpirun_program(ranks, env!("CARGO_BIN_EXE_gdistill"), args, env, dir)
}

/// `mpirun -np RANKS PROGRAM ARGS` in `dir` (a wrapper that runs gdistill), as [`mpirun`].
pub fn mpirun_program(ranks: usize, program: &str, args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut command = Command::new("mpirun");
    // SAFETY: geteuid takes nothing and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--allow-run-as-root");
    }
    command.args(["--oversubscribe", "-np", &ranks.to_string()]);
    for (k, v) in env {
        command.args(["-x", &format!("{k}={v}")]);
    }
    command.arg(program).args(args);
    command.current_dir(dir).env("GDISTILL_DATA_DIR", super::data::data_root());
    // shared-memory transport without the ptrace-based single copy, refused in many containers
    command.env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    run_bounded(command, LIMIT)
}

/// `gdistill ARGS` in `dir`, one process.
pub fn gdistill_in(args: &[&str], dir: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gdistill"));
    command.args(args).current_dir(dir).env("GDISTILL_DATA_DIR", super::data::data_root());
    run_bounded(command, LIMIT)
}

/// `out`, after checking it succeeded (printing its output otherwise).
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
