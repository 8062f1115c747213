//! `gdistill compare` on image datasets (`mnist:DIR`, `digits:FILE`).
//!
//! `compare` hands image specs over here ([`is_image_spec`], [`run_compare`]) with the values it
//! has already parsed; the settings are resolved as for graphs: the defaults for the image size,
//! then the TOML file (same keys as the report's `config`), then the flags.

use std::path::PathBuf;

use anyhow::Result;
use gdistill_datasets::{load_images, ImageDataset};
use gdistill_distill::images::{compare_images, ImageCompareConfig};
use gdistill_models::ImageShape;

use super::{apply_experiment_file, write_json};
use crate::output::with_run_bar;
use crate::output_images::print_image_table;

/// What `gdistill compare` passes on for an image dataset.
#[derive(Clone, Debug)]
pub struct ImageCompareArgs {
    /// The spec, `mnist:DIR` or `digits:FILE`.
    pub dataset: String,
    /// Where relative paths in the spec are also looked for.
    pub data_dir: PathBuf,
    pub device: tch::Device,
    pub seeds: Option<usize>,
    pub first_seed: Option<u64>,
    /// TOML experiment file overriding the defaults.
    pub config: Option<PathBuf>,
    /// Temperature of every `+kd` row.
    pub temperature: Option<f64>,
    /// Hard-label weight of every `+kd` row.
    pub alpha: Option<f64>,
    /// Maximum epochs of every training run.
    pub epochs: Option<usize>,
    pub json: Option<PathBuf>,
}

/// Whether `spec` names an image dataset, which `compare` must hand over to [`run_compare`].
pub fn is_image_spec(spec: &str) -> bool {
    gdistill_datasets::is_image_spec(spec)
}

/// Defaults for the image size, then the TOML file, then flags.
fn resolve_config(args: &ImageCompareArgs, dataset: &ImageDataset) -> Result<ImageCompareConfig> {
    let shape =
        ImageShape { height: dataset.height as i64, width: dataset.width as i64, classes: dataset.num_classes as i64 };
    let mut config = ImageCompareConfig::for_shape(shape);
    if let Some(path) = &args.config {
        config = apply_experiment_file(config, path, ImageCompareConfig::validate)?;
    }
    if let Some(seeds) = args.seeds {
        config.seeds = seeds;
    }
    if let Some(first) = args.first_seed {
        config.first_seed = first;
    }
    for kd in config.kd_mut() {
        kd.temperature = args.temperature.unwrap_or(kd.temperature);
        kd.alpha = args.alpha.unwrap_or(kd.alpha);
    }
    if let Some(epochs) = args.epochs {
        anyhow::ensure!(epochs > 0, "--epochs must be at least 1");
        for training in config.trainings_mut() {
            training.epochs = epochs;
        }
    }
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// Loads the images, runs every row over the seeds, prints the table, writes the JSON report.
pub fn run_compare(args: ImageCompareArgs) -> Result<()> {
    let dataset = load_images(&args.dataset, &args.data_dir)?;
    let config = resolve_config(&args, &dataset)?;
    let report = with_run_bar(|progress| compare_images(&dataset, &config, args.device, progress))?;
    print_image_table(&report);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
