//! Fuzzing every parser of gdistill-datasets, CI-sized: thousands of mutated inputs per target in
//! a couple of seconds each (`GDISTILL_FUZZ_ITERS` / `GDISTILL_FUZZ_SECS` scale them up: `make fuzz`).
//!
//! Each target starts from small valid inputs (`tests/support/inputs.rs`), mutates them
//! (`tests/support/mutate.rs`: truncation, bit flips, splices, inflated length fields, numeric
//! tokens replaced by `nan`, `inf`, `-1`, `10^20`, ...) and asserts that the parser never panics
//! and returns either an error or a dataset that passes `validate()`. Crashes found this way are
//! kept below as regression tests (`regression_*`).
//!
//! The memory budget of the `limits` module is set to 256 MiB for this test binary, so inputs
//! whose declared sizes would need more are refused quickly and deterministically.

#[path = "../../tests/support/inputs.rs"]
mod inputs;
#[path = "../../tests/support/mutate.rs"]
mod mutate;

use std::path::Path;
use std::sync::Once;

use gdistill_datasets::array::ArrayData;
use gdistill_datasets::csbm::CsbmParams;
use gdistill_datasets::npz::npy::{read_npy, write_npy};
use gdistill_datasets::pickle::decode::{decode_adjacency_dict, decode_ndarray, decode_sparse_matrix};
use gdistill_datasets::pickle::Pickle;
use gdistill_datasets::{
    generate_csbm, load_linqs, load_npz, load_planetoid, read_h5graph, FeatureLayout, LinqsOptions, NodeDataset,
    SplitOptions,
};
use inputs::*;
use mutate::{fuzz, Mutator};

/// Sets the memory budget before any test reads it (every test calls this first, so no other
/// thread of this binary is reading the environment while it is written).
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("GDISTILL_MAX_MEMORY", "256M");
        // HDF5 reads go through the probe process, as they do in the gdistill binary
        let program = std::env::var_os("GDISTILL_H5PROBE")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_gdistill-h5probe").into())
            .into();
        gdistill_datasets::h5graph::isolate::set_probe(gdistill_datasets::h5graph::isolate::Probe {
            program,
            args: vec![],
        });
    });
}

/// A loaded dataset must be valid; an error is a clean rejection.
fn outcome(result: Result<NodeDataset, gdistill_datasets::DatasetError>) -> Result<bool, String> {
    match result {
        Ok(d) => d.validate().map(|()| true).map_err(|e| format!("loaded an invalid dataset: {e}")),
        Err(e) => {
            let message = e.to_string();
            if message.is_empty() {
                return Err("an error with an empty message".into());
            }
            Ok(false)
        }
    }
}

/// The pickles of the Planetoid files plus a few small values.
fn pickle_corpus() -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = planetoid_files()
        .into_iter()
        .filter(|(e, _)| *e != "test.index" && *e != "allx" && *e != "graph")
        .map(|(_, b)| b)
        .collect();
    corpus.push(PickleWriter::new().adjacency(&[(0, vec![1, 2]), (2, vec![0]), (7, vec![])]).finish());
    corpus.push(pickle_ndarray(
        "U3",
        &[2],
        &[b'a', 0, 0, 0, b'b', 0, 0, 0, b'c', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ));
    corpus.push(pickle_ndarray("i8", &[2, 2], &[1u8; 32]));
    corpus
}

/// Parses and tries every decoder on the root (any of them may fail; none may panic).
fn parse_and_decode(bytes: &[u8]) -> Result<bool, String> {
    let Ok(p) = Pickle::parse(bytes) else { return Ok(false) };
    let root = p.root();
    if let Ok(a) = decode_ndarray(&p, root) {
        let count: usize = a.shape.iter().product();
        if count != a.len() {
            return Err(format!("array of shape {:?} holds {} elements", a.shape, a.len()));
        }
    }
    if let Ok(m) = decode_sparse_matrix(&p, root) {
        if !m.is_csr() || m.indptr().len() != m.rows() + 1 {
            return Err("a malformed CSR matrix".into());
        }
    }
    let _ = decode_adjacency_dict(&p, root);
    Ok(true)
}

#[test]
fn fuzz_pickle() {
    init();
    let corpus = pickle_corpus();
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    fuzz(
        "pickle",
        200_000,
        3.0,
        1,
        |m: &mut Mutator, k| {
            let seed = &corpus[k % corpus.len()];
            m.mutate(seed, &others)
        },
        parse_and_decode,
    );
}

fn npy_corpus() -> Vec<Vec<u8>> {
    let arrays = npz_arrays();
    let mut corpus: Vec<Vec<u8>> = arrays.iter().map(|(_, a)| write_npy(a)).collect();
    corpus
        .push(write_npy(&gdistill_datasets::array::NdArray { shape: vec![3, 2], data: ArrayData::F64(vec![1.0; 6]) }));
    corpus.push(write_npy(&gdistill_datasets::array::NdArray {
        shape: vec![4],
        data: ArrayData::Bool(vec![true, false, true, true]),
    }));
    corpus.push(raw_npy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }", &[1u8; 12]));
    corpus.push(raw_npy("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", b"abcde\0"));
    corpus
}

#[test]
fn fuzz_npy() {
    init();
    let corpus = npy_corpus();
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    fuzz(
        "npy",
        200_000,
        2.0,
        2,
        |m, k| m.mutate(&corpus[k % corpus.len()], &others),
        |bytes| match read_npy(bytes) {
            Ok(a) if a.shape.iter().product::<usize>() != a.len() => {
                Err(format!("array of shape {:?} holds {} elements", a.shape, a.len()))
            }
            Ok(_) => Ok(true),
            Err(_) => Ok(false),
        },
    );
}

#[test]
fn fuzz_npz() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let deflated = dir.path().join("deflated.npz");
    write_npz(&deflated, &npz_arrays());
    let members = npy_members(&npz_arrays());
    let stored = stored_zip(&members.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
    let corpus = [std::fs::read(&deflated).unwrap(), stored];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let path = dir.path().join("fuzzed.npz");
    fuzz(
        "npz",
        8_000,
        2.0,
        3,
        |m, k| m.mutate(&corpus[k % 2], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            outcome(load_npz(&path, &SplitOptions::default()))
        },
    );
}

/// Writes the Planetoid files with one of them replaced by `bytes`.
fn write_planetoid_with(dir: &Path, replaced: &str, bytes: &[u8]) {
    let mut files = planetoid_files();
    for (ext, b) in files.iter_mut() {
        if *ext == replaced {
            *b = bytes.to_vec();
        }
    }
    write_planetoid(dir, "cora", &files);
}

#[test]
fn fuzz_planetoid() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let valid = planetoid_files();
    assert!(load_planetoid(&write_planetoid(dir.path(), "cora", &valid), "cora").is_ok(), "the valid files load");
    let others: Vec<&[u8]> = valid.iter().map(|(_, b)| b.as_slice()).collect();
    let choice = std::cell::Cell::new(0usize);
    fuzz(
        "planetoid",
        3_000,
        2.5,
        4,
        |m, _| {
            let k = m.rng.below(valid.len());
            choice.set(k);
            let (ext, bytes) = &valid[k];
            if *ext == "test.index" {
                m.mutate_text(std::str::from_utf8(bytes).unwrap())
            } else {
                m.mutate(bytes, &others)
            }
        },
        |bytes| {
            write_planetoid_with(dir.path(), valid[choice.get()].0, bytes);
            outcome(load_planetoid(&dir.path().join("cora"), "cora"))
        },
    );
}

#[test]
fn fuzz_linqs() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let (content, cites) = linqs_texts();
    let opts = [LinqsOptions::default(), LinqsOptions { strict: true, ..LinqsOptions::default() }];
    fuzz(
        "linqs",
        6_000,
        2.0,
        5,
        |m, k| {
            // first byte says which file was mutated
            if k % 2 == 0 {
                [vec![0u8], m.mutate_text(&content)].concat()
            } else {
                [vec![1u8], m.mutate_text(&cites)].concat()
            }
        },
        |input| {
            let (which, bytes) = input.split_first().unwrap();
            let prefix = if *which == 0 {
                write_linqs(dir.path(), "papers", bytes, cites.as_bytes())
            } else {
                write_linqs(dir.path(), "papers", content.as_bytes(), bytes)
            };
            let a = outcome(load_linqs(&prefix, &opts[0]).map(|(d, _)| d))?;
            let b = outcome(load_linqs(&prefix, &opts[1]).map(|(d, _)| d))?;
            if b && !a {
                return Err("strict mode accepted what the default refused".into());
            }
            Ok(a)
        },
    );
}

#[test]
fn fuzz_h5graph() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let dense = dir.path().join("dense.h5");
    let sparse = dir.path().join("sparse.h5");
    write_h5(&dense, FeatureLayout::Dense);
    write_h5(&sparse, FeatureLayout::Sparse);
    let corpus = [std::fs::read(&dense).unwrap(), std::fs::read(&sparse).unwrap()];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let path = dir.path().join("fuzzed.h5");
    fuzz(
        "h5graph",
        1_500,
        2.0,
        6,
        |m, k| m.mutate(&corpus[k % 2], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            outcome(read_h5graph(&path))
        },
    );
}

#[test]
fn fuzz_csbm_spec() {
    init();
    let specs = [
        "nodes=60,classes=3,degree=4,homophily=0.7,features=5,signal=2,seed=1",
        "nodes=200,classes=2,degree=10,features=3",
        "classes=4,nodes=40,seed=9",
    ];
    fuzz(
        "csbm-spec",
        8_000,
        2.0,
        7,
        |m, k| m.mutate_text(specs[k % specs.len()]),
        |bytes| {
            let Ok(text) = std::str::from_utf8(bytes) else { return Ok(false) };
            let Ok(params) = text.parse::<CsbmParams>() else { return Ok(false) };
            // the round trip of a parsed spec parses to the same parameters
            let again: CsbmParams =
                params.to_string().parse().map_err(|e| format!("'{params}' does not parse back: {e}"))?;
            if again != params && !(params.avg_degree.is_nan() || params.homophily.is_nan() || params.signal.is_nan()) {
                return Err(format!("'{params}' parses back as '{again}'"));
            }
            outcome(generate_csbm(&params))
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the fuzzers (and the bad-input suite) found, fixed, and kept.

/// Labels of shape `(10^12, 0)` hold no data, so the byte count matched; the loader then reserved
/// 10^12 rows and the process aborted.
#[test]
fn regression_zero_width_labels_with_huge_row_count() {
    init();
    let dir = tempfile::tempdir().unwrap();
    write_planetoid_with(dir.path(), "ally", &pickle_ndarray("i4", &[1_000_000_000_000, 0], &[]));
    let err = load_planetoid(&dir.path().join("cora"), "cora").unwrap_err();
    assert!(err.to_string().contains("no class columns"), "{err}");
}

/// A test index of 10^12 made the loader build 10^12 nodes.
#[test]
fn regression_test_index_far_past_the_end() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let mut index: Vec<String> = planetoid_test_index().iter().map(|i| i.to_string()).collect();
    index[0] = "1000000000000".into();
    write_planetoid_with(dir.path(), "test.index", index.join("\n").as_bytes());
    let err = load_planetoid(&dir.path().join("cora"), "cora").unwrap_err();
    assert!(err.to_string().contains("implies 1000000000001 nodes"), "{err}");
}

/// NaN in a one-hot label row was silently read as class 0.
#[test]
fn regression_nan_in_one_hot_labels() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let mut y = vec![0f32; PLANETOID_TRAIN * PLANETOID_CLASSES];
    for (r, row) in y.chunks_mut(PLANETOID_CLASSES).enumerate() {
        row[planetoid_label(r)] = 1.0;
    }
    y[0] = f32::NAN;
    write_planetoid_with(dir.path(), "y", &pickle_ndarray("f4", &[PLANETOID_TRAIN as i64, 3], &f32_bytes(&y)));
    let err = load_planetoid(&dir.path().join("cora"), "cora").unwrap_err();
    assert!(err.to_string().contains("labels must be finite"), "{err}");
}

/// Copies of one memoised tuple, each two bytes in the file, could demand gigabytes.
#[test]
fn regression_memo_references_cannot_amplify_memory() {
    let mut w = PickleWriter::new();
    w.global("collections", "defaultdict").op(b"(");
    for _ in 0..4096 {
        w.op(b"K\x01");
    }
    w.op(b"t").put();
    for _ in 0..60_000 {
        w.op(b"h\x01h\x02R0");
    }
    w.op(b"h\x02");
    let err = Pickle::parse(&w.finish()).unwrap_err();
    assert!(err.message.contains("copies of memoised objects"), "{err}");
    // the same through a decoder: a dict whose every key shares one memoised 30 000-item list
    let mut w = PickleWriter::new();
    w.global("collections", "defaultdict").op(b"]").put().op(b"(");
    for _ in 0..30_000 {
        w.op(b"K\x01");
    }
    w.op(b"e0").op(b"}(");
    for k in 0..20_000i64 {
        w.int(k).op(b"h\x02");
    }
    w.op(b"u");
    let p = Pickle::parse(&w.finish()).unwrap();
    let err = decode_adjacency_dict(&p, p.root()).unwrap_err();
    assert!(err.contains("exceed the size of the file"), "{err}");
}

/// A member of a zip archive may declare any size; it is checked before it is read.
#[test]
fn regression_npz_member_declaring_more_than_memory() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let members = npy_members(&npz_arrays());
    let mut bytes = stored_zip(&members.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
    for i in 0..bytes.len() - 30 {
        match &bytes[i..i + 4] {
            b"PK\x03\x04" => bytes[i + 22..i + 26].copy_from_slice(&0xffff_fff0u32.to_le_bytes()),
            b"PK\x01\x02" => bytes[i + 24..i + 28].copy_from_slice(&0xffff_fff0u32.to_le_bytes()),
            _ => {}
        }
    }
    let path = dir.path().join("inflated.npz");
    std::fs::write(&path, bytes).unwrap();
    let err = load_npz(&path, &SplitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("would need about 4.0 GiB"), "{err}");
}

/// Without class names, a label of 10^12 made 10^12 class names.
#[test]
fn regression_huge_label_without_class_names() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let mut labels: Vec<i64> = (0..12).map(|i| i % 2).collect();
    labels[0] = 1_000_000_000_000;
    let arrays = replace_array(replace_array(npz_arrays(), "class_names", None), "labels", Some(ints(&labels)));
    let path = dir.path().join("labels.npz");
    write_npz(&path, &arrays);
    let err = load_npz(&path, &SplitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("label 1000000000000 of node 0"), "{err}");
}

/// `nodes=10^12` allocated before checking, and aborted.
#[test]
fn regression_csbm_larger_than_memory() {
    init();
    let params: CsbmParams = "nodes=1000000000000".parse().unwrap();
    let err = generate_csbm(&params).unwrap_err();
    assert!(err.to_string().contains("would need about"), "{err}");
    let params: CsbmParams = "nodes=10,classes=2,degree=1e300".parse().unwrap();
    let err = generate_csbm(&params).unwrap_err();
    assert!(err.to_string().contains("too dense: degree 1e300"), "{err}");
}

/// An HDF5 dataset declaring 10^12 elements (stored as fill values in a small file) is refused
/// before it is read.
#[test]
fn regression_h5_dataset_declaring_more_than_memory() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.h5");
    write_h5(&path, FeatureLayout::Sparse);
    let file = gdistill_datasets::h5file::open_rw(&path).unwrap();
    file.unlink("train_idx").unwrap();
    file.new_dataset::<i64>().chunk([1024]).shape([1_000_000_000_000usize]).create("train_idx").unwrap();
    file.close().unwrap();
    let err = read_h5graph(&path).unwrap_err();
    assert!(err.to_string().contains("'train_idx' of shape [1000000000000] would need"), "{err}");
}

/// libhdf5 1.10 loops forever on a global heap object with index 0 and size 0 (found by
/// `fuzz_h5graph`: one changed byte of a valid file hung the process). Such files are refused
/// before libhdf5 opens them.
#[test]
fn regression_h5_global_heap_free_object_of_size_zero() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loop.h5");
    write_h5(&path, FeatureLayout::Sparse);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(4).position(|w| w == b"GCOL").expect("a global heap (variable-length strings)");
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap()) as usize;
    let mut p = 16;
    loop {
        let index = u16::from_le_bytes([bytes[at + p], bytes[at + p + 1]]);
        let size = u64_at(&bytes, at + p + 8);
        if index == 0 {
            bytes[at + p + 8..at + p + 16].copy_from_slice(&0u64.to_le_bytes());
            break;
        }
        p += 16 + size.div_ceil(8) * 8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = read_h5graph(&path).unwrap_err();
    assert!(err.to_string().contains("corrupt HDF5 global heap"), "{err}");
}

/// A variable-length string whose heap ID names an object index the collection does not hold
/// made libhdf5 1.10 read past its object table and segfault (found by `fuzz_h5graph`: a flipped
/// bit in the data of `class_names`). Such files are refused before libhdf5 opens them.
#[test]
fn regression_h5_string_naming_a_missing_heap_object() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.h5");
    write_h5(&path, FeatureLayout::Sparse);
    let mut bytes = std::fs::read(&path).unwrap();
    let heap = bytes.windows(4).position(|w| w == b"GCOL").unwrap() as u64;
    // every heap ID: a length, the collection's address, an object index (1, 2, ...)
    let ids: Vec<usize> = (4..bytes.len() - 12)
        .filter(|&k| {
            u64::from_le_bytes(bytes[k..k + 8].try_into().unwrap()) == heap
                && (1..64).contains(&u32::from_le_bytes(bytes[k - 4..k].try_into().unwrap()))
                && (1..64).contains(&u32::from_le_bytes(bytes[k + 8..k + 12].try_into().unwrap()))
        })
        .collect();
    assert!(ids.len() >= 3, "the format and name attributes and the class names: {ids:?}");
    let last = *ids.last().unwrap();
    bytes[last + 11] ^= 0x40; // object 1073741825 or so
    std::fs::write(&path, &bytes).unwrap();
    let err = read_h5graph(&path).unwrap_err();
    assert!(err.to_string().contains("corrupt HDF5 variable-length data"), "{err}");
}

/// Eight 0xFF bytes inserted at byte 120 of a valid graph file segfault libhdf5 1.10 inside
/// `H5Dread` (found by `fuzz_h5graph`); no byte check recognises it. The probe process crashes
/// instead of this one, and the file is refused with a message naming it.
#[test]
fn regression_h5_file_that_crashes_libhdf5_is_refused() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.h5");
    write_h5(&path, FeatureLayout::Dense);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.splice(120..120, [0xFF; 8]);
    std::fs::write(&path, &bytes).unwrap();
    let message = read_h5graph(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("libhdf5 crashed reading this file (segmentation fault)"), "{message}");
}

/// A 6 KB soft-targets file (from `fuzz_soft_targets`) on which libhdf5 1.10 allocates 6 GB of
/// its own buffers, beyond any declared shape the memory checks see. The probe's address space is
/// capped at the memory budget (256 MiB in this binary, plus its overhead), so it is refused in
/// a moment instead of after seconds of paging.
#[test]
fn regression_h5_file_on_which_libhdf5_allocates_gigabytes() {
    init();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/soft_targets_libhdf5_allocates_6gb.h5");
    let start = std::time::Instant::now();
    let message = gdistill_datasets::read_soft_targets(&path).unwrap_err().to_string();
    assert!(message.contains("soft_targets_libhdf5_allocates_6gb.h5"), "{message}");
    assert!(start.elapsed().as_secs_f64() < 5.0, "took {:?}: {message}", start.elapsed());
}

/// The checks that guard libhdf5 refuse nothing libhdf5 itself wrote: Cora (int64 node ids up
/// to 2707, so values equal to a heap's byte address occur in its data) written dense and sparse
/// reads back unchanged.
#[test]
fn the_hdf5_prechecks_accept_real_data() {
    init();
    #[path = "../../tests/support/data.rs"]
    mod data;
    let Some(cora) = data::data_dir("cora") else { return };
    let d = load_planetoid(&cora, "cora").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for layout in [FeatureLayout::Dense, FeatureLayout::Sparse] {
        let path = dir.path().join("cora.h5");
        gdistill_datasets::write_h5graph(&path, &d, layout).unwrap();
        let back = read_h5graph(&path).unwrap_or_else(|e| panic!("{layout:?}: {e}"));
        assert_eq!(back.summary(), d.summary());
    }
}

/// Gzip-compresses `bytes` (the loaders read both forms).
fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IDX file: magic, big-endian dimensions, then the bytes.
fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

#[test]
fn fuzz_idx() {
    init();
    let images = idx(0x0803, &[3, 4, 5], &(0..60u8).collect::<Vec<_>>());
    let labels = idx(0x0801, &[3], &[7, 0, 9]);
    let corpus = [gzipped(&images), gzipped(&labels), images, labels];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzzed-idx3-ubyte");
    fuzz(
        "idx",
        100_000,
        2.0,
        8,
        |m, k| m.mutate(&corpus[k % corpus.len()], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            let images = gdistill_datasets::images::idx::read_idx_images(&path);
            if let Ok(i) = &images {
                if i.pixels.len() != i.count * i.height * i.width {
                    return Err(format!("{} pixels for {}x{}x{}", i.pixels.len(), i.count, i.height, i.width));
                }
            }
            let labels = gdistill_datasets::images::idx::read_idx_labels(&path);
            Ok(images.is_ok() || labels.is_ok())
        },
    );
}

#[test]
fn fuzz_pixel_csv() {
    init();
    let plain = b"p0,p1,p2,p3,label\n0,16,8,0,3\n1,2,3,4,0\n\n16,16,0,0,9\n".to_vec();
    let corpus = [gzipped(&plain), plain];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzzed.csv");
    fuzz(
        "pixel_csv",
        100_000,
        2.0,
        9,
        |m, k| m.mutate(&corpus[k % corpus.len()], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            match gdistill_datasets::images::csv::read_pixel_csv(&path, 4, 16.0, 10) {
                Ok(t) if t.pixels.len() != 4 * t.labels.len() => {
                    Err(format!("{} pixels for {} images", t.pixels.len(), t.labels.len()))
                }
                Ok(t) if t.pixels.iter().any(|p| !(0.0..=16.0).contains(p)) || t.labels.iter().any(|&y| y >= 10) => {
                    Err("a pixel or label out of range was accepted".into())
                }
                Ok(_) => Ok(true),
                Err(_) => Ok(false),
            }
        },
    );
}

#[test]
fn fuzz_soft_targets() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let valid = dir.path().join("valid.h5");
    let targets = gdistill_datasets::SoftTargets {
        logits: (0..15).map(|i| i as f32 - 7.0).collect(),
        nodes: 5,
        classes: 3,
        dataset: "toy".into(),
        ensemble: None,
    };
    gdistill_datasets::write_soft_targets(&valid, &targets).unwrap();
    let corpus = [std::fs::read(&valid).unwrap()];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let path = dir.path().join("fuzzed.h5");
    fuzz(
        "soft_targets",
        1_500,
        2.0,
        10,
        |m, _| m.mutate(&corpus[0], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            match gdistill_datasets::read_soft_targets(&path) {
                Ok(t) if t.logits.len() != t.nodes * t.classes || t.logits.iter().any(|v| !v.is_finite()) => {
                    Err("accepted inconsistent or non-finite logits".into())
                }
                Ok(_) => Ok(true),
                Err(_) => Ok(false),
            }
        },
    );
}

#[test]
fn fuzz_modelnet() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let valid = dir.path().join("valid.h5");
    let file = gdistill_datasets::h5file::create(&valid).unwrap();
    let points: Vec<f32> = (0..6 * 8 * 3).map(|k| ((k * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    file.new_dataset::<f32>().shape([6, 8, 3]).create("data").unwrap().write_raw(&points).unwrap();
    let labels: Vec<u8> = (0..6).map(|k| (k % 3) as u8).collect();
    file.new_dataset::<u8>().shape([6, 1]).create("label").unwrap().write_raw(&labels).unwrap();
    file.close().unwrap();
    let corpus = [std::fs::read(&valid).unwrap()];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let path = dir.path().join("fuzzed.h5");
    fuzz(
        "modelnet",
        1_500,
        2.0,
        11,
        |m, _| m.mutate(&corpus[0], &others),
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            match gdistill_datasets::pointcloud::read_cloud_file(&path) {
                Ok(f) if f.points.len() != f.labels.len() * f.points_per_cloud * f.dim => {
                    Err(format!("{} values for {} clouds", f.points.len(), f.labels.len()))
                }
                Ok(f) if f.points.iter().any(|v| !v.is_finite()) => Err("accepted non-finite points".into()),
                Ok(_) => Ok(true),
                Err(_) => Ok(false),
            }
        },
    );
}
