//! Layer-wise evaluation of a GCN or SAGE model across ranks, each rank holding its part: every
//! rank computes one layer for all its own nodes, exchanging only its halo rows with the other
//! ranks ([`super::halo`]), instead of sampling each evaluated node's whole neighbourhood.
//!
//! Each layer projects first and exchanges the projected rows, the narrowest exact choice:
//! - GCN: `H' = A_hat (H W) + b`: the halo rows of `H W`;
//! - SAGE, mean aggregator: `H' = mean_N (H W_neigh) + H W_root + b`: the halo rows of
//!   `H W_neigh` (the root term reads own rows only);
//! - SAGE, gcn aggregator: `H' = mean_{self+N} (H W_neigh) + b`: the halo rows of `H W_neigh`;
//!
//! each optionally L2-normalised per row (SAGE's `normalize`), ReLU between layers, as
//! [`gdistill_models`] computes them on the whole graph. The mean matrices come from the pattern
//! of the rank's rows of `A_hat` (`A + I`), whose own rows are its first columns, as on a block.

use anyhow::Result;
use gdistill_datasets::partition_files::PartData;
use gdistill_models::{Arch, NodeFeatures, NodeModel, Project, SageAggregator, SparseMatrix};
use mpi::topology::SimpleCommunicator;
use tch::{Device, Tensor};

use super::exchange::Traffic;
use super::halo::{local_adjacency, with_halo_rows, Halo};

/// What a rank evaluates layer-wise from: its rows of `A_hat` (own columns first, then the halo)
/// and the halo plan.
pub struct LayerWise {
    a: SparseMatrix,
    halo: Halo,
}

impl LayerWise {
    /// Agrees on the halo with the other ranks (collective) and builds this rank's rows of
    /// `A_hat` from its part.
    pub fn new(world: &SimpleCommunicator, part: &PartData, device: Device) -> Result<LayerWise> {
        let g = &part.graph;
        let (indptr, columns, values) = g.gcn_rows();
        let local_row = |j: usize| g.local_row(j);
        let owner = |j: usize| g.halo_owner[g.halo.binary_search(&j).expect("a non-owned neighbour is in the halo")];
        let (a, halo) = local_adjacency(world, (&indptr, &columns, &values), &local_row, &owner, device)?;
        Ok(LayerWise { a, halo })
    }

    /// The logits of every own node, `[own nodes, classes]`, from `x`, the own nodes' features
    /// in the part's row order, and the halo bytes this rank sent and received; collective
    /// (every rank runs the same layers).
    pub fn logits(
        &self,
        world: &SimpleCommunicator,
        model: &dyn NodeModel,
        x: &NodeFeatures,
    ) -> Result<(Tensor, Traffic)> {
        let config = model.config();
        let (weights, biases) = (model.weights(), model.biases());
        let sage = match config.arch {
            Arch::Gcn => None,
            Arch::Sage => Some(config.options.aggregator),
            other => anyhow::bail!("layer-wise evaluation is written for gcn and sage, not {other}"),
        };
        let root = sage == Some(SageAggregator::Mean);
        let per_layer = if root { 2 } else { 1 };
        anyhow::ensure!(weights.len() == per_layer * biases.len(), "unexpected weights for {}", config.arch);
        let sent_rows: usize = self.halo.send.iter().map(Vec::len).sum();
        let received_rows: usize = self.halo.recv.iter().map(Vec::len).sum();
        let mut traffic = Traffic::default();
        let last = biases.len() - 1;
        tch::no_grad(|| {
            let mut h: Option<Tensor> = None;
            for (k, b) in biases.iter().enumerate() {
                let out = b.size()[0];
                let project = |w: &Tensor| match &h {
                    None => x.project(w),
                    Some(h) => h.project(w),
                };
                // `own`: the root term (SAGE mean), the rest: what the neighbours send
                let (neighbour, own) = if root {
                    let (w_root, w_neigh) = (weights[2 * k], weights[2 * k + 1]);
                    let both = project(&Tensor::cat(&[w_neigh, w_root], 1));
                    (both.narrow(1, 0, out).contiguous(), Some(both.narrow(1, out, out)))
                } else {
                    (project(weights[k]), None)
                };
                let rows = with_halo_rows(world, neighbour, &self.halo, out as usize)?;
                traffic.add(Traffic {
                    sent: (sent_rows * out as usize * 4) as u64,
                    received: (received_rows * out as usize * 4) as u64,
                });
                let aggregated = match sage {
                    None => self.a.matmul(&rows),
                    Some(SageAggregator::Mean) => self.a.neighbour_mean().matmul(&rows),
                    Some(_) => self.a.self_and_neighbour_mean().matmul(&rows),
                };
                let mut z = match own {
                    Some(own) => aggregated + own,
                    None => aggregated,
                } + *b;
                if sage.is_some() && config.options.normalize {
                    let norm = z.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
                    z = z / norm;
                }
                h = Some(if k < last { z.relu() } else { z });
            }
            Ok((h.expect("a model has at least one layer"), traffic))
        })
    }
}
