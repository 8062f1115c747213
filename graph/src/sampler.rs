//! Neighbour sampling for mini-batch GNN training, as GraphSAGE and PyTorch Geometric's
//! `NeighborLoader` do it.
//!
//! A [`NeighborSampler`] holds one fan-out per layer; `fanouts[0]` is the hop nearest the seeds
//! (PyG's `num_neighbors[0]`). [`NeighborSampler::sample`] starts from a batch of seed nodes and,
//! hop by hop, draws up to `fanout` neighbours of every node gathered so far, uniformly and without
//! replacement, appending the nodes it has not seen yet. The result, a [`SampledBatch`], is a stack
//! of bipartite [`Block`]s in local indices, input layer first: `blocks[0]` reads the feature rows
//! of `n_id`, and the last block's destinations are the seeds. Node lists are nested (destinations
//! are a prefix of sources, as in DGL's blocks and PyG's trimmed layers), so local node `k` of any
//! layer is global node `n_id[k]`.
//!
//! A node `v` aggregates from the entries of its row, [`Graph::neighbors`]`(v)`, as the full-graph
//! product `A X` does (for undirected graphs: its neighbours). A self-loop in the graph is never
//! sampled and the sampler adds none: a node is already its own destination, and models add
//! self-loops as they need them.
//!
//! [`NeighborLoader`] walks a node list in batches for one epoch and samples the next batch on a
//! background thread while the caller works on the current one.
//!
//! ```
//! use std::sync::Arc;
//! use gdistill_graph::{EdgeOptions, Graph, NeighborLoader, NeighborSampler};
//! // a path 0 - 1 - 2 - 3 - 4
//! let g = Graph::from_edges(5, &[(0, 1), (1, 2), (2, 3), (3, 4)], EdgeOptions::undirected()).unwrap();
//! // two layers: 2 neighbours for the seeds, then 1 for every node of the first hop
//! let sampler = NeighborSampler::new(vec![2, 1]).unwrap();
//! let batch = sampler.sample(&g, &[2], 7).unwrap();
//! assert_eq!(batch.blocks.len(), 2);
//! // node 2 has two neighbours, both taken: the seed layer is [2, 1, 3] or [2, 3, 1]
//! let last = &batch.blocks[1];
//! assert_eq!((last.num_dst, last.num_src, last.num_edges()), (1, 3, 2));
//! assert_eq!(batch.dst_nodes(1), &[2]);
//! // the input layer reads these feature rows, seeds first
//! assert_eq!(batch.src_nodes(0), &batch.n_id[..]);
//! assert_eq!(batch.n_id[0], 2);
//!
//! // one epoch over all nodes in shuffled batches of 2 (the last batch holds 1)
//! let loader = NeighborLoader::new(Arc::new(g), sampler, (0..5).collect(), 2, true, 0).unwrap();
//! assert_eq!(loader.len(), 3);
//! let mut seen: Vec<usize> = loader.flat_map(|b| b.seeds).collect();
//! seen.sort();
//! assert_eq!(seen, vec![0, 1, 2, 3, 4]);
//! assert!(NeighborSampler::new(vec![10, 0]).is_err());
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{Graph, GraphError};

/// One bipartite layer of a [`SampledBatch`], in local indices.
///
/// Destination `k` (`k < num_dst`) aggregates from sources `indices[indptr[k]..indptr[k + 1]]`
/// (local ids in `0..num_src`). Destination node `k` is also source node `k`: destinations are a
/// prefix of the sources, so a layer can add a node's own state without a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub num_dst: usize,
    pub num_src: usize,
    /// `num_dst + 1` offsets into `indices`.
    pub indptr: Vec<usize>,
    /// Sampled neighbours (local source ids), destination by destination, ascending global id
    /// within a destination.
    pub indices: Vec<usize>,
}

impl Block {
    /// Sampled edges (source → destination).
    pub fn num_edges(&self) -> usize {
        self.indices.len()
    }

    /// Local source ids that destination `dst` aggregates from.
    pub fn neighbors(&self, dst: usize) -> &[usize] {
        &self.indices[self.indptr[dst]..self.indptr[dst + 1]]
    }

    /// Every edge as `(src, dst)` in local ids, destination by destination (PyG's `edge_index`
    /// columns, row 0 the sources).
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.num_dst).flat_map(move |dst| self.neighbors(dst).iter().map(move |&src| (src, dst)))
    }
}

/// The sampled computation graph of one batch of seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledBatch {
    /// The batch, in global ids, in the order given.
    pub seeds: Vec<usize>,
    /// Global ids of the input layer's source nodes: the feature rows to gather.
    /// `n_id[..seeds.len()] == seeds`.
    pub n_id: Vec<usize>,
    /// Input layer first: `blocks[0]` consumes the rows of `n_id`; the last block's destinations
    /// are the seeds. `blocks[l].num_dst == blocks[l + 1].num_src`.
    pub blocks: Vec<Block>,
    /// Size of each layer's node list, outermost first: `blocks[0].num_src`, then each block's
    /// `num_dst` (so the last entry is `seeds.len()`); `blocks.len() + 1` entries.
    pub layer_nodes: Vec<usize>,
}

impl SampledBatch {
    /// Number of layers (blocks).
    pub fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Global ids of block `l`'s source nodes (a prefix of `n_id`).
    pub fn src_nodes(&self, l: usize) -> &[usize] {
        &self.n_id[..self.blocks[l].num_src]
    }

    /// Global ids of block `l`'s destination nodes (a prefix of `n_id`).
    pub fn dst_nodes(&self, l: usize) -> &[usize] {
        &self.n_id[..self.blocks[l].num_dst]
    }
}

/// Uniform neighbour sampling without replacement, one fan-out per layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborSampler {
    fanouts: Vec<usize>,
}

/// Below this many destination nodes a hop is sampled on the calling thread: handing a handful of
/// nodes to the rayon pool costs more than sampling them. The result is the same either way.
const PARALLEL_MIN_NODES: usize = 256;

/// Above this many picks, Floyd's algorithm tracks them in a hash set instead of a scanned vector.
const SMALL_PICKS: usize = 32;

// Domain tags: the four 64-bit words of a ChaCha key are (tag, a, b, c), so streams drawn for
// different purposes never share a key.
const TAG_NODE: u64 = u64::from_le_bytes(*b"gds:node");
const TAG_BATCH: u64 = u64::from_le_bytes(*b"gds:bat.");
const TAG_SHUFFLE: u64 = u64::from_le_bytes(*b"gds:shuf");

/// A ChaCha8 stream keyed by the four words, little-endian. ChaCha is a keyed PRF, so distinct
/// keys give independent streams with no seed-collision arithmetic to get wrong.
fn keyed_rng(tag: u64, a: u64, b: u64, c: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([tag, a, b, c]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

impl NeighborSampler {
    /// Fan-out meaning "every neighbour" (any fan-out at least the degree takes them all).
    pub const ALL: usize = usize::MAX;

    /// A sampler with one fan-out per layer, `fanouts[0]` for the hop nearest the seeds.
    ///
    /// Fails on an empty list or a fan-out of 0 (use [`NeighborSampler::ALL`] for every neighbour).
    pub fn new(fanouts: Vec<usize>) -> Result<NeighborSampler, GraphError> {
        if fanouts.is_empty() {
            return Err(GraphError::Invalid("a neighbour sampler needs at least one fan-out (one per layer)".into()));
        }
        if let Some(hop) = fanouts.iter().position(|&f| f == 0) {
            return Err(GraphError::Invalid(format!(
                "fan-out must be at least 1, got 0 for hop {hop} of {fanouts:?} (usize::MAX takes every neighbour)"
            )));
        }
        Ok(NeighborSampler { fanouts })
    }

    /// The fan-outs, hop nearest the seeds first.
    pub fn fanouts(&self) -> &[usize] {
        &self.fanouts
    }

    /// Number of layers the sampled batches have.
    pub fn num_layers(&self) -> usize {
        self.fanouts.len()
    }

    /// Samples the computation graph of `seeds`.
    ///
    /// Hop `h` (fan-out `fanouts[h]`) samples for every node gathered so far; new nodes are
    /// appended in first-seen order (destination by destination, ascending global id within one).
    /// Node `v`'s draws at hop `h` come from its own ChaCha8 stream keyed by `(seed, h, v)`, so the
    /// result depends only on the graph, `seeds`, the fan-outs and `seed`, not on the thread count.
    ///
    /// Fails on an empty batch, a seed outside the graph ([`GraphError::NodeNotInGraph`]) or a seed
    /// listed twice ([`GraphError::DuplicateNode`]).
    pub fn sample(&self, graph: &Graph, seeds: &[usize], seed: u64) -> Result<SampledBatch, GraphError> {
        if seeds.is_empty() {
            return Err(GraphError::Invalid("a batch needs at least one seed node".into()));
        }
        check_nodes(graph, seeds)?;
        Ok(self.sample_checked(graph, seeds, seed))
    }

    /// [`NeighborSampler::sample`] for seeds already known to be distinct, in range and non-empty.
    fn sample_checked(&self, graph: &Graph, seeds: &[usize], seed: u64) -> SampledBatch {
        let mut batch = BatchBuilder::new(seeds);
        for (hop, &fanout) in self.fanouts.iter().enumerate() {
            let draw =
                |&v: &usize| sample_neighbors(graph, v, fanout, &mut keyed_rng(TAG_NODE, seed, hop as u64, v as u64));
            let nodes = batch.nodes();
            let sampled: Vec<Vec<usize>> = if nodes.len() >= PARALLEL_MIN_NODES {
                nodes.par_iter().map(draw).collect()
            } else {
                nodes.iter().map(draw).collect()
            };
            batch.push_hop(&sampled);
        }
        batch.finish()
    }
}

/// A batch's computation graph as it grows from its seeds outwards, one hop at a time: the node
/// list in first-seen order and a block per hop. Whoever draws the neighbours (the whole-graph
/// sampler, or the owners of a partitioned graph's nodes) builds the same batch from the same
/// draws.
#[derive(Debug)]
pub struct BatchBuilder {
    seeds: Vec<usize>,
    nodes: Vec<usize>,
    local: HashMap<usize, usize>,
    blocks: Vec<Block>,
}

impl BatchBuilder {
    /// A batch of `seeds` and no hop yet.
    pub fn new(seeds: &[usize]) -> BatchBuilder {
        let local = seeds.iter().enumerate().map(|(k, &v)| (v, k)).collect();
        BatchBuilder { seeds: seeds.to_vec(), nodes: seeds.to_vec(), local, blocks: Vec::new() }
    }

    /// Whether no seed is listed twice.
    pub fn seeds_distinct(&self) -> bool {
        self.local.len() == self.seeds.len()
    }

    /// Every node gathered so far: the next hop's destinations.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// Adds the next hop: `sampled[d]` holds the drawn neighbours (global ids) of destination
    /// `nodes()[d]`, one entry per destination. New nodes are appended in first-seen order.
    pub fn push_hop(&mut self, sampled: &[Vec<usize>]) {
        let num_dst = self.nodes.len();
        assert_eq!(sampled.len(), num_dst, "one list of picks per destination");
        let mut indptr = Vec::with_capacity(num_dst + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(sampled.iter().map(Vec::len).sum());
        for neighbors in sampled {
            for &u in neighbors {
                let next = self.nodes.len();
                let nodes = &mut self.nodes;
                let k = *self.local.entry(u).or_insert_with(|| {
                    nodes.push(u);
                    next
                });
                indices.push(k);
            }
            indptr.push(indices.len());
        }
        self.blocks.push(Block { num_dst, num_src: self.nodes.len(), indptr, indices });
    }

    /// The batch, its blocks from the input layer inwards (sampled from the seeds outwards;
    /// models run the other way).
    pub fn finish(mut self) -> SampledBatch {
        self.blocks.reverse();
        let mut layer_nodes = Vec::with_capacity(self.blocks.len() + 1);
        layer_nodes.push(self.nodes.len());
        layer_nodes.extend(self.blocks.iter().map(|b| b.num_dst));
        SampledBatch { seeds: self.seeds, n_id: self.nodes, blocks: self.blocks, layer_nodes }
    }
}

/// Fails on a node outside the graph or one listed twice.
fn check_nodes(graph: &Graph, nodes: &[usize]) -> Result<(), GraphError> {
    let n = graph.num_nodes();
    // A hash set, not a mask over all nodes: a small batch of a huge graph stays cheap.
    let mut seen = HashSet::with_capacity(nodes.len());
    for &v in nodes {
        if v >= n {
            return Err(GraphError::NodeNotInGraph { node: v, num_nodes: n });
        }
        if !seen.insert(v) {
            return Err(GraphError::DuplicateNode { node: v });
        }
    }
    Ok(())
}

/// Up to `fanout` distinct neighbours of `v` (its self-loop excluded), ascending.
fn sample_neighbors(graph: &Graph, v: usize, fanout: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    sample_row(graph.neighbors(v), v, fanout, rng)
}

/// The neighbours [`NeighborSampler::sample`] draws for node `v` at hop `hop` of a batch sampled
/// with `seed`, from `v`'s row `neighbors` (sorted global ids, as [`Graph::neighbors`] gives
/// them). A process that holds only some rows (a part of a partitioned graph) samples for its own
/// nodes with this and gets exactly the picks a process holding the whole graph would draw, so
/// the owner of a node can sample for a batch another process assembles.
pub fn sample_node(neighbors: &[usize], v: usize, fanout: usize, seed: u64, hop: usize) -> Vec<usize> {
    sample_row(neighbors, v, fanout, &mut keyed_rng(TAG_NODE, seed, hop as u64, v as u64))
}

fn sample_row(neighbors: &[usize], v: usize, fanout: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let self_at = neighbors.binary_search(&v).ok();
    let candidates = neighbors.len() - usize::from(self_at.is_some());
    // Candidate `i` skips over the self-loop's slot.
    let at = |i: usize| match self_at {
        Some(p) if i >= p => neighbors[i + 1],
        _ => neighbors[i],
    };
    if fanout >= candidates {
        return (0..candidates).map(at).collect();
    }
    floyd_sample(candidates, fanout, rng).into_iter().map(at).collect()
}

/// `k < n` distinct indices of `0..n`, every `k`-subset equally likely (Floyd's algorithm: `k`
/// draws and `O(k)` memory however large `n` is), ascending.
fn floyd_sample(n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut picks = Vec::with_capacity(k);
    let mut set = HashSet::new();
    for j in n - k..n {
        let t = rng.random_range(0..=j);
        let taken = if k <= SMALL_PICKS { picks.contains(&t) } else { set.contains(&t) };
        let pick = if taken { j } else { t };
        picks.push(pick);
        if k > SMALL_PICKS {
            set.insert(pick);
        }
    }
    picks.sort_unstable();
    picks
}

/// One epoch of [`SampledBatch`]es over a node list, sampled one batch ahead on a background thread.
///
/// The nodes are (optionally) shuffled by a ChaCha8 stream keyed by `seed`, cut into batches of
/// `batch_size` (the last may be smaller), and batch `b` is exactly
/// `sampler.sample(graph, batch_seeds, NeighborLoader::batch_seed(seed, b))`. For several epochs,
/// build one loader per epoch with a different seed (e.g. `seed + epoch`); the graph is shared
/// through the [`Arc`].
///
/// The sampling thread hands batches over a channel of capacity one, so it runs at most two batches
/// ahead of the caller. Dropping the loader stops it: the thread notices at its next hand-over, and
/// the drop waits for it (at most the batch in progress).
pub struct NeighborLoader {
    receiver: Option<Receiver<SampledBatch>>,
    worker: Option<JoinHandle<()>>,
    num_batches: usize,
    remaining: usize,
}

impl NeighborLoader {
    /// Starts sampling an epoch over `nodes` (global ids) in batches of `batch_size`.
    ///
    /// Fails, before any thread starts, on an empty node list, a batch size outside
    /// `1..=nodes.len()`, a node outside the graph or a node listed twice.
    pub fn new(
        graph: Arc<Graph>,
        sampler: NeighborSampler,
        nodes: Vec<usize>,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
    ) -> Result<NeighborLoader, GraphError> {
        let n = nodes.len();
        if n == 0 {
            return Err(GraphError::Invalid("a neighbour loader needs at least one node to iterate over".into()));
        }
        if batch_size == 0 || batch_size > n {
            return Err(GraphError::Invalid(format!(
                "batch size must be in 1..={n} (the number of nodes to iterate over), got {batch_size}"
            )));
        }
        check_nodes(&graph, &nodes)?;
        let mut order = nodes;
        if shuffle {
            order.shuffle(&mut keyed_rng(TAG_SHUFFLE, seed, 0, 0));
        }
        let num_batches = n.div_ceil(batch_size);
        let (sender, receiver) = sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("gdistill-neighbor-loader".into())
            .spawn(move || {
                for (b, batch) in order.chunks(batch_size).enumerate() {
                    let sampled = sampler.sample_checked(&graph, batch, NeighborLoader::batch_seed(seed, b));
                    if sender.send(sampled).is_err() {
                        return; // the loader was dropped
                    }
                }
            })
            .map_err(|e| GraphError::Invalid(format!("could not start the sampling thread: {e}")))?;
        Ok(NeighborLoader { receiver: Some(receiver), worker: Some(worker), num_batches, remaining: num_batches })
    }

    /// The seed batch `batch` of an epoch seeded with `seed` is sampled with: the first word of a
    /// ChaCha8 stream whose 32-byte key is the little-endian words `("gds:bat.", seed, batch, 0)`.
    pub fn batch_seed(seed: u64, batch: usize) -> u64 {
        keyed_rng(TAG_BATCH, seed, batch as u64, 0).next_u64()
    }

    /// Batches in the whole epoch.
    pub fn num_batches(&self) -> usize {
        self.num_batches
    }
}

impl Iterator for NeighborLoader {
    type Item = SampledBatch;

    fn next(&mut self) -> Option<SampledBatch> {
        if self.remaining == 0 {
            return None;
        }
        let received = self.receiver.as_ref().map(Receiver::recv);
        match received {
            Some(Ok(batch)) => {
                self.remaining -= 1;
                Some(batch)
            }
            _ => {
                // The thread hung up early, so it panicked: pass its panic on to the caller.
                self.remaining = 0;
                self.receiver = None;
                if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for NeighborLoader {}

impl std::iter::FusedIterator for NeighborLoader {}

impl Drop for NeighborLoader {
    fn drop(&mut self) {
        // Hanging up first makes the thread's next send fail, so the join below cannot block for
        // longer than the batch in progress.
        self.receiver = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for NeighborLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeighborLoader")
            .field("num_batches", &self.num_batches)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}
