//! gdistill-datasets: node-classification datasets as plain Rust data (no tch).
//!
//! A [`NodeDataset`] holds a graph, sparse features, labels and a train/val/test split.
//! [`load`] turns a dataset spec (`cora`, `linqs:PREFIX`, `npz:PATH`, `ogb:DIR`, `csv:...`,
//! `h5:PATH`, `csbm:...`;
//! see [`spec`]) into one, validating everything on the way in: a bad file gives a
//! [`DatasetError`] naming the file and the problem, never a panic or a silently wrong number.
//!
//! Modules, one per source: [`planetoid`] (Planetoid `ind.*` pickles, read by the inert
//! [`pickle`] reader), [`linqs`] (LINQS text), [`npz`] (gnn-benchmark and heterophilous-graph),
//! [`ogb`] (OGB's node-property layout), [`csv_graph`] (a user's edge list and tables), [`h5graph`] (gdistill's
//! HDF5 layout, read and write), [`csbm`] (synthetic). Shared pieces: [`array`](mod@array) (numpy arrays),
//! [`sparse`] (checked CSR construction), [`split`] (seeded per-class splits), [`limits`] (declared
//! sizes checked against memory before anything is allocated), [`input`] (the one opener of every input
//! file: devices and directories refused, sizes and pipes bounded). Per experiment: [`split_spec`] (which
//! split: `public`, `per-class:20,30`, `random:0.6,0.2`), [`structural_features`] (features from the
//! graph alone, for graphs without node features). With the `fetch` feature, the `fetch` module downloads
//! the public datasets (`gdistill data fetch`) against pinned sha256 values.
//!
//! Image datasets (`mnist:DIR`, `digits:FILE`) are not node datasets: [`load_images`] turns
//! their specs into an [`ImageDataset`] ([`images`]; [`is_image_spec`] tells the two apart).
//! Point clouds (`modelnet:DIR`, the ModelNet40 HDF5 layout) likewise: [`load_pointclouds`]
//! gives a [`PointCloudDataset`] ([`pointcloud`]; [`is_pointcloud_spec`]).
//!
//! ```
//! use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
//!
//! // A synthetic graph of two communities (contextual stochastic block model), with a
//! // per-class split: every node set comes checked, whatever its source.
//! let params = CsbmParams { nodes: 200, classes: 2, features: 8, ..CsbmParams::default() };
//! let graph = generate_csbm(&params)?;
//! assert_eq!(graph.num_nodes(), 200);
//! assert_eq!(graph.num_features(), 8);
//! assert_eq!(graph.class_counts().len(), 2);
//! graph.validate()?;
//! # Ok::<(), gdistill_datasets::DatasetError>(())
//! ```

#![warn(missing_docs)]
pub mod array;
pub mod atomic;
pub mod csbm;
pub mod csv_graph;
mod dataset;
pub mod deepwalk;
mod error;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod h5file;
pub mod h5graph;
pub mod images;
pub mod inductive;
pub mod input;
mod lcc;
pub mod limits;
pub mod linqs;
pub mod npz;
pub mod ogb;
pub mod part_features;
pub mod partition_files;
pub mod pickle;
pub mod planetoid;
pub mod pointcloud;
pub mod serde_string;
pub mod sparse;
pub mod spec;
pub mod split;
pub mod split_spec;
pub mod structural_features;
mod table;

pub use csbm::{generate_csbm, CsbmParams};
pub use csv_graph::{load_csv, CsvSpec};
pub use dataset::{DatasetSummary, FeatureLayout, NodeDataset, Split, SPARSE_FEATURE_DENSITY};
pub use deepwalk::DeepWalkSpec;
pub use error::DatasetError;
pub use h5graph::{
    read_h5graph, read_soft_target_rows, read_soft_targets, stage_soft_target_rows, stage_soft_targets, write_h5graph,
    write_soft_target_rows, write_soft_targets, EnsembleOrigin, SoftTargets,
};
pub use images::{is_image_spec, load_images, ImageDataset, ImageSpec, ImageSummary};
pub use inductive::{inductive_split, InductiveDataset};
pub use lcc::LargestComponent;
pub use linqs::{load_linqs, LinqsOptions, LinqsReport};
pub use npz::{load_npz, load_npz_split};
pub use ogb::load_ogb;
pub use planetoid::load_planetoid;
pub use pointcloud::{is_pointcloud_spec, load_pointclouds, PointCloudDataset, PointCloudSpec, PointCloudSummary};
pub use spec::{load, load_with_report, DatasetSpec, LoadReport};
pub use split::{per_class_split, NodeSplit, SplitOptions};
pub use split_spec::{apply_split, resplit, ParseSpecError, SplitSpec};
pub use structural_features::{apply_features, apply_features_with, FeatureSpec};
