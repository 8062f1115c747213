//! What `gdistill compare` does the same for every kind of input (graphs, images, point clouds):
//! the flags every experiment reads ([`ExperimentArgs`]), and the run itself ([`run_and_report`]):
//! train under a progress bar, print the table, write the JSON report atomically, draw the plot.

use std::path::{Path, PathBuf};

use anyhow::Result;
use gdistill_distill::experiment::Progress;
use serde::Serialize;

use super::write_json;
use crate::output::with_run_bar;
use crate::plot_compare::SizePlot;

/// The teacher and transfer-set flags the image and point-cloud experiments both read.
#[derive(Clone, Debug)]
pub struct TeacherOptions {
    /// A number of members, or (graphs only) their families.
    pub teacher_ensemble: Option<gdistill_distill::ensemble::EnsembleMembers>,
    pub ensemble_combine: Option<gdistill_distill::ensemble::EnsembleCombine>,
    pub transfer_set: Option<gdistill_distill::transfer_set::TransferSet>,
    /// Add the int8 rows and a weight-bytes column.
    pub int8: bool,
}

impl TeacherOptions {
    /// Overlays the flags given on a config's ensemble, transfer set and int8 switch.
    pub fn apply(
        &self,
        ensemble: &mut Option<gdistill_distill::ensemble::EnsembleConfig>,
        transfer_set: &mut gdistill_distill::transfer_set::TransferSet,
        int8_rows: &mut bool,
    ) {
        if self.teacher_ensemble.is_some() || self.ensemble_combine.is_some() {
            let e = ensemble.get_or_insert(gdistill_distill::ensemble::EnsembleConfig::of_size(1, Default::default()));
            if let Some(members) = &self.teacher_ensemble {
                members.apply(e);
            }
            e.combine = self.ensemble_combine.unwrap_or(e.combine);
        }
        *transfer_set = self.transfer_set.unwrap_or(*transfer_set);
        *int8_rows |= self.int8;
    }
}

/// The `compare` values every kind of input reads, parsed once by `compare`.
#[derive(Clone, Debug)]
pub struct ExperimentArgs {
    /// The dataset spec (`mnist:DIR`, `digits:FILE`, `modelnet:DIR`).
    pub dataset: String,
    /// Where relative paths in the spec are also looked for.
    pub data_dir: PathBuf,
    pub device: tch::Device,
    pub seeds: Option<usize>,
    pub first_seed: Option<u64>,
    /// TOML experiment file overriding the defaults (same keys as the report's `config`).
    pub config: Option<PathBuf>,
    /// Temperature of every distilled row.
    pub temperature: Option<f64>,
    /// Hard-label weight of every distilled row.
    pub alpha: Option<f64>,
    /// Maximum epochs of every training run.
    pub epochs: Option<usize>,
    pub json: Option<PathBuf>,
    /// Draw accuracy against parameters as a PNG.
    pub plot: Option<PathBuf>,
}

impl ExperimentArgs {
    /// Sets the seeds the flags give over those of the defaults and the file.
    pub fn set_seeds(&self, seeds: &mut usize, first_seed: &mut u64) {
        *seeds = self.seeds.unwrap_or(*seeds);
        *first_seed = self.first_seed.unwrap_or(*first_seed);
    }
}

/// Runs `compare` under a bar over its training runs, then prints its table (`print`), writes
/// the report to `json` and draws its `points` to `plot` when asked. Returns the report.
pub fn run_and_report<R: Serialize, E: Into<anyhow::Error>>(
    json: Option<&Path>,
    plot: Option<&Path>,
    compare: impl FnOnce(&mut dyn FnMut(Progress)) -> std::result::Result<R, E>,
    print: impl FnOnce(&R) -> Result<()>,
    points: impl FnOnce(&R) -> SizePlot,
) -> Result<R> {
    if let Some(path) = plot {
        crate::plot::check_png_path(path)?;
    }
    let report = with_run_bar(compare).map_err(Into::into)?;
    print(&report)?;
    if let Some(path) = json {
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = plot {
        crate::plot_compare::write_size_plot(path, &points(&report))?;
        println!("wrote {}", path.display());
    }
    Ok(report)
}
