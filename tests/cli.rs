//! The `gdistill` binary end to end: figures on real data, and one clear error (never a panic)
//! for each kind of bad input.

#[path = "support/data.rs"]
mod data;

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill, stdout};
use std::path::Path;
use std::process::Output;

fn field(json: &serde_json::Value, key: &str) -> i64 {
    json[key].as_i64().unwrap_or_else(|| panic!("{key} missing in {json}"))
}

#[test]
fn data_info_reports_cora_and_citeseer_as_pytorch_geometric_does() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let out = tempfile::tempdir().unwrap();
    for (name, nodes, edges, features, classes, train, isolated) in
        [("cora", 2708, 5278, 1433, 7, 140, 0), ("citeseer", 3327, 4552, 3703, 6, 120, 48)]
    {
        let json_path = out.path().join(format!("{name}.json"));
        let o = gdistill(&["data", "info", "--dataset", name, "--json", json_path.to_str().unwrap()], root);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(stdout(&o).contains(&format!("nodes            {nodes}")), "{}", stdout(&o));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert_eq!(json["name"], name);
        assert_eq!(
            [field(&json, "nodes"), field(&json, "edges"), field(&json, "features"), field(&json, "classes")],
            [nodes, edges, features, classes]
        );
        assert_eq!([field(&json, "train"), field(&json, "val"), field(&json, "test")], [train, 500, 1000]);
        assert_eq!(field(&json, "isolated_nodes"), isolated);
        assert_eq!(field(&json, "self_loops"), 0);
    }
}

#[test]
fn missing_and_malformed_datasets_fail_cleanly() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    // The shared pubmed lacks ind.pubmed.allx: the error names it. The repository carries no
    // pubmed, so a fresh clone skips this part (and CI, which has the shared data, fails).
    if let Some(pubmed) = data::data_dir("pubmed") {
        let shared = pubmed.parent().unwrap();
        assert_fails_with(&gdistill(&["data", "info", "--dataset", "pubmed"], shared), &["ind.pubmed.allx"]);
    }
    assert_fails_with(&gdistill(&["data", "info", "--dataset", "imagenet"], root), &["imagenet"]);
    let empty = tempfile::tempdir().unwrap();
    assert_fails_with(&gdistill(&["data", "info", "--dataset", "cora"], empty.path()), &["ind.cora.x", "not found"]);
    let garbage = empty.path().join("graph.h5");
    std::fs::write(&garbage, b"not an hdf5 file at all").unwrap();
    let spec = format!("h5:{}", garbage.display());
    assert_fails_with(&gdistill(&["data", "info", "--dataset", &spec], root), &["graph.h5"]);
}

#[test]
fn train_eval_distill_round_trip_and_refuse_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let ckpt = dir.path().join("teacher.safetensors");
    let ckpt = ckpt.to_str().unwrap();
    let spec = "csbm:nodes=400,classes=4,degree=8,features=16,signal=2,seed=1";
    let o = gdistill(&["train", "--dataset", spec, "--epochs", "60", "--hidden", "16", "--out", ckpt], data_dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("saved"), "{}", stdout(&o));

    let report = dir.path().join("eval.json");
    let o = gdistill(&["eval", "--dataset", spec, "--checkpoint", ckpt, "--json", report.to_str().unwrap()], data_dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let test_acc = json["test_acc"].as_f64().unwrap();
    assert!(test_acc > 0.5 && test_acc <= 1.0, "a separable CSBM is learnt: {test_acc}");

    let student = dir.path().join("student.safetensors");
    let o = gdistill(
        &[
            "distill",
            "--dataset",
            spec,
            "--teacher",
            ckpt,
            "--model",
            "mlp",
            "--epochs",
            "60",
            "--out",
            student.to_str().unwrap(),
        ],
        data_dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(student.exists());
    let lsp = [
        "distill",
        "--dataset",
        spec,
        "--teacher",
        ckpt,
        "--epochs",
        "30",
        "--hidden",
        "4",
        "--lsp-weight",
        "1",
        "--lsp-kernel",
        "rbf:2",
    ];
    let o = gdistill(&lsp, data_dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_fails_with(&gdistill(&[&lsp[..], &["--lsp-layer", "3"]].concat(), data_dir), &["LSP layer 3"]);
    assert_fails_with(&gdistill(&[&lsp[..11], &["--lsp-kernel", "cosine"]].concat(), data_dir), &["cosine"]);

    // The same checkpoint against another dataset, a corrupt checkpoint, CUDA where there is none.
    let other = "csbm:nodes=400,classes=3,degree=8,features=16,seed=1";
    assert_fails_with(
        &gdistill(&["eval", "--dataset", other, "--checkpoint", ckpt], data_dir),
        &["teacher.safetensors", "trained on"],
    );
    assert_fails_with(&gdistill(&["distill", "--dataset", other, "--teacher", ckpt], data_dir), &["trained on"]);
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, &std::fs::read(ckpt).unwrap()[..100]).unwrap();
    assert_fails_with(
        &gdistill(&["eval", "--dataset", spec, "--checkpoint", corrupt.to_str().unwrap()], data_dir),
        &["corrupt.safetensors"],
    );
    if !gdistill_models::cuda_available() {
        assert_fails_with(&gdistill(&["train", "--dataset", spec, "--device", "cuda"], data_dir), &["CUDA"]);
    }
    assert_fails_with(&gdistill(&["train", "--dataset", spec, "--device", "tpu"], data_dir), &["tpu"]);
    assert_fails_with(
        &gdistill(&["distill", "--dataset", spec, "--teacher", ckpt, "--alpha", "2"], data_dir),
        &["alpha"],
    );
}

#[test]
fn compare_writes_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("compare.json");
    let config = dir.path().join("experiment.toml");
    std::fs::write(&config, "temperature = 3.0\n[teacher]\nhidden = 32\n").unwrap();
    let spec = "csbm:nodes=300,classes=3,degree=8,features=16,signal=2,seed=2";
    let args = [
        "compare",
        "--dataset",
        spec,
        "--seeds",
        "2",
        "--epochs",
        "40",
        "--config",
        config.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    for key in ["name", "nodes", "edges", "features", "classes", "train", "val", "test"] {
        assert!(!json["dataset"][key].is_null(), "dataset.{key} missing");
    }
    let rows = json["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "teacher",
            "mlp",
            "mlp+kd",
            "mlp+kd+lsp",
            "gcn-small",
            "gcn-small+kd",
            "gcn-small+lsp",
            "gcn-small+kd+lsp",
            "teacher-obd",
            "gcn-small+kd+obd"
        ]
    );
    // "distil or prune?": the pruned teacher keeps as many weights as the small GCN has (its 35
    // biases are not pruned), the pruned student half of its own
    let small_weights = 16 * 6 + 6 * 3;
    assert_eq!(rows[8]["params"].as_i64().unwrap(), small_weights + 32 + 3);
    assert_eq!(rows[9]["params"].as_i64().unwrap(), small_weights / 2 + 6 + 3);
    for row in rows {
        let accs: Vec<f64> = row["test_acc"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(accs.len(), 2);
        assert!(accs.iter().all(|a| (0.0..=1.0).contains(a)));
        let mean = row["mean"].as_f64().unwrap();
        assert!((mean - (accs[0] + accs[1]) / 2.0).abs() < 1e-12);
        assert_eq!(row["val_acc"].as_array().unwrap().len(), 2);
        assert!(row["std"].as_f64().unwrap() >= 0.0 && row["params"].as_i64().unwrap() > 0);
        assert!(row["train_s"].as_f64().unwrap() > 0.0 && row["infer_ms"].as_f64().unwrap() > 0.0);
    }
    // The report records the settings actually used: file and flags over defaults.
    assert_eq!(json["config"]["temperature"], 3.0);
    assert_eq!(json["config"]["teacher"]["hidden"], 32);
    assert_eq!(json["config"]["teacher_training"]["epochs"], 40);
    assert_eq!(rows[0]["params"], 16 * 32 + 32 + 32 * 3 + 3);

    std::fs::write(&config, "temprature = 3.0\n").unwrap();
    assert_fails_with(&gdistill(&args, dir.path()), &["experiment.toml"]);
}

/// Train a teacher, store its logits, train an MLP from them in mini-batches (no graph), and
/// refuse what that path cannot do.
#[test]
fn soft_targets_feed_a_graph_less_student() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path();
    let spec = "csbm:nodes=500,classes=3,degree=6,features=16,homophily=0.9,signal=1,seed=3";
    let (teacher, targets) = (here.join("t.safetensors"), here.join("t.h5"));
    let path = |p: &Path| p.display().to_string();
    let o = gdistill(&["train", "--dataset", spec, "--epochs", "60", "-o", &path(&teacher)], here);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = gdistill(
        &[
            "soft-targets",
            "--dataset",
            spec,
            "--teacher",
            &path(&teacher),
            "--chunk-nodes",
            "64",
            "-o",
            &path(&targets),
        ],
        here,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("logits of 500 nodes x 3 classes"), "{}", stdout(&o));
    let student = here.join("s.safetensors");
    let args = ["distill", "--dataset", spec, "--soft-targets", &path(&targets), "--model", "mlp", "--epochs", "30"];
    let o = gdistill(&[&args[..], &["--batch-size", "100", "-o", &path(&student)]].concat(), here);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let test_acc = |o: &Output| -> f64 {
        stdout(o)
            .split("test ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no test accuracy in {}", stdout(o)))
    };
    let distilled = test_acc(&o);
    let from_labels = gdistill(&["train", "--dataset", spec, "--model", "mlp", "--epochs", "30"], here);
    // the features alone carry little signal (an MLP from the labels: ~0.45); the GCN teacher's
    // targets on every node carry the graph's (teacher ~0.93)
    assert!(
        distilled > test_acc(&from_labels) + 0.05,
        "MLP from soft targets {distilled} vs from labels {}",
        test_acc(&from_labels)
    );
    let o = gdistill(&["eval", "--dataset", spec, "--checkpoint", &path(&student)], here);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let with = |extra: &[&str]| gdistill(&[&args[..], extra].concat(), here);
    assert_fails_with(&with(&["--lsp-weight", "1"]), &["--lsp-weight", "--teacher"]);
    let gcn = ["distill", "--dataset", spec, "--soft-targets", &path(&targets), "--model", "gcn"];
    assert_fails_with(&gdistill(&gcn, here), &["--model mlp"]);
    let other = "csbm:nodes=400,classes=3,degree=6,features=16,seed=3";
    let o = gdistill(&["distill", "--dataset", other, "--soft-targets", &path(&targets), "--model", "mlp"], here);
    assert_fails_with(&o, &["t.h5", "500 nodes"]);
    let o = gdistill(&["distill", "--dataset", spec, "--model", "mlp"], here);
    assert_fails_with(&o, &["required arguments"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--teacher"));
}

#[test]
fn compare_runs_every_teacher_family_with_drawn_splits_and_structural_features() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "csbm:nodes=200,classes=3,degree=6,features=12,signal=2,seed=4";
    for family in ["sage", "gat", "appnp"] {
        let json_path = dir.path().join(format!("{family}.json"));
        let args = [
            "compare",
            "--dataset",
            spec,
            "--teacher",
            family,
            "--seeds",
            "2",
            "--epochs",
            "15",
            "--split",
            "per-class:10,10",
            "--features",
            "given+positional:4",
            "--json",
            json_path.to_str().unwrap(),
        ];
        let o = gdistill(&args, dir.path());
        assert!(o.status.success(), "{family}: {}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        let names: Vec<&str> = json["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        let small = format!("{family}-small");
        assert_eq!(names[..2], ["teacher", "mlp"]);
        assert!(names.contains(&small.as_str()) && names.contains(&format!("{small}+kd+obd").as_str()), "{names:?}");
        assert_eq!(json["config"]["family"], family);
        assert_eq!(json["config"]["split"], "per-class:10,10");
        // 12 given features and 4 random-walk columns; 10 + 10 per class drawn.
        assert_eq!(json["dataset"]["features"], 16);
        assert_eq!([json["dataset"]["train"].as_i64(), json["dataset"]["val"].as_i64()], [Some(30), Some(30)]);
        // The small student is never narrower than the class count.
        assert!(json["config"]["gcn_small"]["hidden"].as_i64().unwrap() >= 3);
    }
}

#[test]
fn bad_family_settings_fail_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "csbm:nodes=60,classes=2,degree=3,features=4,seed=1";
    let config = dir.path().join("heads.toml");
    std::fs::write(&config, "family = \"gat\"\n[teacher.options]\nheads = 0\n").unwrap();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--teacher", "mlp"], &["teacher family", "graph"]),
        (&["--teacher", "transformer"], &["unknown model"]),
        (&["--config", config.to_str().unwrap()], &["heads must be positive"]),
        (&["--split", "per-class:0,5"], &["per-class"]),
        (&["--features", "positional:0"], &["positional"]),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["compare", "--dataset", spec, "--seeds", "1", "--epochs", "2"];
        args.extend_from_slice(extra);
        assert_fails_with(&gdistill(&args, dir.path()), expect);
    }
}

/// The safetensors header of the checkpoint at `path` (the model's config is in its metadata).
fn checkpoint_header(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    String::from_utf8(bytes[8..8 + len].to_vec()).unwrap()
}

#[test]
fn train_and_distill_take_an_input_dropout() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "csbm:nodes=200,classes=3,degree=6,features=12,signal=2,seed=2";
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let common = ["--dataset", spec, "--epochs", "20", "--hidden", "8"];
    // GLNN's MLP: dropout on the hidden layer only.
    let o = gdistill(
        &[&["train"], &common[..], &["--model", "mlp", "--input-dropout", "0", "-o", &path("mlp.st")]].concat(),
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(checkpoint_header(Path::new(&path("mlp.st"))).contains("input_dropout"));
    let o = gdistill(&["eval", "--dataset", spec, "--checkpoint", &path("mlp.st")], dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Without the flag the model drops its input at --dropout, as before, and says nothing of it.
    let o = gdistill(&[&["train"], &common[..], &["-o", &path("gcn.st")]].concat(), dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!checkpoint_header(Path::new(&path("gcn.st"))).contains("input_dropout"));
    let distill = ["distill", "--teacher", &path("gcn.st"), "--model", "mlp", "--input-dropout", "0.1"];
    let o = gdistill(&[&distill[..], &common[..], &["-o", &path("student.st")]].concat(), dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(checkpoint_header(Path::new(&path("student.st"))).contains("input_dropout"));
    assert_fails_with(
        &gdistill(&[&["train"], &common[..], &["--model", "gat", "--input-dropout", "0"]].concat(), dir.path()),
        &["not to GAT"],
    );
    assert_fails_with(
        &gdistill(&[&["train"], &common[..], &["--input-dropout", "1"]].concat(), dir.path()),
        &["input dropout must be in [0, 1)"],
    );
}
