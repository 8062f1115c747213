//! `gdistill soft-targets` across P ranks: partitioned layer-wise inference of a GCN (or MLP)
//! teacher with halo exchange, written as one shard per rank plus a manifest ([`super::shards`]).
//!
//! The nodes are cut into P contiguous ranges (rank r owns `r N / P .. (r + 1) N / P`). A GCN
//! layer is `H' = A_hat (H W) + b`: rank r computes `P_r = H_r W` for its own rows, then needs the
//! rows of `P` of every other-rank node adjacent to one of its nodes (its halo). At start the
//! ranks tell each other which rows they need (an all-to-all of the counts, then an
//! all-to-all-v of the node ids); at every layer each rank sends exactly those rows of its `P`
//! (one all-to-all-v of floats), so the traffic of a layer is `halo rows x width x 4` bytes,
//! never the whole layer. The halo each rank receives is checked against the cut edges
//! counted straight from the graph, and both are recorded in the manifest.
//!
//! What is partitioned: the layers' activations and their compute. What is not (yet): loading;
//! every rank reads the whole dataset and normalises the whole adjacency, then keeps its rows.

use anyhow::{Context, Result};
use gdistill_datasets::{write_soft_targets, SoftTargets};
use gdistill_distill::load_checkpoint;
use gdistill_distill::write_atomically;
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{Arch, SparseMatrix};
use mpi::collective::CommunicatorCollectives;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::Count;
use tch::{Device, Kind, Tensor};

use super::shards::{logits_hash, shard_path, HaloLayer, Manifest, Shard, MANIFEST_FORMAT};
use super::{check_same_inputs, describe_dataset, describe_file, range};
use crate::cmd::eval::check_fingerprint;
use crate::cmd::soft_targets::SoftTargetsArgs;
use crate::cmd::train::fingerprint;

/// Which other-rank rows a rank needs and which of its rows the others need.
struct Halo {
    /// Per source rank, the global ids this rank receives from it, ascending.
    recv: Vec<Vec<usize>>,
    /// Per destination rank, the local row indices this rank sends to it.
    send: Vec<Vec<i64>>,
}

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

pub fn run(args: SoftTargetsArgs) -> Result<()> {
    let (rank, size) = super::ranks().context("not running across ranks")?;
    let world = super::world();
    let device = args.device.device()?;
    let teacher_path = args.single_teacher()?;
    let (_vs, teacher, meta) = load_checkpoint(teacher_path, device)?;
    let mut dataset = args.dataset.load()?;
    if meta.dataset.row_normalized {
        dataset.row_normalize_features();
    }
    check_same_inputs(
        &world,
        &[("dataset", describe_dataset(&dataset)), ("teacher checkpoint", describe_file(teacher_path))],
    )?;
    check_fingerprint(teacher_path, &meta.dataset, &fingerprint(&dataset, meta.dataset.row_normalized))?;
    let config = teacher.config().clone();
    anyhow::ensure!(
        matches!(config.arch, Arch::Gcn | Arch::Mlp),
        "soft targets across ranks are written for gcn and mlp teachers, not {}: run without mpirun",
        config.arch
    );
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
    let start = std::time::Instant::now();

    // This rank's rows of A_hat, columns renumbered: own nodes first, then the halo by owner.
    let (a_local, halo, cut_edges, cut_endpoints) = if config.arch == Arch::Gcn {
        let a_hat = gcn_normalized_adjacency(&dataset.graph);
        let rows = a_hat.slice_outer(mine.clone());
        let mut needed = vec![Vec::new(); size];
        for &j in rows.indices() {
            if !mine.contains(&j) {
                needed[owner(j)].push(j);
            }
        }
        for ids in &mut needed {
            ids.sort_unstable();
            ids.dedup();
        }
        let halo = exchange_needs(&world, &needed, mine.start)?;
        let mut column = std::collections::HashMap::new();
        let mut next = mine.len();
        for ids in &halo.recv {
            for &j in ids {
                column.insert(j, next);
                next += 1;
            }
        }
        let indices: Vec<usize> =
            rows.indices().iter().map(|&j| if mine.contains(&j) { j - mine.start } else { column[&j] }).collect();
        let indptr = rows.indptr().to_proper().into_owned();
        let a = SparseMatrix::from_csr(&indptr, &indices, rows.data(), (mine.len(), next), device)?;
        // The cut, counted from the graph itself (not from A_hat): edges of this rank's nodes to
        // other ranks' nodes, and their distinct far ends.
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
        (None, Halo { recv: vec![Vec::new(); size], send: vec![Vec::new(); size] }, 0, 0)
    };
    let received: usize = halo.recv.iter().map(Vec::len).sum();
    anyhow::ensure!(
        received == cut_endpoints,
        "rank {rank} receives {received} halo rows but its cut edges end on {cut_endpoints} other-rank nodes"
    );

    let features = &dataset.features; // CSR (NodeDataset's layout): sliced where it lies, not copied
    let x = features.slice_outer(mine.clone());
    let x = SparseMatrix::from_csr(&x.indptr().to_proper(), x.indices(), x.data(), (mine.len(), x.cols()), device)?;
    let (weights, biases) = (teacher.weights(), teacher.biases());
    let last = weights.len() - 1;
    let mut layers = Vec::new();
    let logits = tch::no_grad(|| -> Result<Tensor> {
        let mut h: Option<Tensor> = None;
        for (k, (w, b)) in weights.iter().zip(&biases).enumerate() {
            maybe_die(rank, &format!("layer{}", k + 1));
            let projected = match &h {
                None => x.matmul(w),
                Some(h) => h.matmul(w),
            };
            let width = projected.size()[1] as usize;
            let mut z = match &a_local {
                Some(a) => {
                    let far = exchange_rows(&world, &projected, &halo, width)?;
                    a.matmul(&Tensor::cat(&[&projected, &far], 0))
                }
                None => projected,
            } + *b;
            if k < last {
                z = z.relu();
            }
            layers.push((k + 1, width));
            h = Some(z);
        }
        Ok(h.expect("a model has at least one layer").to_device(Device::Cpu).to_kind(Kind::Float))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let values: Vec<f32> = Vec::try_from(logits.view([-1])).context("reading the logits back")?;

    // Halo figures of every rank, for the manifest.
    let local = [received as u64, cut_edges as u64, cut_endpoints as u64];
    let mut gathered = vec![0u64; 3 * size];
    world.all_gather_into(&local[..], &mut gathered[..]);
    let counts: Vec<usize> = gathered.iter().map(|&c| c as usize).collect();
    let per_rank = |k: usize| (0..size).map(|r| counts[3 * r + k]).collect::<Vec<_>>();
    let halo_layers: Vec<HaloLayer> = if a_local.is_some() {
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

    // Each rank writes its shard (atomically), then rank 0 writes the manifest once all have.
    let shard_file = shard_path(&args.out, rank, size);
    let targets =
        SoftTargets {
            logits: values,
            nodes: mine.len(),
            classes: dataset.num_classes,
            dataset: dataset.name.clone(),
            ensemble: None,
        };
    maybe_die(rank, "write");
    write_soft_targets(&shard_file, &targets)?;
    let mine_hash = logits_hash(&targets.logits);
    let hashes = super::all_gather_bytes(&world, mine_hash.as_bytes());
    if rank == 0 {
        let shards = (0..size)
            .map(|r| Shard {
                file: shard_path(&args.out, r, size).file_name().unwrap().to_string_lossy().into_owned(),
                first_node: range(n, r, size).start,
                nodes: range(n, r, size).len(),
                hash: String::from_utf8_lossy(&hashes[r]).into_owned(),
            })
            .collect();
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            version: 1,
            dataset: dataset.name.clone(),
            nodes: n,
            classes: dataset.num_classes,
            shards,
            halo: halo_layers.clone(),
        };
        let mut json = serde_json::to_vec_pretty(&manifest)?;
        json.push(b'\n');
        write_atomically(&args.out, &json)?;
        println!(
            "{}: logits of {n} nodes x {} classes on {size} ranks in {seconds:.2} s; wrote {size} shards and {}",
            teacher_path.display(),
            dataset.num_classes,
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

/// Tells every rank which of its rows this rank needs (`needed[q]`: global ids owned by rank q),
/// and learns which of its own rows (global ids from `first`) every other rank needs.
fn exchange_needs(world: &SimpleCommunicator, needed: &[Vec<usize>], first: usize) -> Result<Halo> {
    let size = needed.len();
    let send_counts: Vec<Count> = needed.iter().map(|ids| ids.len() as Count).collect();
    let mut recv_counts = vec![0 as Count; size];
    world.all_to_all_into(&send_counts[..], &mut recv_counts[..]);
    let ids: Vec<u64> = needed.iter().flatten().map(|&j| j as u64).collect();
    let mut asked = vec![0u64; recv_counts.iter().map(|&c| c as usize).sum()];
    {
        let send_displs = displacements(&send_counts);
        let recv_displs = displacements(&recv_counts);
        let send = Partition::new(&ids[..], &send_counts[..], &send_displs[..]);
        let mut recv = PartitionMut::new(&mut asked[..], &recv_counts[..], &recv_displs[..]);
        world.all_to_all_varcount_into(&send, &mut recv);
    }
    let mut send = Vec::with_capacity(size);
    let mut at = 0;
    for &c in &recv_counts {
        let rows: Vec<i64> = asked[at..at + c as usize].iter().map(|&j| (j as usize - first) as i64).collect();
        send.push(rows);
        at += c as usize;
    }
    Ok(Halo { recv: needed.to_vec(), send })
}

/// Sends every rank the rows of `projected` it asked for; returns the rows this rank asked for,
/// in the order of `halo.recv` (by owner, then by id).
fn exchange_rows(world: &SimpleCommunicator, projected: &Tensor, halo: &Halo, width: usize) -> Result<Tensor> {
    let host = projected.to_device(Device::Cpu).to_kind(Kind::Float);
    let send_rows: Vec<i64> = halo.send.iter().flatten().copied().collect();
    let out: Vec<f32> = if send_rows.is_empty() {
        Vec::new()
    } else {
        Vec::try_from(host.index_select(0, &Tensor::from_slice(&send_rows)).view([-1]))
            .context("reading the rows to send")?
    };
    let fits =
        |rows: usize| Count::try_from(rows * width).context("more than 2^31 halo values for one rank: use more ranks");
    let send_counts: Vec<Count> = halo.send.iter().map(|rows| fits(rows.len())).collect::<Result<_>>()?;
    let recv_counts: Vec<Count> = halo.recv.iter().map(|ids| fits(ids.len())).collect::<Result<_>>()?;
    let mut far = vec![0f32; recv_counts.iter().map(|&c| c as usize).sum()];
    {
        let send_displs = displacements(&send_counts);
        let recv_displs = displacements(&recv_counts);
        let send = Partition::new(&out[..], &send_counts[..], &send_displs[..]);
        let mut recv = PartitionMut::new(&mut far[..], &recv_counts[..], &recv_displs[..]);
        world.all_to_all_varcount_into(&send, &mut recv);
    }
    let rows = (far.len() / width.max(1)) as i64;
    Ok(Tensor::from_slice(&far).view([rows, width as i64]).to_device(projected.device()))
}

fn displacements(counts: &[Count]) -> Vec<Count> {
    counts.iter().scan(0, |acc, &n| Some(std::mem::replace(acc, *acc + n))).collect()
}
