//! The image-classification dataset type.

use serde::Serialize;

use crate::DatasetError;

/// Grayscale images of one size, with labels and a train/val/test split.
///
/// Invariants (checked by [`ImageDataset::validate`], which every loader calls): `images` holds
/// `labels.len() * height * width` values, each finite and in `0..=1`; every label is
/// `< num_classes`; split indices are in range and disjoint; the training split is not empty.
#[derive(Clone, Debug)]
pub struct ImageDataset {
    /// Short name (`mnist`, `digits`).
    pub name: String,
    /// Pixels `[n, height, width]`, row-major, scaled to `0..=1` (0 = background).
    pub images: Vec<f32>,
    /// Class of each image, `0..num_classes`.
    pub labels: Vec<usize>,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Training image indices.
    pub train: Vec<usize>,
    /// Validation image indices (carved from the training images).
    pub val: Vec<usize>,
    /// Test image indices.
    pub test: Vec<usize>,
}

/// The numbers that describe an image dataset, as reports show them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageSummary {
    /// Dataset name.
    pub name: String,
    /// Number of images.
    pub images: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
    /// Images per class, in class order.
    pub class_counts: Vec<usize>,
    /// Training images.
    pub train: usize,
    /// Validation images.
    pub val: usize,
    /// Test images.
    pub test: usize,
}

impl ImageDataset {
    /// Number of images.
    pub fn num_images(&self) -> usize {
        self.labels.len()
    }

    /// Pixels per image.
    pub fn pixels_per_image(&self) -> usize {
        self.height * self.width
    }

    /// The pixels of image `i`, row-major.
    pub fn image(&self, i: usize) -> &[f32] {
        let p = self.pixels_per_image();
        &self.images[i * p..(i + 1) * p]
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        crate::split::class_counts(&self.labels, self.num_classes)
    }

    /// The dataset's numbers.
    pub fn summary(&self) -> ImageSummary {
        ImageSummary {
            name: self.name.clone(),
            images: self.num_images(),
            height: self.height,
            width: self.width,
            classes: self.num_classes,
            class_counts: self.class_counts(),
            train: self.train.len(),
            val: self.val.len(),
            test: self.test.len(),
        }
    }

    /// Checks the invariants above.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let n = self.num_images();
        let bad = |m: String| Err(DatasetError::invalid(&self.name, m));
        if n == 0 || self.height == 0 || self.width == 0 {
            return bad(format!("{n} images of {}x{} pixels: nothing to learn from", self.height, self.width));
        }
        if self.images.len() != n * self.pixels_per_image() {
            return bad(format!("{} pixel values for {n} images of {}x{}", self.images.len(), self.height, self.width));
        }
        if self.num_classes == 0 {
            return bad("no classes".into());
        }
        if let Some((i, &y)) = self.labels.iter().enumerate().find(|(_, &y)| y >= self.num_classes) {
            return bad(format!("image {i} has label {y}, outside 0..{}", self.num_classes));
        }
        if let Some(k) = self.images.iter().position(|v| !(0.0..=1.0).contains(v)) {
            let p = self.pixels_per_image();
            return bad(format!("image {} pixel {} is {}: pixels must be in 0..=1", k / p, k % p, self.images[k]));
        }
        crate::split::check_splits(n, "image", [("train", &self.train), ("val", &self.val), ("test", &self.test)])
            .or_else(bad)
    }
}
