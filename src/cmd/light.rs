//! The part of the CLI that needs no libtorch: where a dataset comes from, how HDF5 files are
//! read, JSON output. Shared by the `gdistill-torch` binary (src/main.rs, as `cmd::light`) and the
//! light `gdistill` front (src/front.rs), which must not link libtorch: nothing here may use
//! tch, gdistill-models or gdistill-distill.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use gdistill_datasets::{DatasetSpec, NodeDataset};

/// Where a dataset comes from.
#[derive(Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Dataset spec: cora, citeseer, pubmed, linqs:PREFIX, npz:PATH[:K], ogb:DIR[:SPLIT],
    /// csv:edges=FILE,features=FILE,labels=FILE[,split=FILE], h5:PATH, or
    /// csbm:nodes=N,classes=C,degree=D,homophily=H,features=F,signal=S,seed=K; for compare also
    /// mnist:DIR, digits:FILE and modelnet:DIR (point clouds).
    #[arg(long, short = 'd')]
    pub dataset: String,
    /// Directory holding <name>/ folders of Planetoid files [default: $GDISTILL_DATA_DIR, else data/].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Which of the splits a file stores is the dataset's own (`--split public`): row K of a
    /// heterophilous-graph npz's masks [default: 0; the same as npz:PATH:K].
    #[arg(long, value_name = "K")]
    pub split_index: Option<usize>,
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
        let mut spec: DatasetSpec = self.dataset.parse()?;
        if let Some(index) = self.split_index {
            spec = spec
                .with_split_index(index)
                .map_err(|m| gdistill_datasets::DatasetError::spec(self.dataset.as_str(), m))?;
        }
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

/// Writes `value` as pretty JSON to `path` atomically (a temporary file beside it, renamed over
/// it), creating the directory first.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    use gdistill_datasets::atomic::{describe_write_error, write_atomically, AtomicWriteError};
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let failed = |message: String| anyhow::anyhow!("{}: {message}", path.display()).context("writing the JSON report");
    if path.file_name().is_none() {
        return Err(failed("not a file path".to_owned()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| failed(describe_write_error(path, &e)))?;
    }
    write_atomically(path, |tmp| std::fs::write(tmp, text.as_bytes())).map_err(|e| match e {
        AtomicWriteError::Write(e) | AtomicWriteError::Io(e) => failed(describe_write_error(path, &e)),
    })
}

/// The hidden first argument that turns this binary into the HDF5 probe when no
/// `gdistill-h5probe` was installed beside it.
pub const PROBE_ARG: &str = "__h5probe";

/// HDF5 files are read by a probe process first (libhdf5 crashes on some corrupt files): the
/// light `gdistill-h5probe` built beside this binary, else this binary itself with the hidden
/// argument [`PROBE_ARG`] (which `gdistill-torch` serves: slower to start, as it loads libtorch).
pub fn choose_hdf5_probe() {
    use gdistill_datasets::h5graph::isolate;
    let itself =
        || std::env::current_exe().ok().map(|program| isolate::Probe { program, args: vec![PROBE_ARG.into()] });
    if let Some(probe) = isolate::find_probe().or_else(itself) {
        isolate::set_probe(probe);
    }
}
