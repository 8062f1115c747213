//! gdistill across MPI ranks (issue 17), run with `mpirun --oversubscribe -np 2` on this machine
//! (`--allow-run-as-root` when the tests run as root):
//! - partitioned soft targets equal the single-process ones to 1e-5 (Cora, a 200k-node CSBM),
//!   the halo received per layer equals the cut edges' distinct far ends, bytes = rows x width x 4;
//! - the data-parallel MLP student holds identical weights on both ranks after every step, and the
//!   check catches a rank that drifts;
//! - ranks started on different inputs are refused, naming what differs;
//! - a rank killed with SIGKILL ends the job non-zero, in bounded time, leaving no manifest or
//!   checkpoint that looks whole;
//! - one rank (`mpirun -np 1`) behaves exactly as no mpirun.
//!
//! Without `mpirun` on the PATH these tests print a note and pass, unless `CI=true`, where they
//! fail (`make bootstrap` installs Open MPI).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;

#[path = "support/mpirun.rs"]
mod mpirun;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gdistill_datasets::read_soft_targets;
use mpirun::{gdistill_in, have_mpirun, mpirun, ok, run_bounded, LIMIT, ONE_JOB};

fn manifest(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the manifest is there")).expect("JSON")
}

/// The manifest's shards, concatenated.
fn sharded_logits(path: &Path) -> Vec<f32> {
    let m = manifest(path);
    let mut all = Vec::new();
    for shard in m["shards"].as_array().unwrap() {
        let part = read_soft_targets(&path.with_file_name(shard["file"].as_str().unwrap())).unwrap();
        assert_eq!(part.nodes, shard["nodes"].as_u64().unwrap() as usize);
        all.extend(part.logits);
    }
    all
}

/// Trains a small teacher, writes soft targets in one process and on two ranks, and checks they
/// agree to 1e-5 and that the halo matches the cut edges. Returns the folder.
fn soft_targets_agree(spec: &str, hidden: &str, epochs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(gdistill_in(
        &["train", "-d", spec, "--model", "gcn", "--hidden", hidden, "--epochs", epochs, "-o", "t.ckpt"],
        p,
    ));
    ok(gdistill_in(&["soft-targets", "-d", spec, "--teacher", "t.ckpt", "-o", "one.h5"], p));
    let out = ok(mpirun(2, &["soft-targets", "-d", spec, "--teacher", "t.ckpt", "-o", "two.json"], &[], p));
    let one = read_soft_targets(&p.join("one.h5")).unwrap();
    let two = sharded_logits(&p.join("two.json"));
    assert_eq!(one.logits.len(), two.len());
    let worst = one.logits.iter().zip(&two).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-5, "largest difference {worst}");
    let m = manifest(&p.join("two.json"));
    let halo = m["halo"].as_array().unwrap();
    assert_eq!(halo.len(), 2, "{m}");
    for layer in halo {
        let v = |k: &str| layer[k].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect::<Vec<_>>();
        let width = layer["width"].as_u64().unwrap();
        assert_eq!(v("rows"), v("cut_endpoints"), "{layer}");
        assert!(v("rows").iter().all(|&r| r > 0), "{layer}");
        let bytes: Vec<u64> = v("rows").iter().map(|r| r * width * 4).collect();
        assert_eq!(v("bytes"), bytes, "{layer}");
        // on an undirected graph cut in two, each cut edge is seen once from each side
        assert_eq!(v("cut_edges")[0], v("cut_edges")[1], "{layer}");
    }
    assert!(cli::stdout(&out).contains("halo layer 1: width"), "{}", cli::stdout(&out));
    dir
}

#[test]
fn two_rank_soft_targets_equal_one_process_on_cora() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() || data::data_dir("cora").is_none() {
        return;
    }
    let dir = soft_targets_agree("cora", "64", "20");
    // the single-process student reads the sharded set as it reads one file
    let student = |st: &str| {
        let out = ok(gdistill_in(
            &["distill", "-d", "cora", "--soft-targets", st, "--model", "mlp", "--epochs", "5", "--batch-size", "512"],
            dir.path(),
        ));
        let text = cli::stdout(&out);
        text.split("test ").nth(1).map(|s| s[..6].to_string()).unwrap_or_else(|| panic!("{text}"))
    };
    let (a, b) = (student("one.h5"), student("two.json"));
    let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
    assert!((a - b).abs() <= 0.01, "{a} from one file, {b} from the shards");
}

#[test]
fn two_rank_soft_targets_equal_one_process_on_a_200k_node_csbm() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    soft_targets_agree("csbm:nodes=200000,classes=5,degree=10,features=32,seed=3", "32", "2");
}

const SMALL: &str = "csbm:nodes=600,classes=3,degree=5,features=8,seed=1";

/// A small teacher's soft targets on two ranks, in a fresh folder.
fn small_soft_targets(seed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let train = ["train", "-d", SMALL, "--model", "gcn", "--hidden", "8", "--epochs", "20", "--seed", seed];
    ok(gdistill_in(&[&train[..], &["-o", "t.ckpt"]].concat(), p));
    ok(mpirun(2, &["soft-targets", "-d", SMALL, "--teacher", "t.ckpt", "-o", "st.json"], &[], p));
    dir
}

const STUDENT: [&str; 12] = [
    "distill",
    "-d",
    SMALL,
    "--soft-targets",
    "st.json",
    "--model",
    "mlp",
    "--batch-size",
    "64",
    "--epochs",
    "6",
    "--hidden",
];

#[test]
fn data_parallel_student_has_identical_weights_on_both_ranks_after_every_step() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = small_soft_targets("0");
    let args = [&STUDENT[..], &["16", "-o", "s.ckpt"]].concat();
    let out = ok(mpirun(2, &args, &[("GDISTILL_MPI_CHECK_WEIGHTS", "1")], dir.path()));
    let text = cli::stdout(&out);
    // 600 nodes in batches of 64: 10 steps an epoch, 6 epochs
    assert!(text.contains("on 2 ranks") && text.contains("checked after every step, 60 steps"), "{text}");
    assert!(dir.path().join("s.ckpt").is_file());
    // only rank 0 reports
    assert_eq!(text.matches("mlp+kd from").count(), 1, "{text}");
    // the checkpoint is an ordinary one
    ok(gdistill_in(&["eval", "-d", SMALL, "--checkpoint", "s.ckpt"], dir.path()));

    // the check catches a rank whose weights drift
    let out =
        mpirun(2, &args, &[("GDISTILL_MPI_CHECK_WEIGHTS", "1"), ("GDISTILL_MPI_TEST_PERTURB", "1:7")], dir.path());
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("weights differ after step 7"), "{}", cli::stderr(&out));

    // what one process refuses for --soft-targets, the ranks refuse too (a GCN student was
    // trained as an MLP across ranks before the checks were shared)
    let mut gcn = args.clone();
    gcn[6] = "gcn";
    let out = mpirun(2, &gcn, &[], dir.path());
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("--soft-targets trains graph-less students"), "{}", cli::stderr(&out));
}

#[test]
fn ranks_on_different_inputs_are_refused_naming_what_differs() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = small_soft_targets("0");
    let other = SMALL.replace("seed=1", "seed=2");
    let mut command = Command::new("mpirun");
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--allow-run-as-root");
    }
    let bin = env!("CARGO_BIN_EXE_gdistill");
    command.args([
        "--oversubscribe",
        "-np",
        "1",
        bin,
        "soft-targets",
        "-d",
        SMALL,
        "--teacher",
        "t.ckpt",
        "-o",
        "x.json",
    ]);
    command.args([":", "-np", "1", bin, "soft-targets", "-d", &other, "--teacher", "t.ckpt", "-o", "x.json"]);
    command.current_dir(dir.path()).env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    let start = Instant::now();
    let out = run_bounded(command, LIMIT);
    let took = start.elapsed();
    let err = cli::stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("started on different inputs") && err.contains("dataset differs"), "{err}");
    assert!(err.contains("seed=1") && err.contains("seed=2"), "the message shows each rank's value: {err}");
    assert!(!dir.path().join("x.json").exists());
    assert!(took < Duration::from_secs(120), "{took:?}");
}

#[test]
fn a_rank_killed_ends_the_job_and_leaves_nothing_that_looks_whole() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = small_soft_targets("0");
    let p = dir.path();
    let start = Instant::now();
    // soft targets: rank 1 killed between the layers; no manifest
    let st = ["soft-targets", "-d", SMALL, "--teacher", "t.ckpt", "-o", "k.json"];
    let out = mpirun(2, &st, &[("GDISTILL_MPI_TEST_KILL", "1:layer2")], p);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("signal 9"), "{}", cli::stderr(&out));
    assert!(!p.join("k.json").exists());
    // student: rank 1 killed at step 5; no checkpoint
    let args = [&STUDENT[..], &["16", "-o", "k.ckpt"]].concat();
    let out = mpirun(2, &args, &[("GDISTILL_MPI_TEST_KILL", "1:step5")], p);
    assert!(!out.status.success());
    assert!(!p.join("k.ckpt").exists());
    // rank 0 about to write the checkpoint: killed; nothing written
    let out = mpirun(2, &args, &[("GDISTILL_MPI_TEST_KILL", "0:checkpoint")], p);
    assert!(!out.status.success());
    assert!(!p.join("k.ckpt").exists());
    // a new teacher's run killed as rank 1 writes: rank 0's new shard was only staged (the
    // ranks rename their shards into place once all have written), so the old run's manifest
    // and shards are left as they were, and read
    let train =
        ["train", "-d", SMALL, "--model", "gcn", "--hidden", "8", "--epochs", "20", "--seed", "5", "-o", "t2.ckpt"];
    ok(gdistill_in(&train, p));
    let old_set = sharded_logits(&p.join("st.json"));
    let st2 = ["soft-targets", "-d", SMALL, "--teacher", "t2.ckpt", "-o", "st.json"];
    let out = mpirun(2, &st2, &[("GDISTILL_MPI_TEST_KILL", "1:write")], p);
    assert!(!out.status.success());
    assert!(sharded_logits(&p.join("st.json")) == old_set, "the previous soft targets changed");
    ok(gdistill_in(&["distill", "-d", SMALL, "--soft-targets", "st.json", "--model", "mlp", "--epochs", "1"], p));
    assert!(start.elapsed() < LIMIT, "{:?}", start.elapsed());
    // no temporary file is left behind as if it were an output
    let names: Vec<PathBuf> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!names.iter().any(|n| n.extension().is_some_and(|e| e == "ckpt") && n.ends_with("k.ckpt")), "{names:?}");
}

#[test]
fn one_rank_is_the_single_process_run_and_other_commands_are_refused_on_two() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(gdistill_in(&["train", "-d", SMALL, "--model", "gcn", "--hidden", "8", "--epochs", "5", "-o", "t.ckpt"], p));
    let plain = ok(gdistill_in(&["soft-targets", "-d", SMALL, "--teacher", "t.ckpt", "-o", "a.h5"], p));
    let one = ok(mpirun(1, &["soft-targets", "-d", SMALL, "--teacher", "t.ckpt", "-o", "b.h5"], &[], p));
    assert_eq!(read_soft_targets(&p.join("a.h5")).unwrap(), read_soft_targets(&p.join("b.h5")).unwrap());
    let shape = |o: &Output| cli::stdout(o).split(" in ").next().unwrap().to_string();
    assert_eq!(shape(&plain), shape(&one));
    let out = mpirun(2, &["train", "-d", SMALL, "--model", "gcn", "--epochs", "1"], &[], p);
    assert!(!out.status.success());
    assert!(cli::stderr(&out).contains("run this command without mpirun"), "{}", cli::stderr(&out));
}

/// The soft targets of a manifest written from `--partitions`: each shard's rows put back at
/// the nodes it lists.
fn scattered_logits(path: &Path) -> Vec<f32> {
    let m = manifest(path);
    let (n, c) = (m["nodes"].as_u64().unwrap() as usize, m["classes"].as_u64().unwrap() as usize);
    let mut all = vec![f32::NAN; n * c];
    for shard in m["shards"].as_array().unwrap() {
        assert_eq!(shard["scattered"], true, "{shard}");
        let file = path.with_file_name(shard["file"].as_str().unwrap());
        let (part, nodes) = gdistill_datasets::read_soft_target_rows(&file).unwrap();
        for (k, &i) in nodes.expect("a scattered shard lists its nodes").iter().enumerate() {
            all[i * c..(i + 1) * c].copy_from_slice(&part.logits[k * c..(k + 1) * c]);
        }
    }
    assert!(all.iter().all(|v| v.is_finite()), "a node without soft targets");
    all
}

/// `gdistill partition` then `mpirun -np 2 soft-targets --partitions`: equal to one process's to
/// 1e-5, and the halo each rank received is the one the partition's manifest counted.
fn partitioned_soft_targets_agree(spec: &str, method: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(gdistill_in(&["train", "-d", spec, "--model", "gcn", "--hidden", "16", "--epochs", "10", "-o", "t.ckpt"], p));
    ok(gdistill_in(&["soft-targets", "-d", spec, "--teacher", "t.ckpt", "-o", "one.h5"], p));
    let out = ok(gdistill_in(&["partition", "-d", spec, "--parts", "2", "--method", method, "-o", "parts"], p));
    assert!(cli::stdout(&out).contains("cut into 2 parts by"), "{}", cli::stdout(&out));
    ok(mpirun(2, &["soft-targets", "--partitions", "parts", "--teacher", "t.ckpt", "-o", "two.json"], &[], p));
    let one = read_soft_targets(&p.join("one.h5")).unwrap();
    let two = scattered_logits(&p.join("two.json"));
    assert_eq!(one.logits.len(), two.len());
    let worst = one.logits.iter().zip(&two).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-5, "{method}: largest difference {worst}");
    let parts = manifest(&p.join("parts/partition.json"));
    let halo: Vec<u64> = parts["parts"].as_array().unwrap().iter().map(|e| e["halo"].as_u64().unwrap()).collect();
    let st = manifest(&p.join("two.json"));
    for layer in st["halo"].as_array().unwrap() {
        let rows: Vec<u64> = layer["rows"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(rows, halo, "{layer}");
    }
    // one process reads the scattered shards as one file
    let student = ["distill", "-d", spec, "--soft-targets", "two.json", "--model", "mlp", "--epochs", "2"];
    ok(gdistill_in(&student, p));
}

#[test]
fn partitioned_soft_targets_equal_one_process_on_cora_with_both_methods() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() || data::data_dir("cora").is_none() {
        return;
    }
    partitioned_soft_targets_agree("cora", "metis");
    partitioned_soft_targets_agree("cora", "contiguous");
}

#[test]
fn partitioned_soft_targets_equal_one_process_on_a_random_graph() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    partitioned_soft_targets_agree("csbm:nodes=3000,classes=4,degree=8,homophily=0.3,features=16,seed=4", "metis");
}

#[test]
fn a_foreign_part_a_wrong_rank_count_or_a_missing_part_ends_the_job_with_one_message() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(gdistill_in(&["train", "-d", SMALL, "--model", "gcn", "--hidden", "8", "--epochs", "5", "-o", "t.ckpt"], p));
    for (out, method, parts) in [("a", "metis", "2"), ("b", "contiguous", "2"), ("c", "metis", "3")] {
        ok(gdistill_in(&["partition", "-d", SMALL, "--parts", parts, "--method", method, "-o", out], p));
    }
    let st =
        |dir: &str| mpirun(2, &["soft-targets", "--partitions", dir, "--teacher", "t.ckpt", "-o", "x.json"], &[], p);
    let fails = |out: Output, needle: &str| {
        let err = cli::stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert_eq!(err.matches(needle).count(), 1, "one message with '{needle}': {err}");
        assert!(!p.join("x.json").exists(), "a manifest was written");
    };
    // three parts on two ranks
    fails(st("c"), "3 parts, but the job has 2 ranks");
    // part 1 of another run
    std::fs::copy(p.join("b/part-1-of-2.h5"), p.join("a/part-1-of-2.h5")).unwrap();
    fails(st("a"), "a/part-1-of-2.h5: sha256");
    // part 1 missing
    std::fs::remove_file(p.join("b/part-1-of-2.h5")).unwrap();
    fails(st("b"), "b/part-1-of-2.h5: file not found");
    // without mpirun, --partitions is refused with the reason
    let out = gdistill_in(&["soft-targets", "--partitions", "c", "--teacher", "t.ckpt", "-o", "x.h5"], p);
    cli::assert_fails_with(&out, &["under `mpirun -np P`"]);
}

#[test]
fn partition_refuses_bad_requests_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let partition = |parts: &str| gdistill_in(&["partition", "-d", SMALL, "--parts", parts, "-o", "out"], p);
    cli::assert_fails_with(&partition("0"), &["--parts must be at least 1"]);
    cli::assert_fails_with(&partition("601"), &["601 parts for 600 nodes"]);
    let out = gdistill_in(&["partition", "-d", SMALL, "--parts", "2", "--method", "kway", "-o", "out"], p);
    cli::assert_fails_with(&out, &["metis or contiguous"]);
    assert!(!p.join("out/partition.json").exists());
    // a graph without nodes: an HDF5 graph file with no labels, edges or features
    let empty = p.join("empty.h5");
    {
        use gdistill_datasets::h5graph::hdf5;
        let f = hdf5::File::create(&empty).unwrap();
        let text = |s: &str| s.parse::<hdf5::types::VarLenUnicode>().unwrap();
        f.new_attr::<hdf5::types::VarLenUnicode>()
            .create("format")
            .unwrap()
            .write_scalar(&text("gdistill-graph"))
            .unwrap();
        f.new_attr::<i64>().create("version").unwrap().write_scalar(&1i64).unwrap();
        f.new_dataset::<i64>().shape([2, 0]).create("edge_index").unwrap();
        f.new_dataset::<f32>().shape([0, 3]).create("features").unwrap();
        for name in ["labels", "train_idx", "val_idx", "test_idx"] {
            f.new_dataset::<i64>().shape([0]).create(name).unwrap();
        }
    }
    let out = gdistill_in(&["partition", "-d", "h5:empty.h5", "--parts", "2", "-o", "out"], p);
    let err = cli::stderr(&out);
    assert!(!out.status.success() && err.starts_with("error: ") && err.lines().count() <= 2, "{err}");
    assert!(!p.join("out/partition.json").exists());
}
