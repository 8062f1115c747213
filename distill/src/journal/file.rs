//! The journal file: JSON lines beside the report. Line 1 is the [`Header`]; every further line
//! is one finished unit, `{"key": "seed 3", "figures": {...}}`, appended and flushed to disk
//! (`fsync`) before the run goes on, so a kill loses at most the unit in progress.
//!
//! A SIGKILL can stop a process inside the `write` of a line: a last line without its newline
//! is such a torn record, dropped on resume. Anything else that does not read (a complete line
//! that is not a record, a header of another run) is refused naming the file and the line:
//! replaying figures of another command line or another binary would silently put wrong numbers
//! in the report.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use gdistill_datasets::input::{read_input_string, InputKind};
use serde::{Deserialize, Serialize};

use super::{Header, Recorded, RunLog, FORMAT};
use crate::TrainError;

/// What a journal holds: small JSON lines, a few per seed or trial.
const KIND: InputKind<'static> = InputKind::small("a gdistill run journal (JSON lines)");

/// One finished unit, as a line of the file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    key: String,
    figures: serde_json::Value,
}

/// How [`Journal::start`] found the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// No journal was there: the run starts afresh.
    Fresh,
    /// A journal of this run was there: `units` of its units are replayed; `torn` says whether
    /// a last record cut short by a kill was dropped.
    Resumed { units: usize, torn: bool },
}

/// The journal of one run, open for appending.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Each recorded unit: its line number (from 1) and figures.
    units: HashMap<String, (usize, serde_json::Value)>,
    /// Lines in the file.
    lines: usize,
}

fn error(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Config(format!("{}: {message}", path.display()))
}

impl Journal {
    /// Opens the journal at `path` for the run described by `header`. Without `resume`, a journal
    /// already there is refused (it holds an interrupted run's work, which a fresh start would
    /// throw away); with it, that journal is read and must be this run's. `resume` with no
    /// journal starts afresh, so that a script may always pass it.
    pub fn start(path: &Path, header: &Header, resume: bool) -> Result<(Journal, Opened), TrainError> {
        let exists = std::fs::symlink_metadata(path).is_ok();
        if exists && !resume {
            // A journal with no finished unit (killed before the first) holds no work: replaced.
            let text = read_input_string(path, &KIND).map_err(|e| TrainError::Config(e.to_string()))?;
            if text.matches('\n').count() > 1 {
                return Err(error(
                    path,
                    "a journal of an interrupted run is there: --resume continues it; delete the file to start afresh",
                ));
            }
        }
        let (units, lines, opened) = if exists && resume {
            let (units, lines, torn) = read(path, header)?;
            let opened = Opened::Resumed { units: units.len(), torn };
            (units, lines, opened)
        } else {
            let line = serde_json::to_string(header).map_err(|e| error(path, e))?;
            (HashMap::new(), vec![line], Opened::Fresh)
        };
        // Rewritten whole (dropping a torn record), so that appends start on a line of their own.
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        crate::write_atomically(path, text.as_bytes()).map_err(|e| TrainError::Config(e.to_string()))?;
        let file = OpenOptions::new().append(true).open(path).map_err(|e| write_error(path, &e))?;
        Ok((Journal { path: path.to_path_buf(), file, units, lines: lines.len() }, opened))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether no unit is recorded (a run that failed before finishing one keeps nothing).
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Removes the journal: the run's report, written whole, now holds everything it held.
    pub fn finish(mut self) -> Result<(), TrainError> {
        let path = std::mem::take(&mut self.path);
        std::fs::remove_file(&path).map_err(|e| error(&path, format!("cannot remove the finished run's journal: {e}")))
    }
}

/// A run that fails before finishing a unit leaves no journal: there is nothing to resume, and
/// a failure must leave no file behind. One that finished units keeps it, for `--resume`.
impl Drop for Journal {
    fn drop(&mut self) {
        if self.units.is_empty() && !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> TrainError {
    error(path, format!("the run journal: {}", gdistill_datasets::atomic::describe_write_error(path, e)))
}

/// The journal's units (checked against `header`), its good lines, and whether a torn last
/// record was dropped.
#[allow(clippy::type_complexity)]
fn read(
    path: &Path,
    header: &Header,
) -> Result<(HashMap<String, (usize, serde_json::Value)>, Vec<String>, bool), TrainError> {
    let text = read_input_string(path, &KIND).map_err(|e| TrainError::Config(e.to_string()))?;
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let torn = lines.last().is_some_and(|l| !l.ends_with('\n'));
    if torn {
        lines.pop();
    }
    let mut lines = lines.into_iter().map(|l| l.trim_end_matches('\n'));
    let first = lines.next().ok_or_else(|| error(path, "empty: not a gdistill run journal"))?;
    let found: Header = serde_json::from_str(first)
        .ok()
        .filter(|h: &Header| h.format == FORMAT)
        .ok_or_else(|| error(path, "line 1: not a gdistill run journal header"))?;
    check_header(path, &found, header)?;
    let mut units = HashMap::new();
    let mut kept = vec![first.to_string()];
    for (n, line) in lines.enumerate().map(|(k, l)| (k + 2, l)) {
        let record = parse_record(path, n, line)?;
        if units.insert(record.key.clone(), (n, record.figures)).is_some() {
            return Err(error(path, format!("line {n}: {} is recorded twice", record.key)));
        }
        kept.push(line.to_string());
    }
    Ok((units, kept, torn))
}

/// The complete records of a journal another process is still appending to, in order, without
/// touching the file (a torn or half-written last line is left for a later read). For a run
/// that hands work to worker processes and takes their finished units as they come; the
/// worker checked the header when it opened the file.
pub fn finished_records(path: &Path) -> Result<Vec<(String, serde_json::Value)>, TrainError> {
    // A worker that failed before finishing a unit removed its journal: nothing finished.
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(Vec::new());
    }
    let text = read_input_string(path, &KIND).map_err(|e| TrainError::Config(e.to_string()))?;
    let complete = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).skip(1);
    complete
        .enumerate()
        .map(|(k, line)| parse_record(path, k + 2, line.trim_end_matches('\n')).map(|r| (r.key, r.figures)))
        .collect()
}

/// Line `n` of the journal at `path`, a record.
fn parse_record(path: &Path, n: usize, line: &str) -> Result<Line, TrainError> {
    serde_json::from_str(line).map_err(|e| error(path, format!("line {n}: not a journal record: {e}")))
}

/// Refuses a journal of another command, binary, dataset or command line, naming what differs.
fn check_header(path: &Path, found: &Header, wanted: &Header) -> Result<(), TrainError> {
    let delete = "delete it to start afresh";
    if found.command != wanted.command {
        let (a, b) = (&found.command, &wanted.command);
        return Err(error(path, format!("a journal of gdistill {a}, not of gdistill {b}: {delete}")));
    }
    if found.version != wanted.version {
        let (a, b) = (&found.version, &wanted.version);
        return Err(error(path, format!("a journal written by gdistill {a}, and this is gdistill {b}: its figures may not be this binary's; {delete}")));
    }
    for (what, a, b) in [("dataset", &found.dataset, &wanted.dataset), ("command line", &found.config, &wanted.config)]
    {
        if let Some((key, there, here)) = first_difference(a, b, "") {
            let key = if key.is_empty() { String::new() } else { format!(" at {key}") };
            return Err(error(
                path,
                format!("a journal of another {what} ({there}{key} in the journal, {here} now): resume with the same command line, or {delete}"),
            ));
        }
    }
    Ok(())
}

/// The first place where `a` and `b` differ: its dotted key and both values as JSON.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<(String, String, String)> {
    use serde_json::Value;
    let key = |k: &str| if at.is_empty() { k.to_string() } else { format!("{at}.{k}") };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &key(k)),
                (p, q) => Some((key(k), show(p), show(q))),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]")))
        }
        _ if a == b => None,
        _ => Some((at.to_string(), a.to_string(), b.to_string())),
    }
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
}

impl RunLog for Journal {
    fn recorded(&self, key: &str) -> Option<Recorded<'_>> {
        let (line, figures) = self.units.get(key)?;
        Some(Recorded { at: format!("{}: line {line}", self.path.display()), figures })
    }

    fn record(&mut self, key: &str, figures: serde_json::Value) -> Result<(), TrainError> {
        let line = Line { key: key.to_string(), figures };
        let mut text = serde_json::to_string(&line).map_err(|e| error(&self.path, e))?;
        text.push('\n');
        // One write per record, then to disk: a kill leaves whole records and at most one torn.
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| write_error(&self.path, &e))?;
        self.lines += 1;
        self.units.insert(line.key, (self.lines, line.figures));
        Ok(())
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
