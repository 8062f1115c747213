//! VQGraph's MLP student: mini-batches of the nodes training sees ([`crate::students`]'s loop,
//! as NOSMOG's), each batch's loss the `+kd` rows' soft-target term against the tokenizer's
//! teacher, plus `code_weight` times the code distillation ([`super::code_distillation_loss`])
//! of the batch's nodes, through a projection of the student's last hidden layer into the code
//! space (trained with the student, dropped after it: the student stays a plain MLP).

use gdistill_models::{Dense, ModelConfig};
use tch::{nn, Tensor};

use super::code_kl::code_distillation_loss;
use super::tokenizer::TrainedTokenizer;
use super::VqgraphConfig;
use crate::students::batch_student::{dense_features, train_in_batches, Batch, BatchTerms};
use crate::training::train::check_shapes;
use crate::{EpochStats, GraphData, Objective, TrainConfig, TrainError, Trained};

/// Trains a fresh MLP of `config` against `objective` (the `+kd` rows' soft targets of the
/// tokenizer's teacher) and, when `code`, the tokenizer's soft code assignments, in `settings`
/// but for `vq`'s epochs and patience.
#[allow(clippy::too_many_arguments)]
pub fn train_vqgraph_student(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    tokenizer: &TrainedTokenizer,
    vq: &VqgraphConfig,
    code: bool,
    settings: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    check_shapes(config, data, objective)?;
    objective.validate().map_err(TrainError::Config)?;
    vq.validate().map_err(TrainError::Config)?;
    let refuse = |why: &str| Err(TrainError::Config(format!("vqgraph: {why}")));
    if config.arch != gdistill_models::Arch::Mlp {
        return refuse(&format!("its student is an MLP, not a {}", config.arch));
    }
    let Some(&width) = config.hidden.last() else {
        return refuse("the MLP student needs a hidden layer (its projection is matched to the codes)");
    };
    if objective.teacher.is_none() {
        return refuse("it distils a teacher; the objective has none");
    }
    if tokenizer.outputs.size()[0] != data.num_nodes() {
        return refuse("the tokenizer was trained on another graph (its outputs do not cover the nodes)");
    }
    let settings = TrainConfig { epochs: vq.epochs, patience: Some(vq.patience), ..settings.clone() };
    settings.validate().map_err(TrainError::Config)?;
    let features = dense_features(data, "VQGraph")?;
    let code_dim = tokenizer.codebook.size()[1];
    let build =
        |path: &nn::Path| CodeTerm { projection: code.then(|| Dense::new(path, width, code_dim)), tokenizer, vq };
    train_in_batches(config, data, objective, &features, vq.batch_size, &settings, build, on_epoch)
}

/// The code-distillation term (absent in the ablation `mlp+vqgraph-code`).
struct CodeTerm<'a> {
    projection: Option<Dense>,
    tokenizer: &'a TrainedTokenizer,
    vq: &'a VqgraphConfig,
}

impl BatchTerms for CodeTerm<'_> {
    fn terms(&self, batch: &Batch) -> Vec<(&'static str, Tensor)> {
        let Some(projection) = &self.projection else { return vec![] };
        let hidden = batch.out.hidden.last().expect("checked: a hidden layer");
        let student = hidden.matmul(&projection.weight) + &projection.bias;
        let teacher = self.tokenizer.outputs.index_select(0, batch.idx);
        let kl = code_distillation_loss(&student, &teacher, &self.tokenizer.codebook, self.vq.tau);
        vec![("codes", kl * self.vq.code_weight)]
    }
}
