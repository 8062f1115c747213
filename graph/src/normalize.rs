//! Normalised adjacency matrices: the GCN propagation matrix and its relatives.
//!
//! All three share one code path: optionally set the diagonal to 1 (`A + I`; a self-loop already
//! present becomes 1, it is not doubled), take the degree `d_i` as the sum of row `i` of that
//! matrix (stored weights; 1 per entry for graphs built from edge lists; the out-degree for directed
//! graphs), then scale every entry:
//!
//! - symmetric: `a_ij / sqrt(d_i d_j)`, i.e. `D^-1/2 A D^-1/2`;
//! - random walk: `a_ij / d_i`, i.e. `D^-1 A`, whose non-empty rows sum to 1.
//!
//! A node whose degree is not positive (an isolated node without a self-loop) gets a scale of 0,
//! so its row (and column) is all-zero: never a NaN or an infinity. The result always has the
//! sparsity pattern of `A` (or `A + I`); an entry scaled by a zero degree is stored as an explicit 0
//! (this only happens in directed graphs, where `j` can have in- but no out-entries, or for
//! weights that sum to 0). Rows are built in parallel
//! with rayon; the scaling is done in `f64` and rounded once to `f32`.
//!
//! ```
//! use gdistill_graph::{gcn_normalized_adjacency, random_walk_normalized_adjacency, EdgeOptions, Graph};
//! // 0 - 1, and node 2 isolated
//! let g = Graph::from_edges(3, &[(0, 1)], EdgeOptions::undirected()).unwrap();
//! let a = gcn_normalized_adjacency(&g);
//! assert_eq!(a.get(0, 1), Some(&0.5)); // 1 / sqrt(2 * 2)
//! assert_eq!(a.get(2, 2), Some(&1.0)); // an isolated node keeps itself
//! let p = random_walk_normalized_adjacency(&g, false);
//! assert_eq!(p.get(0, 1), Some(&1.0));
//! assert_eq!(p.outer_view(2).unwrap().nnz(), 0); // no degree: an empty row, not NaN
//! ```

use rayon::prelude::*;
use sprs::CsMat;

use crate::row_split::{indptr_from_lengths, split_rows};
use crate::Graph;

/// Rows per rayon task: enough to amortise scheduling on graphs with millions of nodes.
const MIN_ROWS_PER_TASK: usize = 1024;

/// How the rows and columns are scaled by the degree.
#[derive(Clone, Copy)]
enum Scaling {
    /// `D^-1/2 A D^-1/2`.
    Symmetric,
    /// `D^-1 A`.
    RandomWalk,
}

/// The GCN propagation matrix `D^-1/2 (A + I) D^-1/2` (Kipf & Welling), `D` the degree of `A + I`.
///
/// Same as [`symmetric_normalized_adjacency`]`(graph, true)`. Isolated nodes get exactly 1 on the
/// diagonal.
pub fn gcn_normalized_adjacency(graph: &Graph) -> CsMat<f32> {
    symmetric_normalized_adjacency(graph, true)
}

/// `D^-1/2 A D^-1/2`, with `A + I` in place of `A` when `add_self_loops` (see the module docs).
pub fn symmetric_normalized_adjacency(graph: &Graph, add_self_loops: bool) -> CsMat<f32> {
    normalized(graph, add_self_loops, Scaling::Symmetric)
}

/// `D^-1 A` (row-stochastic), with `A + I` in place of `A` when `add_self_loops`.
///
/// Every row with a positive degree sums to 1; a row without one stays empty.
pub fn random_walk_normalized_adjacency(graph: &Graph, add_self_loops: bool) -> CsMat<f32> {
    normalized(graph, add_self_loops, Scaling::RandomWalk)
}

fn normalized(graph: &Graph, add_self_loops: bool, scaling: Scaling) -> CsMat<f32> {
    let n = graph.num_nodes();
    let adds_diagonal = |i: usize| add_self_loops && graph.neighbors(i).binary_search(&i).is_err();
    let lengths: Vec<usize> = (0..n)
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(|i| graph.degree(i) + usize::from(adds_diagonal(i)))
        .collect();
    let indptr = indptr_from_lengths(&lengths);
    let mut indices = vec![0usize; indptr[n]];
    let mut data = vec![0f32; indptr[n]];

    // A (+ I), row by row
    split_rows(&mut indices, &indptr)
        .into_par_iter()
        .zip(split_rows(&mut data, &indptr))
        .enumerate()
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each(|(i, (idx, val))| {
            let (nb, w) = (graph.neighbors(i), graph.neighbor_weights(i));
            match nb.binary_search(&i) {
                Ok(p) => {
                    idx.copy_from_slice(nb);
                    val.copy_from_slice(w);
                    if add_self_loops {
                        val[p] = 1.0;
                    }
                }
                Err(_) if !add_self_loops => {
                    idx.copy_from_slice(nb);
                    val.copy_from_slice(w);
                }
                Err(p) => {
                    idx[..p].copy_from_slice(&nb[..p]);
                    idx[p] = i;
                    idx[p + 1..].copy_from_slice(&nb[p..]);
                    val[..p].copy_from_slice(&w[..p]);
                    val[p] = 1.0;
                    val[p + 1..].copy_from_slice(&w[p..]);
                }
            }
        });

    let scale: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(MIN_ROWS_PER_TASK)
        .map(|i| {
            let degree: f64 = data[indptr[i]..indptr[i + 1]].iter().map(|&x| f64::from(x)).sum();
            match scaling {
                _ if degree <= 0.0 => 0.0,
                Scaling::Symmetric => 1.0 / degree.sqrt(),
                Scaling::RandomWalk => 1.0 / degree,
            }
        })
        .collect();

    let cols = &indices;
    split_rows(&mut data, &indptr).into_par_iter().enumerate().with_min_len(MIN_ROWS_PER_TASK).for_each(|(i, val)| {
        let idx = &cols[indptr[i]..indptr[i + 1]];
        for (v, &j) in val.iter_mut().zip(idx) {
            let factor = match scaling {
                Scaling::Symmetric => scale[i] * scale[j],
                Scaling::RandomWalk => scale[i],
            };
            *v = (f64::from(*v) * factor) as f32;
        }
    });
    CsMat::new((n, n), indptr, indices, data)
}
