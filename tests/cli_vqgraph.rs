//! `compare --vqgraph` through the binary: a small Cora run reports VQGraph's rows, and a
//! codebook larger than the graph fails with one `error:` line naming the setting, writing
//! nothing.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;

use cli::{assert_fails_with, gdistill, stderr};

#[test]
fn compare_vqgraph_on_cora_reports_its_rows() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let flags = "--split per-class:20,30 --seeds 1 --epochs 3 --no-lsp --no-prune --no-small --vqgraph --threads 1";
    let mut args = vec!["compare", "--dataset", "cora", "--json", json.to_str().unwrap()];
    args.extend(flags.split_whitespace());
    let o = gdistill(&args, &root);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = report["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["teacher", "mlp", "mlp+kd", "teacher+vq", "mlp+vqgraph", "mlp+vqgraph-code"]);
    assert_eq!(report["config"]["vqgraph"]["tokenizer_epochs"], 3, "--epochs sets the tokenizer's too");
}

#[test]
fn a_codebook_larger_than_the_graph_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (json, config) = (dir.path().join("r.json"), dir.path().join("vq.toml"));
    std::fs::write(&config, "[vqgraph]\ncodebook_size = 500\n").unwrap();
    let csbm = "csbm:nodes=120,classes=2,degree=4,features=4,seed=1";
    let args = ["compare", "--dataset", csbm, "--config", config.to_str().unwrap(), "--json", json.to_str().unwrap()];
    let o = gdistill(&args, std::path::Path::new("."));
    assert_fails_with(&o, &["vqgraph.codebook_size (500)", "120 nodes"]);
    assert_eq!(stderr(&o).lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", stderr(&o));
    assert!(!json.exists(), "a refused run writes no report");
}
