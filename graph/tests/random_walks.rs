//! DeepWalk's random walks against the adjacency they walk on: every step an edge, the counts
//! and lengths asked for, uniform steps, and the same walks for a seed on any thread count.

mod common;

use common::*;
use gdistill_graph::{EdgeOptions, Graph, RandomWalks};

fn random_graph(seed: u64, n: usize, directed: bool) -> (Graph, Vec<Vec<f64>>) {
    let mut r = rng(seed);
    let m = random_edge_count(&mut r, n) / 3;
    let edges = random_edges(&mut r, n, m);
    let opts = if directed { EdgeOptions::directed() } else { EdgeOptions::undirected() };
    let dense = dense_from_edges(n, &edges, directed, directed);
    (Graph::from_edges(n, &edges, opts).unwrap(), dense)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn every_step_follows_an_edge_and_walks_have_the_asked_shape() {
    for directed in [false, true] {
        for (k, &n) in SIZES.iter().enumerate() {
            let (graph, dense) = random_graph(10 + k as u64, n, directed);
            let walks = RandomWalks::uniform(&graph, 9, 3, 5).unwrap();
            assert_eq!(walks.len(), 3 * n);
            for (i, walk) in walks.iter().enumerate() {
                assert_eq!(walk[0] as usize, i % n, "walk {i} starts at its node");
                for step in walk.windows(2) {
                    assert_eq!(dense[step[0] as usize][step[1] as usize], 1.0, "step {step:?} is no edge (n={n})");
                }
                let last = *walk.last().unwrap() as usize;
                let dead_end = dense[last].iter().all(|&a| a == 0.0);
                // Short only where the walk reached a node with nowhere to go.
                assert!(walk.len() == 9 || dead_end, "walk {i} stopped early at {last}, which has neighbours");
            }
        }
    }
}

#[test]
fn an_isolated_node_walks_alone_and_a_directed_dead_end_stops_the_walk() {
    // 0 - 1 - 2 and node 3 without edges; 4 -> 5 directed, 5 has no out-edges.
    let graph = Graph::from_edges(4, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap();
    let walks = RandomWalks::uniform(&graph, 6, 2, 1).unwrap();
    assert_eq!(walks.walk(3), &[3]);
    assert_eq!(walks.walk(4 + 3), &[3]);
    assert_eq!(walks.walk(0).len(), 6);
    let chain = Graph::from_edges(2, &[(0, 1)], EdgeOptions::directed()).unwrap();
    let walks = RandomWalks::uniform(&chain, 5, 1, 1).unwrap();
    assert_eq!(walks.walk(0), &[0, 1]);
    assert_eq!(walks.walk(1), &[1]);
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    assert!(RandomWalks::uniform(&empty, 5, 1, 1).unwrap().is_empty());
}

#[test]
fn the_seed_alone_fixes_the_walks_whatever_the_thread_count() {
    let (graph, _) = random_graph(3, 70, false);
    let one = in_pool(1, || RandomWalks::uniform(&graph, 20, 4, 42).unwrap());
    let three = in_pool(3, || RandomWalks::uniform(&graph, 20, 4, 42).unwrap());
    let again = RandomWalks::uniform(&graph, 20, 4, 42).unwrap();
    assert_eq!(one, three);
    assert_eq!(one, again);
    let other = RandomWalks::uniform(&graph, 20, 4, 43).unwrap();
    assert_ne!(one, other, "another seed gives other walks");
}

#[test]
fn steps_are_uniform_over_the_neighbours() {
    // A star: every first step from the hub picks one of 8 leaves, each with probability 1/8.
    let leaves = 8;
    let edges: Vec<(usize, usize)> = (1..=leaves).map(|l| (0, l)).collect();
    let star = Graph::from_edges(leaves + 1, &edges, EdgeOptions::undirected()).unwrap();
    let rounds = 4000;
    let walks = RandomWalks::uniform(&star, 2, rounds, 9).unwrap();
    let mut counts = vec![0f64; leaves + 1];
    for r in 0..rounds {
        counts[walks.walk(r * (leaves + 1))[1] as usize] += 1.0;
    }
    assert_eq!(counts[0], 0.0);
    let expected = rounds as f64 / leaves as f64;
    let chi2: f64 = counts[1..].iter().map(|c| (c - expected).powi(2) / expected).sum();
    // 7 degrees of freedom: P(chi2 > 24.3) < 0.001.
    assert!(chi2 < 24.3, "first steps from the hub are not uniform: {counts:?}, chi2 {chi2}");
}

#[test]
fn zero_length_or_count_is_refused() {
    let (graph, _) = random_graph(1, 8, false);
    for (length, count) in [(0, 1), (1, 0)] {
        let message = RandomWalks::uniform(&graph, length, count, 0).unwrap_err().to_string();
        assert!(message.contains("at least 1"), "{message}");
    }
    // A one-node walk is its start.
    let walks = RandomWalks::uniform(&graph, 1, 2, 0).unwrap();
    assert!(walks.iter().enumerate().all(|(i, w)| w == [(i % 8) as u32]));
}
