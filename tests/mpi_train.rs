//! Distributed teacher training (`mpirun -np 2 gdistill train --partitions DIR --sampler
//! neighbor`, issue 30), on Cora cut in two (and once in three) by METIS:
//! - the first step's gradient, summed over the ranks, equals the gradient one process computes
//!   for the union of the ranks' batches, sampled on the whole graph by the single-process
//!   sampler with the same batch seed (GCN and SAGE; and GCN on a small CSBM, whose dense
//!   features the ranks read as dense rows rather than CSR);
//! - the weights are identical on both ranks after every step, and the check catches a rank that
//!   drifts;
//! - the checkpoint rank 0 writes loads in `gdistill eval` in one process, which reports the
//!   test accuracy the ranks computed;
//! - a partition of another part count, a part file of another partition run and a killed rank
//!   end the job with one message and leave no checkpoint.
//!
//! Without `mpirun` these tests print a note and pass, unless `CI=true`, where they fail.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/mpirun.rs"]
mod mpirun;

use std::collections::BTreeMap;
use std::path::Path;

use gdistill_distill::{cross_entropy, l2_penalty};
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_graph::NeighborSampler;
use gdistill_models::{
    full_degrees, record_sparse_products, sampled_block_matrices, Arch, ModelConfig, NodeFeatures, SparseMatrix,
};
use mpirun::{gdistill_in, have_mpirun, mpirun, ok, ONE_JOB};
use tch::{nn, Device, Tensor};

/// A small CSBM: dense, signed features (kept raw), which the ranks read as dense rows.
const CSBM: &str = "csbm:nodes=1500,classes=4,degree=6,features=24,seed=5";

/// Cora cut in `parts` by `method`, in `dir/out`.
fn partition(dir: &Path, parts: &str, method: &str, out: &str) {
    partition_of("cora", dir, parts, method, out);
}

fn partition_of(dataset: &str, dir: &Path, parts: &str, method: &str, out: &str) {
    ok(gdistill_in(&["partition", "-d", dataset, "--parts", parts, "--method", method, "-o", out], dir));
}

/// The single-process gradient of the union of the ranks' first batches: the whole graph, the
/// single-process sampler, the dumped initial weights; cross-entropy averaged over the union's
/// seeds plus weight decay on the first layer, as `train --sampler neighbor` computes it
/// (features row-normalised when all are non-negative, as one process decides).
fn union_gradient(
    spec: &str,
    dump: &serde_json::Value,
    arch: Arch,
    hidden: i64,
    fanouts: &[usize],
) -> BTreeMap<String, Vec<f32>> {
    let mut dataset = gdistill_datasets::load(spec, &data::data_root()).unwrap();
    if dataset.features.to_csr().data().iter().all(|&v| v >= 0.0) {
        dataset.row_normalize_features();
    }
    let seeds: Vec<usize> = dump["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize))
        .collect();
    let batch_seed = dump["batch_seed"].as_u64().unwrap();
    let batch = NeighborSampler::new(fanouts.to_vec()).unwrap().sample(&dataset.graph, &seeds, batch_seed).unwrap();
    let blocks = sampled_block_matrices(&batch, &full_degrees(&dataset.graph), Device::Cpu).unwrap();
    let features = dataset.features.to_csr();
    let f = features.cols();
    let mut x = vec![0f32; batch.n_id.len() * f];
    for (k, &v) in batch.n_id.iter().enumerate() {
        for (j, &value) in features.outer_view(v).unwrap().iter() {
            x[k * f + j] = value;
        }
    }
    let x = NodeFeatures::Dense(Tensor::from_slice(&x).view([batch.n_id.len() as i64, f as i64]));
    let config = ModelConfig::new(arch, f as i64, hidden, 2, dataset.num_classes as i64, 0.0);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = config.build(&vs.root()).unwrap();
    tch::no_grad(|| {
        for (name, var) in vs.variables() {
            let values: Vec<f32> =
                dump["initial"][&name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            var.shallow_clone().copy_(&Tensor::from_slice(&values).view(var.size().as_slice()));
        }
    });
    let (out, tape) = record_sparse_products(|| model.forward_blocks_t(&x, &blocks, true));
    let labels = Tensor::from_slice(&seeds.iter().map(|&v| dataset.labels[v] as i64).collect::<Vec<_>>());
    let weights = model.weights();
    let loss = cross_entropy(&out.unwrap().logits, &labels) + l2_penalty(&weights[..1], 5e-4).unwrap();
    tape.backward(&loss).unwrap();
    vs.variables().into_iter().map(|(name, var)| (name, Vec::<f32>::try_from(var.grad().view([-1])).unwrap())).collect()
}

/// `train --partitions parts --sampler neighbor`, then `rest`.
fn partitioned_train<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--partitions", "parts", "--sampler", "neighbor"];
    args.extend_from_slice(rest);
    args
}

fn distributed_gradient_is_the_union_gradient(spec: &str, arch: &str, ranks: usize) {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    partition_of(spec, p, &ranks.to_string(), "metis", "parts");
    let args = partitioned_train(&[
        "--fanout",
        "5,3",
        "--batch-size",
        "64",
        "--model",
        arch,
        "--hidden",
        "16",
        "--dropout",
        "0",
        "--epochs",
        "2",
    ]);
    let env = [("GDISTILL_MPI_DUMP_FIRST_STEP", "dump.json"), ("GDISTILL_MPI_CHECK_WEIGHTS", "1")];
    let out = ok(mpirun::mpirun(ranks, &args, &env, p));
    assert!(cli::stdout(&out).contains("checked after every step"), "{}", cli::stdout(&out));
    let dump: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join("dump.json")).unwrap()).unwrap();
    // each rank took its share of a 64-seed batch from its own training nodes
    let seeds = dump["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), ranks);
    let sizes: Vec<usize> = seeds.iter().map(|s| s.as_array().unwrap().len()).collect();
    assert!((1..=64).contains(&sizes.iter().sum::<usize>()), "{sizes:?}");
    let arch: Arch = arch.parse().unwrap();
    let expected = union_gradient(spec, &dump, arch, 16, &[5, 3]);
    assert_eq!(expected.len(), dump["gradient"].as_object().unwrap().len());
    for (name, want) in &expected {
        let got: Vec<f32> =
            dump["gradient"][name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(got.len(), want.len(), "{name}");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name}: a zero gradient compares nothing");
        let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{name}: largest difference {worst} against largest entry {scale}");
    }
}

#[test]
fn first_step_gradient_summed_over_ranks_is_the_union_batch_gradient_gcn() {
    distributed_gradient_is_the_union_gradient("cora", "gcn", 2);
}

#[test]
fn first_step_gradient_summed_over_ranks_is_the_union_batch_gradient_sage() {
    distributed_gradient_is_the_union_gradient("cora", "sage", 2);
}

/// Dense features (a CSBM's) are read as dense rows, not CSR: the same batch, the same gradient.
#[test]
fn first_step_gradient_with_dense_features_read_as_rows_is_the_union_batch_gradient() {
    distributed_gradient_is_the_union_gradient(CSBM, "gcn", 2);
}

/// Three ranks: a rank learns the owners of nodes beyond its halo from the owners' replies.
#[test]
fn first_step_gradient_on_three_ranks_is_the_union_batch_gradient() {
    distributed_gradient_is_the_union_gradient("cora", "gcn", 3);
}

/// `test 0.1234` from the ranks' summary line, or `test 0.1234` from `gdistill eval`'s.
fn test_accuracy(stdout: &str) -> f64 {
    let at = stdout.find("test ").expect("a test accuracy") + 5;
    stdout[at..].split(|c: char| c.is_whitespace() || c == ',').next().unwrap().parse().unwrap()
}

#[test]
fn checkpoint_of_two_ranks_loads_in_one_process_and_scores_the_same() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    partition(p, "2", "metis", "parts");
    let args = partitioned_train(&["--batch-size", "70", "--model", "sage", "--epochs", "30", "-o", "t.ckpt"]);
    let out = ok(mpirun(2, &args, &[], p));
    let stdout = cli::stdout(&out);
    assert!(stdout.contains("rank 1 per epoch: training"), "{stdout}");
    let distributed = test_accuracy(stdout.lines().find(|l| l.contains(" on 2 ranks from ")).unwrap());
    assert!(distributed > 0.6, "{stdout}");
    let eval = ok(gdistill_in(&["eval", "-d", "cora", "--checkpoint", "t.ckpt"], p));
    let single = test_accuracy(&cli::stdout(&eval));
    // the same weights on the same full neighbourhoods: at most one node of 1 000 apart (rounding)
    assert!((single - distributed).abs() <= 0.0011, "one process {single}, two ranks {distributed}");
}

/// The test pass of two ranks, layer-wise with one halo exchange per layer (the rule picks it
/// for Cora's 1 000 test nodes), scores exactly what `gdistill eval` of the checkpoint scores in
/// one process, and its logits are one process's full-graph logits (a dropped or misplaced halo
/// row changes some); GCN and SAGE (mean aggregator, with a root weight).
fn layer_wise_test_pass_equals_one_process(spec: &str, arch: &str) {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    partition_of(spec, p, "2", "metis", "parts");
    let args = partitioned_train(&["--batch-size", "70", "--model", arch, "--epochs", "5", "-o", "t.ckpt"]);
    let out = ok(mpirun(2, &args, &[("GDISTILL_MPI_DUMP_LOGITS", "logits.json")], p));
    let stdout = cli::stdout(&out);
    assert!(stdout.contains("test pass: ") && stdout.contains("layer-wise"), "{stdout}");
    let distributed = test_accuracy(stdout.lines().find(|l| l.contains(" on 2 ranks from ")).unwrap());
    let eval = ok(gdistill_in(&["eval", "-d", spec, "--checkpoint", "t.ckpt"], p));
    let single = test_accuracy(&cli::stdout(&eval));
    assert_eq!(single, distributed, "one process {single}, two ranks {distributed}");

    // the logits of every test node, against one process's forward pass on the whole graph
    let (_vs, model, meta) = gdistill_distill::load_checkpoint(&p.join("t.ckpt"), Device::Cpu).unwrap();
    let mut dataset = gdistill_datasets::load(spec, &data::data_root()).unwrap();
    if meta.dataset.row_normalized {
        dataset.row_normalize_features();
    }
    let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&dataset.graph), Device::Cpu).unwrap();
    let x = SparseMatrix::from_sprs(&dataset.features.to_csr(), Device::Cpu).unwrap();
    let full = tch::no_grad(|| model.forward_t(&NodeFeatures::Sparse(x), &a_hat, false)).logits;
    let classes = dataset.num_classes;
    let mut seen = 0;
    for rank in 0..2 {
        let dump: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join(format!("logits.json.{rank}"))).unwrap()).unwrap();
        let nodes: Vec<i64> = dump["nodes"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let got: Vec<f32> = dump["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(got.len(), nodes.len() * classes);
        let want: Vec<f32> = Vec::try_from(full.index_select(0, &Tensor::from_slice(&nodes)).view([-1])).unwrap();
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-4, "rank {rank}: logits differ from one process's by up to {worst}");
        seen += nodes.len();
    }
    assert_eq!(seen, dataset.test.len());
}

#[test]
fn layer_wise_test_pass_of_two_ranks_equals_one_process_gcn() {
    layer_wise_test_pass_equals_one_process("cora", "gcn");
}

#[test]
fn layer_wise_test_pass_of_two_ranks_equals_one_process_sage() {
    layer_wise_test_pass_equals_one_process("cora", "sage");
}

/// Dense features (a CSBM's), which the layer-wise pass reads in place from the sampler's rows.
#[test]
fn layer_wise_test_pass_with_dense_features_equals_one_process() {
    layer_wise_test_pass_equals_one_process(CSBM, "gcn");
}

#[test]
fn a_rank_that_drifts_is_caught() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    partition(p, "2", "metis", "parts");
    let args = partitioned_train(&["--epochs", "2", "-o", "t.ckpt"]);
    let env = [("GDISTILL_MPI_CHECK_WEIGHTS", "1"), ("GDISTILL_MPI_TEST_PERTURB", "1:1")];
    let out = mpirun(2, &args, &env, p);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("weights differ after step 1"), "{}", cli::stderr(&out));
    assert!(!p.join("t.ckpt").exists());
}

#[test]
fn wrong_part_count_wrong_part_file_and_killed_rank_leave_no_checkpoint() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let train = |parts: &str| {
        vec!["train", "--partitions", parts, "--sampler", "neighbor", "--epochs", "3", "-o", "t.ckpt"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let run = |args: &[String], env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mpirun(2, &args, env, p)
    };

    partition(p, "3", "metis", "three");
    let out = run(&train("three"), &[]);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("3 parts, but the job has 2 ranks"), "{}", cli::stderr(&out));
    assert_eq!(cli::stderr(&out).matches("error:").count(), 1, "{}", cli::stderr(&out));
    assert!(!p.join("t.ckpt").exists());

    partition(p, "2", "metis", "parts");
    partition(p, "2", "contiguous", "other");
    std::fs::copy(p.join("other/part-1-of-2.h5"), p.join("parts/part-1-of-2.h5")).unwrap();
    let out = run(&train("parts"), &[]);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("a part file of another partition run?"), "{}", cli::stderr(&out));
    assert!(!p.join("t.ckpt").exists());

    partition(p, "2", "metis", "good");
    let out = run(&train("good"), &[("GDISTILL_MPI_TEST_KILL", "1:step2")]);
    assert!(!out.status.success(), "{}", cli::stdout(&out));
    assert!(!p.join("t.ckpt").exists());
    let out = run(&train("good"), &[("GDISTILL_MPI_TEST_KILL", "0:checkpoint")]);
    assert!(!out.status.success(), "{}", cli::stdout(&out));
    assert!(!p.join("t.ckpt").exists());
    // and the same command without a fault writes it
    ok(run(&train("good"), &[]));
    assert!(p.join("t.ckpt").exists());
}

#[test]
fn train_without_partitions_or_sampler_is_refused_across_ranks() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    partition(p, "2", "metis", "parts");
    let out = mpirun(2, &["train", "--partitions", "parts", "--epochs", "1"], &[], p);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("--sampler neighbor"), "{}", cli::stderr(&out));
    let out = gdistill_in(&["train", "--partitions", "parts", "--sampler", "neighbor", "--epochs", "1"], p);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("mpirun -np P"), "{}", cli::stderr(&out));
}
