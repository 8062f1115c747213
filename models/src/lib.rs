//! gdistill-models: node classifiers on libtorch (`tch`).
//!
//! Families: GCN, graph-less MLP, GraphSAGE (mean), GAT and APPNP, all on the same sparse
//! adjacency. Models are plain structs built from an `nn::Path`. Each takes `(features, normalised
//! adjacency)` and returns its logits and its hidden representations ([`ModelOutput`]); none of
//! them knows anything of training. [`ModelConfig`] rebuilds any of them (checkpoints store it).

mod appnp;
mod block;
mod device;
mod dropout;
mod edge_softmax;
mod error;
mod features;
mod gat;
mod gcn;
mod mlp;
mod model;
mod sage;
mod sparse;
mod tape;

pub use appnp::{personalized_pagerank, Appnp};
pub use block::{block_adjacency, full_degrees, sampled_block_matrices};
pub use device::{asks_for_cuda, cuda_available, cuda_memory_in_use_mib, libtorch_lib_dir, load_cuda, parse_device};
pub use edge_softmax::{segment_log_softmax, segment_softmax};
pub use dropout::dropout;
pub use error::ModelError;
pub use features::{NodeFeatures, Project};
pub use gcn::{Gcn, GcnConv};
pub use mlp::{Dense, Mlp};
pub use gat::{Gat, GatConv};
pub use model::{Arch, ArchOptions, ModelConfig, ModelOutput, NodeModel};
pub use sage::{Sage, SageConv};
pub use sparse::SparseMatrix;
pub use tape::{record_sparse_products, SparseTape};

// Image classifiers (grid inputs): MLPs, a small CNN and a GCN on the pixel grid.
mod image;
pub use image::{
    grid_features, ActivationHook, GridGcn, GridSettings, ImageArch, ImageMlp, ImageModel, ImageShape, SmallCnn,
};

// Point-cloud classifiers: batched kNN, EdgeConv, a DGCNN-style model and a PointNet-style MLP.
pub mod pointcloud;
