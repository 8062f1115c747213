//! `gdistill`: distil a large sparse GCN teacher into a small GCN or a graph-less MLP student.
//!
//! The CLI is thin: every command parses its flags, calls the library crates, and prints.
//! Errors are one clear message on stderr and a non-zero exit, never a panic.

// The flag doc comments are `--help` text, where `[default: ..]`, `poly[:c:d]` and `<name>/`
// are literal, not links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod cmd;
mod output;
mod output_images;
mod output_pointcloud;
mod plot;
mod plot_compare;
mod plot_training;
mod table;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gdistill",
    // Usage lines say gdistill, as the user typed it: this binary is gdistill-torch, run by the
    // light `gdistill` front (src/front.rs).
    bin_name = "gdistill",
    version,
    about = "Distil graph neural networks: a sparse GCN teacher into a small GCN or an MLP student",
    long_about = "Distil graph neural networks.\n\n\
        gdistill trains a large sparse-matrix GCN teacher, then transfers its knowledge into a \
        lightweight GCN or a graph-less MLP student with tempered soft targets (Hinton et al. 2015).\n\n\
        Start with the main job, which trains everything and prints a teacher-versus-student table:\n\
        \n    gdistill compare --dataset cora --seeds 10\n\n\
        Datasets are named by spec: cora, citeseer, pubmed (Planetoid files under --data-dir/<name>/), \
        linqs:PREFIX, npz:PATH[:K], ogb:DIR[:SPLIT], csv:edges=FILE,features=FILE,labels=FILE[,split=FILE], \
        h5:PATH, csbm:nodes=N,classes=C,... (synthetic).\n\
        The data directory is --data-dir, else $GDISTILL_DATA_DIR, else ./data.",
    // soft-targets, train and distill take --dataset or --partitions: which one is checked when
    // they run.
    mut_subcommand("soft-targets", |c| c.mut_arg("dataset", |a| a.required(false))),
    mut_subcommand("train", |c| c.mut_arg("dataset", |a| a.required(false))),
    mut_subcommand("distill", |c| c.mut_arg("dataset", |a| a.required(false)))
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect datasets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Train one model (a teacher, or any model) from labels and save a checkpoint.
    Train(cmd::train::TrainArgs),
    /// Train a student from a saved teacher's soft targets and save a checkpoint.
    Distill(cmd::distill::DistillArgs),
    /// Store a teacher's logits on every node (layer-wise, in chunks of nodes) in HDF5.
    SoftTargets(cmd::soft_targets::SoftTargetsArgs),
    /// Cut a dataset into parts (METIS or contiguous ranges), one HDF5 file per part plus a
    /// manifest, for `mpirun -np P gdistill soft-targets --partitions DIR`.
    Partition(cmd::partition::PartitionArgs),
    /// Evaluate a saved checkpoint on a dataset.
    Eval(cmd::eval::EvalArgs),
    /// A checkpoint as TorchScript for torch.jit.load: node models (graph models take x and
    /// edge_index), image MLPs and CNNs.
    Export(cmd::export::ExportArgs),
    /// The main job: teacher versus students, from scratch and distilled, over several seeds.
    Compare(cmd::compare::CompareArgs),
    /// Time training epochs and inference, and report peak memory.
    Bench(cmd::bench::BenchArgs),
    /// The bench on synthetic graphs of 10k to 1M nodes: time per epoch against edges, peak
    /// memory, and online latency of the GCN teacher against the MLP student.
    BenchScale(cmd::bench_scale::BenchScaleArgs),
    /// Optimal Brain Damage against magnitude and random pruning: accuracy versus sparsity.
    Prune(cmd::prune::PruneArgs),
}

/// Keeps large allocations in glibc's heap. By default every block above 32 MiB is a fresh `mmap`
/// returned with `munmap` when freed, so a 1M-node graph's activations (hundreds of MiB per
/// tensor, several per step) cost page faults and zeroing on every epoch: measured on a
/// 1M-node CSBM, 4.6 s per GCN step with the default, 2.4 s with the heap reused; the cost is
/// a higher peak RSS (freed memory stays with the process).
fn reuse_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

extern "C" {
    /// src/cpp/quiet_warnings.cpp: drops libtorch's "... is in beta" notices.
    fn gdistill_drop_libtorch_beta_notices();
}

/// libtorch's beta notices (sparse CSR tensors on every run, `index_reduce` for GAT) are noise:
/// every graph here is CSR. `GDISTILL_TORCH_WARNINGS=1` keeps it (and it never hides any other warning).
fn quiet_libtorch_notices() {
    if std::env::var_os("GDISTILL_TORCH_WARNINGS").is_none_or(|v| v != "1") {
        // SAFETY: installs a handler object that lives as long as the thread; takes no input.
        unsafe { gdistill_drop_libtorch_beta_notices() }
    }
}

/// Subnormal floats are flushed to zero (models/src/denormals.rs): a training run that fills its
/// tensors with them otherwise slows thirtyfold (NOSMOG on Amazon Computers: 0.7 s to 22 s an
/// epoch). First in `main`, so that every thread libtorch and rayon start inherits it.
/// `GDISTILL_KEEP_DENORMALS=1` keeps IEEE subnormals, as PyTorch does by default.
fn flush_denormals_unless_asked() {
    if std::env::var_os("GDISTILL_KEEP_DENORMALS").is_none_or(|v| v != "1") {
        gdistill_models::flush_denormals(true);
    }
}

impl Command {
    /// The `--device` spec of a command that runs models.
    fn device_spec(&self) -> Option<&str> {
        match self {
            Command::Data(_) | Command::Export(_) | Command::BenchScale(_) | Command::Partition(_) => None,
            Command::Train(a) => Some(&a.device.device),
            Command::Distill(a) => Some(&a.device.device),
            Command::SoftTargets(a) => Some(&a.device.device),
            Command::Eval(a) => Some(&a.device.device),
            Command::Compare(a) => Some(&a.device.device),
            Command::Bench(a) => Some(&a.device.device),
            Command::Prune(a) => Some(&a.device.device),
        }
    }
}

/// libtorch's CUDA backend is not linked (build/link_libtorch.rs): it is loaded here, before the
/// command touches libtorch, when `--device` may mean CUDA, since libtorch leaves CUDA off for good
/// once anything (seeding included) asks about it before the load. A failure is reported where
/// the device is parsed. `bench-scale` runs its sizes as child processes, each loading its own.
fn load_cuda_if_asked(command: &Command) {
    if command.device_spec().is_some_and(gdistill_models::asks_for_cuda) {
        let _ = gdistill_models::load_cuda();
    }
}

fn main() {
    flush_denormals_unless_asked();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == cmd::PROBE_ARG) {
        std::process::exit(gdistill_datasets::h5graph::isolate::probe_main(&args[2..]));
    }
    cmd::choose_hdf5_probe();
    reuse_freed_memory();
    quiet_libtorch_notices();
    let cli = Cli::parse();
    load_cuda_if_asked(&cli.command);
    // Under mpirun/srun with several ranks: MPI up until the end of main (see src/cmd/mpi/).
    let _mpi = cmd::mpi::launch();
    let result = match cli.command {
        _ if cmd::mpi::ranks().is_some()
            && !matches!(cli.command, Command::Distill(_) | Command::SoftTargets(_) | Command::Train(_)) =>
        {
            Err(anyhow::anyhow!(cmd::mpi::ONLY_THESE_COMMANDS))
        }
        Command::Data(c) => cmd::data::run(c),
        Command::Train(a) => cmd::train::run(a),
        Command::Distill(a) => cmd::distill::run(a),
        Command::SoftTargets(a) => cmd::soft_targets::run(a),
        Command::Partition(a) => cmd::partition::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::BenchScale(a) => cmd::bench_scale::run(a),
        Command::Prune(a) => cmd::prune::run(a),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        cmd::mpi::exit_on_error(1);
    }
}
