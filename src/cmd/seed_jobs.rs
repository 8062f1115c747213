//! `compare --jobs N`: a comparison's seeds trained side by side in N worker processes.
//!
//! Processes, not threads: libtorch's CPU generator is global, so seeds trained on threads of
//! one process would draw from one stream and none would be reproducible; and a seed of a small
//! graph is made of ops too small for libtorch's intra-op threads (two threads gained 11 % on
//! the sampled small student of Amazon Computers; two processes trained its ten seeds 1.7 times
//! as fast, docs/performance-and-scale.md). Each seed is deterministic on its own, which the run journal already relies on
//! (`gdistill_distill::journal`), so a seed gives in a worker the figures it gives in a
//! sequential run with the same `--threads`.
//!
//! The parent runs the tuning search itself, if there is one, recording its trials in the run
//! journal. Each worker runs the same command line with `--worker-seeds` and a copy of that
//! journal: it replays the trials (so it resolves the same tuned config), trains its seeds and
//! records them in its copy. The parent moves the workers' seeds into its own journal and builds
//! the report by replaying every seed, as `--resume` does: the report is the one a sequential
//! run writes, timings aside (each seed's are measured in its worker, beside the others).

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use gdistill_distill::journal::{finished_records, seed_key, Journal, RunLog, Share};
use gdistill_distill::tune::SearchPart;

use super::resume;

/// The intra-op threads each seed trains on: `--threads`, else with several jobs the cores
/// shared out (at least one each), else libtorch's choice.
pub fn seed_threads(jobs: usize, threads: Option<i32>) -> Result<Option<i32>> {
    anyhow::ensure!(jobs > 0, "--jobs must be at least 1, got 0");
    if threads.is_some() || jobs == 1 {
        return Ok(threads);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Some((cores / jobs).max(1) as i32))
}

/// `pending` seeds dealt to at most `jobs` workers in turn, so that each gets seeds from the
/// whole range (seeds of one run cost about the same).
pub fn deal(pending: &[u64], jobs: usize) -> Vec<Vec<u64>> {
    let workers = jobs.min(pending.len());
    (0..workers).map(|w| pending.iter().skip(w).step_by(workers).copied().collect()).collect()
}

/// One worker process and where it keeps its journal and messages.
struct Worker {
    seeds: Vec<u64>,
    journal: PathBuf,
    messages: PathBuf,
    child: Child,
}

/// Trains the seeds `pending` in worker processes and records their figures in `journal` as
/// each finishes, so that a run killed meanwhile resumes from them. `journal` already holds the
/// tuning search's trials (the workers replay them); `threads` is passed to workers when the
/// command line has no `--threads`; `scratch` holds their journals and messages.
pub fn train_seeds_in_workers(
    journal: &mut Journal,
    pending: &[u64],
    jobs: usize,
    threads: Option<i32>,
    scratch: &Path,
) -> Result<()> {
    let mut workers = Vec::new();
    for (w, seeds) in deal(pending, jobs).into_iter().enumerate() {
        let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let role = [OsString::from("--worker-seeds"), list.join(",").into()];
        let (journal, messages, child) = spawn_worker(journal, &format!("worker-{w}"), &role, threads, scratch)?;
        workers.push(Worker { seeds, journal, messages, child });
    }
    let bar = crate::output::seed_bar(pending.len(), workers.len());
    let mut statuses = vec![None; workers.len()];
    loop {
        for (worker, status) in workers.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = worker.child.try_wait().context("waiting for a --jobs worker")?;
            }
        }
        // Read after the statuses: a worker that has ended has written all it will.
        for worker in &workers {
            take_finished_seeds(worker, journal)?;
        }
        let done = pending.iter().filter(|&&s| journal.recorded(&seed_key(s)).is_some()).count();
        bar.set_position(done as u64);
        if statuses.iter().all(Option::is_some) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bar.finish_and_clear();
    for (worker, status) in workers.iter().zip(statuses) {
        let status = status.expect("every worker has ended");
        if !status.success() {
            let text = std::fs::read_to_string(&worker.messages).unwrap_or_default();
            eprint!("{text}");
            bail!("the --jobs worker training seeds {:?} failed ({status}); its messages are above", worker.seeds);
        }
    }
    for seed in pending {
        anyhow::ensure!(
            journal.recorded(&seed_key(*seed)).is_some(),
            "the --jobs workers ended without recording seed {seed}"
        );
    }
    Ok(())
}

/// Starts a worker process named `name` in `scratch`: this command line with the worker's
/// `role` arguments, a copy of `journal` and `--threads` when `threads` is given. Returns the
/// copy's path, the file of its messages and the process.
fn spawn_worker(
    journal: &Journal,
    name: &str,
    role: &[OsString],
    threads: Option<i32>,
    scratch: &Path,
) -> Result<(PathBuf, PathBuf, Child)> {
    let program = std::env::current_exe().context("finding this program to start the --jobs workers")?;
    let report = scratch.join(format!("{name}.json"));
    let copy = resume::journal_path(&report);
    std::fs::copy(journal.path(), &copy)
        .with_context(|| format!("{}: cannot copy the run journal for a worker", copy.display()))?;
    let messages = scratch.join(format!("{name}.stderr"));
    let mut command = Command::new(&program);
    command.args(std::env::args_os().skip(1)).args(role).arg("--worker-report").arg(&report);
    if let Some(t) = threads {
        command.arg("--threads").arg(t.to_string());
    }
    let err = File::create(&messages).with_context(|| format!("{}: cannot create", messages.display()))?;
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    // A worker outlives no parent: killed with it (SIGKILL included), it does not train on
    // for a report nobody will write. Set between fork and exec, where only
    // async-signal-safe calls are allowed: prctl is one.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().with_context(|| format!("starting a --jobs worker ({})", program.display()))?;
    Ok((copy, messages, child))
}

/// What a search worker runs: the small student's stage, after the teacher's (replayed from
/// the journal) or ahead of it, on the recipe's feature normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchRole {
    Small,
    SmallAhead,
}

impl SearchRole {
    pub fn part(self) -> SearchPart {
        match self {
            SearchRole::Small => SearchPart::SMALL,
            SearchRole::SmallAhead => SearchPart::SMALL_AHEAD,
        }
    }
}

/// The worker running the tuning search's small-student stage ([`start_search_worker`]).
pub struct SearchWorker {
    journal: PathBuf,
    messages: PathBuf,
    child: Child,
}

impl SearchWorker {
    /// Stops the worker: its trials will not be read.
    pub fn abandon(mut self) {
        // Already ended or not, it is reaped; its journal goes with the scratch folder.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the tuning search's small-student stage in a worker process running `role`, on a
/// copy of `journal` (the trials recorded so far, which it replays). `threads` as for the seed
/// workers.
pub fn start_search_worker(
    journal: &Journal,
    role: SearchRole,
    threads: Option<i32>,
    scratch: &Path,
) -> Result<SearchWorker> {
    let value = role.to_possible_value().expect("no variant is skipped").get_name().to_string();
    let args = [OsString::from("--worker-search"), OsString::from(&value)];
    let (journal, messages, child) = spawn_worker(journal, &format!("search-worker-{value}"), &args, threads, scratch)?;
    Ok(SearchWorker { journal, messages, child })
}

/// Waits for the search `worker` and takes the trials it recorded into `journal` (those not
/// there yet; the teacher's were copied to it), for the whole search to replay.
pub fn finish_search_worker(mut worker: SearchWorker, journal: &mut Journal) -> Result<()> {
    let status = worker.child.wait().context("waiting for the --jobs search worker")?;
    if !status.success() {
        let text = std::fs::read_to_string(&worker.messages).unwrap_or_default();
        eprint!("{text}");
        bail!("the --jobs worker tuning the small student failed ({status}); its messages are above");
    }
    take_records(&worker.journal, journal, |_| true)
}

/// Moves the seeds `worker` has finished (its own, not yet in `journal`) into `journal`.
fn take_finished_seeds(worker: &Worker, journal: &mut Journal) -> Result<()> {
    take_records(&worker.journal, journal, |key| worker.seeds.iter().any(|&s| seed_key(s) == key))
}

/// Copies into `journal` the finished records of the worker journal at `from` that `wanted`
/// accepts and `journal` does not hold yet.
fn take_records(from: &Path, journal: &mut Journal, wanted: impl Fn(&str) -> bool) -> Result<()> {
    for (key, figures) in finished_records(from)? {
        if wanted(&key) && journal.recorded(&key).is_none() {
            journal.record(&key, figures)?;
        }
    }
    Ok(())
}

/// A worker's part: `run` trains this worker's `seeds`, replaying the trials of the journal the
/// parent copied to `report`'s journal, and records each seed there. The journal is kept for
/// the parent to read.
pub fn work(
    report: &Path,
    seeds: Vec<u64>,
    header: (serde_json::Value, serde_json::Value),
    run: impl FnOnce(&mut dyn RunLog) -> Result<()>,
) -> Result<()> {
    let (dataset, settings) = header;
    // The parent's copy: refused if this process resolved another config from the command line.
    let header = resume::header("compare", dataset, settings);
    let (mut journal, _) = Journal::start(&resume::journal_path(report), &header, true)?;
    run(&mut Share { log: &mut journal, seeds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_dealt_in_turn_to_no_more_workers_than_seeds() {
        assert_eq!(deal(&[0, 1, 2, 3, 4], 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(deal(&[7, 9], 4), vec![vec![7], vec![9]]);
        assert!(deal(&[], 3).is_empty());
    }

    #[test]
    fn threads_are_the_flag_or_the_cores_shared_out() {
        assert_eq!(seed_threads(1, None).unwrap(), None);
        assert_eq!(seed_threads(3, Some(2)).unwrap(), Some(2));
        let cores = std::thread::available_parallelism().unwrap().get() as i32;
        assert_eq!(seed_threads(2, None).unwrap(), Some((cores / 2).max(1)));
        assert_eq!(seed_threads(10_000, None).unwrap(), Some(1));
        assert!(seed_threads(0, None).unwrap_err().to_string().contains("--jobs must be at least 1"));
    }
}
