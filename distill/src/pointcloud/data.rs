//! A point-cloud dataset prepared for batched training: fixed evaluation clouds on the device,
//! training batches sampled and augmented afresh on the host (seeded) and moved over.
//!
//! Evaluation clouds (validation, test) get the same `points` points every time (sampled with
//! a fixed seed) and are normalised to the unit sphere; training clouds are resampled, normalised
//! and augmented for every batch, so an epoch sees other points of each shape.

use gdistill_datasets::pointcloud::{augment, normalize_unit_sphere, sample_points, Augmentation};
use gdistill_datasets::PointCloudDataset;
use gdistill_models::pointcloud::CloudShape;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

/// Seed of the evaluation clouds' point samples: fixed, so every model is scored on the same points.
const EVAL_SAMPLE_SEED: u64 = 0;

/// One split's clouds on the device: points `[n, P, D]` and labels `[n]`.
#[derive(Debug)]
pub struct CloudSet {
    pub points: Tensor,
    pub labels: Tensor,
}

impl CloudSet {
    pub fn len(&self) -> i64 {
        self.labels.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The dataset, its fixed evaluation sets and what training batches need.
pub struct CloudData<'a> {
    pub dataset: &'a PointCloudDataset,
    /// Points per cloud fed to the models.
    pub points: usize,
    pub augmentation: Augmentation,
    pub val: CloudSet,
    pub test: CloudSet,
    pub shape: CloudShape,
    pub device: Device,
    /// Pseudo clouds of a transfer set (`[count, points, dim]` values, row-major; empty
    /// without), trained on after the training clouds under the ids `num_clouds()..` and
    /// labelled `-1`: no ground truth ([`super::label_pseudo_clouds`]).
    pub pseudo: Vec<f32>,
}

impl<'a> CloudData<'a> {
    pub fn new(
        dataset: &'a PointCloudDataset,
        points: usize,
        augmentation: Augmentation,
        device: Device,
    ) -> CloudData<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SAMPLE_SEED);
        let mut data = CloudData {
            dataset,
            points,
            augmentation,
            val: CloudSet { points: Tensor::new(), labels: Tensor::new() },
            test: CloudSet { points: Tensor::new(), labels: Tensor::new() },
            shape: CloudShape { dim: dataset.dim as i64, classes: dataset.num_classes() as i64 },
            device,
            pseudo: Vec::new(),
        };
        data.val = data.cloud_set(&dataset.val, None, &mut rng);
        data.test = data.cloud_set(&dataset.test, None, &mut rng);
        data
    }

    /// The same clouds with `pseudo` clouds added to the training ones (see [`CloudData::pseudo`]).
    pub fn with_pseudo(&self, pseudo: Vec<f32>) -> CloudData<'a> {
        let set = |s: &CloudSet| CloudSet { points: s.points.shallow_clone(), labels: s.labels.shallow_clone() };
        CloudData {
            augmentation: self.augmentation.clone(),
            val: set(&self.val),
            test: set(&self.test),
            pseudo,
            ..*self
        }
    }

    /// The ids an epoch trains on: the training clouds, then the pseudo clouds.
    pub fn train_ids(&self) -> Vec<usize> {
        let (n, pseudo) = (self.dataset.num_clouds(), self.pseudo.len() / (self.points * self.dataset.dim).max(1));
        self.dataset.train.iter().copied().chain(n..n + pseudo).collect()
    }

    /// The clouds at `ids`: sampled, normalised, augmented when `augmentation` is given.
    pub fn cloud_set(&self, ids: &[usize], augmentation: Option<&Augmentation>, rng: &mut impl Rng) -> CloudSet {
        let (d, n) = (self.dataset.dim, self.dataset.num_clouds());
        let width = self.points * d;
        let mut values = Vec::with_capacity(ids.len() * self.points * d);
        for &i in ids {
            let source = if i < n { self.dataset.cloud(i) } else { &self.pseudo[(i - n) * width..(i - n + 1) * width] };
            let mut cloud = sample_points(source, d, self.points, rng);
            normalize_unit_sphere(&mut cloud, d);
            if let Some(aug) = augmentation {
                augment(&mut cloud, d, aug, rng);
            }
            values.extend(cloud);
        }
        let labels: Vec<i64> = ids.iter().map(|&i| if i < n { self.dataset.labels[i] as i64 } else { -1 }).collect();
        CloudSet {
            points: Tensor::from_slice(&values).view([ids.len() as i64, self.points as i64, d as i64]).to(self.device),
            labels: Tensor::from_slice(&labels).to(self.device),
        }
    }

    /// A training batch of the clouds at `ids`, freshly sampled and augmented.
    pub fn train_batch(&self, ids: &[usize], rng: &mut impl Rng) -> CloudSet {
        self.cloud_set(ids, Some(&self.augmentation), rng)
    }
}
