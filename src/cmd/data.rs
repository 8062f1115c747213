//! `gdistill data`: what a dataset holds (`info`, in data_info.rs), any graph into gdistill's HDF5
//! layout (`convert`, in data_convert.rs), and images as point clouds.

use anyhow::Result;
use clap::Subcommand;

use super::data_convert::{self, ConvertArgs};
use super::data_info::{self, InfoArgs};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print nodes, edges, features, classes, split sizes, isolated nodes and self-loops.
    ///
    /// Example: gdistill data info --dataset cora --json cora.json
    Info(InfoArgs),
    /// Write a node dataset (any spec: ogb:, csv:, npz:, ...) as a gdistill HDF5 graph, for h5:PATH.
    ///
    /// Example: gdistill data convert --dataset ogb:ogbn_arxiv --out arxiv.h5
    Convert(ConvertArgs),
    /// Turn an image dataset into 2-D point clouds (ink pixels as points) in the ModelNet40 HDF5 layout.
    ///
    /// Example: gdistill data pointcloud-from-images --dataset mnist:DIR --points 256 --out mnist-points
    PointcloudFromImages(super::pointcloud::FromImagesArgs),
    /// Download a public dataset (Planetoid, gnn-benchmark npz, OGB) into the data directory, checked against pinned sha256.
    ///
    /// Example: gdistill data fetch cora --data-dir data; gdistill data fetch --list
    Fetch(super::fetch::FetchArgs),
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Info(args) => data_info::info(args),
        DataCommand::Convert(args) => data_convert::convert(args),
        DataCommand::PointcloudFromImages(args) => super::pointcloud::from_images(args),
        DataCommand::Fetch(args) => super::fetch::fetch(args),
    }
}
