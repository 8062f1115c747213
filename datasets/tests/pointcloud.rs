//! ModelNet-layout point clouds: the reader against files written by hand with the hdf5 crate
//! (good and bad), the writer round trip, sampling / normalisation / augmentation, the image
//! converter, and the real chair/monitor set.

#[path = "../../tests/support/data.rs"]
mod data;

use std::path::Path;

use gdistill_datasets::h5graph::hdf5;
use gdistill_datasets::pointcloud::{
    augment, images_to_clouds, load_modelnet_dir, normalize_unit_sphere, sample_points, write_modelnet, Augmentation,
};
use gdistill_datasets::{load_pointclouds, DatasetError, ImageDataset, PointCloudDataset};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A directory with one train and one test file written by `make` and the three text files.
fn modelnet_dir(make: impl Fn(&hdf5::File, bool) -> hdf5::Result<()>, classes: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, is_test) in [("ply_data_train0.h5", false), ("ply_data_test0.h5", true)] {
        let file = gdistill_datasets::h5file::create(dir.path().join(name)).unwrap();
        make(&file, is_test).unwrap();
    }
    std::fs::write(dir.path().join("train_files.txt"), "data/modelnet40_ply_hdf5_2048/ply_data_train0.h5\n").unwrap();
    std::fs::write(dir.path().join("test_files.txt"), "ply_data_test0.h5\n").unwrap();
    std::fs::write(dir.path().join("shape_names.txt"), classes.join("\n")).unwrap();
    dir
}

fn cloud_values(n: usize, p: usize, d: usize) -> Vec<f32> {
    (0..n * p * d).map(|k| ((k * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

/// Good files: `n` clouds of `p` points, labels `k % 2` as uint8 `[n, 1]`.
fn good(file: &hdf5::File, is_test: bool) -> hdf5::Result<()> {
    let n = if is_test { 4 } else { 20 };
    file.new_dataset::<f32>().shape([n, 16, 3]).create("data")?.write_raw(&cloud_values(n, 16, 3))?;
    let labels: Vec<u8> = (0..n).map(|k| (k % 2) as u8).collect();
    file.new_dataset::<u8>().shape([n, 1]).create("label")?.write_raw(&labels)
}

fn format_error(dir: &Path) -> String {
    match load_modelnet_dir(dir) {
        Err(e @ DatasetError::Format { .. }) => e.to_string(),
        Err(e) => panic!("expected a format error, got {e}"),
        Ok(_) => panic!("a bad file was accepted"),
    }
}

#[test]
fn reads_the_layout_and_carves_validation() {
    let dir = modelnet_dir(good, &["chair", "monitor"]);
    let d = load_modelnet_dir(dir.path()).unwrap();
    assert_eq!((d.num_clouds(), d.points_per_cloud, d.dim, d.num_classes()), (24, 16, 3, 2));
    assert_eq!((d.train.len(), d.val.len(), &d.test), (18, 2, &vec![20, 21, 22, 23]));
    assert_eq!(d.cloud(1), &cloud_values(20, 16, 3)[48..96]);
    assert_eq!(d.labels[..4], [0, 1, 0, 1]);
}

#[test]
fn labels_of_rank_one_and_any_integer_type_read_the_same() {
    let dir = modelnet_dir(
        |f, is_test| {
            let n = if is_test { 4 } else { 20 };
            f.new_dataset::<f64>()
                .shape([n, 16, 3])
                .create("data")?
                .write_raw(&cloud_values(n, 16, 3).iter().map(|&v| v as f64).collect::<Vec<_>>())?;
            let labels: Vec<i32> = (0..n as i32).map(|k| k % 2).collect();
            f.new_dataset::<i32>().shape([n]).create("label")?.write_raw(&labels)
        },
        &["a", "b"],
    );
    let d = load_modelnet_dir(dir.path()).unwrap();
    let reference = load_modelnet_dir(modelnet_dir(good, &["a", "b"]).path()).unwrap();
    assert_eq!((d.points, d.labels), (reference.points, reference.labels));
}

#[test]
fn rejects_wrong_shapes_with_the_file_and_dataset_named() {
    let rank2 = modelnet_dir(
        |f, _| {
            f.new_dataset::<f32>().shape([4, 48]).create("data")?.write_raw(&cloud_values(4, 16, 3))?;
            f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&[0u8, 1, 0, 1])
        },
        &["a", "b"],
    );
    let msg = format_error(rank2.path());
    assert!(msg.contains("ply_data_train0.h5") && msg.contains("'data' has shape [4, 48]"), "{msg}");

    let four_d = modelnet_dir(
        |f, _| {
            f.new_dataset::<f32>().shape([4, 12, 4]).create("data")?.write_raw(&cloud_values(4, 12, 4))?;
            f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&[0u8, 1, 0, 1])
        },
        &["a", "b"],
    );
    assert!(format_error(four_d.path()).contains("expected [clouds, points, 3]"));

    let label_count = modelnet_dir(
        |f, _| {
            f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&cloud_values(4, 16, 3))?;
            f.new_dataset::<u8>().shape([3, 1]).create("label")?.write_raw(&[0u8, 1, 0])
        },
        &["a", "b"],
    );
    let msg = format_error(label_count.path());
    assert!(msg.contains("'label' has shape [3, 1], expected [4, 1] or [4]"), "{msg}");

    let missing = modelnet_dir(
        |f, _| f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&cloud_values(4, 16, 3)),
        &["a", "b"],
    );
    assert!(format_error(missing.path()).contains("missing dataset 'label'"));
}

#[test]
fn rejects_wrong_dtypes() {
    let int_data = modelnet_dir(
        |f, _| {
            f.new_dataset::<i32>().shape([4, 16, 3]).create("data")?.write_raw(&[0i32; 4 * 16 * 3])?;
            f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&[0u8, 1, 0, 1])
        },
        &["a", "b"],
    );
    let msg = format_error(int_data.path());
    assert!(msg.contains("'data' has type") && msg.contains("expected float32"), "{msg}");

    let float_labels = modelnet_dir(
        |f, _| {
            f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&cloud_values(4, 16, 3))?;
            f.new_dataset::<f32>().shape([4, 1]).create("label")?.write_raw(&[0f32, 1.0, 0.0, 1.0])
        },
        &["a", "b"],
    );
    let msg = format_error(float_labels.path());
    assert!(msg.contains("'label' has type") && msg.contains("expected an integer type"), "{msg}");
}

#[test]
fn rejects_labels_outside_the_classes_and_non_finite_points() {
    let dir = modelnet_dir(
        |f, is_test| {
            f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&cloud_values(4, 16, 3))?;
            let labels = if is_test { [0u8, 1, 2, 1] } else { [0u8, 1, 0, 1] };
            f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&labels)
        },
        &["a", "b"],
    );
    let msg = format_error(dir.path());
    assert!(msg.contains("ply_data_test0.h5") && msg.contains("cloud 2 is 2, outside 0..2"), "{msg}");
    assert!(msg.contains("shape_names.txt"), "{msg}");

    let nan = modelnet_dir(
        |f, _| {
            let mut values = cloud_values(4, 16, 3);
            values[100] = f32::NAN;
            f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&values)?;
            f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&[0u8, 1, 0, 1])
        },
        &["a", "b"],
    );
    assert!(format_error(nan.path()).contains("cloud 2 holds a non-finite value"));
}

#[test]
fn missing_lists_and_non_hdf5_files_are_clear_errors() {
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(load_modelnet_dir(empty.path()), Err(DatasetError::Missing { .. })));
    let dir = modelnet_dir(good, &["a", "b"]);
    std::fs::write(dir.path().join("ply_data_test0.h5"), b"not hdf5 at all").unwrap();
    assert!(format_error(dir.path()).contains("not a readable HDF5 file"));
}

#[test]
fn writer_round_trips_and_the_spec_forms_agree() {
    let source = load_modelnet_dir(modelnet_dir(good, &["chair", "monitor"]).path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("copy");
    write_modelnet(&target, &source).unwrap();
    let back = load_pointclouds(&format!("modelnet:{}", target.display()), Path::new(".")).unwrap();
    assert_eq!((&back.points, &back.labels, &back.class_names), (&source.points, &source.labels, &source.class_names));
    assert_eq!((&back.train, &back.val, &back.test), (&source.train, &source.val, &source.test));
    let spec = format!("modelnet:train={0}/ply_data_train0.h5,test={0}/ply_data_test0.h5", target.display());
    let files = load_pointclouds(&spec, Path::new(".")).unwrap();
    assert_eq!((files.points, files.class_names), (source.points, vec!["0".to_string(), "1".to_string()]));
    let leftovers: Vec<_> = std::fs::read_dir(&target).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 5, "only the five layout files, no temporary ones");
}

#[test]
fn sampling_normalisation_and_augmentation_are_seeded_and_correct() {
    let cloud = cloud_values(1, 50, 3);
    let draw = |seed| sample_points(&cloud, 3, 20, &mut ChaCha8Rng::seed_from_u64(seed));
    assert_eq!(draw(3), draw(3));
    assert_ne!(draw(3), draw(4));
    let picked = draw(3);
    assert!(picked.chunks(3).all(|p| cloud.chunks(3).any(|q| q == p)));
    let mut big = sample_points(&cloud, 3, 80, &mut ChaCha8Rng::seed_from_u64(0));
    assert_eq!(big.len(), 240);
    assert!(cloud.chunks(3).all(|p| big.chunks(3).any(|q| q == p)), "a cloud too small keeps every point");
    normalize_unit_sphere(&mut big, 3);
    let norm = |p: &[f32]| p.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((big.chunks(3).map(norm).fold(0.0, f32::max) - 1.0).abs() < 1e-5);
    for axis in 0..3 {
        assert!(big.iter().skip(axis).step_by(3).sum::<f32>().abs() < 1e-3);
    }
    // a rotation about the up axis keeps every point's height and distance to the axis
    let rotate = Augmentation { rotate_up: true, up_axis: 1, ..Augmentation::none() };
    let mut turned = picked.clone();
    augment(&mut turned, 3, &rotate, &mut ChaCha8Rng::seed_from_u64(1));
    for (p, q) in picked.chunks(3).zip(turned.chunks(3)) {
        assert_eq!(p[1], q[1]);
        assert!(((p[0] * p[0] + p[2] * p[2]) - (q[0] * q[0] + q[2] * q[2])).abs() < 1e-5);
    }
    assert_ne!(turned, picked);
    // jitter stays within its clip; dropout repeats the first point
    let mut jittered = picked.clone();
    let jitter = Augmentation { jitter_sigma: 0.5, jitter_clip: 0.02, ..Augmentation::none() };
    augment(&mut jittered, 3, &jitter, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(jittered.iter().zip(&picked).all(|(a, b)| (a - b).abs() <= 0.02 + 1e-6));
    let mut dropped = picked.clone();
    let dropout = Augmentation { dropout_max: 0.9, ..Augmentation::none() };
    augment(&mut dropped, 3, &dropout, &mut ChaCha8Rng::seed_from_u64(5));
    assert!(dropped.chunks(3).all(|p| p == &picked[..3] || picked.chunks(3).any(|q| q == p)));
    let mut none = picked.clone();
    augment(&mut none, 3, &Augmentation::none(), &mut ChaCha8Rng::seed_from_u64(5));
    assert_eq!(none, picked);
    assert!(
        Augmentation::dgcnn().validate().is_ok()
            && Augmentation { dropout_max: 1.5, ..Augmentation::none() }.validate().is_err()
    );
}

#[test]
fn images_become_ink_clouds_and_blank_images_are_refused() {
    let mut pixels = vec![0.0f32; 3 * 9];
    pixels[0] = 0.8; // image 0: top-left
    pixels[9 + 4] = 1.0; // image 1: the centre
    pixels[18 + 8] = 0.6; // image 2: bottom-right
    let images = ImageDataset {
        name: "tiny".into(),
        images: pixels.clone(),
        labels: vec![0, 1, 2],
        height: 3,
        width: 3,
        num_classes: 3,
        train: vec![0, 1],
        val: vec![],
        test: vec![2],
    };
    let clouds: PointCloudDataset = images_to_clouds(&images, 4, 0.5, 0).unwrap();
    let third = 1.0 / 3.0;
    assert_eq!(clouds.cloud(1), &[0.0; 8]);
    assert!(clouds.cloud(0).chunks(2).all(|p| (p[0] + 1.0 - third).abs() < 1e-6 && (p[1] - 1.0 + third).abs() < 1e-6));
    assert_eq!((clouds.dim, clouds.points_per_cloud, clouds.test.clone()), (2, 4, vec![2]));
    let mut blank = images;
    blank.images[9 + 4] = 0.4;
    let msg = images_to_clouds(&blank, 4, 0.5, 0).unwrap_err().to_string();
    assert!(msg.contains("image 1 has no pixel above the ink threshold"), "{msg}");
}

#[test]
fn real_chair_monitor_set_loads() {
    let Some(dir) = data::data_dir("pointclouds/modelnet10_chair_monitor_hdf5_2048") else { return };
    let d = load_modelnet_dir(&dir).unwrap();
    assert_eq!((d.num_clouds(), d.points_per_cloud, d.dim), (500, 2048, 3));
    assert_eq!(d.class_names, ["chair", "monitor"]);
    assert_eq!((d.train.len() + d.val.len(), d.val.len(), d.test.len()), (400, 40, 100));
    let test_counts = d.test.iter().fold([0, 0], |mut c, &i| {
        c[d.labels[i]] += 1;
        c
    });
    assert_eq!(test_counts, [50, 50]);
    let max_norm = d.points.chunks(3).map(|p| p.iter().map(|v| v * v).sum::<f32>().sqrt()).fold(0.0, f32::max);
    assert!((max_norm - 1.0).abs() < 1e-3, "PROVENANCE says the points lie in the unit ball, max norm 1: {max_norm}");
}
