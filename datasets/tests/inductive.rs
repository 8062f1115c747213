//! GLNN's inductive split against brute-force checks on small synthetic datasets.

use std::collections::HashSet;

use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
use gdistill_datasets::inductive::{inductive_split, InductiveDataset};
use gdistill_datasets::NodeDataset;
use gdistill_graph::{inductive_partition, EdgeOptions, Graph};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sprs::{CsMat, TriMat};

/// A random dataset: `n` nodes, random edges (self-loops kept), sparse features, and a random
/// train/val/test split with `tests` test nodes in random order.
fn random_dataset(seed: u64, n: usize, tests: usize) -> NodeDataset {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let edges: Vec<(usize, usize)> = (0..3 * n).map(|_| (r.random_range(0..n), r.random_range(0..n))).collect();
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap();
    let f = 6;
    let mut tri = TriMat::new((n, f));
    for i in 0..n {
        for j in 0..f {
            if r.random_bool(0.3) {
                tri.add_triplet(i, j, r.random_range(-2.0f32..2.0));
            }
        }
    }
    let features: CsMat<f32> = tri.to_csr();
    let labels: Vec<usize> = (0..n).map(|_| r.random_range(0..3)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut r);
    let test = order[..tests].to_vec();
    let rest = &order[tests..];
    let train = rest[..rest.len() / 2].to_vec();
    let val = rest[rest.len() / 2..].to_vec();
    NodeDataset {
        name: format!("random{seed}"),
        graph,
        features,
        labels,
        num_classes: 3,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        train,
        val,
        test,
        unlabelled: Vec::new(),
    }
}

fn csbm() -> NodeDataset {
    generate_csbm(&"nodes=400,classes=4,degree=6,features=5,seed=3".parse::<CsbmParams>().unwrap()).unwrap()
}

/// Dense feature row `i` of `m`.
fn row(m: &CsMat<f32>, i: usize) -> Vec<f32> {
    let mut dense = vec![0.0; m.cols()];
    if let Some(r) = m.outer_view(i) {
        for (j, &v) in r.iter() {
            dense[j] = v;
        }
    }
    dense
}

/// Every promise of an inductive split, checked against the full dataset.
fn check_split(full: &NodeDataset, split: &InductiveDataset, fraction: f64) {
    let n = full.num_nodes();
    let d = &split.dataset;
    d.validate().unwrap();
    let held: HashSet<usize> = split.held_out.iter().copied().collect();
    let tests: HashSet<usize> = full.test.iter().copied().collect();

    // sizes and the two node lists
    assert_eq!(split.held_out.len(), (fraction * full.test.len() as f64).round() as usize);
    assert!(!split.held_out.is_empty() && split.held_out.len() < full.test.len());
    assert!(split.held_out.windows(2).all(|w| w[0] < w[1]), "held_out not sorted");
    assert!(split.observed.windows(2).all(|w| w[0] < w[1]), "observed not sorted");
    assert!(split.held_out.iter().all(|v| tests.contains(v)), "a held-out node is not a test node");
    assert_eq!(split.observed, (0..n).filter(|v| !held.contains(v)).collect::<Vec<_>>());
    assert_eq!(d.num_nodes(), n - split.held_out.len());
    assert_eq!(split.local_of.len(), n);
    for v in 0..n {
        match split.local_of[v] {
            Some(k) => assert_eq!(split.observed[k], v),
            None => assert!(held.contains(&v)),
        }
    }

    // the observed graph is exactly the full graph minus the held-out nodes and their edges
    let g = &d.graph;
    assert_eq!(g.num_nodes(), split.observed.len());
    for (a, b) in g.edges() {
        let (u, v) = (split.observed[a], split.observed[b]);
        assert!(full.graph.neighbors(u).contains(&v), "({u}, {v}) is not a full-graph edge");
    }
    let mut between_observed = 0;
    for (u, v) in full.graph.edges() {
        if let (Some(a), Some(b)) = (split.local_of[u], split.local_of[v]) {
            assert!(g.neighbors(a).contains(&b), "full-graph edge ({u}, {v}) missing");
            between_observed += 1;
        } else {
            assert!(held.contains(&u) || held.contains(&v));
        }
    }
    assert_eq!(g.num_entries(), between_observed);

    // features and labels follow their nodes
    for (k, &v) in split.observed.iter().enumerate() {
        assert_eq!(row(&d.features, k), row(&full.features, v), "features of {v}");
        assert_eq!(d.labels[k], full.labels[v]);
    }
    assert_eq!((d.num_classes, &d.class_names, &d.name), (full.num_classes, &full.class_names, &full.name));

    // train and val unchanged in global terms; test is the observed test nodes, in order
    let global = |local: &[usize]| local.iter().map(|&k| split.observed[k]).collect::<Vec<_>>();
    assert_eq!(global(&d.train), full.train);
    assert_eq!(global(&d.val), full.val);
    assert_eq!(split.test_tran, full.test.iter().copied().filter(|v| !held.contains(v)).collect::<Vec<_>>());
    assert_eq!(global(&d.test), split.test_tran);
}

#[test]
fn held_out_nodes_and_their_edges_are_gone() {
    for seed in 0..8 {
        let n = 20 + 15 * seed as usize;
        let full = random_dataset(seed, n, n / 3);
        for fraction in [0.2, 0.5, 0.8] {
            let split = inductive_split(&full, fraction, seed).unwrap();
            check_split(&full, &split, fraction);
        }
    }
    let full = csbm();
    check_split(&full, &inductive_split(&full, 0.2, 0).unwrap(), 0.2);
}

#[test]
fn seeded_splits_repeat_and_seeds_differ() {
    let full = csbm();
    let a = inductive_split(&full, 0.2, 1).unwrap();
    let b = inductive_split(&full, 0.2, 1).unwrap();
    assert_eq!(a.held_out, b.held_out);
    assert_eq!(a.dataset.graph, b.dataset.graph);
    assert_eq!(a.dataset.features, b.dataset.features);
    assert_ne!(a.held_out, inductive_split(&full, 0.2, 2).unwrap().held_out);
    // the held-out set depends on the test nodes, not on the order they are listed in
    let mut shuffled = full.clone();
    shuffled.test.reverse();
    assert_eq!(inductive_split(&shuffled, 0.2, 1).unwrap().held_out, a.held_out);
}

#[test]
fn bad_fractions_and_too_few_test_nodes_are_errors() {
    let full = random_dataset(9, 40, 10);
    for fraction in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let e = inductive_split(&full, fraction, 0).unwrap_err().to_string();
        assert!(e.contains("random9") && e.contains("must be in (0, 1)"), "{e}");
    }
    // round(0.2 * 2) = 0 held out: at least 3 test nodes are needed
    let e = inductive_split(&random_dataset(10, 40, 2), 0.2, 0).unwrap_err().to_string();
    assert!(e.contains("random10") && e.contains("needs at least 3 test nodes, the graph has 2"), "{e}");
    // round(0.9 * 3) = 3: every test node would be held out
    let e = inductive_split(&random_dataset(11, 40, 3), 0.9, 0).unwrap_err().to_string();
    assert!(e.contains("needs at least 6 test nodes, the graph has 3"), "{e}");
    assert!(inductive_split(&random_dataset(12, 40, 1), 0.5, 0).is_err());
    // an invalid dataset is refused, not panicked on
    let mut broken = random_dataset(13, 40, 10);
    broken.test.push(400);
    assert!(inductive_split(&broken, 0.2, 0).is_err());
    broken.test.pop();
    broken.labels.pop();
    assert!(inductive_split(&broken, 0.2, 0).is_err());
}

#[test]
fn the_stated_minimum_number_of_test_nodes_is_the_least_that_works() {
    let g = Graph::from_edges(200, &[], EdgeOptions::undirected()).unwrap();
    for fraction in [0.01, 0.1, 0.2, 1.0 / 3.0, 0.5, 0.75, 0.9, 0.99] {
        let works = |m: usize| inductive_partition(&g, &(0..m).collect::<Vec<_>>(), fraction, 0).is_ok();
        let least = (1..=200).find(|&m| works(m)).unwrap();
        let e = inductive_partition(&g, &[0], fraction, 0).unwrap_err().to_string();
        assert!(e.contains(&format!("needs at least {least} test nodes")), "fraction {fraction}: {e}");
    }
    // test nodes outside the graph or listed twice
    assert!(inductive_partition(&g, &[0, 1, 200], 0.5, 0).is_err());
    assert!(inductive_partition(&g, &[0, 1, 1, 2], 0.5, 0).is_err());
}
