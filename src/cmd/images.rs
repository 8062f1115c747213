//! `gdistill compare` on image datasets (`mnist:DIR`, `digits:FILE`).
//!
//! `compare` hands image specs over here ([`is_image_spec`], [`run_compare`]) with the values it
//! has already parsed; the settings are resolved as for graphs: the defaults for the image size,
//! then the TOML file (same keys as the report's `config`), then the flags.

use std::path::PathBuf;

use anyhow::Result;
use gdistill_datasets::{load_images, ImageDataset};
use gdistill_distill::images::{
    compare_images_keeping, save_image_checkpoint, ImageCheckpointMeta, ImageCompareConfig, TrainedImageModel,
};
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
    /// Save each row's model of the first seed as DIR/ROW.safetensors (for `gdistill export`).
    pub save_models: Option<PathBuf>,
    /// Draw accuracy against parameters as a PNG.
    pub plot: Option<PathBuf>,
    /// Members of an ensemble `teacher` row.
    pub teacher_ensemble: Option<usize>,
    pub ensemble_combine: Option<gdistill_distill::ensemble::EnsembleCombine>,
    /// What the `+kd` rows are trained on.
    pub transfer_set: Option<gdistill_distill::transfer_set::TransferSet>,
    /// Add the rows teacher-int8 and mlp-800+kd-int8 and a weight-bytes column.
    pub int8: bool,
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
    if args.teacher_ensemble.is_some() || args.ensemble_combine.is_some() {
        let mut ensemble = config
            .teacher_ensemble
            .take()
            .unwrap_or(gdistill_distill::ensemble::EnsembleConfig { members: 1, combine: Default::default() });
        ensemble.members = args.teacher_ensemble.unwrap_or(ensemble.members);
        ensemble.combine = args.ensemble_combine.unwrap_or(ensemble.combine);
        config.teacher_ensemble = Some(ensemble);
    }
    if let Some(set) = args.transfer_set {
        config.transfer_set = set;
    }
    config.int8_rows |= args.int8;
    if args.save_models.is_some() && config.teacher_ensemble.as_ref().is_some_and(|e| e.members > 1) {
        anyhow::bail!("--save-models saves one model per row; an ensemble teacher row has several");
    }
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// Loads the images, runs every row over the seeds, prints the table, writes the JSON report.
pub fn run_compare(args: ImageCompareArgs) -> Result<()> {
    let dataset = load_images(&args.dataset, &args.data_dir)?;
    let config = resolve_config(&args, &dataset)?;
    if let Some(path) = &args.plot {
        crate::plot::check_png_path(path)?;
    }
    let mut saved: Vec<Result<PathBuf>> = Vec::new();
    let report = with_run_bar(|progress| {
        compare_images_keeping(&dataset, &config, args.device, progress, &mut |row, seed, trained| {
            if let (Some(dir), true) = (&args.save_models, seed == config.first_seed) {
                saved.push(save_row_model(dir, row, seed, trained, &dataset, &config));
            }
        })
    })?;
    print_image_table(&report);
    for path in saved {
        println!("saved {}", path?.display());
    }
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        crate::plot_compare::write_size_plot(path, &crate::plot_compare::image_points(&report))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes one trained row as `dir/ROW.safetensors`, with its settings and scores inside.
fn save_row_model(
    dir: &std::path::Path,
    row: &str,
    seed: u64,
    trained: &TrainedImageModel,
    dataset: &ImageDataset,
    config: &ImageCompareConfig,
) -> Result<PathBuf> {
    let path = dir.join(format!("{row}.safetensors"));
    let meta = ImageCheckpointMeta {
        format_version: 1,
        model: config.arch(row).clone(),
        shape: ImageShape {
            height: dataset.height as i64,
            width: dataset.width as i64,
            classes: dataset.num_classes as i64,
        },
        dataset: dataset.name.clone(),
        training: serde_json::json!({
            "row": row, "seed": seed, "settings": config.training(row), "kd": config.kd_settings(row),
            "best_epoch": trained.best_epoch + 1, "best_val_acc": trained.best_val_acc,
        }),
    };
    save_image_checkpoint(&path, &trained.vs, &meta)?;
    Ok(path)
}
