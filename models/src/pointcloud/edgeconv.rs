//! EdgeConv (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", 2019).
//!
//! For each point `i` and each of its `k` neighbours `j`, the edge function is one linear layer
//! on `[x_i, x_j - x_i]`, `e_ij = Θ_c x_i + Θ_e (x_j - x_i) + b`; the point's output is the
//! maximum over its neighbours, then (optionally) batch normalisation and a LeakyReLU (slope 0.2):
//! `y_i = LeakyReLU(BN(max_j e_ij))`. Without normalisation this is exactly
//! `max_j LeakyReLU(e_ij)`, the DGCNN form, since LeakyReLU is increasing.
//!
//! Computed without materialising the `[B, N, k, 2C]` edge features: `e_ij = a_i + c_j` with
//! `a = x (Θ_c - Θ_e)^T + b` and `c = x Θ_e^T`, so `max_j e_ij = a_i + max_j c_j`, a gather of
//! `c` and a maximum (the matrix products run once per point instead of once per edge). A
//! loop over edges is the oracle it is tested against.
//!
//! Shapes: `x` `[B, N, C]`, neighbour indices `[B, N, k]` (from [`super::knn`]), output
//! `[B, N, out]`.
//!
//! ```
//! use gdistill_models::pointcloud::{knn, EdgeConv};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let conv = EdgeConv::new(&vs.root(), 3, 8, true);
//! let x = Tensor::randn([2, 10, 3], (Kind::Float, Device::Cpu));
//! let y = conv.forward_t(&x, &knn(&x, 4, true), false);
//! assert_eq!(y.size(), [2, 10, 8]);
//! ```

use tch::{nn, nn::ModuleT, Tensor};

use super::knn::flat_neighbours;

/// Slope of the LeakyReLU after every point-cloud layer (DGCNN's).
pub const LEAKY_SLOPE: f64 = 0.2;

/// `max(x, slope * x)`.
pub fn leaky_relu(x: &Tensor) -> Tensor {
    x.maximum(&(x * LEAKY_SLOPE))
}

/// Batch normalisation of per-point features `[B, N, C]` over the batch and the points.
pub(crate) fn point_norm(norm: &nn::BatchNorm, x: &Tensor, train: bool) -> Tensor {
    norm.forward_t(&x.transpose(1, 2), train).transpose(1, 2)
}

/// One EdgeConv layer (see the module documentation).
#[derive(Debug)]
pub struct EdgeConv {
    /// `Θ_c` `[out, C]` and `b`: the centre point's own term.
    pub centre: nn::Linear,
    /// `Θ_e` `[out, C]`: the term of the offset `x_j - x_i`.
    pub offset: nn::Linear,
    pub norm: Option<nn::BatchNorm>,
}

impl EdgeConv {
    /// Variables under `path`: `centre`, `offset` and (with `batch_norm`) `norm`.
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64, batch_norm: bool) -> EdgeConv {
        let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
        EdgeConv {
            centre: nn::linear(path / "centre", in_dim, out_dim, Default::default()),
            offset: nn::linear(path / "offset", in_dim, out_dim, no_bias),
            norm: batch_norm.then(|| nn::batch_norm1d(path / "norm", out_dim, Default::default())),
        }
    }

    /// `max_j e_ij` before normalisation and activation, `[B, N, out]`.
    pub fn aggregate(&self, x: &Tensor, neighbours: &Tensor) -> Tensor {
        let (batch, n, k) = (neighbours.size()[0], neighbours.size()[1], neighbours.size()[2]);
        let own = x.apply(&self.centre) - x.apply(&self.offset);
        let other = x.apply(&self.offset);
        let width = other.size()[2];
        let gathered = other.view([batch * n, width]).index_select(0, &flat_neighbours(neighbours).view([-1]));
        own + gathered.view([batch, n, k, width]).amax(2, false)
    }

    /// `y_i = LeakyReLU(BN(max_j e_ij))`; `train` switches batch statistics on.
    pub fn forward_t(&self, x: &Tensor, neighbours: &Tensor, train: bool) -> Tensor {
        let h = self.aggregate(x, neighbours);
        let h = match &self.norm {
            Some(norm) => point_norm(norm, &h, train),
            None => h,
        };
        leaky_relu(&h)
    }
}
