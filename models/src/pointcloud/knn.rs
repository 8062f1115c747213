//! k nearest neighbours of every point of a batch of clouds, on the device.
//!
//! Squared distances come from `|x_i|^2 + |x_j|^2 - 2 x_i . x_j` (one batched matrix product, as
//! DGCNN computes them), then `topk` of the smallest. The result matches the exact kNN of
//! [`gdistill_graph::knn_graph`] (tested), self handled the same way: with `include_self` each
//! point is always its own first neighbour (its diagonal entry is set to `-inf`), without it a
//! point is never its own neighbour (`+inf`), whatever duplicates the cloud holds. Neighbour
//! sets are computed without autograd: they are indices, not a differentiable function.
//!
//! ```
//! use gdistill_models::pointcloud::knn;
//! use tch::{Device, Tensor};
//! // one cloud of four points on a line: 0, 1, 3, 7
//! let x = Tensor::from_slice(&[0.0f32, 1.0, 3.0, 7.0]).view([1, 4, 1]);
//! let idx = knn(&x, 2, true);
//! assert_eq!(Vec::<i64>::try_from(idx.view([-1])).unwrap(), [0, 1, 1, 0, 2, 1, 3, 2]);
//! ```

use tch::{Kind, Tensor};

/// Indices `[B, N, k]` (int64, nearest first) of the `k` nearest points of each point of each
/// cloud of `x` (`[B, N, C]`, any float kind); `k` is clipped to the candidates available.
pub fn knn(x: &Tensor, k: i64, include_self: bool) -> Tensor {
    tch::no_grad(|| {
        let (batch, n) = (x.size()[0], x.size()[1]);
        let x = x.detach();
        let squares = x.square().sum_dim_intlist(-1, true, x.kind());
        let mut distances = &squares + squares.transpose(1, 2) - x.matmul(&x.transpose(1, 2)) * 2.0;
        let diagonal = Tensor::eye(n, (Kind::Bool, x.device())).unsqueeze(0).expand([batch, n, n], false);
        let self_distance = if include_self { f64::NEG_INFINITY } else { f64::INFINITY };
        distances = distances.masked_fill(&diagonal, self_distance);
        let available = if include_self { n } else { n - 1 };
        distances.topk(k.min(available).max(0), -1, false, true).1
    })
}

/// Neighbour indices `[B, N, k]` of [`knn`] as rows of the flattened batch: entry `(b, i, m)`
/// becomes `b * N + idx[b, i, m]`, ready for `index_select` on a `[B * N, C]` view.
pub fn flat_neighbours(idx: &Tensor) -> Tensor {
    let (batch, n) = (idx.size()[0], idx.size()[1]);
    let offsets = Tensor::arange(batch, (Kind::Int64, idx.device())).view([batch, 1, 1]) * n;
    idx + offsets
}
