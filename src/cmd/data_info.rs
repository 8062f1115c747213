//! `gdistill data info`, which needs no libtorch: the light `gdistill` front (src/front.rs) runs
//! it in-process, so that it starts in milliseconds; `gdistill-torch data info` runs the same code.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{write_json, DatasetArgs};

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// Describe only the largest connected component (edges read both ways), as `compare --lcc`
    /// and `--protocol glnn` train on it.
    #[arg(long)]
    lcc: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn info(args: InfoArgs) -> Result<()> {
    let node_dataset = !gdistill_datasets::is_image_spec(&args.dataset.dataset)
        && !gdistill_datasets::is_pointcloud_spec(&args.dataset.dataset);
    anyhow::ensure!(node_dataset || !args.lcc, "--lcc applies to graph datasets, not to {}", args.dataset.dataset);
    if gdistill_datasets::is_image_spec(&args.dataset.dataset) {
        return image_info(args);
    }
    if gdistill_datasets::is_pointcloud_spec(&args.dataset.dataset) {
        return pointcloud_info(args);
    }
    let mut dataset = args.dataset.load()?;
    if args.lcc {
        let component = dataset.largest_component()?;
        if component.split_redrawn {
            eprintln!("note: {}", redrawn_note(&component.dataset.name));
        }
        dataset = component.dataset;
    }
    let s = dataset.summary();
    println!("dataset          {}", s.name);
    println!("nodes            {}", s.nodes);
    println!("edges            {} (undirected, self-loops not counted)", s.edges);
    println!("features         {} (density {:.4}%)", s.features, 100.0 * s.feature_density);
    println!("classes          {}", s.classes);
    let counts: Vec<String> =
        dataset.class_names.iter().zip(&s.class_counts).map(|(n, c)| format!("{n}={c}")).collect();
    println!("class counts     {}", counts.join(" "));
    if s.unlabelled > 0 {
        println!("unlabelled       {} (in no split, drawn or given)", s.unlabelled);
    }
    println!("split            train {} / val {} / test {}", s.train, s.val, s.test);
    println!("isolated nodes   {}", s.isolated_nodes);
    println!("self-loops       {}", s.self_loops);
    if let Some(path) = args.json {
        write_json(&path, &s)?;
    }
    Ok(())
}

/// What a split drawn anew on the largest component is ([`gdistill_datasets::LargestComponent`]).
pub fn redrawn_note(name: &str) -> String {
    format!(
        "{name}: the largest connected component holds none of the dataset's training, validation or test nodes; its split is drawn anew (per-class:20,30, seed 0)"
    )
}

/// `data info` for `mnist:DIR` and `digits:FILE`.
fn image_info(args: InfoArgs) -> Result<()> {
    let images = gdistill_datasets::load_images(&args.dataset.dataset, &args.dataset.data_dir())?;
    let s = images.summary();
    println!("dataset          {}", s.name);
    println!("images           {} of {}x{} pixels", s.images, s.height, s.width);
    println!("classes          {}", s.classes);
    let counts: Vec<String> = s.class_counts.iter().enumerate().map(|(c, n)| format!("{c}={n}")).collect();
    println!("class counts     {}", counts.join(" "));
    println!("split            train {} / val {} / test {}", s.train, s.val, s.test);
    if let Some(path) = args.json {
        write_json(&path, &s)?;
    }
    Ok(())
}

/// `data info` for `modelnet:DIR`.
fn pointcloud_info(args: InfoArgs) -> Result<()> {
    let clouds = gdistill_datasets::load_pointclouds(&args.dataset.dataset, &args.dataset.data_dir())?;
    let s = clouds.summary();
    println!("dataset          {}", s.name);
    println!("clouds           {} of {} points in {}-D", s.clouds, s.points_per_cloud, s.dim);
    println!("classes          {} ({})", s.classes, s.class_names.join(", "));
    println!("split            train {} / val {} / test {}", s.train, s.val, s.test);
    if let Some(path) = args.json {
        write_json(&path, &s)?;
    }
    Ok(())
}
