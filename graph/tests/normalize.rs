//! Normalised adjacencies against dense f64 computations of D^-1/2 (A+I) D^-1/2 and D^-1 A.

mod common;

use common::*;
use gdistill_graph::{
    gcn_normalized_adjacency, random_walk_normalized_adjacency, symmetric_normalized_adjacency, EdgeOptions, Graph,
};
use sprs::CsMat;

/// `A`, with the diagonal set to 1 when `add_self_loops`, and its row sums.
fn dense_with_loops(g: &Graph, add_self_loops: bool) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut a = dense(g);
    if add_self_loops {
        (0..a.len()).for_each(|i| a[i][i] = 1.0);
    }
    let d = a.iter().map(|row| row.iter().sum()).collect();
    (a, d)
}

fn oracle_symmetric(g: &Graph, add_self_loops: bool) -> Vec<Vec<f64>> {
    let (a, d) = dense_with_loops(g, add_self_loops);
    let n = a.len();
    let s: Vec<f64> = d.iter().map(|&x| if x > 0.0 { x.powf(-0.5) } else { 0.0 }).collect();
    (0..n).map(|i| (0..n).map(|j| s[i] * a[i][j] * s[j]).collect()).collect()
}

fn oracle_random_walk(g: &Graph, add_self_loops: bool) -> Vec<Vec<f64>> {
    let (a, d) = dense_with_loops(g, add_self_loops);
    a.iter().zip(&d).map(|(row, &di)| row.iter().map(|&x| if di > 0.0 { x / di } else { 0.0 }).collect()).collect()
}

/// Every entry within a relative 1e-6 of the oracle, the stored pattern that of `A (+ I)` (entries
/// scaled by a zero degree are stored as 0), no NaN or infinity, rows sorted.
fn assert_matches(m: &CsMat<f32>, g: &Graph, add_self_loops: bool, expected: &[Vec<f64>]) {
    let n = expected.len();
    assert_eq!((m.rows(), m.cols()), (n, n));
    assert!(m.data().iter().all(|x| x.is_finite()), "NaN or infinity stored");
    let pattern = dense_with_loops(g, add_self_loops).0.iter().flatten().filter(|&&x| x != 0.0).count();
    assert_eq!(m.nnz(), pattern, "stored pattern");
    let got = dense_of(m);
    for i in 0..n {
        for j in 0..n {
            let (x, y) = (got[i][j], expected[i][j]);
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-30), "entry ({i}, {j}): got {x}, expected {y}");
        }
        let cols: Vec<usize> = m.outer_view(i).unwrap().indices().to_vec();
        assert!(cols.windows(2).all(|w| w[0] < w[1]));
    }
}

fn graphs(seed: u64) -> Vec<Graph> {
    let mut r = rng(seed);
    let mut out = Vec::new();
    for n in SIZES {
        for trial in 0..4 {
            let m = random_edge_count(&mut r, n) / (1 + trial);
            let edges = random_edges(&mut r, n, m);
            out.push(Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap());
            out.push(Graph::from_edges(n, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap());
            out.push(Graph::from_edges(n, &edges, EdgeOptions::directed()).unwrap());
            out.push(random_weighted_graph(&mut r, n, trial % 2 == 0));
        }
    }
    out
}

#[test]
fn gcn_normalisation_matches_dense_oracle() {
    for g in graphs(41) {
        assert_matches(&gcn_normalized_adjacency(&g), &g, true, &oracle_symmetric(&g, true));
    }
}

#[test]
fn symmetric_normalisation_matches_dense_oracle() {
    for g in graphs(42) {
        for add in [false, true] {
            assert_matches(&symmetric_normalized_adjacency(&g, add), &g, add, &oracle_symmetric(&g, add));
        }
    }
}

#[test]
fn random_walk_normalisation_matches_dense_oracle_and_rows_sum_to_one() {
    for g in graphs(43) {
        for add in [false, true] {
            let p = random_walk_normalized_adjacency(&g, add);
            assert_matches(&p, &g, add, &oracle_random_walk(&g, add));
            for i in 0..g.num_nodes() {
                let row = p.outer_view(i).unwrap();
                let sum: f64 = row.data().iter().map(|&x| f64::from(x)).sum();
                if row.nnz() > 0 {
                    assert!((sum - 1.0).abs() < 1e-5, "row {i} sums to {sum}");
                } else {
                    assert!(!add && g.degree(i) == 0);
                }
            }
        }
    }
}

#[test]
fn isolated_nodes_get_one_on_the_gcn_diagonal_and_empty_random_walk_rows() {
    // 0 - 1 - 2, 3 and 4 isolated
    let g = Graph::from_edges(5, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap();
    let a = gcn_normalized_adjacency(&g);
    for i in [3, 4] {
        assert_eq!(a.get(i, i), Some(&1.0));
        assert_eq!(a.outer_view(i).unwrap().nnz(), 1);
    }
    assert_eq!(a.get(0, 0), Some(&0.5)); // degree 2 with its self-loop
    assert!((a.get(0, 1).unwrap() - 1.0 / 6f32.sqrt()).abs() < 1e-7); // 1/sqrt(2 * 3)
    let p = random_walk_normalized_adjacency(&g, false);
    assert_eq!(p.outer_view(3).unwrap().nnz(), 0);
    assert_eq!(p.get(1, 0), Some(&0.5));
    let s = symmetric_normalized_adjacency(&g, false);
    assert_eq!(s.outer_view(4).unwrap().nnz(), 0);
    assert!(s.data().iter().all(|x| x.is_finite()));
}

#[test]
fn an_existing_self_loop_is_not_doubled() {
    // 0 - 1 with a self-loop on 0: A + I has diagonal 1 everywhere, degrees 2 and 2
    let g = Graph::from_edges(2, &[(0, 1), (0, 0)], EdgeOptions::undirected().keep_self_loops()).unwrap();
    let a = gcn_normalized_adjacency(&g);
    assert_eq!(dense_of(&a), vec![vec![0.5, 0.5], vec![0.5, 0.5]]);
    // a weighted self-loop is replaced by 1 too
    let w = Graph::from_csr(CsMat::new((1, 1), vec![0, 1], vec![0], vec![4.0f32])).unwrap();
    assert_eq!(gcn_normalized_adjacency(&w).data(), &[1.0]);
    assert_eq!(symmetric_normalized_adjacency(&w, false).data(), &[1.0]);
}

#[test]
fn self_loop_only_and_empty_graphs() {
    let edges: Vec<(usize, usize)> = (0..4).map(|i| (i, i)).collect();
    let g = Graph::from_edges(4, &edges, EdgeOptions::directed()).unwrap();
    for m in [gcn_normalized_adjacency(&g), random_walk_normalized_adjacency(&g, false)] {
        assert_eq!(m.nnz(), 4);
        assert!(m.data().iter().all(|&x| x == 1.0));
        assert_eq!(m.indices(), &[0, 1, 2, 3]);
    }
    let empty = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
    assert_eq!(gcn_normalized_adjacency(&empty).shape(), (0, 0));
    assert_eq!(random_walk_normalized_adjacency(&empty, true).nnz(), 0);
    let one = Graph::from_edges(1, &[], EdgeOptions::undirected()).unwrap();
    assert_eq!(dense_of(&gcn_normalized_adjacency(&one)), vec![vec![1.0]]);
    assert_eq!(random_walk_normalized_adjacency(&one, false).nnz(), 0);
}
