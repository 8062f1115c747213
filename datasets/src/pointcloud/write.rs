//! Writing a [`PointCloudDataset`] in the ModelNet40 HDF5 layout, every file atomically.
//!
//! `DIR/ply_data_train0.h5` holds the training and validation clouds (in index order: the
//! loader carves validation again, with the same seed), `DIR/ply_data_test0.h5` the test clouds;
//! `data` float32 `[N, P, D]`, `label` uint8 `[N, 1]` (int64 beyond 256 classes), `normal` when
//! the dataset has normals; then `shape_names.txt`, `train_files.txt`, `test_files.txt`. Each
//! file is written to a temporary name in `DIR` and renamed into place, so a reader never sees
//! half a file.

use std::path::Path;

use super::PointCloudDataset;
use crate::atomic::write_dataset_file;
use crate::DatasetError;

fn write_h5(tmp: &Path, dataset: &PointCloudDataset, clouds: &[usize]) -> hdf5::Result<()> {
    let (p, d) = (dataset.points_per_cloud, dataset.dim);
    let gather = |values: &[f32]| -> Vec<f32> {
        clouds.iter().flat_map(|&i| values[i * p * d..(i + 1) * p * d].iter().copied()).collect()
    };
    let file = crate::h5file::create(tmp)?;
    file.new_dataset::<f32>().shape([clouds.len(), p, d]).create("data")?.write_raw(&gather(&dataset.points))?;
    if let Some(normals) = &dataset.normals {
        file.new_dataset::<f32>().shape([clouds.len(), p, d]).create("normal")?.write_raw(&gather(normals))?;
    }
    let labels = clouds.iter().map(|&i| dataset.labels[i]);
    if dataset.num_classes() <= 256 {
        let labels: Vec<u8> = labels.map(|y| y as u8).collect();
        file.new_dataset::<u8>().shape([clouds.len(), 1]).create("label")?.write_raw(&labels)?;
    } else {
        let labels: Vec<i64> = labels.map(|y| y as i64).collect();
        file.new_dataset::<i64>().shape([clouds.len(), 1]).create("label")?.write_raw(&labels)?;
    }
    file.close()
}

fn write_text(path: &Path, lines: &[String]) -> Result<(), DatasetError> {
    let mut text = lines.join("\n");
    text.push('\n');
    write_dataset_file(path, "writing", |tmp| std::fs::write(tmp, text.as_bytes()))
}

/// Writes `dataset` into `dir` (created when missing) in the layout above.
pub fn write_modelnet(dir: &Path, dataset: &PointCloudDataset) -> Result<(), DatasetError> {
    dataset.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    let mut train: Vec<usize> = dataset.train.iter().chain(&dataset.val).copied().collect();
    train.sort_unstable();
    let (train_name, test_name) = ("ply_data_train0.h5", "ply_data_test0.h5");
    write_dataset_file(&dir.join(train_name), "writing", |tmp| write_h5(tmp, dataset, &train))?;
    write_dataset_file(&dir.join(test_name), "writing", |tmp| write_h5(tmp, dataset, &dataset.test))?;
    write_text(&dir.join("shape_names.txt"), &dataset.class_names)?;
    write_text(&dir.join("train_files.txt"), &[train_name.to_string()])?;
    write_text(&dir.join("test_files.txt"), &[test_name.to_string()])
}
