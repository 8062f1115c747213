//! Induced subgraphs against dense submatrices.

mod common;

use common::*;
use gdistill_graph::{EdgeOptions, Graph, GraphError};
use rand::seq::SliceRandom;
use rand::Rng;

#[test]
fn induced_subgraph_is_the_dense_submatrix() {
    let mut r = rng(21);
    for n in SIZES {
        for trial in 0..6 {
            let g = random_weighted_graph(&mut r, n, trial % 2 == 0);
            let a = dense(&g);
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut r);
            let k = r.random_range(0..=n);
            let nodes = &order[..k];
            let (sub, original) = g.induced_subgraph(nodes).unwrap();
            assert_eq!(original, nodes);
            let expected: Vec<Vec<f64>> = nodes.iter().map(|&u| nodes.iter().map(|&v| a[u][v]).collect()).collect();
            assert_graph_is(&sub, &expected);
        }
    }
}

#[test]
fn whole_graph_in_order_is_the_same_graph() {
    let mut r = rng(22);
    let g = random_weighted_graph(&mut r, 30, false);
    let all: Vec<usize> = (0..30).collect();
    assert_eq!(g.induced_subgraph(&all).unwrap().0, g);
}

#[test]
fn reversed_order_renumbers_nodes() {
    // path 0 -> 1 -> 2 (directed) plus a self-loop on 2
    let g = Graph::from_edges(3, &[(0, 1), (1, 2), (2, 2)], EdgeOptions::directed()).unwrap();
    let (sub, _) = g.induced_subgraph(&[2, 1, 0]).unwrap();
    // old 2 -> new 0, old 1 -> new 1, old 0 -> new 2
    assert_eq!(sub.neighbors(0), &[0]);
    assert_eq!(sub.neighbors(1), &[0]);
    assert_eq!(sub.neighbors(2), &[1]);
}

#[test]
fn bad_node_lists_are_rejected() {
    let g = Graph::from_edges(4, &[(0, 1)], EdgeOptions::undirected()).unwrap();
    assert_eq!(g.induced_subgraph(&[0, 4]).unwrap_err(), GraphError::NodeNotInGraph { node: 4, num_nodes: 4 });
    assert_eq!(g.induced_subgraph(&[3, 1, 3]).unwrap_err(), GraphError::DuplicateNode { node: 3 });
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    assert!(matches!(empty.induced_subgraph(&[0]), Err(GraphError::NodeNotInGraph { .. })));
    let (sub, original) = empty.induced_subgraph(&[]).unwrap();
    assert_eq!((sub.num_nodes(), original.len()), (0, 0));
}
