//! Features from structure: identity, degree, random-walk encoding (against a dense oracle),
//! given + positional, and a gnn-benchmark npz without attributes.

use std::path::{Path, PathBuf};

use gdistill_datasets::array::{ArrayData, NdArray};
use gdistill_datasets::npz::write_npz;
use gdistill_datasets::structural_features::{
    apply_features, degree_cap, degree_features, random_walk_encoding, FeatureSpec, MAX_DEGREE_CAP,
};
use gdistill_datasets::{generate_csbm, load, load_npz, CsbmParams, DatasetError, NodeDataset, SplitOptions};
use gdistill_graph::{EdgeOptions, Graph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sprs::CsMat;

#[path = "../../tests/support/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

/// A dataset around `graph` with `features` columns of ones on the diagonal (none when 0) and
/// two classes.
fn dataset_on(graph: Graph, features: usize) -> NodeDataset {
    let n = graph.num_nodes();
    let mut triplets = sprs::TriMat::new((n, features));
    for i in 0..n.min(features) {
        triplets.add_triplet(i, i, 1.0 + i as f32);
    }
    NodeDataset {
        name: "handmade".into(),
        graph,
        features: triplets.to_csr(),
        labels: (0..n).map(|i| i % 2).collect(),
        num_classes: 2,
        class_names: vec!["even".into(), "odd".into()],
        train: vec![0, 1],
        val: vec![2, 3],
        test: (4..n).collect(),
        unlabelled: Vec::new(),
    }
}

/// `n` nodes, each ordered pair `(i, j)` an edge with probability `p` (both directions when
/// `directed` is false), plus a self-loop on node 1 and node `n - 1` left isolated.
fn random_graph(n: usize, p: f64, directed: bool, seed: u64) -> Graph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut edges = vec![(1, 1)];
    for i in 0..n - 1 {
        for j in 0..n - 1 {
            if i != j && (directed || i < j) && rng.random_bool(p) {
                edges.push((i, j));
            }
        }
    }
    let opts = if directed { EdgeOptions::directed() } else { EdgeOptions::undirected().keep_self_loops() };
    Graph::from_edges(n, &edges, opts).unwrap()
}

/// `[(D^-1 A)^t]_ii` for `t = 1..=k`, row-major `n x k`, by dense matrix powers in f64.
fn dense_oracle(graph: &Graph, k: usize) -> Vec<f64> {
    let n = graph.num_nodes();
    let mut walk = vec![0f64; n * n];
    for i in 0..n {
        let neighbors = graph.neighbors(i);
        for &j in neighbors {
            walk[i * n + j] = 1.0 / neighbors.len() as f64;
        }
    }
    let mut power = walk.clone();
    let mut diagonals = vec![0f64; n * k];
    for t in 0..k {
        for i in 0..n {
            diagonals[i * k + t] = power[i * n + i];
        }
        let mut product = vec![0f64; n * n];
        for i in 0..n {
            for l in 0..n {
                let a = power[i * n + l];
                if a != 0.0 {
                    for j in 0..n {
                        product[i * n + j] += a * walk[l * n + j];
                    }
                }
            }
        }
        power = product;
    }
    diagonals
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (idx, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(g) - w).abs() < 1e-5, "{what}: entry {idx} is {g}, the oracle says {w}");
    }
}

fn dense(features: &CsMat<f32>) -> Vec<f32> {
    let mut out = vec![0f32; features.rows() * features.cols()];
    for (row, vec) in features.outer_iterator().enumerate() {
        for (col, &v) in vec.iter() {
            out[row * features.cols() + col] = v;
        }
    }
    out
}

#[test]
fn specs_print_as_they_parse() {
    let cases = [
        ("given", FeatureSpec::Given),
        ("identity", FeatureSpec::Identity),
        ("degree", FeatureSpec::Degree),
        ("positional:16", FeatureSpec::Positional { k: 16 }),
        ("given+positional:8", FeatureSpec::GivenPlusPositional { k: 8 }),
    ];
    for (text, spec) in cases {
        assert_eq!(text.parse::<FeatureSpec>().unwrap(), spec);
        assert_eq!(spec.to_string(), text);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<FeatureSpec>(&json).unwrap(), spec);
    }
    assert_eq!(" Positional: 4 ".parse::<FeatureSpec>().unwrap(), FeatureSpec::Positional { k: 4 });
    for (text, expect) in [
        ("positional:0", "at least 1"),
        ("given+positional:0", "at least 1"),
        ("positional", "needs a walk length"),
        ("positional:-2", "not a whole number"),
        ("positional:k", "not a whole number"),
        ("degree:3", "takes no arguments"),
        ("onehot", "unknown features 'onehot'"),
    ] {
        let message = text.parse::<FeatureSpec>().unwrap_err().to_string();
        assert!(message.contains(expect), "'{text}': '{message}' lacks '{expect}'");
        assert!(message.starts_with(&format!("features spec '{text}'")), "{message}");
    }
}

#[test]
fn identity_is_the_identity() {
    let d = dataset_on(random_graph(30, 0.1, false, 1), 0);
    let with_ids = apply_features(&d, &FeatureSpec::Identity).unwrap();
    assert_eq!(with_ids.features, CsMat::eye(30));
    assert_eq!((with_ids.labels, with_ids.train, with_ids.graph), (d.labels, d.train, d.graph));
}

#[test]
fn degree_is_a_capped_one_hot_plus_log_degree() {
    // a star (centre 0, leaves 1..=20), a path 21-22-23-24, a triangle 25-26-27, node 28
    // isolated, node 29 with only a self-loop
    let mut edges: Vec<(usize, usize)> = (1..=20).map(|leaf| (0, leaf)).collect();
    edges.extend([(21, 22), (22, 23), (23, 24), (25, 26), (26, 27), (27, 25), (29, 29)]);
    let graph = Graph::from_edges(30, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap();
    let mut degrees = vec![1usize; 30];
    degrees[0] = 20;
    for node in [22, 23, 25, 26, 27] {
        degrees[node] = 2;
    }
    degrees[28] = 0;
    degrees[29] = 0;
    // sorted degrees: 0 0, 22 ones, 5 twos, 20; the nearest-rank 95th percentile is rank 29: 2
    assert_eq!(degree_cap(&graph), 2);
    let features = degree_features(&graph);
    assert_eq!(features.shape(), (30, 4));
    let values = dense(&features);
    for (node, &d) in degrees.iter().enumerate() {
        let row = &values[node * 4..node * 4 + 4];
        let mut one_hot = [0f32; 3];
        one_hot[d.min(2)] = 1.0;
        assert_eq!(&row[..3], &one_hot, "node {node} of degree {d}");
        let log = (1.0 + d as f64).ln() / 21f64.ln();
        assert!((f64::from(row[3]) - log).abs() < 1e-6, "node {node}: log column {} for {log}", row[3]);
    }
    assert_eq!(values[3], 1.0, "the hub's log-degree is the largest, 1");
    let d = apply_features(&dataset_on(graph, 0), &FeatureSpec::Degree).unwrap();
    assert_eq!(d.features, features);
    // the cap never exceeds MAX_DEGREE_CAP: a complete graph on 70 nodes has degree 69 everywhere
    let complete: Vec<(usize, usize)> = (0..70).flat_map(|i| (i + 1..70).map(move |j| (i, j))).collect();
    let complete = Graph::from_edges(70, &complete, EdgeOptions::undirected()).unwrap();
    assert_eq!(degree_cap(&complete), MAX_DEGREE_CAP);
    assert_eq!(degree_features(&complete).cols(), MAX_DEGREE_CAP + 2);
}

#[test]
fn random_walk_encoding_matches_dense_matrix_powers() {
    // 150 nodes span three blocks of 64; on 600 sparse nodes the first step of each block reaches
    // few rows (the push path), later steps most (the pull path)
    let undirected = [(12, 0.3, false, 1), (40, 0.15, false, 2), (150, 0.03, false, 3), (150, 0.5, false, 4)];
    let others = [(600, 0.005, false, 7), (40, 0.1, true, 5), (150, 0.03, true, 6)];
    for (n, p, directed, seed) in undirected.into_iter().chain(others) {
        let graph = random_graph(n, p, directed, seed);
        assert_eq!(graph.is_symmetric(), !directed);
        let oracle = dense_oracle(&graph, 16);
        for k in [1, 2, 9, 16] {
            let prefix: Vec<f64> = oracle.chunks_exact(16).flat_map(|row| row[..k].to_vec()).collect();
            let what = format!("n={n} p={p} directed={directed} k={k}");
            assert_close(&random_walk_encoding(&graph, k), &prefix, &what);
        }
    }
    // a path 0-1-2: returns only after an even number of steps
    let path = Graph::from_edges(3, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap();
    let encoding = random_walk_encoding(&path, 4);
    assert_close(&encoding, &[0.0, 0.5, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.5], "path");
}

#[test]
fn positional_features_are_the_encoding_and_given_columns_stay_put() {
    let graph = random_graph(80, 0.08, false, 9);
    let d = dataset_on(graph.clone(), 5);
    let encoding = random_walk_encoding(&graph, 6);
    let positional = apply_features(&d, &FeatureSpec::Positional { k: 6 }).unwrap();
    assert_eq!(positional.features.shape(), (80, 6));
    assert_eq!(dense(&positional.features), encoding);
    let both = apply_features(&d, &FeatureSpec::GivenPlusPositional { k: 6 }).unwrap();
    assert_eq!(both.features.shape(), (80, 11));
    let (given, combined) = (dense(&d.features), dense(&both.features));
    for i in 0..80 {
        assert_eq!(&combined[i * 11..i * 11 + 5], &given[i * 5..i * 5 + 5], "given columns of node {i}");
        assert_eq!(&combined[i * 11 + 5..i * 11 + 11], &encoding[i * 6..i * 6 + 6], "positional columns of node {i}");
    }
    let same = apply_features(&d, &FeatureSpec::Given).unwrap();
    assert_eq!(same.features, d.features);
}

fn invalid_message(result: Result<NodeDataset, DatasetError>) -> String {
    match result {
        Err(DatasetError::Invalid { message, .. }) => message,
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn bad_walk_lengths_and_missing_features_are_errors() {
    let d = dataset_on(random_graph(10, 0.3, false, 2), 0);
    for spec in [FeatureSpec::Positional { k: 0 }, FeatureSpec::Positional { k: 10 }] {
        let message = invalid_message(apply_features(&d, &spec));
        assert!(message.contains("at least 1 and below the 10 nodes"), "{message}");
    }
    assert_eq!(apply_features(&d, &FeatureSpec::Positional { k: 9 }).unwrap().num_features(), 9);
    for spec in [FeatureSpec::Given, FeatureSpec::GivenPlusPositional { k: 3 }] {
        let message = invalid_message(apply_features(&d, &spec));
        assert_eq!(message, "handmade has no node features: pass --features identity|degree|positional:K|deepwalk:K");
    }
    let with_features = dataset_on(random_graph(10, 0.3, false, 2), 3);
    let message = invalid_message(apply_features(&with_features, &FeatureSpec::GivenPlusPositional { k: 0 }));
    assert!(message.contains("K = 0"), "{message}");
}

fn ints(v: &[i64]) -> NdArray {
    NdArray { shape: vec![v.len()], data: ArrayData::Int(v.to_vec()) }
}

/// A gnn-benchmark npz without attributes: a 12-node ring stored one way, two classes.
fn featureless_arrays() -> Vec<(&'static str, NdArray)> {
    let n = 12i64;
    vec![
        ("adj_data", NdArray { shape: vec![12], data: ArrayData::F32(vec![1.0; 12]) }),
        ("adj_indices", ints(&(1..=n).map(|i| i % n).collect::<Vec<_>>())),
        ("adj_indptr", ints(&(0..=n).collect::<Vec<_>>())),
        ("adj_shape", ints(&[n, n])),
        ("labels", ints(&(0..n).map(|i| i % 2).collect::<Vec<_>>())),
    ]
}

fn write(path: PathBuf, arrays: &[(&'static str, NdArray)]) -> PathBuf {
    let refs: Vec<(&str, &NdArray)> = arrays.iter().map(|(k, v)| (*k, v)).collect();
    write_npz(&path, &refs).unwrap();
    path
}

#[test]
fn a_featureless_npz_loads_and_gets_features_from_each_spec() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path().join("polblogs.npz"), &featureless_arrays());
    let d = load_npz(&path, &SplitOptions { train_per_class: 2, val_per_class: 2, seed: 0 }).unwrap();
    assert_eq!((d.num_nodes(), d.num_features()), (12, 0));
    assert_eq!(d.features.shape(), (12, 0));
    assert_eq!(d.graph.num_undirected_edges(), 12);
    assert_eq!(d.summary().features, 0);
    // the spec loader takes it too
    assert_eq!(load("npz:polblogs.npz", dir.path()).unwrap().num_features(), 0);
    let message = invalid_message(apply_features(&d, &FeatureSpec::Given));
    assert_eq!(message, "polblogs has no node features: pass --features identity|degree|positional:K|deepwalk:K");
    assert!(apply_features(&d, &FeatureSpec::GivenPlusPositional { k: 2 }).is_err());
    let width = |spec: FeatureSpec| apply_features(&d, &spec).unwrap().features.shape();
    assert_eq!(width(FeatureSpec::Identity), (12, 12));
    // every node of a ring has degree 2: cap 2, columns 0..=2 and the log column
    assert_eq!(width(FeatureSpec::Degree), (12, 4));
    assert_eq!(width(FeatureSpec::Positional { k: 4 }), (12, 4));
    // on a ring of 12 a walk returns after 2 steps with probability 1/2, after 4 with 3/8
    let pe = dense(&apply_features(&d, &FeatureSpec::Positional { k: 4 }).unwrap().features);
    assert_close(&pe[..4], &[0.0, 0.5, 0.0, 0.375], "ring");
    // an npz with only some of the CSR attribute parts is still corrupt
    let mut arrays = featureless_arrays();
    arrays.push(("attr_data", NdArray { shape: vec![1], data: ArrayData::F32(vec![1.0]) }));
    let partial = write(dir.path().join("partial.npz"), &arrays);
    match load_npz(&partial, &SplitOptions::default()) {
        Err(DatasetError::Format { message, .. }) => assert!(message.contains("attr_data/indices"), "{message}"),
        other => panic!("expected a Format error, got {other:?}"),
    }
}

#[test]
fn csbm_features_work_end_to_end() {
    let d = generate_csbm(&"nodes=300,classes=3,degree=5,features=7".parse::<CsbmParams>().unwrap()).unwrap();
    for (spec, cols) in [
        (FeatureSpec::Given, 7),
        (FeatureSpec::Identity, 300),
        (FeatureSpec::Positional { k: 16 }, 16),
        (FeatureSpec::GivenPlusPositional { k: 16 }, 23),
    ] {
        let with = apply_features(&d, &spec).unwrap();
        assert_eq!(with.features.shape(), (300, cols), "{spec}");
        assert!(with.features.data().iter().all(|v| v.is_finite()));
    }
}

/// `[(D^-1 A)^t]_ii`, `t = 1..=k`, by propagating the single vector `e_i` in f64.
fn one_node_oracle(graph: &Graph, i: usize, k: usize) -> Vec<f64> {
    let n = graph.num_nodes();
    let mut vector = vec![0f64; n];
    vector[i] = 1.0;
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let next: Vec<f64> = (0..n)
            .map(|r| {
                let neighbors = graph.neighbors(r);
                let sum: f64 = neighbors.iter().map(|&j| vector[j]).sum();
                if neighbors.is_empty() {
                    0.0
                } else {
                    sum / neighbors.len() as f64
                }
            })
            .collect();
        vector = next;
        out.push(vector[i]);
    }
    out
}

/// The timing the module documentation quotes: `cargo test -p gdistill-datasets --release --test
/// structural_features -- --ignored --nocapture`.
#[test]
#[ignore = "needs /work/shared/data/amazon; run by hand for the timing"]
fn amazon_computers_encoding_timing() {
    let path = Path::new("/work/shared/data/amazon/amazon_electronics_computers.npz");
    let d = load_npz(path, &SplitOptions::default()).unwrap();
    let (start, cpu_start) = (std::time::Instant::now(), cpu_seconds());
    let encoding = random_walk_encoding(&d.graph, 16);
    let (seconds, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
    println!(
        "RWPE k=16 on {} nodes, {} stored entries, {} threads: {seconds:.2} s wall, {cpu:.2} s CPU",
        d.num_nodes(),
        d.graph.num_entries(),
        rayon::current_num_threads()
    );
    for i in [0, 1, 777, 6000, d.num_nodes() - 1] {
        assert_close(&encoding[i * 16..(i + 1) * 16], &one_node_oracle(&d.graph, i, 16), &format!("node {i}"));
    }
}
