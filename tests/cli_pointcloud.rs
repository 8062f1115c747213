//! Point clouds through the binary: images converted to 2-D clouds, `compare --dataset
//! modelnet:DIR` on them (table and JSON report), and one clear error for bad cloud files.

use std::path::Path;

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill, stderr};
#[path = "support/fixtures.rs"]
mod fixtures;
use fixtures::{write_bar_clouds, TINY_CLOUD_CONFIG};

/// The bars as 12-point clouds under `dir`, converted by the binary; their `modelnet:` spec.
fn bar_clouds(dir: &Path) -> String {
    let (clouds, o) = write_bar_clouds(dir, 120);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote 120 clouds of 12 2-D points"));
    format!("modelnet:{}", clouds.display())
}

#[test]
fn images_to_clouds_then_compare_writes_the_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let spec = bar_clouds(dir.path());
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY_CLOUD_CONFIG).unwrap();
    let json = dir.path().join("report.json");
    let args = ["compare", "--dataset", &spec, "--seeds", "2", "--epochs", "2", "--threads", "1"];
    let o = gdistill(
        &[&args[..], &["--config", config.to_str().unwrap(), "--json", json.to_str().unwrap()]].concat(),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("bars-points: 120 clouds (2-D, 12 points used of 12), 10 classes"), "{table}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["teacher", "student", "student+kd+lsp", "pointnet+kd"]);
    for row in rows {
        assert_eq!(row["test_acc"].as_array().unwrap().len(), 2, "{row}");
        for key in ["params", "mean", "std", "val_mean", "train_s", "infer_ms_per_cloud", "latency_ms"] {
            assert!(row[key].is_number(), "{key} missing in {row}");
        }
    }
    assert!(rows[2]["gap_closed"].is_number() || rows[0]["mean"] == rows[1]["mean"]);
    assert!(rows[3]["gap_closed"].is_null(), "pointnet from scratch was not run, so there is no gap to close");
    assert_eq!(report["config"]["teacher_training"]["epochs"], 2);
    assert_eq!(report["dataset"]["test"], 36);
    // No ensemble, transfer set or int8 option: none of their keys.
    for key in ["teacher_ensemble", "transfer_set", "int8_rows"] {
        assert!(report["config"].get(key).is_none() && report.get(key).is_none(), "{key}");
    }
    assert!(rows.iter().all(|r| r.get("ensemble").is_none() && r.get("weight_bytes").is_none()));
}

#[test]
fn int8_on_the_tiny_clouds_adds_both_int8_rows_with_finite_accuracies_and_fewer_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = bar_clouds(dir.path());
    let config = dir.path().join("int8.toml");
    let rows = "rows = [\"teacher\", \"student\", \"student+kd+lsp\", \"pointnet+kd\"]";
    assert!(TINY_CLOUD_CONFIG.contains(rows), "the fixture's rows line moved");
    std::fs::write(&config, TINY_CLOUD_CONFIG.replace(rows, "rows = [\"teacher\", \"student+kd\"]")).unwrap();
    let json = dir.path().join("int8.json");
    let args = ["compare", "--dataset", &spec, "--seeds", "1", "--epochs", "2", "--threads", "1", "--int8"];
    let o = gdistill(
        &[&args[..], &["--config", config.to_str().unwrap(), "--json", json.to_str().unwrap()]].concat(),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("input coordinates and hidden activations in int8"), "{table}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["teacher", "student+kd", "teacher-int8", "student+kd-int8"]);
    let bytes = |r: &serde_json::Value| r["weight_bytes"].as_i64().unwrap();
    for (float, int8) in [(&rows[0], &rows[2]), (&rows[1], &rows[3])] {
        // A NaN accuracy would be written as null, not as a number.
        let acc = int8["test_acc"][0].as_f64().unwrap_or(f64::NAN);
        assert!(acc.is_finite() && (0.0..=1.0).contains(&acc), "{int8}");
        assert!(int8["val_mean"].as_f64().is_some_and(f64::is_finite), "{int8}");
        assert!(bytes(int8) < bytes(float), "{int8} against {float}");
    }
}

#[test]
fn bad_ensemble_and_transfer_set_options_on_clouds_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = bar_clouds(dir.path());
    let compare = |extra: &[&str]| gdistill(&[&["compare", "--dataset", &spec][..], extra].concat(), dir.path());
    assert_fails_with(&compare(&["--teacher-ensemble", "0"]), &["ensemble.members"]);
    let families = compare(&["--teacher-ensemble", "gcn,sage"]);
    assert_fails_with(&families, &["ensemble families (gcn,sage) apply to graph teachers", "clouds"]);
    assert_fails_with(&compare(&["--transfer-set", "munge:0,0.5"]), &["munge:0,0.5", "positive integer"]);
    assert_fails_with(&compare(&["--transfer-set", "munge:10,1.5"]), &["munge:10,1.5", "P must be in [0, 1]"]);
    assert_fails_with(&compare(&["--transfer-set", "mixup:0"]), &["mixup:0", "positive integer"]);
    let rows = dir.path().join("rows.toml");
    std::fs::write(&rows, "points = 12\nrows = [\"student\"]\n").unwrap();
    let int8 = compare(&["--int8", "--config", rows.to_str().unwrap()]);
    assert_fails_with(&int8, &["int8 rows quantize the rows teacher and student+kd"]);
}

#[test]
fn bad_cloud_inputs_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["compare", "--dataset", "modelnet:/definitely/not/here"], dir.path());
    assert_fails_with(&o, &["/definitely/not/here", "not found"]);

    let clouds = dir.path().join("c");
    std::fs::create_dir(&clouds).unwrap();
    std::fs::write(clouds.join("train_files.txt"), "a.h5\n").unwrap();
    std::fs::write(clouds.join("test_files.txt"), "a.h5\n").unwrap();
    std::fs::write(clouds.join("a.h5"), b"garbage").unwrap();
    let o = gdistill(&["compare", "--dataset", &format!("modelnet:{}", clouds.display())], dir.path());
    assert_fails_with(&o, &["a.h5", "not a readable HDF5 file"]);

    let o = gdistill(&["compare", "--dataset", "modelnet:x", "--mlp-hidden", "8"], dir.path());
    assert_fails_with(&o, &["--mlp-hidden", "point-cloud dataset"]);
    let o = gdistill(&["train", "--dataset", "modelnet:x", "--out", "m.safetensors"], dir.path());
    assert_fails_with(&o, &["point-cloud dataset", "compare"]);
}
