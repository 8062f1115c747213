//! `gdistill prune` end to end on a small synthetic graph (no data files needed): the table, the
//! JSON rows, the PNG, a checkpoint as the model, and one clear error for each bad input.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, stderr, stdout};
use std::path::Path;
use std::process::Output;

const TINY: &str = "csbm:nodes=60,classes=2,degree=3,features=4,seed=1";

/// Every dataset here is synthetic: no data directory.
fn gdistill(args: &[&str]) -> Output {
    cli::gdistill(args, Path::new("."))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn prune_reports_every_method_and_sparsity_as_table_json_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let (json, png) = (dir.path().join("rows.json"), dir.path().join("curve.png"));
    let args = [
        "prune",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--seeds",
        "2",
        "--retrain-epochs",
        "10",
        "--sparsity",
        "0,0.5,0.8",
        "--json",
        path(&json),
        "--plot",
        path(&png),
    ];
    let o = gdistill(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for method in ["obd", "magnitude", "random"] {
        assert!(out.lines().filter(|l| l.starts_with(method)).count() == 3, "{method} rows missing: {out}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    for row in rows {
        let accs = row["test_acc"].as_array().unwrap();
        assert_eq!(accs.len(), 2, "one accuracy per seed: {row}");
        let mean = row["mean"].as_f64().unwrap();
        let expected = accs.iter().map(|a| a.as_f64().unwrap()).sum::<f64>() / 2.0;
        assert!((mean - expected).abs() < 1e-12 && row["std"].as_f64().unwrap() >= 0.0);
        assert!(row["actual_dloss"].is_number());
        let obd = row["method"] == "obd";
        assert_eq!(row["predicted_dloss"].is_number(), obd, "predicted loss only for OBD: {row}");
        let sparsity = row["sparsity"].as_f64().unwrap();
        let kept = row["kept_weights"].as_f64().unwrap();
        // 4 x 64 + 64 x 2 weight entries in the default teacher
        assert!((kept - (1.0 - sparsity) * 384.0).abs() < 1.0, "{kept} kept at sparsity {sparsity}");
    }
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000, "not a drawn PNG");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn prune_takes_a_checkpoint_one_shot() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("mlp.safetensors");
    let pruned = dir.path().join("pruned.safetensors");
    let o = gdistill(&[
        "train",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--model",
        "mlp",
        "--hidden",
        "8",
        "--epochs",
        "20",
        "-o",
        path(&ckpt),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let one_shot = [
        "prune",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--model",
        path(&ckpt),
        "--seeds",
        "1",
        "--one-shot",
        "--hessian",
        "exact",
        "--method",
        "obd",
        "--sparsity",
        "0.25",
        "--retrain-epochs",
        "5",
        "--save",
        path(&pruned),
    ];
    let o = gdistill(&one_shot);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("one-shot") && stdout(&o).contains("exact"), "{}", stdout(&o));
    // the pruned model is a checkpoint like any other, and pruning it again keeps its zeros
    let o = gdistill(&["eval", "--dataset", TINY, "--threads", "1", "--checkpoint", path(&pruned)]);
    assert!(o.status.success() && stdout(&o).contains("accuracy"), "{}", stderr(&o));
    let again = [
        "prune",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--model",
        path(&pruned),
        "--seeds",
        "1",
        "--method",
        "magnitude",
        "--sparsity",
        "0,0.5",
        "--retrain-epochs",
        "5",
    ];
    let o = gdistill(&again);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = stdout(&o);
    let kept: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("magnitude")).map(|l| l.split_whitespace().last().unwrap()).collect();
    // 4 x 8 + 8 x 2 = 48 weights: a quarter pruned already, half after
    assert_eq!(kept, ["36", "24"], "{stdout}");
}

#[test]
fn prune_ranks_a_distilled_student_on_its_distillation_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (teacher, student) = (dir.path().join("teacher.safetensors"), dir.path().join("student.safetensors"));
    let o = gdistill(&[
        "train",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--hidden",
        "16",
        "--epochs",
        "30",
        "-o",
        path(&teacher),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let distill = [
        "distill",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--teacher",
        path(&teacher),
        "--model",
        "gcn",
        "--hidden",
        "4",
        "--epochs",
        "30",
        "--out",
        path(&student),
    ];
    let o = gdistill(&distill);
    assert!(o.status.success(), "{}", stderr(&o));
    let prune = [
        "prune",
        "--dataset",
        TINY,
        "--threads",
        "1",
        "--model",
        path(&student),
        "--loss",
        "soft-targets",
        "--teacher",
        path(&teacher),
        "--seeds",
        "1",
        "--method",
        "obd",
        "--sparsity",
        "0.5",
        "--retrain-epochs",
        "10",
    ];
    let o = gdistill(&prune);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("soft targets at T = 2"), "{}", stdout(&o));
    let base = ["prune", "--dataset", TINY, "--threads", "1", "--model", path(&student)];
    assert_fails_with(&gdistill(&[&base[..], &["--loss", "soft-targets"]].concat()), &["--teacher"]);
    assert_fails_with(&gdistill(&[&base[..], &["--teacher", path(&teacher)]].concat()), &["--loss soft-targets"]);
}

#[test]
fn prune_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["prune", "--dataset", TINY, "--threads", "1", "--seeds", "1"];
    let with = |extra: &[&str]| gdistill(&[&base[..], extra].concat());
    assert_fails_with(&with(&["--sparsity", "0.5,1"]), &["--sparsity", "[0, 1)", "1"]);
    assert_fails_with(&with(&["--sparsity", "-0.1"]), &["--sparsity"]);
    assert_fails_with(&with(&["--method", "obd,prayer"]), &["prayer"]);
    assert_fails_with(&with(&["--hessian", "newton"]), &["newton"]);
    let missing = dir.path().join("none.safetensors");
    assert_fails_with(&with(&["--model", path(&missing)]), &["none.safetensors", "file not found"]);
    assert_fails_with(&with(&["--plot", path(&dir.path().join("curve.svg"))]), &["curve.svg", ".png"]);
    assert_fails_with(&with(&["--seeds", "0"]), &["--seeds"]);
}
