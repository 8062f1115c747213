//! Shared helpers of the integration tests: seeded random graphs and dense oracles.
#![allow(dead_code)]

use gdistill_graph::Graph;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sprs::CsMat;

/// Graph sizes every test runs through: empty, single node, small and medium.
pub const SIZES: [usize; 7] = [0, 1, 2, 3, 8, 25, 70];

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `m` random pairs in `0..n`, self-loops and duplicates included (none when `n == 0`).
pub fn random_edges(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Vec<(usize, usize)> {
    if n == 0 {
        return Vec::new();
    }
    (0..m).map(|_| (rng.random_range(0..n), rng.random_range(0..n))).collect()
}

/// A random edge count giving sparse to fairly dense graphs.
pub fn random_edge_count(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..=2 * n + n * n / 4)
}

/// The dense adjacency an edge list should give: 1 per edge, both ways unless `directed`,
/// self-loops only when `keep_self_loops`.
pub fn dense_from_edges(n: usize, edges: &[(usize, usize)], directed: bool, keep_self_loops: bool) -> Vec<Vec<f64>> {
    let mut a = vec![vec![0.0; n]; n];
    for &(i, j) in edges {
        if i == j && !keep_self_loops {
            continue;
        }
        a[i][j] = 1.0;
        if !directed {
            a[j][i] = 1.0;
        }
    }
    a
}

/// The dense form of a sparse matrix (entries not stored are 0).
pub fn dense_of(m: &CsMat<f32>) -> Vec<Vec<f64>> {
    let mut a = vec![vec![0.0; m.cols()]; m.rows()];
    for (&v, (i, j)) in m.iter() {
        a[i][j] = f64::from(v);
    }
    a
}

pub fn dense(g: &Graph) -> Vec<Vec<f64>> {
    dense_of(g.csr())
}

/// Asserts the graph stores exactly the non-zeros of `expected` (values included).
pub fn assert_graph_is(g: &Graph, expected: &[Vec<f64>]) {
    assert_eq!(g.num_nodes(), expected.len());
    let nnz = expected.iter().flatten().filter(|&&x| x != 0.0).count();
    assert_eq!(g.num_entries(), nnz, "stored entries");
    assert_eq!(dense(g), expected);
    for i in 0..g.num_nodes() {
        assert!(g.neighbors(i).windows(2).all(|w| w[0] < w[1]), "row {i} not sorted and unique");
    }
}

/// A random graph with random positive weights (through `from_csr`), self-loops possible.
pub fn random_weighted_graph(rng: &mut ChaCha8Rng, n: usize, symmetric: bool) -> Graph {
    let m = random_edge_count(rng, n);
    let edges = random_edges(rng, n, m);
    let a = dense_from_edges(n, &edges, !symmetric, true);
    let mut tri = sprs::TriMat::new((n, n));
    for (i, row) in a.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            if x != 0.0 && (!symmetric || i <= j) {
                let w: f32 = rng.random_range(0.1..3.0);
                tri.add_triplet(i, j, w);
                if symmetric && i != j {
                    tri.add_triplet(j, i, w);
                }
            }
        }
    }
    Graph::from_csr(tri.to_csr()).unwrap()
}
