//! Where sparse features stop paying: the first layer's training step (dropout on the input,
//! `X @ W`, and the backward pass to `W`) with `X` held dense and held as CSR, over a sweep of
//! feature densities. `FeatureLayout::Auto` stores a dataset's features sparse at or below the
//! density this measures as the crossover (docs/performance-and-scale.md, "Feature layout").
//!
//! ```text
//! cargo run --release --example feature_layout_crossover -- [NODES FEATURES HIDDEN THREADS]
//! ```
//! Defaults: Amazon Computers' shape (13 752 nodes, 767 features), 64 hidden units, 1 thread.

use std::time::Instant;

use gdistill_models::{record_sparse_products, NodeFeatures, Project, SparseMatrix};
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};

/// Bag-of-words-like features: each entry present with probability `density`, rows summing to one.
fn features(nodes: usize, cols: usize, density: f64, seed: u64) -> sprs::CsMat<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut m = sprs::TriMat::new((nodes, cols));
    for r in 0..nodes {
        let row: Vec<usize> = (0..cols).filter(|_| rng.random_bool(density)).collect();
        let row = if row.is_empty() { vec![rng.random_range(0..cols)] } else { row };
        for &c in &row {
            m.add_triplet(r, c, 1.0 / row.len() as f32);
        }
    }
    m.to_csr()
}

/// Median seconds of one training step of the input layer: dropout 0.5, project, backward.
fn step_seconds(x: &NodeFeatures, hidden: i64, reps: usize) -> f64 {
    let w = (Tensor::randn([x.num_features(), hidden], (Kind::Float, Device::Cpu)) * 0.05).set_requires_grad(true);
    let mut times: Vec<f64> = (0..reps + 2)
        .map(|_| {
            let start = Instant::now();
            // Through the tape, as training runs it: plain autograd differentiates a CSR
            // product on libtorch's slow CSC path.
            let (loss, tape) = record_sparse_products(|| x.dropout(0.5, true).project(&w).relu().sum(Kind::Float));
            tape.backward(&loss).expect("the tape's backward");
            let _ = w.grad().zero_();
            start.elapsed().as_secs_f64()
        })
        .skip(2) // warm-up: first-touch allocations and MKL's first call
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn sparse_to_dense(x: &NodeFeatures) -> Tensor {
    match x {
        NodeFeatures::Sparse(m) => m.to_dense(),
        NodeFeatures::Dense(t) => t.shallow_clone(),
    }
}

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| -> anyhow::Result<usize> {
        Ok(std::env::args().nth(i).map(|s| s.parse()).transpose()?.unwrap_or(default))
    };
    let (nodes, cols, hidden, threads) = (arg(1, 13_752)?, arg(2, 767)?, arg(3, 64)? as i64, arg(4, 1)?);
    tch::set_num_threads(threads as i32);
    tch::manual_seed(0);
    println!("{nodes} nodes x {cols} features -> {hidden}, {threads} thread(s); median of 15 steps (dropout, X @ W, backward)");
    println!("{:>8} {:>10} {:>10} {:>12}", "density", "dense ms", "CSR ms", "CSR / dense");
    let mut crossover = None;
    for density in [0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5] {
        let csr = features(nodes, cols, density, 7);
        let sparse = NodeFeatures::Sparse(SparseMatrix::from_sprs(&csr, Device::Cpu)?);
        let dense = NodeFeatures::Dense(sparse_to_dense(&sparse));
        let (d, s) = (step_seconds(&dense, hidden, 15), step_seconds(&sparse, hidden, 15));
        if s > d && crossover.is_none() {
            crossover = Some(density);
        }
        println!("{:>8.3} {:>10.2} {:>10.2} {:>12.2}", density, d * 1e3, s * 1e3, s / d);
    }
    match crossover {
        Some(c) => println!("CSR is slower from density {c} on"),
        None => println!("CSR is faster at every density measured"),
    }
    Ok(())
}
