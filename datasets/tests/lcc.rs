//! A node dataset's largest connected component against a BFS oracle on the edge list.

use std::collections::VecDeque;

use gdistill_datasets::NodeDataset;
use gdistill_graph::{EdgeOptions, Graph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sprs::{CsMat, TriMat};

/// The nodes of the largest component by breadth-first search over both edge directions,
/// ascending; of equal components, the one reached first from node 0 upwards.
fn bfs_largest(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut adjacent = vec![Vec::new(); n];
    for &(a, b) in edges {
        adjacent[a].push(b);
        adjacent[b].push(a);
    }
    let mut seen = vec![false; n];
    let mut best: Vec<usize> = Vec::new();
    for start in 0..n {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut component = vec![start];
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for &v in &adjacent[u] {
                if !seen[v] {
                    seen[v] = true;
                    component.push(v);
                    queue.push_back(v);
                }
            }
        }
        if component.len() > best.len() {
            component.sort_unstable();
            best = component;
        }
    }
    best
}

/// A dataset on `edges` whose feature row `i` is `[i, -i]` and label `i % classes`, so every
/// kept row can be traced back to its node; the split is every third node to each part.
fn dataset(n: usize, edges: &[(usize, usize)], classes: usize) -> NodeDataset {
    let graph = Graph::from_edges(n, edges, EdgeOptions::undirected()).unwrap();
    let mut tri = TriMat::new((n, 2));
    for i in 1..n {
        tri.add_triplet(i, 0, i as f32);
        tri.add_triplet(i, 1, -(i as f32));
    }
    let features: CsMat<f32> = tri.to_csr();
    let part = |r: usize| (0..n).filter(|i| i % 3 == r).collect::<Vec<_>>();
    NodeDataset {
        name: "hand".into(),
        graph,
        features,
        labels: (0..n).map(|i| i % classes).collect(),
        num_classes: classes,
        class_names: (0..classes).map(|c| format!("c{c}")).collect(),
        train: part(0),
        val: part(1),
        test: part(2),
        unlabelled: Vec::new(),
    }
}

fn check_against_oracle(full: &NodeDataset, edges: &[(usize, usize)]) {
    let expected = bfs_largest(full.num_nodes(), edges);
    let mut local = vec![usize::MAX; full.num_nodes()];
    expected.iter().enumerate().for_each(|(k, &v)| local[v] = k);
    let survives = |part: &[usize]| part.iter().any(|&v| local[v] != usize::MAX);
    let component = full.largest_component().unwrap();
    let (lcc, kept) = (component.dataset, component.kept);
    let redrawn = !(survives(&full.train) && survives(&full.val) && survives(&full.test));
    assert_eq!(component.split_redrawn, redrawn);
    assert_eq!(kept, expected, "edges {edges:?}");
    assert_eq!(lcc.num_nodes(), kept.len());
    assert_eq!(lcc.num_classes, full.num_classes);
    for (k, &v) in kept.iter().enumerate() {
        assert_eq!(lcc.labels[k], full.labels[v]);
        let row = |m: &CsMat<f32>, i| m.outer_view(i).unwrap().to_dense().to_vec();
        assert_eq!(row(&lcc.features, k), row(&full.features, v));
    }
    // every edge among kept nodes survives, renumbered, and no other
    let mut want: Vec<(usize, usize)> = full
        .graph
        .edges()
        .filter(|&(a, b)| local[a] != usize::MAX && local[b] != usize::MAX)
        .map(|(a, b)| (local[a], local[b]))
        .collect();
    let mut got: Vec<(usize, usize)> = lcc.graph.edges().collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    if redrawn {
        // every node in exactly one part, the loaders' per-class rule
        let mut all: Vec<usize> = [&lcc.train[..], &lcc.val, &lcc.test].concat();
        all.sort_unstable();
        assert_eq!(all, (0..lcc.num_nodes()).collect::<Vec<_>>());
        return;
    }
    // the split keeps exactly its surviving nodes, renumbered
    for (part, whole) in [(&lcc.train, &full.train), (&lcc.val, &full.val), (&lcc.test, &full.test)] {
        let want: Vec<usize> = whole.iter().filter(|&&v| local[v] != usize::MAX).map(|&v| local[v]).collect();
        assert_eq!(part, &want);
    }
    assert!(lcc.graph.connected_components().0 <= 1);
}

#[test]
fn two_components_keep_the_bigger_one_even_when_it_comes_second() {
    // {0, 1} and {2, 3, 4, 5}, plus an isolated node 6
    let edges = [(0, 1), (2, 3), (3, 4), (5, 4)];
    let full = dataset(7, &edges, 2);
    check_against_oracle(&full, &edges);
    assert_eq!(full.largest_component().unwrap().kept, vec![2, 3, 4, 5]);
}

#[test]
fn ties_go_to_the_component_with_the_smallest_node() {
    // {3, 4, 5} (listed first) and {0, 1, 2}: equal sizes, node 0 decides
    let edges = [(3, 4), (5, 4), (2, 1), (1, 0)];
    let full = dataset(6, &edges, 3);
    check_against_oracle(&full, &edges);
    assert_eq!(full.largest_component().unwrap().kept, vec![0, 1, 2]);
}

#[test]
fn a_connected_dataset_is_unchanged() {
    let edges: Vec<(usize, usize)> = (0..9).map(|i| (i, i + 1)).collect();
    let full = dataset(10, &edges, 2);
    let component = full.largest_component().unwrap();
    let (lcc, kept) = (component.dataset, component.kept);
    assert!(!component.split_redrawn);
    assert_eq!(kept, (0..10).collect::<Vec<_>>());
    assert_eq!((lcc.train, lcc.val, lcc.test), (full.train, full.val, full.test));
    assert_eq!(lcc.graph, full.graph);
}

#[test]
fn a_component_without_training_nodes_gets_a_split_drawn_and_says_so() {
    // the split puts nodes 0, 3, 6 in training; the larger component {1, 2, 4, 5} has none
    let edges = [(0, 3), (1, 2), (2, 4), (4, 5)];
    let full = dataset(7, &edges, 2);
    check_against_oracle(&full, &edges);
    let component = full.largest_component().unwrap();
    assert!(component.split_redrawn);
    assert!(!component.dataset.train.is_empty());
}

#[test]
fn random_sparse_graphs_match_bfs() {
    let mut r = ChaCha8Rng::seed_from_u64(29);
    for trial in 0..200 {
        let n = r.random_range(1..40);
        let m = r.random_range(0..n + n / 2);
        let edges: Vec<(usize, usize)> = (0..m).map(|_| (r.random_range(0..n), r.random_range(0..n))).collect();
        let full = dataset(n, &edges, 1 + trial % 4);
        check_against_oracle(&full, &edges);
    }
}

#[test]
fn unlabelled_nodes_keep_their_mark_in_the_component_and_its_redrawn_split() {
    // {0, 1} and {2, ..., 9}; nodes 1, 4 and 7 have no label and none of the split's nodes is in
    // the big component, so its split is drawn anew
    let edges = [(0, 1), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9)];
    let mut full = dataset(10, &edges, 2);
    full.unlabelled = vec![1, 4, 7];
    (full.train, full.val, full.test) = (vec![0], vec![], vec![]);
    full.validate().unwrap();
    let component = full.largest_component().unwrap();
    assert!(component.split_redrawn);
    let lcc = component.dataset;
    // nodes 4 and 7 are local 2 and 5
    assert_eq!(lcc.unlabelled, vec![2, 5]);
    let mut all: Vec<usize> = [&lcc.train[..], &lcc.val, &lcc.test].concat();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 3, 4, 6, 7]);
}
