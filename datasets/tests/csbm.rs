//! The synthetic CSBM generator: deterministic per seed, exact edge counts and homophily, fast.

use std::time::Instant;

use gdistill_datasets::{generate_csbm, load, CsbmParams, DatasetError, NodeDataset};

fn params(spec: &str) -> CsbmParams {
    spec.parse().unwrap()
}

fn intra_fraction(d: &NodeDataset) -> f64 {
    let edges = d.graph.undirected_edges();
    edges.iter().filter(|&&(a, b)| d.labels[a] == d.labels[b]).count() as f64 / edges.len() as f64
}

#[test]
fn same_seed_same_graph_other_seed_other_graph() {
    let a = generate_csbm(&params("nodes=2000,classes=4,degree=6,features=8,seed=5")).unwrap();
    let b = generate_csbm(&params("nodes=2000,classes=4,degree=6,features=8,seed=5")).unwrap();
    assert_eq!(a.graph, b.graph);
    assert_eq!(a.features, b.features);
    assert_eq!(a.labels, b.labels);
    assert_eq!((&a.train, &a.val, &a.test), (&b.train, &b.val, &b.test));
    let c = generate_csbm(&params("nodes=2000,classes=4,degree=6,features=8,seed=6")).unwrap();
    assert_ne!(a.graph, c.graph);
    assert_ne!(a.labels, c.labels);
}

#[test]
fn edge_count_degree_and_homophily_are_as_requested() {
    for (h, degree) in [(0.8, 10.0), (0.2, 3.0), (1.0, 5.0), (0.0, 5.0)] {
        let p = CsbmParams {
            nodes: 20_000,
            classes: 5,
            avg_degree: degree,
            homophily: h,
            features: 4,
            signal: 1.0,
            seed: 1,
        };
        let d = generate_csbm(&p).unwrap();
        let m = (20_000.0 * degree / 2.0) as usize;
        let s = d.summary();
        assert_eq!(s.edges, m, "h={h}");
        assert_eq!(s.self_loops, 0);
        assert!((2.0 * s.edges as f64 / s.nodes as f64 - degree).abs() < 1e-9);
        assert!((intra_fraction(&d) - h).abs() < 1e-4, "homophily {} for {h}", intra_fraction(&d));
        assert_eq!(s.class_counts, vec![4000; 5]);
        assert_eq!((s.train, s.val, s.test), (100, 150, 19_750));
    }
}

#[test]
fn class_means_are_about_signal_apart() {
    let d = generate_csbm(&params("nodes=8000,classes=2,degree=2,features=64,signal=2,seed=3")).unwrap();
    let x = d.dense_features();
    let mut means = vec![vec![0f64; 64]; 2];
    let counts = d.class_counts();
    for (i, &y) in d.labels.iter().enumerate() {
        for j in 0..64 {
            means[y][j] += x[i * 64 + j] as f64 / counts[y] as f64;
        }
    }
    let dist = means[0].iter().zip(&means[1]).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    assert!((dist - 2.0).abs() < 0.5, "class means {dist} apart");
    // the noise has unit variance
    let var = d.labels.iter().enumerate().map(|(i, &y)| (x[i * 64] as f64 - means[y][0]).powi(2)).sum::<f64>() / 8000.0;
    assert!((var - 1.0).abs() < 0.1, "noise variance {var}");
}

#[test]
fn a_million_nodes_in_a_few_seconds() {
    let start = Instant::now();
    let d = generate_csbm(&params("nodes=1000000,classes=10,degree=10,homophily=0.8,features=2,seed=0")).unwrap();
    let elapsed = start.elapsed();
    eprintln!("csbm 1M nodes x degree 10: {elapsed:?}");
    assert_eq!(d.graph.num_undirected_edges(), 5_000_000);
    assert!((intra_fraction(&d) - 0.8).abs() < 1e-6);
    assert!(elapsed.as_secs_f64() < 60.0, "took {elapsed:?}");
}

#[test]
fn bad_parameters_are_spec_errors() {
    for (spec, expect) in [
        ("csbm:homophily=1.5", "homophily must be in [0, 1]"),
        ("csbm:classes=0", "classes"),
        ("csbm:nodes=5,classes=6", "classes <= nodes"),
        ("csbm:classes=1", "at least 2 classes"),
        ("csbm:nodes=10,classes=2,degree=9", "too dense"),
        ("csbm:features=0", "features >= 1"),
        ("csbm:degree=-1", "degree"),
        ("csbm:colour=blue", "unknown key 'colour'"),
        ("csbm:nodes", "not key=value"),
        ("csbm:nodes=ten", "bad value 'ten' for nodes"),
        ("csbm:nodes=100000000000,features=100000000000", "do not fit in memory"),
    ] {
        match load(spec, std::path::Path::new(".")) {
            Err(DatasetError::Spec { message, .. }) => {
                assert!(message.contains(expect), "{spec}: '{message}' lacks '{expect}'")
            }
            other => panic!("{spec}: expected a Spec error, got {other:?}"),
        }
    }
    // defaults for omitted keys
    assert_eq!(params(""), CsbmParams::default());
    assert_eq!(params("seed=4").seed, 4);
    assert_eq!(CsbmParams::default().nodes, 10_000);
    let p = params("nodes=7,degree=2.5,seed=9");
    assert_eq!(p.to_string().parse::<CsbmParams>().unwrap(), p);
}
