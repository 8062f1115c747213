//! `gdistill compare` on point clouds (`modelnet:DIR`), and `gdistill data
//! pointcloud-from-images`.
//!
//! `compare` hands point-cloud specs over here ([`is_pointcloud_spec`], [`run_compare`]) with the
//! values it has already parsed; the settings are resolved as for images: the defaults for the
//! dataset, then the TOML file (same keys as the report's `config`), then the flags.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use gdistill_datasets::pointcloud::{images_to_clouds, write_modelnet};
use gdistill_datasets::{load_images, load_pointclouds, PointCloudDataset};
use gdistill_distill::pointcloud::{compare_clouds, CloudCompareConfig};

use super::experiment::{run_and_report, ExperimentArgs, TeacherOptions};
use super::{apply_experiment_file, DatasetArgs};
use crate::output_pointcloud::print_cloud_table;
use crate::plot_compare::size_points;

/// What `gdistill compare` passes on for a point-cloud dataset.
#[derive(Clone, Debug)]
pub struct CloudCompareArgs {
    /// The spec (`modelnet:DIR`), seeds, file, temperature, ...
    pub common: ExperimentArgs,
    pub lsp_kernel: Option<gdistill_distill::lsp::LspKernel>,
    pub lsp_weight: Option<f64>,
    /// An ensemble `teacher` row, the `+kd` rows' transfer set, the int8 rows.
    pub teacher: TeacherOptions,
}

/// Whether `spec` names a point-cloud dataset, which `compare` must hand over to [`run_compare`].
pub fn is_pointcloud_spec(spec: &str) -> bool {
    gdistill_datasets::is_pointcloud_spec(spec)
}

/// Defaults for the dataset, then the TOML file, then flags.
fn resolve_config(args: &CloudCompareArgs, dataset: &PointCloudDataset) -> Result<CloudCompareConfig> {
    let common = &args.common;
    let defaults = CloudCompareConfig::for_dataset(dataset);
    let shape =
        gdistill_models::pointcloud::CloudShape { dim: dataset.dim as i64, classes: dataset.num_classes() as i64 };
    let mut config = match &common.config {
        Some(path) => apply_experiment_file(defaults, path, |c: &CloudCompareConfig| c.validate(shape))?,
        None => defaults,
    };
    common.set_seeds(&mut config.seeds, &mut config.first_seed);
    config.kd.temperature = common.temperature.unwrap_or(config.kd.temperature);
    config.kd.alpha = common.alpha.unwrap_or(config.kd.alpha);
    config.lsp.kernel = args.lsp_kernel.unwrap_or(config.lsp.kernel);
    config.lsp.weight = args.lsp_weight.unwrap_or(config.lsp.weight);
    if let Some(epochs) = common.epochs {
        config.teacher_training.epochs = epochs;
        config.student_training.epochs = epochs;
    }
    args.teacher.apply(&mut config.teacher_ensemble, &mut config.transfer_set, &mut config.int8_rows);
    config.validate(shape).map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// Loads the clouds, runs every row over the seeds, prints the table, writes the JSON report.
pub fn run_compare(args: CloudCompareArgs) -> Result<()> {
    let common = &args.common;
    let dataset = load_pointclouds(&common.dataset, &common.data_dir)?;
    let config = resolve_config(&args, &dataset)?;
    run_and_report(
        common.json.as_deref(),
        common.plot.as_deref(),
        |progress| compare_clouds(&dataset, &config, common.device, progress),
        |report| Ok(print_cloud_table(report)),
        |report| size_points(&report.dataset.name, config.seeds, &report.rows, |name| name.starts_with("teacher")),
    )?;
    Ok(())
}

/// `gdistill data pointcloud-from-images`.
#[derive(Args)]
pub struct FromImagesArgs {
    /// Image dataset spec (mnist:DIR, digits:FILE).
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Points per image (ink pixels sampled, repeated when an image has fewer).
    #[arg(long, default_value_t = 256)]
    pub points: usize,
    /// A pixel is ink when its intensity (0..1) exceeds this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Seed of the point sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (ModelNet40 HDF5 layout; read back with --dataset modelnet:DIR).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn from_images(args: FromImagesArgs) -> Result<()> {
    anyhow::ensure!(args.points > 0, "--points must be at least 1");
    anyhow::ensure!((0.0..1.0).contains(&args.threshold), "--threshold must be in [0, 1), got {}", args.threshold);
    let images = load_images(&args.dataset.dataset, &args.dataset.data_dir())?;
    let clouds = images_to_clouds(&images, args.points, args.threshold, args.seed)?;
    write_modelnet(&args.out, &clouds)?;
    println!(
        "wrote {} clouds of {} 2-D points ({} train + val, {} test, {} classes) to {}",
        clouds.num_clouds(),
        args.points,
        clouds.train.len() + clouds.val.len(),
        clouds.test.len(),
        clouds.num_classes(),
        args.out.display()
    );
    Ok(())
}
