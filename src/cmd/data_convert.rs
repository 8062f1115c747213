//! `gdistill data convert`: any node dataset spec into gdistill's HDF5 graph layout, so that a
//! slow-to-parse source (OGB's gzip CSV, a large edge list) is parsed once and then loaded with
//! `h5:PATH` in a fraction of the time, and so that other tools (h5py) read what gdistill read.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::{write_h5graph, FeatureLayout};

use super::DatasetArgs;

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// The HDF5 file to write (replaced whole, or left as it was on any error).
    #[arg(long)]
    out: PathBuf,
    /// Features stored dense, sparse (CSR), or auto (sparse at or below 15% non-zero).
    #[arg(long, default_value = "auto")]
    layout: FeatureLayout,
}

pub fn convert(args: ConvertArgs) -> Result<()> {
    if gdistill_datasets::is_image_spec(&args.dataset.dataset)
        || gdistill_datasets::is_pointcloud_spec(&args.dataset.dataset)
    {
        anyhow::bail!(
            "dataset spec '{}': data convert writes node datasets (graphs); images and point clouds have no graph layout",
            args.dataset.dataset
        );
    }
    // Loaded and validated whole before the output is opened: a bad input leaves no file.
    let dataset = args.dataset.load()?;
    write_h5graph(&args.out, &dataset, args.layout).context("writing the HDF5 graph")?;
    let s = dataset.summary();
    println!(
        "wrote {}: {} ({} nodes, {} edges, {} features, {} classes, split {}/{}/{})",
        args.out.display(),
        s.name,
        s.nodes,
        s.edges,
        s.features,
        s.classes,
        s.train,
        s.val,
        s.test
    );
    Ok(())
}
