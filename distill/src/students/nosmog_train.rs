//! NOSMOG's training of an MLP student: mini-batches of the nodes training sees, each batch's
//! loss the soft-target term of the `+kd` rows, plus RSD and the adversarial term where the
//! parts ask for them; early stopping and restore on full-graph validation, as every row.
//!
//! Batches are drawn from every node of the training graph: inductively, the observed graph,
//! so the held-out test nodes never enter a batch, a Gram matrix or an attack.

use gdistill_models::ModelConfig;
use tch::{nn, Kind, Tensor};

use super::adversarial::Pgd;
use super::batch_student::{dense_features, train_in_batches, Batch, BatchTerms};
use super::nosmog::{NosmogConfig, NosmogParts};
use super::rsd::{rsd_loss_with, Projection};
use crate::training::train::check_shapes;
use crate::{EpochStats, GraphData, Objective, TrainConfig, TrainError, Trained};

/// Trains a fresh MLP of `config` against `objective`'s teacher term, with NOSMOG's `parts`.
/// `teacher_hidden` is the teacher's last hidden layer, one row per node (RSD needs it).
#[allow(clippy::too_many_arguments)]
pub fn train_nosmog(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    teacher_hidden: Option<&Tensor>,
    nosmog: &NosmogConfig,
    parts: NosmogParts,
    settings: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    check_inputs(config, data, objective, teacher_hidden, nosmog, parts)?;
    settings.validate().map_err(TrainError::Config)?;
    let features = dense_features(data, "NOSMOG")?;
    let pgd = Pgd::new(nosmog.adv_eps * feature_scale(&features), nosmog.adv_steps).map_err(TrainError::Config)?;
    let student_width = *config.hidden.last().expect("checked: the student has a hidden layer");
    let width = nosmog.projection_width.unwrap_or(student_width);
    let build = |path: &nn::Path| NosmogTerms {
        projection: parts.rsd.then(|| Projection::new(path, student_width, width)),
        teacher_hidden,
        pgd,
        parts,
        nosmog,
    };
    train_in_batches(config, data, objective, &features, nosmog.batch_size, settings, build, on_epoch)
}

/// RSD and the adversarial term, where the parts ask for them.
struct NosmogTerms<'a> {
    projection: Option<Projection>,
    teacher_hidden: Option<&'a Tensor>,
    pgd: Pgd,
    parts: NosmogParts,
    nosmog: &'a NosmogConfig,
}

impl BatchTerms for NosmogTerms<'_> {
    fn terms(&self, batch: &Batch) -> Vec<(&'static str, Tensor)> {
        let mut terms = vec![];
        if let (Some(projection), Some(hidden)) = (&self.projection, self.teacher_hidden) {
            let student = projection.forward(batch.out.hidden.last().expect("checked"));
            let rsd = rsd_loss_with(&hidden.index_select(0, batch.idx), &student, self.nosmog.rsd_similarity);
            terms.push(("RSD", rsd * self.nosmog.rsd_weight));
        }
        if self.parts.adversarial {
            // The attack reads the student without dropout: the worst case for the model
            // itself, not for one random sub-network per step.
            let idx = batch.idx;
            let loss = |p: &Tensor| batch.teacher.loss(&batch.forward(p, false).logits, idx);
            let delta = self.pgd.perturb(batch.x, &mut |p| loss(p), &mut |_, _| {});
            let adversarial = batch.teacher.loss(&batch.forward(&(batch.x + delta), true).logits, idx);
            terms.push(("adversarial", adversarial * self.nosmog.adv_weight));
        }
        terms
    }
}

/// Refuses, by name, what NOSMOG cannot train: a student that is not an MLP or has no hidden
/// layer, an objective without a teacher, RSD without the teacher's hidden layer.
fn check_inputs(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    teacher_hidden: Option<&Tensor>,
    nosmog: &NosmogConfig,
    parts: NosmogParts,
) -> Result<(), TrainError> {
    check_shapes(config, data, objective)?;
    objective.validate().map_err(TrainError::Config)?;
    nosmog.validate().map_err(TrainError::Config)?;
    let refuse = |why: String| Err(TrainError::Config(format!("NOSMOG: {why}")));
    if config.arch != gdistill_models::Arch::Mlp {
        return refuse(format!("its student is an MLP, not a {}", config.arch));
    }
    if config.hidden.is_empty() {
        return refuse("the MLP student needs a hidden layer (its representation is distilled)".into());
    }
    if objective.teacher.is_none() {
        return refuse("it distils a teacher; the objective has none".into());
    }
    if objective.lsp.is_some() {
        return refuse("LSP does not combine with NOSMOG's mini-batches".into());
    }
    if objective.gcrd.is_some() {
        return refuse("G-CRD does not combine with NOSMOG's mini-batches".into());
    }
    if parts.rsd {
        match teacher_hidden {
            None => return refuse("RSD needs the teacher's last hidden layer, and this teacher exposes none".into()),
            Some(h) if h.dim() != 2 || h.size()[0] != data.num_nodes() => {
                return refuse(format!(
                    "the teacher's hidden features have shape {:?}, expected one row per node ({})",
                    h.size(),
                    data.num_nodes()
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The mean magnitude of the non-zero features (1 where none is), the unit of `adv_eps`.
/// NOSMOG's radii were chosen on raw binary bags of words, where this is 1; on Cora's
/// row-normalised rows (about 1/18 each) the same absolute radius, added to all 1 433 entries,
/// drowned the signal: one seed, validation 0.51 with the attack against 0.81 without.
pub fn feature_scale(features: &Tensor) -> f64 {
    let non_zero = features.ne(0.0).sum(Kind::Int64).int64_value(&[]);
    if non_zero == 0 {
        return 1.0;
    }
    features.abs().sum(Kind::Double).double_value(&[]) / non_zero as f64
}
