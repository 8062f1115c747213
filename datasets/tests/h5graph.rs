//! The gdistill HDF5 graph layout: write then read gives back every field; bad files fail cleanly.

#[path = "../../tests/support/data.rs"]
mod common;

use std::path::{Path, PathBuf};

use gdistill_datasets::{load, read_h5graph, write_h5graph, DatasetError, FeatureLayout, NodeDataset};
use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

/// 5 nodes, 3 classes (one without nodes), sparse-ish features with negative values.
fn small() -> NodeDataset {
    let graph = Graph::from_edges(5, &[(0, 1), (1, 2), (3, 1), (0, 4)], EdgeOptions::undirected()).unwrap();
    let features = CsMat::new((5, 4), vec![0, 2, 2, 3, 4, 5], vec![0, 3, 1, 2, 0], vec![1.0, -2.5, 0.25, 7.0, 1e-3]);
    NodeDataset {
        name: "small ünïcode".into(),
        graph,
        features,
        labels: vec![0, 1, 0, 1, 0],
        num_classes: 3,
        class_names: vec!["zero".into(), "one".into(), "empty class".into()],
        train: vec![0, 1],
        val: vec![2],
        test: vec![3, 4],
        unlabelled: Vec::new(),
    }
}

fn assert_same(a: &NodeDataset, b: &NodeDataset) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.graph, b.graph);
    assert_eq!(a.features, b.features);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.num_classes, b.num_classes);
    assert_eq!(a.class_names, b.class_names);
    assert_eq!((&a.train, &a.val, &a.test), (&b.train, &b.val, &b.test));
}

#[test]
fn round_trip_dense_sparse_and_auto() {
    let dir = tempfile::tempdir().unwrap();
    let d = small();
    for layout in [FeatureLayout::Dense, FeatureLayout::Sparse, FeatureLayout::Auto] {
        let path = dir.path().join(format!("{layout:?}.h5"));
        write_h5graph(&path, &d, layout).unwrap();
        assert_same(&d, &read_h5graph(&path).unwrap());
    }
    // no temporary files are left behind
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // and through the spec loader
    assert_same(&d, &load("h5:Sparse.h5", dir.path()).unwrap());
}

#[test]
fn cora_round_trips() {
    let Some(dir) = common::data_dir("cora") else { return };
    let cora = load("cora", dir.parent().unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("cora.h5");
    write_h5graph(&path, &cora, FeatureLayout::Auto).unwrap();
    let back = read_h5graph(&path).unwrap();
    assert_same(&cora, &back);
    assert_eq!(cora.summary(), back.summary());
}

/// libhdf5 flocks every file it opens, and a child process started meanwhile inherits that lock
/// for its whole life (CI failed on this: a valid file refused with "unable to lock file, errno =
/// 11" while a test in another thread ran gdistill). Here a second open file description holds
/// the lock, as that child would: the file must still read, in the probe and in this process.
#[test]
fn a_file_locked_by_another_process_still_reads() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.h5");
    write_h5graph(&path, &small(), FeatureLayout::Sparse).unwrap();
    let holder = std::fs::File::open(&path).unwrap();
    // SAFETY: a plain flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    assert_same(&small(), &read_h5graph(&path).unwrap_or_else(|e| panic!("{e}")));
    assert_same(&small(), &load("h5:locked.h5", dir.path()).unwrap_or_else(|e| panic!("{e}")));
    drop(holder);
}

/// Writes `small()` then lets `edit` damage it.
fn damaged(dir: &Path, name: &str, edit: impl FnOnce(&hdf5::File)) -> PathBuf {
    let path = dir.join(name);
    write_h5graph(&path, &small(), FeatureLayout::Sparse).unwrap();
    let file = gdistill_datasets::h5file::open_rw(&path).unwrap();
    edit(&file);
    file.close().unwrap();
    path
}

fn replace_i64(file: &hdf5::File, name: &str, shape: &[usize], values: &[i64]) {
    file.unlink(name).unwrap();
    file.new_dataset::<i64>().shape(shape.to_vec()).create(name).unwrap().write_raw(values).unwrap();
}

fn expect_format(path: &Path, expect: &str) {
    match read_h5graph(path) {
        Err(DatasetError::Format { path: p, message }) => {
            assert_eq!(p, path);
            assert!(message.contains(expect), "message '{message}' lacks '{expect}'");
        }
        other => panic!("expected a Format error containing '{expect}', got {other:?}"),
    }
}

#[test]
fn corrupt_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let random = d.join("random.h5");
    std::fs::write(&random, (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    expect_format(&random, "not a readable HDF5 file");

    let good = d.join("good.h5");
    write_h5graph(&good, &small(), FeatureLayout::Dense).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.h5");
    for end in [0, 8, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&cut, &bytes[..end]).unwrap();
        assert!(matches!(read_h5graph(&cut), Err(DatasetError::Format { .. })), "truncated at {end}");
    }
    assert!(matches!(read_h5graph(&d.join("absent.h5")), Err(DatasetError::Missing { .. })));

    expect_format(&damaged(d, "nolabels.h5", |f| f.unlink("labels").unwrap()), "missing dataset 'labels'");
    expect_format(&damaged(d, "nofeatures.h5", |f| f.unlink("features_csr").unwrap()), "missing dataset 'features'");
    expect_format(
        &damaged(d, "floatlabels.h5", |f| {
            f.unlink("labels").unwrap();
            f.new_dataset::<f32>().shape([5]).create("labels").unwrap().write_raw(&[0.0f32; 5]).unwrap();
        }),
        "expected an integer type",
    );
    expect_format(
        &damaged(d, "range.h5", |f| replace_i64(f, "labels", &[5], &[0, 1, 0, 3, 0])),
        "label 3, outside 0..3",
    );
    expect_format(&damaged(d, "negative.h5", |f| replace_i64(f, "labels", &[5], &[0, 1, -1, 1, 0])), "negative");
    expect_format(&damaged(d, "edge.h5", |f| replace_i64(f, "edge_index", &[2, 2], &[0, 1, 1, 5])), "outside 0..5");
    expect_format(&damaged(d, "rank.h5", |f| replace_i64(f, "edge_index", &[4], &[0, 1, 1, 2])), "expected rank 2");
    expect_format(&damaged(d, "rows.h5", |f| replace_i64(f, "edge_index", &[3, 1], &[0, 1, 2])), "expected [2, edges]");
    expect_format(&damaged(d, "split.h5", |f| replace_i64(f, "test_idx", &[1], &[9])), "'test_idx' holds 9");
    expect_format(
        &damaged(d, "shape.h5", |f| replace_i64(f, "features_csr/shape", &[2], &[4, 4])),
        "4 rows for 5 nodes",
    );
    expect_format(
        &damaged(d, "indptr.h5", |f| replace_i64(f, "features_csr/indptr", &[6], &[0, 2, 1, 3, 4, 5])),
        "decreases",
    );
    expect_format(
        &damaged(d, "format.h5", |f| {
            f.delete_attr("format").unwrap();
        }),
        "not a gdistill graph file",
    );
}

#[test]
fn invalid_contents_are_reported_by_validation() {
    let dir = tempfile::tempdir().unwrap();
    let nan = damaged(dir.path(), "nan.h5", |f| {
        f.unlink("features_csr/data").unwrap();
        f.new_dataset::<f32>()
            .shape([5])
            .create("features_csr/data")
            .unwrap()
            .write_raw(&[1.0, f32::NAN, 0.25, 7.0, 1e-3])
            .unwrap();
    });
    let err = read_h5graph(&nan).unwrap_err();
    assert!(matches!(&err, DatasetError::Invalid { message, .. } if message.contains("NaN")), "{err}");
    let overlap = damaged(dir.path(), "overlap.h5", |f| replace_i64(f, "val_idx", &[1], &[0]));
    let err = read_h5graph(&overlap).unwrap_err();
    assert!(matches!(&err, DatasetError::Invalid { message, .. } if message.contains("both")), "{err}");
    // writing an invalid dataset is refused before any file appears
    let mut bad = small();
    bad.labels[0] = 7;
    let path = dir.path().join("never.h5");
    assert!(matches!(write_h5graph(&path, &bad, FeatureLayout::Dense), Err(DatasetError::Invalid { .. })));
    assert!(!path.exists());
}
