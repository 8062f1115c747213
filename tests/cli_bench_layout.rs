//! `bench --feature-layout` times the features held dense or as CSR, says which in its report,
//! and refuses a layout it does not know.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill};

// Gaussian features: every entry non-zero, so `auto` holds them dense.
const SPEC: &str = "csbm:nodes=200,classes=3,degree=5,features=10,signal=2,seed=3";

fn bench_layout(layout: Option<&str>) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let mut args = vec!["bench", "--dataset", SPEC, "--models", "teacher", "--epochs", "2", "--warmup", "1"];
    args.extend(["--json", json_path.to_str().unwrap()]);
    if let Some(layout) = layout {
        args.extend(["--feature-layout", layout]);
    }
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap()
}

#[test]
fn bench_reports_the_layout_it_timed() {
    assert_eq!(bench_layout(None)["feature_layout"], "dense", "auto holds dense features dense");
    assert_eq!(bench_layout(Some("sparse"))["feature_layout"], "sparse");
    assert_eq!(bench_layout(Some("dense"))["feature_layout"], "dense");
}

#[test]
fn an_unknown_layout_is_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["bench", "--dataset", SPEC, "--feature-layout", "blocked"], dir.path());
    assert_fails_with(&o, &["blocked", "auto, dense or sparse"]);
}
