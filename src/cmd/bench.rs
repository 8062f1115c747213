//! `gdistill bench`: per-epoch training time, inference time and peak memory.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use gdistill_distill::bench::bench;

use super::{write_json, DatasetArgs, DeviceArgs};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Timed epochs per model (after the warm-up).
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Untimed warm-up epochs.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let device = args.device.device()?;
    let dataset = args.dataset.load()?;
    let report = bench(&dataset, device, args.epochs, args.warmup)?;
    println!(
        "{}: {} nodes, {} edges; {:?} with {} torch threads on {} cores; medians over {} epochs",
        report.dataset, report.nodes, report.edges, device, report.torch_threads, report.cpu_cores, args.epochs
    );
    println!("{:<18} {:>9} {:>10} {:>10} {:>11} {:>9}", "model", "params", "step ms", "eval ms", "infer ms", "total s");
    for r in &report.rows {
        println!(
            "{:<18} {:>9} {:>10.3} {:>10.3} {:>11.3} {:>9.2}",
            r.name, r.params, r.step_ms, r.eval_ms, r.infer_ms, r.train_s
        );
    }
    let step = |name: &str| report.rows.iter().find(|r| r.name == name).map(|r| r.step_ms);
    if let (Some(kd), Some(lsp)) = (step("gcn-small+kd"), step("gcn-small+kd+lsp")) {
        println!("an LSP step costs {:.2}x a KD-only step", lsp / kd);
    }
    if let Some(rss) = report.peak_rss_mib {
        println!("peak resident memory {rss:.0} MiB");
    }
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
