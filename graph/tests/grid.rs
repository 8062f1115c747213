//! Grid graphs against edge-count formulas and a brute-force adjacency test over all pixel pairs.

use gdistill_graph::{grid_graph, Neighborhood};

fn adjacent(h_w: (usize, usize), a: usize, b: usize, nb: Neighborhood) -> bool {
    let w = h_w.1;
    let (ra, ca, rb, cb) = ((a / w) as i64, (a % w) as i64, (b / w) as i64, (b % w) as i64);
    let (dr, dc) = ((ra - rb).abs(), (ca - cb).abs());
    match nb {
        Neighborhood::Four => dr + dc == 1,
        Neighborhood::Eight => a != b && dr <= 1 && dc <= 1,
    }
}

#[test]
fn edge_counts_follow_the_formulas() {
    for h in 0..7 {
        for w in 0..7 {
            let four = grid_graph(h, w, Neighborhood::Four);
            let eight = grid_graph(h, w, Neighborhood::Eight);
            assert_eq!(four.num_nodes(), h * w);
            assert_eq!(eight.num_nodes(), h * w);
            let (hm, wm) = (h.saturating_sub(1), w.saturating_sub(1));
            let four_edges = h * wm + w * hm;
            assert_eq!(four.num_undirected_edges(), four_edges, "{h}x{w}");
            assert_eq!(eight.num_undirected_edges(), four_edges + 2 * hm * wm, "{h}x{w}");
            for g in [&four, &eight] {
                assert_eq!(g.num_entries(), 2 * g.num_undirected_edges());
                assert_eq!(g.num_self_loops(), 0);
                assert!(g.is_symmetric());
            }
        }
    }
}

#[test]
fn neighbours_are_exactly_the_adjacent_pixels() {
    for (h, w) in [(1, 1), (1, 5), (5, 1), (3, 4), (6, 6), (2, 9)] {
        for nb in [Neighborhood::Four, Neighborhood::Eight] {
            let g = grid_graph(h, w, nb);
            for a in 0..h * w {
                let expected: Vec<usize> = (0..h * w).filter(|&b| adjacent((h, w), a, b, nb)).collect();
                assert_eq!(g.neighbors(a), expected.as_slice(), "{h}x{w} {nb:?} node {a}");
            }
        }
    }
}

#[test]
fn interior_and_corner_degrees() {
    let g = grid_graph(4, 5, Neighborhood::Eight);
    assert_eq!(g.degree(0), 3);
    assert_eq!(g.degree(5 + 1), 8);
    assert_eq!(g.neighbors(6), &[0, 1, 2, 5, 7, 10, 11, 12]);
    let g = grid_graph(4, 5, Neighborhood::Four);
    assert_eq!(g.degree(19), 2);
    assert_eq!(g.neighbors(6), &[1, 5, 7, 11]);
}
