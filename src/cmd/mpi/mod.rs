//! Runs across processes and machines on MPI (Open MPI through rsmpi), launched by `mpirun -np P`
//! or `srun`.
//!
//! A process that no launcher started (no `OMPI_COMM_WORLD_SIZE`, `PMI_SIZE` or Slurm step with
//! PMIx in its environment), or one started as a single rank, never initialises MPI: every
//! command then behaves exactly as without this module. With P > 1 ranks, two commands run
//! across them:
//!
//! - `gdistill soft-targets`: partitioned layer-wise teacher inference with halo exchange
//!   ([`soft_targets`]), written as one shard per rank plus a manifest ([`shards`]);
//! - `gdistill distill --soft-targets ... --model mlp`: a data-parallel student ([`student`]);
//! - `gdistill train --partitions DIR --sampler neighbor`: a GCN or SAGE teacher trained
//!   data-parallel on sampled mini-batches, each rank reading only its part ([`train`]).
//!
//! Every other command is refused under P > 1 ranks. An error on any rank aborts the whole job
//! (`MPI_Abort`) after printing it, so no rank waits forever on a collective its peer will never
//! join; a rank killed outright is detected by the launcher, which ends the others.

pub mod exchange;
pub mod halo;
pub mod layerwise;
pub mod part_sampler;
pub mod rank_data;
pub mod replicas;
pub mod shards;
pub mod soft_targets;
pub mod student;
pub mod train;

use std::cell::Cell;

use anyhow::Result;
use mpi::collective::CommunicatorCollectives;
use mpi::datatype::PartitionMut;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Count;

/// Why another command is refused across ranks.
pub const ONLY_THESE_COMMANDS: &str = "only `gdistill soft-targets`, `gdistill distill --soft-targets` and \
     `gdistill train --partitions` run across MPI ranks: run this command without mpirun (or with one rank)";

thread_local! {
    /// Rank and size of this process, once MPI is up with more than one rank.
    static RANKS: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// The number of ranks a launcher announces in the environment, if any.
fn launched_size() -> Option<usize> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok());
    var("OMPI_COMM_WORLD_SIZE")
        .or_else(|| var("PMI_SIZE"))
        .or_else(|| std::env::var_os("PMIX_RANK").and_then(|_| var("SLURM_STEP_NUM_TASKS")))
}

/// Initialises MPI when a launcher started this process as one of several ranks; the returned
/// universe finalises MPI when dropped (keep it alive until the end of `main`).
pub fn launch() -> Option<mpi::environment::Universe> {
    if launched_size()? < 2 {
        return None;
    }
    let universe = mpi::initialize()?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if size > 1 {
        RANKS.with(|r| r.set(Some((rank, size))));
    }
    Some(universe)
}

/// `(rank, size)` when running across more than one rank.
pub fn ranks() -> Option<(usize, usize)> {
    RANKS.with(Cell::get)
}

/// Ends the job after an error on this rank: under MPI, `MPI_Abort` on every rank (the others
/// may be waiting in a collective); otherwise a plain exit.
pub fn exit_on_error(code: i32) -> ! {
    if ranks().is_some() {
        world().abort(code)
    }
    std::process::exit(code)
}

/// The world communicator (MPI must be up).
pub fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

/// `[start, end)` of part `part` of `n` items cut into `parts` contiguous ranges.
pub fn range(n: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    (n * part / parts)..(n * (part + 1) / parts)
}

/// MPI's counts and displacements (32-bit) for consecutive blocks of `lengths` values, in
/// order: refused with a message, never wrapped, when the blocks together hold more than
/// `i32::MAX` values (a count or a displacement past it would wrap around silently; MPI 3's
/// 32-bit counts cannot say it). `what` names the exchange.
pub fn counts_and_displacements(
    lengths: impl IntoIterator<Item = usize>,
    what: &str,
) -> Result<(Vec<Count>, Vec<Count>)> {
    let lengths: Vec<usize> = lengths.into_iter().collect();
    let total = lengths.iter().try_fold(0usize, |at, &n| at.checked_add(n));
    let fits = total.is_some_and(|t| Count::try_from(t).is_ok());
    anyhow::ensure!(
        fits,
        "{what}: {} values in one exchange, more than MPI's 32-bit counts allow ({}): use more ranks",
        total.map_or_else(|| "more than 2^64".to_string(), |t| t.to_string()),
        Count::MAX
    );
    let counts: Vec<Count> = lengths.iter().map(|&n| n as Count).collect();
    let displacements = counts.iter().scan(0, |at, &n| Some(std::mem::replace(at, *at + n))).collect();
    Ok((counts, displacements))
}

/// Every rank's `bytes`, in rank order, on every rank. A message over 2 GiB in all ends the job.
pub fn all_gather_bytes(world: &SimpleCommunicator, bytes: &[u8]) -> Vec<Vec<u8>> {
    let size = world.size() as usize;
    let mine = match Count::try_from(bytes.len()) {
        Ok(n) => n,
        Err(_) => {
            eprintln!("error: {} bytes to gather from one rank, more than MPI's 32-bit counts allow", bytes.len());
            exit_on_error(1)
        }
    };
    let mut lengths = vec![0 as Count; size];
    world.all_gather_into(&mine, &mut lengths[..]);
    let displs = match counts_and_displacements(lengths.iter().map(|&n| n as usize), "gathering every rank's bytes") {
        Ok((_, displs)) => displs,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_on_error(1)
        }
    };
    let mut all = vec![0u8; lengths.iter().map(|&n| n as usize).sum()];
    {
        let mut partition = PartitionMut::new(&mut all[..], &lengths[..], &displs[..]);
        world.all_gather_varcount_into(bytes, &mut partition);
    }
    let mut out = Vec::with_capacity(size);
    let mut at = 0;
    for &n in &lengths {
        out.push(all[at..at + n as usize].to_vec());
        at += n as usize;
    }
    out
}

/// Every rank's result of a step each takes on its own (reading its inputs, writing its shard or
/// the checkpoint): its value where every rank succeeded; otherwise one error on rank 0 naming
/// each rank's failure (identical failures once), while the other ranks wait for rank 0 to end
/// the job. Every rank must call it.
///
/// On failure every rank first drops what it holds (`mine`: a staged or published file removes
/// itself) and meets the others at a barrier, so that rank 0's abort cannot kill a rank before
/// it has cleaned up.
pub fn agree<T>(world: &SimpleCommunicator, mine: Result<T>) -> Result<T> {
    // a status byte first: MPI refuses an all-gather of nothing at all
    let message = match &mine {
        Ok(_) => "+".to_string(),
        Err(e) => format!("-{e:#}"),
    };
    let all = all_gather_bytes(world, message.as_bytes());
    let failed: Vec<(usize, String)> = all
        .iter()
        .enumerate()
        .filter(|(_, m)| m.first() == Some(&b'-'))
        .map(|(r, m)| (r, String::from_utf8_lossy(&m[1..]).into_owned()))
        .collect();
    if failed.is_empty() {
        return mine;
    }
    drop(mine);
    world.barrier();
    if world.rank() != 0 {
        world.barrier();
    }
    let all_same = failed.len() == all.len() && failed.iter().all(|(_, m)| *m == failed[0].1);
    if all_same {
        anyhow::bail!("{}", failed[0].1);
    }
    let each: Vec<String> = failed.iter().map(|(r, m)| format!("rank {r}: {m}")).collect();
    anyhow::bail!("{}", each.join("; "))
}

/// Sums `values` over the ranks; every rank gets the sums.
pub fn sum_f64(world: &SimpleCommunicator, values: &[f64]) -> Vec<f64> {
    let mut total = vec![0f64; values.len()];
    world.all_reduce_into(values, &mut total[..], mpi::collective::SystemOperation::sum());
    total
}

/// Correct predictions and summed cross-entropy of `logits` against `labels` (one row each), the
/// two figures the ranks add up to score an evaluation.
pub fn correct_and_loss(logits: &tch::Tensor, labels: &tch::Tensor) -> (f64, f64) {
    let correct = logits.argmax(-1, false).eq_tensor(labels).sum(tch::Kind::Double).double_value(&[]);
    let loss = tch::no_grad(|| gdistill_distill::cross_entropy(logits, labels)).double_value(&[]);
    (correct, loss * labels.size()[0] as f64)
}

/// FNV-1a, 64 bits: a fingerprint of inputs and weights (not a cryptographic hash).
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
    pub fn usizes(&mut self, values: &[usize]) -> &mut Self {
        for &v in values {
            self.bytes(&(v as u64).to_le_bytes());
        }
        self
    }
    pub fn f32s(&mut self, values: &[f32]) -> &mut Self {
        for &v in values {
            self.bytes(&v.to_bits().to_le_bytes());
        }
        self
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// A description of a dataset that differs whenever its content does: name, sizes and a hash of
/// graph, features, labels and splits.
pub fn describe_dataset(dataset: &gdistill_datasets::NodeDataset) -> String {
    let mut h = Fnv::default();
    let graph = dataset.graph.csr();
    h.usizes(&dataset.graph.indptr()).usizes(graph.indices()).f32s(graph.data());
    let features = &dataset.features; // CSR (NodeDataset's layout): hashed where it lies, not copied
    h.usizes(&features.indptr().to_proper()).usizes(features.indices()).f32s(features.data());
    h.usizes(&dataset.labels).usizes(&dataset.train).usizes(&dataset.val).usizes(&dataset.test);
    format!(
        "'{}' ({} nodes, {} features, {} classes, content {:016x})",
        dataset.name,
        dataset.num_nodes(),
        dataset.num_features(),
        dataset.num_classes,
        h.finish()
    )
}

/// A description of a file's content (its size and hash), or why it cannot be read.
pub fn describe_file(path: &std::path::Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => format!("{} bytes, content {:016x}", bytes.len(), Fnv::default().bytes(&bytes).finish()),
        Err(e) => format!("unreadable ({e})"),
    }
}

/// Compares this rank's inputs with every other rank's, item by item (`(what, description)`, the
/// same items in the same order on every rank); refuses to go on, on every rank, with a message
/// naming each item that differs and what each rank has, when they are not all the same.
/// The command line is always one of the items.
pub fn check_same_inputs(world: &SimpleCommunicator, items: &[(&str, String)]) -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut mine = vec![("command line".to_string(), args.join(" "))];
    mine.extend(items.iter().map(|(what, value)| (what.to_string(), value.clone())));
    let encoded = serde_json::to_vec(&mine)?;
    let all = all_gather_bytes(world, &encoded);
    let all: Vec<Vec<(String, String)>> = all.iter().map(|b| serde_json::from_slice(b)).collect::<Result<_, _>>()?;
    let mut differences = Vec::new();
    for (k, (what, _)) in mine.iter().enumerate() {
        let values: Vec<&str> = all.iter().map(|items| items.get(k).map_or("(missing)", |i| i.1.as_str())).collect();
        if values.iter().any(|v| *v != values[0]) {
            let per_rank: Vec<String> = values.iter().enumerate().map(|(r, v)| format!("rank {r}: {v}")).collect();
            differences.push(format!("{what} differs ({})", per_rank.join("; ")));
        }
    }
    anyhow::ensure!(
        differences.is_empty(),
        "the {} ranks were started on different inputs: {}",
        all.len(),
        differences.join("; ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::counts_and_displacements;

    /// Counts and displacements are MPI's 32-bit integers: blocks that hold more than i32::MAX
    /// values together are refused with a message instead of wrapping (no buffer of that size is
    /// made: only the lengths are given).
    #[test]
    fn counts_past_i32_are_refused_not_wrapped() {
        let (counts, displs) = counts_and_displacements([3, 0, 4], "test").unwrap();
        assert_eq!((counts, displs), (vec![3, 0, 4], vec![0, 3, 3]));
        let max = i32::MAX as usize;
        assert!(counts_and_displacements([max], "test").is_ok());
        for lengths in [vec![max + 1], vec![max, 1], vec![1 << 31, 1 << 31], vec![usize::MAX, 2]] {
            let e = counts_and_displacements(lengths.clone(), "sending halo rows").unwrap_err().to_string();
            assert!(e.starts_with("sending halo rows: ") && e.contains("more than MPI's 32-bit counts allow"), "{e}");
            assert!(e.contains("use more ranks"), "{lengths:?}: {e}");
        }
    }
}
