//! What one rank of the data-parallel student ([`super::student`]) trains and evaluates on: its
//! own nodes only, as local rows 0.. (features, labels, which are training nodes, which are
//! validation and test nodes, and the teacher's logits).
//!
//! Two sources give the same rows: the contiguous range `r N / P .. (r + 1) N / P` of a dataset
//! and a soft-target set that every rank reads whole ([`from_dataset`]), or part r of a
//! partition (`gdistill partition`) and shard r of the soft targets, nothing else
//! ([`from_partition`]). With a contiguous partition and soft targets whose shards are the same
//! ranges, both give each rank the same rows in the same order, so the two students are the
//! same run.

use std::path::Path;

use anyhow::{Context, Result};
use gdistill_datasets::part_features::DenseFeatureReader;
use gdistill_datasets::partition_files::{
    open_listed_part_with, part_file_name, read_manifest_for, PartFeatures, MANIFEST_NAME,
};
use gdistill_datasets::{NodeDataset, SoftTargets};
use gdistill_distill::minibatch::dense_rows;
use gdistill_distill::DatasetFingerprint;
use gdistill_models::NodeFeatures;
use mpi::topology::{Communicator, SimpleCommunicator};
use sprs::CsMat;
use tch::{Device, Kind, Tensor};

use super::shards::{read_checked_shard, read_manifest};
use super::{agree, range};

/// A rank's feature rows.
pub enum LocalFeatures {
    /// CSR rows, one per local node.
    Csr(CsMat<f32>),
    /// A dense `[local nodes, features]` tensor on the CPU.
    Dense(Tensor),
}

impl LocalFeatures {
    /// Local rows `rows`, dense, on `device`.
    pub fn rows(&self, rows: &[usize], device: Device) -> NodeFeatures {
        match self {
            LocalFeatures::Csr(m) => dense_rows(m, rows, device),
            LocalFeatures::Dense(t) => NodeFeatures::Dense(t.index_select(0, &index(rows)).to(device)),
        }
    }
}

/// `nodes` as an int64 index tensor.
pub fn index(nodes: &[usize]) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&i| i as i64).collect::<Vec<_>>())
}

/// One rank's nodes, in local rows.
pub struct RankData {
    pub features: LocalFeatures,
    /// Labels of the local rows.
    pub labels: Vec<i64>,
    /// Whether each local row is a training node.
    pub is_train: Vec<bool>,
    /// The teacher's logits of the local rows, `[rows, classes]`.
    pub logits: Tensor,
    /// Local rows of the validation and test nodes, ascending.
    pub val: Vec<usize>,
    pub test: Vec<usize>,
    /// The whole dataset's sizes and preprocessing (for the checkpoint).
    pub fingerprint: DatasetFingerprint,
}

impl RankData {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }
}

/// Rank `rank`'s contiguous range of a dataset and a soft-target set every rank has read whole.
pub fn from_dataset(
    dataset: &NodeDataset,
    targets: &SoftTargets,
    rank: usize,
    size: usize,
    fingerprint: DatasetFingerprint,
) -> RankData {
    let mine = range(dataset.num_nodes(), rank, size);
    let c = targets.classes;
    let local = |split: &[usize]| {
        let mut rows: Vec<usize> = split.iter().filter(|i| mine.contains(i)).map(|&i| i - mine.start).collect();
        rows.sort_unstable();
        rows
    };
    let mut is_train = vec![false; mine.len()];
    for r in local(&dataset.train) {
        is_train[r] = true;
    }
    let logits = &targets.logits[mine.start * c..mine.end * c];
    RankData {
        features: LocalFeatures::Csr(dataset.features.slice_outer(mine.clone()).to_owned()),
        labels: dataset.labels[mine.clone()].iter().map(|&y| y as i64).collect(),
        is_train,
        logits: Tensor::from_slice(logits).view([mine.len() as i64, c as i64]),
        val: local(&dataset.val),
        test: local(&dataset.test),
        fingerprint,
    }
}

/// Part `rank` of the partition in `dir` and shard `rank` of the soft-target manifest at
/// `manifest`, and nothing else, checked to describe the same nodes. `normalize`: row-normalise
/// the features, or (None) do so when every rank's features are non-negative, as one process
/// does with the whole dataset. Every rank's failure is reported by rank 0 as one message.
pub fn from_partition(
    world: &SimpleCommunicator,
    dir: &Path,
    manifest: &Path,
    normalize: Option<bool>,
) -> Result<RankData> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let mine = read_partition_rank(dir, manifest, rank, size);
    let (mut part, targets, fingerprint) = agree(world, mine)?;
    let part_path = dir.join(part_file_name(rank, size));
    let nonnegative = if part.features_deferred {
        DenseFeatureReader::open(&part_path)?.all_nonnegative(BLOCK_VALUES / fingerprint.features.max(1) + 1)?
    } else {
        part.features.data().iter().all(|&v| v >= 0.0)
    };
    let normalize = match normalize {
        Some(n) => n,
        None => {
            let mut all = 0u8;
            let mine = u8::from(!nonnegative);
            mpi::collective::CommunicatorCollectives::all_reduce_into(
                world,
                &mine,
                &mut all,
                mpi::collective::SystemOperation::max(),
            );
            all == 0
        }
    };
    let features = if part.features_deferred {
        LocalFeatures::Dense(read_dense_features(&part_path, normalize)?)
    } else {
        if normalize {
            part.row_normalize_features();
        }
        LocalFeatures::Csr(std::mem::replace(&mut part.features, CsMat::zero((0, 0))))
    };
    let nodes = &part.graph.nodes;
    let local = |split: &[usize]| -> Result<Vec<usize>> {
        split.iter().map(|&i| part.graph.local_row(i).context("a split node the part does not own")).collect()
    };
    let mut is_train = vec![false; nodes.len()];
    for r in local(&part.train)? {
        is_train[r] = true;
    }
    let (val, test) = (local(&part.val)?, local(&part.test)?);
    let c = targets.classes;
    Ok(RankData {
        labels: part.labels.iter().map(|&y| y as i64).collect(),
        is_train,
        logits: Tensor::from_slice(&targets.logits).view([nodes.len() as i64, c as i64]),
        val,
        test,
        fingerprint: DatasetFingerprint { row_normalized: normalize, ..fingerprint },
        features,
    })
}

/// Values read per block of rows.
const BLOCK_VALUES: usize = 1 << 20;

/// The dense features of the part file at `path` as a `[rows, features]` CPU tensor, read a
/// block of rows at a time (never as CSR), each row scaled to sum to one when `normalize`.
pub fn read_dense_features(path: &Path, normalize: bool) -> Result<Tensor> {
    let reader = DenseFeatureReader::open(path)?;
    let (rows, cols) = (reader.rows(), reader.cols());
    let x = Tensor::zeros([rows as i64, cols as i64], (Kind::Float, Device::Cpu));
    let block = BLOCK_VALUES / cols.max(1) + 1;
    let mut buffer = Vec::new();
    let mut start = 0;
    while start < rows {
        let end = (start + block).min(rows);
        buffer.resize((end - start) * cols, 0f32);
        reader.read(start..end, &mut buffer, normalize)?;
        let values = Tensor::from_slice(&buffer).view([(end - start) as i64, cols as i64]);
        x.narrow(0, start as i64, (end - start) as i64).copy_(&values);
        start = end;
    }
    Ok(x)
}

/// The dense features of the part file at `path` as row-major values (`[rows, features]`),
/// read a block of rows at a time straight into place (never as CSR), each row scaled to sum to
/// one when `normalize`.
pub fn read_dense_rows(path: &Path, normalize: bool) -> Result<Vec<f32>> {
    let reader = DenseFeatureReader::open(path)?;
    let (rows, cols) = (reader.rows(), reader.cols());
    let mut x = vec![0f32; rows * cols];
    let block = BLOCK_VALUES / cols.max(1) + 1;
    let mut start = 0;
    while start < rows {
        let end = (start + block).min(rows);
        reader.read(start..end, &mut x[start * cols..end * cols], normalize)?;
        start = end;
    }
    Ok(x)
}

/// Whether every feature value of the part file at `path`, read as dense rows, is non-negative.
pub fn dense_all_nonnegative(path: &Path) -> Result<bool> {
    let reader = DenseFeatureReader::open(path)?;
    Ok(reader.all_nonnegative(BLOCK_VALUES / reader.cols().max(1) + 1)?)
}

type PartInputs = (gdistill_datasets::partition_files::PartData, SoftTargets, DatasetFingerprint);

/// This rank's part and shard, read and checked without any collective.
fn read_partition_rank(dir: &Path, manifest_path: &Path, rank: usize, size: usize) -> Result<PartInputs> {
    let parts = read_manifest_for(dir, size)?;
    let soft = read_manifest(manifest_path)?;
    let (pm, sm) = (dir.join(MANIFEST_NAME), manifest_path.display());
    anyhow::ensure!(
        soft.shards.len() == size,
        "{sm} has {} soft-target shards, but the partition {} has {size} parts: the soft targets must come from \
         `mpirun -np {size} gdistill soft-targets --partitions {}`",
        soft.shards.len(),
        pm.display(),
        dir.display()
    );
    anyhow::ensure!(
        soft.dataset == parts.dataset && soft.nodes == parts.nodes && soft.classes == parts.classes,
        "{sm} holds soft targets of '{}' ({} nodes, {} classes), but the partition {} is of '{}' ({} nodes, {} classes)",
        soft.dataset,
        soft.nodes,
        soft.classes,
        pm.display(),
        parts.dataset,
        parts.nodes,
        parts.classes
    );
    let mismatch = |detail: String| {
        anyhow::anyhow!(
            "soft-target shard {} of {sm} and part {rank} of {} describe different nodes ({detail}): give the soft \
             targets written by `gdistill soft-targets --partitions {}` from this partition",
            soft.shards[rank].file,
            pm.display(),
            dir.display()
        )
    };
    if soft.shards[rank].nodes != parts.parts[rank].nodes {
        return Err(mismatch(format!("{} against {} nodes", soft.shards[rank].nodes, parts.parts[rank].nodes)));
    }
    let fingerprint = DatasetFingerprint {
        name: parts.dataset.clone(),
        nodes: parts.nodes,
        features: parts.features,
        classes: parts.classes,
        row_normalized: false,
    };
    let (_, part) = open_listed_part_with(dir, parts, rank, size, PartFeatures::DenseLater, false)?;
    let (mut targets, shard_nodes) = read_checked_shard(manifest_path, &soft, rank)?;
    if shard_nodes != part.graph.nodes {
        // the same nodes in another order are put in the part's order; other nodes are refused
        let mut order: Vec<usize> = (0..shard_nodes.len()).collect();
        order.sort_unstable_by_key(|&k| shard_nodes[k]);
        if let Some(k) = (0..order.len()).find(|&k| shard_nodes[order[k]] != part.graph.nodes[k]) {
            let (a, b) = (shard_nodes[order[k]], part.graph.nodes[k]);
            return Err(mismatch(format!("node {} is in one and not the other", a.min(b))));
        }
        let c = targets.classes;
        let mut logits = vec![0f32; targets.logits.len()];
        for (to, &from) in order.iter().enumerate() {
            logits[to * c..(to + 1) * c].copy_from_slice(&targets.logits[from * c..(from + 1) * c]);
        }
        targets.logits = logits;
    }
    Ok((part, targets, fingerprint))
}
