//! kNN graphs against an O(n^2) sort-based oracle on seeded point sets.

mod common;

use common::*;
use gdistill_graph::{knn_graph, knn_graph_batched, GraphError, KnnOptions};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The sorted neighbour list of every point of `points[start..end]` (global ids), by full sort.
fn oracle(points: &[f32], dim: usize, start: usize, end: usize, k: usize, include_self: bool) -> Vec<Vec<usize>> {
    (start..end)
        .map(|i| {
            let mut others: Vec<(f64, usize)> = (start..end)
                .filter(|&j| j != i)
                .map(|j| {
                    let d: f64 = (0..dim)
                        .map(|c| (f64::from(points[i * dim + c]) - f64::from(points[j * dim + c])).powi(2))
                        .sum();
                    (d, j)
                })
                .collect();
            others.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let want = if include_self && k > 0 { k - 1 } else { k };
            let mut chosen: Vec<usize> = others.iter().take(want).map(|&(_, j)| j).collect();
            if include_self && k > 0 {
                chosen.push(i);
            }
            chosen.sort();
            chosen
        })
        .collect()
}

/// `n` random points; with `coarse`, integer coordinates in 0..3 (many ties and duplicates), otherwise
/// continuous ones with some exact duplicates copied in.
fn points(r: &mut ChaCha8Rng, n: usize, dim: usize, coarse: bool) -> Vec<f32> {
    let mut p: Vec<f32> =
        (0..n * dim).map(|_| if coarse { r.random_range(0..3) as f32 } else { r.random_range(-1.0..1.0) }).collect();
    if !coarse && n > 1 {
        for _ in 0..n / 4 {
            let (a, b) = (r.random_range(0..n), r.random_range(0..n));
            let src: Vec<f32> = p[a * dim..(a + 1) * dim].to_vec();
            p[b * dim..(b + 1) * dim].copy_from_slice(&src);
        }
    }
    p
}

fn ks(n: usize) -> Vec<usize> {
    vec![0, 1, 2, 3, n.saturating_sub(1), n, n + 5]
}

#[test]
fn knn_matches_sort_oracle() {
    let mut r = rng(51);
    for n in SIZES {
        for dim in [1, 2, 3, 7] {
            for coarse in [false, true] {
                let p = points(&mut r, n, dim, coarse);
                for k in ks(n) {
                    for include_self in [false, true] {
                        let g = knn_graph(&p, dim, k, KnnOptions { include_self }).unwrap();
                        assert_eq!(g.num_nodes(), n);
                        let expected = oracle(&p, dim, 0, n, k, include_self);
                        for (i, row) in expected.iter().enumerate() {
                            assert_eq!(
                                g.neighbors(i),
                                row.as_slice(),
                                "n={n} dim={dim} k={k} self={include_self} i={i}"
                            );
                        }
                        let per_row = if include_self { k.min(n) } else { k.min(n.saturating_sub(1)) };
                        assert_eq!(g.num_entries(), n * per_row);
                        assert_eq!(g.num_self_loops(), if include_self && k > 0 { n } else { 0 });
                    }
                }
            }
        }
    }
}

#[test]
fn duplicates_are_neighbours_but_never_self() {
    // three copies of one point, one far point
    let p = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.0, 0.0];
    let g = knn_graph(&p, 2, 2, KnnOptions::default()).unwrap();
    assert_eq!(g.neighbors(0), &[1, 2]);
    assert_eq!(g.neighbors(1), &[0, 2]);
    assert_eq!(g.neighbors(2), &[0, 1]);
    assert_eq!(g.neighbors(3), &[0, 1]); // all three at the same distance: lowest indices
                                         // with self included, a point keeps itself even when a duplicate with a lower index ties
    let g = knn_graph(&p, 2, 1, KnnOptions::include_self()).unwrap();
    assert_eq!(g.neighbors(2), &[2]);
}

#[test]
fn k_zero_and_large_k() {
    let p = [0.0f32, 1.0, 4.0];
    assert_eq!(knn_graph(&p, 1, 0, KnnOptions::default()).unwrap().num_entries(), 0);
    assert_eq!(knn_graph(&p, 1, 0, KnnOptions::include_self()).unwrap().num_entries(), 0);
    let g = knn_graph(&p, 1, 100, KnnOptions::default()).unwrap();
    assert_eq!(g.neighbors(1), &[0, 2]);
    let g = knn_graph(&p, 1, 100, KnnOptions::include_self()).unwrap();
    assert_eq!(g.neighbors(1), &[0, 1, 2]);
    assert_eq!(knn_graph(&[], 3, 4, KnnOptions::default()).unwrap().num_nodes(), 0);
}

#[test]
fn bad_input_is_an_error() {
    let nan = [0.0, 1.0, f32::NAN, 2.0];
    assert_eq!(
        knn_graph(&nan, 2, 1, KnnOptions::default()).unwrap_err(),
        GraphError::NonFiniteCoordinate { point: 1, coord: 0 }
    );
    let inf = [0.0, f32::NEG_INFINITY];
    assert!(matches!(
        knn_graph(&inf, 1, 1, KnnOptions::default()),
        Err(GraphError::NonFiniteCoordinate { point: 1, .. })
    ));
    assert_eq!(
        knn_graph(&[0.0; 5], 2, 1, KnnOptions::default()).unwrap_err(),
        GraphError::PointShape { len: 5, dim: 2 }
    );
    assert!(matches!(knn_graph(&[], 0, 1, KnnOptions::default()), Err(GraphError::PointShape { .. })));
    assert_eq!(
        knn_graph_batched(&[0.0; 6], 2, &[1, 1], 1, KnnOptions::default()).unwrap_err(),
        GraphError::CloudSizes { total: 2, points: 3 }
    );
    assert!(matches!(
        knn_graph_batched(&nan, 1, &[2, 2], 1, KnnOptions::default()),
        Err(GraphError::NonFiniteCoordinate { point: 2, coord: 0 })
    ));
}

#[test]
fn batched_knn_matches_per_cloud_oracle() {
    let mut r = rng(52);
    for trial in 0..12 {
        let dim = 1 + trial % 3;
        let sizes: Vec<usize> = (0..r.random_range(0..6)).map(|_| r.random_range(0..12)).collect();
        let n: usize = sizes.iter().sum();
        let p = points(&mut r, n, dim, trial % 2 == 0);
        for k in [0, 1, 3, 11, 20] {
            for include_self in [false, true] {
                let g = knn_graph_batched(&p, dim, &sizes, k, KnnOptions { include_self }).unwrap();
                assert_eq!(g.num_nodes(), n);
                let mut start = 0;
                let mut expected_entries = 0;
                for &size in &sizes {
                    let expected = oracle(&p, dim, start, start + size, k, include_self);
                    for (local, row) in expected.iter().enumerate() {
                        assert_eq!(g.neighbors(start + local), row.as_slice(), "sizes={sizes:?} k={k}");
                        expected_entries += row.len();
                    }
                    start += size;
                }
                assert_eq!(g.num_entries(), expected_entries);
            }
        }
        if sizes.len() == 1 {
            let whole = knn_graph(&p, dim, 3, KnnOptions::default()).unwrap();
            assert_eq!(knn_graph_batched(&p, dim, &sizes, 3, KnnOptions::default()).unwrap(), whole);
        }
    }
}
