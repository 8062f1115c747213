//! `compare --jobs N`: seeds trained in worker processes give the report a sequential run with
//! the same `--threads` writes, timings aside, with a tuning search and in the inductive
//! setting (where each worker builds only its own seeds' graphs and DeepWalk columns), and
//! after a kill and `--resume`, and with the search's small-student stage in a worker of its own
//! (kept or started again after the teacher's stage); the workers die with the parent; a bad
//! `--jobs` is refused with one `error:` line.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/report.rs"]
mod report;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli::{assert_fails_with, gdistill, stderr, stdout};
use report::{read_report, without_timings};

/// Runs `args` with `--json` once sequentially and once with `--jobs 2`; returns both reports
/// and the `--jobs` run's standard error.
fn sequential_and_jobs(args: &[&str], data_dir: &Path, dir: &Path) -> (serde_json::Value, serde_json::Value, String) {
    let (one, two) = (dir.join("one.json"), dir.join("two.json"));
    let o = gdistill(&[args, &["--json", one.to_str().unwrap()]].concat(), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gdistill(&[args, &["--json", two.to_str().unwrap(), "--jobs", "2"]].concat(), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.join("two.json.journal").exists(), "a finished run removes its journal");
    (read_report(&one), read_report(&two), stderr(&o))
}

#[test]
fn seeds_in_workers_give_the_sequential_report_with_a_search() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "3",
        "--epochs",
        "15",
        "--tune",
        "2",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
    ];
    let (one, two, _) = sequential_and_jobs(&args, root, dir.path());
    assert_eq!(one["rows"][0]["test_acc"].as_array().unwrap().len(), 3);
    assert!(two["tune"]["rungs"].as_array().is_some_and(|r| !r.is_empty()));
    // The search's seconds are the search's (recorded in the journal), not its replay's.
    let seconds = |r: &serde_json::Value| r["tune"]["train_s"].as_f64().unwrap();
    assert!(seconds(&two) > 0.3 * seconds(&one), "search {} s against {} s", seconds(&two), seconds(&one));
    assert_eq!(without_timings(two), without_timings(one));
}

/// The small student's search stage runs in a worker from the start, on the recipe's feature
/// normalisation; a teacher stage that chooses the other starts it again. Both ways the parent's
/// replay of the search must find every small-student trial recorded (it refuses to train one)
/// and the report is the sequential one.
#[test]
fn a_search_leaving_the_recipes_normalisation_restarts_the_small_students_stage() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Search seed 3 draws an unnormalised teacher that wins; Cora's recipe normalises.
    let config = dir.path().join("tune.toml");
    std::fs::write(&config, "[tune]\ntrials = 2\nseed = 3\n").unwrap();
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "2",
        "--epochs",
        "15",
        "--config",
        config.to_str().unwrap(),
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
    ];
    let (one, two, _) = sequential_and_jobs(&args, root, dir.path());
    let teacher = one["tune"]["chosen"].as_array().unwrap().iter().find(|t| t["stage"] == "teacher").unwrap();
    let chosen = teacher["settings"].as_array().unwrap().iter().find(|kv| kv[0] == "normalize_features");
    assert_eq!(
        chosen.map(|kv| kv[1].clone()),
        Some("false".into()),
        "the search no longer leaves the recipe's normalisation: pick another seed"
    );
    assert!(one["tune"]["trials"].as_array().unwrap().iter().any(|t| t["stage"] == "small student"));
    assert_eq!(without_timings(two), without_timings(one));
}

#[test]
fn seeds_in_workers_give_the_sequential_report_inductively() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "3",
        "--first-seed",
        "5",
        "--epochs",
        "10",
        "--split",
        "per-class:20,30",
        "--setting",
        "inductive",
        "--mlp-features",
        "given+deepwalk:8:walk=10,walks=1",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
    ];
    let (one, two, messages) = sequential_and_jobs(&args, root, dir.path());
    let mlp = one["rows"].as_array().unwrap().iter().find(|r| r["name"] == "mlp+kd").unwrap();
    assert_eq!(mlp["ind_acc"].as_array().unwrap().len(), 3);
    // The parent replays the seeds without learning their DeepWalk columns again: only the first
    // seed's graphs are built, for the feature count.
    let learnt = messages.lines().filter(|l| l.starts_with("features ")).count();
    assert!(learnt <= 1, "the parent learnt DeepWalk columns {learnt} times:\n{messages}");
    assert_eq!(without_timings(two), without_timings(one));
}

#[test]
fn jobs_without_a_report_print_the_table_and_leave_nothing_behind() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args([
            "compare",
            "--dataset",
            "cora",
            "--seeds",
            "2",
            "--epochs",
            "5",
            "--no-lsp",
            "--no-prune",
            "--jobs",
            "3",
        ])
        .env("GDISTILL_DATA_DIR", root)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 seeds on Cpu") && stdout(&o).contains("mlp+kd"), "{}", stdout(&o));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written in the working folder");
}

#[test]
fn a_bad_jobs_count_or_input_is_refused() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let o = gdistill(&["compare", "--dataset", "cora", "--seeds", "2", "--jobs", "0"], root);
    assert_fails_with(&o, &["--jobs must be at least 1"]);
    let o = gdistill(&["compare", "--dataset", "digits:nowhere.npz", "--jobs", "2"], root);
    assert_fails_with(&o, &["--jobs applies to graph datasets"]);
    // A config read from a pipe could not be read again by the workers.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args(["compare", "--dataset", "cora", "--seeds", "2", "--jobs", "2", "--config", "/dev/stdin"])
        .env("GDISTILL_DATA_DIR", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"seeds = 2\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_fails_with(&o, &["/dev/stdin", "must be a regular file, not a pipe"]);
}

/// Seed records in a journal (complete lines only).
fn seeds_in(journal: &Path) -> usize {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.split_inclusive('\n').filter(|l| l.ends_with('\n') && l.starts_with("{\"key\":\"seed ")).count()
}

/// Worker processes of the run writing `report` (a worker's command line is its parent's, with
/// `--worker-seeds` added).
fn workers_of(report: &Path) -> usize {
    let report = report.to_str().unwrap();
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).into_owned())
        .filter(|cmdline| cmdline.contains("--worker-seeds") && cmdline.contains(report))
        .count()
}

#[test]
fn a_killed_run_with_jobs_takes_its_workers_along_and_resumes_to_the_sequential_report() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Seeds of some seconds each, so that a worker left running would still be seen below.
    let args =
        ["compare", "--dataset", "cora", "--seeds", "4", "--epochs", "400", "--no-lsp", "--no-prune", "--threads", "1"];
    let (one, two) = (dir.path().join("one.json"), dir.path().join("two.json"));
    let o = gdistill(&[&args[..], &["--json", one.to_str().unwrap()]].concat(), root);
    assert!(o.status.success(), "{}", stderr(&o));

    let with_jobs = [&args[..], &["--json", two.to_str().unwrap(), "--jobs", "2"]].concat();
    let journal = dir.path().join("two.json.journal");
    let mut parent = Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args(&with_jobs)
        .env("GDISTILL_DATA_DIR", root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while seeds_in(&journal) < 1 {
        assert!(parent.try_wait().unwrap().is_none(), "the run ended before a seed was recorded");
        assert!(start.elapsed() < Duration::from_secs(600), "no seed recorded in 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    parent.kill().unwrap(); // SIGKILL: no cleanup runs in the parent
    parent.wait().unwrap();
    let recorded = seeds_in(&journal);
    assert!((1..4).contains(&recorded), "{recorded} seeds recorded when killed: nothing left to resume");
    let start = Instant::now();
    while workers_of(&two) > 0 {
        // A worker has a seed or two of training left, and the kernel ends it in milliseconds.
        assert!(start.elapsed() < Duration::from_millis(1500), "the workers outlived their parent");
        std::thread::sleep(Duration::from_millis(50));
    }

    let o = gdistill(&[&with_jobs[..], &["--resume"]].concat(), root);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{recorded} seeds and trials done")), "{}", stderr(&o));
    assert!(!journal.exists());
    assert_eq!(without_timings(read_report(&two)), without_timings(read_report(&one)));
}
