//! Dense part features (datasets/src/part_features.rs): a part file whose features are dense is
//! opened without them (`PartFeatures::DenseLater`) and read back as dense rows, a block at a
//! time, equal bit for bit to the dataset's rows, row-normalised exactly as
//! `NodeDataset::row_normalize_features` does; sparse features stay CSR; and a read without the
//! adjacency keeps the nodes only.

#[path = "../../tests/support/data.rs"]
mod data;

use std::path::Path;

use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
use gdistill_datasets::part_features::DenseFeatureReader;
use gdistill_datasets::partition_files::{
    open_listed_part_with, part_file_name, read_manifest_for, write_partition, PartFeatures,
};
use gdistill_datasets::planetoid::load_planetoid;
use gdistill_datasets::NodeDataset;
use gdistill_graph::partition::{assign_parts, PartitionMethod};

const PARTS: usize = 3;

fn partition(dataset: &NodeDataset, dir: &Path) {
    let owner = assign_parts(&dataset.graph, PARTS, PartitionMethod::Metis, 0).unwrap();
    write_partition(dir, dataset, &owner, PARTS, "metis", 0).unwrap();
}

/// Row `i` of `features` as a dense vector of `cols` values.
fn dense_row(features: &sprs::CsMat<f32>, i: usize, cols: usize) -> Vec<f32> {
    let mut row = vec![0f32; cols];
    for (j, &v) in features.outer_view(i).unwrap().iter() {
        row[j] = v;
    }
    row
}

/// Every part of `dataset` (partitioned in `dir`), its features read dense in blocks of `block`
/// rows with `normalize`, against `expected`'s rows.
fn check_dense_parts(dataset: &NodeDataset, expected: &NodeDataset, dir: &Path, normalize: bool, block: usize) {
    let cols = dataset.num_features();
    for part in 0..PARTS {
        let manifest = read_manifest_for(dir, PARTS).unwrap();
        let (_, p) = open_listed_part_with(dir, manifest, part, PARTS, PartFeatures::DenseLater, true).unwrap();
        assert!(p.features_deferred, "dense features are left on disk");
        assert_eq!(p.features.nnz(), 0);
        let reader = DenseFeatureReader::open(&dir.join(part_file_name(part, PARTS))).unwrap();
        assert_eq!((reader.rows(), reader.cols()), (p.graph.nodes.len(), cols));
        let mut start = 0;
        while start < reader.rows() {
            let end = (start + block).min(reader.rows());
            let mut out = vec![f32::NAN; (end - start) * cols];
            reader.read(start..end, &mut out, normalize).unwrap();
            for (r, &i) in p.graph.nodes[start..end].iter().enumerate() {
                let want = dense_row(&expected.features, i, cols);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out[r * cols..(r + 1) * cols]), bits(&want), "part {part}, node {i}");
            }
            start = end;
        }
    }
}

#[test]
fn dense_part_features_read_in_blocks_equal_the_datasets_rows_normalised_or_not() {
    let dataset = generate_csbm(&"nodes=400,classes=3,degree=6,features=12,seed=2".parse::<CsbmParams>().unwrap())
        .expect("a CSBM");
    let dir = tempfile::tempdir().unwrap();
    partition(&dataset, dir.path());
    // signed features, as drawn: read as they are, and found signed
    check_dense_parts(&dataset, &dataset, dir.path(), false, 7);
    let reader = DenseFeatureReader::open(&dir.path().join(part_file_name(0, PARTS))).unwrap();
    assert!(!reader.all_nonnegative(5).unwrap());

    // non-negative features, row-normalised on reading as the whole dataset would be
    let mut positive = dataset.clone();
    positive.features.data_mut().iter_mut().for_each(|v| *v = v.abs());
    let positive_dir = tempfile::tempdir().unwrap();
    partition(&positive, positive_dir.path());
    let mut normalised = positive.clone();
    normalised.row_normalize_features();
    for block in [1, 7, 1000] {
        check_dense_parts(&positive, &normalised, positive_dir.path(), true, block);
    }
    let reader = DenseFeatureReader::open(&positive_dir.path().join(part_file_name(1, PARTS))).unwrap();
    assert!(reader.all_nonnegative(5).unwrap());
}

#[test]
fn sparse_part_features_stay_csr_and_a_read_without_adjacency_keeps_the_nodes() {
    let cora = load_planetoid(&data::data_root().join("cora"), "cora").unwrap();
    let dir = tempfile::tempdir().unwrap();
    partition(&cora, dir.path());
    let manifest = read_manifest_for(dir.path(), PARTS).unwrap();
    let (_, full) =
        open_listed_part_with(dir.path(), manifest.clone(), 0, PARTS, PartFeatures::DenseLater, true).unwrap();
    assert!(!full.features_deferred, "Cora's 1.3% dense features stay CSR");
    let features = cora.features.to_csr();
    for (r, &i) in full.graph.nodes.iter().enumerate() {
        assert_eq!(full.features.outer_view(r).unwrap().data(), features.outer_view(i).unwrap().data());
    }
    assert!(full.graph.num_entries() > 0 && !full.graph.halo.is_empty());
    let (_, bare) = open_listed_part_with(dir.path(), manifest, 0, PARTS, PartFeatures::DenseLater, false).unwrap();
    assert_eq!(bare.graph.nodes, full.graph.nodes);
    assert_eq!(bare.graph.indptr, vec![0; full.graph.nodes.len() + 1]);
    assert!(bare.graph.indices.is_empty() && bare.graph.halo.is_empty());
    assert_eq!((bare.labels, bare.train, bare.val, bare.test), (full.labels, full.train, full.val, full.test));
}
