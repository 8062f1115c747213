//! One module per subcommand, plus the flags they share.

pub mod bench;
pub mod compare;
pub mod data;
pub mod distill;
pub mod eval;
pub mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::{DatasetSpec, NodeDataset};

/// Where a dataset comes from.
#[derive(Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Dataset spec: cora, citeseer, pubmed, linqs:PREFIX, npz:PATH, h5:PATH, or
    /// csbm:nodes=N,classes=C,degree=D,homophily=H,features=F,signal=S,seed=K.
    #[arg(long, short = 'd')]
    pub dataset: String,
    /// Directory holding <name>/ folders of Planetoid files [default: $GDISTILL_DATA_DIR, else data/].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DatasetArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .or_else(|| std::env::var_os("GDISTILL_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data"))
    }

    /// Loads and validates the dataset; notes from the loader (e.g. dropped citations) go to stderr.
    pub fn load(&self) -> Result<NodeDataset> {
        let spec: DatasetSpec = self.dataset.parse()?;
        let (dataset, report) = spec.load_with_report(&self.data_dir())?;
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        Ok(dataset)
    }
}

/// The compute device.
#[derive(Args, Clone, Debug)]
pub struct DeviceArgs {
    /// cpu, cuda, cuda:N, or auto (CUDA when available).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// CPU threads for libtorch [default: libtorch's choice].
    #[arg(long)]
    pub threads: Option<i32>,
}

impl DeviceArgs {
    pub fn device(&self) -> Result<tch::Device> {
        if let Some(t) = self.threads {
            anyhow::ensure!(t > 0, "--threads must be positive, got {t}");
            tch::set_num_threads(t);
        }
        Ok(gdistill_models::parse_device(&self.device)?)
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    gdistill_distill::write_atomically(path, text.as_bytes()).with_context(|| "writing the JSON report")?;
    Ok(())
}
