//! Logits of every node for graphs too big for one forward on the device: layer by layer, in
//! chunks of nodes (the layer-wise inference of GraphSAGE and PyG's `inference` loops).
//!
//! A layer is `H' = A_hat (H W) + b` (GCN) or `H' = H W + b` (MLP). A whole forward holds the
//! features, the adjacency and the layers' outputs on the device together. Here features and
//! adjacency stay on the host: each layer projects chunks of `H`'s rows (`P = H W`, kept on the
//! device, `N x width`), multiplies chunks of `A_hat`'s rows with `P`, and brings the layer's
//! output back to the host. The device never holds more than `P`, one chunk of rows and its
//! output, whatever the number of edges or input features. The result equals the whole forward
//! (tested), up to float summation order.

use gdistill_datasets::NodeDataset;
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{Arch, ModelError, NodeModel, SparseMatrix};
use sprs::CsMat;
use tch::{Device, Kind, Tensor};

/// The model's logits on every node of `dataset` (features as the model was trained on), on
/// the CPU, computed `chunk` nodes at a time on `device`.
pub fn chunked_logits(
    model: &dyn NodeModel,
    dataset: &NodeDataset,
    device: Device,
    chunk: usize,
) -> Result<Tensor, ModelError> {
    if chunk == 0 {
        return Err(ModelError::Config("the chunk size must be at least 1 node".into()));
    }
    let config = model.config();
    if config.in_features != dataset.num_features() as i64 {
        return Err(ModelError::Shape(format!(
            "the model reads {} features but the dataset has {}",
            config.in_features,
            dataset.num_features()
        )));
    }
    let a_hat = match config.arch {
        Arch::Gcn => Some(gcn_normalized_adjacency(&dataset.graph)),
        Arch::Mlp => None,
        other => {
            return Err(ModelError::Config(format!(
                "chunked inference is written for gcn and mlp models, not {other}: \
                 run it on a device that holds the whole graph"
            )))
        }
    };
    let features = dataset.features.to_csr();
    let n = dataset.num_nodes();
    let chunks: Vec<(usize, usize)> = (0..n).step_by(chunk).map(|start| (start, chunk.min(n - start))).collect();
    let (weights, biases) = (model.weights(), model.biases());
    let last = weights.len() - 1;
    tch::no_grad(|| {
        let mut h: Option<Tensor> = None; // the previous layer's output, on the host
        for (k, (w, b)) in weights.iter().zip(&biases).enumerate() {
            let mut projected = Vec::with_capacity(chunks.len());
            for &(start, len) in &chunks {
                let rows = match &h {
                    None => rows_on_device(&features, start, len, device)?.matmul(w),
                    Some(h) => h.narrow(0, start as i64, len as i64).to(device).matmul(w),
                };
                projected.push(rows);
            }
            let projected = Tensor::cat(&projected, 0);
            let mut out = Vec::with_capacity(chunks.len());
            for &(start, len) in &chunks {
                let mut z = match &a_hat {
                    Some(a) => rows_on_device(a, start, len, device)?.matmul(&projected),
                    None => projected.narrow(0, start as i64, len as i64),
                } + *b;
                if k < last {
                    z = z.relu();
                }
                out.push(z.to_device(Device::Cpu));
            }
            h = Some(Tensor::cat(&out, 0));
        }
        Ok(h.expect("a model has at least one layer").to_kind(Kind::Float))
    })
}

/// Rows `start..start + len` of a host CSR matrix, as a sparse matrix on `device`.
fn rows_on_device(m: &CsMat<f32>, start: usize, len: usize, device: Device) -> Result<SparseMatrix, ModelError> {
    let view = m.slice_outer(start..start + len);
    let indptr = view.indptr().to_proper().into_owned();
    SparseMatrix::from_csr(&indptr, view.indices(), view.data(), (len, m.cols()), device)
}
