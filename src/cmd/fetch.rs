//! `gdistill data fetch NAME`: downloads a public dataset into the data directory, checked
//! against the sha256 values pinned in the catalogue (gdistill_datasets::fetch).
//!
//! Needs no libtorch: the light `gdistill` front runs it itself (src/front.rs), as it does
//! `data info`. The progress bar is drawn only on a terminal (indicatif hides a stderr bar
//! elsewhere), as everywhere in the CLI (src/output.rs), so logs and CI get the per-file lines
//! on stdout and nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::fetch::{self, Entry, FetchOptions, Layout, Outcome, Progress, CATALOGUE};
use gdistill_datasets::limits::human_bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What to download, and where.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Dataset to download: cora, citeseer, pubmed, amazon-photo, amazon-computers, coauthor-cs,
    /// coauthor-physics, ogbn-arxiv, ogbn-products (--list says more).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// Print the catalogue: each dataset's files, size, whether their sha256 is pinned, and where they go.
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
    /// Directory that receives <name>/ folders [default: $GDISTILL_DATA_DIR, else data/].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Also download files whose sha256 the catalogue does not pin; their sha256 is printed so
    /// you can compare it with a trusted copy.
    #[arg(long)]
    pub allow_unpinned: bool,
}

/// `GDISTILL_FETCH_BASE_URL`: a mirror serving the files by name (`BASE/ind.cora.x`), for hosts
/// that cannot reach the sources and for tests. Pins are checked all the same.
const BASE_URL_VAR: &str = "GDISTILL_FETCH_BASE_URL";
/// `GDISTILL_FETCH_TIMEOUT_S`: seconds to wait for a connection, and for each read.
const TIMEOUT_VAR: &str = "GDISTILL_FETCH_TIMEOUT_S";

pub fn fetch(args: FetchArgs) -> Result<()> {
    let data_dir = args
        .data_dir
        .or_else(|| std::env::var_os("GDISTILL_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    if args.list {
        print_catalogue(&data_dir);
        return Ok(());
    }
    let name = args.name.unwrap_or_default();
    let entry = fetch::find(&name).map_err(anyhow::Error::msg)?;
    let mut options = FetchOptions::new(&data_dir);
    options.allow_unpinned = args.allow_unpinned;
    options.base_url = std::env::var(BASE_URL_VAR).ok().filter(|u| !u.is_empty());
    if let Some(limit) = timeout_from_env()? {
        options.connect_timeout = limit;
        options.read_timeout = limit;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let result = fetch::fetch(entry, &options, &mut |event| show(&bar, event));
    bar.finish_and_clear();
    let reports = result.with_context(|| format!("fetching {}", entry.name))?;
    for report in &reports {
        println!("{}: {}", report.path.display(), describe(&report.outcome));
    }
    println!("{} is ready: --dataset {}{}", entry.name, entry.spec.replace("DIR", &data_dir.display().to_string()), {
        if entry.spec.contains("DIR") {
            String::new()
        } else {
            format!(" --data-dir {}", data_dir.display())
        }
    });
    Ok(())
}

fn timeout_from_env() -> Result<Option<Duration>> {
    let Ok(text) = std::env::var(TIMEOUT_VAR) else { return Ok(None) };
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        _ => anyhow::bail!("{TIMEOUT_VAR}={text}: expected a positive number of seconds"),
    }
}

fn show(bar: &ProgressBar, event: Progress) {
    match event {
        Progress::Start { url, total, from } => {
            let template = match total {
                Some(total) => {
                    bar.set_length(total);
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
                }
                None => "{msg} {bytes} {bytes_per_sec}",
            };
            bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
            bar.set_position(from);
            bar.set_message(url.rsplit('/').next().unwrap_or(url).to_owned());
            bar.reset_eta();
        }
        Progress::Advance(n) => bar.inc(n),
        Progress::Finish => {}
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Present { checked: true } => "already there, sha256 verified".to_owned(),
        Outcome::Present { checked: false } => "already there (no pinned sha256 to check it against)".to_owned(),
        Outcome::Downloaded { bytes, sha256, resumed_from, pinned } => {
            let resumed =
                if *resumed_from > 0 { format!(", resumed after {resumed_from} bytes") } else { String::new() };
            let hash = if *pinned {
                "sha256 verified".to_owned()
            } else {
                format!("sha256 {sha256} (not pinned: compare it with a trusted copy)")
            };
            format!("downloaded, {bytes} bytes{resumed}, {hash}")
        }
        Outcome::Unpacked => "unpacked (the archive was removed)".to_owned(),
    }
}

fn print_catalogue(data_dir: &Path) {
    println!("data directory: {} (--data-dir, else $GDISTILL_DATA_DIR, else data/)", data_dir.display());
    println!("{:<17} {:>5} {:>10}  {:<14} {:<32} READ WITH", "NAME", "FILES", "SIZE", "SHA256", "GOES TO");
    for entry in CATALOGUE {
        let size = entry.bytes().map(|b| human_bytes(b as u128)).unwrap_or_else(|| "unknown".to_owned());
        println!(
            "{:<17} {:>5} {:>10}  {:<14} {:<32} --dataset {}",
            entry.name,
            entry.files.len(),
            size,
            pinning(entry),
            goes_to(entry),
            entry.spec.replace("DIR", "DATA_DIR")
        );
    }
    println!("Files come from the URLs PyTorch Geometric and OGB download from; each entry's files:");
    for entry in CATALOGUE {
        let names: Vec<&str> = entry.files.iter().map(|f| f.name).collect();
        println!("  {}: {}/{{{}}}", entry.name, entry.base_url, names.join(","));
    }
}

fn pinning(entry: &Entry) -> String {
    let pinned = entry.files.iter().filter(|f| f.sha256.is_some()).count();
    match pinned {
        0 => "not pinned".to_owned(),
        n if n == entry.files.len() => "pinned".to_owned(),
        n => format!("{n} of {} pinned", entry.files.len()),
    }
}

fn goes_to(entry: &Entry) -> String {
    match entry.layout {
        Layout::Files { dir } => format!("DATA_DIR/{dir}/"),
        Layout::Zip { dir, .. } => format!("DATA_DIR/{dir}/ (unpacked)"),
    }
}
