//! Vector quantisation (van den Oord et al. 2017, VQ-VAE), as VQGraph's tokenizer uses it:
//! each encoder output `z_i` is replaced by its nearest code `e_k` of the codebook (squared
//! Euclidean distance), the gradient passed straight through from the quantised output to
//! `z_i`, the codebook pulled towards the outputs (`||sg[z] - e||^2`) and the outputs held to
//! their codes (`beta * ||z - sg[e]||^2`, the commitment loss). Both losses are means over the
//! entries (nodes and dimensions), as VQ-VAE implementations compute them (`mse_loss`): summed
//! over 128 dimensions instead, the commitment loss outweighed the teacher's cross-entropy
//! (one Cora seed under `--protocol glnn`: the tokenizer's teacher at 0.668 test, 0.722 without
//! the commitment loss, against 0.749 for the plain teacher).
//!
//! ```
//! use gdistill_distill::students::vqgraph::quantize;
//! use tch::Tensor;
//! let codebook = Tensor::from_slice(&[0.0f32, 0.0, 10.0, 10.0]).view([2, 2]);
//! let z = Tensor::from_slice(&[1.0f32, 2.0, 9.0, 8.0, 6.0, 6.0]).view([3, 2]);
//! let q = quantize(&z, &codebook, 0.25);
//! assert_eq!(Vec::<i64>::try_from(&q.codes).unwrap(), [0, 1, 1]);
//! // The forward value is the code; the codebook loss is the mean squared difference to it:
//! // (1 + 4) + (1 + 4) + (16 + 16), over 3 nodes of 2 dimensions.
//! assert_eq!(Vec::<f32>::try_from(q.quantized.get(0)).unwrap(), [0.0, 0.0]);
//! assert_eq!(q.codebook_loss.double_value(&[]), 7.0);
//! assert_eq!(q.commitment_loss.double_value(&[]), 1.75);
//! ```

use tch::{Reduction, Tensor};

/// `[N, K]`: `||z_i - e_k||^2` for every output `z_i` (`[N, D]`) and code `e_k` (`[K, D]`),
/// as `||z||^2 - 2 z.e + ||e||^2` (clamped at 0 against rounding).
pub fn squared_distances(z: &Tensor, codebook: &Tensor) -> Tensor {
    let z_sq = z.square().sum_dim_intlist(1, true, z.kind());
    let e_sq = codebook.square().sum_dim_intlist(1, false, codebook.kind()).unsqueeze(0);
    (z_sq - z.matmul(&codebook.tr()) * 2.0 + e_sq).clamp_min(0.0)
}

/// The index of each output's nearest code (`[N]`, the lowest index on ties).
pub fn nearest_codes(z: &Tensor, codebook: &Tensor) -> Tensor {
    tch::no_grad(|| squared_distances(z, codebook).argmin(1, false))
}

/// One quantisation of a batch of outputs.
#[derive(Debug)]
pub struct Quantized {
    /// Each output's code (`[N]`).
    pub codes: Tensor,
    /// `z + sg[e - z]`: the codes' values forward, the identity backward (straight-through).
    pub quantized: Tensor,
    /// `mean_i ||sg[z_i] - e_i||^2 / D`: moves the codes only.
    pub codebook_loss: Tensor,
    /// `beta * mean_i ||z_i - sg[e_i]||^2 / D`: moves the encoder only.
    pub commitment_loss: Tensor,
}

/// Quantises `z` (`[N, D]`) against `codebook` (`[K, D]`); `beta` weighs the commitment loss.
/// Squared differences are averaged over the `N x D` entries.
pub fn quantize(z: &Tensor, codebook: &Tensor, beta: f64) -> Quantized {
    let codes = nearest_codes(z, codebook);
    let chosen = codebook.index_select(0, &codes);
    let codebook_loss = z.detach().mse_loss(&chosen, Reduction::Mean);
    let commitment_loss = z.mse_loss(&chosen.detach(), Reduction::Mean) * beta;
    let quantized = z + (&chosen - z).detach();
    Quantized { codes, quantized, codebook_loss, commitment_loss }
}
