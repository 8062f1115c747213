//! Partitions (graph/src/partition.rs) on seeded random graphs, both methods: every node owned by
//! exactly one part, every stored entry kept in its row's part, halos equal to a brute-force
//! computation, the parts' GCN rows equal to the whole graph's, and bad requests refused.

mod common;

use common::*;
use gdistill_graph::partition::{assign_parts, PartGraph, PartitionMethod};
use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph};

const METHODS: [PartitionMethod; 2] = [PartitionMethod::Metis, PartitionMethod::Contiguous];

/// Random graphs: undirected, directed and with self-loops kept.
fn graphs() -> Vec<Graph> {
    let mut out = Vec::new();
    for (seed, n) in [(1u64, 8usize), (2, 25), (3, 70), (4, 300)] {
        let mut r = rng(seed);
        let m = random_edge_count(&mut r, n).max(n);
        let edges = random_edges(&mut r, n, m);
        out.push(Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap());
        out.push(Graph::from_edges(n, &edges, EdgeOptions::directed()).unwrap());
        out.push(Graph::from_edges(n, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap());
    }
    out
}

/// Checks every invariant of the parts of `graph` under `owner`.
fn check_parts(graph: &Graph, owner: &[usize], parts: usize) {
    let n = graph.num_nodes();
    assert_eq!(owner.len(), n);
    let mut seen = vec![0usize; n];
    let mut entries = 0;
    let a_hat = gcn_normalized_adjacency(graph);
    for part in 0..parts {
        let p = PartGraph::extract(graph, owner, part);
        assert!(!p.nodes.is_empty(), "part {part} of {parts} is empty");
        for (r, &i) in p.nodes.iter().enumerate() {
            seen[i] += 1;
            assert_eq!(owner[i], part);
            // the row is the graph's row, entry for entry
            let span = p.indptr[r]..p.indptr[r + 1];
            assert_eq!(&p.indices[span.clone()], graph.neighbors(i));
            assert_eq!(&p.weights[span], graph.neighbor_weights(i));
        }
        entries += p.num_entries();
        // brute force: every (i, j) with i owned here and j owned elsewhere
        let mut halo: Vec<usize> =
            graph.edges().filter(|&(i, j)| owner[i] == part && owner[j] != part).map(|(_, j)| j).collect();
        let cut = halo.len();
        halo.sort_unstable();
        halo.dedup();
        assert_eq!(p.halo, halo, "part {part}");
        assert_eq!(p.cut_edges(), cut);
        assert_eq!(p.halo_owner, halo.iter().map(|&j| owner[j]).collect::<Vec<_>>());
        // the part's GCN rows are the whole graph's rows, bit for bit
        let (indptr, cols, vals) = p.gcn_rows();
        for (r, &i) in p.nodes.iter().enumerate() {
            let row = a_hat.outer_view(i).unwrap();
            assert_eq!(&cols[indptr[r]..indptr[r + 1]], row.indices(), "row {i}");
            assert_eq!(&vals[indptr[r]..indptr[r + 1]], row.data(), "row {i}");
        }
    }
    assert!(seen.iter().all(|&c| c == 1), "a node owned {seen:?} times");
    assert_eq!(entries, graph.num_entries(), "entries lost or added");
}

#[test]
fn parts_cover_every_node_once_and_keep_every_edge() {
    for graph in graphs() {
        let n = graph.num_nodes();
        for method in METHODS {
            for parts in [1, 2, 3, 4, n.min(7), n] {
                let owner = assign_parts(&graph, parts, method, 0).unwrap();
                assert!(owner.iter().all(|&p| p < parts));
                check_parts(&graph, &owner, parts);
            }
        }
    }
}

#[test]
fn contiguous_parts_are_id_ranges() {
    let g = Graph::from_edges(10, &[(0, 9)], EdgeOptions::undirected()).unwrap();
    let owner = assign_parts(&g, 3, PartitionMethod::Contiguous, 0).unwrap();
    assert_eq!(owner, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 2]);
}

#[test]
fn metis_cuts_fewer_edges_than_contiguous_on_shuffled_communities() {
    // two cliques of 20 whose ids interleave: contiguous ranges cut half the edges, METIS none
    let mut edges = Vec::new();
    for a in 0..20 {
        for b in a + 1..20 {
            edges.push((2 * a, 2 * b));
            edges.push((2 * a + 1, 2 * b + 1));
        }
    }
    let g = Graph::from_edges(40, &edges, EdgeOptions::undirected()).unwrap();
    let cut = |method| {
        let owner = assign_parts(&g, 2, method, 0).unwrap();
        (0..2).map(|p| PartGraph::extract(&g, &owner, p).cut_edges()).sum::<usize>()
    };
    assert_eq!(cut(PartitionMethod::Metis), 0);
    assert!(cut(PartitionMethod::Contiguous) > 300);
}

#[test]
fn metis_is_repeatable_for_a_seed() {
    let g = &graphs()[9];
    let a = assign_parts(g, 4, PartitionMethod::Metis, 7).unwrap();
    assert_eq!(a, assign_parts(g, 4, PartitionMethod::Metis, 7).unwrap());
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    let g = Graph::from_edges(3, &[(0, 1)], EdgeOptions::undirected()).unwrap();
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    for method in METHODS {
        let err = |graph: &Graph, parts| assign_parts(graph, parts, method, 0).unwrap_err().to_string();
        assert!(err(&g, 0).contains("at least 1"), "{}", err(&g, 0));
        assert!(err(&g, 4).contains("4 parts for 3 nodes"), "{}", err(&g, 4));
        assert!(err(&empty, 2).contains("no nodes"), "{}", err(&empty, 2));
    }
    assert!("kway".parse::<PartitionMethod>().unwrap_err().contains("metis or contiguous"));
}

#[test]
fn edgeless_graphs_still_split() {
    let g = Graph::from_edges(6, &[], EdgeOptions::undirected()).unwrap();
    for method in METHODS {
        let owner = assign_parts(&g, 3, method, 0).unwrap();
        check_parts(&g, &owner, 3);
    }
}
