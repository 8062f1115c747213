//! Which train/val/test split an experiment uses: the dataset's own, a per-class draw, or a random draw.
//!
//! | spec | split |
//! | --- | --- |
//! | `public` | the split the dataset came with (Planetoid's public split; the loaders' seeded per-class split otherwise) |
//! | `per-class:TRAIN,VAL` | `TRAIN` training and `VAL` validation nodes per class, the rest test ([`crate::split`]'s rule for small classes), drawn per seed as GLNN and CPF do |
//! | `random:TRAIN,VAL` | the fractions `TRAIN` and `VAL` of all nodes to training and validation, the rest to test, drawn per seed |
//!
//! Every node of a [`NodeDataset`] has a label, so "all labelled nodes" is all nodes. (Planetoid's
//! Citeseer has test-range nodes without data that carry class 0; a drawn split includes them,
//! the public split does not.)
//!
//! [`apply_split`] draws a split with ChaCha8 seeded by the run's seed, so a seed gives one split
//! and different seeds give different splits; `per-class:20,30` with the loader's seed is exactly
//! the split the loaders make (seed 0 for npz and LINQS, the spec's `seed` for CSBM). A [`SplitSpec`] serialises as its text, so a TOML or JSON
//! config holds `split = "per-class:20,30"`.
//!
//! ```
//! use gdistill_datasets::{apply_split, generate_csbm, CsbmParams, SplitSpec};
//! let spec: SplitSpec = "random:0.6,0.2".parse().unwrap();
//! assert_eq!(spec.to_string(), "random:0.6,0.2");
//! let d = generate_csbm(&"nodes=100,classes=2".parse::<CsbmParams>().unwrap()).unwrap();
//! let s = apply_split(&d, &spec, 3).unwrap();
//! assert_eq!((s.train.len(), s.val.len(), s.test.len()), (60, 20, 20));
//! assert!("per-class:0,30".parse::<SplitSpec>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::split::SplitOptions;
use crate::{DatasetError, NodeDataset};

/// The valid split spec forms, for error messages and `--help`.
pub const SPLIT_SPEC_FORMS: &str = "public | per-class:TRAIN,VAL (nodes per class, e.g. per-class:20,30) | \
random:TRAIN,VAL (fractions of all nodes, e.g. random:0.6,0.2)";

/// A split or feature spec whose text does not parse, or whose numbers make no sense.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{kind} spec '{text}': {message}")]
pub struct ParseSpecError {
    /// What was being parsed: `split` or `features`.
    pub kind: &'static str,
    /// The text as given.
    pub text: String,
    /// What is wrong, with the valid forms.
    pub message: String,
}

/// Which train/val/test split to use (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSpec {
    /// The dataset's own split, unchanged.
    Public,
    /// `train` training and `val` validation nodes per class, the rest test.
    PerClass {
        /// Training nodes per class (at least 1).
        train: usize,
        /// Validation nodes per class (at least 1).
        val: usize,
    },
    /// Fractions of all nodes for training and validation, the rest test.
    Random {
        /// Training fraction, in (0, 1).
        train: f64,
        /// Validation fraction, in (0, 1); `train + val < 1`.
        val: f64,
    },
}

impl SplitSpec {
    /// Why this spec cannot give a split with non-empty train, val and test, if it cannot.
    fn problem(&self) -> Option<String> {
        match *self {
            SplitSpec::Public => None,
            SplitSpec::PerClass { train: 0, .. } => Some("0 training nodes per class: TRAIN must be at least 1".into()),
            // per_class_split hands small classes at most `val` validation nodes too, so 0 means none at all.
            SplitSpec::PerClass { val: 0, .. } => Some(
                "0 validation nodes per class would leave the validation split empty: VAL must be at least 1".into(),
            ),
            SplitSpec::PerClass { train, val } => train
                .checked_add(val)
                .and_then(|sum| sum.checked_add(1))
                .is_none()
                .then(|| format!("{train} + {val} nodes per class is beyond any graph")),
            SplitSpec::Random { train, val } => {
                let in_unit = |x: f64| x > 0.0 && x < 1.0;
                if !in_unit(train) || !in_unit(val) {
                    Some(format!("fractions must lie strictly between 0 and 1, got train {train} and val {val}"))
                } else if train + val >= 1.0 {
                    Some(format!(
                        "train {train} + val {val} = {} leaves no test nodes: the sum must be below 1",
                        train + val
                    ))
                } else {
                    None
                }
            }
        }
    }
}

impl fmt::Display for SplitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitSpec::Public => write!(f, "public"),
            SplitSpec::PerClass { train, val } => write!(f, "per-class:{train},{val}"),
            // f64's Display is the shortest text that parses back to the same number.
            SplitSpec::Random { train, val } => write!(f, "random:{train},{val}"),
        }
    }
}

/// The two comma-separated numbers after `kind:`, each parsed by `parse`.
fn number_pair<T: FromStr>(args: &str, what: &str) -> Result<(T, T), String> {
    let numbers: Vec<&str> = args.split(',').map(str::trim).collect();
    let [train, val] = numbers.as_slice() else {
        return Err(format!("expected two numbers TRAIN,VAL ({what}), got '{args}'"));
    };
    let parse = |text: &str| text.parse::<T>().map_err(|_| format!("'{text}' is not {what}"));
    Ok((parse(train)?, parse(val)?))
}

impl FromStr for SplitSpec {
    type Err = ParseSpecError;

    fn from_str(text: &str) -> Result<Self, ParseSpecError> {
        let bad = |message: String| ParseSpecError {
            kind: "split",
            text: text.to_string(),
            message: format!("{message}; valid forms: {SPLIT_SPEC_FORMS}"),
        };
        let trimmed = text.trim();
        let (kind, args) = trimmed.split_once(':').unwrap_or((trimmed, ""));
        let spec = match (kind.trim().to_ascii_lowercase().as_str(), trimmed.contains(':')) {
            ("public", false) => SplitSpec::Public,
            ("per-class", true) => {
                let (train, val) = number_pair::<usize>(args, "a whole number of nodes").map_err(bad)?;
                SplitSpec::PerClass { train, val }
            }
            ("random", true) => {
                let (train, val) = number_pair::<f64>(args, "a fraction").map_err(bad)?;
                SplitSpec::Random { train, val }
            }
            ("public", true) => return Err(bad("'public' takes no arguments".into())),
            ("per-class" | "random", false) => return Err(bad(format!("'{kind}' needs TRAIN,VAL after a colon"))),
            _ => return Err(bad(format!("unknown split '{kind}'"))),
        };
        match spec.problem() {
            Some(problem) => Err(bad(problem)),
            None => Ok(spec),
        }
    }
}

crate::serde_as_string!(SplitSpec);

/// The ChaCha8 stream of the random split's shuffle (any value other than the generators' 0).
const RANDOM_SPLIT_STREAM: u64 = 0x5711_7000;

/// `dataset` with the split `spec` describes, drawn with `seed` (ignored by [`SplitSpec::Public`],
/// which returns the dataset unchanged).
///
/// Fails, naming the dataset, when the spec is out of range or the drawn split leaves training,
/// validation or test empty (a graph too small for the fractions, or classes too small to spare
/// validation nodes).
pub fn apply_split(dataset: &NodeDataset, spec: &SplitSpec, seed: u64) -> Result<NodeDataset, DatasetError> {
    let mut split = dataset.clone();
    resplit(&mut split, spec, seed)?;
    Ok(split)
}

/// [`apply_split`] in place, for datasets too large to copy (at millions of nodes the features
/// alone are gigabytes). On an error the dataset's split may have changed.
pub fn resplit(dataset: &mut NodeDataset, spec: &SplitSpec, seed: u64) -> Result<(), DatasetError> {
    let bad = |message: String| DatasetError::invalid(&dataset.name, format!("split {spec}: {message}"));
    if let Some(problem) = spec.problem() {
        return Err(bad(problem));
    }
    let n = dataset.num_nodes();
    let (train, val, test) = match *spec {
        SplitSpec::Public => return Ok(()),
        SplitSpec::PerClass { train, val } => {
            let opts = SplitOptions { train_per_class: train, val_per_class: val, seed };
            let s = dataset.per_class_split(&opts);
            (s.train, s.val, s.test)
        }
        SplitSpec::Random { train, val } => {
            // Unlabelled nodes cannot be trained or tested on: the fractions are of the others.
            let mut nodes: Vec<usize> = (0..n).filter(|v| dataset.unlabelled.binary_search(v).is_err()).collect();
            let n = nodes.len();
            // A stream of its own: the CSBM generator permutes its nodes with stream 0 of the
            // same seed, and the same shuffle put classes 0-5 alone in a 60% training split.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(RANDOM_SPLIT_STREAM);
            nodes.shuffle(&mut rng);
            let n_train = ((train * n as f64).round() as usize).min(n);
            let n_val = ((val * n as f64).round() as usize).min(n - n_train);
            let part = |range: std::ops::Range<usize>| {
                let mut ids = nodes[range].to_vec();
                ids.sort_unstable();
                ids
            };
            (part(0..n_train), part(n_train..n_train + n_val), part(n_train + n_val..n))
        }
    };
    for (name, ids) in [("training", &train), ("validation", &val), ("test", &test)] {
        if ids.is_empty() {
            return Err(bad(format!(
                "the {name} split is empty ({} nodes in {} classes; sizes {} / {} / {})",
                n,
                dataset.num_classes,
                train.len(),
                val.len(),
                test.len()
            )));
        }
    }
    (dataset.train, dataset.val, dataset.test) = (train, val, test);
    dataset.validate()
}
