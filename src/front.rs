//! `gdistill`, the command a user runs: a light front that starts in milliseconds.
//!
//! Loading libtorch costs about 0.2 s of CPU time before `main` runs (the static initialisers of
//! libtorch_cpu, which register thousands of operators), which `gdistill data info` never needs.
//! So this binary links no libtorch: it runs `data info` (src/cmd/data_info.rs) and `data fetch`
//! (src/cmd/fetch.rs) itself, and the
//! HDF5 probe where `gdistill-h5probe` is missing, and for every other command becomes
//! `gdistill-torch`, built beside it (src/main.rs), by `exec`: same process, arguments, standard
//! streams and exit status.

// The flag doc comments are `--help` text, where `<name>/` and `[default: ..]` are literal, not
// HTML or links (as in src/main.rs).
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

#[path = "cmd/data_info.rs"]
mod data_info;
#[path = "cmd/fetch.rs"]
mod fetch;
#[path = "cmd/light.rs"]
mod light;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use clap::{Parser, Subcommand};
use light::{write_json, DatasetArgs};

/// `gdistill data info` and `data fetch` only, parsed as gdistill-torch parses them (tests/quiet_start.rs compares
/// their help texts).
#[derive(Parser)]
#[command(name = "gdistill", bin_name = "gdistill", version)]
struct Front {
    #[command(subcommand)]
    command: FrontCommand,
}

#[derive(Subcommand)]
enum FrontCommand {
    /// Inspect datasets.
    #[command(subcommand)]
    Data(FrontData),
}

#[derive(Subcommand)]
enum FrontData {
    /// Print nodes, edges, features, classes, split sizes, isolated nodes and self-loops.
    ///
    /// Example: gdistill data info --dataset cora --json cora.json
    Info(data_info::InfoArgs),
    /// Download a public dataset (Planetoid, gnn-benchmark npz, OGB) into the data directory, checked against pinned sha256.
    ///
    /// Example: gdistill data fetch cora --data-dir data; gdistill data fetch --list
    Fetch(fetch::FetchArgs),
}

/// The binary with the libtorch commands, beside this one.
const TORCH_BINARY: &str = "gdistill-torch";

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let word = |i: usize, expected: &str| args.get(i).is_some_and(|a| a == expected);
    if word(1, light::PROBE_ARG) {
        // The HDF5 probe where no gdistill-h5probe is installed (light::choose_hdf5_probe).
        std::process::exit(gdistill_datasets::h5graph::isolate::probe_main(&args[2..]));
    }
    if word(1, "data") && (word(2, "info") || word(2, "fetch")) {
        let result = match Front::parse().command {
            FrontCommand::Data(FrontData::Info(info)) => {
                light::choose_hdf5_probe();
                data_info::info(info)
            }
            FrontCommand::Data(FrontData::Fetch(args)) => fetch::fetch(args),
        };
        if let Err(err) = result {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
        return;
    }
    let program =
        std::env::current_exe().map(|exe| exe.with_file_name(TORCH_BINARY)).unwrap_or_else(|_| TORCH_BINARY.into());
    let mut command = std::process::Command::new(&program);
    if let Some(arg0) = args.first() {
        command.arg0(arg0); // the name the user ran, for `ps` and the like
    }
    let err = command.args(args.iter().skip(1)).exec();
    eprintln!(
        "error: cannot run {} (gdistill's libtorch commands, installed beside gdistill): {err}",
        program.display()
    );
    std::process::exit(1);
}
