//! gnn-benchmark `.npz` files: written with the crate's writer, read back; corrupt files fail cleanly.

use std::path::{Path, PathBuf};

use gdistill_datasets::array::{ArrayData, NdArray};
use gdistill_datasets::npz::npy::{read_npy, write_npy};
use gdistill_datasets::npz::write_npz;
use gdistill_datasets::{load, load_npz, per_class_split, DatasetError, SplitOptions};

fn ints(v: &[i64]) -> NdArray {
    NdArray { shape: vec![v.len()], data: ArrayData::Int(v.to_vec()) }
}

fn floats(shape: &[usize], v: &[f32]) -> NdArray {
    NdArray { shape: shape.to_vec(), data: ArrayData::F32(v.to_vec()) }
}

fn strings(v: &[&str]) -> NdArray {
    NdArray { shape: vec![v.len()], data: ArrayData::Str(v.iter().map(|s| s.to_string()).collect()) }
}

/// Named arrays, as they go into an npz.
type Arrays = Vec<(&'static str, NdArray)>;

/// A 6-node graph: path 0-1-2-3-4-5 stored in one direction plus a self-loop on 5, two classes.
fn base_arrays() -> Arrays {
    vec![
        ("adj_data", floats(&[6], &[1.0; 6])),
        ("adj_indices", ints(&[1, 2, 3, 4, 5, 5])),
        ("adj_indptr", ints(&[0, 1, 2, 3, 4, 5, 6])),
        ("adj_shape", ints(&[6, 6])),
        ("attr_data", floats(&[4], &[1.0, 2.0, 0.5, 3.0])),
        ("attr_indices", ints(&[0, 2, 1, 0])),
        ("attr_indptr", ints(&[0, 2, 3, 3, 3, 4, 4])),
        ("attr_shape", ints(&[6, 3])),
        ("labels", ints(&[0, 1, 0, 1, 0, 1])),
        ("class_names", strings(&["alpha", "beta"])),
    ]
}

fn write(dir: &Path, name: &str, arrays: &[(&str, NdArray)]) -> PathBuf {
    let path = dir.join(name);
    let refs: Vec<(&str, &NdArray)> = arrays.iter().map(|(k, v)| (*k, v)).collect();
    write_npz(&path, &refs).unwrap();
    path
}

fn replace(mut arrays: Arrays, key: &'static str, value: Option<NdArray>) -> Arrays {
    arrays.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        arrays.push((key, v));
    }
    arrays
}

fn format_error(path: &Path, expect: &str) {
    match load_npz(path, &SplitOptions::default()) {
        Err(DatasetError::Format { path: p, message }) => {
            assert_eq!(p, path);
            assert!(message.contains(expect), "message '{message}' lacks '{expect}'");
        }
        other => panic!("expected a Format error containing '{expect}', got {other:?}"),
    }
}

#[test]
fn sparse_attributes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tiny.npz", &base_arrays());
    let d = load_npz(&path, &SplitOptions { train_per_class: 1, val_per_class: 1, seed: 3 }).unwrap();
    assert_eq!(d.name, "tiny");
    assert_eq!(d.num_nodes(), 6);
    assert_eq!(d.graph.undirected_edges(), vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]);
    assert_eq!(d.graph.num_self_loops(), 0);
    assert_eq!(d.dense_features()[..6], [1.0, 0.0, 2.0, 0.0, 0.5, 0.0]);
    assert_eq!(d.dense_features()[6..12], [0.0; 6]);
    assert_eq!(d.features.outer_view(4).unwrap().data(), &[3.0]);
    assert_eq!(d.labels, vec![0, 1, 0, 1, 0, 1]);
    assert_eq!(d.class_names, vec!["alpha", "beta"]);
    assert_eq!((d.train.len(), d.val.len(), d.test.len()), (2, 2, 2));
    // the same through the spec loader, relative to a data dir
    let again = load("npz:tiny.npz", dir.path()).unwrap();
    assert_eq!(again.labels, d.labels);
}

#[test]
fn dense_attributes_and_missing_class_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut arrays = base_arrays();
    arrays.retain(|(k, _)| !k.starts_with("attr_") && *k != "class_names");
    let dense: Vec<f32> = (0..12).map(|v| (v % 3) as f32).collect();
    arrays.push(("attr_matrix", floats(&[6, 2], &dense)));
    let path = write(dir.path(), "dense.npz", &arrays);
    let d = load_npz(&path, &SplitOptions::default()).unwrap();
    assert_eq!(d.dense_features(), dense);
    assert_eq!(d.class_names, vec!["class_0", "class_1"]);
}

#[test]
fn corrupt_files_are_format_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // not a zip at all
    let path = dir.path().join("garbage.npz");
    std::fs::write(&path, b"this is not a zip archive").unwrap();
    format_error(&path, "not an npz");
    // a member that is not .npy
    let bad_member = dir.path().join("badmagic.npz");
    {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&bad_member).unwrap());
        zip.start_file("labels.npy", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(b"\x93NUMPX garbage").unwrap();
        zip.finish().unwrap();
    }
    format_error(&bad_member, "bad magic");
    // every truncation of a good file fails without panicking
    let good = std::fs::read(write(dir.path(), "good.npz", &base_arrays())).unwrap();
    let cut = dir.path().join("cut.npz");
    for end in (0..good.len()).step_by(13) {
        std::fs::write(&cut, &good[..end]).unwrap();
        assert!(load_npz(&cut, &SplitOptions::default()).is_err(), "truncated at {end} loaded");
    }
    // a missing file
    let err = load_npz(&dir.path().join("nope.npz"), &SplitOptions::default()).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
}

#[test]
fn wrong_shapes_and_labels_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Arrays, &str)> = vec![
        ("rows", replace(base_arrays(), "attr_shape", Some(ints(&[5, 3]))), "indptr has 7 entries"),
        ("square", replace(base_arrays(), "adj_shape", Some(ints(&[6, 7]))), "not square"),
        (
            "labels2d",
            replace(base_arrays(), "labels", Some(NdArray { shape: vec![3, 2], data: ArrayData::Int(vec![0; 6]) })),
            "expected [nodes]",
        ),
        ("count", replace(base_arrays(), "labels", Some(ints(&[0, 1, 0]))), "3 labels for 6 nodes"),
        ("range", replace(base_arrays(), "labels", Some(ints(&[0, 1, 0, 1, 0, 2]))), "label 2 of node 5"),
        ("negative", replace(base_arrays(), "labels", Some(ints(&[0, 1, -1, 1, 0, 1]))), "negative"),
        ("floatlabels", replace(base_arrays(), "labels", Some(floats(&[6], &[0.0; 6]))), "integer"),
        ("edge", replace(base_arrays(), "adj_indices", Some(ints(&[1, 2, 3, 4, 5, 9]))), "index 9 is outside 0..6"),
        ("noadj", replace(base_arrays(), "adj_indptr", None), "adj_data/indices/indptr/shape are missing"),
        ("nolabels", replace(base_arrays(), "labels", None), "no 'labels'"),
    ];
    for (name, arrays, expect) in cases {
        let path = write(dir.path(), &format!("{name}.npz"), &arrays);
        format_error(&path, expect);
    }
    // A graph without node attributes (polblogs) loads with no feature columns; `--features`
    // then supplies structural ones, and `given` refuses it (tests/structural_features.rs).
    let arrays: Vec<_> = base_arrays().into_iter().filter(|(k, _)| !k.starts_with("attr")).collect();
    let path = write(dir.path(), "noattr.npz", &arrays);
    let featureless = load_npz(&path, &SplitOptions::default()).unwrap();
    assert_eq!((featureless.num_nodes(), featureless.num_features()), (6, 0));
    // non-finite features pass the parser but not validation
    let path = write(
        dir.path(),
        "nan.npz",
        &replace(base_arrays(), "attr_data", Some(floats(&[4], &[1.0, f32::NAN, 0.5, 3.0]))),
    );
    let err = load_npz(&path, &SplitOptions::default()).unwrap_err();
    assert!(matches!(&err, DatasetError::Invalid { message, .. } if message.contains("finite")), "{err}");
    // an empty graph
    let empty = vec![
        ("adj_data", floats(&[0], &[])),
        ("adj_indices", ints(&[])),
        ("adj_indptr", ints(&[0])),
        ("adj_shape", ints(&[0, 0])),
        ("attr_matrix", floats(&[0, 3], &[])),
        ("labels", ints(&[])),
    ];
    let err = load_npz(&write(dir.path(), "empty.npz", &empty), &SplitOptions::default()).unwrap_err();
    assert!(matches!(&err, DatasetError::Invalid { message, .. } if message.contains("no nodes")), "{err}");
}

#[test]
fn npy_round_trip_and_header_details() {
    for array in [
        ints(&[1, -2, 3]),
        floats(&[2, 2], &[1.0, -0.5, 2.0, 3.5]),
        NdArray { shape: vec![3], data: ArrayData::F64(vec![1.0, 1e300, -0.0]) },
        NdArray { shape: vec![2], data: ArrayData::Bool(vec![true, false]) },
        strings(&["Case_Based", "ΑΒΓ", ""]),
        NdArray { shape: vec![], data: ArrayData::Int(vec![7]) },
    ] {
        let bytes = write_npy(&array);
        assert_eq!((bytes.len() - array_payload(&array)) % 64, 0, "header not 64-aligned");
        assert_eq!(read_npy(&bytes).unwrap(), array);
    }
    // Fortran order is reordered to C order; big-endian data is refused; truncated data fails.
    let data: Vec<u8> = [1i64, 2, 3, 4, 5, 6].iter().flat_map(|v| v.to_le_bytes()).collect();
    let parsed = read_npy(&npy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", &data)).unwrap();
    assert_eq!(parsed.shape, vec![2, 3]);
    assert_eq!(parsed.to_i64().unwrap(), vec![1, 3, 5, 2, 4, 6]);
    let err = read_npy(&npy("{'descr': '>i8', 'fortran_order': False, 'shape': (6,), }", &data)).unwrap_err();
    assert!(err.contains("little-endian"), "{err}");
    let err = read_npy(&npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (6,), }", &data)).unwrap_err();
    assert!(err.contains("structured"), "{err}");
    let err = read_npy(&npy("{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }", &data)).unwrap_err();
    assert!(err.contains("data bytes"), "{err}");
    let good = write_npy(&ints(&[1, 2]));
    assert!(read_npy(&good[..good.len() - 1]).unwrap_err().contains("data bytes"));
}

/// A version-1.0 `.npy` file with the given header text and data.
fn npy(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&((header.len() + 1) as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

fn array_payload(a: &NdArray) -> usize {
    match &a.data {
        ArrayData::Bool(v) => v.len(),
        ArrayData::Int(v) => 8 * v.len(),
        ArrayData::F32(v) => 4 * v.len(),
        ArrayData::F64(v) => 8 * v.len(),
        ArrayData::Str(v) => 4 * v.len() * v.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1),
    }
}

#[test]
fn per_class_split_follows_its_documented_rule() {
    // class 0: 100 nodes, class 1: 3 nodes, class 2: 1 node, class 3: 50 nodes
    let mut labels = vec![0; 100];
    labels.extend([1, 1, 1, 2]);
    labels.extend(vec![3; 50]);
    let s = per_class_split(&labels, 5, &SplitOptions::default());
    let count = |ids: &[usize], c: usize| ids.iter().filter(|&&i| labels[i] == c).count();
    let per = |c| (count(&s.train, c), count(&s.val, c), count(&s.test, c));
    assert_eq!(per(0), (20, 30, 50));
    assert_eq!(per(1), (1, 1, 1));
    assert_eq!(per(2), (1, 0, 0));
    assert_eq!(per(3), (20, 15, 15));
    assert_eq!(s, per_class_split(&labels, 5, &SplitOptions::default()), "not deterministic");
    assert_ne!(s, per_class_split(&labels, 5, &SplitOptions { seed: 1, ..Default::default() }));
}
