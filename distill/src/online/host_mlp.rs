//! The graph-less student's serving path for a few nodes on the CPU: the MLP's dense layers in
//! plain Rust, reading the weights and features where libtorch keeps them.
//!
//! For one node, a 128-64-10 MLP is about 9 000 multiply-adds, well under a microsecond, while
//! each libtorch call costs about 2 us of dispatch: the libtorch forward (gather, two products,
//! two bias additions, a ReLU, the narrowing) took 11 us, nearly all of it overhead; this path
//! takes about 1.7 us, a third of it creating the output tensor. Larger batches go to libtorch,
//! whose matrix products win once there is work to share out.

use tch::{Device, Kind, Tensor};

/// At most this many query rows take the host path.
pub(super) const HOST_MAX_ROWS: usize = 16;

/// One input row of the first layer: dense, or the nonzeros of a sparse row.
pub(super) enum HostRow<'a> {
    Dense(&'a [f32]),
    Sparse { columns: &'a [usize], values: &'a [f32] },
}

/// The contents and shape of a contiguous f32 CPU tensor, or None where it is anything else.
pub(super) fn host_slice(t: &Tensor) -> Option<(&[f32], Vec<i64>)> {
    if t.device() != Device::Cpu || t.kind() != Kind::Float || !t.is_contiguous() {
        return None;
    }
    let shape = t.size();
    let len = shape.iter().product::<i64>() as usize;
    // SAFETY: a contiguous CPU float tensor holds its shape's product of f32 values from
    // `data_ptr`, and the borrow of `t` keeps its storage alive; nothing writes to a model's
    // weights or the stored features while they serve.
    Some((unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, len) }, shape))
}

/// A dense layer `x @ W + b`, `W` stored `[in, out]` row-major.
struct HostLayer<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    outputs: usize,
}

/// Outputs computed together, their sums kept in registers while the input is read once.
const BLOCK: usize = 32;

impl HostLayer<'_> {
    /// `out = input @ W + b`.
    fn forward(&self, input: &HostRow, out: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.forward_avx2(input, out) };
        }
        self.forward_portable(input, out)
    }

    /// The same code, compiled for AVX2 (eight lanes instead of SSE2's four).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2(&self, input: &HostRow, out: &mut Vec<f32>) {
        self.forward_portable(input, out)
    }

    #[inline(always)]
    fn forward_portable(&self, input: &HostRow, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(self.bias);
        match input {
            HostRow::Dense(x) => self.accumulate(x.iter().copied().enumerate(), out),
            HostRow::Sparse { columns, values } => self.accumulate(columns.iter().copied().zip(values.iter().copied()), out),
        }
    }

    /// `out += sum over (i, v) of v * W[i, :]`, a block of outputs at a time, so that a block's
    /// sums stay in registers while the input is read.
    #[inline(always)]
    fn accumulate(&self, entries: impl Iterator<Item = (usize, f32)> + Clone, out: &mut [f32]) {
        let n = self.outputs;
        let mut start = 0;
        while start + BLOCK <= n {
            let mut sums = [0f32; BLOCK];
            sums.copy_from_slice(&out[start..start + BLOCK]);
            for (i, v) in entries.clone() {
                let w = &self.weight[i * n + start..i * n + start + BLOCK];
                for k in 0..BLOCK {
                    sums[k] += v * w[k];
                }
            }
            out[start..start + BLOCK].copy_from_slice(&sums);
            start += BLOCK;
        }
        if start < n {
            let tail = &mut out[start..];
            for (i, v) in entries {
                let w = &self.weight[i * n + start..(i + 1) * n];
                tail.iter_mut().zip(w).for_each(|(s, &w)| *s += v * w);
            }
        }
    }
}

/// Asks for a dense row's cache lines now: a stored feature row is rarely in cache, and its
/// loads then overlap the checks below instead of stalling the first product.
fn prefetch(row: &HostRow) {
    #[cfg(target_arch = "x86_64")]
    if let HostRow::Dense(x) = row {
        for line in x.chunks(16) {
            // SAFETY: a prefetch only hints the cache; the address lies inside `x`.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) }
        }
    }
}

/// The logits of `rows` through an MLP given by its `[in, out]` weights and biases (ReLU between
/// layers; dropout is off in evaluation), row after row; None where a tensor is not a contiguous
/// f32 CPU tensor of the expected shape, or a row does not fit the first layer.
pub(super) fn host_mlp_logits(weights: &[&Tensor], biases: &[&Tensor], rows: &[HostRow]) -> Option<Tensor> {
    rows.iter().for_each(prefetch);
    if weights.len() != biases.len() {
        return None;
    }
    let mut layers = Vec::with_capacity(weights.len());
    let (mut expected_inputs, mut first_inputs) = (None, None);
    for (w, b) in weights.iter().zip(biases) {
        let ((weight, shape), (bias, _)) = (host_slice(w)?, host_slice(b)?);
        let [inputs, outputs] = shape[..] else { return None };
        let (inputs, outputs) = (inputs as usize, outputs as usize);
        if expected_inputs.is_some_and(|i| i != inputs) || bias.len() != outputs {
            return None;
        }
        first_inputs.get_or_insert(inputs);
        expected_inputs = Some(outputs);
        layers.push(HostLayer { weight, bias, outputs });
    }
    let first_inputs = first_inputs?;
    let fits = |row: &HostRow| match row {
        HostRow::Dense(x) => x.len() == first_inputs,
        HostRow::Sparse { columns, values } => columns.len() == values.len() && columns.iter().all(|&c| c < first_inputs),
    };
    if !rows.iter().all(fits) {
        return None;
    }
    let classes = layers.last()?.outputs;
    let mut logits = Vec::with_capacity(rows.len() * classes);
    let (mut h, mut next) = (Vec::new(), Vec::new());
    for row in rows {
        layers[0].forward(row, &mut h);
        for layer in &layers[1..] {
            h.iter_mut().for_each(|v| *v = v.max(0.0));
            layer.forward(&HostRow::Dense(&h), &mut next);
            std::mem::swap(&mut h, &mut next);
        }
        logits.extend_from_slice(&h);
    }
    let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_ne_bytes()).collect();
    Some(Tensor::from_data_size(&bytes, &[rows.len() as i64, classes as i64], Kind::Float))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).view(shape)
    }

    /// A 3-2-2 MLP worked by hand: h = relu(x W0 + b0), logits = h W1 + b1.
    #[test]
    fn matches_a_hand_computed_forward() {
        let w0 = t(&[1.0, -1.0, 2.0, 0.5, 0.0, 3.0], &[3, 2]);
        let b0 = t(&[0.5, -4.0], &[2]);
        let w1 = t(&[1.0, 2.0, -1.0, 1.0], &[2, 2]);
        let b1 = t(&[0.0, 1.0], &[2]);
        // x = [1, 2, 0]: x W0 + b0 = [1 + 4 + 0.5, -1 + 1 - 4] = [5.5, -4], relu [5.5, 0]
        // logits = [5.5, 11] + [0, 1] = [5.5, 12]
        let dense = [1.0, 2.0, 0.0];
        // the sparse row {2: 1}: x W0 + b0 = [0.5, -1], relu [0.5, 0], logits [0.5, 2]
        let rows = [HostRow::Dense(&dense), HostRow::Sparse { columns: &[2], values: &[1.0] }];
        let logits = host_mlp_logits(&[&w0, &w1], &[&b0, &b1], &rows).unwrap();
        assert_eq!(logits.size(), [2, 2]);
        let got: Vec<f32> = Vec::try_from(logits.flatten(0, 1)).unwrap();
        assert_eq!(got, [5.5, 12.0, 0.5, 2.0]);
    }

    /// Anything the host path cannot read is left to libtorch: None, never a wrong answer.
    #[test]
    fn declines_what_it_cannot_read() {
        let w = t(&[1.0; 6], &[3, 2]);
        let b = t(&[0.0; 2], &[2]);
        let row = [1.0f32; 3];
        let rows = [HostRow::Dense(&row)];
        assert!(host_mlp_logits(&[&w], &[&b], &rows).is_some());
        let transposed = t(&[1.0; 6], &[2, 3]).tr();
        assert!(host_mlp_logits(&[&transposed], &[&b], &rows).is_none(), "not contiguous");
        let double = w.to_kind(Kind::Double);
        assert!(host_mlp_logits(&[&double], &[&b], &rows).is_none(), "not f32");
        assert!(host_mlp_logits(&[&w], &[&t(&[0.0; 3], &[3])], &rows).is_none(), "bias width");
        assert!(host_mlp_logits(&[&w, &w], &[&b, &b], &rows).is_none(), "layer widths do not chain");
        assert!(host_mlp_logits(&[&w], &[], &rows).is_none(), "a bias missing");
        assert!(host_mlp_logits(&[&w], &[&b], &[HostRow::Dense(&[1.0; 4])]).is_none(), "row width");
        let far = HostRow::Sparse { columns: &[3], values: &[1.0] };
        assert!(host_mlp_logits(&[&w], &[&b], &[far]).is_none(), "column outside the layer");
    }
}
