//! Ensemble teachers and pseudo-data transfer sets for the point-cloud comparison.
//!
//! An ensemble teacher ([`CloudEnsemble`]) is K DGCNN teachers trained from different seeds
//! ([`crate::transfer::ensemble::member_seed`]). The cloud students are distilled online (the teacher runs
//! on every augmented training batch), so the ensemble is itself a [`CloudModel`] whose logits
//! are the members' combined at the distillation temperature
//! ([`crate::transfer::ensemble::combine_logits`]); its per-point features, which LSP reads, are member
//! 0's (an average of several networks' feature spaces has no meaning).
//!
//! A transfer set ([`crate::transfer::transfer_set`]) adds pseudo clouds to the training clouds of the
//! `+kd` rows. They carry no label: [`CloudData`] gives them the label `-1`, and the objective
//! replaces it with the teacher's answer on the very batch the student sees
//! ([`label_pseudo_clouds`]).

use std::rc::Rc;

use gdistill_datasets::pointcloud::{augment, normalize_unit_sphere, sample_points};
use gdistill_models::pointcloud::{CloudModel, CloudOutput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::TrainedCloudModel;
use crate::images::nearest_neighbours_tensor;
use crate::transfer::ensemble::{combine_logits, EnsembleCombine};
use crate::transfer::transfer_set::{mixup, munge_with_neighbours, TransferSet, MUNGE_LOCAL_SCALE};

/// K trained cloud classifiers read as one, their logits combined at `temperature` (1 for the
/// teacher row's accuracy, the KD temperature for the students' targets).
pub struct CloudEnsemble {
    pub members: Rc<Vec<TrainedCloudModel>>,
    pub combine: EnsembleCombine,
    pub temperature: f64,
}

impl CloudEnsemble {
    /// The same members combined at another temperature.
    pub fn at(&self, temperature: f64) -> CloudEnsemble {
        CloudEnsemble { members: self.members.clone(), combine: self.combine, temperature }
    }
}

impl CloudModel for CloudEnsemble {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        let mut outputs: Vec<CloudOutput> = self.members.iter().map(|m| m.model.forward_t(points, train)).collect();
        if outputs.len() == 1 {
            // One member is the single teacher itself, bit for bit.
            return outputs.remove(0);
        }
        let logits: Vec<Tensor> = outputs.iter().map(|o| o.logits.shallow_clone()).collect();
        let first = outputs.swap_remove(0);
        CloudOutput {
            logits: combine_logits(&logits, self.combine, self.temperature),
            point_features: first.point_features,
            graphs: first.graphs,
        }
    }
}

/// `labels` with every pseudo cloud's `-1` replaced by the teacher's class (the argmax of
/// `teacher_logits`); real clouds keep their labels.
pub fn label_pseudo_clouds(labels: &Tensor, teacher_logits: &Tensor) -> Tensor {
    labels.where_self(&labels.ge(0), &teacher_logits.argmax(-1, false))
}

/// The seed of a comparison seed's pseudo clouds (one set per seed, shared by its `+kd` rows).
fn pseudo_seed(seed: u64) -> u64 {
    seed ^ 0x7073_6575_646f
}

/// `set`'s pseudo clouds (`size x points x dim` values, row-major) made from `data`'s training
/// clouds, or `None` for the training set itself. Each training cloud is first sampled to the
/// comparison's `points` (seeded), normalised and its points sorted along the first axis, so
/// that point `i` of one cloud and point `i` of its nearest neighbour lie at the same rank along
/// that axis: MUNGE's attribute swap and mixup's interpolation then pair points that correspond,
/// and the flat Euclidean distance between two clouds is a one-projection (sliced) transport
/// distance. `augmented:N` copies the training clouds with the comparison's own augmentation.
pub fn pseudo_clouds(data: &super::CloudData, set: TransferSet, seed: u64) -> Option<Vec<f32>> {
    let (d, p) = (data.dataset.dim, data.points);
    let width = d * p;
    let mut rng = ChaCha8Rng::seed_from_u64(pseudo_seed(seed));
    let mut base = Vec::with_capacity(data.dataset.train.len() * width);
    for &i in &data.dataset.train {
        let mut cloud = sample_points(data.dataset.cloud(i), d, p, &mut rng);
        normalize_unit_sphere(&mut cloud, d);
        let mut points: Vec<&[f32]> = cloud.chunks(d).collect();
        points.sort_by(|a, b| a[0].total_cmp(&b[0]));
        base.extend(points.concat());
    }
    let n = data.dataset.train.len();
    match set {
        TransferSet::Train => None,
        TransferSet::Augmented { size } => {
            let mut out = Vec::with_capacity(size * width);
            for k in 0..size {
                let mut cloud = base[(k % n) * width..(k % n + 1) * width].to_vec();
                augment(&mut cloud, d, &data.augmentation, &mut rng);
                out.extend(cloud);
            }
            Some(out)
        }
        TransferSet::Munge { size, p } => {
            let flat = Tensor::from_slice(&base).view([n as i64, width as i64]).to(data.device);
            let neighbours = nearest_neighbours_tensor(&flat);
            Some(munge_with_neighbours(&base, width, &neighbours, size, p, MUNGE_LOCAL_SCALE, pseudo_seed(seed)))
        }
        TransferSet::Mixup { size } => Some(mixup(&base, width, size, pseudo_seed(seed))),
    }
}

/// The `transfer_set` entry of a report: the kind, the pseudo clouds, the training set in all.
pub fn transfer_set_info(set: TransferSet, train: usize) -> Option<crate::images::TransferSetInfo> {
    (!set.is_train()).then(|| crate::images::TransferSetInfo {
        kind: set.to_string(),
        pseudo: set.size(),
        size: set.size() + train,
    })
}

/// The `teacher` row of one seed as a [`CloudEnsemble`] at temperature 1: `first` (trained by
/// the caller with the row's seed) and, for an ensemble, members 1..K trained the same way
/// from [`crate::transfer::ensemble::member_seed`]s, with each member's test accuracy (empty for one
/// teacher). `on_member` is called before each further member trains.
pub fn teacher_ensemble(
    first: TrainedCloudModel,
    config: &super::CloudCompareConfig,
    data: &super::CloudData,
    settings: &super::CloudTrainConfig,
    on_member: &mut dyn FnMut(),
    on_epoch: &mut dyn FnMut(&crate::EpochStats),
) -> Result<(CloudEnsemble, Vec<f64>), crate::TrainError> {
    let mut members = vec![first];
    for k in 1..config.ensemble_members() {
        on_member();
        let settings = super::CloudTrainConfig {
            seed: crate::transfer::ensemble::member_seed(settings.seed, k),
            ..settings.clone()
        };
        let objective = super::CloudObjective::labels();
        members.push(super::train_cloud_model(&config.teacher, data, &objective, &settings, on_epoch)?);
    }
    let member_acc = if members.len() > 1 {
        members.iter().map(|m| super::timed_accuracy(m.model.as_ref(), &data.test, data.shape.classes).0).collect()
    } else {
        Vec::new()
    };
    let combine = config.teacher_ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
    Ok((CloudEnsemble { members: Rc::new(members), combine, temperature: 1.0 }, member_acc))
}
