//! The guards every HDF5 read goes through before libhdf5 sees a file in this process.
//!
//! libhdf5 1.10 (Debian's, which gdistill builds against) trusts many on-disk fields: fuzzing
//! found corrupt files it loops forever on and files it crashes on (a segmentation fault inside
//! `H5Dread`). The byte checks of `precheck.rs` refuse the corruptions that can be recognised.
//! For the rest, the file is first read by a separate probe process (`gdistill-h5probe`, or the
//! `gdistill` binary itself), exec'd afresh so that it shares no locks or thread pools with this
//! one (a forked child did, and hung), and whose address space is capped at the memory budget of
//! [`crate::limits`] (fuzzing found a 6 KB file that makes libhdf5 allocate 6 GB of its own
//! buffers). If the probe crashes, runs out of its memory or hangs, the file is refused with a
//! message naming it; if it refuses the file cleanly, its error is passed on; only if it reads the
//! file does the same read run here, where libhdf5 now behaves as it did there (same library, same
//! bytes, within the same memory).
//!
//! Which probe: the one set by [`set_probe`], else `$GDISTILL_H5PROBE`, else a
//! `gdistill-h5probe` next to the running executable or one directory up (where cargo puts
//! binaries relative to test executables). With none, files are read here after the byte checks
//! only: library users who read untrusted HDF5 should ship the probe or call [`set_probe`].

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::DatasetError;

/// The file name of the probe binary that `cargo build` puts next to `gdistill`.
pub const PROBE_BINARY: &str = "gdistill-h5probe";

/// The exit status of a probe whose read returned an error (a clean refusal, not a crash).
const REFUSED: i32 = 3;

/// Which reader a probe runs: the three HDF5 layouts gdistill reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// A gdistill HDF5 graph ([`super::read_h5graph`]).
    Graph,
    /// Stored soft targets ([`super::read_soft_targets`]).
    SoftTargets,
    /// One ModelNet-layout file of point clouds ([`crate::pointcloud::read_cloud_file`]).
    Clouds,
}

impl ProbeKind {
    fn name(self) -> &'static str {
        match self {
            ProbeKind::Graph => "graph",
            ProbeKind::SoftTargets => "soft-targets",
            ProbeKind::Clouds => "clouds",
        }
    }

    /// What such a file holds, for messages (the hint of a "file not found").
    fn what(self) -> &'static str {
        match self {
            ProbeKind::Graph => "a gdistill HDF5 graph file",
            ProbeKind::SoftTargets => "a soft-targets HDF5 file (gdistill soft-targets)",
            ProbeKind::Clouds => "an HDF5 file of point clouds ('data', 'label')",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [ProbeKind::Graph, ProbeKind::SoftTargets, ProbeKind::Clouds].into_iter().find(|k| k.name() == name)
    }

    /// The read itself, in whatever process calls it.
    fn read_unguarded(self, path: &Path) -> Result<(), DatasetError> {
        match self {
            ProbeKind::Graph => super::read_h5graph_unguarded(path).map(drop),
            ProbeKind::SoftTargets => super::soft_targets::read_unguarded(path).map(drop),
            ProbeKind::Clouds => crate::pointcloud::read::read_unguarded(path).map(drop),
        }
    }
}

/// A program (plus leading arguments) that, given `KIND PATH`, reads the file and exits: 0 when
/// it read, 3 when it refused it cleanly. `gdistill-h5probe` is one; `gdistill __h5probe` is another.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The executable.
    pub program: PathBuf,
    /// Arguments put before `KIND PATH`.
    pub args: Vec<OsString>,
}

static PROBE: OnceLock<Option<Probe>> = OnceLock::new();

/// Sets the probe for this process; returns false if one was already chosen (set or found).
pub fn set_probe(probe: Probe) -> bool {
    PROBE.set(Some(probe)).is_ok()
}

/// The probe reads go through, if any (see the module documentation for the search order).
pub fn probe() -> Option<&'static Probe> {
    PROBE.get_or_init(find_probe).as_ref()
}

/// `gdistill-h5probe` from `$GDISTILL_H5PROBE` or beside the running executable.
pub fn find_probe() -> Option<Probe> {
    let plain = |program: PathBuf| Probe { program, args: Vec::new() };
    if let Some(p) = std::env::var_os("GDISTILL_H5PROBE").filter(|p| !p.is_empty()) {
        return Some(plain(PathBuf::from(p)));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let found = [Some(dir), dir.parent()].into_iter().flatten().map(|d| d.join(PROBE_BINARY)).find(|p| p.is_file());
    found.map(plain)
}

/// The body of a probe process: `args` are `KIND PATH`. Returns the exit status; a refusal is
/// written to stdout for the parent (`encode_error`).
pub fn probe_main(args: &[OsString]) -> i32 {
    let (Some(kind), Some(path), None) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: {PROBE_BINARY} graph|soft-targets|clouds FILE");
        return 2;
    };
    let Some(kind) = kind.to_str().and_then(ProbeKind::parse) else {
        eprintln!("{PROBE_BINARY}: unknown kind {kind:?} (graph, soft-targets or clouds)");
        return 2;
    };
    match kind.read_unguarded(Path::new(path)) {
        Ok(()) => 0,
        Err(e) => {
            print!("{}", encode_error(&e));
            REFUSED
        }
    }
}

/// An error as lines: its variant, the file (or name, or spec), then the message.
fn encode_error(e: &DatasetError) -> String {
    let path = |p: &Path| p.display().to_string();
    let (variant, subject, message) = match e {
        DatasetError::Missing { path: p, hint } => ("missing", path(p), hint.clone().unwrap_or_default()),
        DatasetError::Io { path: p, error } => ("io", path(p), error.to_string()),
        DatasetError::Unreadable { path: p, message } => ("unreadable", path(p), message.clone()),
        DatasetError::Unwritable { path: p, message } => ("unwritable", path(p), message.clone()),
        DatasetError::Format { path: p, message } => ("format", path(p), message.clone()),
        DatasetError::Spec { spec, message } => ("spec", spec.clone(), message.clone()),
        DatasetError::Invalid { name, message } => ("invalid", name.clone(), message.clone()),
    };
    format!("{variant}\n{subject}\n{message}")
}

/// The error [`encode_error`] wrote, if the text is one.
fn decode_error(text: &str) -> Option<DatasetError> {
    let mut parts = text.splitn(3, '\n');
    let (variant, subject, message) = (parts.next()?, parts.next()?, parts.next()?.to_string());
    Some(match variant {
        "missing" => DatasetError::missing(subject, (!message.is_empty()).then_some(message)),
        "io" => DatasetError::Io { path: subject.into(), error: std::io::Error::other(message) },
        "format" => DatasetError::format(subject, message),
        "unreadable" => DatasetError::Unreadable { path: subject.into(), message },
        "unwritable" => DatasetError::Unwritable { path: subject.into(), message },
        "spec" => DatasetError::spec(subject, message),
        "invalid" => DatasetError::invalid(subject, message),
        _ => return None,
    })
}

/// `read(path)` after the checks of [`crate::input`] (a regular file no larger than memory:
/// libhdf5 opens the path itself and seeks in it, so a pipe or a device cannot serve, and the
/// byte checks below read the whole file), the byte checks of `precheck.rs` and a trial read by
/// the probe.
pub(crate) fn read_guarded<T>(
    path: &Path,
    kind: ProbeKind,
    read: impl Fn(&Path) -> Result<T, DatasetError>,
) -> Result<T, DatasetError> {
    crate::input::check_input(path, &crate::input::InputKind::seekable(kind.what()))?;
    super::precheck::check_file(path)
        .map_err(|e| DatasetError::io(path, e))?
        .map_err(|e| DatasetError::format(path, e))?;
    if let Some(probe) = probe() {
        let memory = crate::limits::memory_budget().saturating_add(PROBE_OVERHEAD);
        trial_read(probe, kind, path, time_limit(path), memory)?;
    }
    read(path)
}

/// Address space a probe needs beyond the data it reads: its code, libhdf5, stacks.
const PROBE_OVERHEAD: u128 = 512 << 20;

/// How long a probe may take: generous, since a hang is the only thing it catches. Reading runs
/// at hundreds of MB/s, so 60 s plus 1 s per 10 MB is far beyond any healthy read.
fn time_limit(path: &Path) -> Duration {
    if let Some(secs) = std::env::var("GDISTILL_H5PROBE_TIMEOUT").ok().and_then(|s| s.parse::<f64>().ok()) {
        if secs.is_finite() && secs > 0.0 {
            return Duration::from_secs_f64(secs);
        }
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Duration::from_secs(60 + bytes / 10_000_000)
}

/// Runs the probe on `path` with at most `memory` bytes of address space: Ok when it read the
/// file, its error when it refused it, a crash, memory or hang error otherwise.
fn trial_read(probe: &Probe, kind: ProbeKind, path: &Path, limit: Duration, memory: u128) -> Result<(), DatasetError> {
    let mut command = Command::new(&probe.program);
    let memory = libc::rlim_t::try_from(memory).unwrap_or(libc::RLIM_INFINITY);
    // The child's address space is capped. And it would inherit every descriptor open here
    // (libhdf5 opens files without O_CLOEXEC), and with them the file locks libhdf5 takes: another
    // thread's writer would then find its file locked for as long as the probe runs. They are
    // marked close-on-exec rather than closed: the standard library reports a failed exec through
    // a descriptor of its own.
    // SAFETY: close_range, fcntl and setrlimit are system calls, async-signal-safe as pre_exec
    // requires.
    unsafe {
        command.pre_exec(move || {
            let cap = libc::rlimit { rlim_cur: memory, rlim_max: memory };
            libc::setrlimit(libc::RLIMIT_AS, &cap);
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            if libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
                // kernels before 5.11
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
    let mut child = command
        .args(&probe.args)
        .arg(kind.name())
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            DatasetError::format(
                path,
                format!(
                    "could not start the HDF5 probe {} that reads files before gdistill does: {e}",
                    probe.program.display()
                ),
            )
        })?;
    // read as it comes, so that a talkative probe never blocks on a full pipe
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DatasetError::format(
                    path,
                    format!(
                        "libhdf5 did not finish reading this file in {} s: it is corrupt (libhdf5 loops on some \
                         corruptions), or the disk is very slow (set GDISTILL_H5PROBE_TIMEOUT=SECONDS to wait longer)",
                        limit.as_secs()
                    ),
                ));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(DatasetError::io(path, e)),
        }
    };
    let said = reader.join().unwrap_or_default();
    match status.code() {
        Some(0) => Ok(()),
        Some(REFUSED) => Err(decode_error(&said).unwrap_or_else(|| DatasetError::format(path, said))),
        _ => Err(DatasetError::format(path, crash_message(status, probe))),
    }
}

fn crash_message(status: ExitStatus, probe: &Probe) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => format!(
            "libhdf5 crashed reading this file ({}): the file is corrupt",
            match signal {
                11 => "segmentation fault".to_string(),
                6 => "an abort: libhdf5 or gdistill ran out of the memory a read may use, the budget of \
                      GDISTILL_MAX_MEMORY or the available memory"
                    .to_string(),
                7 => "bus error".to_string(),
                9 => "killed, perhaps for lack of memory".to_string(),
                s => format!("signal {s}"),
            }
        ),
        None => format!(
            "the HDF5 probe {} failed on this file ({status}); the file may be corrupt",
            probe.program.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe that runs `script` in sh (the kind and path become $1 and $2).
    fn shell(script: &str) -> Probe {
        Probe { program: "sh".into(), args: vec!["-c".into(), script.into(), "sh".into()] }
    }

    fn run(probe: &Probe, limit: Duration) -> Result<(), String> {
        trial_read(probe, ProbeKind::Graph, Path::new("/tmp/some.h5"), limit, 1 << 30).map_err(|e| e.to_string())
    }

    #[test]
    fn a_probe_that_reads_lets_the_read_go_ahead() {
        assert_eq!(run(&shell("test \"$1\" = graph && test \"$2\" = /tmp/some.h5"), Duration::from_secs(30)), Ok(()));
    }

    #[test]
    fn a_refusal_comes_back_as_the_probes_error() {
        for e in [
            DatasetError::format("/d/g.h5", "'labels' has shape [4], expected [5]\nand a second line"),
            DatasetError::invalid("toy", "node 3 has label 9"),
            DatasetError::missing("/d/g.h5", Some("a gdistill HDF5 graph file".into())),
            DatasetError::missing("/d/g.h5", None),
        ] {
            let script = format!("printf '%s' '{}'; exit 3", encode_error(&e).replace('\'', "'\\''"));
            assert_eq!(run(&shell(&script), Duration::from_secs(30)), Err(e.to_string()));
        }
    }

    #[test]
    fn a_probe_is_held_to_its_memory() {
        // 64 MiB of address space is too little to start a shell that allocates 256 MiB
        let o = trial_read(
            &shell("exec dd if=/dev/zero bs=256M count=1 of=/dev/null"),
            ProbeKind::Graph,
            Path::new("/tmp/some.h5"),
            Duration::from_secs(30),
            64 << 20,
        );
        assert!(o.is_err(), "{o:?}");
    }

    #[test]
    fn a_crashing_probe_is_reported_with_the_file() {
        let message = run(&shell("kill -SEGV $$"), Duration::from_secs(30)).unwrap_err();
        assert!(
            message.contains("/tmp/some.h5") && message.contains("crashed") && message.contains("segmentation fault"),
            "{message}"
        );
        let message = run(&shell("exit 101"), Duration::from_secs(30)).unwrap_err();
        assert!(message.contains("/tmp/some.h5") && message.contains("failed"), "{message}");
    }

    #[test]
    fn a_hanging_probe_is_killed_at_the_limit() {
        let start = Instant::now();
        let message = run(&shell("sleep 30"), Duration::from_millis(300)).unwrap_err();
        assert!(message.contains("did not finish") && message.contains("GDISTILL_H5PROBE_TIMEOUT"), "{message}");
        assert!(start.elapsed() < Duration::from_secs(10), "waited {:?}", start.elapsed());
    }

    #[test]
    fn a_missing_probe_is_named() {
        let probe = Probe { program: "/nonexistent/gdistill-h5probe".into(), args: vec![] };
        let message = run(&probe, Duration::from_secs(30)).unwrap_err();
        assert!(message.contains("/nonexistent/gdistill-h5probe") && message.contains("could not start"), "{message}");
    }

    #[test]
    fn probe_main_refuses_bad_arguments_and_missing_files() {
        assert_eq!(probe_main(&[]), 2);
        assert_eq!(probe_main(&["table".into(), "/tmp/x.h5".into()]), 2);
        assert_eq!(probe_main(&["graph".into(), "/nonexistent/x.h5".into()]), REFUSED);
    }
}
