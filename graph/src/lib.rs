//! gdistill-graph: graphs as CSR matrices, with the builders and normalisations gdistill needs.
//!
//! No tch here: this crate is plain Rust (sprs, petgraph, rayon), so the data side of gdistill
//! builds and tests quickly.
//!
//! - [`Graph`]: the CSR adjacency matrix, built from edge lists ([`Graph::from_edges`]), CSR
//!   matrices or petgraph graphs ([`Graph::from_petgraph`]);
//! - builders: [`knn_graph`] / [`knn_graph_batched`] for point sets, [`grid_graph`] for images,
//!   [`block_diagonal`] for batches of graphs;
//! - transformations: [`Graph::induced_subgraph`], [`Graph::connected_components`],
//!   [`Graph::largest_component`];
//! - normalisation: [`gcn_normalized_adjacency`], [`symmetric_normalized_adjacency`],
//!   [`random_walk_normalized_adjacency`];
//! - mini-batches and splits: [`NeighborSampler`] / [`NeighborLoader`] (neighbour sampling into
//!   bipartite [`Block`]s, as PyG's `NeighborLoader`), [`inductive_partition`] (GLNN's held-out
//!   test nodes).
//!
//! ```
//! use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph};
//!
//! // The path 0 - 1 - 2, undirected: each edge is stored both ways.
//! let path = Graph::from_edges(3, &[(0, 1), (1, 2)], EdgeOptions::undirected())?;
//! assert_eq!(path.neighbors(1), &[0, 2]);
//!
//! // Kipf and Welling's D^-1/2 (A + I) D^-1/2: with self-loops, node 0 has degree 2 and
//! // node 1 degree 3, so entry (0, 1) is 1 / sqrt(2 * 3).
//! let a_hat = gcn_normalized_adjacency(&path);
//! let entry = *a_hat.get(0, 1).unwrap();
//! assert!((entry - 1.0 / 6f32.sqrt()).abs() < 1e-6);
//! # Ok::<(), gdistill_graph::GraphError>(())
//! ```

mod batch;
mod components;
mod csr;
mod error;
mod grid;
mod inductive;
mod knn;
mod normalize;
pub mod partition;
mod petgraph_convert;
mod random_walks;
mod row_split;
mod sampler;
mod subgraph;

pub use batch::block_diagonal;
pub use csr::{EdgeOptions, Graph, SelfLoops};
pub use error::GraphError;
pub use grid::{grid_graph, Neighborhood};
pub use inductive::{inductive_partition, InductivePartition};
pub use knn::{knn_graph, knn_graph_batched, KnnOptions};
pub use normalize::{gcn_normalized_adjacency, random_walk_normalized_adjacency, symmetric_normalized_adjacency};
pub use random_walks::RandomWalks;
pub use sampler::{sample_node, BatchBuilder, Block, NeighborLoader, NeighborSampler, SampledBatch};
