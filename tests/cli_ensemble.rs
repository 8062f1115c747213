//! `compare --teacher-ensemble`, `--int8` and `--transfer-set` end to end on a small synthetic
//! graph, and one clear message where a flag does not apply.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fixtures.rs"]
mod fixtures;
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

/// `--teacher-ensemble gcn,sage,gat`: one member per family, reported with its family.
#[test]
fn compare_with_an_ensemble_of_three_families() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("mixed.json");
    let base = ["compare", "--dataset", SPEC, "--seeds", "1", "--epochs", "5", "--no-lsp", "--no-prune"];
    let args = ["--teacher-ensemble", "gcn,sage,gat", "--json", json_path.to_str().unwrap()];
    let o = gdistill(&[&base[..], &args].concat(), dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("teacher: an ensemble of gcn + sage + gat (one member on average "), "{stdout}");
    assert!(stdout.contains("; members: gcn 0.") && stdout.contains(", sage 0.") && stdout.contains(", gat 0."));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let families = serde_json::json!(["gcn", "sage", "gat"]);
    assert_eq!(
        json["config"]["ensemble"],
        serde_json::json!({"members": 3, "combine": "soft-targets", "families": families})
    );
    let teacher = &json["rows"][0];
    assert_eq!(teacher["ensemble"]["families"], families);
    assert_eq!(teacher["ensemble"]["member_acc"].as_array().unwrap().len(), 3);
    // 12 features, 3 classes: GCN 1 027, SAGE 1 987, GAT 1 161 parameters (distill/tests/ensemble_mixed.rs).
    assert_eq!(teacher["params"], 1027 + 1987 + 1161);
    // The small student and the temperature follow --teacher (gcn).
    assert!(json["rows"].as_array().unwrap().iter().any(|r| r["name"] == "gcn-small+kd"));
    assert_eq!(json["config"]["temperature"], 2.0);
}

#[test]
fn bad_family_lists_are_refused_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let compare =
        |extra: &[&str]| gdistill(&[&["compare", "--dataset", SPEC, "--seeds", "1"][..], extra].concat(), dir.path());
    assert_fails_with(&compare(&["--teacher-ensemble", "gcn,gin"]), &["unknown family 'gin'", "gcn, sage, gat, appnp"]);
    assert_fails_with(&compare(&["--teacher-ensemble", ""]), &["a number of members (3) or a list of families"]);
    assert_fails_with(&compare(&["--teacher-ensemble", "gcn,,sage"]), &["member 2 has no family"]);
    assert_fails_with(&compare(&["--teacher-ensemble", "gcn,mlp"]), &["mlp reads no graph"]);
    assert_fails_with(&compare(&["--teacher-ensemble", "sage,gcn"]), &["teacher's family (gcn)", "--teacher sage"]);
    let sampled = ["--teacher-ensemble", "gcn,appnp", "--sampler", "neighbor", "--fanout", "5,5"];
    assert_fails_with(&compare(&sampled), &["appnp does not train on sampled blocks", "full-batch"]);
    assert_fails_with(&compare(&["--teacher-ensemble", "gcn,gat", "--int8"]), &["int8", "gat"]);
    // A file's family list and count must agree.
    let toml = dir.path().join("ens.toml");
    std::fs::write(&toml, "[ensemble]\nmembers = 2\nfamilies = [\"gcn\", \"sage\", \"gat\"]\n").unwrap();
    assert_fails_with(&compare(&["--config", toml.to_str().unwrap()]), &["members is 2", "lists 3"]);
    // Images have one teacher architecture: a family list is refused there.
    let digits = fixtures::write_digits(dir.path(), 60);
    let spec = format!("digits:{}", digits.display());
    let o = gdistill(&["compare", "--dataset", &spec, "--teacher-ensemble", "gcn,sage"], dir.path());
    assert_fails_with(&o, &["ensemble families (gcn,sage) apply to graph teachers", "--teacher-ensemble K"]);
}

/// `[ensemble] families = [...]` in a file, without `members`: the list gives the members.
#[test]
fn a_files_family_list_alone_gives_the_members() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("ens.toml");
    std::fs::write(&toml, "[ensemble]\nfamilies = [\"gcn\", \"appnp\"]\n").unwrap();
    let json_path = dir.path().join("r.json");
    let args = ["compare", "--dataset", SPEC, "--seeds", "1", "--epochs", "2", "--no-lsp", "--no-prune"];
    let file = ["--config", toml.to_str().unwrap(), "--json", json_path.to_str().unwrap()];
    let o = gdistill(&[&args[..], &file].concat(), dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["config"]["ensemble"]["members"], 2);
    assert_eq!(json["rows"][0]["ensemble"]["families"], serde_json::json!(["gcn", "appnp"]));
}
