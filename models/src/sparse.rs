//! Constant sparse matrices on a device: normalised adjacencies and sparse input features.
//!
//! A [`SparseMatrix`] is held once on the device in CSR form, with its transpose's layout kept
//! beside it, so that both `M @ D` and `M^T @ D` run on the fast CSR kernel.
//!
//! ```
//! use gdistill_models::SparseMatrix;
//! use tch::{Device, Kind, Tensor};
//! // [[1, 0, 2], [0, 3, 0]]
//! let m = SparseMatrix::from_csr(&[0, 2, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], (2, 3), Device::Cpu).unwrap();
//! let d = Tensor::ones([3, 1], (Kind::Float, Device::Cpu));
//! let y = m.matmul(&d);
//! assert_eq!(Vec::<f32>::try_from(y.view([-1])).unwrap(), vec![3.0, 3.0]);
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use tch::{Device, Kind, Tensor};

use crate::{tape, ModelError};

/// A constant sparse `rows x cols` matrix (CSR) on one device.
#[derive(Debug)]
pub struct SparseMatrix {
    rows: i64,
    cols: i64,
    crow: Tensor,
    col: Tensor,
    values: Tensor,
    // M^T in CSR: its row pointer, column indices, and where each of its values sits in `values`.
    t_crow: Tensor,
    t_col: Tensor,
    t_perm: Tensor,
    csr: Tensor,
    // Operators other layer families derive from this one's pattern, built on first use (PyG's
    // `cached=True`): a graph is built once and read every epoch.
    row: OnceLock<Tensor>,
    neighbour_mean: OnceLock<Box<SparseMatrix>>,
    self_and_neighbour_mean: OnceLock<Box<SparseMatrix>>,
    block_diagonals: Mutex<Vec<(i64, Arc<SparseMatrix>)>>,
}

impl SparseMatrix {
    /// Builds from CSR arrays (row pointer of `rows + 1` entries, column indices, values).
    pub fn from_csr(
        indptr: &[usize],
        indices: &[usize],
        values: &[f32],
        (rows, cols): (usize, usize),
        device: Device,
    ) -> Result<SparseMatrix, ModelError> {
        if indptr.len() != rows + 1 || indices.len() != values.len() || indptr.last() != Some(&indices.len()) {
            return Err(ModelError::Shape(format!(
                "CSR arrays do not describe a {rows} x {cols} matrix (indptr {}, indices {}, values {})",
                indptr.len(),
                indices.len(),
                values.len()
            )));
        }
        if let Some(&bad) = indices.iter().find(|&&j| j >= cols) {
            return Err(ModelError::Shape(format!("column index {bad} outside 0..{cols}")));
        }
        // Transpose by counting sort over columns: stable, so rows stay sorted within each column.
        let mut t_indptr = vec![0usize; cols + 1];
        for &j in indices {
            t_indptr[j + 1] += 1;
        }
        for j in 0..cols {
            t_indptr[j + 1] += t_indptr[j];
        }
        let mut next = t_indptr.clone();
        let mut t_indices = vec![0i64; indices.len()];
        let mut t_perm = vec![0i64; indices.len()];
        for i in 0..rows {
            for k in indptr[i]..indptr[i + 1] {
                let slot = next[indices[k]];
                t_indices[slot] = i as i64;
                t_perm[slot] = k as i64;
                next[indices[k]] += 1;
            }
        }
        let long = |v: &[usize]| Tensor::from_slice(&v.iter().map(|&x| x as i64).collect::<Vec<_>>()).to(device);
        let crow = long(indptr);
        let col = long(indices);
        let values = Tensor::from_slice(values).to(device);
        let csr = csr_tensor(&crow, &col, &values, rows as i64, cols as i64);
        Ok(SparseMatrix {
            rows: rows as i64,
            cols: cols as i64,
            crow,
            col,
            values,
            t_crow: long(&t_indptr),
            t_col: Tensor::from_slice(&t_indices).to(device),
            t_perm: Tensor::from_slice(&t_perm).to(device),
            csr,
            row: OnceLock::new(),
            neighbour_mean: OnceLock::new(),
            self_and_neighbour_mean: OnceLock::new(),
            block_diagonals: Mutex::default(),
        })
    }

    /// Builds from CSR arrays already on a device (int64 row pointer and column indices, float
    /// values), with the transpose's layout computed there too: no host round trip. The caller
    /// vouches for the arrays (this is how operators derived from a checked matrix are built).
    pub fn from_csr_tensors(crow: Tensor, col: Tensor, values: Tensor, rows: i64, cols: i64) -> SparseMatrix {
        let counts = crow.diff(1, 0, None::<Tensor>, None::<Tensor>);
        let row = Tensor::arange(rows, (Kind::Int64, crow.device())).repeat_interleave_self_tensor(&counts, 0, None);
        // A stable sort by column keeps each column's rows in order, as the host transpose does.
        let t_perm = col.argsort_stable(true, 0, false);
        let t_counts = col.bincount(None::<Tensor>, cols);
        let t_crow =
            Tensor::cat(&[Tensor::zeros([1], (Kind::Int64, col.device())), t_counts.cumsum(0, Kind::Int64)], 0);
        let csr = csr_tensor(&crow, &col, &values, rows, cols);
        SparseMatrix {
            rows,
            cols,
            t_col: row.index_select(0, &t_perm),
            crow,
            col,
            values,
            t_crow,
            t_perm,
            csr,
            row: OnceLock::from(row),
            neighbour_mean: OnceLock::new(),
            self_and_neighbour_mean: OnceLock::new(),
            block_diagonals: Mutex::default(),
        }
    }

    /// Builds from a `sprs` matrix (CSR or CSC).
    pub fn from_sprs(m: &sprs::CsMat<f32>, device: Device) -> Result<SparseMatrix, ModelError> {
        let csr = if m.is_csr() { m.clone() } else { m.to_csr() };
        let indptr = csr.indptr().to_proper().to_vec();
        SparseMatrix::from_csr(&indptr, csr.indices(), csr.data(), (csr.rows(), csr.cols()), device)
    }

    /// The `n x n` matrix with no entries: the graph handed to a graph-less model, which never
    /// reads it.
    pub fn empty(n: usize, device: Device) -> Result<SparseMatrix, ModelError> {
        SparseMatrix::from_csr(&vec![0; n + 1], &[], &[], (n, n), device)
    }

    pub fn rows(&self) -> i64 {
        self.rows
    }

    pub fn cols(&self) -> i64 {
        self.cols
    }

    pub fn nnz(&self) -> i64 {
        self.values.size()[0]
    }

    pub fn device(&self) -> Device {
        self.values.device()
    }

    /// The stored values, in CSR order.
    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// `M @ dense`, differentiable with respect to `dense`.
    ///
    /// Inside [`crate::record_sparse_products`] the product's backward is deferred to the tape, which
    /// runs it on the transposed CSR kernel; elsewhere it is plain autograd.
    pub fn matmul(&self, dense: &Tensor) -> Tensor {
        match tape::record(self, dense) {
            Some(output) => output,
            None => self.csr.mm(dense),
        }
    }

    /// `M @ dense` by libtorch's CSR product, never recorded.
    pub(crate) fn csr_product(&self, dense: &Tensor) -> Tensor {
        self.csr.mm(dense)
    }

    /// `M(values) @ dense`: this pattern with other values (one per stored entry, CSR order),
    /// differentiable with respect to both. Recorded on the tape inside
    /// [`crate::record_sparse_products`] (fast CSR backward); without gradients it is one CSR
    /// product; otherwise it runs on the edge list (gather, scale, scatter-add), which autograd
    /// differentiates twice (Hessian-vector products need that).
    pub fn matmul_with_values(&self, values: &Tensor, dense: &Tensor) -> Tensor {
        if let Some(output) = tape::record_weighted(self, values, dense) {
            return output;
        }
        if !values.requires_grad() && !dense.requires_grad() {
            return self.csr_product_with(values, dense);
        }
        let messages = dense.index_select(0, &self.col) * values.unsqueeze(-1);
        Tensor::zeros([self.rows, dense.size()[1]], (messages.kind(), messages.device())).index_add(
            0,
            self.row_index(),
            &messages,
        )
    }

    /// `M(values) @ dense` by the CSR kernel, never recorded.
    pub(crate) fn csr_product_with(&self, values: &Tensor, dense: &Tensor) -> Tensor {
        csr_tensor(&self.crow, &self.col, values, self.rows, self.cols).mm(&dense.contiguous())
    }

    /// `M(values)^T` as a CSR tensor.
    pub(crate) fn transposed_csr_with(&self, values: &Tensor) -> Tensor {
        csr_tensor(&self.t_crow, &self.t_col, &values.index_select(0, &self.t_perm), self.cols, self.rows)
    }

    /// `M^T` as a CSR tensor.
    pub(crate) fn transposed_csr(&self) -> Tensor {
        let t_values = self.values.index_select(0, &self.t_perm);
        csr_tensor(&self.t_crow, &self.t_col, &t_values, self.cols, self.rows)
    }

    /// `M^T @ dense`, on the CSR kernel (no transposition at call time).
    pub fn matmul_transposed(&self, dense: &Tensor) -> Tensor {
        self.transposed_csr().mm(dense)
    }

    /// The same sparsity pattern with other values (e.g. dropout applied to the stored entries).
    pub fn with_values(&self, values: Tensor) -> SparseMatrix {
        SparseMatrix {
            rows: self.rows,
            cols: self.cols,
            crow: self.crow.shallow_clone(),
            col: self.col.shallow_clone(),
            csr: csr_tensor(&self.crow, &self.col, &values, self.rows, self.cols),
            values,
            t_crow: self.t_crow.shallow_clone(),
            t_col: self.t_col.shallow_clone(),
            t_perm: self.t_perm.shallow_clone(),
            row: self.row.get().map_or_else(OnceLock::new, |r| OnceLock::from(r.shallow_clone())),
            neighbour_mean: OnceLock::new(),
            self_and_neighbour_mean: OnceLock::new(),
            block_diagonals: Mutex::default(),
        }
    }

    /// Dense copy (for tests and small matrices).
    pub fn to_dense(&self) -> Tensor {
        self.csr.to_dense(None, false)
    }

    /// Row indices of the stored entries, in CSR order (for edge-list computations).
    pub fn row_indices(&self) -> Tensor {
        self.row_index().shallow_clone()
    }

    /// Row indices of the stored entries, computed once.
    pub(crate) fn row_index(&self) -> &Tensor {
        self.row.get_or_init(|| {
            let counts = self.crow.diff(1, 0, None::<Tensor>, None::<Tensor>);
            Tensor::arange(self.rows, (Kind::Int64, self.device())).repeat_interleave_self_tensor(&counts, 0, None)
        })
    }

    /// The mean over each row's off-diagonal entries: for the graph's `A_hat` (pattern `A + I`)
    /// this is GraphSAGE's mean aggregator, `(M X)_i = mean_{j in N(i)} x_j`, self excluded; a
    /// node without neighbours gets a zero row (PyTorch Geometric's mean of nothing). For a
    /// sampled block (destinations a prefix of sources) "diagonal" is destination `k` = source
    /// `k`, the node itself. Built on first use and kept.
    pub fn neighbour_mean(&self) -> &SparseMatrix {
        self.neighbour_mean.get_or_init(|| {
            let (row, col) = self.off_diagonal_entries();
            Box::new(self.row_mean(row, col))
        })
    }

    /// The row and column indices of the stored off-diagonal entries, in CSR order.
    fn off_diagonal_entries(&self) -> (Tensor, Tensor) {
        let rows = self.row_index();
        let off_diagonal = rows.ne_tensor(&self.col);
        (rows.masked_select(&off_diagonal), self.col.masked_select(&off_diagonal))
    }

    /// The `rows x cols` matrix with the entries `(row, col)` (CSR order), each row's values
    /// `1 / its entry count`; an empty row stays empty.
    fn row_mean(&self, row: Tensor, col: Tensor) -> SparseMatrix {
        let counts = row.bincount(None::<Tensor>, self.rows);
        let values = counts.to_kind(Kind::Float).clamp_min(1.0).reciprocal().index_select(0, &row);
        let crow = Tensor::cat(&[Tensor::zeros([1], (Kind::Int64, counts.device())), counts.cumsum(0, Kind::Int64)], 0);
        SparseMatrix::from_csr_tensors(crow, col, values, self.rows, self.cols)
    }

    /// The mean over each row's node and its off-diagonal entries, `(M X)_i = (x_i + sum_{j in
    /// N(i)} x_j) / (|N(i)| + 1)`: GraphSAGE's GCN aggregator (Hamilton et al. 2017, eq. 2; DGL's
    /// `SAGEConv(..., "gcn")`). The node counts once whether or not the pattern stores its
    /// diagonal, so a node without neighbours keeps its own row. Needs `rows <= cols` (a graph, or
    /// a sampled block whose destinations are a prefix of its sources). Built on first use and kept.
    pub fn self_and_neighbour_mean(&self) -> &SparseMatrix {
        self.self_and_neighbour_mean.get_or_init(|| {
            assert!(self.rows <= self.cols, "a self-inclusive mean needs each row's node among the columns");
            let (row, col) = self.off_diagonal_entries();
            let nodes = Tensor::arange(self.rows, (Kind::Int64, self.device()));
            let row = Tensor::cat(&[row, nodes.shallow_clone()], 0);
            let col = Tensor::cat(&[col, nodes], 0);
            // CSR order: by row, then column.
            let order = (&row * self.cols + &col).argsort_stable(true, 0, false);
            Box::new(self.row_mean(row.index_select(0, &order), col.index_select(0, &order)))
        })
    }

    /// `heads` copies of this pattern down the diagonal, `heads * rows x heads * cols`: block
    /// `h` holds head `h`'s entries, so one product aggregates every attention head (one tape
    /// record and one backward pass instead of `heads`). Its stored entries are head-major, each
    /// head in this matrix's CSR order. Built on first use for each head count and kept.
    pub fn block_diagonal(&self, heads: i64) -> Arc<SparseMatrix> {
        let mut cache = self.block_diagonals.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, m)) = cache.iter().find(|(h, _)| *h == heads) {
            return Arc::clone(m);
        }
        let built = {
            let device = self.device();
            let offsets = Tensor::arange(heads, (Kind::Int64, device));
            let nnz = self.nnz();
            let crow = (self.crow.narrow(0, 0, self.rows).unsqueeze(0) + offsets.unsqueeze(1) * nnz).view([-1]);
            let crow = Tensor::cat(&[crow, Tensor::from_slice(&[heads * nnz]).to(device)], 0);
            let col = (self.col.unsqueeze(0) + offsets.unsqueeze(1) * self.cols).view([-1]);
            let values = self.values.repeat([heads]);
            Arc::new(SparseMatrix::from_csr_tensors(crow, col, values, heads * self.rows, heads * self.cols))
        };
        cache.push((heads, Arc::clone(&built)));
        built
    }

    /// Column indices of the stored entries, in CSR order.
    pub fn col_indices(&self) -> &Tensor {
        &self.col
    }
}

/// A CSR tensor from arrays this module built and checked itself (so libtorch's O(nnz)
/// re-validation, which costs more than the product on every dropout step, is skipped).
fn csr_tensor(crow: &Tensor, col: &Tensor, values: &Tensor, rows: i64, cols: i64) -> Tensor {
    Tensor::internal_sparse_csr_tensor_unsafe(crow, col, values, [rows, cols], (Kind::Float, values.device()))
}
