//! A quiet, fast start. Normal use prints no libtorch beta notices; `GDISTILL_TORCH_WARNINGS=1`
//! brings them back (which also shows that the run below does reach the code that emits them).
//! And libtorch's CUDA libraries are loaded only when a command asks for a CUDA device.

use std::process::Command;

fn train_stderr(show_warnings: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gdistill"));
    // GAT: its edge softmax brings libtorch's index_reduce notice beside the sparse CSR one.
    let spec = "csbm:nodes=100,classes=2,degree=3,features=4,seed=1";
    command.args(["train", "--dataset", spec, "--model", "gat", "--hidden", "4", "--epochs", "1"]);
    if show_warnings {
        command.env("GDISTILL_TORCH_WARNINGS", "1");
    } else {
        command.env_remove("GDISTILL_TORCH_WARNINGS");
    }
    let out = command.output().expect("the gdistill binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_beta_notice_on_stderr_unless_asked() {
    let quiet = train_stderr(false);
    assert!(!quiet.contains("in beta"), "stderr: {quiet}");
    let loud = train_stderr(true);
    assert!(loud.contains("beta state") && loud.contains("index_reduce"), "filtered only by default: {loud}");
}

/// The shared libraries a `gdistill ARGS` run loaded, linked or by `dlopen`, as the dynamic
/// loader reports them (`LD_DEBUG=files`), and the run's output.
fn libraries_loaded(args: &[&str]) -> (String, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gdistill"))
        .args(args)
        .env("LD_DEBUG", "files")
        .env("LD_DEBUG_OUTPUT", dir.path().join("ld"))
        .output()
        .expect("the gdistill binary runs");
    let mut log = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        log += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    assert!(log.contains("libc.so"), "LD_DEBUG gave no list of libraries: {log}");
    (log, out)
}

/// `data info` runs in the light front, which loads no libtorch at all (libtorch_cpu's static
/// initialisers alone cost about 0.2 s of CPU time); the other commands are handed on to
/// gdistill-torch, which does.
#[test]
fn data_info_loads_no_libtorch() {
    let spec = "csbm:nodes=100,classes=2,degree=3,features=4,seed=1";
    let (log, out) = libraries_loaded(&["data", "info", "--dataset", spec]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nodes            100"));
    assert!(!log.contains("libtorch") && !log.contains("libc10"), "data info loaded libtorch");
    let (log, out) = libraries_loaded(&["train", "--dataset", spec, "--hidden", "4", "--epochs", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("libtorch_cpu.so"), "train did not reach gdistill-torch");
}

/// The front parses `data info` itself: its help and its errors are gdistill-torch's.
#[test]
fn the_front_and_gdistill_torch_agree_on_data_info() {
    let run = |binary: &str, args: &[&str]| {
        let out = Command::new(binary).args(args).env("GDISTILL_DATA_DIR", "/nonexistent").output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (front, torch) = (env!("CARGO_BIN_EXE_gdistill"), env!("CARGO_BIN_EXE_gdistill-torch"));
    for args in [
        &["data", "info", "--help"][..],
        &["data", "info"][..],
        &["data", "info", "--dataset", "cora", "--no-such-flag"][..],
        &["data", "info", "--dataset", "cora"][..],
    ] {
        let (a, b) = (run(front, args), run(torch, args));
        assert_eq!(a, b, "{args:?}");
        assert_ne!(a.0, None, "{args:?}");
    }
    // Everything else is gdistill-torch's, exit status included.
    assert_eq!(run(front, &["--help"]), run(torch, &["--help"]));
    assert_eq!(run(front, &["train", "--dataset", "imagenet"]), run(torch, &["train", "--dataset", "imagenet"]));
}

/// libtorch's CUDA backend and the CUDA libraries it pulls in (cuBLAS, cuDNN, NCCL, ...) cost
/// 0.4-0.8 s of every start when they were linked: now they load only for `--device cuda|auto`.
#[test]
fn the_cuda_libraries_load_only_when_cuda_is_asked_for() {
    let spec = "csbm:nodes=100,classes=2,degree=3,features=4,seed=1";
    let heavy = ["libtorch_cuda.so", "libcublas", "libcudnn", "libnccl", "libcusparse.so", "libcufft"];
    for args in
        [&["data", "info", "--dataset", spec][..], &["train", "--dataset", spec, "--hidden", "4", "--epochs", "1"][..]]
    {
        let (log, out) = libraries_loaded(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        for library in heavy {
            assert!(!log.contains(library), "{args:?} loaded {library}");
        }
    }
    // Asked for, the backend is loaded; without a GPU the answer is the usual clear error.
    let (log, out) =
        libraries_loaded(&["train", "--dataset", spec, "--hidden", "4", "--epochs", "1", "--device", "cuda"]);
    assert!(log.contains("libtorch_cuda.so"), "--device cuda did not load libtorch's CUDA backend");
    if !gdistill_models::cuda_available() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("error: CUDA was requested ('cuda') but no CUDA device is available"), "{err}");
        assert!(!err.contains("panicked") && !err.contains("did not load"), "{err}");
        // auto falls back to the CPU.
        let (log, out) =
            libraries_loaded(&["train", "--dataset", spec, "--hidden", "4", "--epochs", "1", "--device", "auto"]);
        assert!(out.status.success() && log.contains("libtorch_cuda.so"), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
