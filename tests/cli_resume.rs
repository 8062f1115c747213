//! `--resume`: a `compare` (with and without `--tune`) or `prune` killed with SIGKILL in its
//! middle and resumed writes the report an uninterrupted run writes, timings aside; journals
//! of another command line, corrupt journals and stray flags are refused with one `error:` line.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/report.rs"]
mod report;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli::{assert_fails_with, gdistill, stderr};
use report::{read_report, without_timings};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `args` with `--json json` (and `extra`).
fn with_json<'a>(args: &[&'a str], json: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--json", path(json)]);
    all.extend_from_slice(extra);
    all
}

fn journal_of(json: &Path) -> std::path::PathBuf {
    json.with_file_name(format!("{}.journal", json.file_name().unwrap().to_str().unwrap()))
}

/// Complete lines (header and records) in the journal.
fn journal_lines(journal: &Path) -> usize {
    std::fs::read_to_string(journal).map_or(0, |t| t.matches('\n').count())
}

/// Starts `gdistill args`, waits until its journal holds `records` finished units, and kills it
/// with SIGKILL.
fn kill_after(args: &[&str], data_dir: &Path, journal: &Path, records: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args(args)
        .env("GDISTILL_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while journal_lines(journal) < 1 + records {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before its journal held {records} records: nothing left to kill");
        }
        assert!(start.elapsed() < Duration::from_secs(900), "no journal record in 15 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Runs `args` uninterrupted, then killed after `records` units and resumed, and checks both
/// reports agree but for timings.
fn uninterrupted_equals_resumed(args: &[&str], data_dir: &Path, dir: &Path, records: usize) {
    let (full, resumed) = (dir.join("full.json"), dir.join("resumed.json"));
    let o = gdistill(&with_json(args, &full, &[]), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!journal_of(&full).exists(), "a finished run removes its journal");

    let journal = journal_of(&resumed);
    kill_after(&with_json(args, &resumed, &[]), data_dir, &journal, records);
    let o = gdistill(&with_json(args, &resumed, &["--resume"]), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("note: resuming from"), "{}", stderr(&o));
    assert!(!journal.exists());
    assert_eq!(without_timings(read_report(&resumed)), without_timings(read_report(&full)));
}

#[test]
fn a_killed_compare_resumes_to_the_uninterrupted_report_and_refuses_other_journals() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = ["compare", "--dataset", "cora", "--seeds", "3", "--epochs", "20", "--no-lsp", "--threads", "1"];
    uninterrupted_equals_resumed(&args, root, dir.path(), 1);

    // Killed again; then the journal's header and records are put to the test.
    let json = dir.path().join("again.json");
    let journal = journal_of(&json);
    kill_after(&with_json(&args, &json, &[]), root, &journal, 1);
    let good = std::fs::read_to_string(&journal).unwrap();
    let o = gdistill(&with_json(&args, &json, &[]), root);
    assert_fails_with(&o, &[path(&journal), "--resume continues it"]);
    let mut other = args.to_vec();
    other[6] = "21";
    let o = gdistill(&with_json(&other, &json, &["--resume"]), root);
    assert_fails_with(&o, &["a journal of another command line", "config.distill_training.epochs", "20", "21"]);
    std::fs::write(&journal, format!("{good}not json\n")).unwrap();
    let o = gdistill(&with_json(&args, &json, &["--resume"]), root);
    let line = good.lines().count() + 1;
    assert_fails_with(&o, &[&format!("{}: line {line}: not a journal record", path(&journal))]);
    let o = gdistill(&["compare", "--dataset", "cora", "--resume"], root);
    assert_fails_with(&o, &["--resume needs --json"]);
    // A report path that cannot be written is refused before the run, not after it.
    let o = gdistill(&["compare", "--dataset", "cora", "--json", path(dir.path())], root);
    assert_fails_with(&o, &[path(dir.path()), "cannot write: is a directory"]);
    assert!(!journal_of(dir.path()).exists());

    // A record torn by a kill inside its write is dropped; the run completes as if uninterrupted.
    std::fs::write(&journal, format!("{good}{{\"key\":\"seed 2\",\"figu")).unwrap();
    let o = gdistill(&with_json(&args, &json, &["--resume"]), root);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("last record, cut short by the kill, was dropped"), "{}", stderr(&o));
    let full = dir.path().join("full.json");
    assert_eq!(without_timings(read_report(&json)), without_timings(read_report(&full)));
}

#[test]
fn a_killed_tuning_resumes_from_its_trials() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "2",
        "--epochs",
        "15",
        "--tune",
        "2",
        "--tune-schedule",
        "full",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
    ];
    // Killed after the first teacher trial: the chosen teacher may have to be trained again for
    // the distillation trials' soft targets.
    uninterrupted_equals_resumed(&args, root, dir.path(), 1);
}

#[test]
fn a_killed_halving_search_resumes_from_its_rungs() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Three trials at rate 2: three teacher runs at half the longest one's epochs, then the best
    // at full length (a fourth journal record, unless its first run was final and is reused).
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "2",
        "--epochs",
        "15",
        "--tune",
        "3",
        "--tune-eta",
        "2",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
    ];
    // Killed after four records (the teacher's stage, or a student run beside it): the chosen
    // teacher's run is replayed, so its soft targets must be trained again, and the later
    // stages' rungs run in the resumed process.
    uninterrupted_equals_resumed(&args, root, dir.path(), 4);
    let tune = &read_report(&dir.path().join("resumed.json"))["tune"];
    assert_eq!(tune["schedule"], "halving");
    let rungs = tune["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 8, "four stages of two rungs");
    for pair in rungs.chunks(2) {
        assert_eq!(pair[0]["runs"].as_array().unwrap().len(), 3);
        assert_eq!(pair[0]["divisor"], 2);
        assert_eq!(pair[1]["runs"].as_array().unwrap().len(), 1);
        assert_eq!(pair[1]["runs"][0]["trial"], pair[0]["kept"][0]);
    }
    // Killed after the teacher's first rung (three records): its kept trial's run is not in
    // memory, so the resumed process trains it again through the first rung's budget, reseeded
    // as the uninterrupted run was, before going on: the reports must still be equal.
    let dir = tempfile::tempdir().unwrap();
    uninterrupted_equals_resumed(&args, root, dir.path(), 3);
}

#[test]
fn a_killed_prune_resumes_to_the_uninterrupted_report() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "prune",
        "--dataset",
        "cora",
        "--seeds",
        "3",
        "--method",
        "magnitude,random",
        "--sparsity",
        "0,0.5",
        "--retrain-epochs",
        "10",
        "--threads",
        "1",
    ];
    uninterrupted_equals_resumed(&args, root, dir.path(), 1);
}
