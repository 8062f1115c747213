//! Uniform random walks, the corpus of DeepWalk (Perozzi, Al-Rfou and Skiena, KDD 2014).
//!
//! Round `r` of `walks_per_node` starts one walk at every node; each step moves to a neighbour
//! drawn uniformly from the node's stored entries (a stored self-loop is an edge like any other).
//! A walk holds `walk_length` nodes, its start included, as DeepWalk's and NOSMOG's walkers
//! count them; it stops early at a node without entries, so an isolated node's walk is the node
//! alone.
//!
//! Walk `r * N + v` (round `r`, start `v`) draws from its own ChaCha8 stream keyed by
//! `(seed, v, r)`, so the walks depend on the seed only: not on the rayon thread count, nor on
//! the order in which threads pick the walks up.
//!
//! ```
//! use gdistill_graph::{EdgeOptions, Graph, RandomWalks};
//! let path = Graph::from_edges(3, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap();
//! let walks = RandomWalks::uniform(&path, 4, 2, 7).unwrap();
//! assert_eq!(walks.len(), 6);
//! assert_eq!(walks.walk(1)[0], 1); // round 0 starts at every node in turn
//! assert!(walks.iter().all(|w| w.len() == 4 && w.windows(2).all(|s| s[0].abs_diff(s[1]) == 1)));
//! assert!(RandomWalks::uniform(&path, 0, 1, 7).is_err());
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{Graph, GraphError};

/// Domain tag of the walk streams (the first key word), apart from the sampler's streams.
const TAG_WALK: u64 = u64::from_le_bytes(*b"gds:walk");

/// Walks drawn per rayon task: enough to amortise the task, few enough to balance two cores.
const WALKS_PER_TASK: usize = 64;

/// A corpus of random walks, stored as fixed-width rows of `walk_length` node ids (`u32`: half the
/// memory of `usize` for a corpus that is touched once per training epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomWalks {
    walk_length: usize,
    nodes: Vec<u32>,
    lengths: Vec<u32>,
}

impl RandomWalks {
    /// `walks_per_node` uniform walks of `walk_length` nodes from every node of `graph`
    /// (module documentation). Fails for a zero length or count, for a graph of `2^32` nodes or
    /// more, and for a corpus whose size overflows.
    pub fn uniform(
        graph: &Graph,
        walk_length: usize,
        walks_per_node: usize,
        seed: u64,
    ) -> Result<RandomWalks, GraphError> {
        let n = graph.num_nodes();
        if walk_length == 0 || walks_per_node == 0 {
            return Err(GraphError::Invalid(format!(
                "random walks need a length and a count of at least 1, got length {walk_length} and {walks_per_node} per node"
            )));
        }
        if n > u32::MAX as usize {
            return Err(GraphError::Invalid(format!("random walks store node ids as u32; {n} nodes are too many")));
        }
        let walks =
            n.checked_mul(walks_per_node).filter(|w| w.checked_mul(walk_length).is_some()).ok_or_else(|| {
                GraphError::Invalid(format!(
                    "{walks_per_node} walks of {walk_length} nodes from each of {n} nodes overflow"
                ))
            })?;
        let mut nodes = vec![0u32; walks * walk_length];
        let mut lengths = vec![0u32; walks];
        nodes
            .par_chunks_mut(WALKS_PER_TASK * walk_length)
            .zip(lengths.par_chunks_mut(WALKS_PER_TASK))
            .enumerate()
            .for_each(|(task, (rows, lens))| {
                for (offset, (row, len)) in rows.chunks_exact_mut(walk_length).zip(lens.iter_mut()).enumerate() {
                    let index = task * WALKS_PER_TASK + offset;
                    let (round, start) = (index / n, index % n);
                    *len = walk_into(graph, start, round as u64, seed, row) as u32;
                }
            });
        Ok(RandomWalks { walk_length, nodes, lengths })
    }

    /// The number of walks (`walks_per_node * N`).
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The longest a walk may be: the length asked for.
    pub fn walk_length(&self) -> usize {
        self.walk_length
    }

    /// Walk `i`: round `i / N`, starting at node `i % N`.
    pub fn walk(&self, i: usize) -> &[u32] {
        let start = i * self.walk_length;
        &self.nodes[start..start + self.lengths[i] as usize]
    }

    /// Every walk, in the order of [`RandomWalks::walk`].
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        (0..self.len()).map(move |i| self.walk(i))
    }
}

/// Writes the walk of round `round` from `start` into `row`; returns its length.
fn walk_into(graph: &Graph, start: usize, round: u64, seed: u64, row: &mut [u32]) -> usize {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([TAG_WALK, seed, start as u64, round]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut node = start;
    row[0] = node as u32;
    for (step, slot) in row.iter_mut().enumerate().skip(1) {
        let neighbors = graph.neighbors(node);
        if neighbors.is_empty() {
            return step;
        }
        node = neighbors[rng.random_range(0..neighbors.len())];
        *slot = node as u32;
    }
    row.len()
}
