//! `gdistill train --partitions DIR --sampler neighbor` across P ranks: a GCN or SAGE teacher
//! trained data-parallel on neighbour-sampled mini-batches, each rank reading only its part file.
//!
//! Rank r reads part r (`gdistill partition --parts P`): its nodes' features (dense ones as dense
//! rows, 4 B a value, never as CSR), labels, split and adjacency rows, and the owners of its halo. It samples batches from its own training nodes
//! over the whole graph through [`PartSampler`] (the owners of remote nodes sample for it, then
//! send the feature rows and degrees of every remote node the batch reached), so rank r's batch
//! is the one a single process would sample for the same seeds. An epoch has
//! `ceil(training nodes of all ranks / --batch-size)` steps on every rank; at step k each rank
//! takes the k-th of that many near-equal slices of its own shuffled training nodes, so the
//! slices together make one batch of about `--batch-size` seeds, and a rank with few (or no)
//! training nodes still joins every exchange with an empty slice. Every rank samples step k of
//! epoch e with the same batch seed, the one [`NeighborLoader`] gives batch k.
//!
//! Each rank's loss is the sum of its seeds' cross-entropies over the batch's seeds on ALL ranks
//! (one 8-byte all-reduce), plus, on rank 0 alone, the weight decay: the sum of the ranks' losses
//! is the single-process loss of the union batch, and so is the sum of their gradients. Those
//! gradients, flattened with the loss into one buffer, are summed by ONE all-reduce per step; the
//! same Adam step then runs on every rank from rank 0's initial weights, so the weights stay
//! identical (`GDISTILL_MPI_CHECK_WEIGHTS=1` compares a hash of their bits after every step; it
//! is always compared at the end).
//!
//! Validation runs after every epoch: each rank evaluates its own validation nodes on their full
//! neighbourhoods, and the counts are summed, so every rank takes the same early-stopping
//! decision. The kept weights are evaluated on the test nodes the same way. Few nodes are
//! evaluated by the same sampler with every neighbour taken (exactly the full-graph rows); many,
//! layer-wise with one halo exchange per layer ([`super::layerwise`]; the rule:
//! [`Evaluation::layer_wise`]). Then rank 0 writes the checkpoint (atomically), which
//! `gdistill eval` and `distill` read in one process.
//!
//! The bytes each rank moved (sampling requests and replies, feature rows and degrees, the
//! gradient all-reduce) are counted and printed per epoch, split into training and evaluation.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use gdistill_datasets::partition_files::{
    open_listed_part_with, part_file_name, read_manifest_for, PartData, PartFeatures, MANIFEST_NAME,
};
use gdistill_distill::{cross_entropy, l2_penalty, save_checkpoint, CheckpointMeta, DatasetFingerprint};
use gdistill_graph::{NeighborLoader, NeighborSampler};
use gdistill_models::{record_sparse_products, Arch, NodeFeatures, NodeModel};
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Root};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::exchange::Traffic;
use super::layerwise::LayerWise;
use super::part_sampler::{block_matrices, PartSampler};
use super::replicas::{
    check_identical, flatten, ordered_variables, perturb_for_tests, unflatten, zero_grads, BestEpoch,
};
use super::soft_targets::maybe_die;
use super::{check_same_inputs, correct_and_loss, describe_file, sum_f64};
use crate::cmd::sampler_args::SamplerArg;
use crate::cmd::train::TrainArgs;
use crate::output::epoch_bar;

/// Seeds per evaluation batch (full neighbourhoods).
const EVAL_BATCH: usize = 1024;

/// Why `train` is refused across ranks without what it needs.
const NEEDS: &str = "across MPI ranks, `gdistill train` runs only with --partitions DIR (from `gdistill partition`) \
     and --sampler neighbor; otherwise run this command without mpirun (or with one rank)";

/// Reads this rank's part, checking the manifest's part count and the part file's hash before
/// any collective; the manifest is the same for every rank, so rank 0 alone reports what is
/// wrong with it and the job ends with one message.
/// Dense features (a CSBM's) are left on disk here, to be read as dense rows (4 B a value, not
/// CSR's 12): see [`PartFeatures::DenseLater`].
fn open_part(world: &SimpleCommunicator, dir: &Path, rank: usize, size: usize) -> Result<PartData> {
    let manifest = match read_manifest_for(dir, size) {
        Err(e) if rank != 0 => {
            world.barrier();
            return Err(e.into());
        }
        other => other?,
    };
    Ok(open_listed_part_with(dir, manifest, rank, size, PartFeatures::DenseLater, true)?.1)
}

fn sum_u64(world: &SimpleCommunicator, value: u64, traffic: &mut Traffic) -> u64 {
    let mut out = 0u64;
    world.all_reduce_into(&value, &mut out, SystemOperation::sum());
    if world.size() > 1 {
        traffic.add(Traffic { sent: 8, received: 8 });
    }
    out
}

/// How the evaluation of a set of nodes is computed: the sampled path or layer-wise (see
/// [`Evaluation::layer_wise`]), and the layer-wise state, built on first use and kept.
struct Evaluation {
    /// Adjacency entries (without self-loops) over all ranks, and nodes.
    entries: f64,
    nodes: f64,
    layers: usize,
    /// `GDISTILL_MPI_EVAL=sampled|layerwise` forces one path (tests, measurements).
    forced: Option<bool>,
    state: Option<LayerWise>,
    /// The path the last evaluation took.
    last: &'static str,
}

impl Evaluation {
    fn new(world: &SimpleCommunicator, part: &PartData, layers: usize, traffic: &mut Traffic) -> Result<Evaluation> {
        let forced = match std::env::var("GDISTILL_MPI_EVAL").ok().as_deref() {
            None | Some("") => None,
            Some("sampled") => Some(false),
            Some("layerwise") => Some(true),
            Some(other) => anyhow::bail!("GDISTILL_MPI_EVAL is sampled or layerwise, not {other}"),
        };
        let entries = sum_u64(world, part.graph.indices.len() as u64, traffic) as f64;
        Ok(Evaluation { entries, nodes: part.num_nodes as f64, layers, forced, state: None, last: "sampled" })
    }

    /// Whether evaluating `evaluated` nodes (over all ranks) goes layer-wise: when their full
    /// neighbourhoods would reach at least the whole graph, counting `1 + d + ... + d^L` nodes for
    /// each (mean degree `d`, `L` layers, no overlap), since layer-wise inference computes every
    /// node's `L` layers once with one halo exchange per layer, and the sampled path fetches and
    /// computes each neighbourhood anew. The same on every rank.
    fn layer_wise(&self, evaluated: f64) -> bool {
        let d = self.entries / self.nodes.max(1.0);
        let reach: f64 = (0..=self.layers).map(|k| d.powi(k as i32)).sum();
        self.forced.unwrap_or(evaluated * reach >= self.nodes)
    }
}

/// Correct predictions, summed cross-entropy and count over this rank's `nodes`, with every
/// neighbour taken (the full-graph rows), by the path [`Evaluation::layer_wise`] picks;
/// collective. Halo bytes are counted in `sampler.traffic`.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    world: &SimpleCommunicator,
    sampler: &mut PartSampler,
    eval: &mut Evaluation,
    model: &dyn NodeModel,
    part: &PartData,
    nodes: &[usize],
    device: Device,
) -> Result<(f64, f64, f64)> {
    let mut evaluated = 0u64;
    world.all_reduce_into(&(nodes.len() as u64), &mut evaluated, SystemOperation::sum());
    let layer_wise = eval.layer_wise(evaluated as f64);
    eval.last = if layer_wise { "layer-wise" } else { "sampled" };
    if !layer_wise {
        return evaluate_sampled(world, sampler, model, part, nodes, eval.layers, device);
    }
    if eval.state.is_none() {
        eval.state = Some(LayerWise::new(world, part, device)?);
    }
    let state = eval.state.as_ref().expect("built above");
    // a view of the sampler's rows on the CPU (no copy), dropped before anything else
    let x = sampler.owned_features(device)?;
    let (logits, halo) = state.logits(world, model, &x)?;
    drop(x);
    sampler.traffic.add(halo);
    if nodes.is_empty() {
        return Ok((0.0, 0.0, 0.0));
    }
    let rows = nodes
        .iter()
        .map(|&v| part.graph.local_row(v).map(|r| r as i64))
        .collect::<Option<Vec<i64>>>()
        .context("a node this rank does not own")?;
    let logits = logits.index_select(0, &Tensor::from_slice(&rows).to(logits.device()));
    dump_logits(world, nodes, &logits)?;
    let (correct, loss) = correct_and_loss(&logits, &labels_of(part, nodes, device)?);
    Ok((correct, loss, nodes.len() as f64))
}

/// The test hook behind `GDISTILL_MPI_DUMP_LOGITS=PATH`: each rank writes, as JSON, the nodes it
/// evaluated layer-wise and their logits to `PATH.RANK` (the last evaluation wins), so that a
/// test can compare them with one process's full-graph forward pass.
fn dump_logits(world: &SimpleCommunicator, nodes: &[usize], logits: &Tensor) -> Result<()> {
    let Some(path) = std::env::var_os("GDISTILL_MPI_DUMP_LOGITS") else { return Ok(()) };
    let mut path = path;
    path.push(format!(".{}", world.rank()));
    let values: Vec<f32> = Vec::try_from(logits.to_device(Device::Cpu).to_kind(Kind::Float).view([-1]))?;
    let json = serde_json::json!({ "nodes": nodes, "logits": values });
    std::fs::write(&path, serde_json::to_vec(&json)?).with_context(|| format!("writing {}", path.to_string_lossy()))
}

/// [`evaluate`] by sampling each node's full neighbourhood, in batches of [`EVAL_BATCH`] seeds;
/// collective (every rank runs the same number of batches).
fn evaluate_sampled(
    world: &SimpleCommunicator,
    sampler: &mut PartSampler,
    model: &dyn NodeModel,
    part: &PartData,
    nodes: &[usize],
    layers: usize,
    device: Device,
) -> Result<(f64, f64, f64)> {
    let mut batches = 0u64;
    world.all_reduce_into(&(nodes.len().div_ceil(EVAL_BATCH) as u64), &mut batches, SystemOperation::max());
    let all = vec![NeighborSampler::ALL; layers];
    let (mut correct, mut loss) = (0.0, 0.0);
    for k in 0..batches as usize {
        let seeds = nodes.get(k * EVAL_BATCH..((k + 1) * EVAL_BATCH).min(nodes.len())).unwrap_or(&[]);
        let b = sampler.sample(seeds, &all, 0)?;
        if seeds.is_empty() {
            continue;
        }
        let blocks = block_matrices(&b, Default::default(), device)?;
        let x = NodeFeatures::Dense(b.features.to(device));
        let logits = tch::no_grad(|| model.forward_blocks_t(&x, &blocks, false))?.logits;
        let (c, l) = correct_and_loss(&logits, &labels_of(part, seeds, device)?);
        (correct, loss) = (correct + c, loss + l);
    }
    Ok((correct, loss, nodes.len() as f64))
}

fn labels_of(part: &PartData, nodes: &[usize], device: Device) -> Result<Tensor> {
    let labels = nodes
        .iter()
        .map(|&v| part.graph.local_row(v).map(|r| part.labels[r] as i64))
        .collect::<Option<Vec<i64>>>()
        .context("a seed this rank does not own")?;
    Ok(Tensor::from_slice(&labels).to(device))
}

/// The test hook behind `GDISTILL_MPI_DUMP_FIRST_STEP=PATH`: rank 0 writes, as JSON, the first
/// step's batch seed, every rank's seeds, the initial weights and the summed gradient by
/// variable name, so that a test can recompute the union batch's gradient in one process.
fn dump_first_step(
    world: &SimpleCommunicator,
    names: &[String],
    initial: &[f32],
    gradient: &[f32],
    variables: &[Tensor],
    seeds: &[usize],
    batch_seed: u64,
) -> Result<()> {
    let Some(path) = std::env::var_os("GDISTILL_MPI_DUMP_FIRST_STEP") else { return Ok(()) };
    let all = super::all_gather_bytes(world, &serde_json::to_vec(seeds)?);
    if world.rank() != 0 {
        return Ok(());
    }
    let seeds: Vec<Vec<usize>> = all.iter().map(|b| serde_json::from_slice(b)).collect::<Result<_, _>>()?;
    let (mut init, mut grad, mut at) = (BTreeMap::new(), BTreeMap::new(), 0);
    for (name, v) in names.iter().zip(variables) {
        let n = v.numel();
        init.insert(name.clone(), initial[at..at + n].to_vec());
        grad.insert(name.clone(), gradient[at..at + n].to_vec());
        at += n;
    }
    let json = serde_json::json!({ "batch_seed": batch_seed, "seeds": seeds, "initial": init, "gradient": grad });
    std::fs::write(&path, serde_json::to_vec(&json)?).with_context(|| format!("writing {}", path.to_string_lossy()))
}

pub fn run(args: TrainArgs) -> Result<()> {
    let (rank, size) = super::ranks().context("not running across ranks")?;
    let world = super::world();
    let dir = match (&args.partitions, &args.dataset, args.sampling.sampler) {
        (Some(dir), None, Some(SamplerArg::Neighbor)) => dir.clone(),
        (Some(_), Some(_), _) => {
            anyhow::bail!("give --dataset or --partitions, not both (the partition names its dataset)")
        }
        _ => anyhow::bail!(NEEDS),
    };
    anyhow::ensure!(
        matches!(args.model.model, Arch::Gcn | Arch::Sage),
        "across MPI ranks, train builds gcn and sage teachers, not {}: run without mpirun",
        args.model.model
    );
    anyhow::ensure!(args.plot.is_none(), "--plot is not drawn across MPI ranks: run without mpirun");
    let device = args.device.device()?;
    let settings = args.optim.config();
    settings.validate().map_err(anyhow::Error::msg)?;
    let mut part = open_part(&world, &dir, rank, size)?;
    check_same_inputs(&world, &[("partition manifest", describe_file(&dir.join(MANIFEST_NAME)))])?;
    let manifest = gdistill_datasets::partition_files::read_manifest(&dir)?;
    anyhow::ensure!(
        part.graph.weights.iter().all(|&w| w == 1.0),
        "neighbour sampling rescales GCN's normalisation by edge counts: the graph must be unweighted"
    );
    // Row normalisation as one process decides it: unless --no-normalize-features, when the
    // features of every part are non-negative.
    let part_path = dir.join(part_file_name(rank, size));
    let nonnegative = u8::from(if part.features_deferred {
        super::rank_data::dense_all_nonnegative(&part_path)?
    } else {
        part.features.data().iter().all(|&x| x >= 0.0)
    });
    let mut all_nonnegative = 0u8;
    world.all_reduce_into(&nonnegative, &mut all_nonnegative, SystemOperation::min());
    let normalize = args.optim.normalize().unwrap_or(all_nonnegative == 1);
    let dense_rows = if part.features_deferred {
        Some(super::rank_data::read_dense_rows(&part_path, normalize)?)
    } else {
        if normalize {
            part.row_normalize_features();
        }
        None
    };
    let mut traffic = Traffic::default();
    let train_total = sum_u64(&world, part.train.len() as u64, &mut traffic) as usize;
    anyhow::ensure!(train_total > 0, "training from labels needs training nodes, and the split has none");
    let sampler_config = args.sampling.resolve(None, train_total)?.context(NEEDS)?;
    let layers = args.model.layers;
    let config = args.model.config(manifest.features as i64, manifest.classes as i64);
    sampler_config.validate(config.hidden.len() + 1, train_total, "training").map_err(anyhow::Error::msg)?;
    let fanouts = sampler_config.fanouts.clone();
    let steps = train_total.div_ceil(sampler_config.batch_size);
    let start = Instant::now();

    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    let names: Vec<String> =
        vs.variables().into_keys().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let variables = ordered_variables(&vs);
    let mut initial = flatten(&variables)?;
    world.process_at_rank(0).broadcast_into(&mut initial[..]);
    unflatten(&initial, &variables);
    // each rank its own shuffles and dropout masks
    tch::manual_seed((settings.seed as i64).wrapping_add(7919 * rank as i64));
    let mut opt = nn::Adam::default().build(&vs, settings.lr)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    // every gradient defined (zero) from the start, so an empty slice still adds its zeros
    let zero = variables.iter().map(|v| v.sum(Kind::Float)).fold(Tensor::from(0f32), |a, b| a + b) * 0.0;
    zero.backward();

    let mut sampler = PartSampler::new(&world, &part, dense_rows);
    let mut eval = Evaluation::new(&world, &part, layers, &mut traffic)?;
    let check_every_step = std::env::var_os("GDISTILL_MPI_CHECK_WEIGHTS").is_some_and(|v| v == "1");
    let own_train = part.train.clone();
    let slice = |len: usize, k: usize| (len * k / steps)..(len * (k + 1) / steps);
    let bar = (rank == 0).then(|| epoch_bar(&format!("{} on {size} ranks", config.arch), settings.epochs));
    let mut best = BestEpoch::new(&variables, &settings)?;
    let (mut epochs_run, mut steps_run) = (0usize, 0usize);
    let (mut train_seconds, mut eval_seconds) = (0.0, 0.0);
    let (mut train_traffic, mut eval_traffic) = (Traffic::default(), Traffic::default());
    let gradient_bytes = (config.num_params() + 1) * 4;
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let epoch_start = Instant::now();
        let before = sampler.traffic;
        let order: Vec<i64> = Vec::try_from(Tensor::randperm(own_train.len() as i64, (Kind::Int64, Device::Cpu)))?;
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for k in 0..steps {
            maybe_die(rank, &format!("step{}", steps_run + 1));
            let seeds: Vec<usize> = order[slice(own_train.len(), k)].iter().map(|&i| own_train[i as usize]).collect();
            let batch_seed = NeighborLoader::batch_seed(settings.seed.wrapping_add(epoch as u64), k);
            let b = sampler.sample(&seeds, &fanouts, batch_seed)?;
            let batch_total = sum_u64(&world, seeds.len() as u64, &mut traffic) as usize;
            zero_grads(&variables);
            let mut terms: Vec<Tensor> = Vec::new();
            let mut tape = None;
            if !seeds.is_empty() {
                let blocks = block_matrices(&b, sampler_config.norm, device)?;
                let x = NodeFeatures::Dense(b.features.to(device));
                let (out, recorded) = record_sparse_products(|| model.forward_blocks_t(&x, &blocks, true));
                let labels = labels_of(&part, &seeds, device)?;
                terms.push(cross_entropy(&out?.logits, &labels) * (seeds.len() as f64 / batch_total as f64));
                tape = Some(recorded);
            }
            if rank == 0 {
                terms.extend(l2_penalty(decayed, settings.weight_decay));
            }
            let mut local_loss = 0.0;
            if let Some(loss) = terms.into_iter().reduce(|a, b| a + b) {
                match tape {
                    Some(tape) => tape.backward(&loss)?,
                    None => loss.backward(),
                }
                local_loss = loss.double_value(&[]);
            }
            let grads: Vec<Tensor> = variables.iter().map(Tensor::grad).collect();
            let mut bucket = flatten(&grads)?;
            bucket.push(local_loss as f32);
            let mut summed = vec![0f32; bucket.len()];
            world.all_reduce_into(&bucket[..], &mut summed[..], SystemOperation::sum());
            if size > 1 {
                traffic.add(Traffic { sent: bucket.len() as u64 * 4, received: bucket.len() as u64 * 4 });
            }
            let loss = summed.pop().unwrap_or(0.0) as f64;
            if steps_run == 0 {
                dump_first_step(&world, &names, &initial, &summed, &variables, &seeds, batch_seed)?;
            }
            unflatten(&summed, &grads);
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            steps_run += 1;
            perturb_for_tests(rank, steps_run, &variables);
            anyhow::ensure!(
                loss.is_finite(),
                "the loss became {loss} at epoch {} (lr {}): try a lower --lr",
                epoch + 1,
                settings.lr
            );
            if check_every_step {
                check_identical(&world, &variables, &format!("after step {steps_run}"))?;
            }
            loss_sum += loss * batch_total as f64;
            seen += batch_total;
        }
        train_seconds += epoch_start.elapsed().as_secs_f64();
        let mut step_traffic = sampler.traffic;
        step_traffic.sent -= before.sent;
        step_traffic.received -= before.received;
        train_traffic.add(step_traffic);

        let eval_start = Instant::now();
        let before = sampler.traffic;
        let figures = evaluate(&world, &mut sampler, &mut eval, model.as_ref(), &part, &part.val, device)?;
        let [correct, loss, count] = sum_f64(&world, &[figures.0, figures.1, figures.2])[..] else { unreachable!() };
        let (val_acc, val_loss) = if count > 0.0 { (correct / count, loss / count) } else { (0.0, f64::INFINITY) };
        eval_seconds += eval_start.elapsed().as_secs_f64();
        eval_traffic.add(Traffic {
            sent: sampler.traffic.sent - before.sent,
            received: sampler.traffic.received - before.received,
        });
        if best.after_epoch(epoch, (val_acc, val_loss), &variables, bar.as_ref(), loss_sum / seen.max(1) as f64)? {
            break;
        }
    }
    let (best_val_acc, best_epoch) = best.restore(&world, &variables, bar)?;
    let total_seconds = start.elapsed().as_secs_f64();
    let test_start = Instant::now();
    let test = evaluate(&world, &mut sampler, &mut eval, model.as_ref(), &part, &part.test, device)?;
    let test_seconds = test_start.elapsed().as_secs_f64();
    let [correct, _, count] = sum_f64(&world, &[test.0, test.1, test.2])[..] else { unreachable!() };
    let test_acc = if count > 0.0 { correct / count } else { 0.0 };

    // Each rank's bytes per epoch: sampling and features of training (with the small
    // all-reduces of batch sizes and the gradient all-reduce in `traffic`), and of validation.
    let e = epochs_run.max(1) as f64;
    let mine = [
        (train_traffic.sent + traffic.sent) as f64 / e,
        (train_traffic.received + traffic.received) as f64 / e,
        eval_traffic.sent as f64 / e,
        eval_traffic.received as f64 / e,
        train_seconds / e,
        eval_seconds / e,
    ];
    let mut gathered = vec![0f64; mine.len() * size];
    world.all_gather_into(&mine[..], &mut gathered[..]);
    // Rank 0 reports and writes the checkpoint; every rank learns whether it did, so that no rank
    // ends with status 0 when the checkpoint was not written, and the job ends with rank 0's one
    // message (a full disk: `tests/mpi_full_disk.rs`).
    let saved = (|| -> Result<()> {
        if rank != 0 {
            return Ok(());
        }
        let checked = if check_every_step { "after every step" } else { "at the end" };
        println!(
            "{} on {size} ranks from {}: {} parameters, best epoch {} of {epochs_run}, val {best_val_acc:.4}, test \
         {test_acc:.4}, {total_seconds:.2} s; weights identical on all ranks (checked {checked}, {steps_run} steps \
         of {steps} per epoch)",
            config.arch,
            dir.display(),
            config.num_params(),
            best_epoch + 1,
        );
        println!("test pass: {test_seconds:.2} s, {} (rank 0)", eval.last);
        for (r, row) in gathered.chunks(mine.len()).enumerate() {
            println!(
            "rank {r} per epoch: training {:.3} s, sent {:.0} B, received {:.0} B (gradient all-reduce {} B per step); \
             validation {:.3} s, sent {:.0} B, received {:.0} B",
            row[4],
            row[0],
            row[1],
            gradient_bytes,
            row[5],
            row[2],
            row[3]
        );
        }
        if let Some(out) = &args.out {
            let meta = CheckpointMeta {
                format_version: 1,
                model: config,
                dataset: DatasetFingerprint {
                    name: manifest.dataset.clone(),
                    nodes: manifest.nodes,
                    features: manifest.features,
                    classes: manifest.classes,
                    row_normalized: normalize,
                },
                training: serde_json::json!({
                    "objective": "labels", "settings": settings, "sampler": sampler_config,
                    "best_val_acc": best_val_acc, "ranks": size, "partitions": dir.display().to_string(),
                }),
            };
            maybe_die(rank, "checkpoint");
            save_checkpoint(out, &vs, &meta).context("saving the checkpoint")?;
            println!("saved {}", out.display());
        }
        Ok(())
    })();
    super::agree(&world, saved)
}
