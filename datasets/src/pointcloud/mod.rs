//! Point-cloud classification datasets in the ModelNet40 HDF5 layout (`modelnet40_ply_hdf5_2048`).
//!
//! | object | type, shape | meaning |
//! | --- | --- | --- |
//! | `data` | float `[N, P, D]`, `D` 3 (or 2 for planar clouds such as MNIST digits) | `P` points per cloud |
//! | `label` | any integer type, `[N, 1]` or `[N]` | class of each cloud, `0..C` |
//! | `normal` | float `[N, P, D]` (optional) | a normal per point |
//!
//! A dataset is a directory holding `train_files.txt` and `test_files.txt` (one `.h5` file per
//! line; the official release writes `data/modelnet40_ply_hdf5_2048/ply_data_train0.h5`, so a
//! name not found as given is looked up by its base name in the directory) and, optionally,
//! `shape_names.txt` (one class name per line; without it `C = max(label) + 1`). Spec forms:
//!
//! - `modelnet:DIR` — the directory above;
//! - `modelnet:train=A.h5+B.h5,test=C.h5` — the `.h5` files directly (no class names).
//!
//! Everything is validated on the way in ([`read`]): a wrong rank, a third dimension other than
//! 2 or 3, a non-float `data`, a non-integer `label`, a label count differing from the clouds, a
//! label outside the classes, a non-finite coordinate, files disagreeing on `P` or `D`, a declared
//! size that would not fit in memory — each a [`DatasetError`] naming the file and the dataset.
//! A tenth of the training clouds (per class, seed 0) is kept for validation, as for MNIST.
//!
//! [`sample`] draws `P` points per cloud, normalises to the unit sphere and augments (seeded);
//! [`write`](mod@write) writes the layout atomically; [`from_images`] turns images into 2-D clouds.
//!
//! ```
//! use gdistill_datasets::pointcloud::{is_pointcloud_spec, PointCloudSpec};
//! assert!(is_pointcloud_spec("modelnet:data/pc") && !is_pointcloud_spec("mnist"));
//! assert!(matches!("modelnet:train=a.h5,test=b.h5".parse::<PointCloudSpec>(), Ok(PointCloudSpec::Files { .. })));
//! ```

pub mod from_images;
pub mod read;
pub mod sample;
pub mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

pub use from_images::images_to_clouds;
pub use read::{read_cloud_file, CloudFile};
pub use sample::{augment, normalize_unit_sphere, sample_points, Augmentation};
pub use write::write_modelnet;

use crate::DatasetError;

/// The valid point-cloud spec forms, for error messages and `--help`.
pub const POINTCLOUD_SPEC_FORMS: &str = "modelnet:DIR (train_files.txt, test_files.txt, shape_names.txt and \
the .h5 files they name) or modelnet:train=A.h5+B.h5,test=C.h5";

/// Seed of the validation carve: fixed, so that every run sees the same validation clouds.
const SPLIT_SEED: u64 = 0;

/// Point clouds of one size with labels and a train/val/test split.
///
/// Invariants ([`PointCloudDataset::validate`]): `points` holds `labels.len() * points_per_cloud
/// * dim` finite values; `normals`, when present, as many; every label is `< class_names.len()`;
/// split indices in range and disjoint; a non-empty training split.
#[derive(Clone, Debug)]
pub struct PointCloudDataset {
    /// Short name (the directory's).
    pub name: String,
    /// Coordinates `[n, points_per_cloud, dim]`, row-major.
    pub points: Vec<f32>,
    /// Normals, same shape, when the files have them.
    pub normals: Option<Vec<f32>>,
    /// Points in every cloud.
    pub points_per_cloud: usize,
    /// Coordinates per point: 3, or 2 for planar clouds.
    pub dim: usize,
    /// Class of each cloud, `0..class_names.len()`.
    pub labels: Vec<usize>,
    /// One name per class (`shape_names.txt`, else the class numbers).
    pub class_names: Vec<String>,
    /// Training cloud indices.
    pub train: Vec<usize>,
    /// Validation cloud indices (carved from the training files).
    pub val: Vec<usize>,
    /// Test cloud indices.
    pub test: Vec<usize>,
}

/// The numbers that describe a point-cloud dataset, as reports show them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointCloudSummary {
    /// Dataset name.
    pub name: String,
    /// Number of clouds.
    pub clouds: usize,
    /// Points per cloud in the files.
    pub points_per_cloud: usize,
    /// Coordinates per point.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
    /// Class names.
    pub class_names: Vec<String>,
    /// Training clouds.
    pub train: usize,
    /// Validation clouds.
    pub val: usize,
    /// Test clouds.
    pub test: usize,
}

impl PointCloudDataset {
    /// Number of clouds.
    pub fn num_clouds(&self) -> usize {
        self.labels.len()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The coordinates of cloud `i`, `[points_per_cloud, dim]` row-major.
    pub fn cloud(&self, i: usize) -> &[f32] {
        let len = self.points_per_cloud * self.dim;
        &self.points[i * len..(i + 1) * len]
    }

    /// The dataset's numbers.
    pub fn summary(&self) -> PointCloudSummary {
        PointCloudSummary {
            name: self.name.clone(),
            clouds: self.num_clouds(),
            points_per_cloud: self.points_per_cloud,
            dim: self.dim,
            classes: self.num_classes(),
            class_names: self.class_names.clone(),
            train: self.train.len(),
            val: self.val.len(),
            test: self.test.len(),
        }
    }

    /// Checks the invariants above.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let n = self.num_clouds();
        let bad = |m: String| Err(DatasetError::invalid(&self.name, m));
        if n == 0 || self.points_per_cloud == 0 || !matches!(self.dim, 2 | 3) {
            return bad(format!("{n} clouds of {} points in {} dimensions", self.points_per_cloud, self.dim));
        }
        let len = n * self.points_per_cloud * self.dim;
        if self.points.len() != len || self.normals.as_ref().is_some_and(|v| v.len() != len) {
            return bad(format!(
                "{} coordinates for {n} clouds of {} points",
                self.points.len(),
                self.points_per_cloud
            ));
        }
        if let Some(k) = self.points.iter().position(|v| !v.is_finite()) {
            let per = self.points_per_cloud * self.dim;
            return bad(format!("cloud {} has a non-finite coordinate ({})", k / per, self.points[k]));
        }
        if self.class_names.is_empty() {
            return bad("no classes".into());
        }
        if let Some((i, &y)) = self.labels.iter().enumerate().find(|(_, &y)| y >= self.num_classes()) {
            return bad(format!("cloud {i} has label {y}, outside 0..{}", self.num_classes()));
        }
        crate::split::check_splits(n, "cloud", [("train", &self.train), ("val", &self.val), ("test", &self.test)])
            .or_else(bad)
    }
}

/// A parsed point-cloud spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointCloudSpec {
    /// A directory with `train_files.txt`, `test_files.txt` and (optionally) `shape_names.txt`.
    Dir(PathBuf),
    /// `.h5` files named directly.
    Files {
        /// Files of training (and validation) clouds.
        train: Vec<PathBuf>,
        /// Files of test clouds.
        test: Vec<PathBuf>,
    },
}

/// Whether `spec` names a point-cloud dataset (`modelnet:...`).
pub fn is_pointcloud_spec(spec: &str) -> bool {
    spec.trim().split_once(':').is_some_and(|(kind, _)| kind.eq_ignore_ascii_case("modelnet"))
}

impl FromStr for PointCloudSpec {
    type Err = DatasetError;

    fn from_str(spec: &str) -> Result<PointCloudSpec, DatasetError> {
        let bad = |m: &str| DatasetError::spec(spec, format!("{m}; valid forms: {POINTCLOUD_SPEC_FORMS}"));
        let rest = match spec.trim().split_once(':') {
            Some((kind, rest)) if kind.eq_ignore_ascii_case("modelnet") => rest.trim(),
            _ => return Err(bad("not a point-cloud dataset")),
        };
        if rest.is_empty() {
            return Err(bad("the directory is empty"));
        }
        if !rest.starts_with("train=") {
            return Ok(PointCloudSpec::Dir(PathBuf::from(rest)));
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for part in rest.split(',') {
            let files = |list: &str| -> Vec<PathBuf> {
                list.split('+').filter(|s| !s.trim().is_empty()).map(|s| PathBuf::from(s.trim())).collect()
            };
            match part.split_once('=') {
                Some(("train", list)) => train.extend(files(list)),
                Some(("test", list)) => test.extend(files(list)),
                _ => return Err(bad(&format!("'{part}' is neither train=FILES nor test=FILES"))),
            }
        }
        if train.is_empty() || test.is_empty() {
            return Err(bad("both train= and test= need at least one file"));
        }
        Ok(PointCloudSpec::Files { train, test })
    }
}

/// `path` as given when it exists (or is absolute), else under `data_dir`.
fn resolve(path: &Path, data_dir: &Path) -> PathBuf {
    if path.exists() || path.is_absolute() || !data_dir.join(path).exists() {
        path.to_path_buf()
    } else {
        data_dir.join(path)
    }
}

impl PointCloudSpec {
    /// Reads, validates and splits the dataset; relative paths are tried as given, then under
    /// `data_dir`.
    pub fn load(&self, data_dir: &Path) -> Result<PointCloudDataset, DatasetError> {
        match self {
            PointCloudSpec::Dir(dir) => load_modelnet_dir(&resolve(dir, data_dir)),
            PointCloudSpec::Files { train, test } => {
                let all = |v: &[PathBuf]| v.iter().map(|p| resolve(p, data_dir)).collect::<Vec<_>>();
                load_modelnet_files("modelnet", &all(train), &all(test), None)
            }
        }
    }
}

/// Parses `spec` and loads the point-cloud dataset it names.
pub fn load_pointclouds(spec: &str, data_dir: &Path) -> Result<PointCloudDataset, DatasetError> {
    spec.parse::<PointCloudSpec>()?.load(data_dir)
}

/// The non-empty lines of a small text file (a list of files, class names).
fn read_lines(path: &Path, hint: &str) -> Result<Vec<String>, DatasetError> {
    let bytes = crate::input::read_input_bytes(path, &crate::input::InputKind::small(hint))?;
    let text = String::from_utf8(bytes).map_err(|_| DatasetError::format(path, "not UTF-8 text"))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// A file named in a list: as given under `dir`, else by its base name in `dir`.
fn listed_file(dir: &Path, entry: &str) -> PathBuf {
    let direct = dir.join(entry);
    match Path::new(entry).file_name() {
        Some(base) if !direct.exists() => dir.join(base),
        _ => direct,
    }
}

/// A ModelNet directory (see the module documentation).
pub fn load_modelnet_dir(dir: &Path) -> Result<PointCloudDataset, DatasetError> {
    crate::input::check_input_dir(dir, "a directory with train_files.txt and test_files.txt")?;
    let list = |name: &str| -> Result<Vec<PathBuf>, DatasetError> {
        let path = dir.join(name);
        let lines = read_lines(&path, "the list of .h5 files of a ModelNet split")?;
        if lines.is_empty() {
            return Err(DatasetError::format(&path, "names no .h5 file"));
        }
        Ok(lines.iter().map(|l| listed_file(dir, l)).collect())
    };
    let (train, test) = (list("train_files.txt")?, list("test_files.txt")?);
    let names_path = dir.join("shape_names.txt");
    let class_names = if names_path.exists() { Some(read_lines(&names_path, "class names")?) } else { None };
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "modelnet".into());
    load_modelnet_files(&name, &train, &test, class_names.map(|n| (names_path, n)))
}

/// Clouds from the `train` and `test` files; `class_names` (with the file they came from) bound
/// the labels, else `C = max(label) + 1`.
pub fn load_modelnet_files(
    name: &str,
    train: &[PathBuf],
    test: &[PathBuf],
    class_names: Option<(PathBuf, Vec<String>)>,
) -> Result<PointCloudDataset, DatasetError> {
    let mut files: Vec<(PathBuf, CloudFile, bool)> = Vec::new();
    for (paths, is_test) in [(train, false), (test, true)] {
        for path in paths {
            files.push((path.clone(), read_cloud_file(path)?, is_test));
        }
    }
    let (first_path, first, _) = &files[0];
    let (p, d) = (first.points_per_cloud, first.dim);
    if let Some((path, f, _)) = files.iter().find(|(_, f, _)| (f.points_per_cloud, f.dim) != (p, d)) {
        return Err(DatasetError::format(
            path,
            format!(
                "'data' holds clouds of {} points in {} dimensions, but {} holds {p} points in {d}",
                f.points_per_cloud,
                f.dim,
                first_path.display()
            ),
        ));
    }
    let with_normals = files.iter().all(|(_, f, _)| f.normals.is_some());
    let max_label = files.iter().flat_map(|(_, f, _)| f.labels.iter().copied()).max().unwrap_or(0);
    let class_names = match class_names {
        Some((path, names)) => {
            for (file, f, _) in &files {
                if let Some((i, &y)) = f.labels.iter().enumerate().find(|(_, &y)| y >= names.len()) {
                    return Err(DatasetError::format(
                        file,
                        format!(
                            "'label' of cloud {i} is {y}, outside 0..{} (the classes in {})",
                            names.len(),
                            path.display()
                        ),
                    ));
                }
            }
            names
        }
        None => (0..=max_label).map(|c| c.to_string()).collect(),
    };
    let mut dataset = PointCloudDataset {
        name: name.to_string(),
        points: Vec::new(),
        normals: with_normals.then(Vec::new),
        points_per_cloud: p,
        dim: d,
        labels: Vec::new(),
        class_names,
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    let mut train_pool = Vec::new();
    for (_, file, is_test) in files {
        let start = dataset.labels.len();
        let range = start..start + file.labels.len();
        if is_test {
            dataset.test.extend(range)
        } else {
            train_pool.extend(range)
        }
        dataset.points.extend_from_slice(&file.points);
        if let (Some(all), Some(n)) = (dataset.normals.as_mut(), file.normals.as_ref()) {
            all.extend_from_slice(n);
        }
        dataset.labels.extend_from_slice(&file.labels);
    }
    let pool_labels: Vec<usize> = train_pool.iter().map(|&i| dataset.labels[i]).collect();
    let split = crate::images::stratified_split(&pool_labels, dataset.num_classes(), 0.1, 0.0, SPLIT_SEED);
    dataset.train = split.train.iter().map(|&k| train_pool[k]).collect();
    dataset.val = split.val.iter().map(|&k| train_pool[k]).collect();
    dataset.validate()?;
    Ok(dataset)
}
