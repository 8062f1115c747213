//! One module per subcommand, plus the flags they share.

pub mod bench;
pub mod bench_scale;
pub mod compare;
pub mod data;
pub mod distill;
pub mod eval;
pub mod experiment;
pub mod export;
pub mod fetch;
pub mod images;
pub mod mpi;
pub mod partition;
pub mod pointcloud;
pub mod prune;
pub mod resume;
pub mod sampler_args;
pub mod seed_jobs;
pub mod soft_targets;
pub mod train;

// The part of the CLI that needs no libtorch, shared with the light `gdistill` front (src/front.rs).
pub mod data_convert;
pub mod data_info;
mod light;
pub use light::{choose_hdf5_probe, write_json, DatasetArgs, PROBE_ARG};

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::input::{read_input_string, InputKind};

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
