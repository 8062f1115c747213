//! `gdistill soft-targets` across P ranks: partitioned layer-wise inference of a GCN (or MLP)
//! teacher with halo exchange, written as one shard per rank plus a manifest ([`super::shards`]).
//!
//! By default the nodes are cut into P contiguous ranges (rank r owns `r N / P .. (r + 1) N / P`). A GCN
//! layer is `H' = A_hat (H W) + b`: rank r computes `P_r = H_r W` for its own rows, then needs the
//! rows of `P` of every other-rank node adjacent to one of its nodes (its halo). At start the
//! ranks tell each other which rows they need (an all-to-all of the counts, then an
//! all-to-all-v of the node ids); at every layer each rank sends exactly those rows of its `P`
//! (one all-to-all-v of floats), so the traffic of a layer is `halo rows x width x 4` bytes,
//! never the whole layer. The halo each rank receives is checked against the cut edges
//! counted straight from the graph, and both are recorded in the manifest.
//!
//! With `--partitions DIR` (from `gdistill partition`), rank r owns the nodes of part r instead,
//! whatever their ids, and reads only its part file: its rows of `A_hat` come from its adjacency
//! rows and the halo nodes' degrees stored there, and the halo's rows of every layer from their
//! owners, through the same exchange (the ownership is any map from global id to rank). Its shard
//! then records its nodes' ids. Without it, every rank reads the whole dataset and normalises the
//! whole adjacency, then keeps its contiguous range: only the layers are partitioned.

use anyhow::{Context, Result};
use gdistill_datasets::atomic::{remove_if_present, RemovedOnDrop};
use gdistill_datasets::partition_files::{
    open_listed_part_with, part_file_name, read_manifest_for, PartData, PartFeatures, MANIFEST_NAME,
};
use gdistill_datasets::{stage_soft_target_rows, stage_soft_targets, DatasetError, NodeDataset, SoftTargets};
use gdistill_distill::{load_checkpoint, write_atomically, DatasetFingerprint};
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{Arch, NodeFeatures, Project, SparseMatrix};
use mpi::collective::CommunicatorCollectives;
use mpi::topology::{Communicator, SimpleCommunicator};
use tch::{Device, Kind, Tensor};

use super::halo::{local_adjacency, no_halo, with_halo_rows, Halo};
use super::shards::{logits_hash, rows_hash, shard_path, HaloLayer, Manifest, Shard, MANIFEST_FORMAT};
use super::{agree, check_same_inputs, describe_dataset, describe_file, range};
use crate::cmd::eval::check_fingerprint;
use crate::cmd::soft_targets::SoftTargetsArgs;
use crate::cmd::train::fingerprint;

/// The test hook behind `GDISTILL_MPI_TEST_KILL=RANK:POINT`: the rank named kills itself with
/// SIGKILL at `POINT` (as `kill -9` from outside would), for the fault tests.
pub fn maybe_die(rank: usize, point: &str) {
    if let Ok(spec) = std::env::var("GDISTILL_MPI_TEST_KILL") {
        if spec == format!("{rank}:{point}") {
            // SAFETY: kill(2) on this very process; nothing is borrowed.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

/// Which nodes a rank computes: a contiguous range of the dataset, or a part's nodes.
enum Owned {
    Range(std::ops::Range<usize>),
    Ids(Vec<usize>),
}

impl Owned {
    fn len(&self) -> usize {
        match self {
            Owned::Range(r) => r.len(),
            Owned::Ids(ids) => ids.len(),
        }
    }
}

/// Everything a rank computes its rows from.
struct Local {
    owned: Owned,
    /// Its rows of `A_hat`, columns renumbered: own rows first, then the halo by owner (GCN only).
    a: Option<SparseMatrix>,
    /// Its rows of the features (dense when the part's are).
    x: NodeFeatures,
    halo: Halo,
    /// Entries of its rows whose column another rank owns, and their distinct columns, counted
    /// from the graph (not from the exchange).
    cut_edges: usize,
    cut_endpoints: usize,
    name: String,
    num_nodes: usize,
    num_classes: usize,
}

/// Rank `rank`'s contiguous range of a dataset every rank has read whole.
fn from_dataset(world: &SimpleCommunicator, dataset: &NodeDataset, gcn: bool, device: Device) -> Result<Local> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let n = dataset.num_nodes();
    anyhow::ensure!(n >= size, "{} nodes cannot be cut into {size} parts", n);
    let mine = range(n, rank, size);
    let owner = |node: usize| -> usize {
        // the largest r with r N / P <= node
        let mut r = (node * size / n).min(size - 1);
        while range(n, r, size).start > node {
            r -= 1;
        }
        while range(n, r, size).end <= node {
            r += 1;
        }
        r
    };
    let local_row = |j: usize| mine.contains(&j).then(|| j - mine.start);
    let (a, halo, cut_edges, cut_endpoints) = if gcn {
        let a_hat = gcn_normalized_adjacency(&dataset.graph);
        let rows = a_hat.slice_outer(mine.clone());
        let indptr = rows.indptr().to_proper().into_owned();
        let (a, halo) = local_adjacency(world, (&indptr, rows.indices(), rows.data()), &local_row, &owner, device)?;
        let mut cut = 0;
        let mut ends = std::collections::HashSet::new();
        for i in mine.clone() {
            for &j in dataset.graph.neighbors(i) {
                if !mine.contains(&j) {
                    cut += 1;
                    ends.insert(j);
                }
            }
        }
        (Some(a), halo, cut, ends.len())
    } else {
        (None, no_halo(size), 0, 0)
    };
    let features = &dataset.features; // CSR (NodeDataset's layout): sliced where it lies, not copied
    let x = features.slice_outer(mine.clone());
    let x = SparseMatrix::from_csr(&x.indptr().to_proper(), x.indices(), x.data(), (mine.len(), x.cols()), device)?;
    let x = NodeFeatures::Sparse(x);
    Ok(Local {
        owned: Owned::Range(mine),
        a,
        x,
        halo,
        cut_edges,
        cut_endpoints,
        name: dataset.name.clone(),
        num_nodes: n,
        num_classes: dataset.num_classes,
    })
}

/// This rank's part, read from its part file alone (`path`: the file, for features left on disk);
/// `normalize`: scale each feature row to sum to one.
fn from_part(
    world: &SimpleCommunicator,
    mut part: PartData,
    path: &std::path::Path,
    normalize: bool,
    gcn: bool,
    device: Device,
) -> Result<Local> {
    let (a, halo, cut_edges, cut_endpoints) = if gcn {
        let (indptr, columns, values) = part.graph.gcn_rows();
        let cut_edges = part.graph.cut_edges();
        // the adjacency rows as read are no longer needed: only ids, halo and owners are
        part.graph.indices = Vec::new();
        part.graph.weights = Vec::new();
        let g = &part.graph;
        let local_row = |j: usize| g.local_row(j);
        let owner = |j: usize| g.halo_owner[g.halo.binary_search(&j).expect("a non-owned neighbour is in the halo")];
        let (a, halo) = local_adjacency(world, (&indptr, &columns, &values), &local_row, &owner, device)?;
        (Some(a), halo, cut_edges, g.halo.len())
    } else {
        (None, no_halo(world.size() as usize), 0, 0)
    };
    let x = if part.features_deferred {
        NodeFeatures::Dense(super::rank_data::read_dense_features(path, normalize)?.to(device))
    } else {
        if normalize {
            part.row_normalize_features();
        }
        let f = &part.features;
        NodeFeatures::Sparse(SparseMatrix::from_csr(
            &f.indptr().to_proper(),
            f.indices(),
            f.data(),
            (f.rows(), f.cols()),
            device,
        )?)
    };
    Ok(Local {
        owned: Owned::Ids(part.graph.nodes),
        a,
        x,
        halo,
        cut_edges,
        cut_endpoints,
        name: part.dataset,
        num_nodes: part.num_nodes,
        num_classes: part.num_classes,
    })
}

pub fn run(args: SoftTargetsArgs) -> Result<()> {
    let (rank, size) = super::ranks().context("not running across ranks")?;
    let world = super::world();
    let device = args.device.device()?;
    let teacher_path = args.single_teacher()?;
    let (_vs, teacher, meta) = load_checkpoint(teacher_path, device)?;
    let normalized = meta.dataset.row_normalized;
    let config = teacher.config().clone();
    let gcn = config.arch == Arch::Gcn;
    let local = match &args.partitions {
        Some(dir) => {
            anyhow::ensure!(
                args.dataset.is_none(),
                "give --dataset or --partitions, not both (the partition names its dataset)"
            );
            // Every check of this rank's own files comes before the first collective, so a rank
            // that cannot go on aborts the job instead of leaving the others waiting.
            // The manifest is the same file for every rank: rank 0 alone reports what is wrong
            // with it (the others wait for its abort), so the job ends with one message.
            let manifest = match read_manifest_for(dir, size) {
                Err(e) if rank != 0 => {
                    world.barrier();
                    return Err(e.into());
                }
                other => other?,
            };
            let (manifest, part) = open_listed_part_with(dir, manifest, rank, size, PartFeatures::DenseLater, true)?;
            check_same_inputs(
                &world,
                &[
                    ("partition manifest", describe_file(&dir.join(MANIFEST_NAME))),
                    ("teacher checkpoint", describe_file(teacher_path)),
                ],
            )?;
            let here = DatasetFingerprint {
                name: manifest.dataset.clone(),
                nodes: manifest.nodes,
                features: manifest.features,
                classes: manifest.classes,
                row_normalized: normalized,
            };
            check_fingerprint(teacher_path, &meta.dataset, &here)?;
            check_arch(&config)?;
            from_part(&world, part, &dir.join(part_file_name(rank, size)), normalized, gcn, device)?
        }
        None => {
            let mut dataset = args.dataset()?.load()?;
            if normalized {
                dataset.row_normalize_features();
            }
            check_same_inputs(
                &world,
                &[("dataset", describe_dataset(&dataset)), ("teacher checkpoint", describe_file(teacher_path))],
            )?;
            check_fingerprint(teacher_path, &meta.dataset, &fingerprint(&dataset, normalized))?;
            check_arch(&config)?;
            from_dataset(&world, &dataset, gcn, device)?
        }
    };
    let n = local.num_nodes;
    let start = std::time::Instant::now();
    let halo = &local.halo;
    let received: usize = halo.recv.iter().map(Vec::len).sum();
    anyhow::ensure!(
        received == local.cut_endpoints,
        "rank {rank} receives {received} halo rows but its cut edges end on {} other-rank nodes",
        local.cut_endpoints
    );

    let (weights, biases) = (teacher.weights(), teacher.biases());
    let last = weights.len() - 1;
    let mut layers = Vec::new();
    // the features are needed by the first layer only: dropped after it
    let mut x = Some(local.x);
    let logits = tch::no_grad(|| -> Result<Tensor> {
        let mut h: Option<Tensor> = None;
        for (k, (w, b)) in weights.iter().zip(&biases).enumerate() {
            maybe_die(rank, &format!("layer{}", k + 1));
            let projected = match h.take() {
                None => x.take().expect("the features, for the first layer").project(w),
                Some(h) => h.matmul(w),
            };
            let width = projected.size()[1] as usize;
            let mut z = match &local.a {
                Some(a) => {
                    let rows = with_halo_rows(&world, projected, halo, width)?;
                    a.matmul(&rows)
                }
                None => projected,
            };
            // in place: no second and third buffer of the layer's rows
            let _ = z.f_add_(b)?;
            if k < last {
                let _ = z.f_relu_()?;
            }
            layers.push((k + 1, width));
            h = Some(z);
        }
        Ok(h.expect("a model has at least one layer").to_device(Device::Cpu).to_kind(Kind::Float))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let values: Vec<f32> = Vec::try_from(logits.view([-1])).context("reading the logits back")?;

    // Halo figures of every rank, for the manifest.
    let figures = [received as u64, local.cut_edges as u64, local.cut_endpoints as u64];
    let mut gathered = vec![0u64; 3 * size];
    world.all_gather_into(&figures[..], &mut gathered[..]);
    let counts: Vec<usize> = gathered.iter().map(|&c| c as usize).collect();
    let per_rank = |k: usize| (0..size).map(|r| counts[3 * r + k]).collect::<Vec<_>>();
    let halo_layers: Vec<HaloLayer> = if local.a.is_some() {
        layers
            .iter()
            .map(|&(layer, width)| HaloLayer {
                layer,
                width,
                rows: per_rank(0),
                bytes: per_rank(0).iter().map(|r| r * width * 4).collect(),
                cut_edges: per_rank(1),
                cut_endpoints: per_rank(2),
            })
            .collect()
    } else {
        Vec::new()
    };

    // Each rank writes its shard whole under a temporary name; only once every rank has (else
    // none is left anywhere) do they rename them into place, and rank 0 writes the manifest. A
    // failure from there on (a rename, the manifest) removes every rank's shard again: a failed
    // job leaves neither manifest nor shard, a killed one at most temporary files, which the next
    // write of the same shard removes.
    let shard_file = shard_path(&args.out, rank, size);
    let targets = SoftTargets {
        logits: values,
        nodes: local.owned.len(),
        classes: local.num_classes,
        dataset: local.name.clone(),
        ensemble: None,
    };
    maybe_die(rank, "write");
    let file = shard_file.file_name().unwrap().to_string_lossy().into_owned();
    let staged = match &local.owned {
        Owned::Range(mine) => stage_soft_targets(&shard_file, &targets).map(|staged| {
            let hash = logits_hash(&targets.logits);
            (staged, Shard { file, first_node: mine.start, nodes: mine.len(), hash, scattered: false })
        }),
        Owned::Ids(ids) => stage_soft_target_rows(&shard_file, &targets, ids).map(|staged| {
            let hash = rows_hash(&targets.logits, ids);
            (staged, Shard { file, first_node: 0, nodes: ids.len(), hash, scattered: true })
        }),
    };
    let (staged, shard) = agree(&world, staged.map_err(anyhow::Error::from))?;
    // The previous manifest names the shards about to be replaced: rank 0 removes it before
    // renaming its own, so that a job failing from here on leaves none (a reader meanwhile may
    // see it beside a new shard, whose hash then does not match: refused).
    let published = (|| -> Result<RemovedOnDrop> {
        if rank == 0 {
            remove_if_present(&args.out).map_err(|e| DatasetError::unwritable(&args.out, &e))?;
        }
        staged.commit().map_err(|e| DatasetError::unwritable(&shard_file, &e))?;
        let mut published = RemovedOnDrop::default();
        published.push(shard_file.clone());
        Ok(published)
    })();
    let published = agree(&world, published)?;
    let shards = super::all_gather_bytes(&world, &serde_json::to_vec(&shard)?);
    let written = if rank == 0 {
        (|| -> Result<()> {
            let shards = shards.iter().map(|b| serde_json::from_slice(b)).collect::<Result<Vec<Shard>, _>>()?;
            let manifest = Manifest {
                format: MANIFEST_FORMAT.into(),
                version: 1,
                dataset: local.name.clone(),
                nodes: n,
                classes: local.num_classes,
                shards,
                halo: halo_layers.clone(),
            };
            let mut json = serde_json::to_vec_pretty(&manifest)?;
            json.push(b'\n');
            write_atomically(&args.out, &json)?;
            Ok(())
        })()
    } else {
        Ok(())
    };
    agree(&world, written.map(|()| published))?.keep();
    if rank == 0 {
        println!(
            "{}: logits of {n} nodes x {} classes on {size} ranks in {seconds:.2} s; wrote {size} shards and {}",
            teacher_path.display(),
            local.num_classes,
            args.out.display()
        );
        for l in &halo_layers {
            println!(
                "halo layer {}: width {}, rows received per rank {:?} (= distinct cut-edge endpoints {:?}, \
                 over {:?} cut edges), bytes per rank {:?}, total {} bytes",
                l.layer,
                l.width,
                l.rows,
                l.cut_endpoints,
                l.cut_edges,
                l.bytes,
                l.bytes.iter().sum::<usize>()
            );
        }
    }
    Ok(())
}

fn check_arch(config: &gdistill_models::ModelConfig) -> Result<()> {
    anyhow::ensure!(
        matches!(config.arch, Arch::Gcn | Arch::Mlp),
        "soft targets across ranks are written for gcn and mlp teachers, not {}: run without mpirun",
        config.arch
    );
    Ok(())
}
