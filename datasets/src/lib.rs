//! gdistill-datasets: node-classification datasets as plain Rust data (no tch).
//!
//! A [`NodeDataset`] holds a graph, sparse features, labels and a train/val/test split.
//! [`load`] turns a dataset spec (`cora`, `linqs:PREFIX`, `npz:PATH`, `h5:PATH`, `csbm:...`;
//! see [`spec`]) into one, validating everything on the way in: a bad file gives a
//! [`DatasetError`] naming the file and the problem, never a panic or a silently wrong number.
//!
//! Modules, one per source: [`planetoid`] (Planetoid `ind.*` pickles, read by the inert
//! [`pickle`] reader), [`linqs`] (LINQS text), [`npz`] (gnn-benchmark), [`h5graph`] (gdistill's
//! HDF5 layout, read and write), [`csbm`] (synthetic). Shared pieces: [`array`](mod@array) (numpy arrays),
//! [`sparse`] (checked CSR construction), [`split`] (seeded per-class splits), [`limits`] (declared
//! sizes checked against memory before anything is allocated), [`input`] (the one opener of every input
//! file: devices and directories refused, sizes and pipes bounded). Per experiment: [`split_spec`] (which
//! split: `public`, `per-class:20,30`, `random:0.6,0.2`), [`structural_features`] (features from the
//! graph alone, for graphs without node features).
//!
//! Image datasets (`mnist:DIR`, `digits:FILE`) are not node datasets: [`load_images`] turns
//! their specs into an [`ImageDataset`] ([`images`]; [`is_image_spec`] tells the two apart).
//! Point clouds (`modelnet:DIR`, the ModelNet40 HDF5 layout) likewise: [`load_pointclouds`]
//! gives a [`PointCloudDataset`] ([`pointcloud`]; [`is_pointcloud_spec`]).

#![warn(missing_docs)]
pub mod array;
pub mod atomic;
pub mod csbm;
mod dataset;
mod error;
pub mod h5file;
pub mod h5graph;
pub mod images;
pub mod inductive;
pub mod input;
mod lcc;
pub mod limits;
pub mod linqs;
pub mod npz;
pub mod pickle;
pub mod planetoid;
pub mod pointcloud;
pub mod sparse;
pub mod spec;
pub mod split;
pub mod split_spec;
pub mod structural_features;

pub use csbm::{generate_csbm, CsbmParams};
pub use dataset::{DatasetSummary, FeatureLayout, NodeDataset, Split, SPARSE_FEATURE_DENSITY};
pub use error::DatasetError;
pub use h5graph::{read_h5graph, read_soft_targets, write_h5graph, write_soft_targets, EnsembleOrigin, SoftTargets};
pub use images::{is_image_spec, load_images, ImageDataset, ImageSpec, ImageSummary};
pub use inductive::{inductive_split, InductiveDataset};
pub use lcc::LargestComponent;
pub use linqs::{load_linqs, LinqsOptions, LinqsReport};
pub use npz::load_npz;
pub use planetoid::load_planetoid;
pub use pointcloud::{is_pointcloud_spec, load_pointclouds, PointCloudDataset, PointCloudSpec, PointCloudSummary};
pub use spec::{load, load_with_report, DatasetSpec, LoadReport};
pub use split::{per_class_split, NodeSplit, SplitOptions};
pub use split_spec::{apply_split, resplit, ParseSpecError, SplitSpec};
pub use structural_features::{apply_features, FeatureSpec};
