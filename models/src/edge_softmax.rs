//! Softmax over the edges that share a destination node: the normalisation of graph attention
//! (GAT's `alpha_ij = softmax_{j in N(i)} e_ij`) and of local structure (LSP's `LS_ij`).
//!
//! Memory is O(edges x channels): scores live on the edge list, never in a dense `N x N` matrix.
//!
//! ```
//! use gdistill_models::segment_softmax;
//! use tch::{Device, Kind, Tensor};
//! // node 0 has two incoming edges with equal scores, node 1 one edge
//! let scores = Tensor::from_slice(&[1.0f32, 1.0, 5.0]);
//! let dst = Tensor::from_slice(&[0i64, 0, 1]);
//! let p: Vec<f32> = Vec::try_from(segment_softmax(&scores, &dst, 2)).unwrap();
//! assert_eq!(p, vec![0.5, 0.5, 1.0]);
//! ```

use tch::Tensor;

/// `log softmax` of `scores` (`[E]` or `[E, H]`) within each group of edges sharing a
/// destination in `0..num_nodes`. The group maximum is subtracted first (detached: the softmax
/// does not depend on it), so large scores cannot overflow.
pub fn segment_log_softmax(scores: &Tensor, dst: &Tensor, num_nodes: i64) -> Tensor {
    let options = (scores.kind(), scores.device());
    let mut shape = scores.size();
    shape[0] = num_nodes;
    let max = Tensor::full(shape.as_slice(), f64::NEG_INFINITY, options)
        .index_reduce(0, dst, &scores.detach(), "amax", true)
        .index_select(0, dst);
    let shifted = scores - max;
    let sums = Tensor::zeros(shape.as_slice(), options).index_add(0, dst, &shifted.exp());
    shifted - sums.index_select(0, dst).log()
}

/// `softmax` of `scores` within each destination's group of edges (see
/// [`segment_log_softmax`]).
pub fn segment_softmax(scores: &Tensor, dst: &Tensor, num_nodes: i64) -> Tensor {
    segment_log_softmax(scores, dst, num_nodes).exp()
}
