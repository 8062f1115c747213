//! Connected components against a BFS oracle on the dense, symmetrised adjacency.

mod common;

use std::collections::VecDeque;

use common::*;
use gdistill_graph::{EdgeOptions, Graph};

/// Component ids by BFS, numbered in order of each component's smallest node.
fn bfs_components(a: &[Vec<f64>]) -> (usize, Vec<usize>) {
    let n = a.len();
    let mut ids = vec![usize::MAX; n];
    let mut count = 0;
    for s in 0..n {
        if ids[s] != usize::MAX {
            continue;
        }
        ids[s] = count;
        let mut queue = VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            for v in 0..n {
                if (a[u][v] != 0.0 || a[v][u] != 0.0) && ids[v] == usize::MAX {
                    ids[v] = count;
                    queue.push_back(v);
                }
            }
        }
        count += 1;
    }
    (count, ids)
}

#[test]
fn components_match_bfs_for_directed_and_undirected_graphs() {
    let mut r = rng(31);
    for n in SIZES {
        for trial in 0..8 {
            // sparse enough to have several components
            let m = n * (trial % 4) / 3;
            let edges = random_edges(&mut r, n, m);
            let directed = trial % 2 == 1;
            let opts = if directed { EdgeOptions::directed() } else { EdgeOptions::undirected() };
            let g = Graph::from_edges(n, &edges, opts).unwrap();
            let a = dense_from_edges(n, &edges, directed, directed);
            let (count, ids) = g.connected_components();
            assert_eq!((count, ids.clone()), bfs_components(&a), "n={n} edges={edges:?}");

            let (largest, original) = g.largest_component();
            let mut sizes = vec![0; count];
            ids.iter().for_each(|&c| sizes[c] += 1);
            let best = sizes.iter().copied().max().unwrap_or(0);
            let first_best = sizes.iter().position(|&s| s == best);
            let expected: Vec<usize> = (0..n).filter(|&v| Some(ids[v]) == first_best).collect();
            assert_eq!(original, expected);
            assert_eq!(largest, g.induced_subgraph(&expected).unwrap().0);
            assert!(n == 0 || largest.connected_components().0 == 1);
        }
    }
}

#[test]
fn self_loops_only_graph_has_one_component_per_node() {
    let edges: Vec<(usize, usize)> = (0..5).map(|i| (i, i)).collect();
    let g = Graph::from_edges(5, &edges, EdgeOptions::directed()).unwrap();
    assert_eq!(g.connected_components(), (5, vec![0, 1, 2, 3, 4]));
    let (largest, original) = g.largest_component();
    assert_eq!(original, vec![0]);
    assert_eq!(largest.num_entries(), 1);
}

#[test]
fn empty_and_single_node_graphs() {
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    assert_eq!(empty.connected_components(), (0, vec![]));
    let (largest, original) = empty.largest_component();
    assert_eq!((largest.num_nodes(), original.len()), (0, 0));
    let one = Graph::from_edges(1, &[], EdgeOptions::undirected()).unwrap();
    assert_eq!(one.connected_components(), (1, vec![0]));
    assert_eq!(one.largest_component().1, vec![0]);
}

#[test]
fn largest_component_prefers_the_bigger_one_not_the_first() {
    // {0, 1} and {2, 3, 4}
    let g = Graph::from_edges(5, &[(0, 1), (2, 3), (3, 4)], EdgeOptions::undirected()).unwrap();
    let (largest, original) = g.largest_component();
    assert_eq!(original, vec![2, 3, 4]);
    assert_eq!(largest.neighbors(1), &[0, 2]);
}
