//! Ensemble teachers (Hinton, Vinyals & Dean 2015): K teachers trained from different seeds,
//! whose knowledge a student receives as one set of soft targets.
//!
//! Two ways to combine members, which differ:
//! - [`EnsembleCombine::SoftTargets`] (the default): average the members' *tempered* softmaxes,
//!   `q = 1/K sum_k softmax(z_k / T)`. This is what Hinton et al. distil from, and it is a
//!   mixture: a class one member is sure of and another rules out keeps half its mass, so the
//!   members' disagreement reaches the student as uncertainty.
//! - [`EnsembleCombine::Logits`]: average the logits, `q = softmax(mean_k z_k / T)`: a product of
//!   the members' distributions (a geometric mean), sharper than the mixture wherever the
//!   members agree, and the natural target of a logit-matching (MSE) loss.
//!
//! The training loop reads a teacher as logits and applies `log_softmax(logits / T)`; the
//! averaged soft targets are handed to it as the logits `T * log q`, which that map sends back to
//! `log q` exactly (`q` sums to one).
//!
//! ```
//! use gdistill_distill::ensemble::{combine_logits, EnsembleCombine};
//! use tch::Tensor;
//! let a = Tensor::from_slice(&[2.0f32, 0.0]).view([1, 2]);
//! let b = Tensor::from_slice(&[0.0f32, 2.0]).view([1, 2]);
//! let t = 2.0;
//! let z = combine_logits(&[a, b], EnsembleCombine::SoftTargets, t);
//! // Two members that disagree symmetrically: the averaged soft targets are uniform.
//! let q = (&z / t).softmax(-1, tch::Kind::Float);
//! assert!((q.double_value(&[0, 0]) - 0.5).abs() < 1e-6);
//! ```

use std::fmt;
use std::str::FromStr;

use gdistill_models::{Arch, ModelConfig, ModelOutput, NodeFeatures, NodeModel, SparseMatrix};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::{TrainError, Trained};

/// How the members' outputs become one teacher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnsembleCombine {
    /// Mean of the tempered softmaxes (Hinton et al. 2015).
    #[default]
    SoftTargets,
    /// Mean of the logits, then the tempered softmax.
    Logits,
}

impl fmt::Display for EnsembleCombine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnsembleCombine::SoftTargets => "soft-targets",
            EnsembleCombine::Logits => "logits",
        })
    }
}

impl FromStr for EnsembleCombine {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "soft-targets" | "probs" => Ok(EnsembleCombine::SoftTargets),
            "logits" => Ok(EnsembleCombine::Logits),
            other => Err(format!("ensemble combine '{other}': valid values are soft-targets, logits")),
        }
    }
}

/// An ensemble teacher in a comparison (the `[ensemble]` table of an experiment file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleConfig {
    /// Number of teachers; member 0 trains with the row's seed (it is the single teacher of a
    /// run without an ensemble), member k with [`member_seed`]. May be left out (0) when
    /// `families` gives the members.
    #[serde(default)]
    pub members: usize,
    #[serde(default)]
    pub combine: EnsembleCombine,
    /// Graphs only: the family of each member, member 0 first (`["gcn", "sage", "gat"]`);
    /// empty: every member of the teacher's family. Left out of reports when empty, so that
    /// reports of same-family ensembles keep their keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<Arch>,
}

impl EnsembleConfig {
    /// `members` members of the teacher's family.
    pub fn of_size(members: usize, combine: EnsembleCombine) -> EnsembleConfig {
        EnsembleConfig { members, combine, families: Vec::new() }
    }

    /// How many members train: the families listed, else `members`.
    pub fn size(&self) -> usize {
        if self.families.is_empty() {
            self.members
        } else {
            self.families.len()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.families.is_empty() && self.members != 0 && self.members != self.families.len() {
            return Err(format!(
                "ensemble.members is {} but ensemble.families lists {} ({}); give one of them",
                self.members,
                self.families.len(),
                family_list(&self.families)
            ));
        }
        if !(1..=64).contains(&self.size()) {
            return Err(format!("ensemble.members must be in 1..=64, got {}", self.size()));
        }
        Ok(())
    }
}

/// `gcn,sage,gat`: families as `--teacher-ensemble` takes them.
pub fn family_list(families: &[Arch]) -> String {
    families.iter().map(Arch::to_string).collect::<Vec<_>>().join(",")
}

/// What `--teacher-ensemble` gives: a number of members of the teacher's family, or one member
/// per family listed (graphs only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnsembleMembers {
    Count(usize),
    Families(Vec<Arch>),
}

impl FromStr for EnsembleMembers {
    type Err = String;
    /// `3`, or `gcn,sage,gat`; a list names every member, so an empty entry is an error, not
    /// a member to skip.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(count) = text.parse::<usize>() {
            return Ok(EnsembleMembers::Count(count));
        }
        if text.is_empty() {
            return Err("an ensemble needs a number of members (3) or a list of families (gcn,sage,gat)".into());
        }
        let mut families = Vec::new();
        for (k, name) in text.split(',').enumerate() {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("'{text}': member {} has no family; list them as gcn,sage,gat", k + 1));
            }
            match name.parse::<Arch>() {
                Ok(Arch::Mlp) => {
                    return Err(format!("'{text}': mlp reads no graph; ensemble families are gcn, sage, gat, appnp"))
                }
                Ok(family) => families.push(family),
                Err(_) => {
                    return Err(format!(
                        "'{text}': unknown family '{name}'; give a number of members or families among gcn, sage, gat, appnp"
                    ))
                }
            }
        }
        Ok(EnsembleMembers::Families(families))
    }
}

impl EnsembleMembers {
    /// Sets `config`'s members from these (a count clears a family list the file gave).
    pub fn apply(&self, config: &mut EnsembleConfig) {
        match self {
            EnsembleMembers::Count(k) => {
                config.members = *k;
                config.families.clear();
            }
            EnsembleMembers::Families(families) => {
                config.members = families.len();
                config.families = families.clone();
            }
        }
    }
}

/// The checks the image and point-cloud comparisons share for an ensemble teacher, a transfer
/// set of pseudo `inputs` and the int8 rows (`int8`: each int8 row with the row it quantizes).
pub fn validate_teacher_options(
    ensemble: Option<&EnsembleConfig>,
    transfer_set: crate::transfer::transfer_set::TransferSet,
    int8: Option<&[(&str, &str)]>,
    rows: &[String],
    inputs: &str,
) -> Result<(), String> {
    if let Some(int8) = int8.filter(|int8| !int8.iter().any(|(_, of)| rows.iter().any(|r| r == of))) {
        let of: Vec<&str> = int8.iter().map(|(_, of)| *of).collect();
        return Err(format!(
            "int8 rows quantize the rows {}; neither is among the rows {}",
            of.join(" and "),
            rows.join(", ")
        ));
    }
    if let Some(ensemble) = ensemble {
        if !ensemble.families.is_empty() {
            return Err(format!(
                "ensemble families ({}) apply to graph teachers; {inputs} have one teacher architecture: give a number of members (--teacher-ensemble K, teacher_ensemble.members)",
                family_list(&ensemble.families)
            ));
        }
        ensemble.validate().map_err(|e| format!("teacher_{e}"))?;
    }
    // The pseudo inputs are held in memory: a million 64-point planar clouds is 0.5 GB.
    if transfer_set.size() > 1_000_000 {
        return Err(format!("transfer_set: at most 1 000 000 pseudo {inputs}, got {}", transfer_set.size()));
    }
    Ok(())
}

/// The training seed of member `k` for the comparison seed `seed`: member 0 keeps `seed`; the
/// others are offset by a million per member, clear of any other seed of a comparison.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_add(1_000_000 * k as u64)
}

/// The members' logits combined as `combine` says, at temperature `temperature`, as logits `z`
/// such that `softmax(z / temperature)` is the ensemble's soft targets:
/// `T * log(mean_k softmax(z_k / T))` or `mean_k z_k`.
pub fn combine_logits(members: &[Tensor], combine: EnsembleCombine, temperature: f64) -> Tensor {
    assert!(!members.is_empty(), "an ensemble has at least one member");
    let stacked = Tensor::stack(members, 0);
    match combine {
        EnsembleCombine::Logits => stacked.mean_dim(0, false, Kind::Float),
        EnsembleCombine::SoftTargets => {
            // log mean_k exp(log_softmax_k): logsumexp keeps tiny probabilities finite.
            let log_q =
                (&stacked / temperature).log_softmax(-1, Kind::Float).logsumexp(0, false) - (members.len() as f64).ln();
            log_q * temperature
        }
    }
}

/// K trained node classifiers read as one. Its logits (`forward_t`) are the combination at
/// temperature 1 (what its accuracy is read from); its hidden features are member 0's.
pub struct Ensemble {
    members: Vec<Box<dyn NodeModel>>,
    combine: EnsembleCombine,
    /// The variable stores behind copied members.
    _stores: Vec<nn::VarStore>,
}

impl Ensemble {
    /// An ensemble of `models` (at least one).
    pub fn new(models: Vec<Box<dyn NodeModel>>, combine: EnsembleCombine) -> Ensemble {
        assert!(!models.is_empty(), "an ensemble has at least one member");
        Ensemble { members: models, combine, _stores: Vec::new() }
    }

    /// An ensemble of copies of `trained` (their weights copied; the originals stay usable).
    pub fn from_trained(trained: &[&Trained], combine: EnsembleCombine) -> Result<Ensemble, TrainError> {
        let mut ensemble = Ensemble { members: Vec::new(), combine, _stores: Vec::new() };
        for t in trained {
            let mut vs = nn::VarStore::new(t.vs.device());
            let model = t.model.config().build(&vs.root())?;
            vs.copy(&t.vs).map_err(gdistill_models::ModelError::from)?;
            ensemble.members.push(model);
            ensemble._stores.push(vs);
        }
        assert!(!ensemble.members.is_empty(), "an ensemble has at least one member");
        Ok(ensemble)
    }

    pub fn members(&self) -> &[Box<dyn NodeModel>] {
        &self.members
    }

    pub fn combine(&self) -> EnsembleCombine {
        self.combine
    }

    /// The distillation target on every node: the members' logits combined at `temperature`
    /// (see [`combine_logits`]), or their mean for a logit-matching loss (`mean_logits`), with
    /// member 0's hidden features (what LSP reads).
    pub fn targets(&self, x: &NodeFeatures, adj: &SparseMatrix, temperature: f64, mean_logits: bool) -> ModelOutput {
        tch::no_grad(|| {
            let mut outputs: Vec<ModelOutput> = self.members.iter().map(|m| m.forward_t(x, adj, false)).collect();
            let logits: Vec<Tensor> = outputs.iter().map(|o| o.logits.shallow_clone()).collect();
            let combine = if mean_logits { EnsembleCombine::Logits } else { self.combine };
            let hidden = std::mem::take(&mut outputs[0].hidden);
            ModelOutput { logits: combine_logits(&logits, combine, temperature), hidden }
        })
    }
}

impl NodeModel for Ensemble {
    fn forward_t(&self, x: &NodeFeatures, adj: &SparseMatrix, train: bool) -> ModelOutput {
        let mut outputs: Vec<ModelOutput> = self.members.iter().map(|m| m.forward_t(x, adj, train)).collect();
        let logits: Vec<Tensor> = outputs.iter().map(|o| o.logits.shallow_clone()).collect();
        let hidden = std::mem::take(&mut outputs[0].hidden);
        ModelOutput { logits: combine_logits(&logits, self.combine, 1.0), hidden }
    }

    fn config(&self) -> &ModelConfig {
        self.members[0].config()
    }

    fn weights(&self) -> Vec<&Tensor> {
        self.members.iter().flat_map(|m| m.weights()).collect()
    }

    fn biases(&self) -> Vec<&Tensor> {
        self.members.iter().flat_map(|m| m.biases()).collect()
    }
}

/// The members of an ensemble teacher row, as the report shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleScores {
    pub members: usize,
    /// A mixed-family graph ensemble: each member's family, in `member_acc`'s order (absent
    /// when every member is of the teacher's family, as reports had it before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<Arch>>,
    /// Test accuracy of each member, one vector per member over the seeds (`member_acc[k][s]`).
    pub member_acc: Vec<Vec<f64>>,
    /// Mean and sample std over seeds of each member.
    pub member_mean: Vec<f64>,
    pub member_std: Vec<f64>,
    /// The mean over members and seeds: what one teacher scores on average.
    pub single_mean: f64,
}

impl EnsembleScores {
    /// From per-seed vectors of member accuracies; `None` without any.
    pub fn from_runs(per_seed: &[Vec<f64>]) -> Option<EnsembleScores> {
        let members = per_seed.first()?.len();
        let member_acc: Vec<Vec<f64>> = (0..members).map(|k| per_seed.iter().map(|s| s[k]).collect()).collect();
        let stats: Vec<(f64, f64)> = member_acc.iter().map(|a| crate::compare::mean_std(a)).collect();
        let all: Vec<f64> = member_acc.iter().flatten().copied().collect();
        Some(EnsembleScores {
            members,
            families: None,
            member_mean: stats.iter().map(|s| s.0).collect(),
            member_std: stats.iter().map(|s| s.1).collect(),
            single_mean: crate::compare::mean_std(&all).0,
            member_acc,
        })
    }
}
