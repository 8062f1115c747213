//! gdistill-datasets: node-classification datasets as plain Rust data (no tch).
//!
//! A [`NodeDataset`] holds a graph, sparse features, labels and a train/val/test split.
//! [`load`] turns a dataset spec (`cora`, `linqs:PREFIX`, `npz:PATH`, `h5:PATH`, `csbm:...`)
//! into one, validating everything on the way in: a bad file gives a [`DatasetError`] naming the
//! file and the problem, never a panic or a silently wrong number.

mod dataset;
mod error;

pub use dataset::{NodeDataset, Split};
pub use error::DatasetError;
