//! Exact k-nearest-neighbour graphs of point sets (point clouds, feature vectors).
//!
//! Points are a flat row-major `f32` buffer, `dim` values per point. Each point `i` gets directed
//! entries `i -> j` to its `k` nearest points by Euclidean distance. Distances are computed in
//! `f64`; ties are broken by the lower index, so the result is deterministic. A point is never
//! confused with a duplicate of itself: "self" means the same index, not distance 0.
//!
//! - `k = 0` gives a graph with no entries; `k` larger than the number of candidates gives every
//!   candidate (it is clipped, never a panic).
//! - By default a point is not its own neighbour. With [`KnnOptions::include_self`], the point itself
//!   is always one of its `k` neighbours (and the other `k - 1` are the nearest others).
//! - NaN or infinite coordinates are an error ([`GraphError::NonFiniteCoordinate`]).
//!
//! The search is brute force, O(n^2 dim) per cloud, parallel over query points with rayon.
//!
//! ```
//! use gdistill_graph::{knn_graph, knn_graph_batched, KnnOptions};
//! // four points on a line: 0, 1, 2 and a duplicate of 2
//! let pts = [0.0, 1.0, 2.0, 2.0];
//! let g = knn_graph(&pts, 1, 1, KnnOptions::default()).unwrap();
//! assert_eq!(g.neighbors(0), &[1]);
//! assert_eq!(g.neighbors(1), &[0]); // 0, 2 and 3 are all at distance 1: the lowest index wins
//! assert_eq!(g.neighbors(2), &[3]); // the duplicate, at distance 0
//! assert_eq!(g.neighbors(3), &[2]);
//! let g = knn_graph(&pts, 1, 2, KnnOptions::include_self()).unwrap();
//! assert_eq!(g.neighbors(3), &[2, 3]);
//!
//! // two clouds of two points each: no entry crosses a cloud
//! let g = knn_graph_batched(&pts, 1, &[2, 2], 5, KnnOptions::default()).unwrap();
//! assert_eq!(g.neighbors(1), &[0]);
//! assert_eq!(g.neighbors(2), &[3]);
//! ```

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::row_split::{indptr_from_lengths, split_rows};
use crate::{Graph, GraphError};

/// How a kNN graph is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnnOptions {
    /// Whether each point is one of its own `k` neighbours (a self-loop). Default: `false`.
    pub include_self: bool,
}

impl KnnOptions {
    /// Options where every point counts itself as one of its `k` neighbours.
    pub fn include_self() -> Self {
        KnnOptions { include_self: true }
    }
}

/// The directed kNN graph of one point set of `points.len() / dim` points (see the module docs).
pub fn knn_graph(points: &[f32], dim: usize, k: usize, opts: KnnOptions) -> Result<Graph, GraphError> {
    let n = num_points(points, dim)?;
    knn_graph_batched(points, dim, &[n], k, opts)
}

/// The kNN graphs of many point clouds stored one after another, as one block-diagonal graph.
///
/// Cloud `c` is the next `cloud_sizes[c]` points (empty clouds are allowed); neighbours are only
/// searched within a point's own cloud, so no entry joins two clouds. Node ids are the global point
/// indices. Fails when the sizes do not add up to the number of points.
pub fn knn_graph_batched(
    points: &[f32],
    dim: usize,
    cloud_sizes: &[usize],
    k: usize,
    opts: KnnOptions,
) -> Result<Graph, GraphError> {
    let n = num_points(points, dim)?;
    // checked: sizes that overflow when added cannot describe the points (and must not wrap
    // around to a total that matches)
    let total = cloud_sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
    if total != Some(n) {
        return Err(GraphError::CloudSizes { total: total.unwrap_or(usize::MAX), points: n });
    }
    if let Some(pos) = points.par_iter().position_first(|x| !x.is_finite()) {
        return Err(GraphError::NonFiniteCoordinate { point: pos / dim, coord: pos % dim });
    }
    let offsets = indptr_from_lengths(cloud_sizes);
    // the cloud of point i: the last cloud starting at or before i (skips empty clouds)
    let cloud_of = |i: usize| offsets.partition_point(|&o| o <= i) - 1;
    // how many neighbours other than itself a point takes, and whether it takes itself
    let takes_self = opts.include_self && k > 0;
    let others_wanted = if takes_self { k - 1 } else { k };
    let lengths: Vec<usize> = (0..n)
        .into_par_iter()
        .map(|i| {
            let c = cloud_of(i);
            let others = cloud_sizes[c] - 1;
            others_wanted.min(others) + usize::from(takes_self)
        })
        .collect();
    let indptr = indptr_from_lengths(&lengths);
    let mut indices = vec![0usize; indptr[n]];

    split_rows(&mut indices, &indptr).into_par_iter().enumerate().for_each_init(
        Vec::<(f64, usize)>::new,
        |candidates, (i, row)| {
            let c = cloud_of(i);
            let query = &points[i * dim..(i + 1) * dim];
            candidates.clear();
            candidates.extend(
                (offsets[c]..offsets[c + 1])
                    .filter(|&j| j != i)
                    .map(|j| (squared_distance(query, &points[j * dim..(j + 1) * dim]), j)),
            );
            let m = row.len() - usize::from(takes_self);
            if m > 0 && m < candidates.len() {
                candidates.select_nth_unstable_by(m - 1, closer);
            }
            for (slot, &(_, j)) in row.iter_mut().zip(&candidates[..m]) {
                *slot = j;
            }
            if takes_self {
                row[m] = i;
            }
            row.sort_unstable();
        },
    );
    let data = vec![1.0f32; indices.len()];
    Ok(Graph::from_parts(n, indptr, indices, data))
}

/// The number of points in a flat buffer, or an error when `dim` is 0 or does not divide its length.
fn num_points(points: &[f32], dim: usize) -> Result<usize, GraphError> {
    if dim == 0 || !points.len().is_multiple_of(dim) {
        return Err(GraphError::PointShape { len: points.len(), dim });
    }
    Ok(points.len() / dim)
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Nearer first; at equal distance, the lower index first.
fn closer(a: &(f64, usize), b: &(f64, usize)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}
