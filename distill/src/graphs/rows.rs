//! The graph experiment's rows: which model each trains and against what objective, and
//! their figures per seed until they are reported.

use gdistill_models::{Arch, ModelConfig, ModelOutput, NodeModel};

use super::{small_row_name, CompareConfig, CompareRow, GraphColumns, InductiveScores};
use crate::compress::prune::compare_rows::PrunedModel;
use crate::experiment::{mean_std, Runs};
use crate::graphs::setting::{Scores, SeedGraphs};
use crate::losses::lsp::{EdgeList, LspKernel};
use crate::students::gcrd::GcrdTerm;
use crate::students::nosmog::NosmogParts;
use crate::students::vqgraph::{train_tokenizer, train_vqgraph_student, TrainedTokenizer, VqgraphRow};
use crate::transfer::correct_and_smooth::{SmoothedScores, SmoothedSeed};
use crate::{checked_hidden_index, inference_ms, LspTerm, Objective, TrainConfig, TrainError, Trained};

/// A row's figures per seed while the seeds run, until [`RowRuns::finish`] reports them.
pub(super) struct RowRuns {
    pub(super) name: String,
    pub(super) params: i64,
    pub(super) runs: Runs,
    /// Inductive setting: (`tran`, `ind`) per seed.
    pub(super) inductive: Vec<(f64, f64)>,
    pub(super) weight_bytes: Option<i64>,
    /// A mixed-family ensemble teacher: each member's family (reported with their accuracies).
    pub(super) families: Option<Vec<Arch>>,
    /// The teacher row with Correct and Smooth: its figures per seed.
    pub(super) smoothed: Vec<SmoothedSeed>,
}

/// The rows `config.prune.rows` adds, after all the others.
pub(super) fn pruned_row_names(family: Arch) -> [String; 2] {
    ["teacher-obd".to_string(), format!("{}+kd+obd", small_row_name(family))]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Student {
    Mlp,
    GcnSmall,
}

/// One row: which model (`None`: the teacher), distilled or not, with LSP or not.
pub(super) struct RowPlan {
    pub(super) name: String,
    pub(super) student: Option<Student>,
    pub(super) kd: bool,
    pub(super) lsp: Option<LspKernel>,
    /// A NOSMOG row: which of its parts it trains ([`crate::students::nosmog`]).
    pub(super) nosmog: Option<NosmogParts>,
    /// A G-CRD row ([`crate::students::gcrd`]).
    pub(super) gcrd: bool,
    /// A VQGraph row: the tokenizer or a student ([`crate::students::vqgraph`]).
    pub(super) vqgraph: Option<VqgraphRow>,
}

/// The rows in report order; LSP rows when `config.lsp.rows`, plus one pair per ablation kernel,
/// then the G-CRD row when `config.gcrd` is set.
pub(super) fn row_plans(config: &CompareConfig) -> Vec<RowPlan> {
    let plan = |name: &str, student, kd, lsp| RowPlan {
        name: name.to_string(),
        student,
        kd,
        lsp,
        nosmog: None,
        gcrd: false,
        vqgraph: None,
    };
    let (mlp, small, lsp) = (Some(Student::Mlp), Some(Student::GcnSmall), Some(config.lsp.kernel));
    let s = small_row_name(config.family);
    let mut plans =
        vec![plan("teacher", None, false, None), plan("mlp", mlp, false, None), plan("mlp+kd", mlp, true, None)];
    if config.lsp.rows {
        plans.push(plan("mlp+kd+lsp", mlp, true, lsp));
    }
    for (name, parts) in config.nosmog.as_ref().map(NosmogParts::rows).unwrap_or_default() {
        plans.push(RowPlan { nosmog: Some(parts), ..plan(name, mlp, true, None) });
    }
    for (name, row) in config.vqgraph.as_ref().map(VqgraphRow::rows).unwrap_or_default() {
        // The tokenizer's row reports a model of the teacher's family (`student: None`).
        let student = matches!(row, VqgraphRow::Student { .. }).then_some(Student::Mlp);
        plans.push(RowPlan { vqgraph: Some(row), ..plan(name, student, true, None) });
    }
    if !config.small_rows {
        return plans;
    }
    plans.push(plan(&s, small, false, None));
    plans.push(plan(&format!("{s}+kd"), small, true, None));
    if config.lsp.rows {
        plans.push(plan(&format!("{s}+lsp"), small, false, lsp));
        plans.push(plan(&format!("{s}+kd+lsp"), small, true, lsp));
    }
    if config.gcrd.is_some() {
        plans.push(RowPlan { gcrd: true, ..plan(&format!("{s}+crd"), small, true, None) });
    }
    for &kernel in &config.lsp.ablation_kernels {
        plans.push(plan(&format!("{s}+lsp[{kernel}]"), small, false, Some(kernel)));
        plans.push(plan(&format!("{s}+kd+lsp[{kernel}]"), small, true, Some(kernel)));
    }
    plans
}

impl RowPlan {
    /// The student's objective and training settings, given the teacher's outputs.
    pub(super) fn objective(
        &self,
        teacher: &ModelOutput,
        config: &CompareConfig,
        edges: &EdgeList,
    ) -> Result<(Objective, TrainConfig), TrainError> {
        let settings = config.student_training_for(self.student == Some(Student::GcnSmall), self.kd);
        let objective = if self.kd { config.kd_objective(teacher.logits.shallow_clone()) } else { Objective::labels() };
        if self.gcrd {
            let hidden = teacher.hidden.last().ok_or_else(|| {
                TrainError::Mismatch(
                    "G-CRD needs the teacher's last hidden layer, and this teacher exposes none".into(),
                )
            })?;
            let config = config.gcrd.clone().expect("the gcrd table added the row");
            return Ok((objective.with_gcrd(GcrdTerm { teacher_hidden: hidden.shallow_clone(), config }), settings));
        }
        let Some(kernel) = self.lsp else { return Ok((objective, settings)) };
        let l = &config.lsp;
        let layer = checked_hidden_index(l.teacher_layer, teacher.hidden.len()).ok_or_else(|| {
            TrainError::Mismatch(format!(
                "LSP teacher layer {} does not exist ({} hidden)",
                l.teacher_layer,
                teacher.hidden.len()
            ))
        })?;
        let term = LspTerm {
            teacher_hidden: teacher.hidden[layer].shallow_clone(),
            student_layer: l.student_layer,
            edges: edges.shallow_clone(),
            kernel,
            direction: l.direction,
            weight: l.weight,
            until_epoch: l.until_epoch,
        };
        Ok((objective.with_lsp(term), settings))
    }
}

impl RowPlan {
    /// Trains a NOSMOG row's MLP (`cfg`) against `objective` (the `+kd` rows'), with the
    /// teacher's last hidden layer for RSD, in the `+kd` rows' `settings` but for NOSMOG's
    /// epochs and patience.
    pub(super) fn train_nosmog(
        &self,
        cfg: &ModelConfig,
        data: &crate::GraphData,
        (objective, settings): (&Objective, &TrainConfig),
        teacher: &ModelOutput,
        config: &CompareConfig,
        on_epoch: &mut dyn FnMut(&crate::EpochStats),
    ) -> Result<Trained, TrainError> {
        let (parts, nosmog) = (self.nosmog.expect("a NOSMOG row"), config.nosmog.as_ref().expect("it added the row"));
        let hidden = teacher.hidden.last();
        let settings = TrainConfig { epochs: nosmog.epochs, patience: Some(nosmog.patience), ..settings.clone() };
        crate::students::train_nosmog(cfg, data, objective, hidden, nosmog, parts, &settings, on_epoch)
    }
}

impl RowPlan {
    /// Trains a VQGraph row: the tokenizer, kept in `tokenizer` for the students of the same
    /// seed (`None` returned: the row reports its teacher), or a student of it.
    pub(super) fn train_vqgraph(
        &self,
        (teacher_cfg, mlp_cfg): (&ModelConfig, &ModelConfig),
        graphs: &crate::graphs::setting::SeedGraphs,
        (config, seed): (&CompareConfig, u64),
        tokenizer: &mut Option<TrainedTokenizer>,
        on_epoch: &mut dyn FnMut(&crate::EpochStats),
    ) -> Result<Option<Trained>, TrainError> {
        let vq = config.vqgraph.as_ref().expect("it added the row");
        let (data, graph) = (&graphs.data, &graphs.dataset.graph);
        match self.vqgraph.expect("a VQGraph row") {
            VqgraphRow::Tokenizer => {
                let settings = TrainConfig { seed, ..config.teacher_training.clone() };
                *tokenizer = Some(train_tokenizer(teacher_cfg, data, graph, vq, &settings, on_epoch)?);
                Ok(None)
            }
            VqgraphRow::Student { code } => {
                let tokenizer = tokenizer.as_ref().expect("the tokenizer's row comes first");
                let objective = config.kd_objective(tokenizer.logits.shallow_clone());
                let settings = TrainConfig { seed, ..config.student_training_for(false, true) };
                let trained =
                    train_vqgraph_student(mlp_cfg, data, &objective, tokenizer, vq, code, &settings, on_epoch)?;
                Ok(Some(trained))
            }
        }
    }
}

impl RowRuns {
    pub(super) fn new(name: String, cfg: &ModelConfig) -> RowRuns {
        RowRuns {
            name,
            params: cfg.num_params(),
            runs: Runs::default(),
            inductive: vec![],
            weight_bytes: None,
            families: None,
            smoothed: vec![],
        }
    }

    /// An ensemble teacher's figures: its own accuracy, each member's, the members' summed
    /// training seconds, and the inference of all members together.
    pub(super) fn record_ensemble(
        &mut self,
        ensemble: &crate::transfer::ensemble::Ensemble,
        members: &[Trained],
        graphs: &SeedGraphs,
    ) {
        self.runs.member_acc.push(members.iter().map(|m| graphs.score(m.model.as_ref()).test).collect());
        let train_s = members.iter().map(|m| m.train_seconds).sum();
        self.push(graphs.score(ensemble), train_s, ensemble, graphs);
    }

    /// An int8 model's figures (its quantization seconds as training seconds).
    pub(super) fn record_int8(&mut self, quantized: &crate::compress::quantize::Quantized, graphs: &SeedGraphs) {
        self.weight_bytes = Some(quantized.weight_bytes);
        let model = quantized.model.as_ref();
        self.push(graphs.score(model), quantized.seconds, model, graphs);
    }

    pub(super) fn record(&mut self, trained: &Trained, graphs: &SeedGraphs) {
        let model = trained.model.as_ref();
        self.push(graphs.score(model), trained.train_seconds, model, graphs);
    }

    /// A pruned model's figures; its parameters are the non-zero ones.
    pub(super) fn record_pruned(&mut self, pruned: &PrunedModel, graphs: &SeedGraphs) {
        self.params = pruned.params;
        let model = pruned.model.as_ref();
        let scores = if graphs.held_out() == 0 {
            // Pruning already scored its retrained model on this graph.
            Scores { test: pruned.point.test_acc, val: pruned.point.val_acc, inductive: None }
        } else {
            graphs.score(model)
        };
        self.push(scores, pruned.seconds, model, graphs);
    }

    /// One seed's figures of `model`: its scores, training seconds and warm inference time.
    fn push(&mut self, scores: Scores, train_s: f64, model: &dyn NodeModel, graphs: &SeedGraphs) {
        self.runs.test_acc.push(scores.test);
        self.runs.val_acc.push(scores.val);
        self.inductive.extend(scores.inductive);
        self.runs.train_s.push(train_s);
        self.runs.infer_ms.push(inference_ms(model, &graphs.data, 2, 7));
    }

    pub(super) fn finish(self) -> CompareRow {
        let (mean, std) = mean_std(&self.runs.test_acc);
        let inductive = (!self.inductive.is_empty()).then(|| {
            let (tran_acc, ind_acc): (Vec<f64>, Vec<f64>) = self.inductive.iter().copied().unzip();
            let ((tran_mean, tran_std), (ind_mean, ind_std)) = (mean_std(&tran_acc), mean_std(&ind_acc));
            InductiveScores {
                tran_acc,
                tran_mean,
                tran_std,
                ind_acc,
                ind_mean,
                ind_std,
                prod_mean: mean,
                prod_std: std,
            }
        });
        let columns = GraphColumns {
            val_acc: self.runs.val_acc.clone(),
            val_mean: self.runs.val_mean(),
            train_s: self.runs.train_s(),
            infer_ms: self.runs.infer_ms(),
            inductive,
            ensemble: self
                .runs
                .ensemble()
                .map(|e| crate::transfer::ensemble::EnsembleScores { families: self.families, ..e }),
            weight_bytes: self.weight_bytes,
            correct_and_smooth: SmoothedScores::from_seeds(&self.smoothed),
        };
        self.runs.row(self.name, None, self.params, columns)
    }
}
