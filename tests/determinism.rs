//! Determinism: on the CPU, the same seeds give the same `gdistill compare --json` report, timings
//! aside: every accuracy of every row and seed, exactly.

use std::path::Path;
use std::process::Command;

use report::without_timings;

#[path = "support/report.rs"]
mod report;

const SPEC: &str = "csbm:nodes=200,classes=3,degree=6,features=8,signal=1.5,seed=4";

fn compare(json: &Path, extra: &[&str]) -> serde_json::Value {
    // One libtorch thread: the test stays a few seconds long on a busy machine (several spinning
    // OpenMP threads per process can slow it down thirtyfold there).
    let mut args =
        vec!["compare", "--dataset", SPEC, "--seeds", "2", "--epochs", "30", "--device", "cpu", "--threads", "1"];
    args.extend_from_slice(extra);
    let json_arg = json.display().to_string();
    args.extend_from_slice(&["--json", &json_arg]);
    let o = Command::new(env!("CARGO_BIN_EXE_gdistill")).args(&args).output().expect("the gdistill binary runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn accuracies(report: &serde_json::Value, key: &str) -> Vec<(String, Vec<f64>)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let values = r[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            (r["name"].as_str().unwrap().to_string(), values)
        })
        .collect()
}

#[test]
fn the_same_seeds_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let a = compare(&dir.path().join("a.json"), &[]);
    let b = compare(&dir.path().join("b.json"), &[]);
    for key in ["test_acc", "val_acc"] {
        let (xa, xb) = (accuracies(&a, key), accuracies(&b, key));
        assert!(xa.len() >= 5 && xa.iter().all(|(_, v)| v.len() == 2), "{xa:?}");
        assert_eq!(xa, xb, "{key} differs between two runs with the same seeds");
    }
    assert_eq!(without_timings(a.clone()), without_timings(b), "the reports differ beyond timings");

    // and the seed is used at all: the two seeds of one report differ somewhere
    let rows = accuracies(&a, "val_acc");
    assert!(rows.iter().any(|(_, v)| v[0] != v[1]), "seeds 0 and 1 gave identical numbers in every row: {rows:?}");
}
