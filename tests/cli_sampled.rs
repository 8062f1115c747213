//! `compare` and `bench` with the neighbour sampler and the inductive setting, end to end, and
//! one clear message for each bad setting.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill};

const SPEC: &str = "csbm:nodes=300,classes=3,degree=6,features=12,signal=2,seed=5";

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn compare_runs_inductively_on_sampled_batches() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("ind.json");
    let args = [
        "compare",
        "--dataset",
        SPEC,
        "--teacher",
        "sage",
        "--seeds",
        "2",
        "--epochs",
        "5",
        "--no-prune",
        "--no-lsp",
        "--setting",
        "inductive",
        "--sampler",
        "neighbor",
        "--fanout",
        "5,5",
        "--batch-size",
        "32",
        "--json",
        json_path.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("prod acc") && stdout.contains("ind acc") && stdout.contains("held out"), "{stdout}");
    let json = read_json(&json_path);
    assert_eq!(json["config"]["setting"], "inductive:0.2");
    assert_eq!(json["config"]["sampler"]["fanouts"], serde_json::json!([5, 5]));
    let test = json["dataset"]["test"].as_f64().unwrap();
    assert_eq!(json["dataset"]["held_out"].as_f64(), Some((0.2 * test).round()));
    for row in json["rows"].as_array().unwrap() {
        for key in ["tran_mean", "ind_mean", "prod_mean", "ind_std"] {
            assert!(row[key].is_number(), "{key} in {row}");
        }
        assert_eq!(row["ind_acc"].as_array().unwrap().len(), 2, "one figure per seed");
    }
}

#[test]
fn bench_times_a_sampled_teacher_of_any_family() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let args = [
        "bench",
        "--dataset",
        SPEC,
        "--models",
        "teacher",
        "--teacher",
        "gat",
        "--split",
        "random:0.6,0.2",
        "--sampler",
        "neighbor",
        "--fanout",
        "5,5",
        "--batch-size",
        "64",
        "--epochs",
        "2",
        "--warmup",
        "1",
        "--json",
        json_path.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = read_json(&json_path);
    assert_eq!(json["family"], "gat");
    assert_eq!(json["sampler"]["batch_size"], 64);
    let teacher = &json["rows"][0];
    assert_eq!(teacher["name"], "teacher");
    assert!(teacher["step_ms"].as_f64().unwrap() > 0.0);

    // A peer that timed another model, or full-batch training, is not held against this run.
    let peer = dir.path().join("peer.json");
    std::fs::write(&peer, r#"{"peer": "pytorch_geometric", "model": "sage", "epoch_ms": 10.0}"#).unwrap();
    let mut with_peer = args.to_vec();
    with_peer.extend(["--peer", peer.to_str().unwrap()]);
    assert_fails_with(&gdistill(&with_peer, dir.path()), &["peer.json", "sage", "gat"]);
    std::fs::write(&peer, r#"{"peer": "pytorch_geometric", "model": "gat", "step_ms": 10.0}"#).unwrap();
    assert_fails_with(&gdistill(&with_peer, dir.path()), &["peer.json", "sampled"]);
}

#[test]
fn bad_sampler_and_setting_values_fail_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--sampler", "neighbor", "--fanout", "15,0"], &["fan-out"]),
        (&["--sampler", "neighbor", "--fanout=-3,2"], &["fan-out"]),
        (&["--sampler", "neighbor", "--batch-size", "0"], &["batch"]),
        (&["--fanout", "5,5"], &["--sampler neighbor"]),
        (&["--setting", "inductive:2"], &["held-out fraction"]),
        (&["--setting", "production"], &["unknown setting"]),
        // per-class 98,1 leaves 3 test nodes: 10% of them rounds to none held out.
        (&["--setting", "inductive:0.1", "--split", "per-class:98,1"], &["inductive", "test nodes"]),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["compare", "--dataset", SPEC, "--seeds", "1", "--epochs", "2"];
        args.extend_from_slice(extra);
        assert_fails_with(&gdistill(&args, dir.path()), expect);
    }
    let o = gdistill(&["bench", "--dataset", SPEC, "--sampler", "neighbor", "--epochs", "1"], dir.path());
    assert_fails_with(&o, &["--models teacher"]);
}

#[test]
fn train_takes_the_sampler_and_records_it_in_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sage.safetensors");
    let args = [
        "train",
        "--dataset",
        SPEC,
        "--model",
        "sage",
        "--epochs",
        "5",
        "--sampler",
        "neighbor",
        "--fanout",
        "5,5",
        "--batch-size",
        "16",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The checkpoint's JSON metadata sits in the safetensors header, readable as text.
    let header = String::from_utf8_lossy(
        &std::fs::read(&out).unwrap()[..4096.min(std::fs::metadata(&out).unwrap().len() as usize)],
    )
    .into_owned();
    assert!(header.contains("fanouts"), "the sampler is recorded: {header}");
    let o = gdistill(&["train", "--dataset", SPEC, "--epochs", "2", "--batch-size", "8"], dir.path());
    assert_fails_with(&o, &["--sampler neighbor"]);
}
