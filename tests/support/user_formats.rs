//! One small graph written in each of the user-data layouts (OGB, csv:, heterophilous npz) and,
//! as the reference each reader must match, in the gdistill HDF5 layout written with the hdf5
//! crate by hand (not through gdistill's writer, so that a shared mistake cannot hide).
//!
//! Shared by `datasets/tests/user_formats.rs` (the library) and `tests/cli_user_formats.rs` (the
//! binary): `#[path = ".../tests/support/user_formats.rs"] mod user_formats;`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use gdistill_datasets::array::{ArrayData, NdArray};
use gdistill_datasets::h5graph::hdf5;
use gdistill_datasets::npz::write_npz;

/// The graph: 12 nodes, 3 features, 3 classes; edges with a duplicate, a reversed pair and a
/// self-loop, which every reader must merge and drop exactly as the HDF5 reader does.
pub struct Raw {
    pub n: usize,
    pub edges: Vec<(usize, usize)>,
    pub features: Vec<[f32; 3]>,
    pub labels: Vec<usize>,
    pub split: [Vec<usize>; 3],
}

pub fn raw() -> Raw {
    let labels = vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
    let features = (0..12).map(|i| [i as f32 * 0.5, if i % 3 == 0 { 0.0 } else { -1.25 }, (i % 4) as f32]).collect();
    let edges = vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11)]
        .into_iter()
        .chain([(1, 0), (0, 1), (5, 5), (11, 0), (2, 7)])
        .collect();
    Raw { n: 12, edges, features, labels, split: [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9, 10, 11]] }
}

/// A second split of the same nodes (row 1 of the npz masks).
pub fn other_split() -> [Vec<usize>; 3] {
    [vec![9, 10, 11], vec![0, 1, 2], vec![3, 4, 5, 6, 7, 8]]
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn lines<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|x| format!("{x}\n")).collect()
}

/// The reference: the HDF5 graph layout, written field by field.
pub fn write_h5(path: &Path, raw: &Raw, split: &[Vec<usize>; 3]) {
    let file = hdf5::File::create(path).unwrap();
    let format: hdf5::types::VarLenUnicode = "gdistill-graph".parse().unwrap();
    file.new_attr::<hdf5::types::VarLenUnicode>().create("format").unwrap().write_scalar(&format).unwrap();
    file.new_attr::<i64>().create("version").unwrap().write_scalar(&1i64).unwrap();
    let mut edge_index: Vec<i64> = raw.edges.iter().map(|&(a, _)| a as i64).collect();
    edge_index.extend(raw.edges.iter().map(|&(_, b)| b as i64));
    file.new_dataset::<i64>().shape([2, raw.edges.len()]).create("edge_index").unwrap().write_raw(&edge_index).unwrap();
    let x: Vec<f32> = raw.features.iter().flatten().copied().collect();
    file.new_dataset::<f32>().shape([raw.n, 3]).create("features").unwrap().write_raw(&x).unwrap();
    let ints = |name: &str, v: &[usize]| {
        let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
        file.new_dataset::<i64>().shape([v.len()]).create(name).unwrap().write_raw(&v).unwrap();
    };
    ints("labels", &raw.labels);
    ints("train_idx", &split[0]);
    ints("val_idx", &split[1]);
    ints("test_idx", &split[2]);
}

/// OGB's layout under `root/name/`, gzip throughout; returns the dataset folder.
pub fn write_ogb(root: &Path, name: &str, raw: &Raw) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    std::fs::create_dir_all(dir.join("split/time")).unwrap();
    let put = |rel: &str, text: String| std::fs::write(dir.join(rel), gz(text.as_bytes())).unwrap();
    put("raw/num-node-list.csv.gz", lines([raw.n]));
    put("raw/num-edge-list.csv.gz", lines([raw.edges.len()]));
    put("raw/edge.csv.gz", lines(raw.edges.iter().map(|(a, b)| format!("{a},{b}"))));
    put("raw/node-feat.csv.gz", lines(raw.features.iter().map(|f| format!("{},{},{}", f[0], f[1], f[2]))));
    put("raw/node-label.csv.gz", lines(&raw.labels));
    for (part, ids) in ["train", "valid", "test"].iter().zip(&raw.split) {
        put(&format!("split/time/{part}.csv.gz"), lines(ids));
    }
    dir
}

/// The `csv:` files under `root/name/` (a header, a comment and whitespace in the edge list;
/// CSV features with a header); returns the spec.
pub fn write_csv(root: &Path, name: &str, raw: &Raw) -> String {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut edges = String::from("source target\n# the user's own comment\n");
    edges += &lines(raw.edges.iter().map(|(a, b)| format!("{a}\t{b}")));
    std::fs::write(dir.join("edges.txt"), edges).unwrap();
    let features =
        String::from("f0,f1,f2\n") + &lines(raw.features.iter().map(|f| format!("{},{},{}", f[0], f[1], f[2])));
    std::fs::write(dir.join("features.csv"), features).unwrap();
    std::fs::write(dir.join("labels.txt"), lines(&raw.labels)).unwrap();
    let mut words = vec!["-"; raw.n];
    for (word, ids) in ["train", "val", "test"].iter().zip(&raw.split) {
        for &i in ids {
            words[i] = word;
        }
    }
    std::fs::write(dir.join("split.txt"), lines(words)).unwrap();
    let d = dir.display();
    format!("csv:edges={d}/edges.txt,features={d}/features.csv,labels={d}/labels.txt,split={d}/split.txt")
}

/// The heterophilous-graph npz layout with two stored splits (`raw.split`, then [`other_split`]).
pub fn hetero_arrays(raw: &Raw) -> Vec<(&'static str, NdArray)> {
    let x: Vec<f32> = raw.features.iter().flatten().copied().collect();
    let e: Vec<i64> = raw.edges.iter().flat_map(|&(a, b)| [a as i64, b as i64]).collect();
    let splits = [raw.split.clone(), other_split()];
    let mask = |part: usize| {
        let mut m = vec![false; 2 * raw.n];
        for (s, split) in splits.iter().enumerate() {
            for &i in &split[part] {
                m[s * raw.n + i] = true;
            }
        }
        NdArray { shape: vec![2, raw.n], data: ArrayData::Bool(m) }
    };
    vec![
        ("node_features", NdArray { shape: vec![raw.n, 3], data: ArrayData::F32(x) }),
        (
            "node_labels",
            NdArray { shape: vec![raw.n], data: ArrayData::Int(raw.labels.iter().map(|&y| y as i64).collect()) },
        ),
        ("edges", NdArray { shape: vec![raw.edges.len(), 2], data: ArrayData::Int(e) }),
        ("train_masks", mask(0)),
        ("val_masks", mask(1)),
        ("test_masks", mask(2)),
    ]
}

pub fn write_hetero(path: &Path, arrays: &[(&str, NdArray)]) {
    let refs: Vec<(&str, &NdArray)> = arrays.iter().map(|(k, a)| (*k, a)).collect();
    write_npz(path, &refs).unwrap();
}
