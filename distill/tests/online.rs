//! Online classification from receptive fields equals the full-graph forward.

use gdistill_distill::online::{receptive_hops, OnlineGraph};
use gdistill_distill::{predict, FeatureLayout, GraphData};
use gdistill_models::{Arch, ModelConfig};
use tch::{nn, Device, Tensor};

fn dataset(degree: usize) -> gdistill_datasets::NodeDataset {
    let spec = format!("csbm:nodes=400,classes=4,degree={degree},features=10,seed=9");
    gdistill_datasets::load(&spec, std::path::Path::new(".")).unwrap()
}

/// Nodes within `hops` of `query`, by repeated boolean products with the dense adjacency.
fn reachable_dense(graph: &gdistill_graph::Graph, query: &[usize], hops: usize) -> Vec<usize> {
    let n = graph.num_nodes();
    let mut reached = vec![false; n];
    for &q in query {
        reached[q] = true;
    }
    for _ in 0..hops {
        let before = reached.clone();
        for (i, j) in graph.edges() {
            if before[i] {
                reached[j] = true;
            }
        }
    }
    (0..n).filter(|&i| reached[i]).collect()
}

#[test]
fn receptive_fields_are_the_k_hop_closures() {
    let d = dataset(3);
    let online = OnlineGraph::new(&d, Device::Cpu).unwrap();
    for (query, hops) in [(vec![0usize], 0usize), (vec![3], 1), (vec![3, 250, 3], 2), (vec![17, 18, 399], 3)] {
        let field = online.receptive_field(&query, hops);
        let mut distinct: Vec<usize> = Vec::new();
        for &q in &query {
            if !distinct.contains(&q) {
                distinct.push(q);
            }
        }
        assert_eq!(&field[..distinct.len()], &distinct[..], "the query comes first");
        let mut sorted = field.clone();
        sorted.sort_unstable();
        let before = sorted.len();
        sorted.dedup();
        assert_eq!(before, sorted.len(), "no node twice");
        assert_eq!(sorted, reachable_dense(&d.graph, &query, hops), "query {query:?}, {hops} hops");
    }
}

/// `dataset(degree)` with all but its largest feature values zeroed: stored sparse (density
/// under `SPARSE_FEATURE_DENSITY`), as Cora's are.
fn sparse_dataset(degree: usize) -> gdistill_datasets::NodeDataset {
    let mut d = dataset(degree);
    d.features = d.features.map(|&v| if v > 1.5 { v } else { 0.0 });
    d.features = sprs::CsMat::csr_from_dense(d.features.to_dense().view(), 0.0);
    assert!(FeatureLayout::Auto.is_sparse_for(&d), "density {}", d.feature_density());
    d
}

#[test]
fn classify_equals_the_full_graph_forward() {
    for (degree, sparse) in [(1, false), (4, false), (4, true)] {
        let mut d = if sparse { sparse_dataset(degree) } else { dataset(degree) };
        d.row_normalize_features();
        let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Auto).unwrap();
        let online = OnlineGraph::new(&d, Device::Cpu).unwrap();
        for (arch, layers) in [(Arch::Gcn, 2), (Arch::Gcn, 3), (Arch::Mlp, 2), (Arch::Mlp, 3)] {
            tch::manual_seed(1);
            let vs = nn::VarStore::new(Device::Cpu);
            let model = ModelConfig::new(arch, 10, 16, layers, 4, 0.5).build(&vs.root()).unwrap();
            assert_eq!(receptive_hops(model.as_ref()), if arch == Arch::Gcn { layers } else { 0 });
            let full = predict(model.as_ref(), &data);
            // up to 16 rows take the MLP's host path (online/host_mlp.rs), more go to libtorch
            for query in [vec![0usize], vec![5, 77, 5, 399], (0..16).collect(), (0..50).map(|i| i * 7).collect()] {
                let got = online.classify(model.as_ref(), &query).unwrap();
                let mut distinct = Vec::new();
                for &q in &query {
                    if !distinct.contains(&(q as i64)) {
                        distinct.push(q as i64);
                    }
                }
                let want = full.index_select(0, &Tensor::from_slice(&distinct));
                let gap = (&got - &want).abs().max().double_value(&[]);
                assert!(
                    gap < 1e-5,
                    "{arch:?} x{layers}, degree {degree}, sparse {sparse}, query {query:?}: max gap {gap}"
                );
            }
        }
    }
}

#[test]
fn a_query_outside_the_graph_is_an_error() {
    let d = dataset(2);
    let online = OnlineGraph::new(&d, Device::Cpu).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(Arch::Gcn, 10, 8, 2, 4, 0.0).build(&vs.root()).unwrap();
    let err = online.classify(model.as_ref(), &[400]).unwrap_err().to_string();
    assert!(err.contains("query node 400 outside the graph's 400 nodes"), "{err}");
}
