//! Skip-gram with negative sampling (Mikolov et al., NeurIPS 2013) over a walk corpus, on libtorch.
//!
//! Each node has an input vector `u` (the embedding handed out) and an output vector `v`. For a
//! centre `c` and a context `o` read within `window` nodes after it in a walk, with `M` negatives
//! `n_1..n_M`, the loss is `-log s(u_c . v_o) - sum_m log s(-u_c . v_n_m)`, `s` the logistic
//! function, averaged over a batch of pairs. Pairs are read forwards only (PyG's `Node2Vec`
//! does the same): on an undirected graph a walk is as likely to pass `o` then `c`, so the
//! reverse pair comes from other walks. Negatives follow word2vec: node frequency in the
//! corpus raised to 0.75.
//!
//! Training is word2vec's: plain SGD, the learning rate decaying linearly from 0.025 to
//! nearly zero. A step gathers the batch's rows, lets autograd give the summed loss's gradient
//! with respect to those rows, and adds it back into the rows with `index_add_`: only the rows
//! a batch touches are read or written, as word2vec's own updates, so a step costs the batch
//! and not the `N x K` tables (a dense optimiser would need many more small steps, each over
//! every row). One departure: word2vec applies a node's updates one pair at a time, and a hub
//! that occurs hundreds of times in a batch would take all of them at once from the same stale
//! vectors and overshoot (a 12-node graph diverged), so a row's gradients in a batch are summed
//! up to [`SUMMED_OCCURRENCES`] of them and averaged beyond. On graphs of thousands of nodes
//! rows rarely occur that often in a batch and the step is word2vec's; taking the plain mean
//! instead slowed learning so much that a 400-node two-block graph stayed unseparated. Input
//! vectors start uniform in `+-0.5 / K` and output vectors at zero, as in word2vec.
//!
//! Everything random (the order of the walks each epoch, the negatives) comes from ChaCha8
//! streams keyed by the seed, and the tensors start from `tch::manual_seed(seed)`, so a seed
//! gives the same embedding on the same thread count.

use gdistill_graph::RandomWalks;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::Distribution;
use tch::{Device, Kind, Tensor};

use crate::TrainError;

/// How the skip-gram is trained (the walk corpus aside).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SkipGramConfig {
    /// Embedding width `K`.
    pub dim: usize,
    /// Context nodes read after each centre.
    pub window: usize,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Negatives per positive pair (word2vec's default 5).
    pub negatives: usize,
    /// Positive pairs per step, about (a batch takes whole walks), and at most the node count.
    pub batch_pairs: usize,
    /// The starting learning rate (word2vec's 0.025).
    pub lr: f64,
}

impl SkipGramConfig {
    /// Width `dim`, `window` and `epochs` as given; word2vec's 5 negatives and learning rate
    /// 0.025, batches of 4 096 pairs (fewer on graphs of fewer nodes).
    pub fn new(dim: usize, window: usize, epochs: usize) -> Self {
        SkipGramConfig { dim, window, epochs, negatives: 5, batch_pairs: 4096, lr: 0.025 }
    }
}

/// The mean skip-gram negative-sampling loss of a batch: `center` and `context` `[B, K]`,
/// `negatives` `[B, M, K]` (module documentation).
pub fn sgns_loss(center: &Tensor, context: &Tensor, negatives: &Tensor) -> Tensor {
    let positive = (center * context).sum_dim_intlist(1, false, None::<Kind>).log_sigmoid();
    // A broadcast product, not `bmm`: libtorch's CPU bmm over thousands of 5 x K matrices took
    // a third of the training time.
    let scores = (negatives * center.unsqueeze(1)).sum_dim_intlist(2, false, None::<Kind>);
    let negative = scores.neg().log_sigmoid().sum_dim_intlist(1, false, None::<Kind>);
    -(positive + negative).mean(None::<Kind>)
}

/// How many of a row's gradients in one batch are summed in full; a row that occurs more often
/// takes this many times their mean. At learning rate 0.025 the step stays below 0.4 times a
/// gradient, where summing 500 (a 12-node graph's rows in a batch of 1 024 pairs) diverged.
const SUMMED_OCCURRENCES: f64 = 16.0;

/// Input and output tables, `[N, K]` each.
pub struct SkipGram {
    /// The input vectors: the embedding.
    pub input: Tensor,
    /// The output (context) vectors.
    pub output: Tensor,
}

impl SkipGram {
    /// Tables for `num_nodes` nodes, initialised as word2vec does, from `tch::manual_seed(seed)`.
    pub fn new(num_nodes: usize, dim: usize, seed: u64) -> SkipGram {
        tch::manual_seed(seed as i64);
        let bound = 0.5 / dim as f64;
        let size = [num_nodes as i64, dim as i64];
        let input = Tensor::empty(size, (Kind::Float, Device::Cpu)).uniform_(-bound, bound);
        let output = Tensor::zeros(size, (Kind::Float, Device::Cpu));
        SkipGram { input, output }
    }

    /// One SGD step on pairs `(centers[i], contexts[i])` with `negatives` (`M` per pair,
    /// row-major) at learning rate `lr`; returns the batch's mean loss before the step.
    pub fn step(&mut self, centers: &[i64], contexts: &[i64], negatives: &[i64], lr: f64) -> f64 {
        let (b, m) = (centers.len() as i64, (negatives.len() / centers.len().max(1)) as i64);
        let ids = |ids: &[i64]| Tensor::from_slice(ids);
        let (c, o, n) = (ids(centers), ids(contexts), ids(negatives));
        let leaf = |table: &Tensor, ids: &Tensor| table.index_select(0, ids).set_requires_grad(true);
        let (u, v, w) = (leaf(&self.input, &c), leaf(&self.output, &o), leaf(&self.output, &n));
        let mean = sgns_loss(&u, &v, &w.view([b, m, -1]));
        (&mean * b as f64).backward();
        tch::no_grad(|| {
            // -lr, over the times a row occurs in the batch past SUMMED_OCCURRENCES (module
            // documentation).
            let rows = self.input.size()[0];
            let occurrences = |ids: &[&Tensor]| {
                let mut counts = Tensor::zeros([rows], (Kind::Float, Device::Cpu));
                for ids in ids {
                    let _ = counts.index_add_(0, ids, &Tensor::ones([ids.size()[0]], (Kind::Float, Device::Cpu)));
                }
                counts
            };
            let (in_count, out_count) = (occurrences(&[&c]), occurrences(&[&o, &n]));
            let scale = |counts: &Tensor, ids: &Tensor| {
                let over = counts.index_select(0, ids).clamp_min(SUMMED_OCCURRENCES) / SUMMED_OCCURRENCES;
                over.reciprocal().unsqueeze(1) * -lr
            };
            let _ = self.input.index_put_(&[Some(&c)], &(u.grad() * scale(&in_count, &c)), true);
            let _ = self.output.index_put_(&[Some(&o)], &(v.grad() * scale(&out_count, &o)), true);
            let _ = self.output.index_put_(&[Some(&n)], &(w.grad() * scale(&out_count, &n)), true);
        });
        mean.double_value(&[])
    }

    /// The input table, row-major `N x K`.
    pub fn embedding(&self) -> Result<Vec<f32>, TrainError> {
        let flat = self.input.contiguous().view(-1);
        Vec::<f32>::try_from(&flat).map_err(|e| TrainError::Config(format!("reading the embedding: {e}")))
    }
}

/// Domain tags of the skip-gram's ChaCha streams (shuffling and negatives).
const TAG_SHUFFLE: u64 = u64::from_le_bytes(*b"sg:shufl");
const TAG_NEGATIVE: u64 = u64::from_le_bytes(*b"sg:negat");

fn keyed_rng(tag: u64, seed: u64, epoch: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([tag, seed, epoch, 0]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// Trains a skip-gram on `walks` over `num_nodes` nodes; returns the input table row-major
/// `N x K`. A node no walk visits keeps its small random start. Fails on a non-finite loss.
pub fn train_skipgram(
    walks: &RandomWalks,
    num_nodes: usize,
    config: &SkipGramConfig,
    seed: u64,
) -> Result<Vec<f32>, TrainError> {
    let _one_thread = OneTorchThread::new();
    let mut model = SkipGram::new(num_nodes, config.dim, seed);
    let mut frequency = vec![0f64; num_nodes];
    for walk in walks.iter() {
        for &v in walk {
            frequency[v as usize] += 1.0;
        }
    }
    let total_pairs: usize = walks.iter().map(|w| pairs_in(w.len(), config.window)).sum();
    if total_pairs == 0 {
        // No walk has two nodes (a graph without edges): nothing to learn from.
        return model.embedding();
    }
    let weights: Vec<f64> = frequency.iter().map(|f| f.powf(0.75)).collect();
    let noise = WeightedAliasIndex::new(weights)
        .map_err(|e| TrainError::Config(format!("DeepWalk's negative-sampling table: {e}")))?;
    // At most one pair per node in a batch: each row then occurs about 1 + negatives times
    // per batch, and below SUMMED_OCCURRENCES its updates are word2vec's. On a small graph a
    // fixed batch would make every row occur hundreds of times, cut to their mean.
    let batch = config.batch_pairs.min(num_nodes).max(1);
    let total = (config.epochs * total_pairs) as f64;
    let mut seen = 0usize;
    let (mut centers, mut contexts, mut negatives) = (Vec::new(), Vec::new(), Vec::new());
    for epoch in 0..config.epochs {
        let mut order: Vec<usize> = (0..walks.len()).collect();
        order.shuffle(&mut keyed_rng(TAG_SHUFFLE, seed, epoch as u64));
        let mut rng = keyed_rng(TAG_NEGATIVE, seed, epoch as u64);
        let mut next = 0;
        while next < order.len() {
            centers.clear();
            contexts.clear();
            while next < order.len() && centers.len() < batch {
                push_pairs(walks.walk(order[next]), config.window, &mut centers, &mut contexts);
                next += 1;
            }
            if centers.is_empty() {
                continue;
            }
            negatives.clear();
            negatives.extend((0..centers.len() * config.negatives).map(|_| noise.sample(&mut rng) as i64));
            // word2vec's schedule: linear in the pairs seen, floored at 1e-4 of the start.
            let lr = config.lr * (1.0 - seen as f64 / total).max(1e-4);
            let loss = model.step(&centers, &contexts, &negatives, lr);
            if !loss.is_finite() {
                return Err(TrainError::NonFiniteLoss { epoch: epoch + 1, value: loss, term: "skip-gram", lr });
            }
            seen += centers.len();
        }
    }
    model.embedding()
}

/// Holds libtorch to one intra-op thread while it lives, then restores the count. A step's
/// ops are a few hundred kilobytes each, too small to split: with two threads on a shared
/// two-core machine, libtorch's workers spinning at every op made the skip-gram 8 times slower
/// in CPU time than one thread (docs/deepwalk.md). The count is global to the process, so
/// another thread's libtorch work meanwhile runs on one thread too (slower, never different).
struct OneTorchThread(i32);

impl OneTorchThread {
    fn new() -> Self {
        let threads = tch::get_num_threads();
        tch::set_num_threads(1);
        OneTorchThread(threads)
    }
}

impl Drop for OneTorchThread {
    fn drop(&mut self) {
        tch::set_num_threads(self.0);
    }
}

/// Forward (centre, context) pairs in a walk of `len` nodes with a window of `window`.
fn pairs_in(len: usize, window: usize) -> usize {
    (1..=window.min(len.saturating_sub(1))).map(|o| len - o).sum()
}

/// Appends the walk's forward pairs: each node with each of the `window` nodes after it.
fn push_pairs(walk: &[u32], window: usize, centers: &mut Vec<i64>, contexts: &mut Vec<i64>) {
    for (i, &c) in walk.iter().enumerate() {
        for &o in walk.iter().skip(i + 1).take(window) {
            centers.push(c as i64);
            contexts.push(o as i64);
        }
    }
}
