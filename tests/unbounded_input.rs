//! Inputs that never end (issue 21), end to end: every reader of the `gdistill` binary given a
//! device that never ends (`/dev/zero`), a FIFO nobody writes to, a directory and a 1 TiB sparse
//! regular file (no disk used) must end within a few seconds with one `error:` line naming the
//! path and what it is, exit status 1, and a peak resident memory under 1 GiB. Before
//! `datasets/src/input.rs` a checkpoint or config at `/dev/zero` grew memory at 0.5 GB/s and a
//! FIFO blocked forever: the runner here kills a child past [`DEADLINE`] or [`RSS_KILL`] and
//! reports it, so such a regression fails rather than hangs.
//!
//! Also: a pipe is a legitimate input (`--config <(printf ...)`, a FIFO written by a thread), and
//! an output that cannot be written says why. The "Bad input" table in docs/reliability.md lists these cases.

#[path = "support/inputs.rs"]
mod inputs;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A small CSBM for the readers that need a dataset besides the bad file.
const CSBM: &str = "csbm:nodes=60,classes=2,degree=3,features=4,seed=1";

/// How long a silent pipe is waited for in these runs (`GDISTILL_READ_TIMEOUT_S`).
const PIPE_TIMEOUT_S: &str = "1";

/// Each bad run must end within this (a process start, libtorch loading, the pipe's timeout).
const WITHIN: Duration = Duration::from_secs(10);

/// Each bad run must peak below this resident size.
const MAX_RSS_BYTES: u64 = 1 << 30;

/// A bad run still going after this is killed and reported (so a regression fails, not hangs).
const DEADLINE: Duration = Duration::from_secs(30);

/// The deadline of a run that does real work (a short `compare`).
const WORK_DEADLINE: Duration = Duration::from_secs(600);

/// A run whose resident memory passes this is killed and reported (the machine is shared).
const RSS_KILL: u64 = 3 << 30;

/// What the binary did: exit status (None: killed), stderr, seconds, peak resident bytes, and
/// why it was killed, if it was.
struct Run {
    code: Option<i32>,
    stderr: String,
    seconds: f64,
    peak_rss: u64,
    killed: Option<String>,
}

/// Resident bytes of a running process (`VmRSS` of `/proc/PID/status`).
fn resident_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line[6..].trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024
}

/// Runs `gdistill ARGS` (or `program ARGS` when given), watching its time and memory; the peak
/// resident size comes from `wait4`'s `ru_maxrss` for this child alone.
fn run(program: Option<&str>, args: &[String], env: &[(&str, &str)], deadline: Duration) -> Run {
    let mut command = Command::new(program.unwrap_or(env!("CARGO_BIN_EXE_gdistill")));
    command.args(args).env_remove("GDISTILL_MAX_MEMORY").env("GDISTILL_READ_TIMEOUT_S", PIPE_TIMEOUT_S);
    for (k, v) in env {
        command.env(k, v);
    }
    let start = Instant::now();
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut killed = None;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our child, not yet reaped; status and usage are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        assert_eq!(reaped, 0, "wait4: {}", std::io::Error::last_os_error());
        let rss = resident_bytes(pid);
        if killed.is_none() && (start.elapsed() > deadline || rss > RSS_KILL) {
            killed = Some(format!("killed after {:.1} s at {} MiB resident", start.elapsed().as_secs_f64(), rss >> 20));
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = start.elapsed().as_secs_f64();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // ru_maxrss is in KiB on Linux
    Run { code, stderr: reader.join().unwrap(), seconds, peak_rss: usage.ru_maxrss as u64 * 1024, killed }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn text(p: &Path) -> String {
    p.display().to_string()
}

/// The bad things a path can be.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// A symbolic link to `/dev/zero`: a character device that never ends.
    DevZero,
    /// A FIFO that nothing writes to.
    Fifo,
    /// A directory.
    Directory,
    /// A sparse regular file of 1 TiB.
    Huge,
}

const BAD: [Bad; 4] = [Bad::DevZero, Bad::Fifo, Bad::Directory, Bad::Huge];

impl Bad {
    /// Makes `path` this bad thing.
    fn place(self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match self {
            Bad::DevZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
            Bad::Fifo => {
                let name = std::ffi::CString::new(text(path)).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
            }
            Bad::Directory => std::fs::create_dir(path).unwrap(),
            Bad::Huge => std::fs::File::create(path).unwrap().set_len(1 << 40).unwrap(),
        }
    }

    /// What the `error:` line must say for this bad thing given to a reader of `kind`.
    fn problem(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Bad::DevZero, _) => "a character device",
            (Bad::Fifo, Kind::Seekable) => "a pipe, but",
            (Bad::Fifo, Kind::Directory) => "a pipe, not a directory",
            (Bad::Fifo, Kind::Stream) => "a pipe that sent nothing",
            (Bad::Directory, _) => "a directory",
            (Bad::Huge, Kind::Directory) => "a file, not a directory",
            (Bad::Huge, _) => "1.0 TiB",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Bad::DevZero => "dev-zero",
            Bad::Fifo => "fifo",
            Bad::Directory => "directory",
            Bad::Huge => "huge",
        }
    }
}

/// What a reader expects at its path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A file read as a stream of bytes (a pipe serves, within the time limit).
    Stream,
    /// A file libhdf5 opens and seeks in (a pipe is refused, not waited for).
    Seekable,
    /// A directory.
    Directory,
}

/// One reader of the binary: how its command line names a bad path, and where that path is.
struct Reader {
    name: &'static str,
    kind: Kind,
    /// Given a fresh directory, makes the setting the reader needs and returns the command line
    /// and the path that gets the bad thing.
    setup: fn(&Path) -> (Vec<String>, PathBuf),
}

fn data_info(spec: String, data_dir: &Path) -> Vec<String> {
    strings(&["data", "info", "--dataset", &spec, "--data-dir", &text(data_dir)])
}

/// Every reader of the binary, each named by the command line that reaches it.
fn readers() -> Vec<Reader> {
    vec![
        Reader {
            name: "eval --checkpoint",
            kind: Kind::Stream,
            setup: |dir| {
                let bad = dir.join("model.safetensors");
                (strings(&["eval", "--dataset", CSBM, "--checkpoint", &text(&bad)]), bad)
            },
        },
        Reader {
            name: "compare --config",
            kind: Kind::Stream,
            setup: |dir| {
                let bad = dir.join("exp.toml");
                let args = ["compare", "--dataset", CSBM, "--seeds", "1", "--epochs", "2", "--config", &text(&bad)];
                (strings(&args), bad)
            },
        },
        Reader {
            name: "bench --peer",
            kind: Kind::Stream,
            setup: |dir| {
                let bad = dir.join("peer.json");
                (strings(&["bench", "--dataset", CSBM, "--epochs", "1", "--peer", &text(&bad)]), bad)
            },
        },
        Reader {
            name: "distill --soft-targets",
            kind: Kind::Seekable,
            setup: |dir| {
                let bad = dir.join("targets.h5");
                let out = text(&dir.join("student.safetensors"));
                let args =
                    ["distill", "--dataset", CSBM, "--model", "mlp", "--soft-targets", &text(&bad), "--out", &out];
                (strings(&args), bad)
            },
        },
        Reader {
            name: "data info --dataset npz:PATH",
            kind: Kind::Stream,
            setup: |dir| {
                let bad = dir.join("graph.npz");
                (data_info(format!("npz:{}", text(&bad)), dir), bad)
            },
        },
        Reader {
            name: "data info --dataset h5:PATH",
            kind: Kind::Seekable,
            setup: |dir| {
                let bad = dir.join("graph.h5");
                (data_info(format!("h5:{}", text(&bad)), dir), bad)
            },
        },
        Reader {
            name: "data info --dataset cora (Planetoid ind.cora.y)",
            kind: Kind::Stream,
            setup: |dir| {
                let files: Vec<_> = inputs::planetoid_files().into_iter().filter(|(ext, _)| *ext != "y").collect();
                let folder = inputs::write_planetoid(dir, "cora", &files);
                (data_info("cora".into(), dir), folder.join("ind.cora.y"))
            },
        },
        Reader {
            name: "data info --dataset linqs:PREFIX (PREFIX.content)",
            kind: Kind::Stream,
            setup: |dir| {
                let (_, cites) = inputs::linqs_texts();
                std::fs::write(dir.join("papers.cites"), cites).unwrap();
                (data_info(format!("linqs:{}", text(&dir.join("papers"))), dir), dir.join("papers.content"))
            },
        },
        Reader {
            name: "data info --dataset mnist:DIR (IDX t10k-images)",
            kind: Kind::Stream,
            setup: |dir| {
                let mnist = dir.join("mnist");
                (data_info(format!("mnist:{}", text(&mnist)), dir), mnist.join("t10k-images-idx3-ubyte"))
            },
        },
        Reader {
            name: "data info --dataset mnist:DIR (the directory itself)",
            kind: Kind::Directory,
            setup: |dir| {
                let mnist = dir.join("mnist-dir");
                (data_info(format!("mnist:{}", text(&mnist)), dir), mnist)
            },
        },
        Reader {
            name: "data info --dataset digits:FILE (CSV)",
            kind: Kind::Stream,
            setup: |dir| {
                let bad = dir.join("digits.csv");
                (data_info(format!("digits:{}", text(&bad)), dir), bad)
            },
        },
        Reader {
            name: "data info --dataset modelnet:DIR (train_files.txt)",
            kind: Kind::Stream,
            setup: |dir| {
                let clouds = dir.join("clouds");
                (data_info(format!("modelnet:{}", text(&clouds)), dir), clouds.join("train_files.txt"))
            },
        },
        Reader {
            name: "data info --dataset modelnet:train=A.h5,test=B.h5 (HDF5 point clouds)",
            kind: Kind::Seekable,
            setup: |dir| {
                let bad = dir.join("ply_data_train0.h5");
                (data_info(format!("modelnet:train={},test={}", text(&bad), text(&bad)), dir), bad)
            },
        },
    ]
}

/// Every reader against every bad kind, three runs at a time: each ends within [`WITHIN`] with
/// one `error:` line naming the path and what it is, exit status 1, no panic, and a peak
/// resident size under [`MAX_RSS_BYTES`]. Prints a line per run (seconds, peak MiB).
#[test]
fn every_reader_refuses_devices_silent_pipes_directories_and_huge_files_quickly() {
    let root = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for (r, reader) in readers().iter().enumerate() {
        for bad in BAD {
            // a path that must be a directory is only wrong as something else
            if reader.kind == Kind::Directory && matches!(bad, Bad::Directory) {
                continue;
            }
            let dir = root.path().join(format!("{r}-{}", bad.name()));
            std::fs::create_dir_all(&dir).unwrap();
            let (args, path) = (reader.setup)(&dir);
            bad.place(&path);
            cases.push((reader.name, reader.kind, bad, args, path));
        }
    }
    let queue = Mutex::new(cases.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().next() else { break };
                let outcome = run(None, &case.3, &[], DEADLINE);
                results.lock().unwrap().push((case, outcome));
            });
        }
    });
    let mut failures = Vec::new();
    let (mut slowest, mut largest) = (0f64, 0u64);
    for ((name, kind, bad, args, path), run) in results.into_inner().unwrap() {
        let label = format!("[{name} <- {}]", bad.name());
        eprintln!("{label} {:.2} s, peak {} MiB", run.seconds, run.peak_rss >> 20);
        slowest = slowest.max(run.seconds);
        largest = largest.max(run.peak_rss);
        let mut wrong = Vec::new();
        if let Some(why) = &run.killed {
            wrong.push(why.clone());
        }
        if run.code != Some(1) {
            wrong.push(format!("exit status {:?}, expected 1", run.code));
        }
        if run.seconds > WITHIN.as_secs_f64() {
            wrong.push(format!("took {:.1} s", run.seconds));
        }
        if run.peak_rss > MAX_RSS_BYTES {
            wrong.push(format!("peak resident {} MiB", run.peak_rss >> 20));
        }
        if run.stderr.contains("panicked") {
            wrong.push("panicked".into());
        }
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        match errors.as_slice() {
            [line] => {
                for needle in [text(&path).as_str(), bad.problem(*kind)] {
                    if !line.contains(needle) {
                        wrong.push(format!("error line lacks '{needle}': {line}"));
                    }
                }
            }
            _ => wrong.push(format!("{} error lines", errors.len())),
        }
        if !wrong.is_empty() {
            failures.push(format!("{label} gdistill {}: {}\nstderr: {}", args.join(" "), wrong.join("; "), run.stderr));
        }
    }
    eprintln!("{} runs: slowest {slowest:.2} s, largest peak {} MiB", cases.len(), largest >> 20);
    assert!(failures.is_empty(), "{} of {} runs failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

/// `--config <(printf ...)` is a pipe (`/dev/fd/N`) and a legitimate input: compare reads it
/// once and applies it (the report's config has the temperature it set).
#[test]
fn a_config_from_process_substitution_is_read_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let script = r#"exec "$0" compare --dataset "$1" --seeds 1 --epochs 2 --no-lsp --no-prune --json "$2" \
        --config <(printf 'temperature = 4.0\nalpha = 0.25\n')"#;
    let args = strings(&["-c", script, env!("CARGO_BIN_EXE_gdistill"), CSBM, &text(&json)]);
    let run = run(Some("bash"), &args, &[], WORK_DEADLINE);
    assert_eq!(run.code, Some(0), "{:?} {}", run.killed, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["config"]["temperature"], 4.0, "{report}");
    assert_eq!(report["config"]["alpha"], 0.25, "{report}");
}

/// A data file through a FIFO that a thread writes after a delay: read whole, then parsed (a
/// pipe is not refused, only a silent one).
#[test]
fn a_dataset_from_a_fifo_written_later_loads() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("papers.content");
    Bad::Fifo.place(&fifo);
    let (content, cites) = inputs::linqs_texts();
    std::fs::write(dir.path().join("papers.cites"), cites).unwrap();
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(writer_path, content).unwrap();
    });
    let spec = format!("linqs:{}", text(&dir.path().join("papers")));
    let run = run(None, &data_info(spec, dir.path()), &[("GDISTILL_READ_TIMEOUT_S", "5")], DEADLINE);
    writer.join().unwrap();
    assert_eq!(run.code, Some(0), "{:?} {}", run.killed, run.stderr);
}

/// `train --out /proc/version`: the file is there but cannot be replaced; the error says that
/// the directory takes no new files, not "file not found".
#[test]
fn an_output_that_cannot_be_written_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        run(None, &strings(&["train", "--dataset", CSBM, "--epochs", "1", "--out", "/proc/version"]), &[], DEADLINE);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let [line] = errors.as_slice() else { panic!("expected one error line: {}", run.stderr) };
    assert!(line.contains("/proc/version: cannot write: the directory /proc takes no new files"), "{line}");
    assert!(!line.contains("not found"), "{line}");
    // a directory as --json
    let target = dir.path().join("a-directory");
    std::fs::create_dir(&target).unwrap();
    let run = run_json_into(&target);
    assert!(run.stderr.contains(&format!("{}: cannot write: is a directory", text(&target))), "{}", run.stderr);
}

fn run_json_into(target: &Path) -> Run {
    run(None, &strings(&["data", "info", "--dataset", CSBM, "--json", &text(target)]), &[], DEADLINE)
}
