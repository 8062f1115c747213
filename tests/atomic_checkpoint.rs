//! Atomic checkpoint writes: a process killed (SIGKILL) at any moment of `gdistill train --out`
//! leaves the previous checkpoint intact, never half of a new one.
//!
//! Two reference checkpoints are trained to completion first (seeds 1 and 2; on the CPU a seed
//! fixes the bytes of the file). Then runs alternating between the two seeds write to the same
//! `--out` path and are killed while they write: the test polls for the writer's temporary file
//! (`.{name}.tmp{pid}-...`), waits a random fraction of the write, and sends SIGKILL. After every
//! kill the file at `--out` must be byte-identical to one of the references (the one it held
//! before, or the one being written if the rename had happened); at most the killed process's
//! temporary file may be left beside it, and the next successful write removes such leftovers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An MLP of about 5 M parameters (a 21 MB checkpoint) on a small graph: one training epoch is
/// quick, the write takes long enough to be interrupted.
const SPEC: &str = "csbm:nodes=200,classes=4,degree=4,features=512,signal=2,seed=3";

fn train_args(out: &Path, seed: u64) -> Vec<String> {
    [
        "train",
        "--dataset",
        SPEC,
        "--model",
        "mlp",
        "--hidden",
        "2048",
        "--layers",
        "3",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--seed",
        &seed.to_string(),
        "--out",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn gdistill(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gdistill"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn temp_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.tmp");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// A tiny deterministic generator for the kill delays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

#[test]
fn a_checkpoint_killed_mid_write_leaves_the_previous_one_intact() {
    let dir = tempfile::tempdir().unwrap();
    let reference = |seed: u64| {
        let path = dir.path().join(format!("reference-{seed}.safetensors"));
        let o = gdistill(&train_args(&path, seed)).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(&path).unwrap()
    };
    let refs = [reference(1), reference(2)];
    assert_ne!(refs[0], refs[1], "two seeds give two different checkpoints");

    let name = "same.safetensors";
    let out = dir.path().join(name);
    let mut previous: Option<usize> = None; // which reference the file holds
    let mut rng = Lcg(0x5eed);
    let (mut mid_write, mut after_rename, mut finished) = (0, 0, 0);
    let runs = 10;
    for run in 0..runs {
        let writing = run % 2; // reference index this run writes
        let mut child = gdistill(&train_args(&out, writing as u64 + 1)).spawn().unwrap();
        let own = format!(".{name}.tmp{}-", child.id());
        let own_temp_files = || -> Vec<PathBuf> {
            let mut files = temp_files(dir.path(), name);
            files.retain(|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with(&own)));
            files
        };
        // wait for the write to start
        let start = Instant::now();
        let mut seen = false;
        while start.elapsed() < Duration::from_secs(120) {
            if !own_temp_files().is_empty() {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        if seen {
            // somewhere within the write (which takes tens of milliseconds)
            std::thread::sleep(Duration::from_micros(rng.below(40_000)));
        }
        child.kill().ok(); // SIGKILL; an error means it had already exited
        let status = child.wait().unwrap();
        let strays = temp_files(dir.path(), name);
        let bytes = std::fs::read(&out).ok();
        let holds = bytes.as_ref().map(|b| refs.iter().position(|r| r == b));
        match holds {
            None => assert!(previous.is_none(), "run {run}: the checkpoint disappeared"),
            Some(None) => panic!(
                "run {run}: the checkpoint is neither reference ({} bytes; references {} and {}): half-written",
                bytes.unwrap().len(),
                refs[0].len(),
                refs[1].len()
            ),
            Some(Some(k)) => assert!(
                Some(k) == previous || k == writing,
                "run {run}: holds reference {k}, but held {previous:?} and was writing {writing}"
            ),
        }
        assert!(strays.len() <= 1, "run {run}: temporary files pile up: {strays:?}");
        if status.success() {
            finished += 1;
        } else if strays.is_empty() {
            after_rename += holds.flatten().map_or(0, |k| usize::from(k == writing));
        } else {
            mid_write += 1;
            assert_eq!(strays, own_temp_files(), "run {run}: only the killed process's temporary file is left");
        }
        previous = holds.flatten().or(previous);
    }
    eprintln!("{runs} runs: {mid_write} killed mid-write, {after_rename} killed after the rename, {finished} finished");
    assert!(
        mid_write >= 3,
        "too few kills landed inside a write ({mid_write} of {runs}) for the test to mean anything"
    );

    // A complete write removes what killed writers left, and the result loads.
    let o = gdistill(&train_args(&out, 1)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), refs[0]);
    assert!(temp_files(dir.path(), name).is_empty(), "leftovers of killed writers were not removed");
    let eval = ["eval", "--dataset", SPEC, "--threads", "1", "--checkpoint", &out.display().to_string()];
    let o = gdistill(&eval.iter().map(|s| s.to_string()).collect::<Vec<_>>()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
