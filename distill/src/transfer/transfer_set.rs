//! Pseudo-data transfer sets (Bucilua, Caruana & Niculescu-Mizil 2006, "model compression"):
//! inputs made from the training inputs, labelled only by the teacher, so that a student sees
//! more of the input space than the training set covers.
//!
//! - `train`: the training inputs themselves (what every comparison did before).
//! - `augmented:N`: N augmented copies (the dataset's own augmentation).
//! - `munge:N,p`: MUNGE. Each pseudo example copies a training example `e`; each of its
//!   attributes, with probability `p`, is drawn instead from a normal centred on the same
//!   attribute of `e`'s nearest neighbour `e'` (Euclidean), with standard deviation
//!   `|e_a - e'_a| / s` (the local scale; `s` = [`MUNGE_LOCAL_SCALE`], the paper's default 1
//!   jitters by the whole gap), then clipped into the attribute's range over the training set.
//!   This is the paper's swap seen from one side: the paper modifies `e` and `e'` together,
//!   each drawing from the other's value; every pseudo example here has the same distribution
//!   as the paper's modified `e`.
//! - `mixup:N`: N convex combinations `l x_i + (1 - l) x_j` of random pairs, `l ~ U(0, 1)`.
//!
//! No pseudo example carries a label: the functions here return inputs only, and the caller
//! labels them with the teacher.
//!
//! ```
//! use gdistill_distill::transfer_set::TransferSet;
//! assert_eq!("munge:50000,0.5".parse::<TransferSet>().unwrap(), TransferSet::Munge { size: 50000, p: 0.5 });
//! assert_eq!("mixup:1000".parse::<TransferSet>().unwrap().to_string(), "mixup:1000");
//! assert!("munge:10,1.5".parse::<TransferSet>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Bucilua et al.'s local-scale parameter `s`: the jitter's standard deviation is the gap to the
/// nearest neighbour divided by `s`.
pub const MUNGE_LOCAL_SCALE: f64 = 1.0;

/// What a distilled student is trained on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum TransferSet {
    #[default]
    Train,
    Augmented {
        size: usize,
    },
    Munge {
        size: usize,
        p: f64,
    },
    Mixup {
        size: usize,
    },
}

const FORMS: &str = "train, augmented:N, munge:N,P (0 <= P <= 1), mixup:N";

impl fmt::Display for TransferSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferSet::Train => write!(f, "train"),
            TransferSet::Augmented { size } => write!(f, "augmented:{size}"),
            TransferSet::Munge { size, p } => write!(f, "munge:{size},{p}"),
            TransferSet::Mixup { size } => write!(f, "mixup:{size}"),
        }
    }
}

impl FromStr for TransferSet {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("transfer set '{text}': {why}; valid forms: {FORMS}");
        let (kind, args) = match text.trim().split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (text.trim().to_ascii_lowercase(), None),
        };
        let size = |s: &str| match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("the size must be a positive integer")),
        };
        match (kind.as_str(), args) {
            ("train", None) => Ok(TransferSet::Train),
            ("augmented", Some(n)) => Ok(TransferSet::Augmented { size: size(n)? }),
            ("mixup", Some(n)) => Ok(TransferSet::Mixup { size: size(n)? }),
            ("munge", Some(args)) => {
                let (n, p) = args.split_once(',').ok_or_else(|| bad("munge takes N,P"))?;
                let p = p.trim().parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
                Ok(TransferSet::Munge { size: size(n)?, p: p.ok_or_else(|| bad("P must be in [0, 1]"))? })
            }
            _ => Err(bad("unknown form")),
        }
    }
}

gdistill_datasets::serde_as_string!(TransferSet);

impl TransferSet {
    pub fn is_train(&self) -> bool {
        *self == TransferSet::Train
    }

    /// Number of pseudo examples (0 for `train`).
    pub fn size(&self) -> usize {
        match *self {
            TransferSet::Train => 0,
            TransferSet::Augmented { size } | TransferSet::Munge { size, .. } | TransferSet::Mixup { size } => size,
        }
    }
}

/// Index of each row's nearest other row (squared Euclidean; ties to the lower index).
/// `x` is `n x d`, row-major. Quadratic in `n`: meant for training sets of thousands.
pub fn nearest_neighbours(x: &[f32], d: usize) -> Vec<usize> {
    let n = x.len() / d;
    let row = |i: usize| &x[i * d..(i + 1) * d];
    (0..n)
        .map(|i| {
            let mut best = (f32::INFINITY, i);
            for j in (0..n).filter(|&j| j != i) {
                let dist: f32 = row(i).iter().zip(row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                if dist < best.0 {
                    best = (dist, j);
                }
            }
            best.1
        })
        .collect()
}

/// `size` MUNGE examples from `x` (`n x d`, row-major): example `k` starts from row `k mod n`
/// (so every training example seeds as many pseudo examples as any other, give or take one).
/// `local_scale` is `s` ([`MUNGE_LOCAL_SCALE`]); infinity swaps values without jitter.
pub fn munge(x: &[f32], d: usize, size: usize, p: f64, local_scale: f64, seed: u64) -> Vec<f32> {
    assert!(d > 0 && x.len() % d == 0 && x.len() >= 2 * d, "munge needs at least two rows of d values");
    munge_with_neighbours(x, d, &nearest_neighbours(x, d), size, p, local_scale, seed)
}

/// [`munge`] with each row's nearest neighbour given (computed elsewhere, e.g. on a device).
pub fn munge_with_neighbours(
    x: &[f32],
    d: usize,
    neighbours: &[usize],
    size: usize,
    p: f64,
    local_scale: f64,
    seed: u64,
) -> Vec<f32> {
    let n = x.len() / d;
    assert!(d > 0 && x.len() == n * d && neighbours.len() == n, "one neighbour per row of d values");
    let (lo, hi) = column_ranges(x, d);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(size * d);
    for k in 0..size {
        let (e, nb) = (k % n, neighbours[k % n]);
        for a in 0..d {
            let (own, other) = (x[e * d + a], x[nb * d + a]);
            let v = if rng.random::<f64>() < p {
                let sd = ((own - other).abs() as f64) / local_scale;
                if sd > 0.0 && sd.is_finite() {
                    Normal::new(other as f64, sd).expect("finite positive sd").sample(&mut rng) as f32
                } else {
                    other
                }
            } else {
                own
            };
            out.push(v.clamp(lo[a], hi[a]));
        }
    }
    out
}

/// `size` mixup examples from `x` (`n x d`): `l x_i + (1 - l) x_j`, `i`, `j` and `l` drawn
/// uniformly. A convex combination stays inside every attribute's range.
pub fn mixup(x: &[f32], d: usize, size: usize, seed: u64) -> Vec<f32> {
    assert!(d > 0 && x.len() % d == 0 && !x.is_empty(), "mixup needs rows of d values");
    let n = x.len() / d;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(size * d);
    for _ in 0..size {
        let (i, j, l) = (rng.random_range(0..n), rng.random_range(0..n), rng.random::<f32>());
        out.extend((0..d).map(|a| l * x[i * d + a] + (1.0 - l) * x[j * d + a]));
    }
    out
}

/// Each column's minimum and maximum.
fn column_ranges(x: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![f32::INFINITY; d];
    let mut hi = vec![f32::NEG_INFINITY; d];
    for row in x.chunks(d) {
        for (a, &v) in row.iter().enumerate() {
            lo[a] = lo[a].min(v);
            hi[a] = hi[a].max(v);
        }
    }
    (lo, hi)
}
