//! Small valid inputs for every loader, built from scratch (never copied from the real data), for
//! the bad-input suite (`tests/bad_input.rs`) and the parsers' fuzz tests
//! (`datasets/tests/fuzz_parsers.rs`): `#[path = ".../tests/support/inputs.rs"] mod inputs;`.
//!
//! - Planetoid: a Python-2 protocol-2 pickle writer ([`PickleWriter`]) and the eight
//!   `ind.<name>.*` files of a 522-node, 3-class, 5-feature dataset ([`planetoid_files`]);
//! - LINQS: `.content` and `.cites` of 12 papers ([`linqs_texts`]);
//! - npz: the arrays of a 12-node graph ([`npz_arrays`], written with the crate's writer);
//! - HDF5: a 40-node CSBM written in the gdistill layout ([`small_dataset`], [`write_h5`]).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gdistill_datasets::array::{ArrayData, NdArray};
use gdistill_datasets::{generate_csbm, write_h5graph, CsbmParams, FeatureLayout, NodeDataset};

/// Emits the opcodes the Planetoid files use (protocol 2, Python-2 style: `GLOBAL`,
/// `BINSTRING`, `REDUCE`, `BUILD`, memo puts).
#[derive(Default)]
pub struct PickleWriter {
    pub out: Vec<u8>,
    memo: u32,
}

impl PickleWriter {
    pub fn new() -> PickleWriter {
        let mut w = PickleWriter::default();
        w.op(b"\x80\x02");
        w
    }

    pub fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    pub fn put(&mut self) -> &mut Self {
        self.memo += 1;
        let m = self.memo;
        if m < 256 {
            self.op(&[b'q', m as u8])
        } else {
            self.op(b"r").op(&m.to_le_bytes())
        }
    }

    pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(format!("c{module}\n{name}\n").as_bytes()).put()
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        if s.len() < 256 {
            self.op(&[b'U', s.len() as u8]).op(s.as_bytes())
        } else {
            self.binstring(s.as_bytes())
        }
    }

    pub fn binstring(&mut self, data: &[u8]) -> &mut Self {
        self.op(b"T").op(&(data.len() as u32).to_le_bytes()).op(data)
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        if (0..256).contains(&v) {
            self.op(&[b'K', v as u8])
        } else if (0..65536).contains(&v) {
            self.op(b"M").op(&(v as u16).to_le_bytes())
        } else if let Ok(v) = i32::try_from(v) {
            self.op(b"J").op(&v.to_le_bytes())
        } else {
            self.op(&[0x8a, 8]).op(&v.to_le_bytes())
        }
    }

    /// A numpy array: `kind` is a dtype such as `f4`, `i4`, `i8`, `b1`, `U3`; `data` its raw
    /// little-endian bytes (not checked against the shape: bad files are the point).
    pub fn ndarray(&mut self, kind: &str, shape: &[i64], data: &[u8]) -> &mut Self {
        self.global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
        self.op(b"K\x00\x85").str("b").op(b"\x87R").put().op(b"(K\x01(");
        for &d in shape {
            self.int(d);
        }
        self.op(b"t").global("numpy", "dtype").str(kind).op(b"K\x00K\x01\x87R").put();
        self.op(b"(K\x03").str("<").op(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
        self.op(b"\x89").binstring(data).op(b"tb")
    }

    /// A scipy `csr_matrix` built from its parts.
    pub fn csr(&mut self, shape: (i64, i64), indptr: &[i32], indices: &[i32], data: &[f32]) -> &mut Self {
        self.global("scipy.sparse.csr", "csr_matrix").op(b")\x81").put().op(b"}").put().op(b"(");
        self.str("_shape").int(shape.0).int(shape.1).op(b"\x86");
        self.str("indptr").ndarray("i4", &[indptr.len() as i64], &i32_bytes(indptr));
        self.str("indices").ndarray("i4", &[indices.len() as i64], &i32_bytes(indices));
        self.str("data").ndarray("f4", &[data.len() as i64], &f32_bytes(data));
        self.op(b"ub")
    }

    /// `defaultdict(list, {node: [neighbours]})`.
    pub fn adjacency(&mut self, lists: &[(i64, Vec<i64>)]) -> &mut Self {
        self.global("collections", "defaultdict").global("__builtin__", "list").op(b"\x85R").put().op(b"(");
        for (node, neighbours) in lists {
            self.int(*node).op(b"]").put();
            if !neighbours.is_empty() {
                self.op(b"(");
                for &j in neighbours {
                    self.int(j);
                }
                self.op(b"e");
            }
        }
        self.op(b"u")
    }

    /// The finished pickle (`STOP` appended).
    pub fn finish(&mut self) -> Vec<u8> {
        self.op(b".");
        std::mem::take(&mut self.out)
    }
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A pickled numpy array.
pub fn pickle_ndarray(kind: &str, shape: &[i64], data: &[u8]) -> Vec<u8> {
    PickleWriter::new().ndarray(kind, shape, data).finish()
}

/// A pickled one-hot int32 label matrix.
pub fn pickle_onehot(labels: &[usize], classes: usize) -> Vec<u8> {
    let mut values = vec![0i32; labels.len() * classes];
    for (r, &y) in labels.iter().enumerate() {
        values[r * classes + y] = 1;
    }
    pickle_ndarray("i4", &[labels.len() as i64, classes as i64], &i32_bytes(&values))
}

/// A pickled CSR feature matrix of the given rows (each row: `(column, value)` pairs, sorted).
pub fn pickle_features(rows: &[Vec<(usize, f32)>], cols: usize) -> Vec<u8> {
    let mut indptr = vec![0i32];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for row in rows {
        for &(j, v) in row {
            indices.push(j as i32);
            data.push(v);
        }
        indptr.push(indices.len() as i32);
    }
    PickleWriter::new().csr((rows.len() as i64, cols as i64), &indptr, &indices, &data).finish()
}

/// The shape of the small Planetoid dataset: `TRAIN` labelled nodes, then the 500 validation
/// nodes Planetoid always takes, `ALLX` rows in all, `TX` test rows after them.
pub const PLANETOID_TRAIN: usize = 6;
pub const PLANETOID_ALLX: usize = 510;
pub const PLANETOID_TX: usize = 12;
pub const PLANETOID_CLASSES: usize = 3;
pub const PLANETOID_FEATURES: usize = 5;

pub fn planetoid_label(node: usize) -> usize {
    node % PLANETOID_CLASSES
}

pub fn planetoid_row(node: usize) -> Vec<(usize, f32)> {
    let (a, b) = (node % PLANETOID_FEATURES, (node * 7 + 3) % PLANETOID_FEATURES);
    if a == b {
        vec![(a, 1.0)]
    } else {
        vec![(a.min(b), 1.0), (a.max(b), 0.5)]
    }
}

/// Test node of each `tx` row: the test range in reverse (Planetoid stores it unsorted).
pub fn planetoid_test_index() -> Vec<usize> {
    (PLANETOID_ALLX..PLANETOID_ALLX + PLANETOID_TX).rev().collect()
}

/// The eight `ind.<name>.<ext>` files of a valid 522-node dataset, as `(ext, bytes)`.
pub fn planetoid_files() -> Vec<(&'static str, Vec<u8>)> {
    let n = PLANETOID_ALLX + PLANETOID_TX;
    let train: Vec<usize> = (0..PLANETOID_TRAIN).collect();
    let allx: Vec<usize> = (0..PLANETOID_ALLX).collect();
    let test = planetoid_test_index();
    let rows = |nodes: &[usize]| nodes.iter().map(|&i| planetoid_row(i)).collect::<Vec<_>>();
    let labels = |nodes: &[usize]| nodes.iter().map(|&i| planetoid_label(i)).collect::<Vec<_>>();
    let graph: Vec<(i64, Vec<i64>)> =
        (0..n).map(|i| (i as i64, vec![((i + 1) % n) as i64, ((i * 13 + 5) % n) as i64])).collect();
    let test_index: String = test.iter().map(|i| format!("{i}\n")).collect();
    vec![
        ("x", pickle_features(&rows(&train), PLANETOID_FEATURES)),
        ("y", pickle_onehot(&labels(&train), PLANETOID_CLASSES)),
        ("tx", pickle_features(&rows(&test), PLANETOID_FEATURES)),
        ("ty", pickle_onehot(&labels(&test), PLANETOID_CLASSES)),
        ("allx", pickle_features(&rows(&allx), PLANETOID_FEATURES)),
        ("ally", pickle_onehot(&labels(&allx), PLANETOID_CLASSES)),
        ("graph", PickleWriter::new().adjacency(&graph).finish()),
        ("test.index", test_index.into_bytes()),
    ]
}

/// Writes `files` as `dir/<name>/ind.<name>.<ext>`; returns `dir/<name>`.
pub fn write_planetoid(dir: &Path, name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    for (ext, bytes) in files {
        std::fs::write(folder.join(format!("ind.{name}.{ext}")), bytes).unwrap();
    }
    folder
}

/// `.content` and `.cites` of 12 papers (`p0`..`p11`), 4 binary features, classes A, B, C, a
/// ring of citations plus chords.
pub fn linqs_texts() -> (String, String) {
    let mut content = String::new();
    for i in 0..12 {
        let features: Vec<String> = (0..4).map(|j| if (i + j) % 3 == 0 { "1".into() } else { "0".into() }).collect();
        content.push_str(&format!("p{i}\t{}\t{}\n", features.join("\t"), ["A", "B", "C"][i % 3]));
    }
    let mut cites = String::new();
    for i in 0..12 {
        cites.push_str(&format!("p{}\tp{i}\n", (i + 1) % 12));
        cites.push_str(&format!("p{}\tp{i}\n", (i + 5) % 12));
    }
    (content, cites)
}

/// Writes `PREFIX.content` and `PREFIX.cites`; returns the prefix.
pub fn write_linqs(dir: &Path, name: &str, content: &[u8], cites: &[u8]) -> PathBuf {
    let prefix = dir.join(name);
    std::fs::write(dir.join(format!("{name}.content")), content).unwrap();
    std::fs::write(dir.join(format!("{name}.cites")), cites).unwrap();
    prefix
}

pub fn ints(v: &[i64]) -> NdArray {
    NdArray { shape: vec![v.len()], data: ArrayData::Int(v.to_vec()) }
}

pub fn floats(shape: &[usize], v: &[f32]) -> NdArray {
    NdArray { shape: shape.to_vec(), data: ArrayData::F32(v.to_vec()) }
}

pub fn strings(v: &[&str]) -> NdArray {
    NdArray { shape: vec![v.len()], data: ArrayData::Str(v.iter().map(|s| s.to_string()).collect()) }
}

/// A 12-node gnn-benchmark graph: a ring stored one way, CSR attributes, two named classes.
pub fn npz_arrays() -> Vec<(&'static str, NdArray)> {
    let n = 12;
    let ring: Vec<i64> = (0..n).map(|i| (i + 1) % n).collect();
    let indptr: Vec<i64> = (0..=n).collect();
    let attr_indices: Vec<i64> = (0..n).map(|i| i % 3).collect();
    let attr_data: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
    vec![
        ("adj_data", floats(&[n as usize], &vec![1.0; n as usize])),
        ("adj_indices", ints(&ring)),
        ("adj_indptr", ints(&indptr)),
        ("adj_shape", ints(&[n, n])),
        ("attr_data", floats(&[n as usize], &attr_data)),
        ("attr_indices", ints(&attr_indices)),
        ("attr_indptr", ints(&indptr)),
        ("attr_shape", ints(&[n, 3])),
        ("labels", ints(&(0..n).map(|i| i % 2).collect::<Vec<_>>())),
        ("class_names", strings(&["even", "odd"])),
    ]
}

/// `arrays` with `key` replaced by `value` (or removed when `None`).
pub fn replace_array(
    mut arrays: Vec<(&'static str, NdArray)>,
    key: &'static str,
    value: Option<NdArray>,
) -> Vec<(&'static str, NdArray)> {
    arrays.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        arrays.push((key, v));
    }
    arrays
}

/// Writes `arrays` as an npz at `path`.
pub fn write_npz(path: &Path, arrays: &[(&'static str, NdArray)]) {
    let refs: Vec<(&str, &NdArray)> = arrays.iter().map(|(k, v)| (*k, v)).collect();
    gdistill_datasets::npz::write_npz(path, &refs).unwrap();
}

/// A 40-node, 2-class, 4-feature CSBM (deterministic).
pub fn small_dataset() -> NodeDataset {
    let params: CsbmParams = "nodes=40,classes=2,degree=3,features=4,signal=2,seed=5".parse().unwrap();
    generate_csbm(&params).unwrap()
}

/// Writes [`small_dataset`] in the gdistill HDF5 layout.
pub fn write_h5(path: &Path, layout: FeatureLayout) {
    write_h5graph(path, &small_dataset(), layout).unwrap();
}

/// CRC-32 (IEEE), as zip members carry it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A zip archive of uncompressed (stored) members: the simplest npz numpy itself would read.
/// Sizes sit at fixed offsets, so tests can inflate them (local header +22, central entry +24).
pub fn stored_zip(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let u16le = |v: usize| (v as u16).to_le_bytes();
    let u32le = |v: usize| (v as u32).to_le_bytes();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len();
        let crc = crc32(data).to_le_bytes();
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        out.extend_from_slice(&crc);
        out.extend_from_slice(&u32le(data.len()));
        out.extend_from_slice(&u32le(data.len()));
        out.extend_from_slice(&u16le(name.len()));
        out.extend_from_slice(&u16le(0));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        central.extend_from_slice(&crc);
        central.extend_from_slice(&u32le(data.len()));
        central.extend_from_slice(&u32le(data.len()));
        central.extend_from_slice(&u16le(name.len()));
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attributes, external attributes
        central.extend_from_slice(&u32le(offset));
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&u16le(members.len()));
    out.extend_from_slice(&u16le(members.len()));
    out.extend_from_slice(&u32le(central.len()));
    out.extend_from_slice(&u32le(cd_offset));
    out.extend_from_slice(&u16le(0));
    out
}

/// [`npz_arrays`] (or any arrays) as `(member name, .npy bytes)` for [`stored_zip`].
pub fn npy_members(arrays: &[(&'static str, NdArray)]) -> Vec<(String, Vec<u8>)> {
    arrays.iter().map(|(k, v)| (format!("{k}.npy"), gdistill_datasets::npz::npy::write_npy(v))).collect()
}

/// An `.npy` file with a hand-written header dict and raw data (for headers that lie).
pub fn raw_npy(header: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header.to_string();
    header.push_str(&" ".repeat(63 - (10 + header.len()) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}
