//! Synthetic graphs from a contextual stochastic block model (CSBM).
//!
//! `nodes` nodes are split into `classes` balanced classes (sizes differ by at most one; node ids
//! are a random permutation, so ids do not reveal classes). The graph has exactly
//! `round(nodes * degree / 2)` distinct undirected edges, of which exactly
//! `round(homophily * edges)` join two nodes of the same class: intra-class edges are uniform over
//! same-class pairs, inter-class edges uniform over different-class pairs. Sampling is O(E):
//! edges are drawn in parallel chunks, deduplicated, and the shortfall is redrawn until the counts
//! are exact; every chunk has its own ChaCha8 stream, so the result depends only on the seed.
//! Each class mean is a random Gaussian direction scaled to length `signal / sqrt(2)` (so two
//! class means are about `signal` apart), and a node's features are its class mean plus
//! `N(0, I)` noise, dense (`nodes * features` stored entries). The split is
//! [`crate::split::per_class_split`] with 20 train / 30 val per class and the same seed.
//!
//! A spec whose graph and features would not fit in memory is refused before anything is drawn,
//! with an estimate of what it would need ([`crate::limits`]).
//!
//! Spec syntax (all keys optional, defaults shown):
//! `csbm:nodes=10000,classes=10,degree=10,homophily=0.8,features=128,signal=1.0,seed=0`.
//!
//! ```
//! use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
//! let params: CsbmParams = "nodes=500,classes=5,degree=4,features=8".parse().unwrap();
//! let d = generate_csbm(&params).unwrap();
//! assert_eq!(d.graph.num_undirected_edges(), 1000);
//! ```

use std::str::FromStr;

use gdistill_graph::{EdgeOptions, Graph};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sprs::CsMat;

use crate::split::{per_class_split, SplitOptions};
use crate::{DatasetError, NodeDataset};

/// Parameters of [`generate_csbm`].
#[derive(Clone, Debug, PartialEq)]
pub struct CsbmParams {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of (balanced) classes.
    pub classes: usize,
    /// Average degree: the graph has `round(nodes * avg_degree / 2)` undirected edges.
    pub avg_degree: f64,
    /// Fraction of edges that join two nodes of the same class, in `[0, 1]`.
    pub homophily: f64,
    /// Feature dimension.
    pub features: usize,
    /// Distance between class means, in units of the (unit) noise standard deviation.
    pub signal: f64,
    /// Seed of every random choice (labels, edges, features, split).
    pub seed: u64,
}

impl Default for CsbmParams {
    fn default() -> Self {
        CsbmParams { nodes: 10_000, classes: 10, avg_degree: 10.0, homophily: 0.8, features: 128, signal: 1.0, seed: 0 }
    }
}

impl FromStr for CsbmParams {
    type Err = String;

    /// Parses `key=value` pairs separated by commas (keys: nodes, classes, degree, homophily,
    /// features, signal, seed); omitted keys keep their defaults.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut p = CsbmParams::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("'{pair}' is not key=value"))?;
            let value = value.trim();
            let bad = || format!("bad value '{value}' for {key}");
            match key.trim() {
                "nodes" => p.nodes = value.parse().map_err(|_| bad())?,
                "classes" => p.classes = value.parse().map_err(|_| bad())?,
                "degree" => p.avg_degree = value.parse().map_err(|_| bad())?,
                "homophily" => p.homophily = value.parse().map_err(|_| bad())?,
                "features" => p.features = value.parse().map_err(|_| bad())?,
                "signal" => p.signal = value.parse().map_err(|_| bad())?,
                "seed" => p.seed = value.parse().map_err(|_| bad())?,
                other => {
                    return Err(format!(
                        "unknown key '{other}' (keys: nodes, classes, degree, homophily, features, signal, seed)"
                    ))
                }
            }
        }
        Ok(p)
    }
}

impl std::fmt::Display for CsbmParams {
    /// The spec form without the `csbm:` prefix, every key written out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self;
        write!(
            f,
            "nodes={},classes={},degree={},homophily={},features={},signal={},seed={}",
            p.nodes, p.classes, p.avg_degree, p.homophily, p.features, p.signal, p.seed
        )
    }
}

/// Edges drawn per parallel chunk.
const CHUNK: usize = 1 << 16;

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Class blocks in "position" space: class `c` holds positions `starts[c]..starts[c + 1]`.
struct Blocks {
    starts: Vec<usize>,
}

impl Blocks {
    fn size(&self, c: usize) -> usize {
        self.starts[c + 1] - self.starts[c]
    }

    fn class_of(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos) - 1
    }

    fn pairs_within(&self) -> u128 {
        (0..self.starts.len() - 1).map(|c| self.size(c) as u128 * (self.size(c) as u128).saturating_sub(1) / 2).sum()
    }
}

/// Draws exactly `target` distinct unordered pairs with `draw`, in parallel chunks.
fn sample_distinct<F>(target: usize, seed: u64, kind: u64, draw: F) -> Vec<(usize, usize)>
where
    F: Fn(&mut ChaCha8Rng) -> (usize, usize) + Sync,
{
    let mut edges: Vec<(usize, usize)> = Vec::with_capacity(target);
    let mut round = 0u64;
    while edges.len() < target {
        let deficit = target - edges.len();
        let chunks = deficit.div_ceil(CHUNK);
        let fresh: Vec<(usize, usize)> = (0..chunks)
            .into_par_iter()
            .flat_map_iter(|k| {
                let mut r = rng(seed, (kind << 60) | (round << 32) | k as u64);
                let count = CHUNK.min(deficit - k * CHUNK);
                let draw = &draw;
                (0..count).map(move |_| {
                    let (a, b) = draw(&mut r);
                    (a.min(b), a.max(b))
                })
            })
            .collect();
        // Keep the earlier edges and the first occurrence of each new pair, in draw order.
        let mut tagged: Vec<((usize, usize), usize)> =
            edges.iter().copied().chain(fresh).enumerate().map(|(i, e)| (e, i)).collect();
        tagged.par_sort_unstable();
        tagged.dedup_by_key(|(e, _)| *e);
        tagged.par_sort_unstable_by_key(|&(_, i)| i);
        edges = tagged.into_iter().map(|(e, _)| e).take(target).collect();
        round += 1;
    }
    edges
}

/// Samples one unit-variance Gaussian (Box-Muller).
fn gaussian(r: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - r.random::<f64>(); // (0, 1]
    let u2: f64 = r.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn check(params: &CsbmParams) -> Result<(), String> {
    let p = params;
    if p.nodes < 2 || p.classes == 0 || p.classes > p.nodes {
        return Err(format!("need nodes >= 2 and 1 <= classes <= nodes (nodes={}, classes={})", p.nodes, p.classes));
    }
    if !(p.avg_degree.is_finite() && p.avg_degree >= 0.0) {
        return Err(format!("degree must be a finite number >= 0, got {}", p.avg_degree));
    }
    if !(0.0..=1.0).contains(&p.homophily) {
        return Err(format!("homophily must be in [0, 1], got {}", p.homophily));
    }
    if p.classes == 1 && p.homophily < 1.0 {
        return Err("homophily < 1 needs at least 2 classes".into());
    }
    if p.features == 0 || !(p.signal.is_finite() && p.signal >= 0.0) {
        return Err(format!(
            "need features >= 1 and a finite signal >= 0 (features={}, signal={})",
            p.features, p.signal
        ));
    }
    if p.nodes.checked_mul(p.features).is_none_or(|entries| entries > isize::MAX as usize / 8) {
        return Err(format!("{} nodes x {} features do not fit in memory", p.nodes, p.features));
    }
    // Compare in floating point first: `nodes * degree / 2` may not fit an integer.
    let (n, m) = (p.nodes as f64, p.nodes as f64 * p.avg_degree / 2.0);
    if m > n * (n - 1.0) / 4.0 {
        return Err(format!(
            "too dense: degree {:e} asks for {m:.3e} edges among {n} nodes; at most half of the {:.3e} node pairs can be drawn",
            p.avg_degree,
            n * (n - 1.0) / 2.0
        ));
    }
    // What generation holds at its peak: dense features (value + column index per entry), a few
    // per-node vectors, and each edge several times over while sampling, deduplicating and
    // building the CSR graph.
    let bytes = n * p.features as f64 * 12.0 + n * 64.0 + m.round() * 160.0;
    crate::limits::check_memory(
        &format!("{} nodes, {} features, {:.0} edges", p.nodes, p.features, m.round()),
        bytes as u128,
    )
}

/// Generates a CSBM graph as described in the module documentation.
pub fn generate_csbm(params: &CsbmParams) -> Result<NodeDataset, DatasetError> {
    let spec = || format!("csbm:{params}");
    check(params).map_err(|m| DatasetError::spec(spec(), m))?;
    let CsbmParams { nodes: n, classes: k, seed, .. } = *params;
    let blocks = Blocks { starts: (0..=k).map(|c| c * n / k).collect() };
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut rng(seed, 0));

    let m = (n as f64 * params.avg_degree / 2.0).round() as usize;
    let m_in = (params.homophily * m as f64).round() as usize;
    let m_out = m - m_in;
    let p_in = blocks.pairs_within();
    let p_out = (n as u128 * (n as u128 - 1) / 2) - p_in;
    if 2 * m_in as u128 > p_in || 2 * m_out as u128 > p_out {
        return Err(DatasetError::spec(
            spec(),
            format!("too dense: {m_in} intra-class edges of {p_in} possible pairs, {m_out} inter-class of {p_out}; at most half of each can be drawn"),
        ));
    }
    // Intra-class: a class with probability proportional to its pairs, then two distinct members.
    let cumulative: Vec<u128> = (0..k)
        .scan(0u128, |acc, c| {
            *acc += blocks.size(c) as u128 * (blocks.size(c) as u128).saturating_sub(1) / 2;
            Some(*acc)
        })
        .collect();
    let intra = sample_distinct(m_in, seed, 1, |r| {
        let t = r.random_range(0..p_in);
        let c = cumulative.partition_point(|&s| s <= t);
        let (start, size) = (blocks.starts[c], blocks.size(c));
        let a = r.random_range(0..size);
        let b = (a + 1 + r.random_range(0..size - 1)) % size;
        (start + a, start + b)
    });
    // Inter-class: a uniform node, then a uniform node outside its class.
    let inter = sample_distinct(m_out, seed, 2, |r| {
        let a = r.random_range(0..n);
        let c = blocks.class_of(a);
        let mut b = r.random_range(0..n - blocks.size(c));
        if b >= blocks.starts[c] {
            b += blocks.size(c);
        }
        (a, b)
    });
    let edges: Vec<(usize, usize)> = intra.into_iter().chain(inter).map(|(a, b)| (perm[a], perm[b])).collect();
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected())
        .map_err(|e| DatasetError::spec(spec(), e.to_string()))?;

    let mut labels = vec![0usize; n];
    for c in 0..k {
        for pos in blocks.starts[c]..blocks.starts[c + 1] {
            labels[perm[pos]] = c;
        }
    }
    let f = params.features;
    let mut mean_rng = rng(seed, 3 << 60);
    let means: Vec<Vec<f32>> = (0..k)
        .map(|_| {
            let v: Vec<f64> = (0..f).map(|_| gaussian(&mut mean_rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
            let scale = params.signal / std::f64::consts::SQRT_2 / norm;
            v.iter().map(|x| (x * scale) as f32).collect()
        })
        .collect();
    let rows_per_chunk = (CHUNK / f).max(1);
    let mut data = vec![0f32; n * f];
    data.par_chunks_mut(rows_per_chunk * f).enumerate().for_each(|(chunk, block)| {
        let mut r = rng(seed, (4 << 60) | chunk as u64);
        for (row_in_chunk, row) in block.chunks_mut(f).enumerate() {
            let mean = &means[labels[chunk * rows_per_chunk + row_in_chunk]];
            for (x, mu) in row.iter_mut().zip(mean) {
                *x = mu + gaussian(&mut r) as f32;
            }
        }
    });
    let indptr: Vec<usize> = (0..=n).map(|i| i * f).collect();
    let indices: Vec<usize> = (0..n * f).map(|e| e % f).collect();
    let features = CsMat::try_new((n, f), indptr, indices, data)
        .map_err(|(_, _, _, e)| DatasetError::spec(spec(), e.to_string()))?;

    let split = per_class_split(&labels, k, &SplitOptions { seed, ..SplitOptions::default() });
    let dataset = NodeDataset {
        name: "csbm".into(),
        graph,
        features,
        labels,
        num_classes: k,
        class_names: (0..k).map(|c| format!("class_{c}")).collect(),
        train: split.train,
        val: split.val,
        test: split.test,
        unlabelled: Vec::new(),
    };
    dataset.validate()?;
    Ok(dataset)
}
