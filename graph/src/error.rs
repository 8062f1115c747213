use thiserror::Error;

/// What can go wrong building or transforming a graph.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GraphError {
    #[error("edge ({}, {}) names a node outside 0..{num_nodes}", edge.0, edge.1)]
    NodeOutOfRange { edge: (usize, usize), num_nodes: usize },
    #[error("adjacency matrix must be square, got {rows} x {cols}")]
    NotSquare { rows: usize, cols: usize },
    #[error("{0}")]
    Invalid(String),
}
