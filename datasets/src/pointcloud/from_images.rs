//! Images as 2-D point clouds: the ink pixels as points, a fixed number per image (the PointNet
//! papers' MNIST benchmark). The grid is gone: a classifier sees an unordered set of positions.
//!
//! A pixel is ink when its intensity exceeds `threshold` (intensities are in `0..=1`). Its point
//! is `(x, y) = ((col + 0.5) / W * 2 - 1, 1 - (row + 0.5) / H * 2)`, so the image fills
//! `[-1, 1]^2` with y up. Each image gives exactly `points` points: a uniform subset of its ink
//! pixels, or all of them and random repeats when it has fewer ([`sample_points`]). An image
//! without ink is an error naming it. The split and the labels are the image dataset's.
//!
//! ```
//! use gdistill_datasets::{pointcloud::images_to_clouds, ImageDataset};
//! let mut images = vec![0.0f32; 2 * 4 * 4];
//! images[5] = 1.0; // image 0: one ink pixel at row 1, column 1
//! images[16 + 15] = 0.9; // image 1: the bottom-right pixel
//! let d = ImageDataset { name: "t".into(), images, labels: vec![0, 1], height: 4, width: 4,
//!     num_classes: 2, train: vec![0], val: vec![], test: vec![1] };
//! let clouds = images_to_clouds(&d, 3, 0.5, 0).unwrap();
//! assert_eq!(clouds.cloud(0), &[-0.25, 0.25, -0.25, 0.25, -0.25, 0.25]);
//! assert_eq!(clouds.cloud(1)[..2], [0.75, -0.75]);
//! ```

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{sample_points, PointCloudDataset};
use crate::{DatasetError, ImageDataset};

/// Converts every image of `images` to a cloud of `points` 2-D points (see the module docs).
pub fn images_to_clouds(
    images: &ImageDataset,
    points: usize,
    threshold: f32,
    seed: u64,
) -> Result<PointCloudDataset, DatasetError> {
    if points == 0 {
        return Err(DatasetError::invalid(&images.name, "0 points per cloud"));
    }
    let (h, w) = (images.height, images.width);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut all = Vec::with_capacity(images.num_images() * points * 2);
    let mut ink = Vec::with_capacity(h * w * 2);
    for i in 0..images.num_images() {
        ink.clear();
        for (k, &v) in images.image(i).iter().enumerate() {
            if v > threshold {
                let (row, col) = (k / w, k % w);
                ink.push((col as f32 + 0.5) / w as f32 * 2.0 - 1.0);
                ink.push(1.0 - (row as f32 + 0.5) / h as f32 * 2.0);
            }
        }
        if ink.is_empty() {
            return Err(DatasetError::invalid(
                &images.name,
                format!("image {i} has no pixel above the ink threshold {threshold}: it would be an empty cloud"),
            ));
        }
        all.extend(sample_points(&ink, 2, points, &mut rng));
    }
    let dataset = PointCloudDataset {
        name: format!("{}-points", images.name),
        points: all,
        normals: None,
        points_per_cloud: points,
        dim: 2,
        labels: images.labels.clone(),
        class_names: (0..images.num_classes).map(|c| c.to_string()).collect(),
        train: images.train.clone(),
        val: images.val.clone(),
        test: images.test.clone(),
    };
    dataset.validate()?;
    Ok(dataset)
}
