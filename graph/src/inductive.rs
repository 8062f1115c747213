//! GLNN's inductive ("production") split of a graph: part of the test nodes are unseen in training.
//!
//! Zhang et al. (ICLR 2022, "Graph-less Neural Networks") hold out a seeded fraction (20% in the
//! paper) of the test nodes: they and every edge touching them are removed from the graph that
//! training and soft-target computation see, which is the subgraph induced by the other nodes.
//! At test time a GNN sees the full graph; an MLP only the held-out node's features.
//!
//! ```
//! use gdistill_graph::{inductive_partition, EdgeOptions, Graph};
//! // a path 0 - 1 - 2 - 3 - 4 - 5; nodes 2..6 are the test nodes
//! let g = Graph::from_edges(6, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)], EdgeOptions::undirected()).unwrap();
//! let p = inductive_partition(&g, &[2, 3, 4, 5], 0.5, 0).unwrap();
//! assert_eq!(p.held_out.len(), 2);
//! assert_eq!(p.observed.len(), 4);
//! assert_eq!(p.observed_graph.num_nodes(), 4);
//! for &v in &p.held_out {
//!     assert!(v >= 2 && p.local_of[v].is_none());
//! }
//! // local node k of the observed graph is global node observed[k]
//! assert_eq!(p.local_of[p.observed[3]], Some(3));
//! assert!(inductive_partition(&g, &[2, 3, 4, 5], 1.0, 0).is_err());
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{Graph, GraphError};

/// The two sides of an inductive split.
#[derive(Clone, Debug, PartialEq)]
pub struct InductivePartition {
    /// Held-out test nodes (global ids, ascending): unseen in training.
    pub held_out: Vec<usize>,
    /// Every other node (global ids, ascending).
    pub observed: Vec<usize>,
    /// The subgraph induced by `observed`: local node `k` is global node `observed[k]`.
    pub observed_graph: Graph,
    /// Global → local id in `observed_graph` (`None` for held-out nodes); `num_nodes` entries.
    pub local_of: Vec<Option<usize>>,
}

/// The ChaCha8 stream of the held-out draw.
pub const HELD_OUT_STREAM: u64 = 0x1d_0c71;

/// Holds out `round(fraction * test.len())` of the `test` nodes, chosen by `seed`.
///
/// The choice depends on the set of test nodes, not their order: they are sorted, shuffled by
/// `ChaCha8Rng::seed_from_u64(seed)` on stream `HELD_OUT_STREAM` and the first ones taken.
///
/// Fails when `fraction` is not in `(0, 1)`, when a test node is outside the graph or listed twice,
/// or when there are too few test nodes for both sides to be non-empty.
pub fn inductive_partition(
    graph: &Graph,
    test: &[usize],
    fraction: f64,
    seed: u64,
) -> Result<InductivePartition, GraphError> {
    // `!(.. && ..)` rather than a range check so that NaN is refused too.
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(GraphError::Invalid(format!(
            "the held-out fraction of test nodes must be in (0, 1), got {fraction}"
        )));
    }
    let n = graph.num_nodes();
    let mut is_test = vec![false; n];
    for &v in test {
        if v >= n {
            return Err(GraphError::NodeNotInGraph { node: v, num_nodes: n });
        }
        if std::mem::replace(&mut is_test[v], true) {
            return Err(GraphError::DuplicateNode { node: v });
        }
    }
    let count = held_out_count(fraction, test.len());
    if count == 0 || count == test.len() {
        return Err(GraphError::Invalid(format!(
            "an inductive split holding out {fraction} of the test nodes needs at least {} test nodes, the graph has {}",
            min_test_nodes(fraction),
            test.len()
        )));
    }
    let mut order = test.to_vec();
    order.sort_unstable();
    // Its own stream, so that the held-out draw cannot echo another shuffle of the same seed.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(HELD_OUT_STREAM);
    order.shuffle(&mut rng);
    let mut held_out = order[..count].to_vec();
    held_out.sort_unstable();

    let mut keep = vec![true; n];
    for &v in &held_out {
        keep[v] = false;
    }
    let observed: Vec<usize> = (0..n).filter(|&v| keep[v]).collect();
    let mut local_of = vec![None; n];
    for (k, &v) in observed.iter().enumerate() {
        local_of[v] = Some(k);
    }
    let (observed_graph, _) = graph.induced_subgraph(&observed)?;
    Ok(InductivePartition { held_out, observed, observed_graph, local_of })
}

fn held_out_count(fraction: f64, tests: usize) -> usize {
    (fraction * tests as f64).round() as usize
}

/// The fewest test nodes for which `0 < round(fraction * m) < m`: `m >= 0.5 / fraction` and
/// `m > 0.5 / (1 - fraction)`, nudged by exact checks against floating-point rounding.
fn min_test_nodes(fraction: f64) -> usize {
    let estimate = (0.5 / fraction).ceil().max((0.5 / (1.0 - fraction)).floor() + 1.0).max(2.0);
    // Saturates for absurd fractions (1e-300); the message stays honest, just not tight.
    let estimate = if estimate.is_finite() && estimate < 1e15 { estimate as usize } else { return usize::MAX };
    let ok = |m: usize| {
        let c = held_out_count(fraction, m);
        c > 0 && c < m
    };
    let mut m = estimate.saturating_sub(2).max(2);
    while !ok(m) {
        m += 1;
    }
    m
}
