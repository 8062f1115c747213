//! Node features from the graph alone, for graphs without node features (or to add structure to an MLP).
//!
//! | spec | features |
//! | --- | --- |
//! | `given` | the dataset's own features (an error when it has none) |
//! | `identity` | one-hot node ids: the sparse `N x N` identity |
//! | `degree` | one-hot degree, capped, plus a log-degree column ([`degree_features`]) |
//! | `positional:K` | random-walk positional encoding, `K` columns ([`random_walk_encoding`]) |
//! | `given+positional:K` | the given features with the `K` positional columns appended, the structure-aware MLP student of GLNN+/NOSMOG |
//! | `deepwalk:K[:walk=L,walks=W,window=C,epochs=E]` | a `K`-column DeepWalk embedding ([`crate::deepwalk`]) |
//! | `given+deepwalk:K[:...]` | the given features with the DeepWalk columns appended: NOSMOG's position features |
//!
//! **DeepWalk** is learnt by a skip-gram on libtorch, which this crate does not link: a caller
//! that has it passes the embedding function to [`apply_features_with`]
//! (`gdistill_distill::students::deepwalk::apply_features` does); [`apply_features`] refuses the
//! two DeepWalk specs. The columns are appended raw, not standardised, as NOSMOG appends them.
//!
//! **Degree.** The degree of a node is its number of neighbours other than itself. Column `c` of
//! the one-hot part is 1 for degree `c`, the last one-hot column ([`degree_cap`]) for every degree
//! at or above the cap: the cap is the 95th percentile of the degrees (nearest rank), but at most
//! [`MAX_DEGREE_CAP`] and at least 1, so the hubs of a heavy-tailed graph share one column instead
//! of each getting a column of its own (PyG's `OneHotDegree` takes the cap as its `max_degree`).
//! One more column, `ln(1 + d) / ln(1 + max d)` (0 in a graph without edges), still tells those
//! hubs apart. `degree_cap + 2` columns in all.
//!
//! **Positional (RWPE, Dwivedi et al., ICLR 2022).** Column `t - 1` of node `i` is `[RW^t]_ii`,
//! `t = 1..=K`: the probability that a random walk from `i` is back at `i` after `t` steps, with
//! `RW = D^-1 A` (every stored adjacency entry, a self-loop included, an edge of weight 1; a node
//! without edges gets zeros). It is exact and needs no dense `N x N` matrix: the columns are
//! propagated in blocks of 64 nodes, and for an undirected graph only `ceil(K / 2)` propagations
//! are needed, because `[RW^t]_ii = [S^t]_ii` for the symmetric `S = D^-1/2 A D^-1/2`, and
//! `[S^2m]_ii = |S^m e_i|^2`, `[S^2m+1]_ii = (S^m e_i) . (S^m+1 e_i)`. (A directed graph takes
//! `K` propagations of `RW` itself.) The nodes are renumbered in Cuthill-McKee order first, so a
//! block's walks stay local for longer and neighbouring rows share the cache. The cost is at most
//! `N * ceil(K / 2) * E` additions, `E` the stored entries, spread over the rayon threads (with
//! AVX2 where the CPU has it), and `2 * 64 * N` floats of memory per thread: Amazon Computers
//! (13 752 nodes, 491 722 entries, `K = 16`) takes about 3.8 s of CPU time, under 2 s on two idle
//! cores. It grows with `N * E`, so for graphs of millions of edges expect minutes.
//!
//! ```
//! use gdistill_datasets::structural_features::{apply_features, FeatureSpec};
//! use gdistill_datasets::{generate_csbm, CsbmParams};
//! let d = generate_csbm(&"nodes=50,classes=2,degree=4,features=3".parse::<CsbmParams>().unwrap()).unwrap();
//! let spec: FeatureSpec = "given+positional:8".parse().unwrap();
//! assert_eq!(spec.to_string(), "given+positional:8");
//! let with_pe = apply_features(&d, &spec).unwrap();
//! assert_eq!(with_pe.num_features(), 3 + 8);
//! assert_eq!(apply_features(&d, &FeatureSpec::Identity).unwrap().num_features(), 50);
//! assert!("positional:0".parse::<FeatureSpec>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use gdistill_graph::Graph;
use rayon::prelude::*;
use sprs::CsMat;

use crate::deepwalk::DeepWalkSpec;
use crate::limits::check_memory;
use crate::split_spec::ParseSpecError;
use crate::{DatasetError, NodeDataset};

/// The valid feature spec forms, for error messages and `--help`.
pub const FEATURE_SPEC_FORMS: &str = "given | identity | degree | positional:K (random-walk encoding, K steps) | \
given+positional:K | deepwalk:K[:walk=L,walks=W,window=C,epochs=E] (K-dimensional DeepWalk embedding) | \
given+deepwalk:K[:...]";

/// The largest degree with a one-hot column of its own (see the module documentation).
pub const MAX_DEGREE_CAP: usize = 64;

/// Nodes whose random-walk columns are propagated together: one row of a block is 64 floats.
const BLOCK: usize = 64;

/// Which node features to use (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureSpec {
    /// The dataset's own features.
    Given,
    /// One-hot node ids.
    Identity,
    /// One-hot capped degree plus a log-degree column.
    Degree,
    /// Random-walk positional encoding with `k` columns.
    Positional {
        /// Walk lengths `1..=k`.
        k: usize,
    },
    /// The dataset's own features, then `k` random-walk positional columns.
    GivenPlusPositional {
        /// Walk lengths `1..=k`.
        k: usize,
    },
    /// A DeepWalk embedding alone.
    DeepWalk(DeepWalkSpec),
    /// The dataset's own features, then the DeepWalk embedding (NOSMOG's input).
    GivenPlusDeepWalk(DeepWalkSpec),
}

impl FeatureSpec {
    /// The DeepWalk part of the spec, if it has one.
    pub fn deepwalk(&self) -> Option<DeepWalkSpec> {
        match *self {
            FeatureSpec::DeepWalk(spec) | FeatureSpec::GivenPlusDeepWalk(spec) => Some(spec),
            _ => None,
        }
    }

    /// Whether the spec starts from the dataset's own features.
    pub fn uses_given(&self) -> bool {
        matches!(self, FeatureSpec::Given | FeatureSpec::GivenPlusPositional { .. } | FeatureSpec::GivenPlusDeepWalk(_))
    }
}

impl fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureSpec::Given => write!(f, "given"),
            FeatureSpec::Identity => write!(f, "identity"),
            FeatureSpec::Degree => write!(f, "degree"),
            FeatureSpec::Positional { k } => write!(f, "positional:{k}"),
            FeatureSpec::GivenPlusPositional { k } => write!(f, "given+positional:{k}"),
            FeatureSpec::DeepWalk(spec) => write!(f, "deepwalk:{spec}"),
            FeatureSpec::GivenPlusDeepWalk(spec) => write!(f, "given+deepwalk:{spec}"),
        }
    }
}

impl FromStr for FeatureSpec {
    type Err = ParseSpecError;

    fn from_str(text: &str) -> Result<Self, ParseSpecError> {
        let bad = |message: String| ParseSpecError {
            kind: "features",
            text: text.to_string(),
            message: format!("{message}; valid forms: {FEATURE_SPEC_FORMS}"),
        };
        let trimmed = text.trim();
        let (kind, steps) = match trimmed.split_once(':') {
            Some((kind, steps)) => (kind.trim().to_ascii_lowercase(), Some(steps.trim())),
            None => (trimmed.to_ascii_lowercase(), None),
        };
        let k = || -> Result<usize, ParseSpecError> {
            let steps = steps.ok_or_else(|| bad(format!("'{kind}' needs a walk length K after a colon")))?;
            match steps.parse::<usize>() {
                Ok(0) => Err(bad("K = 0: the walk length must be at least 1".into())),
                Ok(k) => Ok(k),
                Err(_) => Err(bad(format!("'{steps}' is not a whole number of steps"))),
            }
        };
        let plain = |spec: FeatureSpec| match steps {
            None => Ok(spec),
            Some(_) => Err(bad(format!("'{kind}' takes no arguments"))),
        };
        match kind.as_str() {
            "given" => plain(FeatureSpec::Given),
            "identity" => plain(FeatureSpec::Identity),
            "degree" => plain(FeatureSpec::Degree),
            "positional" => Ok(FeatureSpec::Positional { k: k()? }),
            "given+positional" => Ok(FeatureSpec::GivenPlusPositional { k: k()? }),
            "deepwalk" | "given+deepwalk" => {
                let options = steps.ok_or_else(|| bad(format!("'{kind}' needs a width K after a colon")))?;
                let spec = options.parse::<DeepWalkSpec>().map_err(bad)?;
                Ok(if kind == "deepwalk" { FeatureSpec::DeepWalk(spec) } else { FeatureSpec::GivenPlusDeepWalk(spec) })
            }
            _ => Err(bad(format!("unknown features '{kind}'"))),
        }
    }
}

crate::serde_as_string!(FeatureSpec);

/// The embedding function DeepWalk specs need: row-major `N x spec.dim` for a graph of `N` nodes,
/// or a message saying why not.
pub type DeepWalkEmbedder<'a> = dyn Fn(&Graph, &DeepWalkSpec) -> Result<Vec<f32>, String> + 'a;

/// `dataset` with the features `spec` describes; graph, labels and split unchanged.
///
/// Fails, naming the dataset, for a `given` spec on a dataset without features, for `k = 0` or
/// `k >= N`, when the positional encoding's working memory would not fit ([`crate::limits`]),
/// and for the DeepWalk specs, which need [`apply_features_with`].
pub fn apply_features(dataset: &NodeDataset, spec: &FeatureSpec) -> Result<NodeDataset, DatasetError> {
    apply_features_with(dataset, spec, &|_, _| {
        Err("DeepWalk features are learnt on libtorch: use gdistill_distill::students::deepwalk::apply_features".into())
    })
}

/// [`apply_features`], with `deepwalk` computing the DeepWalk specs' embedding of the dataset's
/// graph. Its error, and a result of the wrong size, fail naming the dataset.
pub fn apply_features_with(
    dataset: &NodeDataset,
    spec: &FeatureSpec,
    deepwalk: &DeepWalkEmbedder<'_>,
) -> Result<NodeDataset, DatasetError> {
    let n = dataset.num_nodes();
    let bad = |message: String| DatasetError::invalid(&dataset.name, message);
    let check_k = |k: usize| {
        if k == 0 || k >= n {
            Err(bad(format!(
                "features {spec}: K = {k}, but the walk length must be at least 1 and below the {n} nodes"
            )))
        } else {
            Ok(())
        }
    };
    let has_given = dataset.num_features() > 0;
    if spec.uses_given() && !has_given {
        return Err(bad(format!(
            "{} has no node features: pass --features identity|degree|positional:K|deepwalk:K",
            dataset.name
        )));
    }
    let embed = |walks: &DeepWalkSpec| -> Result<Vec<f32>, DatasetError> {
        walks.validate().map_err(|e| bad(format!("features {spec}: {e}")))?;
        let embedding = deepwalk(&dataset.graph, walks).map_err(|e| bad(format!("features {spec}: {e}")))?;
        if embedding.len() != n * walks.dim {
            return Err(bad(format!(
                "features {spec}: the embedding holds {} values, not {n} x {}",
                embedding.len(),
                walks.dim
            )));
        }
        Ok(embedding)
    };
    let features = match *spec {
        FeatureSpec::Given => return Ok(dataset.clone()),
        FeatureSpec::Identity => CsMat::eye(n),
        FeatureSpec::Degree => degree_features(&dataset.graph),
        FeatureSpec::Positional { k } => {
            check_k(k)?;
            check_encoding_memory(n, k).map_err(bad)?;
            append_dense_columns(&CsMat::zero((n, 0)), &random_walk_encoding(&dataset.graph, k), k)
        }
        FeatureSpec::GivenPlusPositional { k } => {
            check_k(k)?;
            check_encoding_memory(n, k).map_err(bad)?;
            append_dense_columns(&dataset.features, &random_walk_encoding(&dataset.graph, k), k)
        }
        FeatureSpec::DeepWalk(walks) => append_dense_columns(&CsMat::zero((n, 0)), &embed(&walks)?, walks.dim),
        FeatureSpec::GivenPlusDeepWalk(walks) => append_dense_columns(&dataset.features, &embed(&walks)?, walks.dim),
    };
    let mut with_features = dataset.clone();
    with_features.features = features;
    with_features.validate()?;
    Ok(with_features)
}

/// Refuses a positional encoding whose block buffers and result would not fit in memory.
fn check_encoding_memory(n: usize, k: usize) -> Result<(), String> {
    let threads = rayon::current_num_threads() as u128;
    let bytes = 4 * (threads * 2 * BLOCK as u128 * n as u128 + n as u128 * k as u128);
    check_memory(&format!("the random-walk encoding of {n} nodes"), bytes)
}

/// Each node's number of neighbours other than itself.
fn degrees_without_self(graph: &Graph) -> Vec<usize> {
    (0..graph.num_nodes()).map(|i| graph.neighbors(i).iter().filter(|&&j| j != i).count()).collect()
}

/// The degree from which all nodes share the last one-hot column: the 95th percentile of the
/// degrees (nearest rank), clamped to `1..=`[`MAX_DEGREE_CAP`].
pub fn degree_cap(graph: &Graph) -> usize {
    let mut degrees = degrees_without_self(graph);
    if degrees.is_empty() {
        return 1;
    }
    degrees.sort_unstable();
    let rank = (95 * degrees.len()).div_ceil(100).max(1);
    degrees[rank - 1].clamp(1, MAX_DEGREE_CAP)
}

/// One-hot `min(degree, cap)` in columns `0..=cap` ([`degree_cap`]), then
/// `ln(1 + degree) / ln(1 + max degree)` in column `cap + 1` (module documentation).
pub fn degree_features(graph: &Graph) -> CsMat<f32> {
    let degrees = degrees_without_self(graph);
    let cap = degree_cap(graph);
    let log_max = (degrees.iter().copied().max().unwrap_or(0) as f64).ln_1p();
    let mut indptr = vec![0usize];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for &d in &degrees {
        indices.push(d.min(cap));
        data.push(1.0f32);
        if d > 0 {
            indices.push(cap + 1);
            data.push(((d as f64).ln_1p() / log_max) as f32);
        }
        indptr.push(indices.len());
    }
    CsMat::new((degrees.len(), cap + 2), indptr, indices, data)
}

/// `given` with the row-major `N x k` block `dense` appended as columns (exact zeros not stored).
pub fn append_dense_columns(given: &CsMat<f32>, dense: &[f32], k: usize) -> CsMat<f32> {
    let offset = given.cols();
    let mut indptr = vec![0usize];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for (row, pe) in given.outer_iterator().zip(dense.chunks_exact(k)) {
        for (col, &v) in row.iter() {
            indices.push(col);
            data.push(v);
        }
        for (t, &v) in pe.iter().enumerate().filter(|(_, &v)| v != 0.0) {
            indices.push(offset + t);
            data.push(v);
        }
        indptr.push(indices.len());
    }
    CsMat::new((given.rows(), offset + k), indptr, indices, data)
}

/// The random-walk positional encoding of every node: row-major `N x k`, entry `(i, t - 1)` the
/// return probability `[(D^-1 A)^t]_ii` (module documentation). `k = 0` gives an empty buffer.
pub fn random_walk_encoding(graph: &Graph, k: usize) -> Vec<f32> {
    let n = graph.num_nodes();
    let mut encoding = vec![0f32; n * k];
    if n == 0 || k == 0 {
        return encoding;
    }
    let order = cuthill_mckee_order(graph);
    let adjacency = Adjacency::new(graph, &order);
    let symmetric = graph.is_symmetric();
    let wide = wide_vectors_available();
    let mut reordered = vec![0f32; n * k];
    reordered.par_chunks_mut(BLOCK * k).enumerate().for_each_init(
        || Buffers::new(n),
        |buffers, (block, out)| {
            let first = block * BLOCK;
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: `wide` is true only when the CPU reports AVX2 and FMA.
                unsafe { adjacency.block_avx2(first, k, symmetric, buffers, out) };
                return;
            }
            let _ = wide;
            adjacency.block(first, k, symmetric, buffers, out);
        },
    );
    for (position, &node) in order.iter().enumerate() {
        encoding[node * k..(node + 1) * k].copy_from_slice(&reordered[position * k..(position + 1) * k]);
    }
    encoding
}

/// The nodes in Cuthill-McKee order (breadth first from a least-connected node of each
/// component, neighbours by increasing degree). Numbered this way, a node's neighbours lie near
/// it, so a block's walks stay in few rows for longer and the rows they touch share cache lines:
/// on Amazon Computers this takes 40 % off the time of the file's own order.
fn cuthill_mckee_order(graph: &Graph) -> Vec<usize> {
    let n = graph.num_nodes();
    let mut by_degree: Vec<usize> = (0..n).collect();
    by_degree.sort_by_key(|&i| graph.degree(i));
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut neighbors = Vec::new();
    for &start in &by_degree {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        let mut head = order.len();
        order.push(start);
        while head < order.len() {
            let node = order[head];
            head += 1;
            neighbors.clear();
            neighbors.extend(graph.neighbors(node).iter().copied().filter(|&j| !visited[j]));
            neighbors.sort_by_key(|&j| graph.degree(j));
            for &j in &neighbors {
                visited[j] = true;
                order.push(j);
            }
        }
    }
    order
}

/// Whether this CPU runs the AVX2 build of the propagation: the default x86-64 target only
/// assumes SSE2, which processes half as many floats per instruction.
fn wide_vectors_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One thread's working memory: two `N x BLOCK` row-major blocks and which rows of each are
/// non-zero.
struct Buffers {
    current: Vec<f32>,
    next: Vec<f32>,
    active: Vec<bool>,
    next_active: Vec<bool>,
}

impl Buffers {
    fn new(n: usize) -> Self {
        Buffers {
            current: vec![0f32; n * BLOCK],
            next: vec![0f32; n * BLOCK],
            active: vec![false; n],
            next_active: vec![false; n],
        }
    }
}

/// The adjacency as plain CSR arrays plus `1 / degree` (0 for a node without entries). Columns
/// are 32-bit, halving their cache footprint: the blocks take 512 bytes per node and thread, so
/// a graph of 2^32 nodes is out of reach long before (`check_encoding_memory`).
struct Adjacency {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    inverse_degree: Vec<f32>,
}

impl Adjacency {
    /// `graph` with node `order[p]` renumbered `p`.
    fn new(graph: &Graph, order: &[usize]) -> Self {
        let mut position = vec![0u32; order.len()];
        for (p, &node) in order.iter().enumerate() {
            position[node] = p as u32;
        }
        let mut indptr = Vec::with_capacity(order.len() + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(graph.num_entries());
        let mut inverse_degree = Vec::with_capacity(order.len());
        for &node in order {
            let row_start = indices.len();
            indices.extend(graph.neighbors(node).iter().map(|&j| position[j]));
            indices[row_start..].sort_unstable();
            indptr.push(indices.len());
            let degree = graph.degree(node);
            inverse_degree.push(if degree > 0 { 1.0 / degree as f32 } else { 0.0 });
        }
        Adjacency { indptr, indices, inverse_degree }
    }

    fn num_nodes(&self) -> usize {
        self.inverse_degree.len()
    }

    #[inline(always)]
    fn neighbors(&self, node: usize) -> &[u32] {
        &self.indices[self.indptr[node]..self.indptr[node + 1]]
    }

    /// [`Adjacency::block`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn block_avx2(&self, first: usize, k: usize, symmetric: bool, buffers: &mut Buffers, out: &mut [f32]) {
        self.block(first, k, symmetric, buffers, out)
    }

    /// The encoding of the nodes `first..first + BLOCK` (fewer at the end) into `out`, row-major.
    #[inline(always)]
    fn block(&self, first: usize, k: usize, symmetric: bool, buffers: &mut Buffers, out: &mut [f32]) {
        if symmetric {
            self.symmetric_block(first, k, buffers, out)
        } else {
            self.directed_block(first, k, buffers, out)
        }
    }

    /// Puts `scale(node)` at `(node, node - first)` of `buffers.current` for each node of the
    /// block, zeros elsewhere, and marks those rows active; returns the number of nodes.
    #[inline(always)]
    fn start_block(&self, first: usize, buffers: &mut Buffers, scale: impl Fn(usize) -> f32) -> usize {
        let width = BLOCK.min(self.num_nodes() - first);
        buffers.current.fill(0.0);
        buffers.active.fill(false);
        for c in 0..width {
            buffers.current[(first + c) * BLOCK + c] = scale(first + c);
            buffers.active[first + c] = true;
        }
        width
    }

    /// Row `row` of `A * current` into `sum`; whether any neighbour was active. With `all_active`
    /// no row of `current` is known to be zero, and the per-neighbour check is skipped.
    #[inline(always)]
    fn gather_row(
        &self,
        row: usize,
        current: &[f32],
        active: &[bool],
        all_active: bool,
        sum: &mut [f32; BLOCK],
    ) -> bool {
        *sum = [0.0; BLOCK];
        let mut any = false;
        for &j in self.neighbors(row) {
            let j = j as usize;
            if all_active || active[j] {
                any = true;
                let source: &[f32; BLOCK] = current[j * BLOCK..(j + 1) * BLOCK].try_into().unwrap();
                for (s, v) in sum.iter_mut().zip(source) {
                    *s += v;
                }
            }
        }
        any
    }

    /// The undirected case. With `w_m = D^-1/2 S^m e_i` held in `current` and `y = A w_m`:
    /// `[S^2m+1]_ii = w_m . y` and `[S^2m+2]_ii = y . D^-1 y`, and `w_m+1 = D^-1 y`, so no square
    /// root is needed after the start.
    #[inline(always)]
    fn symmetric_block(&self, first: usize, k: usize, buffers: &mut Buffers, out: &mut [f32]) {
        let n = self.num_nodes();
        let width = self.start_block(first, buffers, |i| self.inverse_degree[i].sqrt());
        let mut t = 1;
        while t <= k {
            let (mut odd, mut even) = ([0f64; BLOCK], [0f64; BLOCK]);
            let Buffers { current, next, active, next_active } = &mut *buffers;
            let active_rows = active.iter().filter(|&&a| a).count();
            let reach: usize = (0..n).filter(|&j| active[j]).map(|j| self.neighbors(j).len()).sum();
            // While the walks are still local (the first steps), pushing the few active rows to
            // their neighbours is far cheaper than pulling every row from its neighbours.
            if 4 * reach < self.indices.len() {
                next.fill(0.0);
                next_active.fill(false);
                for j in (0..n).filter(|&j| active[j]) {
                    let source: [f32; BLOCK] = current[j * BLOCK..(j + 1) * BLOCK].try_into().unwrap();
                    for &r in self.neighbors(j) {
                        let r = r as usize;
                        next_active[r] = true;
                        for (s, v) in next[r * BLOCK..(r + 1) * BLOCK].iter_mut().zip(&source) {
                            *s += v;
                        }
                    }
                }
                for r in (0..n).filter(|&r| next_active[r]) {
                    let row: &mut [f32; BLOCK] = (&mut next[r * BLOCK..(r + 1) * BLOCK]).try_into().unwrap();
                    let own = &current[r * BLOCK..(r + 1) * BLOCK];
                    accumulate_and_scale(row, own, self.inverse_degree[r], &mut odd, &mut even);
                }
            } else {
                let all_active = active_rows == n;
                let mut sum = [0f32; BLOCK];
                for (r, row) in next.chunks_exact_mut(BLOCK).enumerate() {
                    next_active[r] = self.gather_row(r, current, active, all_active, &mut sum);
                    if next_active[r] {
                        let own = &current[r * BLOCK..(r + 1) * BLOCK];
                        accumulate_and_scale(&mut sum, own, self.inverse_degree[r], &mut odd, &mut even);
                    }
                    row.copy_from_slice(&sum);
                }
            }
            std::mem::swap(current, next);
            std::mem::swap(active, next_active);
            for c in 0..width {
                out[c * k + t - 1] = odd[c] as f32;
                if t < k {
                    out[c * k + t] = even[c] as f32;
                }
            }
            t += 2;
        }
    }

    /// A directed graph: `current = RW^t e_i` column by column, `[RW^t]_ii` read off row `i`.
    #[inline(always)]
    fn directed_block(&self, first: usize, k: usize, buffers: &mut Buffers, out: &mut [f32]) {
        let width = self.start_block(first, buffers, |_| 1.0);
        let mut sum = [0f32; BLOCK];
        for t in 1..=k {
            let Buffers { current, next, active, next_active } = &mut *buffers;
            let all_active = active.iter().all(|&a| a);
            for (r, row) in next.chunks_exact_mut(BLOCK).enumerate() {
                next_active[r] = self.gather_row(r, current, active, all_active, &mut sum);
                let scale = self.inverse_degree[r];
                for (o, s) in row.iter_mut().zip(&sum) {
                    *o = s * scale;
                }
            }
            std::mem::swap(current, next);
            std::mem::swap(active, next_active);
            for c in 0..width {
                out[c * k + t - 1] = current[(first + c) * BLOCK + c];
            }
        }
    }
}

/// For one row: `odd += own * y`, then `y *= scale`, then `even += y_before * y_after`.
#[inline(always)]
fn accumulate_and_scale(
    y: &mut [f32; BLOCK],
    own: &[f32],
    scale: f32,
    odd: &mut [f64; BLOCK],
    even: &mut [f64; BLOCK],
) {
    for c in 0..BLOCK {
        let before = y[c];
        let after = before * scale;
        odd[c] += f64::from(own[c]) * f64::from(before);
        even[c] += f64::from(before) * f64::from(after);
        y[c] = after;
    }
}
