//! The readers of a user's own data (`ogb:`, `csv:`, heterophilous `npz:`): each gives the same
//! dataset as the same graph written in the HDF5 layout, and every bad input is one error naming
//! the file and the problem (in the style of tests/bad_input.rs, in-process; the binary's side is
//! tests/cli_user_formats.rs).

#[path = "../../tests/support/user_formats.rs"]
mod user_formats;

use std::path::{Path, PathBuf};

use gdistill_datasets::array::{ArrayData, NdArray};
use gdistill_datasets::{load, load_with_report, read_h5graph, DatasetError, NodeDataset};
use user_formats::*;

/// Everything but the name, which each layout takes from its own file or folder.
fn assert_same(got: &NodeDataset, want: &NodeDataset, what: &str) {
    assert_eq!(got.graph, want.graph, "{what}: graph");
    assert_eq!(got.features, want.features, "{what}: features");
    assert_eq!(got.labels, want.labels, "{what}: labels");
    assert_eq!((got.num_classes, &got.class_names), (want.num_classes, &want.class_names), "{what}: classes");
    assert_eq!((&got.train, &got.val, &got.test), (&want.train, &want.val, &want.test), "{what}: split");
}

fn reference(dir: &Path, split: &[Vec<usize>; 3]) -> NodeDataset {
    let path = dir.join("reference.h5");
    write_h5(&path, &raw(), split);
    let d = read_h5graph(&path).unwrap();
    // the fixture's duplicate, reversed and self-loop edges are merged and dropped: 13 remain
    assert_eq!((d.num_nodes(), d.graph.num_undirected_edges(), d.graph.num_self_loops()), (12, 13, 0));
    d
}

#[test]
fn ogb_reads_as_the_hdf5_layout_does() {
    let dir = tempfile::tempdir().unwrap();
    let want = reference(dir.path(), &raw().split);
    let ogb = write_ogb(dir.path(), "ogbn_toy", &raw());
    let (got, report) = load_with_report(&format!("ogb:{}", ogb.display()), Path::new(".")).unwrap();
    assert_same(&got, &want, "ogb");
    assert_eq!(got.name, "ogbn_toy");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    // the split named, and a relative folder under the data directory
    assert_same(&load("ogb:ogbn_toy:time", dir.path()).unwrap(), &want, "ogb:DIR:time");
}

#[test]
fn ogb_nodes_without_labels_stay_out_of_the_split_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ogb = write_ogb(dir.path(), "ogbn_nan", &raw());
    let labels = "0\n1\n2\n0\n1\n2\n0\n1\n2\nnan\n\n2\n";
    std::fs::write(ogb.join("raw/node-label.csv.gz"), gz(labels.as_bytes())).unwrap();
    std::fs::write(ogb.join("split/time/test.csv.gz"), gz(b"6\n7\n8\n11\n")).unwrap();
    let (got, report) = load_with_report(&format!("ogb:{}", ogb.display()), Path::new(".")).unwrap();
    assert_eq!((got.labels[9], got.labels[10]), (0, 0));
    assert_eq!(got.unlabelled, vec![9, 10]);
    assert_eq!(got.test, vec![6, 7, 8, 11]);
    // not counted as class 0, and never drawn into a split
    assert_eq!(got.class_counts(), vec![3, 3, 4]);
    for spec in ["per-class:1,1", "random:0.5,0.2"] {
        for seed in 0..5 {
            let s = gdistill_datasets::apply_split(&got, &spec.parse().unwrap(), seed).unwrap();
            let drawn = [&s.train[..], &s.val, &s.test].concat();
            assert!(!drawn.contains(&9) && !drawn.contains(&10), "{spec} seed {seed}: {drawn:?}");
        }
    }
    assert_eq!(report.notes.len(), 1);
    assert!(report.notes[0].contains("2 of 12 nodes have no label"), "{}", report.notes[0]);
    // a split naming an unlabelled node is an error
    std::fs::write(ogb.join("split/time/test.csv.gz"), gz(b"6\n10\n")).unwrap();
    let err = load(&format!("ogb:{}", ogb.display()), Path::new(".")).unwrap_err().to_string();
    assert!(err.contains("test.csv.gz: line 2: node 10 has no label"), "{err}");
}

#[test]
fn csv_reads_as_the_hdf5_layout_does() {
    let dir = tempfile::tempdir().unwrap();
    let want = reference(dir.path(), &raw().split);
    let spec = write_csv(dir.path(), "mine", &raw());
    let got = load(&spec, Path::new(".")).unwrap();
    assert_same(&got, &want, "csv");
    assert_eq!(got.name, "mine");
    // features as .npy (float64), labels as node,label pairs in another order, gzip edges
    let mine = dir.path().join("mine");
    let x: Vec<f64> = raw().features.iter().flatten().map(|&v| v as f64).collect();
    let npy = NdArray { shape: vec![12, 3], data: ArrayData::F64(x) };
    std::fs::write(mine.join("x.npy"), gdistill_datasets::npz::npy::write_npy(&npy)).unwrap();
    let pairs: String = raw().labels.iter().enumerate().rev().map(|(i, y)| format!("{i},{y}\n")).collect();
    std::fs::write(mine.join("pairs.csv"), format!("node,label\n{pairs}")).unwrap();
    let edges = std::fs::read(mine.join("edges.txt")).unwrap();
    std::fs::write(mine.join("edges.gz"), gz(&edges)).unwrap();
    let spec = "csv:edges=mine/edges.gz,features=mine/x.npy,labels=mine/pairs.csv,split=mine/split.txt";
    assert_same(&load(spec, dir.path()).unwrap(), &want, "csv with npy, pairs, gzip");
    // without a split file: the loaders' seeded per-class split
    let d = load("csv:edges=mine/edges.txt,features=mine/features.csv,labels=mine/labels.txt", dir.path()).unwrap();
    assert_eq!(d.num_nodes(), 12);
    assert!(!d.train.is_empty() && !d.val.is_empty());
}

#[test]
fn heterophilous_npz_reads_as_the_hdf5_layout_does_for_each_stored_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roman-toy.npz");
    write_hetero(&path, &hetero_arrays(&raw()));
    let first = reference(dir.path(), &raw().split);
    let got = load(&format!("npz:{}", path.display()), Path::new(".")).unwrap();
    assert_same(&got, &first, "npz split 0");
    assert_eq!(got.name, "roman-toy");
    let second = reference(dir.path(), &other_split());
    assert_same(&load(&format!("npz:{}:1", path.display()), Path::new(".")).unwrap(), &second, "npz split 1");
    let spec: gdistill_datasets::DatasetSpec = format!("npz:{}", path.display()).parse().unwrap();
    assert_same(&spec.with_split_index(1).unwrap().load(Path::new(".")).unwrap(), &second, "--split-index 1");
}

/// Loads `spec`, which must fail with an error naming `file` and saying each of `problem`.
fn expect_error(label: &str, spec: &str, file: &str, problem: &[&str]) {
    let result = std::panic::catch_unwind(|| load(spec, Path::new(".")));
    let err = match result {
        Ok(Ok(_)) => panic!("{label}: loaded, expected an error"),
        Ok(Err(e)) => e,
        Err(_) => panic!("{label}: panicked"),
    };
    let text = err.to_string();
    assert!(!text.contains('\n'), "{label}: more than one line: {text}");
    assert!(text.contains(file), "{label}: does not name {file}: {text}");
    for p in problem {
        assert!(text.contains(p), "{label}: lacks '{p}': {text}");
    }
    if label.ends_with("missing") {
        assert!(matches!(err, DatasetError::Missing { .. }), "{label}: {err:?}");
    }
}

/// A fresh copy of the OGB fixture with `rel` replaced by `bytes` (gzip'd when `zip`).
fn ogb_with(root: &Path, label: &str, rel: &str, bytes: Option<&[u8]>, zip: bool) -> PathBuf {
    let dir = write_ogb(root, label, &raw());
    match bytes {
        None => std::fs::remove_file(dir.join(rel)).unwrap(),
        Some(b) => std::fs::write(dir.join(rel), if zip { gz(b) } else { b.to_vec() }).unwrap(),
    }
    dir
}

#[test]
fn bad_ogb_input_is_one_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let truncated = {
        let full = gz(b"0,1\n1,2\n2,3\n3,4\n4,5\n5,6\n6,7\n7,8\n8,9\n9,10\n10,11\n1,0\n0,1\n5,5\n11,0\n2,7\n");
        full[..full.len() - 9].to_vec()
    };
    let cases: Vec<(&str, PathBuf, &str, Vec<&str>)> = vec![
        ("edge-missing", ogb_with(r, "a", "raw/edge.csv.gz", None, false), "edge.csv.gz", vec!["file not found"]),
        (
            "edge-truncated-gzip",
            ogb_with(r, "b", "raw/edge.csv.gz", Some(&truncated), false),
            "edge.csv.gz",
            vec!["truncated gzip"],
        ),
        (
            "edge-wrong-columns",
            ogb_with(r, "c", "raw/edge.csv.gz", Some(b"0,1\n1,2,3\n"), true),
            "edge.csv.gz",
            vec!["line 2", "3 columns, expected 2"],
        ),
        (
            "edge-non-numeric",
            ogb_with(r, "d", "raw/edge.csv.gz", Some(b"0,1\n1,x\n"), true),
            "edge.csv.gz",
            vec!["line 2", "'x' is not a whole number"],
        ),
        (
            "edge-out-of-range",
            ogb_with(r, "e", "raw/edge.csv.gz", Some(b"0,1\n1,12\n"), true),
            "edge.csv.gz",
            vec!["line 2", "node id 12 is outside 0..12"],
        ),
        (
            "edge-count",
            ogb_with(r, "f", "raw/edge.csv.gz", Some(b"0,1\n"), true),
            "edge.csv.gz",
            vec!["1 edges, but num-edge-list says 16"],
        ),
        (
            "label-count",
            ogb_with(r, "g", "raw/node-label.csv.gz", Some(b"0\n1\n"), true),
            "node-label.csv.gz",
            vec!["2 labels for 12 nodes"],
        ),
        (
            "label-fraction",
            ogb_with(r, "h", "raw/node-label.csv.gz", Some(b"0.5\n"), true),
            "node-label.csv.gz",
            vec!["line 1", "not a whole number"],
        ),
        (
            "feature-nan",
            ogb_with(r, "i", "raw/node-feat.csv.gz", Some(b"0,0,0\n1,nan,0\n"), true),
            "node-feat.csv.gz",
            vec!["line 2", "column 2", "features must be finite"],
        ),
        (
            "feature-rows",
            ogb_with(r, "j", "raw/node-feat.csv.gz", Some(b"0,0,0\n"), true),
            "node-feat.csv.gz",
            vec!["1 feature rows for 12 nodes"],
        ),
        (
            "feature-ragged",
            ogb_with(r, "k", "raw/node-feat.csv.gz", Some(b"0,0,0\n0,0\n"), true),
            "node-feat.csv.gz",
            vec!["line 2", "2 values, but the first row has 3"],
        ),
        (
            "split-out-of-range",
            ogb_with(r, "l", "split/time/valid.csv.gz", Some(b"3\n99\n"), true),
            "valid.csv.gz",
            vec!["line 2", "node id 99 is outside 0..12"],
        ),
        (
            "split-missing",
            ogb_with(r, "m", "split/time/test.csv.gz", None, false),
            "test.csv.gz",
            vec!["file not found"],
        ),
        (
            "random-bytes",
            ogb_with(r, "n", "raw/num-node-list.csv.gz", Some(&[0x1f, 0x8b, 0xff, 0x00, 0x13]), false),
            "num-node-list.csv.gz",
            vec!["gzip"],
        ),
    ];
    for (label, dir, file, problem) in cases {
        expect_error(label, &format!("ogb:{}", dir.display()), file, &problem);
    }
    let absurd = ogb_with(r, "absurd", "raw/num-node-list.csv.gz", Some(b"1000000000000\n"), true);
    expect_error(
        "absurd-node-count",
        &format!("ogb:{}", absurd.display()),
        "node-label.csv.gz",
        &["12 labels for 1000000000000 nodes"],
    );
    expect_error("no-folder-missing", &format!("ogb:{}/absent", r.display()), "absent", &["file not found"]);
    let two = write_ogb(r, "two", &raw());
    std::fs::create_dir_all(two.join("split/random")).unwrap();
    expect_error(
        "two-splits",
        &format!("ogb:{}", two.display()),
        "split",
        &["2 split folders (random, time)", "ogb:DIR:random"],
    );
}

#[test]
fn bad_csv_input_is_one_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let mut k = 0;
    let mut case = |label: &str, file: &str, bytes: Option<&[u8]>, expect: &[&str]| {
        k += 1;
        let spec = write_csv(root.path(), &format!("c{k}"), &raw());
        let path = root.path().join(format!("c{k}")).join(file);
        match bytes {
            None => std::fs::remove_file(&path).unwrap(),
            Some(b) => std::fs::write(&path, b).unwrap(),
        }
        expect_error(label, &spec, file, expect);
    };
    case("edges-missing", "edges.txt", None, &["file not found"]);
    case("edges-truncated-gzip", "edges.txt", Some(&gz(b"0 1\n1 2\n3 4\n")[..12]), &["truncated gzip"]);
    case("edges-wrong-columns", "edges.txt", Some(b"0 1\n2\n"), &["line 2", "1 columns, expected 2"]);
    case("edges-non-numeric", "edges.txt", Some(b"0 1\n1 one\n"), &["line 2", "'one' is not a whole number"]);
    case("edges-negative", "edges.txt", Some(b"0 1\n1 -3\n"), &["line 2", "node id -3 is negative"]);
    case("edges-out-of-range", "edges.txt", Some(b"0 1\n# c\n4 12\n"), &["line 3", "node id 12 is outside 0..12"]);
    case("features-nan", "features.csv", Some(b"1,2,3\n4,NaN,6\n"), &["line 2", "column 2", "must be finite"]);
    case("features-inf", "features.csv", Some(b"1,2,1e39\n"), &["line 1", "column 3", "not finite as a float32"]);
    case("features-rows", "features.csv", Some(b"1,2,3\n"), &["1 feature rows for 12 nodes"]);
    case("labels-non-numeric", "labels.txt", Some(b"0\nA\n"), &["line 2", "'A' is not a whole number"]);
    case("split-word", "split.txt", Some(b"train\nvalidate\n"), &["line 2", "'validate' is not train, val, test or -"]);
    case("split-count", "split.txt", Some(b"train\nval\ntest\n"), &["3 lines for 12 nodes"]);
    case("not-utf8", "labels.txt", Some(&[0xff, 0xfe, 0x00, 0x31]), &["not UTF-8"]);
    // label count != node count shows up where the other files meet it
    case("labels-short", "labels.txt", Some(b"0\n1\n2\n"), &["features.csv: 12 feature rows for 3 nodes"]);
    // npy features: wrong dtype, shape, NaN
    let npy = |label: &str, array: NdArray, expect: &[&str]| {
        let spec = write_csv(root.path(), label, &raw());
        let dir = root.path().join(label);
        std::fs::write(dir.join("x.npy"), gdistill_datasets::npz::npy::write_npy(&array)).unwrap();
        expect_error(label, &spec.replace("features.csv", "x.npy"), "x.npy", expect);
    };
    npy("npy-int", NdArray { shape: vec![12, 1], data: ArrayData::Int(vec![0; 12]) }, &["expected float32 or float64"]);
    npy(
        "npy-1d",
        NdArray { shape: vec![12], data: ArrayData::F32(vec![0.0; 12]) },
        &["shape [12], expected [nodes, features]"],
    );
    let mut nan = vec![0.0f32; 24];
    nan[5] = f32::NAN;
    npy("npy-nan", NdArray { shape: vec![12, 2], data: ArrayData::F32(nan) }, &["feature (2, 1) is NaN"]);
}

/// The arrays of an npz, by key.
type Arrays = Vec<(&'static str, NdArray)>;

#[test]
fn bad_heterophilous_npz_is_one_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let case = |label: &str, edit: &dyn Fn(&mut Arrays), suffix: &str, expect: &[&str]| {
        let mut arrays = hetero_arrays(&raw());
        edit(&mut arrays);
        let path = root.path().join(format!("{label}.npz"));
        write_hetero(&path, &arrays);
        expect_error(label, &format!("npz:{}{suffix}", path.display()), &format!("{label}.npz"), expect);
    };
    let set = |key: &'static str, array: NdArray| {
        move |a: &mut Arrays| a.iter_mut().find(|(k, _)| *k == key).unwrap().1 = array.clone()
    };
    let drop = |key: &'static str| move |a: &mut Arrays| a.retain(|(k, _)| *k != key);
    let ints = |shape: Vec<usize>, v: Vec<i64>| NdArray { shape, data: ArrayData::Int(v) };
    case(
        "split-index-out-of-range",
        &|_| {},
        ":2",
        &["train_masks", "split index 2 is out of range", "holds 2 splits"],
    );
    case(
        "mask-shape",
        &set("val_masks", NdArray { shape: vec![2, 11], data: ArrayData::Bool(vec![false; 22]) }),
        "",
        &["val_masks", "shape [2, 11], expected [splits, 12]"],
    );
    case("mask-values", &set("test_masks", ints(vec![2, 12], vec![2; 24])), "", &["test_masks", "holds 2"]);
    case(
        "label-count",
        &set("node_labels", ints(vec![11], vec![0; 11])),
        "",
        &["node_features have 12 rows, but node_labels has 11 labels"],
    );
    case(
        "labels-float",
        &set("node_labels", NdArray { shape: vec![12], data: ArrayData::F32(vec![0.0; 12]) }),
        "",
        &["node_labels", "expected an integer array"],
    );
    let mut x = vec![0.0f32; 36];
    x[7] = f32::INFINITY;
    case(
        "feature-inf",
        &set("node_features", NdArray { shape: vec![12, 3], data: ArrayData::F32(x) }),
        "",
        &["node_features (2, 1) is inf"],
    );
    case(
        "edge-out-of-range",
        &set("edges", ints(vec![2, 2], vec![0, 1, 1, 12])),
        "",
        &["edges: row 1 (1, 12) names node 12, outside 0..12"],
    );
    case(
        "edge-shape",
        &set("edges", ints(vec![2, 3], vec![0, 1, 2, 1, 2, 3])),
        "",
        &["edges have shape [2, 3], expected [edges, 2]"],
    );
    case("no-masks", &drop("train_masks"), "", &["no 'train_masks' array"]);
    case(
        "overlap",
        &set("val_masks", NdArray { shape: vec![1, 12], data: ArrayData::Bool(vec![true; 12]) }),
        "",
        &["node 0 is in both the Train and the Val split"],
    );
}

/// Small random damage to every file of the `csv:` and OGB fixtures (truncation, byte flips,
/// tokens replaced by `nan`, `-1`, `1e20`, lines repeated): each load must be an error or a
/// dataset that passes validation, never a panic (as datasets/tests/fuzz_parsers.rs asks of the
/// other parsers).
#[test]
fn damaged_files_never_panic_or_load_invalid_data() {
    use rand::{Rng, SeedableRng};
    let root = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
    let csv = write_csv(root.path(), "c", &raw());
    let ogb = write_ogb(root.path(), "o", &raw());
    let mut targets: Vec<(PathBuf, String)> = ["edges.txt", "features.csv", "labels.txt", "split.txt"]
        .iter()
        .map(|f| (root.path().join("c").join(f), csv.clone()))
        .collect();
    for f in [
        "raw/edge.csv.gz",
        "raw/node-feat.csv.gz",
        "raw/node-label.csv.gz",
        "raw/num-node-list.csv.gz",
        "split/time/train.csv.gz",
    ] {
        targets.push((ogb.join(f), format!("ogb:{}", ogb.display())));
    }
    let (mut errors, mut loaded) = (0, 0);
    for round in 0..400 {
        let (path, spec) = &targets[round % targets.len()];
        let original = std::fs::read(path).unwrap();
        let zipped = original.starts_with(&[0x1f, 0x8b]);
        let mut text = if zipped {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&original[..]), &mut out).unwrap();
            out
        } else {
            original.clone()
        };
        match rng.random_range(0..5) {
            0 => text.truncate(rng.random_range(0..=text.len())),
            1 if !text.is_empty() => {
                let i = rng.random_range(0..text.len());
                text[i] = rng.random();
            }
            2 | 3 if !text.is_empty() => {
                let i = rng.random_range(0..text.len());
                let token: &[u8] = [&b"nan"[..], b"-1", b"1e20", b"99", b",", b"\n"][rng.random_range(0..6)];
                text.splice(i..i, token.iter().copied());
            }
            _ => text.extend_from_within(..text.len() / 2),
        }
        let mut bytes = if zipped { gz(&text) } else { text };
        if zipped && rng.random_bool(0.2) {
            bytes.truncate(rng.random_range(0..bytes.len()));
        }
        std::fs::write(path, &bytes).unwrap();
        match std::panic::catch_unwind(|| load(spec, Path::new("."))) {
            Err(_) => panic!("round {round}: {} panicked on {:?}", path.display(), String::from_utf8_lossy(&bytes)),
            Ok(Ok(d)) => {
                d.validate().unwrap_or_else(|e| panic!("round {round}: invalid dataset loaded: {e}"));
                loaded += 1;
            }
            Ok(Err(_)) => errors += 1,
        }
        std::fs::write(path, &original).unwrap();
    }
    assert!(errors > 100 && loaded > 10, "{errors} errors, {loaded} loads: the damage should do both");
}
