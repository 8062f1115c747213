//! Neighbour sampling of mini-batches over a partitioned graph: each rank holds only its part's
//! rows (`gdistill partition`), and the owners of the other nodes sample for it.
//!
//! A batch is sampled hop by hop exactly as [`gdistill_graph::NeighborSampler::sample`] samples
//! it on the whole graph (nodes appended in first-seen order, destination by destination). Node
//! `v`'s picks at hop `h` come from its own keyed stream ([`gdistill_graph::sample_node`]), so
//! whoever holds `v`'s row draws the same picks: this rank draws them for its own nodes, and at
//! every hop asks each owner to draw them for the frontier's remote nodes. The reply carries
//! each pick's owner (the owner of `v` knows it: `v`'s neighbours are its own nodes or its halo),
//! which is how a rank learns the owners of nodes two hops away. The result is therefore the
//! batch one process holding the whole graph would sample for these seeds and this seed.
//!
//! Adjacency rows never travel: only the picks do. Per hop: one all-to-all-v of the remote
//! frontier's ids (8 bytes each) and one of the replies (`1 + 2 x picks` words of 8 bytes per
//! node). Per batch, after the last hop: one all-to-all-v of the ids of every remote node of the
//! batch, one of their feature rows (dense, `features x 4` bytes each) and one of their degrees
//! (8 bytes each; the GCN block values read them). All of it is counted in [`PartSampler::traffic`].

use std::collections::HashMap;

use anyhow::{Context, Result};
use gdistill_datasets::partition_files::PartData;
use gdistill_graph::{sample_node, BatchBuilder, SampledBatch};
use gdistill_models::{NodeFeatures, SparseMatrix};
use mpi::topology::{Communicator, SimpleCommunicator};
use tch::{Device, Kind, Tensor};

use super::exchange::{all_to_all_v, Traffic};

/// One sampled batch with everything a forward pass needs.
pub struct PartBatch {
    /// The blocks in local ids, input layer first; `n_id` holds global ids, seeds first.
    pub batch: SampledBatch,
    /// Each node of `batch.n_id`'s degree in the whole graph, its self-loop not counted.
    pub degree: Vec<usize>,
    /// The feature rows of `batch.n_id`, dense, `[n_id.len(), features]`.
    pub features: Tensor,
}

/// A rank's part of the graph, and the exchanges that sample over every part.
pub struct PartSampler<'a> {
    world: &'a SimpleCommunicator,
    rank: usize,
    part: &'a PartData,
    /// The owned nodes' feature rows, dense and row-major (`cols` values a row), when the part's
    /// features were read as dense rows (a part opened with `PartFeatures::DenseLater` whose
    /// features are dense); otherwise `part.features` (CSR) holds them.
    dense: Option<Vec<f32>>,
    /// Owners of the non-owned nodes met so far (the halo's from the part file, the others from
    /// replies).
    owners: HashMap<usize, usize>,
    /// What this rank has sent and received, since it was built.
    pub traffic: Traffic,
}

impl<'a> PartSampler<'a> {
    /// `dense`: the owned nodes' feature rows (`part.features.cols()` values each, in the
    /// part's row order), or None to read them from `part.features`.
    pub fn new(world: &'a SimpleCommunicator, part: &'a PartData, dense: Option<Vec<f32>>) -> PartSampler<'a> {
        let g = &part.graph;
        let owners = g.halo.iter().copied().zip(g.halo_owner.iter().copied()).collect();
        if let Some(rows) = &dense {
            assert_eq!(rows.len(), g.nodes.len() * part.features.cols(), "one dense row per owned node");
        }
        PartSampler { world, rank: world.rank() as usize, part, dense, owners, traffic: Traffic::default() }
    }

    /// The owned nodes' feature rows on `device`, in the part's row order (for layer-wise
    /// evaluation, [`super::layerwise`]): dense rows as a dense tensor, CSR ones as sparse.
    /// On the CPU the dense tensor is a view of this sampler's rows, not a copy: use it only
    /// to read, and drop it before this sampler (it is not tied to `self` by a lifetime).
    pub fn owned_features(&self, device: Device) -> Result<NodeFeatures> {
        let f = &self.part.features;
        Ok(match &self.dense {
            Some(rows) => {
                let size = [self.part.graph.nodes.len() as i64, f.cols() as i64];
                anyhow::ensure!(rows.len() as i64 == size[0] * size[1], "one dense row per owned node");
                // SAFETY: `rows` holds `size[0] * size[1]` initialised f32 values, row-major; it is
                // never written or reallocated while the sampler lives, and the caller drops the
                // view (which only reads it) before the sampler.
                let view =
                    unsafe { Tensor::from_blob(rows.as_ptr() as *const u8, &size, &[], Kind::Float, Device::Cpu) };
                NodeFeatures::Dense(if device == Device::Cpu { view } else { view.to(device) })
            }
            None => NodeFeatures::Sparse(SparseMatrix::from_csr(
                &f.indptr().to_proper(),
                f.indices(),
                f.data(),
                (f.rows(), f.cols()),
                device,
            )?),
        })
    }

    fn row(&self, local: usize) -> &[usize] {
        let g = &self.part.graph;
        &g.indices[g.indptr[local]..g.indptr[local + 1]]
    }

    fn owner(&self, v: usize) -> Result<usize> {
        if self.part.graph.local_row(v).is_some() {
            return Ok(self.rank);
        }
        self.owners.get(&v).copied().with_context(|| format!("node {v}'s owner is unknown on rank {}", self.rank))
    }

    /// The picks of own node `v` at `hop`.
    fn sample_own(&self, v: usize, fanout: usize, seed: u64, hop: usize) -> Vec<usize> {
        let local = self.part.graph.local_row(v).expect("an own node");
        sample_node(self.row(local), v, fanout, seed, hop)
    }

    /// Samples the computation graph of `seeds` (this rank's own nodes, distinct; may be empty)
    /// with one fan-out per hop, nearest the seeds first, and fetches the feature rows and
    /// degrees of every node it reached. Every rank must call it the same number of times with
    /// the same `fanouts` (it is collective), whatever its seeds.
    pub fn sample(&mut self, seeds: &[usize], fanouts: &[usize], seed: u64) -> Result<PartBatch> {
        let size = self.world.size() as usize;
        let mut batch = BatchBuilder::new(seeds);
        anyhow::ensure!(batch.seeds_distinct(), "a batch lists a seed twice");
        for (hop, &fanout) in fanouts.iter().enumerate() {
            let mut asks = vec![Vec::<u64>::new(); size];
            for &v in batch.nodes() {
                let owner = self.owner(v)?;
                if owner != self.rank {
                    asks[owner].push(v as u64);
                }
            }
            let remote = self.remote_picks(&asks, fanout, seed, hop)?;
            let sampled: Vec<Vec<usize>> = batch
                .nodes()
                .iter()
                .map(|v| remote.get(v).cloned().unwrap_or_else(|| self.sample_own(*v, fanout, seed, hop)))
                .collect();
            batch.push_hop(&sampled);
        }
        let batch = batch.finish();
        let (features, degree) = self.fetch_rows(&batch.n_id)?;
        Ok(PartBatch { batch, degree, features })
    }

    /// Sends `asks[q]` (nodes rank q owns) to their owners, draws the picks every other rank
    /// asked of this one, and returns the picks this rank asked for, by node.
    fn remote_picks(
        &mut self,
        asks: &[Vec<u64>],
        fanout: usize,
        seed: u64,
        hop: usize,
    ) -> Result<HashMap<usize, Vec<usize>>> {
        let asked = all_to_all_v(self.world, asks, &mut self.traffic)?;
        let mut answers = Vec::with_capacity(asked.len());
        for ids in &asked {
            let mut answer = Vec::new();
            for &v in ids {
                let v = v as usize;
                anyhow::ensure!(
                    self.part.graph.local_row(v).is_some(),
                    "rank {} was asked to sample node {v}, which it does not own (the ranks disagree on the partition)",
                    self.rank
                );
                let picks = self.sample_own(v, fanout, seed, hop);
                answer.push(picks.len() as u64);
                for u in picks {
                    answer.push(u as u64);
                    answer.push(self.owner(u)? as u64);
                }
            }
            answers.push(answer);
        }
        let replies = all_to_all_v(self.world, &answers, &mut self.traffic)?;
        let mut picks_of = HashMap::new();
        for (ids, reply) in asks.iter().zip(&replies) {
            let mut at = 0;
            for &v in ids {
                let n = *reply.get(at).context("a short reply to a sampling request")? as usize;
                let words = reply.get(at + 1..at + 1 + 2 * n).context("a short reply to a sampling request")?;
                let mut picks = Vec::with_capacity(n);
                for pair in words.chunks_exact(2) {
                    let (u, owner) = (pair[0] as usize, pair[1] as usize);
                    if owner != self.rank {
                        self.owners.insert(u, owner);
                    }
                    picks.push(u);
                }
                picks_of.insert(v as usize, picks);
                at += 1 + 2 * n;
            }
        }
        Ok(picks_of)
    }

    /// The degree (self-loop not counted) and the feature row of own node `v`, by local row.
    fn own_degree(&self, local: usize, v: usize) -> usize {
        let row = self.row(local);
        row.len() - usize::from(row.binary_search(&v).is_ok())
    }

    /// Dense feature rows and degrees of `nodes`, the remote ones fetched from their owners.
    fn fetch_rows(&mut self, nodes: &[usize]) -> Result<(Tensor, Vec<usize>)> {
        let size = self.world.size() as usize;
        let f = self.part.features.cols();
        let mut asks = vec![Vec::<u64>::new(); size];
        for &v in nodes {
            let owner = self.owner(v)?;
            if owner != self.rank {
                asks[owner].push(v as u64);
            }
        }
        let asked = all_to_all_v(self.world, &asks, &mut self.traffic)?;
        let mut rows_out = Vec::with_capacity(size);
        let mut degrees_out = Vec::with_capacity(size);
        for ids in &asked {
            let mut rows = vec![0f32; ids.len() * f];
            let mut degrees = Vec::with_capacity(ids.len());
            for (k, &v) in ids.iter().enumerate() {
                let v = v as usize;
                let local = self.part.graph.local_row(v).with_context(|| {
                    format!("rank {} was asked for node {v}'s features, which it does not own", self.rank)
                })?;
                self.dense_row(local, &mut rows[k * f..(k + 1) * f]);
                degrees.push(self.own_degree(local, v) as u64);
            }
            rows_out.push(rows);
            degrees_out.push(degrees);
        }
        let rows_in = all_to_all_v(self.world, &rows_out, &mut self.traffic)?;
        let degrees_in = all_to_all_v(self.world, &degrees_out, &mut self.traffic)?;
        // where each remote node's row sits in what its owner sent
        let mut at: HashMap<usize, (usize, usize)> = HashMap::new();
        for (q, ids) in asks.iter().enumerate() {
            for (k, &v) in ids.iter().enumerate() {
                at.insert(v as usize, (q, k));
            }
        }
        let mut x = vec![0f32; nodes.len() * f];
        let mut degree = Vec::with_capacity(nodes.len());
        for (i, &v) in nodes.iter().enumerate() {
            let out = &mut x[i * f..(i + 1) * f];
            match self.part.graph.local_row(v) {
                Some(local) => {
                    self.dense_row(local, out);
                    degree.push(self.own_degree(local, v));
                }
                None => {
                    let (q, k) = at[&v];
                    let row = rows_in[q].get(k * f..(k + 1) * f).context("a short feature reply")?;
                    out.copy_from_slice(row);
                    degree.push(*degrees_in[q].get(k).context("a short degree reply")? as usize);
                }
            }
        }
        let features = Tensor::from_slice(&x).view([nodes.len() as i64, f as i64]);
        Ok((features, degree))
    }

    fn dense_row(&self, local: usize, out: &mut [f32]) {
        if let Some(rows) = &self.dense {
            out.copy_from_slice(&rows[local * out.len()..(local + 1) * out.len()]);
        } else if let Some(row) = self.part.features.outer_view(local) {
            for (j, &value) in row.iter() {
                out[j] = value;
            }
        }
    }
}

/// The block matrices of a part batch on `device` (GCN values from the fetched degrees).
pub fn block_matrices(
    b: &PartBatch,
    norm: gdistill_models::BlockNorm,
    device: Device,
) -> Result<Vec<gdistill_models::SparseMatrix>> {
    b.batch
        .blocks
        .iter()
        .map(|k| {
            gdistill_models::block_adjacency_with(
                &k.indptr,
                &k.indices,
                k.num_dst,
                k.num_src,
                &b.degree[..k.num_src],
                norm,
                device,
            )
            .map_err(anyhow::Error::from)
        })
        .collect()
}
