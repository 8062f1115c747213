//! NOSMOG's settings and rows (Tian et al., ICLR 2023: "Learning MLPs on Graphs: A Unified
//! View of Effectiveness, Robustness, and Efficiency").
//!
//! The MLP student distils the teacher's soft targets (the `+kd` rows' loss) plus
//! representation similarity distillation ([`super::rsd`]) and the same soft-target loss on
//! adversarially perturbed features ([`super::adversarial`]), on mini-batches of the nodes
//! training sees. Position features (DeepWalk) are NOSMOG's third piece; they are a feature
//! spec (`--features given+deepwalk:64`), which these rows honour like every MLP row.
//!
//! Defaults are NOSMOG's code's for Cora (`tran.conf.yaml`): RSD weight 0.1, eps 0.04, five
//! steps, adversarial weight 0.1, batches of 512, a projection as wide as the student's hidden
//! layer. Its other datasets: eps 0.045 (Citeseer), 0.07 (Amazon Computers), 0.1 (Amazon
//! Photo), 0.005 (Pubmed); RSD weight 0.1 on Citeseer, 0.9 on Pubmed and 1e-9 (off, in effect)
//! on both Amazon sets. Its features are raw binary bags of words; ours are row-normalised on
//! Cora and Citeseer, hence a radius relative to the features' scale (docs/nosmog.md).

use serde::{Deserialize, Serialize};

use super::rsd::RsdSimilarity;

/// The `nosmog` table of a comparison's config: present (`--nosmog`), it adds the row
/// `mlp+nosmog` and its ablations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NosmogConfig {
    /// Also the rows `mlp+nosmog-rsd` (without RSD) and `mlp+nosmog-adv` (without the attack).
    pub ablations: bool,
    /// Weight of the RSD term.
    pub rsd_weight: f64,
    /// RSD's similarity: `inner` (the paper's) or `cosine` (scale-free, [`super::rsd::RsdSimilarity`]).
    #[serde(skip_serializing_if = "RsdSimilarity::is_inner")]
    pub rsd_similarity: RsdSimilarity,
    /// Width of the student's projection before its Gram matrix; absent: the student's last
    /// hidden width.
    pub projection_width: Option<i64>,
    /// Radius of the L-infinity ball of feature perturbations, in units of the mean magnitude
    /// of the non-zero features ([`super::feature_scale`]; 1 on binary features, NOSMOG's).
    pub adv_eps: f64,
    pub adv_steps: usize,
    /// Weight of the loss on the perturbed features.
    pub adv_weight: f64,
    /// Nodes per mini-batch (RSD's Gram matrices are `batch_size` squared).
    pub batch_size: usize,
    /// Epochs at most, and epochs without a better validation score before stopping: NOSMOG's
    /// code's 200 and 50, not the `+kd` rows' 400 and 100. An epoch is one pass over the nodes
    /// in batches (6 steps on Cora), so 200 epochs are three times `mlp+kd`'s 400 full-batch
    /// steps, and each attacked step costs about seven forward and backward passes.
    pub epochs: usize,
    pub patience: usize,
}

impl Default for NosmogConfig {
    fn default() -> Self {
        NosmogConfig {
            ablations: true,
            rsd_weight: 0.1,
            rsd_similarity: RsdSimilarity::Inner,
            projection_width: None,
            adv_eps: 0.04,
            adv_steps: 5,
            adv_weight: 0.1,
            batch_size: 512,
            epochs: 200,
            patience: 50,
        }
    }
}

/// Which of NOSMOG's losses a run adds to soft targets: each can be switched off alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NosmogParts {
    pub rsd: bool,
    pub adversarial: bool,
}

impl NosmogParts {
    pub const FULL: NosmogParts = NosmogParts { rsd: true, adversarial: true };

    /// The rows `config` adds, in report order, with the parts each trains: the method, then
    /// one ablation per component (the name says which component is taken away).
    pub fn rows(config: &NosmogConfig) -> Vec<(&'static str, NosmogParts)> {
        let ablations = [
            ("mlp+nosmog-rsd", NosmogParts { rsd: false, adversarial: true }),
            ("mlp+nosmog-adv", NosmogParts { rsd: true, adversarial: false }),
        ];
        let ablations = ablations.into_iter().filter(|_| config.ablations);
        std::iter::once(("mlp+nosmog", NosmogParts::FULL)).chain(ablations).collect()
    }
}

impl NosmogConfig {
    /// Checks every setting; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("nosmog.{name} must be non-negative and finite, got {v}"))
            }
        };
        non_negative("rsd_weight", self.rsd_weight)?;
        non_negative("adv_weight", self.adv_weight)?;
        super::adversarial::Pgd::new(self.adv_eps, self.adv_steps).map_err(|e| format!("nosmog.adv_eps: {e}"))?;
        if self.adv_steps == 0 {
            return Err("nosmog.adv_steps must be at least 1".into());
        }
        if self.batch_size < 2 {
            return Err(format!(
                "nosmog.batch_size must be at least 2 (RSD compares nodes within a batch), got {}",
                self.batch_size
            ));
        }
        if self.epochs == 0 {
            return Err("nosmog.epochs must be at least 1".into());
        }
        if let Some(width) = self.projection_width.filter(|&w| w <= 0) {
            return Err(format!("nosmog.projection_width must be positive, got {width}"));
        }
        Ok(())
    }
}
