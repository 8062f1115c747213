//! gdistill-models: node classifiers on libtorch (`tch`).
//!
//! Families: GCN, graph-less MLP, GraphSAGE (mean), GAT and APPNP, all on the same sparse
//! adjacency. Models are plain structs built from an `nn::Path`. Each takes `(features, normalised
//! adjacency)` and returns its logits and its hidden representations ([`ModelOutput`]); none of
//! them knows anything of training. [`ModelConfig`] rebuilds any of them (checkpoints store it).
//!
//! ```
//! use gdistill_models::{Arch, ModelConfig, NodeFeatures, NodeModel, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//!
//! // Two nodes joined by an edge, as a normalised adjacency with self-loops (all entries 1/2).
//! let adj = SparseMatrix::from_csr(&[0, 2, 4], &[0, 1, 0, 1], &[0.5; 4], (2, 2), Device::Cpu)?;
//! let x = NodeFeatures::Dense(Tensor::randn([2, 5], (Kind::Float, Device::Cpu)));
//!
//! // Kipf and Welling's GCN: 2 layers, 16 hidden units, 3 classes.
//! let vs = nn::VarStore::new(Device::Cpu);
//! let gcn = ModelConfig::new(Arch::Gcn, 5, 16, 2, 3, 0.5).build(&vs.root())?;
//! let out = gcn.forward_t(&x, &adj, false);
//! assert_eq!(out.logits.size(), [2, 3]);
//! // The hidden features too: what LSP compares between teacher and student.
//! assert_eq!(out.hidden[0].size(), [2, 16]);
//! # Ok::<(), gdistill_models::ModelError>(())
//! ```

mod appnp;
mod block;
mod denormals;
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
pub use block::{
    block_adjacency, block_adjacency_with, full_degrees, sampled_block_matrices, sampled_block_matrices_with, BlockNorm,
};
pub use denormals::{flush_denormals, flushing_denormals};
pub use device::{asks_for_cuda, cuda_available, cuda_memory_in_use_mib, libtorch_lib_dir, load_cuda, parse_device};
pub use dropout::dropout;
pub use edge_softmax::{segment_log_softmax, segment_softmax};
pub use error::ModelError;
pub use features::{aggregate_then_project, NodeFeatures, Project};
pub use gat::{Gat, GatConv};
pub use gcn::{Gcn, GcnConv};
pub use mlp::{Dense, Mlp};
pub use model::{Arch, ArchOptions, ModelConfig, ModelOutput, NodeModel, SageAggregator};
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
