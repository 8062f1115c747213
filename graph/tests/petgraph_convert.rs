//! `Graph` <-> petgraph conversions against dense oracles, and round trips.

mod common;

use common::*;
use gdistill_graph::{EdgeOptions, Graph};
use petgraph::graph::{DiGraph, NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;

fn petgraph_edges<Ty: petgraph::EdgeType>(n: usize, edges: &[(usize, usize)]) -> petgraph::Graph<u8, (), Ty> {
    let mut pg = petgraph::Graph::<u8, (), Ty>::default();
    for _ in 0..n {
        pg.add_node(7);
    }
    for &(i, j) in edges {
        pg.add_edge(NodeIndex::new(i), NodeIndex::new(j), ());
    }
    pg
}

#[test]
fn from_petgraph_matches_dense_oracle() {
    let mut r = rng(11);
    for n in SIZES {
        for _ in 0..4 {
            let m = random_edge_count(&mut r, n);
            let edges = random_edges(&mut r, n, m); // with parallel edges and self-loops
            let di = Graph::from_petgraph(&petgraph_edges::<petgraph::Directed>(n, &edges));
            assert_graph_is(&di, &dense_from_edges(n, &edges, true, true));
            let un = Graph::from_petgraph(&petgraph_edges::<petgraph::Undirected>(n, &edges));
            assert_graph_is(&un, &dense_from_edges(n, &edges, false, true));
            assert!(un.is_symmetric());
        }
    }
}

#[test]
fn directed_round_trip_keeps_every_entry_and_weight() {
    let mut r = rng(12);
    for n in SIZES {
        for symmetric in [false, true] {
            let g = random_weighted_graph(&mut r, n, symmetric);
            let pg: DiGraph<(), f32> = g.to_petgraph_directed();
            assert_eq!(pg.node_count(), n);
            assert_eq!(pg.edge_count(), g.num_entries());
            let mut expected = vec![vec![0.0; n]; n];
            for e in pg.edge_references() {
                expected[e.source().index()][e.target().index()] = f64::from(*e.weight());
            }
            assert_eq!(expected, dense(&g));
            // weights are dropped by from_petgraph: the pattern comes back with weight 1
            let back = Graph::from_petgraph(&pg);
            let pattern: Vec<Vec<f64>> =
                dense(&g).iter().map(|row| row.iter().map(|&x| if x != 0.0 { 1.0 } else { 0.0 }).collect()).collect();
            assert_graph_is(&back, &pattern);
        }
    }
}

#[test]
fn undirected_round_trip_of_symmetric_graphs() {
    let mut r = rng(13);
    for n in SIZES {
        for _ in 0..4 {
            let m = random_edge_count(&mut r, n);
            let edges = random_edges(&mut r, n, m);
            let g = Graph::from_edges(n, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap();
            let pg: UnGraph<(), f32> = g.to_petgraph_undirected();
            assert_eq!(pg.node_count(), n);
            assert_eq!(pg.edge_count(), g.num_undirected_edges() + g.num_self_loops());
            for e in pg.edge_references() {
                let (a, b) = (e.source().index(), e.target().index());
                assert!(a <= b, "edges are stored as (min, max)");
                assert!(g.neighbors(a).contains(&b));
            }
            assert_eq!(Graph::from_petgraph(&pg), g);
        }
    }
}

#[test]
fn undirected_export_of_a_directed_graph_symmetrises_by_union() {
    let g = Graph::from_edges(4, &[(0, 1), (1, 0), (2, 1), (3, 3)], EdgeOptions::directed()).unwrap();
    let pg = g.to_petgraph_undirected();
    let mut pairs: Vec<(usize, usize)> =
        pg.edge_references().map(|e| (e.source().index(), e.target().index())).collect();
    pairs.sort();
    assert_eq!(pairs, vec![(0, 1), (1, 2), (3, 3)]);
    let back = Graph::from_petgraph(&pg);
    assert_eq!(back.neighbors(1), &[0, 2]);
    assert_eq!(back.neighbors(2), &[1]);
}

#[test]
fn weights_of_the_undirected_export_come_from_the_entries() {
    let g = Graph::from_csr(sprs::CsMat::new((2, 2), vec![0, 1, 2], vec![1, 0], vec![2.5f32, 2.5])).unwrap();
    let pg = g.to_petgraph_undirected();
    assert_eq!(pg.edge_count(), 1);
    assert_eq!(pg.edge_weights().copied().collect::<Vec<f32>>(), vec![2.5]);
}
