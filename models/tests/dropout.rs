//! CPU dropout (`gdistill_models::dropout`): the distribution against binomial bounds, the
//! values against `x / (1 - p)`, the gradient against the mask, and a seed fixing the mask
//! whatever the thread count. One test function: the seed and the thread count are global to
//! libtorch, and tests in one binary run concurrently.

use gdistill_models::dropout;
use tch::{Device, Kind, Tensor};

/// Asserts `count` lies within six standard deviations of a Binomial(n, q) mean.
fn assert_binomial(what: &str, count: f64, n: f64, q: f64) {
    let (mean, sd) = (n * q, (n * q * (1.0 - q)).sqrt());
    assert!((count - mean).abs() < 6.0 * sd, "{what}: {count} against {mean} +- {sd}");
}

#[test]
fn cpu_dropout() {
    let n = 1_000_001i64; // odd: the last word's high half is unused
    let x = Tensor::rand([n], (Kind::Float, Device::Cpu)) + 0.5;
    for p in [0.1, 0.5, 0.8] {
        tch::manual_seed(7);
        let y = dropout(&x, p, true);
        let kept = y.ne(0.0);
        // Kept entries are x / (1 - p) exactly as f32 computes it; dropped are 0.
        let scale = (1.0 / (1.0 - p)) as f32;
        let expected = x.where_self(&kept, &x.zeros_like()) * f64::from(scale);
        assert_eq!(y, expected, "p = {p}");
        let nf = n as f64;
        assert_binomial(&format!("p = {p}, kept"), kept.sum(Kind::Float).double_value(&[]), nf, 1.0 - p);
        // Both halves of one word, and neighbouring words, behave as independent draws.
        let pairs = n / 2;
        let even = kept.slice(0, 0, 2 * pairs, 2).to_kind(Kind::Float);
        let odd = kept.slice(0, 1, 2 * pairs, 2).to_kind(Kind::Float);
        let both = (&even * &odd).sum(Kind::Float).double_value(&[]);
        assert_binomial(&format!("p = {p}, same word"), both, pairs as f64, (1.0 - p) * (1.0 - p));
        let next = (even.slice(0, 0, pairs - 1, 1) * even.slice(0, 1, pairs, 1)).sum(Kind::Float).double_value(&[]);
        assert_binomial(&format!("p = {p}, next word"), next, (pairs - 1) as f64, (1.0 - p) * (1.0 - p));

        // The same seed gives the same mask, another seed another one.
        tch::manual_seed(7);
        assert_eq!(dropout(&x, p, true), y);
        tch::manual_seed(8);
        assert_ne!(dropout(&x, p, true), y);

        // With a gradient (a hidden layer) the forward is the same product and the gradient is
        // the mask; in f64 the mask is the same.
        tch::manual_seed(7);
        let leaf = x.detach().set_requires_grad(true);
        let z = dropout(&leaf, p, true);
        assert_eq!(z.detach(), y);
        z.sum(Kind::Float).backward();
        assert_eq!(leaf.grad(), kept.to_kind(Kind::Float) * f64::from(scale));
        tch::manual_seed(7);
        let z64 = dropout(&x.to_kind(Kind::Double), p, true);
        assert_eq!(z64.ne(0.0), kept);
    }

    // One thread or two: the same mask for the same seed.
    let threads = tch::get_num_threads();
    let mut masks = Vec::new();
    for t in [1, 2, 3] {
        tch::set_num_threads(t);
        tch::manual_seed(11);
        masks.push(dropout(&x, 0.5, true));
    }
    tch::set_num_threads(threads);
    assert_eq!(masks[0], masks[1]);
    assert_eq!(masks[0], masks[2]);

    // Eval, p = 0, empty tensors and p = 1.
    assert_eq!(dropout(&x, 0.5, false), x);
    assert_eq!(dropout(&x, 0.0, true), x);
    let empty = Tensor::zeros([0, 4], (Kind::Float, Device::Cpu));
    assert_eq!(dropout(&empty, 0.5, true).size(), vec![0, 4]);
    assert_eq!(dropout(&x, 1.0, true).ne(0.0).sum(Kind::Int64).int64_value(&[]), 0);
}
