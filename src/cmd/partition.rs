//! `gdistill partition`: cuts a dataset into P parts (METIS k-way, or contiguous id ranges) and
//! writes one HDF5 file per part plus a manifest (datasets/src/partition_files.rs), for
//! `mpirun -np P gdistill soft-targets --partitions DIR`, where rank r reads only part r.
//!
//! The partitioner itself holds the whole dataset (as DistDGL's does): it runs on one machine
//! that can load the graph; the ranks that read the parts need not.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::partition_files::{write_partition, MANIFEST_NAME};
use gdistill_graph::partition::{assign_parts, PartitionMethod};

use super::DatasetArgs;

#[derive(Args)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Number of parts: the number of ranks that will read them (`mpirun -np P`).
    #[arg(long, value_name = "P")]
    pub parts: usize,
    /// metis (few cut edges, balanced parts) or contiguous (part r owns ids rN/P .. (r+1)N/P).
    #[arg(long, default_value = "metis", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<PartitionMethod>()))]
    pub method: PartitionMethod,
    /// METIS's seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory to write (created if missing): part-R-of-P.h5 files and partition.json.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

pub fn run(args: PartitionArgs) -> Result<()> {
    let dataset = args.dataset.load()?;
    let start = std::time::Instant::now();
    let owner = assign_parts(&dataset.graph, args.parts, args.method, args.seed)
        .with_context(|| format!("partitioning '{}' into {} parts", dataset.name, args.parts))?;
    let assigned = start.elapsed().as_secs_f64();
    let manifest = write_partition(&args.out, &dataset, &owner, args.parts, &args.method.to_string(), args.seed)?;
    println!(
        "{}: {} nodes, {} stored edges, cut into {} parts by {} in {assigned:.2} s; {} cut edges; wrote {}",
        dataset.name,
        manifest.nodes,
        manifest.entries,
        args.parts,
        args.method,
        manifest.cut_edges,
        args.out.join(MANIFEST_NAME).display()
    );
    println!("part  nodes  stored edges  cut edges  halo rows  halo bytes at width 64");
    for (k, p) in manifest.parts.iter().enumerate() {
        println!(
            "{k:>4}  {:>5}  {:>12}  {:>9}  {:>9}  {:>22}",
            p.nodes,
            p.entries,
            p.cut_edges,
            p.halo,
            p.halo * 64 * 4
        );
    }
    Ok(())
}
