//! `--resume` (compare on graphs, prune): the run journal kept beside the `--json` report.
//!
//! The journal lives at `REPORT.journal` (the report's path with `.journal` appended): a run
//! without `--json` keeps none, since it has no place of its own to keep one, and two runs
//! writing different reports never share one. It is removed once the report is written; a run
//! that fails keeps it when it recorded anything (the work survives a full disk, say), and
//! removes it otherwise.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use gdistill_distill::journal::{Header, Journal, Opened, FORMAT};

/// The version a journal records: the package version and the git commit it was built from.
pub const VERSION: &str = env!("GDISTILL_VERSION");

#[derive(Args, Clone, Debug)]
pub struct ResumeArgs {
    /// Continue a run that was killed: the seeds and tuning trials recorded in its journal
    /// (REPORT.journal, beside the --json report) are not run again, their figures are used.
    /// The command line must be the same. Without a journal the run starts afresh.
    #[arg(long)]
    pub resume: bool,
}

/// Where the journal of a run writing `report` lives.
pub fn journal_path(report: &Path) -> PathBuf {
    let mut name = report.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".journal");
    report.with_file_name(name)
}

/// The journal of a `command` run writing `report`, for its `dataset` and resolved `config`;
/// none without a report. A journal already there is refused without `--resume`.
pub fn open(
    report: Option<&Path>,
    resume: &ResumeArgs,
    command: &str,
    dataset: serde_json::Value,
    config: serde_json::Value,
) -> Result<Option<Journal>> {
    let Some(report) = report else {
        if resume.resume {
            bail!("--resume needs --json REPORT: the run journal is kept beside the report, as REPORT.journal");
        }
        return Ok(None);
    };
    // Found now rather than after hours of training, when the report is written.
    if report.is_dir() {
        bail!("writing the JSON report: {}: cannot write: is a directory", report.display());
    }
    let path = journal_path(report);
    let (journal, opened) = Journal::start(&path, &header(command, dataset, config), resume.resume)?;
    match opened {
        Opened::Fresh if resume.resume => eprintln!("note: no journal at {}: starting afresh", path.display()),
        Opened::Fresh => {}
        Opened::Resumed { units, torn } => {
            let torn = if torn { "; its last record, cut short by the kill, was dropped" } else { "" };
            eprintln!("note: resuming from {}: {units} seeds and trials done{torn}", path.display());
        }
    }
    Ok(Some(journal))
}

/// The first line of a `command` run's journal, for its `dataset` and resolved `config`.
pub fn header(command: &str, dataset: serde_json::Value, config: serde_json::Value) -> Header {
    Header { format: FORMAT.into(), command: command.into(), version: VERSION.into(), dataset, config }
}

/// Ends a run's journal: removed when the run `succeeded` (its report now holds everything) or
/// recorded nothing (on drop); kept otherwise, for `--resume`.
pub fn close(journal: Option<Journal>, succeeded: bool) -> Result<()> {
    match journal {
        Some(journal) if succeeded => Ok(journal.finish()?),
        Some(journal) if !journal.is_empty() => {
            eprintln!("note: {} keeps the finished seeds and trials: --resume continues", journal.path().display());
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A file the run reads (a checkpoint) as a journal header records it: its path and, for a
/// regular file, a hash of its bytes, so that a file replaced between kill and resume is seen.
pub fn file_identity(path: &Path) -> serde_json::Value {
    let bytes = std::fs::metadata(path).ok().filter(|m| m.is_file()).and_then(|_| std::fs::read(path).ok());
    serde_json::json!({
        "path": path.display().to_string(),
        "fnv64": bytes.map(|b| gdistill_distill::journal::bytes_identity(&b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_sits_beside_the_report() {
        assert_eq!(journal_path(Path::new("out/r.json")), Path::new("out/r.json.journal"));
        assert_eq!(journal_path(Path::new("r")), Path::new("r.journal"));
    }
}
