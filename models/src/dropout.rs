//! Dropout that is cheap on the CPU.
//!
//! libtorch's CPU dropout draws its mask with `bernoulli_`, one scalar draw per entry: on a
//! 2708 x 64 hidden layer that is ~2 ms, more than the whole sparse GCN layer. Thresholding a
//! vectorised uniform draw gives the same distribution (keep with probability `1 - p`, scale by
//! `1 / (1 - p)`) in about a third of the time. On CUDA the fused native kernel is used.
//!
//! ```
//! use gdistill_models::dropout;
//! use tch::{Device, Kind, Tensor};
//! let x = Tensor::ones([1000], (Kind::Float, Device::Cpu));
//! assert_eq!(dropout(&x, 0.5, false).sum(Kind::Float).double_value(&[]), 1000.0); // eval: identity
//! let kept = dropout(&x, 0.5, true);
//! let values: Vec<f32> = Vec::try_from(&kept).unwrap();
//! assert!(values.iter().all(|&v| v == 0.0 || v == 2.0));
//! ```

use tch::{Device, Tensor};

/// Zeroes each entry with probability `p` and scales the rest by `1 / (1 - p)` when `train`.
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p == 0.0 {
        return x.shallow_clone();
    }
    if x.device() != Device::Cpu {
        return x.dropout(p, true);
    }
    // The mask is built in place (uniform draw -> 0/1 -> 0 or 1/(1-p)): one allocation and one
    // pass fewer than `x * (u >= p) * scale`, and bit-identical to it (x * 1 * s = x * s).
    let mut mask = x.rand_like();
    let _ = mask.ge_(p).g_mul_scalar_(1.0 / (1.0 - p));
    x * mask
}
