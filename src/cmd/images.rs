//! `gdistill compare` on image datasets (`mnist:DIR`, `digits:FILE`).
//!
//! `compare` hands image specs over here ([`is_image_spec`], [`run_compare`]) with the values it
//! has already parsed; the settings are resolved as for graphs: the defaults for the image size,
//! then the TOML file (same keys as the report's `config`), then the flags.

use std::cell::RefCell;
use std::path::PathBuf;

use anyhow::Result;
use gdistill_datasets::{load_images, ImageDataset};
use gdistill_distill::images::{
    compare_images_keeping, save_image_checkpoint, ImageCheckpointMeta, ImageCompareConfig, TrainedImageModel,
};
use gdistill_models::ImageShape;

use super::apply_experiment_file;
use super::experiment::{run_and_report, ExperimentArgs, TeacherOptions};
use crate::output_images::print_image_table;
use crate::plot_compare::size_points;

/// What `gdistill compare` passes on for an image dataset.
#[derive(Clone, Debug)]
pub struct ImageCompareArgs {
    /// The spec (`mnist:DIR` or `digits:FILE`), seeds, file, temperature, ...
    pub common: ExperimentArgs,
    /// Save each row's model of the first seed as DIR/ROW.safetensors (for `gdistill export`).
    pub save_models: Option<PathBuf>,
    /// An ensemble `teacher` row, the `+kd` rows' transfer set, the int8 rows.
    pub teacher: TeacherOptions,
    /// `--prune` (`Some(true)`) or `--no-prune`: the `teacher-obd` row, over the file's `prune.rows`.
    pub prune: Option<bool>,
}

/// Whether `spec` names an image dataset, which `compare` must hand over to [`run_compare`].
pub fn is_image_spec(spec: &str) -> bool {
    gdistill_datasets::is_image_spec(spec)
}

/// Defaults for the image size, then the TOML file, then flags.
fn resolve_config(args: &ImageCompareArgs, dataset: &ImageDataset) -> Result<ImageCompareConfig> {
    let common = &args.common;
    let shape =
        ImageShape { height: dataset.height as i64, width: dataset.width as i64, classes: dataset.num_classes as i64 };
    let mut config = ImageCompareConfig::for_shape(shape);
    if let Some(path) = &common.config {
        config = apply_experiment_file(config, path, ImageCompareConfig::validate)?;
    }
    common.set_seeds(&mut config.seeds, &mut config.first_seed);
    for kd in config.kd_mut() {
        kd.temperature = common.temperature.unwrap_or(kd.temperature);
        kd.alpha = common.alpha.unwrap_or(kd.alpha);
    }
    if let Some(epochs) = common.epochs {
        anyhow::ensure!(epochs > 0, "--epochs must be at least 1");
        for training in config.trainings_mut() {
            training.epochs = epochs;
        }
        config.prune.retrain_epochs = epochs;
    }
    config.prune.rows = args.prune.unwrap_or(config.prune.rows);
    args.teacher.apply(&mut config.teacher_ensemble, &mut config.transfer_set, &mut config.int8_rows);
    if args.save_models.is_some() && config.teacher_ensemble.as_ref().is_some_and(|e| e.members > 1) {
        anyhow::bail!("--save-models saves one model per row; an ensemble teacher row has several");
    }
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// Loads the images, runs every row over the seeds, prints the table, writes the JSON report.
pub fn run_compare(args: ImageCompareArgs) -> Result<()> {
    let common = &args.common;
    let dataset = load_images(&common.dataset, &common.data_dir)?;
    let config = resolve_config(&args, &dataset)?;
    // Filled while training, printed after the table.
    let saved: RefCell<Vec<Result<PathBuf>>> = RefCell::default();
    let teacher = |name: &str| matches!(name, "teacher" | "cnn");
    run_and_report(
        common.json.as_deref(),
        common.plot.as_deref(),
        |progress| {
            compare_images_keeping(&dataset, &config, common.device, progress, &mut |row, seed, trained| {
                if let (Some(dir), true) = (&args.save_models, seed == config.first_seed) {
                    saved.borrow_mut().push(save_row_model(dir, row, seed, trained, &dataset, &config));
                }
            })
        },
        |report| {
            print_image_table(report);
            for path in saved.take() {
                println!("saved {}", path?.display());
            }
            Ok(())
        },
        // The MLP `teacher` and the `cnn` (the grid GCN's teacher) are teachers.
        |report| size_points(&report.dataset.name, config.seeds, &report.rows, teacher),
    )?;
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
