//! Sampling a fixed number of points per cloud, normalising to the unit sphere, and the seeded
//! training augmentations of the PointNet / DGCNN recipes.
//!
//! Every function takes one cloud as a row-major `[points, dim]` slice and an explicit random
//! generator, so a seed fixes the result.
//!
//! ```
//! use gdistill_datasets::pointcloud::{normalize_unit_sphere, sample_points};
//! use rand::SeedableRng;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let cloud = [0.0f32, 0.0, 2.0, 0.0, 4.0, 0.0]; // three 2-D points
//! let mut two = sample_points(&cloud, 2, 2, &mut rng);
//! assert_eq!(two.len(), 4);
//! normalize_unit_sphere(&mut two, 2);
//! let norms: Vec<f32> = two.chunks(2).map(|p| (p[0] * p[0] + p[1] * p[1]).sqrt()).collect();
//! assert!((norms.iter().cloned().fold(0.0, f32::max) - 1.0).abs() < 1e-6);
//! ```

use rand::seq::index;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// `count` points of `cloud`: a uniform subset without replacement when the cloud has enough,
/// else every point plus random repeats (the PointNet convention for small clouds).
pub fn sample_points(cloud: &[f32], dim: usize, count: usize, rng: &mut impl Rng) -> Vec<f32> {
    let available = cloud.len() / dim.max(1);
    if available == 0 {
        return vec![0.0; count * dim];
    }
    let mut chosen: Vec<usize> = if count <= available {
        index::sample(rng, available, count).into_vec()
    } else {
        (0..available).chain((available..count).map(|_| rng.random_range(0..available))).collect()
    };
    // ascending order keeps a sampled cloud's points in file order: sampling picks which, not how
    chosen.sort_unstable();
    chosen.iter().flat_map(|&i| cloud[i * dim..(i + 1) * dim].iter().copied()).collect()
}

/// Centres `cloud` on its mean and scales it so that its farthest point is at distance 1 (a
/// single repeated point stays at the origin).
pub fn normalize_unit_sphere(cloud: &mut [f32], dim: usize) {
    let n = cloud.len() / dim.max(1);
    if n == 0 {
        return;
    }
    for axis in 0..dim {
        let mean = cloud.iter().skip(axis).step_by(dim).map(|&v| v as f64).sum::<f64>() / n as f64;
        cloud.iter_mut().skip(axis).step_by(dim).for_each(|v| *v -= mean as f32);
    }
    let radius = cloud.chunks(dim).map(|p| p.iter().map(|v| v * v).sum::<f32>().sqrt()).fold(0.0, f32::max);
    if radius > 0.0 {
        cloud.iter_mut().for_each(|v| *v /= radius);
    }
}

/// Training augmentations, applied in this order: rotation about the up axis, anisotropic
/// scaling, translation, jitter, point dropout. Each is off at its neutral value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augmentation {
    /// Rotate 3-D clouds by a uniform angle about `up_axis` (ignored for 2-D clouds).
    pub rotate_up: bool,
    /// The up axis for `rotate_up`: 0, 1 (y, ModelNet's) or 2.
    pub up_axis: usize,
    /// Each axis scaled by a factor drawn uniformly from `[scale_low, scale_high]`.
    pub scale_low: f32,
    /// Upper end of the scale range.
    pub scale_high: f32,
    /// Each axis shifted by a uniform amount in `[-translate, translate]`.
    pub translate: f32,
    /// Gaussian noise of this standard deviation on every coordinate, clipped to `±jitter_clip`.
    pub jitter_sigma: f32,
    /// Largest jitter, either way.
    pub jitter_clip: f32,
    /// A fraction drawn uniformly from `[0, dropout_max]` of the points is replaced by the
    /// first point (PointNet++'s random input dropout; the count stays fixed).
    pub dropout_max: f32,
}

impl Augmentation {
    /// No augmentation at all.
    pub fn none() -> Augmentation {
        Augmentation {
            rotate_up: false,
            up_axis: 1,
            scale_low: 1.0,
            scale_high: 1.0,
            translate: 0.0,
            jitter_sigma: 0.0,
            jitter_clip: 0.0,
            dropout_max: 0.0,
        }
    }

    /// The DGCNN classification recipe: scaling in `[2/3, 3/2]`, translation `±0.2`, jitter
    /// `0.01` clipped at `0.02`, no rotation, no dropout.
    pub fn dgcnn() -> Augmentation {
        Augmentation {
            scale_low: 2.0 / 3.0,
            scale_high: 1.5,
            translate: 0.2,
            jitter_sigma: 0.01,
            jitter_clip: 0.02,
            ..Augmentation::none()
        }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        let ok = self.up_axis < 3
            && self.scale_low > 0.0
            && self.scale_low <= self.scale_high
            && self.translate >= 0.0
            && self.jitter_sigma >= 0.0
            && self.jitter_clip >= 0.0
            && (0.0..1.0).contains(&self.dropout_max);
        ok.then_some(()).ok_or_else(|| format!("bad augmentation settings {self:?}"))
    }
}

/// A standard normal draw (Box-Muller; `rand` 0.9 itself has no normal distribution).
fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]: the log is finite
    let v: f64 = rng.random();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Applies `aug` to `cloud` (`[points, dim]`) in place.
pub fn augment(cloud: &mut [f32], dim: usize, aug: &Augmentation, rng: &mut impl Rng) {
    let n = cloud.len() / dim.max(1);
    if aug.rotate_up && dim == 3 {
        let angle = rng.random_range(0.0..std::f32::consts::TAU);
        let (sin, cos) = angle.sin_cos();
        let (a, b) = ((aug.up_axis + 1) % 3, (aug.up_axis + 2) % 3);
        for p in cloud.chunks_mut(3) {
            let (x, y) = (p[a], p[b]);
            p[a] = cos * x - sin * y;
            p[b] = sin * x + cos * y;
        }
    }
    if aug.scale_low != 1.0 || aug.scale_high != 1.0 || aug.translate > 0.0 {
        let scale: Vec<f32> = (0..dim).map(|_| rng.random_range(aug.scale_low..=aug.scale_high)).collect();
        let shift: Vec<f32> = (0..dim).map(|_| rng.random_range(-aug.translate..=aug.translate)).collect();
        for p in cloud.chunks_mut(dim) {
            for axis in 0..dim {
                p[axis] = p[axis] * scale[axis] + shift[axis];
            }
        }
    }
    if aug.jitter_sigma > 0.0 {
        for v in cloud.iter_mut() {
            *v += (aug.jitter_sigma * standard_normal(rng)).clamp(-aug.jitter_clip, aug.jitter_clip);
        }
    }
    if aug.dropout_max > 0.0 && n > 1 {
        let ratio = rng.random_range(0.0..aug.dropout_max);
        let first: Vec<f32> = cloud[..dim].to_vec();
        for i in 1..n {
            if rng.random::<f32>() < ratio {
                cloud[i * dim..(i + 1) * dim].copy_from_slice(&first);
            }
        }
    }
}
