//! `gdistill bench-scale`: the same bench on synthetic graphs of growing size, one process each.
//!
//! Each size runs `gdistill bench` on a contextual-SBM graph (average degree 10, 128 features,
//! 10 classes) in a child process, so that every peak-memory figure is that size's own; the
//! table then shows how time per epoch grows against the number of edges.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use clap::Args;

use super::write_json;

#[derive(Args)]
pub struct BenchScaleArgs {
    /// Graph sizes in nodes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub nodes: Vec<usize>,
    /// Timed epochs per model and size.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Untimed warm-up epochs.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Write every size's report and the growth figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The CSBM spec of one size (the seed fixes the graph).
fn spec(nodes: usize) -> String {
    format!("csbm:nodes={nodes},classes=10,degree=10,features=128,seed=0")
}

pub fn run(args: BenchScaleArgs) -> Result<()> {
    anyhow::ensure!(!args.nodes.is_empty() && args.nodes.iter().all(|&n| n >= 100), "--nodes: sizes of at least 100");
    let exe = std::env::current_exe().context("locating the gdistill binary")?;
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let mut reports = Vec::new();
    for &nodes in &args.nodes {
        let json = dir.path().join(format!("{nodes}.json"));
        let status = Command::new(&exe)
            .args(["bench", "--dataset", &spec(nodes), "--models", "teacher,mlp", "--online", "--device", &args.device])
            .args(["--epochs", &args.epochs.to_string(), "--warmup", &args.warmup.to_string()])
            .arg("--json")
            .arg(&json)
            .status()
            .context("running gdistill bench")?;
        anyhow::ensure!(status.success(), "gdistill bench on {} failed ({status})", spec(nodes));
        let kind = gdistill_datasets::input::InputKind::small("a gdistill bench report (JSON)");
        let text = gdistill_datasets::input::read_input_string(&json, &kind)?;
        reports.push(serde_json::from_str::<serde_json::Value>(&text)?);
    }
    println!();
    println!(
        "{:>9} {:>10} {:>13} {:>13} {:>12} {:>14} {:>14} {:>10}",
        "nodes", "edges", "gcn step ms", "mlp step ms", "gcn infer ms", "online gcn ms", "online mlp ms", "peak MiB"
    );
    let row = |r: &serde_json::Value, name: &str, key: &str| {
        r["rows"].as_array().and_then(|rows| rows.iter().find(|x| x["name"] == name)).and_then(|x| x[key].as_f64())
    };
    for r in &reports {
        println!(
            "{:>9} {:>10} {:>13.2} {:>13.2} {:>12.2} {:>14.4} {:>14.4} {:>10.0}",
            r["nodes"].as_u64().unwrap_or(0),
            r["edges"].as_u64().unwrap_or(0),
            row(r, "teacher", "step_ms").unwrap_or(f64::NAN),
            row(r, "mlp", "step_ms").unwrap_or(f64::NAN),
            row(r, "teacher", "infer_ms").unwrap_or(f64::NAN),
            row(r, "teacher", "online_1_ms").unwrap_or(f64::NAN),
            row(r, "mlp", "online_1_ms").unwrap_or(f64::NAN),
            r["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let gpu = |r: &serde_json::Value| r["cuda_memory_mib"].as_f64();
    if reports.iter().any(|r| gpu(r).is_some()) {
        println!(
            "GPU memory in use, most after any epoch (MiB), by size: {:?}",
            reports.iter().map(|r| gpu(r).map(f64::round)).collect::<Vec<_>>()
        );
    }
    let mut growth = serde_json::Map::new();
    if let (Some(first), Some(last), true) = (reports.first(), reports.last(), reports.len() > 1) {
        let edges = |r: &serde_json::Value| r["edges"].as_f64().unwrap_or(f64::NAN);
        let edge_ratio = edges(last) / edges(first);
        let step_ratio =
            row(last, "teacher", "step_ms").unwrap_or(f64::NAN) / row(first, "teacher", "step_ms").unwrap_or(f64::NAN);
        // time ~ edges^k: k = 1 is linear; the target is time growing at most 1.5x faster than edges
        println!(
            "from {} to {} nodes: edges x{edge_ratio:.1}, GCN time per epoch x{step_ratio:.1} ({:.2}x the edge growth)",
            first["nodes"],
            last["nodes"],
            step_ratio / edge_ratio
        );
        let online = |name: &str| row(last, name, "online_1_ms").unwrap_or(f64::NAN);
        println!(
            "at {} nodes one node online: GCN teacher {:.4} ms, MLP student {:.4} ms (MLP x{:.0} faster)",
            last["nodes"],
            online("teacher"),
            online("mlp"),
            online("teacher") / online("mlp")
        );
        growth.insert("edge_ratio".into(), serde_json::json!(edge_ratio));
        growth.insert("gcn_step_ratio".into(), serde_json::json!(step_ratio));
        growth.insert("online_1_teacher_over_mlp".into(), serde_json::json!(online("teacher") / online("mlp")));
    }
    if let Some(path) = &args.json {
        write_json(path, &serde_json::json!({ "sizes": reports, "growth": growth }))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
