//! A full disk on one rank (issue 30): the job ends non-zero with one message naming the file
//! and "no space left on the device", every rank ends (none with status 0, none left waiting),
//! and no manifest, shard, checkpoint or temporary file is left on the real disk.
//!
//! The disk is really full, not simulated: the rank named runs inside its own user and mount
//! namespace (`unshare -rm`, which needs no privilege) with a small tmpfs mounted over the
//! directory it writes to, so its writes fail with ENOSPC while the other ranks see the real
//! directory. The same for `gdistill partition`, in one process. Where `unshare` or the mount is
//! refused these tests print `skipped: ...` and pass, unless `CI=true`, where they fail saying why.
//!
//! Open MPI between ranks in different user namespaces: its shared-memory transport's default
//! single-copy mechanism, CMA (`process_vm_readv`), needs ptrace rights over the peer, which a
//! process in another user namespace does not have. Open MPI notices, prints a warning on
//! stderr and copies through shared memory instead; `btl_vader_single_copy_mechanism=none`,
//! which `support/mpirun.rs` sets for every job (many containers refuse CMA anyway), goes
//! straight to that, without the warning. Shared memory itself works across the namespaces
//! (the segments live in files both ranks see), so no `--mca btl self,tcp` is needed.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/mpirun.rs"]
mod mpirun;

use std::path::Path;
use std::process::{Command, Output};

use mpirun::{ci, gdistill_in, have_mpirun, mpirun, ok, run_bounded, LIMIT, ONE_JOB};

/// `full-disk.sh RANK SIZE DIR STATUS COMMAND...` runs COMMAND; on MPI rank RANK (or in a
/// process outside mpirun, rank 0) inside its own user and mount namespace with a SIZE tmpfs over
/// DIR. Each rank writes COMMAND's exit status to `STATUS/rank-R`; the full rank lists what is
/// left in its tmpfs to `STATUS/left-R` first. A rank that mpirun ends (after another's
/// `MPI_Abort`) records nothing.
const WRAPPER: &str = r#"#!/bin/sh
full=$1 size=$2 dir=$3 status=$4
shift 4
r=${OMPI_COMM_WORLD_RANK:-0}
if [ "$r" = "$full" ]; then
  unshare -rm sh -c '
    mount -t tmpfs -o size="$1" tmpfs "$2" || exit 97
    d=$2 s=$3 r=$4
    shift 4
    "$@"
    rc=$?
    ls -A "$d" > "$s/left-$r"
    exit $rc' sh "$size" "$dir" "$status" "$r" "$@"
else
  "$@"
fi
rc=$?
echo $rc > "$status/rank-$r"
exit $rc
"#;

/// Whether an unprivileged user + mount namespace with a tmpfs that fills works here; with
/// CI=true its absence is a failure.
fn have_full_disk() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", r#"mount -t tmpfs -o size=16k tmpfs "$1" && ! head -c 65536 /dev/zero > "$1/x""#])
        .arg("sh")
        .arg(dir.path())
        .output();
    let why = match probe {
        Err(e) => format!("unshare cannot run ({e})"),
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`unshare -rm` with a 16 KiB tmpfs did not give a full disk (user or mount namespaces refused?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    };
    assert!(!ci(), "{why}; CI=true, so that is a failure: these tests need unprivileged user namespaces");
    eprintln!("skipped: {why}");
    false
}

/// The wrapper, written into `dir`.
fn wrapper(dir: &Path) -> String {
    let path = dir.join("full-disk.sh");
    std::fs::write(&path, WRAPPER).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `mpirun -np 2 full-disk.sh RANK SIZE DIR STATUS gdistill ARGS` in `p`; `p/status` is made
/// afresh.
fn mpirun_full(p: &Path, rank: usize, size: &str, dir: &str, args: &[&str]) -> Output {
    let status = p.join("status");
    let _ = std::fs::remove_dir_all(&status);
    std::fs::create_dir(&status).unwrap();
    let wrap = wrapper(p);
    let rank = rank.to_string();
    let mut all = vec![rank.as_str(), size, dir, "status", env!("CARGO_BIN_EXE_gdistill")];
    all.extend_from_slice(args);
    mpirun::mpirun_program(2, &wrap, &all, &[], p)
}

/// The files in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The job failed with one `error:` line that names `file` and the full disk, no rank recorded
/// status 0, and the full rank, where it recorded what it left in its tmpfs, left nothing.
fn failed_on_full_disk(out: &Output, p: &Path, file: &str) {
    let stderr = cli::stderr(out);
    assert!(!out.status.success(), "the job succeeded: {}\n{stderr}", cli::stdout(out));
    assert_eq!(stderr.matches("error:").count(), 1, "one message: {stderr}");
    let line = stderr.lines().find(|l| l.contains("error:")).unwrap();
    assert!(
        line.contains(&format!("{file}: cannot write: no space left on the device")),
        "the message names {file} and the full disk: {stderr}"
    );
    for name in listing(&p.join("status")) {
        let text = std::fs::read_to_string(p.join("status").join(&name)).unwrap();
        if let Some(rank) = name.strip_prefix("rank-") {
            assert_ne!(text.trim(), "0", "rank {rank} ended with status 0: {stderr}");
            assert_ne!(text.trim(), "97", "the tmpfs was not mounted on rank {rank}: {stderr}");
        } else {
            assert_eq!(text.trim(), "", "{name}: files left in the full directory: {stderr}");
        }
    }
}

/// A folder with Cora cut in two by METIS in `parts`, a GCN teacher `t.ckpt`, and an empty
/// folder `out_dir` for the job's output.
fn parts_and_teacher(out_dir: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(gdistill_in(&["partition", "-d", "cora", "--parts", "2", "--method", "metis", "-o", "parts"], p));
    ok(gdistill_in(&["train", "-d", "cora", "--model", "gcn", "--epochs", "3", "-o", "t.ckpt"], p));
    std::fs::create_dir(p.join(out_dir)).unwrap();
    dir
}

/// Every file of `dir` with its bytes, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir).into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
}

/// Rank 1 cannot write its shard: neither manifest nor shard of rank 0 is left (partitioned and
/// contiguous), and a previous run's manifest and shards, when there, are left as they were.
#[test]
fn soft_target_shard_on_a_full_disk_leaves_no_manifest_and_no_shard() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() || !have_full_disk() {
        return;
    }
    let dir = parts_and_teacher("out");
    let p = dir.path();
    let partitioned = ["soft-targets", "--partitions", "parts", "--teacher", "t.ckpt", "-o", "out/st.json"];
    let contiguous = ["soft-targets", "-d", "cora", "--teacher", "t.ckpt", "-o", "out/st.json"];
    for args in [&partitioned[..], &contiguous[..]] {
        let out = mpirun_full(p, 1, "16k", "out", args);
        failed_on_full_disk(&out, p, "out/st.shard-1-of-2.h5");
        assert!(cli::stderr(&out).contains("error: rank 1: "), "{}", cli::stderr(&out));
        assert_eq!(listing(&p.join("out")), Vec::<String>::new(), "{args:?} left files behind");
    }

    // over a previous run's output, which stays whole and readable
    ok(mpirun(2, &partitioned, &[], p));
    let before = contents(&p.join("out"));
    assert_eq!(before.len(), 3, "a manifest and two shards");
    let out = mpirun_full(p, 1, "16k", "out", &partitioned);
    failed_on_full_disk(&out, p, "out/st.shard-1-of-2.h5");
    let after = contents(&p.join("out"));
    assert!(after == before, "the previous output changed: {:?}", listing(&p.join("out")));
    ok(gdistill_in(&["distill", "-d", "cora", "--soft-targets", "out/st.json", "--model", "mlp", "--epochs", "1"], p));
}

/// Rank 0 cannot write the checkpoint of `train --partitions` or `distill --partitions`: one
/// message, every rank ends non-zero, no checkpoint or temporary file.
#[test]
fn checkpoint_on_a_full_disk_ends_every_rank_and_leaves_nothing() {
    let _job = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    if !have_mpirun() || !have_full_disk() {
        return;
    }
    let dir = parts_and_teacher("ck");
    let p = dir.path();
    let train = ["train", "--partitions", "parts", "--sampler", "neighbor", "--epochs", "2", "-o", "ck/t.ckpt"];
    let out = mpirun_full(p, 0, "16k", "ck", &train);
    failed_on_full_disk(&out, p, "ck/t.ckpt");
    assert!(p.join("status/left-0").exists(), "rank 0 recorded what it left: {}", cli::stderr(&out));
    assert_eq!(listing(&p.join("ck")), Vec::<String>::new());

    ok(mpirun(2, &["soft-targets", "--partitions", "parts", "--teacher", "t.ckpt", "-o", "st.json"], &[], p));
    let distill = [
        "distill",
        "--partitions",
        "parts",
        "--soft-targets",
        "st.json",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "-o",
        "ck/s.ckpt",
    ];
    let out = mpirun_full(p, 0, "16k", "ck", &distill);
    failed_on_full_disk(&out, p, "ck/s.ckpt");
    assert!(p.join("status/left-0").exists(), "rank 0 recorded what it left: {}", cli::stderr(&out));
    assert_eq!(listing(&p.join("ck")), Vec::<String>::new());
}

/// `gdistill partition` in one process on a disk that fills at the second part file, and on one
/// that fills at the manifest: no manifest and no part file left (the first part file, written
/// whole, is removed again), nor a temporary file.
#[test]
fn partition_on_a_full_disk_leaves_no_manifest_and_no_part_file() {
    if !have_full_disk() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let partition = ["partition", "-d", "cora", "--parts", "2", "--method", "metis", "-o", "parts"];
    ok(gdistill_in(&partition, p));
    // SAFETY: sysconf takes a constant and cannot fail.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let pages = |name: &str| std::fs::metadata(p.join("parts").join(name)).unwrap().len().div_ceil(page) * page;
    let (first, second) = (pages("part-0-of-2.h5"), pages("part-1-of-2.h5"));
    std::fs::remove_dir_all(p.join("parts")).unwrap();
    std::fs::create_dir(p.join("parts")).unwrap();
    for (size, full_at) in [(first + page, "part-1-of-2.h5"), (first + second, "partition.json")] {
        std::fs::create_dir_all(p.join("status")).unwrap();
        let mut command = Command::new(wrapper(p));
        command.args(["0", &format!("{}k", size / 1024), "parts", "status", env!("CARGO_BIN_EXE_gdistill")]);
        command.args(partition).current_dir(p).env("GDISTILL_DATA_DIR", data::data_root());
        let out = run_bounded(command, LIMIT);
        failed_on_full_disk(&out, p, &format!("parts/{full_at}"));
        assert_eq!(std::fs::read_to_string(p.join("status/left-0")).unwrap(), "", "left in the full directory");
        let _ = std::fs::remove_dir_all(p.join("status"));
    }
}
