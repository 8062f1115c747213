//! Pruning any model held in a variable store: which variables are pruned, how a pruning run
//! reaches its count in steps, and what a pruned store weighs.
//!
//! The weights are the variables of two or more dimensions (tch's linear `[out, in]`, a
//! convolution's `[out, in, k, k]`, the node models' `[in, out]`), the same rule as
//! [`crate::compress::quantize_store`]'s; biases and batch-norm parameters are neither pruned nor counted.

use tch::{nn, Kind, Tensor};

use super::PruneError;

/// The weight tensors of `vs`, ordered by variable name (a store is a hash map: sorting makes the
/// order, and so a [`super::Masks`]'s, the same on every run).
pub fn store_weights(vs: &nn::VarStore) -> Vec<Tensor> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, v)| v.dim() >= 2).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, v)| v).collect()
}

/// The weights to keep after each of `steps` equal pruning steps from `total` down to `keep`;
/// the last is `keep` exactly. An impossible count (`keep` outside `1..=total`) or no steps is
/// one clear error.
pub fn keep_schedule(total: i64, keep: i64, steps: usize) -> Result<Vec<i64>, PruneError> {
    if steps == 0 {
        return Err(PruneError::Config("pruning needs at least 1 step".into()));
    }
    if keep < 1 || keep > total {
        return Err(PruneError::Config(format!(
            "cannot prune {total} weights to {keep}: the count to keep must be between 1 and {total}"
        )));
    }
    let deleted = total - keep;
    Ok((1..=steps as i64).map(|j| total - (deleted * j + steps as i64 / 2) / steps as i64).collect())
}

/// Bytes of `vs` with its weights stored sparse, as compressed sparse rows of the `[rows, rest]`
/// matrices their stored layout gives (first dimension as rows): per non-zero an f32 value and
/// an int32 column index (8 bytes), per matrix `rows + 1` int32 row offsets; every other
/// variable 4 bytes per value (f32). Sparse storage pays for its indices: it beats dense f32
/// only below half the entries.
pub fn csr_store_bytes(vs: &nn::VarStore) -> i64 {
    tch::no_grad(|| {
        vs.variables()
            .values()
            .map(|v| {
                if v.dim() < 2 {
                    return 4 * v.numel() as i64;
                }
                let nonzero = v.ne(0.0).sum(Kind::Int64).int64_value(&[]);
                8 * nonzero + 4 * (v.size()[0] + 1)
            })
            .sum()
    })
}
