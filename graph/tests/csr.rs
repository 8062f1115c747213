//! `Graph::from_edges` against the dense adjacency an edge list describes.

mod common;

use common::*;
use gdistill_graph::{EdgeOptions, Graph, GraphError, SelfLoops};

#[test]
fn from_edges_matches_dense_oracle_for_every_option() {
    let mut r = rng(1);
    for n in SIZES {
        for _ in 0..4 {
            let m = random_edge_count(&mut r, n);
            let edges = random_edges(&mut r, n, m);
            for directed in [false, true] {
                for self_loops in [SelfLoops::Keep, SelfLoops::Drop] {
                    let g = Graph::from_edges(n, &edges, EdgeOptions { directed, self_loops }).unwrap();
                    assert_graph_is(&g, &dense_from_edges(n, &edges, directed, self_loops == SelfLoops::Keep));
                    assert_eq!(g.indptr().len(), n + 1);
                    for i in 0..n {
                        assert_eq!(g.neighbor_weights(i).len(), g.degree(i));
                    }
                }
            }
        }
    }
}

#[test]
fn out_of_range_edges_are_rejected() {
    assert_eq!(
        Graph::from_edges(2, &[(0, 2)], EdgeOptions::undirected()).unwrap_err(),
        GraphError::NodeOutOfRange { edge: (0, 2), num_nodes: 2 }
    );
}
