//! `gdistill distill --soft-targets ... --model mlp` across P ranks: a data-parallel graph-less
//! student.
//!
//! Rank 0's initial weights are broadcast to every rank. Rank r trains on its own nodes
//! ([`super::rank_data`]): the contiguous range `r N / P .. (r + 1) N / P` of a dataset every rank
//! reads (the shard `gdistill soft-targets` wrote on rank r), or, with `--partitions DIR`, the
//! nodes of part r, read with shard r of the soft targets and nothing else.
//! An epoch has as many steps as a single process's (`ceil(N / batch)`); at each step every rank
//! takes the next slice of its own shuffled nodes, so the P slices together make one batch of
//! about `--batch-size` nodes. Each rank scales its loss by the global batch's sizes (its rows
//! over all ranks' rows; its training nodes over all ranks' training nodes, one small
//! all-reduce), so that the sum of the ranks' gradients is the gradient of the loss on the whole
//! batch, as one process would compute it. All gradients, flattened into one buffer with the
//! loss at its end, are summed by ONE all-reduce per step; the same gradients then go through
//! the same Adam step on every rank, so every rank holds the same weights after every step
//! (`GDISTILL_MPI_CHECK_WEIGHTS=1` checks it after each step by comparing a hash of the weights'
//! bits across ranks; it is always checked once at the end). Each rank evaluates its own
//! validation nodes; the correct counts and summed losses, added over the ranks by one
//! all-reduce, give every rank the same score and so the same best epoch. Test accuracy is
//! counted the same way; rank 0 reports it and writes the checkpoint (atomically).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use gdistill_datasets::partition_files::MANIFEST_NAME;
use gdistill_distill::{cross_entropy, save_checkpoint, soft_target_loss_from_log_probs};
use gdistill_models::{NodeModel, SparseMatrix};
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Root};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::rank_data::{self, index, RankData};
use super::replicas::{
    check_identical, flatten, ordered_variables, perturb_for_tests, unflatten, zero_grads, BestEpoch,
};
use super::shards::read_soft_targets_any;
use super::soft_targets::maybe_die;
use super::{check_same_inputs, correct_and_loss, describe_dataset, describe_file, sum_f64};
use crate::cmd::distill::{
    check_soft_targets_fit, mlp_student_config, soft_target_student_dataset, soft_target_student_meta, DistillArgs,
};
use crate::cmd::train::fingerprint;
use crate::output::epoch_bar;

pub fn run(args: &DistillArgs, path: &Path) -> Result<()> {
    let (rank, size) = super::ranks().context("not running across ranks")?;
    let world = super::world();
    let device = args.device.device()?;
    let (dataset, normalize) = soft_target_student_dataset(args)?;
    check_same_inputs(&world, &[("dataset", describe_dataset(&dataset)), ("soft targets", describe_file(path))])?;
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let targets = read_soft_targets_any(path)?;
    check_soft_targets_fit(path, &targets, &dataset, args.temperature)?;
    let n = dataset.num_nodes();
    anyhow::ensure!(n >= size, "{n} nodes cannot be shared among {size} ranks");
    let data = rank_data::from_dataset(&dataset, &targets, rank, size, fingerprint(&dataset, normalize));
    drop(targets);
    train(args, &world, data, path, device, serde_json::Value::Null)
}

/// `distill --partitions DIR --soft-targets MANIFEST`: rank r reads part r and shard r only.
pub fn run_partitioned(args: &DistillArgs, dir: &Path, path: &Path) -> Result<()> {
    let world = super::world();
    let device = args.device.device()?;
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let data = rank_data::from_partition(&world, dir, path, args.optim.normalize())?;
    check_same_inputs(
        &world,
        &[("partition manifest", describe_file(&dir.join(MANIFEST_NAME))), ("soft targets", describe_file(path))],
    )?;
    train(args, &world, data, path, device, serde_json::json!(dir))
}

/// Correct predictions and the summed cross-entropy on local rows `rows`, in chunks.
fn evaluate_rows(model: &dyn NodeModel, data: &RankData, rows: &[usize], device: Device) -> (f64, f64) {
    let (mut correct, mut loss) = (0.0, 0.0);
    for chunk in rows.chunks(65536) {
        let x = data.features.rows(chunk, device);
        let labels = Tensor::from_slice(&chunk.iter().map(|&r| data.labels[r]).collect::<Vec<_>>()).to(device);
        let out = tch::no_grad(|| model.forward_t(&x, &SparseMatrix::empty(0, device).expect("empty"), false).logits);
        let (c, l) = correct_and_loss(&out, &labels);
        (correct, loss) = (correct + c, loss + l);
    }
    (correct, loss)
}

/// Trains the data-parallel student on each rank's own rows (`data`); rank 0 writes the
/// checkpoint. `partitions`: the partition folder, recorded in the checkpoint (or null).
fn train(
    args: &DistillArgs,
    world: &SimpleCommunicator,
    data: RankData,
    path: &Path,
    device: Device,
    partitions: serde_json::Value,
) -> Result<()> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let fp = data.fingerprint.clone();
    let n = fp.nodes;
    let config = mlp_student_config(args, fp.features, fp.classes);
    let settings = args.optim.config();
    settings.validate().map_err(anyhow::Error::msg)?;
    let (temperature, alpha) = (args.temperature, args.alpha);
    let start = Instant::now();

    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    let variables = ordered_variables(&vs);
    // rank 0's initial weights everywhere
    let mut initial = flatten(&variables)?;
    world.process_at_rank(0).broadcast_into(&mut initial[..]);
    unflatten(&initial, &variables);
    // each rank its own shuffles and dropout masks
    tch::manual_seed((settings.seed as i64).wrapping_add(7919 * rank as i64));
    let mut opt = nn::Adam::default().build(&vs, settings.lr)?;
    opt.set_weight_decay(settings.weight_decay);
    // Every gradient defined (zero) from the start, and zeroed rather than dropped between steps,
    // so that a rank whose slice of a batch is empty still takes part in the sum.
    let zero = variables.iter().map(|v| v.sum(Kind::Float)).fold(Tensor::from(0f32), |a, b| a + b) * 0.0;
    zero.backward();

    let q = (&data.logits / temperature).log_softmax(-1, Kind::Float);
    let labels = Tensor::from_slice(&data.labels);
    let no_graph = SparseMatrix::empty(0, device)?;
    // every rank's row count: the schedule of a step's slices
    let mut lens = vec![0u64; size];
    world.all_gather_into(&(data.rows() as u64), &mut lens[..]);
    let lens: Vec<usize> = lens.into_iter().map(|l| l as usize).collect();
    anyhow::ensure!(lens.iter().sum::<usize>() == n, "the ranks hold {} rows of {n} nodes", lens.iter().sum::<usize>());
    let steps = n.div_ceil(args.batch_size);
    // rows of rank q's slice at step k: its rows cut into `steps` near-equal slices
    let slice = |len: usize, k: usize| (len * k / steps)..(len * (k + 1) / steps);
    let check_every_step = std::env::var_os("GDISTILL_MPI_CHECK_WEIGHTS").is_some_and(|v| v == "1");
    let val_total = sum_f64(world, &[data.val.len() as f64])[0];

    let bar = (rank == 0).then(|| epoch_bar("mlp+kd", settings.epochs));
    let mut best = BestEpoch::new(&variables, &settings)?;
    let (mut epochs_run, mut steps_run) = (0, 0usize);
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let order = Tensor::randperm(data.rows() as i64, (Kind::Int64, Device::Cpu));
        let order: Vec<i64> = Vec::try_from(&order)?;
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for k in 0..steps {
            maybe_die(rank, &format!("step{}", steps_run + 1));
            let nodes: Vec<usize> = order[slice(data.rows(), k)].iter().map(|&i| i as usize).collect();
            let batch_rows: usize = lens.iter().map(|&len| slice(len, k).len()).sum();
            let train_rows: Vec<i64> =
                nodes.iter().enumerate().filter(|(_, &i)| data.is_train[i]).map(|(r, _)| r as i64).collect();
            let mut train_total = 0u64;
            world.all_reduce_into(&(train_rows.len() as u64), &mut train_total, SystemOperation::sum());
            zero_grads(&variables);
            let mut local_loss = 0.0;
            if !nodes.is_empty() {
                let rows = index(&nodes);
                let x = data.features.rows(&nodes, device);
                let out = model.forward_t(&x, &no_graph, true).logits;
                let share = nodes.len() as f64 / batch_rows as f64;
                let soft = soft_target_loss_from_log_probs(&out, &q.index_select(0, &rows).to(device), temperature);
                let mut loss = soft * ((1.0 - alpha) * share);
                if alpha > 0.0 && !train_rows.is_empty() {
                    let t = Tensor::from_slice(&train_rows).to(device);
                    let hard = cross_entropy(
                        &out.index_select(0, &t),
                        &labels.index_select(0, &rows).to(device).index_select(0, &t),
                    );
                    loss = loss + hard * (alpha * train_rows.len() as f64 / train_total as f64);
                }
                loss.backward();
                local_loss = loss.double_value(&[]);
            }
            // one bucket: every gradient, then the loss
            let grads: Vec<Tensor> = variables.iter().map(Tensor::grad).collect();
            let mut bucket = flatten(&grads)?;
            bucket.push(local_loss as f32);
            let mut summed = vec![0f32; bucket.len()];
            world.all_reduce_into(&bucket[..], &mut summed[..], SystemOperation::sum());
            let loss = summed.pop().unwrap_or(0.0) as f64;
            unflatten(&summed, &grads);
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            steps_run += 1;
            perturb_for_tests(rank, steps_run, &variables);
            anyhow::ensure!(
                loss.is_finite(),
                "the loss became {loss} at epoch {} (soft targets, lr {}): try a lower --lr",
                epoch + 1,
                settings.lr
            );
            if check_every_step {
                check_identical(world, &variables, &format!("after step {steps_run}"))?;
            }
            loss_sum += loss * batch_rows as f64;
            seen += batch_rows;
        }
        // each rank evaluates its validation rows; the sums over all ranks give every rank the
        // same score
        let (correct, loss) = evaluate_rows(model.as_ref(), &data, &data.val, device);
        let summed = sum_f64(world, &[correct, loss]);
        let (val_acc, val_loss) =
            if val_total > 0.0 { (summed[0] / val_total, summed[1] / val_total) } else { (0.0, 0.0) };
        if best.after_epoch(epoch, (val_acc, val_loss), &variables, bar.as_ref(), loss_sum / seen.max(1) as f64)? {
            break;
        }
    }
    let (best_val_acc, best_epoch) = best.restore(world, &variables, bar)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let (correct, _) = evaluate_rows(model.as_ref(), &data, &data.test, device);
    let tested = sum_f64(world, &[correct, data.test.len() as f64]);
    let test_acc = if tested[1] > 0.0 { tested[0] / tested[1] } else { 0.0 };
    // Rank 0 reports and writes the checkpoint; every rank learns whether it did, so that no rank
    // ends with status 0 when the checkpoint was not written, and the job ends with rank 0's one
    // message (a full disk: `tests/mpi_full_disk.rs`).
    let saved = (|| -> Result<()> {
        if rank != 0 {
            return Ok(());
        }
        let checked = if check_every_step { "after every step" } else { "at the end" };
        println!(
        "mlp+kd from {} on {size} ranks: {} parameters, best epoch {} of {epochs_run}, val {best_val_acc:.4}, \
         test {test_acc:.4}, {train_seconds:.2} s; weights identical on all ranks (checked {checked}, {steps_run} steps); \
         all-reduce of {} bytes per rank per step",
        path.display(),
        config.num_params(),
        best_epoch + 1,
        (config.num_params() + 1) * 4,
    );
        if let Some(out) = &args.out {
            let mut meta = soft_target_student_meta(args, config, fp, path, &settings, best_val_acc);
            meta.training["ranks"] = size.into();
            if !partitions.is_null() {
                meta.training["partitions"] = partitions;
            }
            maybe_die(rank, "checkpoint");
            save_checkpoint(out, &vs, &meta).context("saving the checkpoint")?;
            println!("saved {}", out.display());
        }
        Ok(())
    })();
    super::agree(world, saved)
}
