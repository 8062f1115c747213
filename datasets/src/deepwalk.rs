//! What a `deepwalk:K` feature spec asks for, and how held-out nodes get their position.
//!
//! DeepWalk (Perozzi et al., KDD 2014) embeds each node by training a skip-gram on uniform random
//! walks; NOSMOG (Tian et al., ICLR 2023) appends the embedding to an MLP student's input so that
//! it sees where a node sits in the graph. The skip-gram needs libtorch, which this crate does
//! not link: the spec lives here, the training in `gdistill_distill::students::deepwalk`.
//!
//! Spec text: `K` alone takes the defaults; `K:key=value,...` sets any of `walk` (nodes per walk),
//! `walks` (walks per node), `window` (context nodes after the centre), `epochs` (passes over
//! the corpus) and `scale` (each column centred and scaled to this standard deviation; without
//! it the columns keep the skip-gram's own scale). Display writes only the keys that differ from
//! the defaults, so text and value round-trip.
//!
//! Why a scale: the MLP reading the columns decays its weights, so the columns' size sets how
//! cheaply it can lean on a node's position instead of its features. On Cora under GLNN's
//! protocol the skip-gram's columns have a standard deviation of about 0.29; scaled to 0.05
//! the distilled MLP gains 0.9 points (docs/deepwalk.md).
//!
//! ```
//! use gdistill_datasets::deepwalk::DeepWalkSpec;
//! let spec: DeepWalkSpec = "64:walk=20,window=3".parse().unwrap();
//! assert_eq!((spec.dim, spec.walk_length, spec.window), (64, 20, 3));
//! assert_eq!(spec.walks_per_node, DeepWalkSpec::new(64).walks_per_node);
//! assert_eq!(spec.to_string(), "64:walk=20,window=3");
//! assert_eq!(DeepWalkSpec::new(16).to_string(), "16");
//! assert!("64:window=0".parse::<DeepWalkSpec>().is_err());
//! let scaled: DeepWalkSpec = "64:scale=0.05".parse().unwrap();
//! assert_eq!(scaled.scale.map(|s| s.get()), Some(0.05));
//! assert_eq!(scaled.to_string(), "64:scale=0.05");
//! assert!("64:scale=0".parse::<DeepWalkSpec>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use gdistill_graph::Graph;

/// DeepWalk's settings: the embedding width and how the walk corpus is drawn and read.
///
/// The defaults are NOSMOG's (its `tran.conf.yaml`): walks of 50 nodes, 3 per node, a window
/// of 5, one epoch. NOSMOG tunes them per dataset: Cora 5 walks per node, Citeseer 3 (and 5
/// epochs), Amazon Computers one walk of 70. Three walks per node, one pass, keeps Amazon
/// Computers (about 9.7 million pairs) within half a minute on this project's two-core machine
/// (docs/deepwalk.md) while every node still starts several walks; Cora's 5 are
/// `deepwalk:64:walks=5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeepWalkSpec {
    /// Embedding columns, `K`.
    pub dim: usize,
    /// Nodes per walk, its start included.
    pub walk_length: usize,
    /// Walks started at every node.
    pub walks_per_node: usize,
    /// Context nodes read after each centre node of a walk.
    pub window: usize,
    /// Passes of the skip-gram over the walk corpus.
    pub epochs: usize,
    /// The standard deviation every column is centred and scaled to; `None` keeps the
    /// skip-gram's output as it is.
    pub scale: Option<ColumnScale>,
}

/// A positive, finite column standard deviation (`scale=S`); never NaN, hence `Eq`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnScale(f32);

impl Eq for ColumnScale {}

impl ColumnScale {
    /// `value` when it is positive and finite, else a message naming it.
    pub fn new(value: f32) -> Result<ColumnScale, String> {
        if value.is_finite() && value > 0.0 {
            Ok(ColumnScale(value))
        } else {
            Err(format!("scale = {value}: a column standard deviation must be positive and finite"))
        }
    }

    /// The standard deviation.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl DeepWalkSpec {
    /// NOSMOG's Cora and Citeseer walk length.
    pub const DEFAULT_WALK_LENGTH: usize = 50;
    /// NOSMOG's Citeseer count (Cora's is 5, Amazon's 1): see the struct's documentation.
    pub const DEFAULT_WALKS_PER_NODE: usize = 3;
    /// NOSMOG's window on every dataset (word2vec's default too).
    pub const DEFAULT_WINDOW: usize = 5;
    /// NOSMOG's Cora and Amazon setting.
    pub const DEFAULT_EPOCHS: usize = 1;

    /// `dim` columns with the default walks and training.
    pub fn new(dim: usize) -> Self {
        DeepWalkSpec {
            dim,
            walk_length: Self::DEFAULT_WALK_LENGTH,
            walks_per_node: Self::DEFAULT_WALKS_PER_NODE,
            window: Self::DEFAULT_WINDOW,
            epochs: Self::DEFAULT_EPOCHS,
            scale: None,
        }
    }

    /// Every setting at least 1 (one message naming the first that is not).
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in self.settings() {
            if value == 0 {
                return Err(format!("{name} = 0: it must be at least 1"));
            }
        }
        Ok(())
    }

    /// The settings under their spec names (`K` for the width).
    fn settings(&self) -> [(&'static str, usize); 5] {
        [
            ("K", self.dim),
            ("walk", self.walk_length),
            ("walks", self.walks_per_node),
            ("window", self.window),
            ("epochs", self.epochs),
        ]
    }
}

impl fmt::Display for DeepWalkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dim)?;
        let defaults = DeepWalkSpec::new(self.dim).settings();
        let changed: Vec<String> = self
            .settings()
            .iter()
            .zip(defaults)
            .skip(1)
            .filter(|(s, d)| s.1 != d.1)
            .map(|(s, _)| format!("{}={}", s.0, s.1))
            .chain(self.scale.map(|scale| format!("scale={}", scale.get())))
            .collect();
        if !changed.is_empty() {
            write!(f, ":{}", changed.join(","))?;
        }
        Ok(())
    }
}

impl FromStr for DeepWalkSpec {
    type Err = String;

    /// `K` or `K:key=value,...` (module documentation); the message names what is wrong.
    fn from_str(text: &str) -> Result<Self, String> {
        let (dim, options) = match text.split_once(':') {
            Some((dim, options)) => (dim.trim(), Some(options)),
            None => (text.trim(), None),
        };
        let number = |name: &str, value: &str| {
            value.trim().parse::<usize>().map_err(|_| format!("{name} '{}' is not a whole number", value.trim()))
        };
        let mut spec = DeepWalkSpec::new(number("K", dim)?);
        for option in options.into_iter().flat_map(|o| o.split(',')) {
            let (key, value) = option.split_once('=').ok_or_else(|| format!("'{}' is not key=value", option.trim()))?;
            let key = key.trim().to_ascii_lowercase();
            let slot = match key.as_str() {
                "walk" => &mut spec.walk_length,
                "walks" => &mut spec.walks_per_node,
                "window" => &mut spec.window,
                "epochs" => &mut spec.epochs,
                "scale" => {
                    let value = value.trim();
                    let parsed = value.parse::<f32>().map_err(|_| format!("scale '{value}' is not a number"))?;
                    spec.scale = Some(ColumnScale::new(parsed)?);
                    continue;
                }
                _ => return Err(format!("unknown deepwalk option '{key}' (walk, walks, window, epochs, scale)")),
            };
            *slot = number(&key, value)?;
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// Centres each of the `k` columns of the row-major `values` and scales it to standard
/// deviation `target` (over the rows, population form). A constant column is left at zero.
///
/// ```
/// use gdistill_datasets::deepwalk::scale_columns;
/// // one column 1, 2, 3: mean 2, standard deviation sqrt(2/3)
/// let mut v = vec![1.0, 2.0, 3.0];
/// scale_columns(&mut v, 1, 0.5);
/// let edge = 0.5 / (2.0f32 / 3.0).sqrt();
/// assert!((v[0] + edge).abs() < 1e-6 && v[1].abs() < 1e-6 && (v[2] - edge).abs() < 1e-6);
/// ```
pub fn scale_columns(values: &mut [f32], k: usize, target: f32) {
    if k == 0 || values.is_empty() {
        return;
    }
    let n = values.len() / k;
    for j in 0..k {
        let mean = values.iter().skip(j).step_by(k).map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let var = values.iter().skip(j).step_by(k).map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n as f64;
        let factor = if var > 0.0 { f64::from(target) / var.sqrt() } else { 0.0 };
        for x in values.iter_mut().skip(j).step_by(k) {
            *x = ((f64::from(*x) - mean) * factor) as f32;
        }
    }
}

/// Every node's embedding in the full graph, row-major `N x k`, from the embedding of the
/// observed nodes only (row `l` for the node whose `local_of` is `Some(l)`).
///
/// A held-out node was never in a walk, so it has no row of its own: it takes the mean of its
/// observed neighbours' rows in `full`, and zeros when it has none (NOSMOG's inductive rule).
/// Neighbours that are themselves held out are skipped, as their rows would be made up too.
pub fn extend_to_held_out(full: &Graph, local_of: &[Option<usize>], observed: &[f32], k: usize) -> Vec<f32> {
    let n = full.num_nodes();
    let mut out = vec![0f32; n * k];
    if k == 0 {
        return out;
    }
    for (v, row) in out.chunks_exact_mut(k).enumerate() {
        if let Some(l) = local_of[v] {
            row.copy_from_slice(&observed[l * k..(l + 1) * k]);
            continue;
        }
        let seen: Vec<usize> = full.neighbors(v).iter().filter_map(|&u| local_of[u]).collect();
        for &l in &seen {
            for (o, x) in row.iter_mut().zip(&observed[l * k..(l + 1) * k]) {
                *o += x;
            }
        }
        if !seen.is_empty() {
            let scale = 1.0 / seen.len() as f32;
            row.iter_mut().for_each(|o| *o *= scale);
        }
    }
    out
}
