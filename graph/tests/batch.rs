//! Block-diagonal batching against a dense block construction.

mod common;

use common::*;
use gdistill_graph::{block_diagonal, EdgeOptions, Graph};
use rand::Rng;

#[test]
fn block_diagonal_matches_dense_blocks() {
    let mut r = rng(61);
    for trial in 0..10 {
        let count = r.random_range(0..6);
        let graphs: Vec<Graph> = (0..count)
            .map(|_| {
                let n = SIZES[r.random_range(0..SIZES.len())];
                random_weighted_graph(&mut r, n, trial % 2 == 0)
            })
            .collect();
        let (g, batch, offsets) = block_diagonal(&graphs);
        let total: usize = graphs.iter().map(Graph::num_nodes).sum();
        let mut expected = vec![vec![0.0; total]; total];
        let mut expected_batch = Vec::new();
        let mut expected_offsets = vec![0];
        let mut start = 0;
        for (b, h) in graphs.iter().enumerate() {
            let a = dense(h);
            for i in 0..h.num_nodes() {
                for j in 0..h.num_nodes() {
                    expected[start + i][start + j] = a[i][j];
                }
                expected_batch.push(b);
            }
            start += h.num_nodes();
            expected_offsets.push(start);
        }
        assert_graph_is(&g, &expected);
        assert_eq!(batch, expected_batch);
        assert_eq!(offsets, expected_offsets);
        assert_eq!(g.num_entries(), graphs.iter().map(Graph::num_entries).sum::<usize>());
    }
}

#[test]
fn empty_inputs_and_self_loop_only_graphs() {
    let (g, batch, offsets) = block_diagonal(&[]);
    assert_eq!((g.num_nodes(), batch.len(), offsets), (0, 0, vec![0]));
    let loops = Graph::from_edges(2, &[(0, 0), (1, 1)], EdgeOptions::directed()).unwrap();
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    let (g, batch, offsets) = block_diagonal(&[loops.clone(), empty, loops]);
    assert_eq!(batch, vec![0, 0, 2, 2]);
    assert_eq!(offsets, vec![0, 2, 2, 4]);
    assert_eq!(g.num_self_loops(), 4);
    assert_eq!(g.neighbors(3), &[3]);
}
