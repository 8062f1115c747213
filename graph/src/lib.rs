//! gdistill-graph: graphs as CSR matrices, with the builders and normalisations gdistill needs.
//!
//! No tch here: this crate is plain Rust (sprs, petgraph, rayon), so the data side of gdistill
//! builds and tests quickly.

mod csr;
mod error;

pub use csr::{EdgeOptions, Graph, SelfLoops};
pub use error::GraphError;
