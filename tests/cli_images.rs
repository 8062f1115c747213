//! `gdistill compare` on image datasets end to end: the table, the JSON report's contract, and
//! one clear error for each kind of bad image input.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill, stderr};
#[path = "support/fixtures.rs"]
mod fixtures;
use fixtures::write_digits;

#[test]
fn compare_on_digits_prints_errors_and_writes_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_digits(dir.path(), 300);
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, "rows = [\"teacher\", \"mlp-30\", \"mlp-30+kd\"]\n[teacher.model]\narch = \"mlp\"\nhidden = [64, 64]\ninput_dropout = 0.0\ndropout = 0.2\n").unwrap();
    let json = dir.path().join("report.json");
    let spec = format!("digits:{}", csv.display());
    let o = gdistill(
        &[
            "compare",
            "--dataset",
            &spec,
            "--seeds",
            "2",
            "--epochs",
            "3",
            "--config",
            config.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("digits: 300 images of 8x8") && table.contains("errors /90"), "{table}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["dataset"]["name"], "digits");
    assert_eq!((report["dataset"]["train"].as_u64(), report["dataset"]["test"].as_u64()), (Some(180), Some(90)));
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["teacher", "mlp-30", "mlp-30+kd"]);
    for row in rows {
        let acc: Vec<f64> = row["test_acc"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let errors: Vec<i64> = row["errors"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!((acc.len(), errors.len()), (2, 2), "{row}");
        for (a, e) in acc.iter().zip(&errors) {
            assert!((0.0..=1.0).contains(a), "{row}");
            assert_eq!(*e, ((1.0 - a) * 90.0).round() as i64, "{row}");
        }
        for key in ["params", "mean", "std", "train_s", "infer_ms", "errors_mean"] {
            assert!(row[key].is_number(), "{key} missing in {row}");
        }
    }
    assert_eq!(report["config"]["mlp_30"]["distill"]["epochs"], 3);
    assert_eq!(report["config"]["teacher"]["model"]["hidden"], serde_json::json!([64, 64]));
}

#[test]
fn bad_image_inputs_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["compare", "--dataset", "mnist:/definitely/not/here"], dir.path());
    assert_fails_with(&o, &["/definitely/not/here", "not found"]);

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{},3\n{},11\n", vec!["0"; 64].join(","), vec!["1"; 64].join(","))).unwrap();
    let o = gdistill(&["compare", "--dataset", &format!("digits:{}", bad.display())], dir.path());
    assert_fails_with(&o, &["bad.csv", "line 2", "label 11"]);

    let csv = write_digits(dir.path(), 100);
    let toml = dir.path().join("bad.toml");
    std::fs::write(&toml, "rows = [\"teacher\", \"resnet\"]\n").unwrap();
    let o = gdistill(
        &["compare", "--dataset", &format!("digits:{}", csv.display()), "--config", toml.to_str().unwrap()],
        dir.path(),
    );
    assert_fails_with(&o, &["unknown row 'resnet'"]);

    // teacher-obd cannot prune a teacher to more weights than it has: one error before training
    std::fs::write(
        &toml,
        "rows = [\"teacher\"]\n[teacher.model]\narch = \"mlp\"\nhidden = [8]\ninput_dropout = 0.0\ndropout = 0.0\n",
    )
    .unwrap();
    let spec = format!("digits:{}", csv.display());
    let o = gdistill(&["compare", "--dataset", &spec, "--config", toml.to_str().unwrap(), "--prune"], dir.path());
    assert_fails_with(&o, &["teacher-obd prunes the teacher's 592 weights to mlp-800's 699200", "between 1 and 592"]);
    let o = gdistill(&["compare", "--dataset", &spec, "--prune", "--no-prune"], dir.path());
    assert!(!o.status.success() && stderr(&o).contains("cannot be used with"), "{}", stderr(&o));

    // node commands refuse image datasets with a pointer to compare
    let o = gdistill(&["train", "--dataset", "mnist", "--out", "x.safetensors"], dir.path());
    assert_fails_with(&o, &["image dataset", "compare"]);
}
