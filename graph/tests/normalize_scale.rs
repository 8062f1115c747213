//! Timing of the normalisations on a graph of a million nodes and ten million entries.
//!
//! Ignored by default (it needs a release build to say anything):
//! `cargo test --release -p gdistill-graph --test normalize_scale -- --ignored --nocapture`.

use std::time::Instant;

use gdistill_graph::{gcn_normalized_adjacency, random_walk_normalized_adjacency, EdgeOptions, Graph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
#[ignore]
fn million_node_graph_normalises_in_seconds() {
    let n = 1_000_000;
    let mut r = ChaCha8Rng::seed_from_u64(7);
    let edges: Vec<(usize, usize)> = (0..5_000_000).map(|_| (r.random_range(0..n), r.random_range(0..n))).collect();
    let t = Instant::now();
    let g = Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap();
    println!("from_edges: {:?}, {} entries", t.elapsed(), g.num_entries());
    let t = Instant::now();
    let a = gcn_normalized_adjacency(&g);
    let gcn = t.elapsed();
    println!("gcn_normalized_adjacency: {gcn:?}");
    let t = Instant::now();
    let p = random_walk_normalized_adjacency(&g, false);
    println!("random_walk_normalized_adjacency: {:?}", t.elapsed());
    assert_eq!(a.nnz(), g.num_entries() + n - g.num_self_loops());
    assert_eq!(p.nnz(), g.num_entries());
    assert!(a.data().iter().all(|x| x.is_finite()));
    assert!(gcn.as_secs_f64() < 5.0);
}
