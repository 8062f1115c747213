//! What a cloud classifier is trained to fit: labels, a teacher's soft targets on the cloud
//! logits (KD), and the local structure of the teacher's per-point features (LSP), alone or
//! together.
//!
//! The teacher runs on every training batch (evaluation mode, no autograd), on the same sampled
//! and augmented clouds as the student, so its soft targets and features always describe what the
//! student sees. LSP on dynamic graphs: each network's local structure at a point is over its own
//! kNN in its own feature space at the compared stage; both distributions are computed on the
//! union of the two neighbour sets (Yang et al. 2020, and DESIGN.md), with the crate's edge-list
//! LSP ([`crate::losses::lsp`]).

use gdistill_models::pointcloud::{flat_neighbours, knn, CloudModel, CloudOutput};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::losses::lsp::{lsp_loss, EdgeList, KlDirection, LspKernel};
use crate::{blend, cross_entropy, soft_target_loss};

/// Hinton soft targets: `alpha * CE + (1 - alpha) * T^2 KL`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudKd {
    pub temperature: f64,
    pub alpha: f64,
}

/// The LSP term `weight * KL(LS_teacher || LS_student)`, averaged over points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudLsp {
    pub weight: f64,
    pub kernel: LspKernel,
    /// Neighbours per point of each network's feature-space kNN.
    pub k: i64,
}

/// The teacher and the terms it enters.
pub struct CloudObjective<'a> {
    pub teacher: Option<&'a dyn CloudModel>,
    pub kd: Option<CloudKd>,
    pub lsp: Option<CloudLsp>,
}

impl CloudObjective<'_> {
    /// Cross-entropy on the labels only.
    pub fn labels() -> CloudObjective<'static> {
        CloudObjective { teacher: None, kd: None, lsp: None }
    }

    /// Checks that a teacher is there when a term needs one.
    pub fn validate(&self) -> Result<(), String> {
        if (self.kd.is_some() || self.lsp.is_some()) && self.teacher.is_none() {
            return Err("KD and LSP need a teacher".into());
        }
        if let Some(kd) = self.kd {
            if kd.temperature <= 0.0 || !(0.0..=1.0).contains(&kd.alpha) {
                return Err(format!("KD temperature must be positive and alpha in [0, 1], got {kd:?}"));
            }
        }
        if let Some(lsp) = self.lsp {
            if lsp.weight < 0.0 || lsp.k < 1 {
                return Err(format!("LSP weight must be >= 0 and k >= 1, got {lsp:?}"));
            }
        }
        Ok(())
    }

    /// The training loss of `student` (its output on `points`) against `labels` (`-1` for a
    /// pseudo cloud, which the teacher labels).
    pub fn loss(&self, student: &CloudOutput, points: &Tensor, labels: &Tensor) -> Tensor {
        let Some(teacher) = self.teacher else { return cross_entropy(&student.logits, labels) };
        let teacher_out = tch::no_grad(|| teacher.forward_t(points, false));
        let hard = cross_entropy(&student.logits, &super::label_pseudo_clouds(labels, &teacher_out.logits));
        let mut loss = match self.kd {
            Some(kd) => blend(kd.alpha, hard, soft_target_loss(&student.logits, &teacher_out.logits, kd.temperature)),
            None => hard,
        };
        if let Some(lsp) = self.lsp {
            let (s, t) = (lsp_stage(student), lsp_stage(&teacher_out));
            loss = loss + point_lsp_loss(s, t, lsp.kernel, lsp.k) * lsp.weight;
        }
        loss
    }
}

/// The per-point features LSP compares: the last graph layer's output for a DGCNN (before the
/// pooled embedding), the last shared layer's for PointNet.
pub fn lsp_stage(out: &CloudOutput) -> &Tensor {
    let n = out.point_features.len();
    if out.graphs.is_empty() || n < 2 {
        &out.point_features[n - 1]
    } else {
        &out.point_features[out.graphs.len() - 1]
    }
}

/// LSP between per-point features `student` `[B, N, Cs]` and `teacher` `[B, N, Ct]` on the union
/// of their `k`-NN graphs in their own feature spaces, the batch flattened to `B * N` nodes with
/// no edge between clouds. A point is not its own neighbour here: its self-similarity is the
/// kernel's maximum for the distance kernels, and would swamp the distribution it normalises.
pub fn point_lsp_loss(student: &Tensor, teacher: &Tensor, kernel: LspKernel, k: i64) -> Tensor {
    let (batch, n) = (student.size()[0], student.size()[1]);
    let nodes = batch * n;
    let edges = |features: &Tensor| {
        let neighbours = flat_neighbours(&knn(features, k, false));
        let kk = neighbours.size()[2];
        let centre =
            Tensor::arange(nodes, (Kind::Int64, student.device())).view([batch, n, 1]).expand([batch, n, kk], false);
        EdgeList::from_tensors(&centre.reshape([-1]), &neighbours.reshape([-1]), nodes)
    };
    let union = edges(student).union(&edges(teacher));
    lsp_loss(
        &student.reshape([nodes, -1]),
        &teacher.detach().reshape([nodes, -1]),
        &union,
        kernel,
        KlDirection::TeacherToStudent,
    )
}
