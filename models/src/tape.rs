//! Fast gradients of sparse products, by deferring their backward to a tape.
//!
//! libtorch differentiates `M @ D` (M sparse CSR, constant) by computing `M^T @ G` with `M^T` as
//! a CSC view, a path about ten times slower than the forward product on the CPU; on Cora it
//! dominated a training epoch. Inside [`record_sparse_products`], each such product instead
//! returns a fresh leaf tensor and is recorded. [`SparseTape::backward`] backpropagates the loss
//! into those leaves, then walks the records last-first: it computes `M^T @ G` on the CSR kernel
//! with the transpose's layout prepared once, and continues autograd from each product's input.
//! A loss may also read tensors between products (hidden features, for LSP), so segments of the
//! graph are traversed more than once: every pass keeps the graph, which is freed with the
//! tensors at the end of the step. Gradients are the same as plain autograd's (a test checks it).
//!
//! ```
//! use gdistill_models::{record_sparse_products, SparseMatrix};
//! use tch::{Device, Kind, Tensor};
//! let m = SparseMatrix::from_csr(&[0, 2, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], (2, 3), Device::Cpu).unwrap();
//! let w = Tensor::ones([3, 1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
//! let (loss, tape) = record_sparse_products(|| m.matmul(&w).sum(Kind::Float));
//! tape.backward(&loss).unwrap();
//! // d(sum(M w))/dw = M^T 1 = column sums of M
//! assert_eq!(Vec::<f32>::try_from(w.grad().view([-1])).unwrap(), vec![1.0, 3.0, 2.0]);
//! ```

use std::cell::RefCell;

use tch::{Kind, TchError, Tensor};

use crate::SparseMatrix;

/// One recorded product `output = M @ input`.
struct Record {
    input: Tensor,
    output: Tensor,
    transposed: Tensor,
    /// Set when `M`'s values are themselves computed (attention): their gradient is
    /// `G[row] . input[col]` per stored entry (a sampled dense-dense product).
    values: Option<WeightedEntries>,
}

struct WeightedEntries {
    values: Tensor,
    row: Tensor,
    col: Tensor,
}

thread_local! {
    static ACTIVE: RefCell<Option<Vec<Record>>> = const { RefCell::new(None) };
}

/// The deferred backward passes of the sparse products of one forward pass.
#[must_use = "call backward(&loss) instead of loss.backward(), or the gradients stop at the sparse products"]
pub struct SparseTape {
    records: Vec<Record>,
}

/// Runs `forward` with its sparse products recorded on a tape (see the module documentation).
pub fn record_sparse_products<T>(forward: impl FnOnce() -> T) -> (T, SparseTape) {
    let outer = ACTIVE.with(|a| a.borrow_mut().replace(Vec::new()));
    let result = forward();
    let records = ACTIVE.with(|a| std::mem::replace(&mut *a.borrow_mut(), outer)).unwrap_or_default();
    (result, SparseTape { records })
}

/// Records `m @ dense` when a tape is active and `dense` needs a gradient.
pub(crate) fn record(m: &SparseMatrix, dense: &Tensor) -> Option<Tensor> {
    if !dense.requires_grad() {
        return None;
    }
    ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let records = active.as_mut()?;
        let output = tch::no_grad(|| m.csr_product(dense)).set_requires_grad(true);
        records.push(Record {
            input: dense.shallow_clone(),
            output: output.shallow_clone(),
            transposed: m.transposed_csr(),
            values: None,
        });
        Some(output)
    })
}

/// Records `M(values) @ dense` (the pattern of `m` with other values, e.g. attention
/// coefficients) when a tape is active and `values` or `dense` needs a gradient.
pub(crate) fn record_weighted(m: &SparseMatrix, values: &Tensor, dense: &Tensor) -> Option<Tensor> {
    if !values.requires_grad() && !dense.requires_grad() {
        return None;
    }
    ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let records = active.as_mut()?;
        let (values, dense) = (values.shallow_clone(), dense.shallow_clone());
        let output = tch::no_grad(|| m.csr_product_with(&values.detach(), &dense.detach())).set_requires_grad(true);
        records.push(Record {
            transposed: tch::no_grad(|| m.transposed_csr_with(&values.detach())),
            input: dense,
            output: output.shallow_clone(),
            values: Some(WeightedEntries {
                values,
                row: m.row_index().shallow_clone(),
                col: m.col_indices().shallow_clone(),
            }),
        });
        Some(output)
    })
}

impl SparseTape {
    /// Backpropagates `loss` through the recorded forward pass, sparse products included.
    pub fn backward(self, loss: &Tensor) -> Result<(), TchError> {
        backward_keeping_graph(loss)?;
        for record in self.records.iter().rev() {
            let grad = record.output.grad();
            if !grad.defined() {
                continue; // the product did not reach the loss
            }
            // <input, input_grad> has gradient input_grad with respect to input: autograd takes
            // it from here into whatever produced the input (weights, earlier layers, ...).
            let mut surrogate = None;
            if record.input.requires_grad() {
                let input_grad = tch::no_grad(|| record.transposed.mm(&grad));
                surrogate = Some((&record.input * input_grad).sum(Kind::Float));
            }
            if let Some(w) = record.values.as_ref().filter(|w| w.values.requires_grad()) {
                let values_grad = tch::no_grad(|| {
                    let g = grad.index_select(0, &w.row) * record.input.detach().index_select(0, &w.col);
                    g.sum_dim_intlist(-1, false, Kind::Float)
                });
                let term = (&w.values * values_grad).sum(Kind::Float);
                surrogate = Some(match surrogate {
                    Some(s) => s + term,
                    None => term,
                });
            }
            if let Some(surrogate) = surrogate {
                backward_keeping_graph(&surrogate)?;
            }
        }
        Ok(())
    }

    /// Number of recorded products.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// `tensor.backward()` with the graph kept (PyTorch's `retain_graph=True`), which tch's safe API
/// does not offer: the call goes to libtorch's C wrapper that tch itself uses.
fn backward_keeping_graph(tensor: &Tensor) -> Result<(), TchError> {
    // SAFETY: `tensor` is a live tensor for the duration of the call; the wrapper reports
    // failures through its last-error slot, which is read and freed right after.
    unsafe {
        torch_sys::at_backward(tensor.as_ptr() as *mut torch_sys::C_tensor, 1, 0);
        let error = torch_sys::get_and_reset_last_err();
        if error.is_null() {
            return Ok(());
        }
        let message = std::ffi::CStr::from_ptr(error).to_string_lossy().into_owned();
        libc::free(error as *mut libc::c_void);
        Err(TchError::Torch(message))
    }
}
