//! `compare --teacher-ensemble`, `--int8` and `--transfer-set` end to end on a small synthetic
//! graph, and one clear message where a flag does not apply.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill};

const SPEC: &str = "csbm:nodes=300,classes=3,degree=6,features=12,signal=2,seed=5";

#[test]
fn compare_with_an_ensemble_teacher_and_int8_rows() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("ens.json");
    let args = [
        "compare",
        "--dataset",
        SPEC,
        "--seeds",
        "2",
        "--epochs",
        "5",
        "--no-lsp",
        "--teacher-ensemble",
        "3",
        "--ensemble-combine",
        "logits",
        "--int8",
        "--json",
        json_path.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("weight B") && stdout.contains("an ensemble of 3"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["config"]["ensemble"], serde_json::json!({"members": 3, "combine": "logits"}));
    assert_eq!(json["config"]["int8_rows"], true);
    let rows = json["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.ends_with(&["teacher-int8", "mlp+kd-int8"]), "{names:?}");
    assert_eq!(rows[0]["ensemble"]["member_acc"].as_array().unwrap().len(), 3);
    assert_eq!(rows[0]["ensemble"]["member_acc"][0].as_array().unwrap().len(), 2, "one figure per seed");
    for row in rows {
        assert!(row["weight_bytes"].is_i64(), "{row}");
    }
    // The ensemble's int8 copy quantizes all three members; the pruned rows, before the int8
    // ones, hold the pruned models (fewer non-zero parameters than the teacher).
    assert_eq!(rows[0]["params"], rows[rows.len() - 2]["params"]);
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();
    assert!(row("teacher-obd")["params"].as_i64() < row("mlp+kd-int8")["params"].as_i64(), "{rows:?}");
    assert!(row("teacher-obd")["mean"].is_f64() && row("teacher-int8")["mean"].is_f64(), "{rows:?}");
}

/// MUNGE pseudo nodes join mlp+kd's transfer set; the report says so, and only then.
#[test]
fn compare_with_munge_pseudo_nodes_for_the_mlp_student() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], name: &str| -> serde_json::Value {
        let json_path = dir.path().join(name);
        let base = ["compare", "--dataset", SPEC, "--seeds", "1", "--epochs", "20", "--no-lsp", "--no-prune"];
        let o = gdistill(&[&base[..], extra, &["--json", json_path.to_str().unwrap()]].concat(), dir.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap()
    };
    let plain = run(&[], "plain.json");
    let munged = run(&["--transfer-set", "munge:600,0.5"], "munge.json");
    assert!(plain["config"].get("transfer_set").is_none(), "old reports keep their keys");
    assert_eq!(munged["config"]["transfer_set"], "munge:600,0.5");
    let acc = |j: &serde_json::Value, row: &str| {
        j["rows"].as_array().unwrap().iter().find(|r| r["name"] == row).unwrap()["mean"].as_f64().unwrap()
    };
    // Only mlp+kd trains on the pseudo nodes: every other row is the same run.
    for row in ["teacher", "mlp", "gcn-small", "gcn-small+kd"] {
        assert_eq!(acc(&plain, row), acc(&munged, row), "{row}");
    }
    assert!(acc(&munged, "mlp+kd") > 0.5, "{munged}");
}

#[test]
fn flags_that_do_not_apply_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["compare", "--dataset", SPEC, "--transfer-set", "mixup:100"], dir.path());
    assert_fails_with(&o, &["mixup:100", "graphs take munge:N,P"]);
    let sampled = ["--sampler", "neighbor", "--fanout", "5,5", "--transfer-set", "munge:100,0.5"];
    let o = gdistill(&[&["compare", "--dataset", SPEC][..], &sampled].concat(), dir.path());
    assert_fails_with(&o, &["munge:N,P", "sampler"]);
    let o = gdistill(&["compare", "--dataset", SPEC, "--teacher", "sage", "--int8"], dir.path());
    assert_fails_with(&o, &["int8", "sage"]);
    let o = gdistill(&["compare", "--dataset", SPEC, "--teacher-ensemble", "0"], dir.path());
    assert_fails_with(&o, &["ensemble.members"]);
    let o = gdistill(&["compare", "--dataset", SPEC, "--transfer-set", "munge:10"], dir.path());
    assert_fails_with(&o, &["munge takes N,P"]);
}
