//! Ensemble teachers and pseudo-data transfer sets for the image comparison.
//!
//! An ensemble teacher ([`ImageEnsemble`]) is K copies of the `teacher` row trained from
//! different seeds; the `+kd` rows that learn from it read its members' soft targets averaged
//! at their own temperature ([`crate::transfer::ensemble::combine_logits`]). A transfer set
//! ([`crate::transfer::transfer_set`]) adds pseudo images to the training images the `+kd` rows are
//! trained on; the teacher labels them (soft targets, and its argmax for the hard-label term):
//! no pseudo image carries a ground-truth label.

use std::rc::Rc;

use gdistill_models::{ImageModel, ModelOutput};
use tch::{Device, Kind, Tensor};

use super::{predict_images, random_shifts, ImageData, TrainedImageModel};
use crate::transfer::ensemble::{combine_logits, EnsembleCombine};
use crate::transfer::transfer_set::{mixup, munge_with_neighbours, TransferSet, MUNGE_LOCAL_SCALE};

/// K trained image classifiers read as one: logits combined at temperature 1.
pub struct ImageEnsemble {
    pub members: Vec<TrainedImageModel>,
    pub combine: EnsembleCombine,
}

impl ImageEnsemble {
    /// The members' logits on the images at `index`, combined at `temperature` (logits whose
    /// tempered softmax is the ensemble's soft targets).
    pub fn logits_at(&self, data: &ImageData, index: &Tensor, temperature: f64) -> Tensor {
        let logits: Vec<Tensor> = self.members.iter().map(|m| predict_images(m.model.as_ref(), data, index)).collect();
        combine_logits(&logits, self.combine, temperature)
    }
}

/// An [`ImageEnsemble`] shared between the comparison's teacher list and its `+kd` rows.
pub struct SharedEnsemble(pub Rc<ImageEnsemble>);

impl ImageModel for SharedEnsemble {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        let mut outputs: Vec<ModelOutput> = self.0.members.iter().map(|m| m.model.forward_t(images, train)).collect();
        let logits: Vec<Tensor> = outputs.iter().map(|o| o.logits.shallow_clone()).collect();
        let hidden = std::mem::take(&mut outputs[0].hidden);
        ModelOutput { logits: combine_logits(&logits, self.0.combine, 1.0), hidden }
    }
}

/// `count` pseudo images (`[count, H, W]`, on the data's device) made from the training images
/// as `set` says; `None` for the training set itself. Seeded by `seed`.
pub fn pseudo_images(data: &ImageData, set: TransferSet, seed: u64) -> Option<Tensor> {
    let train = data.images.index_select(0, &data.train);
    let (n, h, w) = (train.size()[0], data.shape.height, data.shape.width);
    let d = (h * w) as usize;
    let host = |t: &Tensor| Vec::<f32>::try_from(t.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1])).ok();
    let back = |v: Vec<f32>, count: usize| Tensor::from_slice(&v).view([count as i64, h, w]).to(data.device);
    match set {
        TransferSet::Train => None,
        TransferSet::Augmented { size } => {
            tch::manual_seed(seed as i64);
            let repeat = Tensor::arange(size as i64, (Kind::Int64, data.device)).remainder(n);
            // Hinton et al.'s jitter: up to two pixels on 28x28 images, one on small ones.
            let shift = if h.min(w) >= 20 { 2 } else { 1 };
            Some(random_shifts(&train.index_select(0, &repeat), shift))
        }
        TransferSet::Munge { size, p } => {
            let x = host(&train)?;
            let neighbours = nearest_neighbours_tensor(&train.reshape([n, -1]));
            Some(back(munge_with_neighbours(&x, d, &neighbours, size, p, MUNGE_LOCAL_SCALE, seed), size))
        }
        TransferSet::Mixup { size } => Some(back(mixup(&host(&train)?, d, size, seed), size)),
    }
}

/// Each row's nearest other row of `x` (`[n, d]`), squared Euclidean, in blocks of rows.
pub fn nearest_neighbours_tensor(x: &Tensor) -> Vec<usize> {
    tch::no_grad(|| {
        let x = x.to_kind(Kind::Float);
        let n = x.size()[0];
        let norms = x.square().sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        let mut out = Vec::with_capacity(n as usize);
        for start in (0..n).step_by(1024) {
            let rows = x.narrow(0, start, 1024.min(n - start));
            let m = rows.size()[0];
            let mut dist = norms.narrow(0, start, m).unsqueeze(1) + norms.unsqueeze(0) - rows.matmul(&x.tr()) * 2.0;
            let own = Tensor::arange_start(start, start + m, (Kind::Int64, x.device())).unsqueeze(1);
            dist = dist.scatter_value(1, &own, f64::INFINITY);
            let best = Vec::<i64>::try_from(dist.argmin(1, false).to_device(Device::Cpu)).expect("int64 indices");
            out.extend(best.into_iter().map(|i| i as usize));
        }
        out
    })
}

/// `data` with `pseudo` images appended to the images and to the training indices, labelled by
/// `teacher_logits_of` (its argmax); validation and test are unchanged.
pub fn with_pseudo_images(
    data: &ImageData,
    pseudo: &Tensor,
    teacher_logits_of: &dyn Fn(&ImageData, &Tensor) -> Tensor,
) -> ImageData {
    let total = data.images.size()[0];
    let count = pseudo.size()[0];
    let added = Tensor::arange_start(total, total + count, (Kind::Int64, data.device));
    let mut extended = ImageData {
        images: Tensor::cat(&[&data.images, pseudo], 0),
        labels: Tensor::cat(&[data.labels.shallow_clone(), added.zeros_like()], 0),
        train: Tensor::cat(&[&data.train, &added], 0),
        val: data.val.shallow_clone(),
        test: data.test.shallow_clone(),
        shape: data.shape,
        device: data.device,
    };
    let labels = teacher_logits_of(&extended, &added).argmax(-1, false);
    extended.labels = Tensor::cat(&[data.labels.shallow_clone(), labels], 0);
    extended
}
