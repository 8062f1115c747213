//! `compare --jobs N`: seeds trained in worker processes give the report a sequential run with
//! the same `--threads` writes, timings aside, with a tuning search and in the inductive
//! setting (where each worker builds only its own seeds' graphs and DeepWalk columns); a bad
//! `--jobs` is refused with one `error:` line.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/report.rs"]
mod report;

use std::path::Path;

use cli::{assert_fails_with, gdistill, stderr, stdout};
use report::without_timings;

fn report(json: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// Runs `args` with `--json` once sequentially and once with `--jobs 2`; returns both reports.
fn sequential_and_jobs(args: &[&str], data_dir: &Path, dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let (one, two) = (dir.join("one.json"), dir.join("two.json"));
    let o = gdistill(&[args, &["--json", one.to_str().unwrap()]].concat(), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gdistill(&[args, &["--json", two.to_str().unwrap(), "--jobs", "2"]].concat(), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.join("two.json.journal").exists(), "a finished run removes its journal");
    (report(&one), report(&two))
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
    let (one, two) = sequential_and_jobs(&args, root, dir.path());
    assert_eq!(one["rows"][0]["test_acc"].as_array().unwrap().len(), 3);
    assert!(two["tune"]["rungs"].as_array().is_some_and(|r| !r.is_empty()));
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
    let (one, two) = sequential_and_jobs(&args, root, dir.path());
    let mlp = one["rows"].as_array().unwrap().iter().find(|r| r["name"] == "mlp+kd").unwrap();
    assert_eq!(mlp["ind_acc"].as_array().unwrap().len(), 3);
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
}
