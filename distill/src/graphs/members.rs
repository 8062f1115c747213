//! The members of a graph ensemble teacher, possibly of different families
//! (`--teacher-ensemble gcn,sage,gat`): the family, model and training of each, and the checks
//! a family list must pass before anything trains.
//!
//! A member of the teacher's family trains with the comparison's own teacher settings, so member
//! 0 (always of that family) is the single teacher of a run without an ensemble on the same seed,
//! and what a file, `--teacher-hidden` or `--tune` changed reaches every member of that family. A
//! member of another family trains with that family's published recipe, as
//! [`CompareConfig::for_family`] gives it on this dataset (GAT: 8 heads, lr 0.005, kept at its
//! lowest validation loss; the lr cap on dense raw features), under the comparison's teacher
//! budget (epochs, patience), so that `--epochs` still bounds every run.
//!
//! What depends on the teacher's family keeps following it: the small student, the
//! temperature of the `+kd` rows, the pruned rows (they prune member 0) and LSP (it reads
//! member 0's hidden features, as for a same-family ensemble: an average of several networks'
//! hidden spaces has no meaning, of different architectures even less).

use gdistill_datasets::NodeDataset;
use gdistill_models::{Arch, ModelConfig};

use super::{CompareConfig, ModelSpec};
use crate::transfer::ensemble::family_list;
use crate::TrainConfig;

/// One member of the teacher: its family, model and training (the seed is set per run).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRecipe {
    pub family: Arch,
    pub model: ModelSpec,
    pub training: TrainConfig,
}

impl MemberRecipe {
    /// The member's model for `features` inputs and `classes` outputs.
    pub fn config(&self, features: i64, classes: i64) -> ModelConfig {
        self.model.config(self.family, features, classes)
    }
}

impl CompareConfig {
    /// The family of each member of the teacher, member 0 first: the ensemble's list, or its
    /// size in copies of the teacher's family (one member without an ensemble).
    pub fn member_families(&self) -> Vec<Arch> {
        match &self.ensemble {
            Some(e) if !e.families.is_empty() => e.families.clone(),
            Some(e) => vec![self.family; e.size().max(1)],
            None => vec![self.family],
        }
    }

    /// Whether the ensemble names its members' families (what the report then shows).
    pub fn lists_families(&self) -> bool {
        self.ensemble.as_ref().is_some_and(|e| !e.families.is_empty())
    }

    /// Each member's family, model and training on `dataset` (the dataset as given, before its
    /// features are normalised: the recipes depend on the raw features, as `for_family`'s do).
    pub fn member_recipes(&self, dataset: &NodeDataset) -> Vec<MemberRecipe> {
        self.member_families()
            .into_iter()
            .map(|family| {
                if family == self.family {
                    return MemberRecipe {
                        family,
                        model: self.teacher.clone(),
                        training: self.teacher_training.clone(),
                    };
                }
                let recipe = CompareConfig::for_family(dataset, family);
                let budget = &self.teacher_training;
                let training =
                    TrainConfig { epochs: budget.epochs, patience: budget.patience, ..recipe.teacher_training };
                MemberRecipe { family, model: recipe.teacher, training }
            })
            .collect()
    }

    /// The checks of the members' families: member 0 of the teacher's family, every family able
    /// to run as the comparison asks (sampled, quantized).
    pub(super) fn validate_members(&self) -> Result<(), String> {
        let families = self.member_families();
        if self.lists_families() && families[0] != self.family {
            return Err(format!(
                "ensemble families {}: the first member must be of the teacher's family ({}): it is the single \
                 teacher the pruned and LSP rows read; list {} first or pass --teacher {}",
                family_list(&families),
                self.family,
                self.family,
                families[0]
            ));
        }
        if self.sampler.is_some() && families.contains(&Arch::Appnp) {
            let which = if self.lists_families() { "ensemble member" } else { "teacher" };
            return Err(format!(
                "the {which} appnp does not train on sampled blocks: its K propagation steps read every node \
                 within K hops; train it full-batch (leave out --sampler){}",
                if self.lists_families() { " or leave appnp out of the ensemble" } else { "" }
            ));
        }
        if self.int8_rows {
            if let Some(family) = families.iter().find(|f| !crate::compress::quantize::supports(**f)) {
                return Err(format!("int8 rows quantize GCN teachers (and MLP students), not a {family} teacher"));
            }
        }
        Ok(())
    }
}
