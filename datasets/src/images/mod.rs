//! Image-classification datasets: grayscale images with labels and a train/val/test split.
//!
//! Images are not node datasets (there is no graph between them), so they have their own type,
//! [`ImageDataset`], and their own entry point, [`load_images`]:
//!
//! | spec | source |
//! | --- | --- |
//! | `mnist:DIR` (or `mnist` for `DATA_DIR/mnist`) | training images from `DIR/train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]` when present, else `DIR/mnist_5k.csv[.gz]`; test images from `DIR/t10k-images-idx3-ubyte[.gz]` + `t10k-labels-idx1-ubyte[.gz]`; a tenth of the training images (per class, seed 0) is kept for validation |
//! | `digits:FILE` (or `digits` for `DATA_DIR/digits/digits.csv.gz`) | scikit-learn's 8x8 digits CSV (64 values `0..=16`, then the label); a seeded stratified split, 60% train / 10% val / 30% test per class |
//!
//! Readers: [`idx`] (MNIST's IDX format), [`csv`] (one image per line, pixels then the label).
//! Both accept gzip-compressed files (recognised by their magic bytes, not their name).
//!
//! ```
//! use gdistill_datasets::images::{is_image_spec, ImageSpec};
//! assert!(is_image_spec("mnist:data/mnist") && is_image_spec("digits") && !is_image_spec("cora"));
//! assert_eq!("digits:d.csv".parse::<ImageSpec>().unwrap(), ImageSpec::Digits("d.csv".into()));
//! ```

pub mod csv;
mod dataset;
pub mod idx;
mod read;
mod split;

use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use dataset::{ImageDataset, ImageSummary};
pub use split::stratified_split;

use crate::DatasetError;

/// The valid image spec forms, for error messages and `--help`.
pub const IMAGE_SPEC_FORMS: &str = "mnist:DIR (MNIST IDX/CSV files; `mnist` alone is DATA_DIR/mnist), \
digits:FILE (scikit-learn's 8x8 digits CSV; `digits` alone is DATA_DIR/digits/digits.csv.gz)";

/// Seed of the validation carve and of the digits split: fixed, so that every run of a
/// comparison sees the same images in each split.
const SPLIT_SEED: u64 = 0;

/// A parsed image dataset spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSpec {
    /// A directory of MNIST files.
    Mnist(PathBuf),
    /// A scikit-learn digits CSV file.
    Digits(PathBuf),
}

/// Whether `spec` names an image dataset (`mnist...` or `digits...`) rather than a node dataset.
pub fn is_image_spec(spec: &str) -> bool {
    let kind = spec.trim().split_once(':').map_or(spec.trim(), |(kind, _)| kind);
    matches!(kind.to_ascii_lowercase().as_str(), "mnist" | "digits")
}

impl FromStr for ImageSpec {
    type Err = DatasetError;

    fn from_str(spec: &str) -> Result<ImageSpec, DatasetError> {
        let trimmed = spec.trim();
        let (kind, rest) = trimmed.split_once(':').unwrap_or((trimmed, ""));
        let path = |default: &str| {
            let rest = rest.trim();
            PathBuf::from(if rest.is_empty() { default } else { rest })
        };
        match kind.to_ascii_lowercase().as_str() {
            "mnist" => Ok(ImageSpec::Mnist(path("mnist"))),
            "digits" => Ok(ImageSpec::Digits(path("digits/digits.csv.gz"))),
            _ => Err(DatasetError::spec(spec, format!("not an image dataset; valid forms: {IMAGE_SPEC_FORMS}"))),
        }
    }
}

/// `path` as given when it exists (or is absolute), else under `data_dir`.
fn resolve(path: &Path, data_dir: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let under = data_dir.join(path);
    if under.exists() {
        under
    } else {
        path.to_path_buf()
    }
}

impl ImageSpec {
    /// Reads, validates and splits the dataset; relative paths are tried as given, then under
    /// `data_dir`.
    pub fn load(&self, data_dir: &Path) -> Result<ImageDataset, DatasetError> {
        match self {
            ImageSpec::Mnist(dir) => load_mnist(&resolve(dir, data_dir)),
            ImageSpec::Digits(file) => load_digits(&resolve(file, data_dir)),
        }
    }
}

/// Parses `spec` and loads the image dataset it names.
pub fn load_images(spec: &str, data_dir: &Path) -> Result<ImageDataset, DatasetError> {
    spec.parse::<ImageSpec>()?.load(data_dir)
}

/// The first of `names` that exists in `dir`, else `dir/names[0]`.
fn first_existing(dir: &Path, names: &[&str]) -> PathBuf {
    names.iter().map(|n| dir.join(n)).find(|p| p.exists()).unwrap_or_else(|| dir.join(names[0]))
}

/// Images and labels from an IDX pair, checked against each other.
fn read_idx_pair(images_path: &Path, labels_path: &Path) -> Result<(idx::IdxImages, Vec<u8>), DatasetError> {
    let images = idx::read_idx_images(images_path)?;
    let labels = idx::read_idx_labels(labels_path)?;
    if images.count != labels.len() {
        return Err(DatasetError::format(
            images_path,
            format!("{} images but {} has {} labels", images.count, labels_path.display(), labels.len()),
        ));
    }
    Ok((images, labels))
}

/// MNIST from a directory (see the module documentation).
pub fn load_mnist(dir: &Path) -> Result<ImageDataset, DatasetError> {
    crate::input::check_input_dir(
        dir,
        "a directory of MNIST files (t10k-*-ubyte.gz and mnist_5k.csv.gz or train-*-ubyte.gz)",
    )?;
    let test_images = first_existing(dir, &["t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"]);
    let test_labels = first_existing(dir, &["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"]);
    let (test, test_y) = read_idx_pair(&test_images, &test_labels)?;
    let idx_train = first_existing(dir, &["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"]);
    let (mut pixels, mut labels, train_count) = if idx_train.exists() {
        let train_labels = first_existing(dir, &["train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"]);
        let (train, train_y) = read_idx_pair(&idx_train, &train_labels)?;
        if (train.height, train.width) != (test.height, test.width) {
            return Err(DatasetError::format(
                &idx_train,
                format!(
                    "{}x{} images but the test images are {}x{}",
                    train.height, train.width, test.height, test.width
                ),
            ));
        }
        let count = train.count;
        (
            train.pixels.iter().map(|&p| f32::from(p) / 255.0).collect::<Vec<_>>(),
            check_labels(&train_labels, &train_y)?,
            count,
        )
    } else {
        let csv_path = first_existing(dir, &["mnist_5k.csv.gz", "mnist_5k.csv"]);
        let hint =
            "MNIST training images: mnist_5k.csv.gz, or train-images-idx3-ubyte.gz with train-labels-idx1-ubyte.gz";
        if !csv_path.exists() {
            return Err(DatasetError::missing(&csv_path, Some(hint.into())));
        }
        let table = csv::read_pixel_csv(&csv_path, test.height * test.width, 255.0, 10)?;
        let count = table.labels.len();
        (table.pixels.iter().map(|&p| p / 255.0).collect(), table.labels, count)
    };
    let test_labels_checked = check_labels(&test_labels, &test_y)?;
    pixels.extend(test.pixels.iter().map(|&p| f32::from(p) / 255.0));
    labels.extend(test_labels_checked);
    let split = stratified_split(&labels[..train_count], 10, 0.1, 0.0, SPLIT_SEED);
    let dataset = ImageDataset {
        name: "mnist".into(),
        images: pixels,
        labels,
        height: test.height,
        width: test.width,
        num_classes: 10,
        train: split.train,
        val: split.val,
        test: (train_count..train_count + test.count).collect(),
    };
    dataset.validate()?;
    Ok(dataset)
}

/// MNIST labels as classes, refusing anything outside `0..10`.
fn check_labels(path: &Path, labels: &[u8]) -> Result<Vec<usize>, DatasetError> {
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y > 9) {
        return Err(DatasetError::format(path, format!("label {i} is {y}, outside 0..=9")));
    }
    Ok(labels.iter().map(|&y| usize::from(y)).collect())
}

/// scikit-learn's 8x8 digits (see the module documentation).
pub fn load_digits(path: &Path) -> Result<ImageDataset, DatasetError> {
    let table = csv::read_pixel_csv(path, 64, 16.0, 10)?;
    let split = stratified_split(&table.labels, 10, 0.1, 0.3, SPLIT_SEED);
    let dataset = ImageDataset {
        name: "digits".into(),
        images: table.pixels.iter().map(|&p| p / 16.0).collect(),
        labels: table.labels,
        height: 8,
        width: 8,
        num_classes: 10,
        train: split.train,
        val: split.val,
        test: split.test,
    };
    dataset.validate()?;
    Ok(dataset)
}
