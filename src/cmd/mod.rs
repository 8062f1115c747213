//! One module per subcommand, plus the flags they share.

pub mod bench;
pub mod bench_scale;
pub mod compare;
pub mod data;
pub mod distill;
pub mod eval;
pub mod export;
pub mod images;
pub mod mpi;
pub mod pointcloud;
pub mod prune;
pub mod sampler_args;
pub mod soft_targets;
pub mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::input::{read_input_string, InputKind};
use gdistill_datasets::{DatasetSpec, NodeDataset};

/// Where a dataset comes from.
#[derive(Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Dataset spec: cora, citeseer, pubmed, linqs:PREFIX, npz:PATH, h5:PATH, or
    /// csbm:nodes=N,classes=C,degree=D,homophily=H,features=F,signal=S,seed=K; for compare also
    /// mnist:DIR, digits:FILE and modelnet:DIR (point clouds).
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
    /// A dataset that parses but breaks an invariant (NaN features, overlapping splits) is
    /// reported with the spec it came from, so the message names the file.
    pub fn load(&self) -> Result<NodeDataset> {
        let spec: DatasetSpec = self.dataset.parse()?;
        let data_dir = self.data_dir();
        let (dataset, report) = spec.load_with_report(&data_dir).map_err(|e| match e {
            gdistill_datasets::DatasetError::Invalid { .. } => {
                let source = match &spec {
                    DatasetSpec::Planetoid(name) => {
                        data_dir.join(name).join(format!("ind.{name}.*")).display().to_string()
                    }
                    _ => self.dataset.clone(),
                };
                anyhow::anyhow!("{source}: {e}")
            }
            other => other.into(),
        })?;
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

/// What a TOML experiment file is, for the input checks of [`gdistill_datasets::input`] (a few
/// KiB in practice: anything past its size limit is the wrong file) and their messages.
const EXPERIMENT_FILE: InputKind<'static> = InputKind::small("a TOML experiment file");

/// Reads the TOML experiment file at `path` once (it may be a pipe, `--config <(...)`, which
/// cannot be read twice); every error names the file.
pub fn read_experiment_file(path: &std::path::Path) -> Result<toml::Table> {
    let text = read_input_string(path, &EXPERIMENT_FILE)?;
    text.parse().with_context(|| format!("{}: not valid TOML", path.display()))
}

/// `defaults` overlaid with the TOML experiment file at `path` (tables merge key by key, other
/// values replace), then checked by `validate`; every error names the file.
pub fn apply_experiment_file<T>(
    defaults: T,
    path: &std::path::Path,
    validate: impl Fn(&T) -> Result<(), String>,
) -> Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    apply_experiment_table(defaults, path, read_experiment_file(path)?, validate)
}

/// [`apply_experiment_file`] for a file already read ([`read_experiment_file`]).
pub fn apply_experiment_table<T>(
    defaults: T,
    path: &std::path::Path,
    overrides: toml::Table,
    validate: impl Fn(&T) -> Result<(), String>,
) -> Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut merged = toml::Table::try_from(&defaults)?;
    overlay(&mut merged, overrides);
    let config: T =
        toml::Value::Table(merged).try_into().with_context(|| format!("{}: bad experiment setting", path.display()))?;
    validate(&config).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(config)
}

fn overlay(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => overlay(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    gdistill_distill::write_atomically(path, text.as_bytes()).with_context(|| "writing the JSON report")?;
    Ok(())
}

/// Runs `write` on a temporary path beside `path` and renames the result over it (creating the
/// directory first), so a crash leaves the old file or the new one; `what` names the output in
/// errors ("the plot", "the TorchScript module").
pub fn write_atomically_with(
    path: &std::path::Path,
    what: &str,
    write: impl FnOnce(&std::path::Path) -> Result<()>,
) -> Result<()> {
    use gdistill_datasets::atomic::{describe_write_error, write_atomically, AtomicWriteError};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", path.display()))?;
    }
    write_atomically(path, write).map_err(|e| match e {
        AtomicWriteError::Write(e) => e.context(format!("{}: cannot write {what}", path.display())),
        AtomicWriteError::Io(e) => anyhow::anyhow!("{}: {}", path.display(), describe_write_error(path, &e)),
    })
}
