//! Training loops and what they share: the full-batch loop ([`crate::train`]), neighbour-sampled
//! mini-batches ([`sampled`]), the graph-less student from stored soft targets ([`minibatch`]),
//! layer-wise inference for graphs too big for one forward ([`chunked`]), runs that stop at an
//! epoch budget and go on ([`resumable`]), early stopping, evaluation, and a dataset moved onto a
//! device ([`GraphData`]).

pub mod chunked;
pub(crate) mod early_stopping;
pub(crate) mod epoch_terms;
pub(crate) mod eval;
pub(crate) mod graph_data;
pub mod minibatch;
pub mod resumable;
pub mod sampled;
pub(crate) mod train;

pub use graph_data::GraphData;
