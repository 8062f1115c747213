//! A GCN on the pixel grid: images through the same sparse graph convolutions as citation graphs.
//!
//! Each image is a graph with one node per pixel and edges to its 4 or 8 adjacent pixels
//! (`gdistill_graph::grid_graph`), normalised as GCN does, `A_hat = D^-1/2 (A + I) D^-1/2`. A
//! node's input is its intensity, plus its row and column scaled to `-1..=1` when `coordinates`:
//! a GCN's filters are isotropic (every neighbour gets the same weight), so without positions
//! the pooled features cannot tell a 6 from a 9. [`GcnConv`] layers with ReLU follow; then
//! global mean and max pooling over the pixels, dropout, and a linear layer to the classes.
//!
//! Batching. A batch of B images is, as a graph, the block-diagonal union of B copies of the
//! grid, `kron(I_B, A_hat)`. Every image has the same grid, so instead of building that
//! `B*P`-node matrix (`gdistill_graph::block_diagonal`) the activations are kept node-major,
//! `[P, B, C]`: then `kron(I_B, A_hat) @ H` is exactly `A_hat @ H.view([P, B*C])`, one sparse
//! product with the single `P x P` matrix. The result is the same (a test checks it against
//! `block_diagonal`), the adjacency on the device is B times smaller and built once, any batch
//! size works (the last, short batch; a 10 000-image test pass) and the layout needs no
//! transposes between layers. The products go through [`SparseMatrix::matmul`], so inside
//! `record_sparse_products` their backward runs on the transposed CSR kernel, as for Cora.
//!
//! ```
//! use gdistill_models::{ImageArch, ImageShape};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let shape = ImageShape { height: 8, width: 8, classes: 10 };
//! let arch = ImageArch::GridGcn { hidden: 16, layers: 2, neighborhood: 8, coordinates: true, dropout: 0.0, pool: 1 };
//! let out = arch.build(&vs.root(), shape).unwrap().forward_t(&Tensor::rand([3, 8, 8], (Kind::Float, Device::Cpu)), false);
//! assert_eq!(out.logits.size(), [3, 10]);
//! assert_eq!(out.hidden[0].size(), [3, 32]); // mean and max pooled
//! ```

use gdistill_graph::{gcn_normalized_adjacency, grid_graph, Neighborhood};
use tch::{nn, Kind, Tensor};

use super::{ImageModel, ImageShape};
use crate::{dropout, Dense, GcnConv, ModelError, ModelOutput, SparseMatrix};

/// Graph convolutions on the pixel grid, global pooling, a linear head.
#[derive(Debug)]
pub struct GridGcn {
    convs: Vec<GcnConv>,
    head: Dense,
    a_hat: SparseMatrix,
    /// Row and column of every pixel, `[P, 1, 2]`, when positions are inputs.
    coordinates: Option<Tensor>,
    dropout: f64,
    pool: i64,
}

/// How images become grids: which pixels are adjacent, whether positions are inputs, and the
/// side of the blocks averaged into one node (1: every pixel a node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridSettings {
    /// 4 or 8.
    pub neighborhood: u8,
    pub coordinates: bool,
    pub pool: i64,
}

/// Node features of a batch, node-major: `[P, B, 1]` intensities, or `[P, B, 3]` with the
/// pixel's row and column when `coordinates` (`[P, 1, 2]`) is given.
pub fn grid_features(images: &Tensor, coordinates: Option<&Tensor>) -> Tensor {
    let batch = images.size()[0];
    let intensity = images.reshape([batch, -1]).transpose(0, 1).unsqueeze(-1);
    match coordinates {
        None => intensity.contiguous(),
        Some(c) => {
            let pixels = intensity.size()[0];
            Tensor::cat(&[intensity, c.expand([pixels, batch, 2], false)], 2)
        }
    }
}

/// `[P, 1, 2]`: row and column of each pixel, scaled to `-1..=1`.
fn pixel_coordinates(shape: ImageShape, device: tch::Device) -> Tensor {
    let scaled = |n: i64| {
        let span = (n - 1).max(1) as f64;
        Tensor::arange(n, (Kind::Float, device)) * (2.0 / span) - 1.0
    };
    let rows = scaled(shape.height).view([-1, 1]).expand([shape.height, shape.width], false);
    let cols = scaled(shape.width).view([1, -1]).expand([shape.height, shape.width], false);
    Tensor::stack(&[rows.reshape([-1]), cols.reshape([-1])], 1).unsqueeze(1)
}

impl GridGcn {
    /// Convolution `k` under `path / k`, the head under `path / "head"`. The normalised grid
    /// adjacency is built here, once, on `path`'s device.
    pub fn new(
        path: &nn::Path,
        shape: ImageShape,
        hidden: i64,
        layers: usize,
        grid: GridSettings,
        dropout: f64,
    ) -> Result<GridGcn, ModelError> {
        let nb = if grid.neighborhood == 4 { Neighborhood::Four } else { Neighborhood::Eight };
        let nodes = ImageShape { height: shape.height / grid.pool, width: shape.width / grid.pool, ..shape };
        let graph = grid_graph(nodes.height as usize, nodes.width as usize, nb);
        let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&graph), path.device())?;
        let mut input = if grid.coordinates { 3 } else { 1 };
        let mut convs = Vec::with_capacity(layers);
        for k in 0..layers {
            convs.push(GcnConv::new(&(path / k), input, hidden));
            input = hidden;
        }
        Ok(GridGcn {
            convs,
            head: Dense::new(&(path / "head"), 2 * hidden, shape.classes),
            a_hat,
            coordinates: grid.coordinates.then(|| pixel_coordinates(nodes, path.device())),
            dropout,
            pool: grid.pool,
        })
    }

    /// The shared normalised grid adjacency, `P x P`.
    pub fn adjacency(&self) -> &SparseMatrix {
        &self.a_hat
    }

    /// One convolution on node-major features: `[P, B, C_in]` -> `[P, B, C_out]`, before ReLU.
    pub fn propagate(conv: &GcnConv, a_hat: &SparseMatrix, h: &Tensor) -> Tensor {
        let (pixels, batch) = (h.size()[0], h.size()[1]);
        let projected = h.matmul(&conv.weight);
        let width = projected.size()[2];
        a_hat.matmul(&projected.reshape([pixels, batch * width])).reshape([pixels, batch, width]) + &conv.bias
    }
}

impl ImageModel for GridGcn {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        let images = if self.pool > 1 {
            let p = [self.pool, self.pool];
            images.unsqueeze(1).avg_pool2d(p, p, [0, 0], false, true, None::<i64>).squeeze_dim(1)
        } else {
            images.shallow_clone()
        };
        let mut h = grid_features(&images, self.coordinates.as_ref());
        for conv in &self.convs {
            h = GridGcn::propagate(conv, &self.a_hat, &h).relu();
        }
        let pooled = Tensor::cat(&[h.mean_dim(0, false, Kind::Float), h.amax(0, false)], 1);
        let logits = self.head.forward(&dropout(&pooled, self.dropout, train));
        ModelOutput { logits, hidden: vec![pooled] }
    }
}
