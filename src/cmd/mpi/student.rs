//! `gdistill distill --soft-targets ... --model mlp` across P ranks: a data-parallel graph-less
//! student.
//!
//! Rank 0's initial weights are broadcast to every rank. Rank r trains on its own contiguous
//! range of nodes (`r N / P .. (r + 1) N / P`, the shard `gdistill soft-targets` wrote on rank r).
//! An epoch has as many steps as a single process's (`ceil(N / batch)`); at each step every rank
//! takes the next slice of its own shuffled nodes, so the P slices together make one batch of
//! about `--batch-size` nodes. Each rank scales its loss by the global batch's sizes (its rows
//! over all ranks' rows; its training nodes over all ranks' training nodes, one small
//! all-reduce), so that the sum of the ranks' gradients is the gradient of the loss on the whole
//! batch, as one process would compute it. All gradients, flattened into one buffer with the
//! loss at its end, are summed by ONE all-reduce per step; the same gradients then go through
//! the same Adam step on every rank, so every rank holds the same weights after every step
//! (`GDISTILL_MPI_CHECK_WEIGHTS=1` checks it after each step by comparing a hash of the weights'
//! bits across ranks; it is always checked once at the end). Rank 0 evaluates on the
//! validation nodes and broadcasts the score, so every rank keeps the same best epoch; rank 0
//! reports test accuracy and writes the checkpoint (atomically).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use gdistill_distill::chunked::chunked_logits;
use gdistill_distill::minibatch::dense_rows;
use gdistill_distill::{accuracy, cross_entropy, save_checkpoint, soft_target_loss_from_log_probs};
use gdistill_models::SparseMatrix;
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Root};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::shards::read_soft_targets_any;
use super::soft_targets::maybe_die;
use super::{broadcast_f64, check_same_inputs, describe_dataset, describe_file, range, Fnv};
use crate::cmd::distill::{
    check_soft_targets_fit, mlp_student_config, soft_target_student_dataset, soft_target_student_meta, DistillArgs,
};
use crate::output::epoch_bar;

/// The model's variables in name order (the same order on every rank: `VarStore::variables` is
/// a hash map, whose order differs between processes).
pub(super) fn ordered_variables(vs: &nn::VarStore) -> Vec<Tensor> {
    vs.variables().into_iter().collect::<BTreeMap<_, _>>().into_values().collect()
}

pub(super) fn flatten(tensors: &[Tensor]) -> Result<Vec<f32>> {
    let flat = Tensor::cat(&tensors.iter().map(|t| t.to_device(Device::Cpu).view([-1])).collect::<Vec<_>>(), 0);
    Ok(Vec::try_from(flat.to_kind(Kind::Float))?)
}

/// Copies consecutive slices of `values` into `tensors`.
pub(super) fn unflatten(values: &[f32], tensors: &[Tensor]) {
    let mut at = 0;
    tch::no_grad(|| {
        for t in tensors {
            let n = t.numel();
            let part = Tensor::from_slice(&values[at..at + n]).view(t.size().as_slice()).to_device(t.device());
            t.shallow_clone().copy_(&part);
            at += n;
        }
    });
}

/// A hash of the weights' exact bits.
fn weights_hash(variables: &[Tensor]) -> Result<u64> {
    Ok(Fnv::default().f32s(&flatten(variables)?).finish())
}

/// Whether every rank's weights hash the same; `Err` names the step and the hashes.
pub(super) fn check_identical(world: &SimpleCommunicator, variables: &[Tensor], when: &str) -> Result<()> {
    let mine = weights_hash(variables)?;
    let mut all = vec![0u64; world.size() as usize];
    world.all_gather_into(&mine, &mut all[..]);
    anyhow::ensure!(
        all.iter().all(|&h| h == all[0]),
        "the ranks' weights differ {when}: hashes {}",
        all.iter().map(|h| format!("{h:016x}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// The test hook behind `GDISTILL_MPI_TEST_PERTURB=RANK:STEP`: the rank named nudges one weight
/// after that step, so that the tests can see the weight check catch ranks that drift apart.
pub(super) fn perturb_for_tests(rank: usize, step: usize, variables: &[Tensor]) {
    if std::env::var("GDISTILL_MPI_TEST_PERTURB").is_ok_and(|s| s == format!("{rank}:{step}")) {
        tch::no_grad(|| {
            let mut v = variables[0].shallow_clone();
            v += 1e-3;
        });
    }
}

pub(super) fn zero_grads(variables: &[Tensor]) {
    tch::no_grad(|| {
        for v in variables {
            let _ = v.grad().zero_();
        }
    });
}

fn index(nodes: &[usize]) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&i| i as i64).collect::<Vec<_>>())
}

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
    let config = mlp_student_config(args, &dataset);
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

    let logits = Tensor::from_slice(&targets.logits).view([n as i64, targets.classes as i64]);
    let q = (logits / temperature).log_softmax(-1, Kind::Float);
    let features = &dataset.features; // CSR (NodeDataset's layout)
    let labels = Tensor::from_slice(&dataset.labels.iter().map(|&y| y as i64).collect::<Vec<_>>());
    let mut is_train = vec![false; n];
    for &i in &dataset.train {
        is_train[i] = true;
    }
    let no_graph = SparseMatrix::empty(0, device)?;
    let shards: Vec<std::ops::Range<usize>> = (0..size).map(|r| range(n, r, size)).collect();
    let mine = shards[rank].clone();
    let steps = n.div_ceil(args.batch_size);
    // rows of rank q's slice at step k: its shard cut into `steps` near-equal slices
    let slice = |len: usize, k: usize| (len * k / steps)..(len * (k + 1) / steps);
    let check_every_step = std::env::var_os("GDISTILL_MPI_CHECK_WEIGHTS").is_some_and(|v| v == "1");
    let val = dataset.val.clone();
    let val_labels = labels.index_select(0, &index(&val)).to(device);

    let bar = (rank == 0).then(|| epoch_bar("mlp+kd", settings.epochs));
    let mut best = (f64::NEG_INFINITY, f64::INFINITY, 0usize, flatten(&variables)?);
    let (mut epochs_run, mut steps_run) = (0, 0usize);
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let order = Tensor::randperm(mine.len() as i64, (Kind::Int64, Device::Cpu));
        let order: Vec<i64> = Vec::try_from(&order)?;
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for k in 0..steps {
            maybe_die(rank, &format!("step{}", steps_run + 1));
            let nodes: Vec<usize> = order[slice(mine.len(), k)].iter().map(|&i| mine.start + i as usize).collect();
            let batch_rows: usize = shards.iter().map(|s| slice(s.len(), k).len()).sum();
            let train_rows: Vec<i64> =
                nodes.iter().enumerate().filter(|(_, &i)| is_train[i]).map(|(r, _)| r as i64).collect();
            let mut train_total = 0u64;
            world.all_reduce_into(&(train_rows.len() as u64), &mut train_total, SystemOperation::sum());
            zero_grads(&variables);
            let mut local_loss = 0.0;
            if !nodes.is_empty() {
                let rows = index(&nodes);
                let x = dense_rows(features, &nodes, device);
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
                check_identical(&world, &variables, &format!("after step {steps_run}"))?;
            }
            loss_sum += loss * batch_rows as f64;
            seen += batch_rows;
        }
        // rank 0 evaluates; every rank records the same score
        let mut score = [0.0f64; 2];
        if rank == 0 && !val.is_empty() {
            let x = dense_rows(features, &val, device);
            let out = tch::no_grad(|| model.forward_t(&x, &no_graph, false).logits);
            score[0] =
                out.argmax(-1, false).eq_tensor(&val_labels).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
            score[1] = tch::no_grad(|| cross_entropy(&out, &val_labels)).double_value(&[]);
        }
        broadcast_f64(&world, &mut score);
        let [val_acc, val_loss] = score;
        if settings.select.improves(val_acc, val_loss, best.0, best.1) {
            best = (val_acc, val_loss, epoch, flatten(&variables)?);
        }
        if let Some(bar) = &bar {
            bar.set_position(epoch as u64 + 1);
            bar.set_message(format!("loss {:.4} val {val_acc:.3}", loss_sum / seen.max(1) as f64));
        }
        if settings.patience.is_some_and(|p| epoch - best.2 >= p) {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    check_identical(&world, &variables, "at the end of training")?;
    unflatten(&best.3, &variables);
    let (best_val_acc, best_epoch) = (best.0.max(0.0), best.2);
    let train_seconds = start.elapsed().as_secs_f64();
    if rank != 0 {
        return Ok(());
    }
    let all = chunked_logits(model.as_ref(), &dataset, device, 65536)?;
    let test = index(&dataset.test);
    let test_acc = accuracy(&all, &labels, &test);
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
        let mut meta = soft_target_student_meta(args, config, &dataset, normalize, path, &settings, best_val_acc);
        meta.training["ranks"] = size.into();
        maybe_die(rank, "checkpoint");
        save_checkpoint(out, &vs, &meta).context("saving the checkpoint")?;
        println!("saved {}", out.display());
    }
    Ok(())
}
