//! `compare --gcrd` through the binary: the row `gcn-small+crd` beside the small student's
//! other rows on Cora, and one `error:` line for each bad `[gcrd]` setting.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
use cli::{assert_fails_with, gdistill, stderr};
use std::path::Path;

const CSBM: &str = "csbm:nodes=120,classes=2,degree=4,features=4,seed=1";

#[test]
fn compare_gcrd_on_cora_gives_the_crd_row_beside_kd_and_lsp() {
    let Some(dir) = data::data_dir("cora") else { return };
    let json = std::env::temp_dir().join(format!("gdistill-cli-gcrd-{}.json", std::process::id()));
    let flags = "-d cora --gcrd --no-prune --seeds 1 --epochs 5 --threads 1 --json";
    let mut args = vec!["compare"];
    args.extend(flags.split_whitespace());
    args.push(json.to_str().unwrap());
    let o = gdistill(&args, dir.parent().unwrap());
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let names: Vec<&str> = report["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    for row in ["gcn-small", "gcn-small+kd", "gcn-small+lsp", "gcn-small+kd+lsp", "gcn-small+crd"] {
        assert!(names.contains(&row), "{row} missing from {names:?}");
    }
    assert_eq!(names.last(), Some(&"gcn-small+crd"));
    assert_eq!(report["config"]["gcrd"]["negatives"], 256, "the report records the settings");
}

#[test]
fn bad_gcrd_settings_fail_with_one_error_line() {
    for (table, needle) in [
        ("tau = 0.0", "gcrd.tau"),
        ("tau = -1.0", "gcrd.tau"),
        ("tau = nan", "gcrd.tau"),
        ("weight = -0.5", "gcrd.weight"),
        ("weight = nan", "gcrd.weight"),
        ("negatives = 0", "gcrd.negatives"),
        ("negatives = 120", "gcrd.negatives"),
        ("projection_width = 0", "gcrd.projection_width"),
    ] {
        let path = std::env::temp_dir().join(format!("gdistill-cli-gcrd-{}.toml", std::process::id()));
        std::fs::write(&path, format!("[gcrd]\n{table}\n")).unwrap();
        let o = gdistill(
            &["compare", "--dataset", CSBM, "--config", path.to_str().unwrap(), "--seeds", "1", "--no-prune"],
            Path::new("."),
        );
        let _ = std::fs::remove_file(&path);
        assert_fails_with(&o, &[needle]);
        assert_eq!(stderr(&o).lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", stderr(&o));
    }
}
