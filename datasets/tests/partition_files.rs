//! Partition files (datasets/src/partition_files.rs) on Cora and on a CSBM graph, both methods:
//! the parts read back cover every node once with its row, features, label and split; halos equal
//! a brute-force computation; and a part from another run, a wrong part count, a missing part or
//! a run that fails part-way each give one message naming the file, with no manifest left behind.

#[path = "../../tests/support/data.rs"]
mod data;

use std::path::Path;

use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
use gdistill_datasets::partition_files::{open_part, read_manifest, write_partition, MANIFEST_NAME};
use gdistill_datasets::planetoid::load_planetoid;
use gdistill_datasets::NodeDataset;
use gdistill_graph::partition::{assign_parts, PartitionMethod};

const METHODS: [PartitionMethod; 2] = [PartitionMethod::Metis, PartitionMethod::Contiguous];

fn partition(dataset: &NodeDataset, dir: &Path, parts: usize, method: PartitionMethod, seed: u64) {
    let owner = assign_parts(&dataset.graph, parts, method, seed).unwrap();
    write_partition(dir, dataset, &owner, parts, &method.to_string(), seed).unwrap();
}

/// Reads every part back and checks it against the whole dataset.
fn check_round_trip(dataset: &NodeDataset, dir: &Path, parts: usize) {
    let n = dataset.num_nodes();
    let mut owner = vec![usize::MAX; n];
    let mut entries = 0;
    let mut splits = [Vec::new(), Vec::new(), Vec::new()];
    let features = dataset.features.to_csr();
    let manifest = read_manifest(dir).unwrap();
    assert_eq!((manifest.nodes, manifest.entries, manifest.parts.len()), (n, dataset.graph.num_entries(), parts));
    for part in 0..parts {
        let (_, p) = open_part(dir, part, parts).unwrap();
        for (r, &i) in p.graph.nodes.iter().enumerate() {
            assert_eq!(owner[i], usize::MAX, "node {i} owned twice");
            owner[i] = part;
            assert_eq!(&p.graph.indices[p.graph.indptr[r]..p.graph.indptr[r + 1]], dataset.graph.neighbors(i));
            let row = features.outer_view(i).unwrap();
            assert_eq!(p.features.outer_view(r).unwrap().indices(), row.indices());
            assert_eq!(p.features.outer_view(r).unwrap().data(), row.data());
            assert_eq!(p.labels[r], dataset.labels[i]);
        }
        entries += p.graph.num_entries();
        for (all, mine) in splits.iter_mut().zip([&p.train, &p.val, &p.test]) {
            all.extend_from_slice(mine);
        }
        assert_eq!(manifest.parts[part].halo, p.graph.halo.len());
        assert_eq!(manifest.parts[part].cut_edges, p.graph.cut_edges());
    }
    assert!(owner.iter().all(|&o| o < parts), "a node in no part");
    assert_eq!(entries, dataset.graph.num_entries());
    for (mine, all) in splits.iter_mut().zip([&dataset.train, &dataset.val, &dataset.test]) {
        let mut all = all.clone();
        all.sort_unstable();
        mine.sort_unstable();
        assert_eq!(*mine, all);
    }
    // halos, brute force from the owner map the parts imply
    for part in 0..parts {
        let (_, p) = open_part(dir, part, parts).unwrap();
        let mut halo: Vec<usize> =
            dataset.graph.edges().filter(|&(i, j)| owner[i] == part && owner[j] != part).map(|(_, j)| j).collect();
        halo.sort_unstable();
        halo.dedup();
        assert_eq!(p.graph.halo, halo);
        assert_eq!(p.graph.halo_owner, halo.iter().map(|&j| owner[j]).collect::<Vec<_>>());
    }
}

#[test]
fn cora_parts_round_trip_with_both_methods() {
    let Some(cora) = data::data_dir("cora") else { return };
    let dataset = load_planetoid(&cora, "cora").unwrap();
    for method in METHODS {
        for parts in [2, 4] {
            let dir = tempfile::tempdir().unwrap();
            partition(&dataset, dir.path(), parts, method, 0);
            check_round_trip(&dataset, dir.path(), parts);
        }
    }
}

#[test]
fn csbm_parts_round_trip_and_metis_cuts_less() {
    let params = CsbmParams { nodes: 2000, classes: 4, features: 8, ..CsbmParams::default() };
    let dataset = generate_csbm(&params).unwrap();
    let mut cut = Vec::new();
    for method in METHODS {
        let dir = tempfile::tempdir().unwrap();
        partition(&dataset, dir.path(), 3, method, 1);
        check_round_trip(&dataset, dir.path(), 3);
        cut.push(read_manifest(dir.path()).unwrap().cut_edges);
    }
    assert!(cut[0] < cut[1], "METIS {} against contiguous {}", cut[0], cut[1]);
}

fn small() -> NodeDataset {
    generate_csbm(&CsbmParams { nodes: 300, classes: 3, features: 4, ..CsbmParams::default() }).unwrap()
}

#[test]
fn a_part_of_another_run_is_refused_by_its_hash() {
    let dataset = small();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    partition(&dataset, a.path(), 2, PartitionMethod::Metis, 0);
    partition(&dataset, b.path(), 2, PartitionMethod::Contiguous, 0);
    std::fs::copy(b.path().join("part-1-of-2.h5"), a.path().join("part-1-of-2.h5")).unwrap();
    assert!(open_part(a.path(), 0, 2).is_ok());
    let err = open_part(a.path(), 1, 2).unwrap_err().to_string();
    assert!(err.contains("part-1-of-2.h5") && err.contains("another partition run"), "{err}");
}

#[test]
fn a_wrong_part_count_or_a_missing_part_is_named() {
    let dataset = small();
    let dir = tempfile::tempdir().unwrap();
    partition(&dataset, dir.path(), 2, PartitionMethod::Metis, 0);
    let err = open_part(dir.path(), 0, 3).unwrap_err().to_string();
    assert!(err.contains("2 parts, but the job has 3 ranks"), "{err}");
    std::fs::remove_file(dir.path().join("part-1-of-2.h5")).unwrap();
    let err = open_part(dir.path(), 1, 2).unwrap_err().to_string();
    assert!(err.contains("part-1-of-2.h5: file not found"), "{err}");
    std::fs::remove_file(dir.path().join(MANIFEST_NAME)).unwrap();
    let err = open_part(dir.path(), 0, 2).unwrap_err().to_string();
    assert!(err.contains("partition.json: file not found"), "{err}");
}

#[test]
fn a_run_that_fails_part_way_leaves_no_manifest() {
    let dataset = small();
    let dir = tempfile::tempdir().unwrap();
    partition(&dataset, dir.path(), 2, PartitionMethod::Metis, 0);
    assert!(dir.path().join(MANIFEST_NAME).is_file());
    // a second run into the same folder whose second part cannot be written (a directory there)
    std::fs::create_dir(dir.path().join("part-1-of-3.h5")).unwrap();
    let owner = assign_parts(&dataset.graph, 3, PartitionMethod::Metis, 0).unwrap();
    let err = write_partition(dir.path(), &dataset, &owner, 3, "metis", 0).unwrap_err().to_string();
    assert!(err.contains("part-1-of-3.h5"), "{err}");
    assert!(!dir.path().join(MANIFEST_NAME).exists(), "a manifest survived a failed run");
}
