//! int8 post-training quantization of node classifiers: the compression that keeps the
//! architecture and lowers the bits per parameter, beside distillation and pruning.
//!
//! - Weights: per output channel (each column of a `[in, out]` matrix), symmetric int8,
//!   `scale_c = max_i |w_ic| / 127`, `q = round(w / scale_c)` in `[-127, 127]`; stored as int8
//!   with one f32 scale per channel. Round-trip error is at most `scale_c / 2`.
//! - Activations (each layer's input: the features, then every hidden ReLU output): per tensor,
//!   asymmetric uint8, `scale = (max - min) / 255`, `zero = round(-min / scale)`, with `min <= 0 <=
//!   max` calibrated on the float model's activations over the nodes training reads (every node
//!   of the observed graph; no label is read).
//! - Biases stay f32 (as libtorch's quantized linear keeps them).
//!
//! Inference is *simulated*: every weight and activation is rounded to its int8 grid and
//! dequantized (quantize-dequantize), and the products run in f32. tch 0.24's generated API
//! reaches libtorch's quantized storage (`quantize_per_channel`, `int_repr`, `dequantize`) and a
//! per-tensor fbgemm linear (`_wrapped_linear_prepack`), but not the per-channel
//! `quantized::linear` operators, and the products these models are made of are sparse
//! (`X @ W` on Cora's CSR features, `A_hat @ H`) where libtorch has no int8 kernel at all. So
//! the accuracy and the weight bytes are those of an int8 model; the latency is an f32 model's
//! plus the rounding, not an int8 kernel's.
//!
//! ```
//! use gdistill_distill::quantize::QuantizedWeight;
//! use tch::Tensor;
//! let w = Tensor::from_slice(&[0.5f32, -2.0, 1.0, 0.25]).view([2, 2]);
//! let q = QuantizedWeight::per_output_channel(&w);
//! // column 0: max |w| = 1.0; column 1: 2.0
//! assert_eq!(Vec::<f32>::try_from(&q.scales).unwrap(), vec![1.0 / 127.0, 2.0 / 127.0]);
//! assert_eq!(Vec::<i8>::try_from(&q.values.view([-1])).unwrap(), vec![64, -127, 127, 16]);
//! ```

use gdistill_models::{Arch, ModelConfig, ModelOutput, NodeFeatures, NodeModel, SparseMatrix};
use tch::{Kind, Tensor};

use crate::GraphData;

/// An int8 weight matrix `[in, out]` with one scale per output column.
#[derive(Debug)]
pub struct QuantizedWeight {
    /// int8, `[in, out]`.
    pub values: Tensor,
    /// f32, `[out]`.
    pub scales: Tensor,
}

impl QuantizedWeight {
    /// Symmetric per-output-channel quantization of a `[in, out]` weight matrix.
    pub fn per_output_channel(weight: &Tensor) -> QuantizedWeight {
        tch::no_grad(|| {
            let w = weight.to_kind(Kind::Float);
            let max_abs = w.abs().amax([0i64].as_slice(), false);
            // An all-zero column (pruned) keeps scale 1: its values are exactly zero either way.
            let scales = (max_abs.clamp_min(f32::MIN_POSITIVE as f64) / 127.0)
                .where_self(&max_abs.gt(0.0), &max_abs.ones_like());
            let values = (&w / &scales).round().clamp(-127.0, 127.0).to_kind(Kind::Int8);
            QuantizedWeight { values, scales }
        })
    }

    /// The f32 matrix the int8 values stand for.
    pub fn dequantize(&self) -> Tensor {
        self.values.to_kind(Kind::Float) * &self.scales
    }

    /// Bytes stored: one per weight, four per channel scale.
    pub fn bytes(&self) -> i64 {
        self.values.numel() as i64 + 4 * self.scales.numel() as i64
    }
}

/// Per-tensor asymmetric uint8 quantization of an activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationQuant {
    pub scale: f64,
    pub zero_point: i64,
}

impl ActivationQuant {
    /// The grid covering `[min, max]` widened to hold zero (so that zero is exact).
    pub fn calibrate(min: f64, max: f64) -> ActivationQuant {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let scale = if max > min { (max - min) / 255.0 } else { 1.0 };
        let zero_point = ((-min / scale).round() as i64).clamp(0, 255);
        ActivationQuant { scale, zero_point }
    }

    /// The grid covering every value of `x`.
    pub fn calibrate_on(x: &Tensor) -> ActivationQuant {
        if x.numel() == 0 {
            return ActivationQuant::calibrate(0.0, 0.0);
        }
        ActivationQuant::calibrate(x.min().double_value(&[]), x.max().double_value(&[]))
    }

    /// Quantize-dequantize: `(clamp(round(x / s) + z, 0, 255) - z) * s`.
    pub fn fake_quant(&self, x: &Tensor) -> Tensor {
        let z = self.zero_point as f64;
        (((x / self.scale).round() + z).clamp(0.0, 255.0) - z) * self.scale
    }

    fn features(&self, x: &NodeFeatures) -> NodeFeatures {
        match x {
            NodeFeatures::Dense(x) => NodeFeatures::Dense(self.fake_quant(x)),
            NodeFeatures::Sparse(x) => NodeFeatures::Sparse(x.with_values(self.fake_quant(x.values()))),
        }
    }
}

fn feature_values(x: &NodeFeatures) -> Tensor {
    match x {
        NodeFeatures::Dense(x) => x.shallow_clone(),
        NodeFeatures::Sparse(x) => x.values().shallow_clone(),
    }
}

struct Int8Layer {
    weight: QuantizedWeight,
    /// The dequantized weight, kept to avoid redoing it on every pass.
    weight_f32: Tensor,
    bias: Tensor,
    input: ActivationQuant,
}

/// A GCN or MLP with int8 weights and uint8 activations, simulated ([module docs](self)).
/// Inference only: `forward_t` ignores `train` (no dropout).
pub struct Int8Model {
    config: ModelConfig,
    layers: Vec<Int8Layer>,
}

/// The families whose forward pass [`Int8Model`] reproduces.
pub fn supports(arch: Arch) -> bool {
    matches!(arch, Arch::Gcn | Arch::Mlp)
}

impl Int8Model {
    /// Quantizes `model`, calibrating its activations on its own f32 forward pass over `data`.
    pub fn quantize(model: &dyn NodeModel, data: &GraphData) -> Result<Int8Model, String> {
        let config = model.config().clone();
        if !supports(config.arch) {
            return Err(format!("int8 rows quantize GCN and MLP models, not {}", config.arch));
        }
        let (weights, biases) = (model.weights(), model.biases());
        if weights.len() != biases.len() || weights.iter().any(|w| w.dim() != 2) {
            return Err("int8: expected one [in, out] weight and one bias per layer".into());
        }
        tch::no_grad(|| {
            let out = model.forward_t(&data.features, &data.a_hat, false);
            let mut inputs = vec![ActivationQuant::calibrate_on(&feature_values(&data.features))];
            inputs.extend(out.hidden.iter().map(ActivationQuant::calibrate_on));
            if inputs.len() != weights.len() {
                return Err(format!("int8: {} layers but {} layer inputs", weights.len(), inputs.len()));
            }
            let layers = weights
                .iter()
                .zip(&biases)
                .zip(inputs)
                .map(|((w, b), input)| {
                    let weight = QuantizedWeight::per_output_channel(w);
                    let weight_f32 = weight.dequantize();
                    Int8Layer { weight, weight_f32, bias: b.detach().copy(), input }
                })
                .collect();
            Ok(Int8Model { config, layers })
        })
    }

    /// Bytes of the stored model: int8 weights with their channel scales, f32 biases, and each
    /// layer's activation scale and zero point (4 bytes each).
    pub fn weight_bytes(&self) -> i64 {
        self.layers.iter().map(|l| l.weight.bytes() + 4 * l.bias.numel() as i64 + 8).sum()
    }

    fn layer(&self, layer: &Int8Layer, x: &NodeFeatures, a_hat: &SparseMatrix) -> Tensor {
        let projected = match layer.input.features(x) {
            NodeFeatures::Dense(x) => x.matmul(&layer.weight_f32),
            NodeFeatures::Sparse(x) => x.matmul(&layer.weight_f32),
        };
        let aggregated = if self.config.arch == Arch::Gcn { a_hat.matmul(&projected) } else { projected };
        aggregated + &layer.bias
    }
}

/// Bytes of a model's weights and biases stored as f32.
pub fn f32_bytes(model: &dyn NodeModel) -> i64 {
    let numel: usize = model.weights().iter().chain(model.biases().iter()).map(|t| t.numel()).sum();
    4 * numel as i64
}

impl NodeModel for Int8Model {
    fn forward_t(&self, x: &NodeFeatures, a_hat: &SparseMatrix, _train: bool) -> ModelOutput {
        let (first, rest) = self.layers.split_first().expect("a model has at least one layer");
        let mut h = self.layer(first, x, a_hat);
        let mut hidden = Vec::with_capacity(rest.len());
        for layer in rest {
            let z = h.relu();
            h = self.layer(layer, &NodeFeatures::Dense(z.shallow_clone()), a_hat);
            hidden.push(z);
        }
        ModelOutput { logits: h, hidden }
    }

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn weights(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.weight_f32).collect()
    }

    fn biases(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.bias).collect()
    }
}

/// A comparison row's int8 model, its stored bytes and the seconds quantization took.
pub struct Quantized {
    pub model: Box<dyn NodeModel>,
    pub weight_bytes: i64,
    pub seconds: f64,
}

/// `trained` quantized, or, for an ensemble teacher, every member quantized and combined as
/// the ensemble combines them.
pub fn quantize_row(
    trained: &crate::Trained,
    ensemble: Option<&crate::transfer::ensemble::Ensemble>,
    data: &GraphData,
) -> Result<Quantized, crate::TrainError> {
    let start = std::time::Instant::now();
    let (model, weight_bytes): (Box<dyn NodeModel>, i64) = match ensemble {
        None => {
            let model = Int8Model::quantize(trained.model.as_ref(), data).map_err(crate::TrainError::Config)?;
            let bytes = model.weight_bytes();
            (Box::new(model), bytes)
        }
        Some(ensemble) => {
            let mut bytes = 0;
            let mut members: Vec<Box<dyn NodeModel>> = Vec::new();
            for member in ensemble.members() {
                let model = Int8Model::quantize(member.as_ref(), data).map_err(crate::TrainError::Config)?;
                bytes += model.weight_bytes();
                members.push(Box::new(model));
            }
            (Box::new(crate::transfer::ensemble::Ensemble::new(members, ensemble.combine())), bytes)
        }
    };
    Ok(Quantized { model, weight_bytes, seconds: start.elapsed().as_secs_f64() })
}
