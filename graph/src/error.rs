//! The error type of graph construction and transformation.

use thiserror::Error;

/// What can go wrong building or transforming a graph.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GraphError {
    #[error("edge ({}, {}) names a node outside 0..{num_nodes}", edge.0, edge.1)]
    NodeOutOfRange { edge: (usize, usize), num_nodes: usize },
    #[error("adjacency matrix must be square, got {rows} x {cols}")]
    NotSquare { rows: usize, cols: usize },
    /// A node list names a node the graph does not have.
    #[error("node {node} is outside 0..{num_nodes}")]
    NodeNotInGraph { node: usize, num_nodes: usize },
    /// A node list that must list each node at most once names one twice.
    #[error("node {node} is listed more than once")]
    DuplicateNode { node: usize },
    /// A point coordinate is NaN or infinite.
    #[error("point {point} has a non-finite coordinate {coord} (NaN or infinity)")]
    NonFiniteCoordinate { point: usize, coord: usize },
    /// A flat point buffer whose length is not a multiple of the dimension (or a zero dimension).
    #[error("a buffer of {len} values is not a whole number of {dim}-dimensional points")]
    PointShape { len: usize, dim: usize },
    /// Per-cloud point counts that do not add up to the number of points.
    #[error("cloud sizes add up to {total} points, but there are {points}")]
    CloudSizes { total: usize, points: usize },
    #[error("{0}")]
    Invalid(String),
}
