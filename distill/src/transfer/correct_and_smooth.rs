//! Correct and Smooth (Huang, He, Singh, Lim, Benson, "Combining Label Propagation and Simple
//! Models Out-performs Graph Neural Networks", ICLR 2021) on the teacher's predictions, before
//! a student learns from them.
//!
//! A GNN teacher errs where its neighbourhood misleads it, and the training labels say where.
//! C&S spreads the teacher's errors on the training nodes over the graph and adds them back
//! (correct), then propagates the corrected scores with the training nodes set to their labels
//! (smooth). The student still reads no graph at inference: C&S changes only what it is taught.
//! With `S = D^-1/2 A D^-1/2` (no self-loops), `Z` the teacher's probabilities, `L` the
//! training nodes and `Y` their one-hot labels:
//!
//! ```text
//! correct:  E = Y - Z on L, 0 elsewhere;      Ê ← (1 - a1) E + a1 S Ê         (k steps from Ê = E)
//!           Z' = Z + s · Ê_i / |Ê_i|_1,        s = mean over L of |E_j|_1     (the paper's autoscale)
//! smooth:   G = Z' with Y on L;               Ĝ ← (1 - a2) G + a2 S Ĝ         (k steps from Ĝ = G)
//! ```
//!
//! The student's targets are `Ĝ` clamped at 1e-6 and renormalised per node, handed over as
//! log-probabilities (so at temperature 1 the soft targets are `Ĝ` itself). `a1` and `a2` are
//! chosen per seed on the validation nodes' accuracy of `argmax Ĝ`, from a small grid.
//!
//! Where PyTorch Geometric's `CorrectAndSmooth` differs, the paper's equations are built: PyG
//! clamps the propagated errors to [-1, 1] and the smoothed scores to [0, 1] after every step,
//! and leaves a node's error unscaled when its scale would exceed 1 000; the equations state
//! neither, and neither is done here.
//!
//! ```
//! use gdistill_distill::transfer::correct_and_smooth::{correct_and_smooth, Alphas};
//! use gdistill_models::SparseMatrix;
//! use tch::{Device, Kind, Tensor};
//!
//! // A path 0 - 1 - 2; node 0 is labelled class 1, which the teacher got wrong.
//! let s = 0.5f32.sqrt();
//! let adj = SparseMatrix::from_csr(&[0, 1, 3, 4], &[1, 0, 2, 1], &[s, s, s, s], (3, 3), Device::Cpu)?;
//! let probs = Tensor::from_slice(&[0.9f32, 0.1, 0.8, 0.2, 0.6, 0.4]).view([3, 2]);
//! let (labels, train) = (Tensor::from_slice(&[1i64, 0, 0]), Tensor::from_slice(&[0i64]));
//! let scores = correct_and_smooth(&probs, &labels, &train, &adj, Alphas { correct: 0.8, smooth: 0.8 }, 50);
//! // Node 0 keeps its label; its neighbour is pulled to class 1.
//! assert_eq!(Vec::<i64>::try_from(scores.argmax(1, false))?, [1, 1, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use gdistill_models::SparseMatrix;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The `correct_and_smooth` table of a comparison's config (`--correct-and-smooth`): the
/// students learn from the teacher's predictions after C&S.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrectAndSmooth {
    /// Candidate `a1` for spreading the errors (1: pure propagation).
    pub correct_alphas: Vec<f64>,
    /// Candidate `a2` for smoothing.
    pub smooth_alphas: Vec<f64>,
    /// Propagation steps of each stage (the paper's and PyG's 50).
    pub iterations: usize,
}

impl Default for CorrectAndSmooth {
    /// The ranges of the paper's searches (`a1` up to 1, `a2` around 0.8), and 0 in each: with
    /// `a1 = a2 = 0` every node off the training set keeps the teacher's prediction, so
    /// validation can choose to leave the teacher as it is (on Cora and Citeseer under
    /// `--protocol glnn` it mostly does).
    fn default() -> Self {
        CorrectAndSmooth {
            correct_alphas: vec![0.0, 0.5, 0.8, 1.0],
            smooth_alphas: vec![0.0, 0.2, 0.4, 0.6, 0.8, 0.9],
            iterations: 50,
        }
    }
}

/// One pair of propagation weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alphas {
    pub correct: f64,
    pub smooth: f64,
}

/// The teacher's targets after C&S, and what chose them.
pub struct Smoothed {
    /// Log-probabilities, one row per node: the students' teacher logits.
    pub log_probs: Tensor,
    pub figures: SmoothedSeed,
}

/// One seed's C&S figures, as the report and the run journal keep them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothedSeed {
    pub alphas: Alphas,
    /// Accuracy of `argmax Ĝ` on the validation and test nodes of the graph C&S ran on
    /// (inductively the observed graph: its test nodes are `tran`'s).
    pub val_acc: f64,
    pub test_acc: f64,
    pub seconds: f64,
}

/// The teacher row's C&S figures over the seeds (`correct_and_smooth` in the report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmoothedScores {
    pub test_acc: Vec<f64>,
    pub mean: f64,
    pub std: f64,
    pub val_acc: Vec<f64>,
    pub val_mean: f64,
    /// The weights validation chose, per seed.
    pub alphas: Vec<Alphas>,
    /// Mean seconds per seed, the whole grid.
    pub seconds: f64,
}

impl SmoothedScores {
    /// `None` for no seeds.
    pub fn from_seeds(seeds: &[SmoothedSeed]) -> Option<SmoothedScores> {
        if seeds.is_empty() {
            return None;
        }
        let test_acc: Vec<f64> = seeds.iter().map(|s| s.test_acc).collect();
        let val_acc: Vec<f64> = seeds.iter().map(|s| s.val_acc).collect();
        let (mean, std) = crate::experiment::mean_std(&test_acc);
        Some(SmoothedScores {
            mean,
            std,
            val_mean: crate::experiment::mean_std(&val_acc).0,
            test_acc,
            val_acc,
            alphas: seeds.iter().map(|s| s.alphas).collect(),
            seconds: seeds.iter().map(|s| s.seconds).sum::<f64>() / seeds.len() as f64,
        })
    }
}

impl CorrectAndSmooth {
    pub fn validate(&self) -> Result<(), String> {
        for (name, alphas) in [("correct_alphas", &self.correct_alphas), ("smooth_alphas", &self.smooth_alphas)] {
            if alphas.is_empty() {
                return Err(format!("correct_and_smooth.{name} is empty: give at least one weight in [0, 1]"));
            }
            if let Some(a) = alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
                return Err(format!("correct_and_smooth.{name}: {a} is not a weight in [0, 1]"));
            }
        }
        if self.iterations == 0 {
            return Err("correct_and_smooth.iterations must be at least 1".into());
        }
        Ok(())
    }

    /// C&S of the teacher's `logits` on the graph of `adjacency` (`D^-1/2 A D^-1/2`), with the
    /// pair of weights whose smoothed scores are most accurate on `val` (the first in grid order
    /// on a tie). Reads the labels of `train` and `val` only; `test` is scored, never used.
    pub fn apply(
        &self,
        logits: &Tensor,
        adjacency: &SparseMatrix,
        labels: &Tensor,
        (train, val, test): (&Tensor, &Tensor, &Tensor),
    ) -> Smoothed {
        let started = std::time::Instant::now();
        let probs = tch::no_grad(|| logits.to_kind(Kind::Float).softmax(-1, Kind::Float));
        let accuracy = |scores: &Tensor, nodes: &Tensor| crate::accuracy(scores, labels, nodes);
        let mut best: Option<(f64, Alphas, Tensor)> = None;
        for &correct in &self.correct_alphas {
            for &smooth in &self.smooth_alphas {
                let alphas = Alphas { correct, smooth };
                let scores = correct_and_smooth(&probs, labels, train, adjacency, alphas, self.iterations);
                let val_acc = accuracy(&scores, val);
                if best.as_ref().is_none_or(|(b, ..)| val_acc > *b) {
                    best = Some((val_acc, alphas, scores));
                }
            }
        }
        let (val_acc, alphas, scores) = best.expect("validate() keeps both grids non-empty");
        let test_acc = accuracy(&scores, test);
        let probs = scores.clamp_min(1e-6);
        let log_probs = (&probs / probs.sum_dim_intlist(1, true, Kind::Float)).log();
        let seconds = started.elapsed().as_secs_f64();
        Smoothed { log_probs, figures: SmoothedSeed { alphas, val_acc, test_acc, seconds } }
    }
}

/// `Ĝ` of the module docs: the corrected and smoothed scores of `probs` (one row per node,
/// summing to 1) given the `labels` of the `train` nodes, on the graph of `adjacency`
/// (`D^-1/2 A D^-1/2`, no self-loops), after `iterations` steps of each propagation.
pub fn correct_and_smooth(
    probs: &Tensor,
    labels: &Tensor,
    train: &Tensor,
    adjacency: &SparseMatrix,
    alphas: Alphas,
    iterations: usize,
) -> Tensor {
    tch::no_grad(|| {
        let classes = probs.size()[1];
        let one_hot = labels.index_select(0, train).one_hot(classes).to_kind(Kind::Float);
        let mut error = probs.zeros_like();
        let _ = error.index_copy_(0, train, &(&one_hot - probs.index_select(0, train)));
        let spread = propagate(&error, adjacency, alphas.correct, iterations);
        // The paper's autoscale: every node's correction has the mean training error's size.
        let train_error = error.index_select(0, train).abs().sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float);
        let size = spread.abs().sum_dim_intlist(1, true, Kind::Float);
        let direction = &spread / size.clamp_min(f64::from(f32::MIN_POSITIVE));
        let mut guess = probs + direction * train_error;
        let _ = guess.index_copy_(0, train, &one_hot);
        propagate(&guess, adjacency, alphas.smooth, iterations)
    })
}

/// `iterations` steps of `X ← (1 - alpha) X0 + alpha S X` from `X = X0`.
fn propagate(start: &Tensor, adjacency: &SparseMatrix, alpha: f64, iterations: usize) -> Tensor {
    let restart = start * (1.0 - alpha);
    let mut x = start.shallow_clone();
    for _ in 0..iterations {
        x = adjacency.matmul(&x) * alpha + &restart;
    }
    x
}
