//! The one way gdistill opens an input file: bounded in size, in time, and in what it accepts.
//!
//! A mistyped path must not take the machine down. Reading `/dev/zero` as a checkpoint never
//! ends and allocates without bound; opening a named pipe that nothing writes to blocks forever;
//! a 50 GB file read whole exhausts memory. So every reader of gdistill (checkpoints, TOML
//! configs, JSON reports, dataset files, lists of files, HDF5 files) goes through this module,
//! which, by what the path is:
//!
//! - **regular file**: checked against the size its [`InputKind`] can plausibly have (a TOML
//!   config a few MiB; data read whole into memory: the memory available, [`crate::limits`])
//!   before a byte is read, and read no further than that bound;
//! - **pipe** (a FIFO, or `--config <(...)`, whose `/dev/fd/N` is a pipe): opened without
//!   blocking (`O_NONBLOCK`, so a FIFO without a writer does not hang the open), read up to the
//!   same bound (and at most [`PIPE_MAX_BYTES`]: its size cannot be known beforehand), and given
//!   up when no byte arrives for [`read_timeout`] (`GDISTILL_READ_TIMEOUT_S`, default 10 s);
//!   refused for inputs a library seeks in by path (HDF5);
//! - **directory, character or block device, socket**: refused, naming what the path is.
//!
//! Every refusal is a [`DatasetError`] naming the path and the problem.
//!
//! ```
//! use gdistill_datasets::input::{read_input_string, InputKind};
//! let err = read_input_string(std::path::Path::new("/dev/null"), &InputKind::small("a TOML config")).unwrap_err();
//! assert!(err.to_string().contains("/dev/null: a character device"), "{err}");
//! ```

use std::fs::{File, Metadata};
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use crate::limits::{check_memory, human_bytes};
use crate::DatasetError;

/// The most a small input can hold: text a person writes (TOML configs, lists of files), a JSON
/// report, a font. Sixteen MiB is thousands of times the largest such file gdistill writes.
pub const SMALL_MAX_BYTES: u64 = 16 << 20;

/// The most read from a pipe whatever its kind: a pipe's size is unknown until it ends, and a
/// stream that never ends (`<(yes)`) must stop long before the machine's memory does.
pub const PIPE_MAX_BYTES: u64 = 2 << 30;

/// How long a pipe may stay silent when `GDISTILL_READ_TIMEOUT_S` is not set.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How large an input of some kind can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeLimit {
    /// At most this many bytes.
    Bytes(u64),
    /// Read whole into memory: at most the memory budget of [`crate::limits::memory_budget`].
    Memory,
}

/// What an input is, for the checks and the messages: `what` says what the file should hold
/// (it becomes the hint of a "file not found"), `limit` how large it can be, `seekable` whether a
/// library opens it by path and seeks in it (HDF5), so that a pipe cannot serve.
#[derive(Clone, Copy, Debug)]
pub struct InputKind<'a> {
    /// What the file holds, as a phrase: "a TOML experiment file".
    pub what: &'a str,
    /// How large it can be.
    pub limit: SizeLimit,
    /// Whether it must be a regular file (read by a library that seeks in it).
    pub seekable: bool,
}

impl<'a> InputKind<'a> {
    /// Text a person writes or a small report: at most [`SMALL_MAX_BYTES`].
    pub const fn small(what: &'a str) -> Self {
        InputKind { what, limit: SizeLimit::Bytes(SMALL_MAX_BYTES), seekable: false }
    }

    /// Data read whole into memory (checkpoints, dataset files): at most the memory budget.
    pub const fn data(what: &'a str) -> Self {
        InputKind { what, limit: SizeLimit::Memory, seekable: false }
    }

    /// A file a library opens by path and seeks in (HDF5): a regular file, at most the memory
    /// budget (gdistill reads what it holds into memory).
    pub const fn seekable(what: &'a str) -> Self {
        InputKind { what, limit: SizeLimit::Memory, seekable: true }
    }
}

/// An opened input: a regular file, or what a pipe sent (read whole, within the bounds).
#[derive(Debug)]
pub enum InputSource {
    /// A regular file, its size checked.
    File(File),
    /// The bytes a pipe sent before it closed.
    Piped(Cursor<Vec<u8>>),
}

impl Read for InputSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            InputSource::File(f) => f.read(buf),
            InputSource::Piped(c) => c.read(buf),
        }
    }
}

impl Seek for InputSource {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            InputSource::File(f) => f.seek(pos),
            InputSource::Piped(c) => c.seek(pos),
        }
    }
}

/// An input opened by [`open_input`].
#[derive(Debug)]
pub struct Input {
    /// Where the bytes come from.
    pub source: InputSource,
    /// How many bytes it holds (a regular file's size; what a pipe sent).
    pub len: u64,
}

/// Seconds a pipe may stay silent: `GDISTILL_READ_TIMEOUT_S` (a positive number, fractions
/// allowed), else [`DEFAULT_READ_TIMEOUT`].
pub fn read_timeout() -> Duration {
    std::env::var("GDISTILL_READ_TIMEOUT_S")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_READ_TIMEOUT, |s| Duration::from_secs_f64(s.min(1e6)))
}

/// What a path that is not a regular file or a pipe is, as a phrase for messages.
fn describe(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device (a whole disk or partition)"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The refusal of `path`: `{path}: {problem}`.
fn refuse(path: &Path, problem: String) -> DatasetError {
    DatasetError::Unreadable { path: path.to_path_buf(), message: problem }
}

/// An error of the operating system on `path`; "not found" carries `what` as its hint.
fn os_error(path: &Path, kind: &InputKind, error: std::io::Error) -> DatasetError {
    match DatasetError::io(path, error) {
        DatasetError::Missing { path, .. } => DatasetError::missing(path, Some(kind.what.to_string())),
        other => other,
    }
}

/// Refuses a regular file of `len` bytes larger than `kind` allows.
fn check_size(path: &Path, kind: &InputKind, len: u64) -> Result<(), DatasetError> {
    match kind.limit {
        SizeLimit::Bytes(max) if len > max => Err(refuse(
            path,
            format!(
                "{} is too large for {} (at most {}): the wrong file?",
                human_bytes(len.into()),
                kind.what,
                human_bytes(max.into())
            ),
        )),
        SizeLimit::Memory => {
            check_memory(&format!("reading it whole as {}", kind.what), len.into()).map_err(|e| refuse(path, e))
        }
        SizeLimit::Bytes(_) => Ok(()),
    }
}

/// The most bytes `kind` lets a source hold (`pipe`: also at most [`PIPE_MAX_BYTES`]).
fn byte_bound(kind: &InputKind, pipe: bool) -> u64 {
    let bound = match kind.limit {
        SizeLimit::Bytes(max) => max,
        SizeLimit::Memory => u64::try_from(crate::limits::memory_budget()).unwrap_or(u64::MAX),
    };
    if pipe {
        bound.min(PIPE_MAX_BYTES)
    } else {
        bound
    }
}

/// Checks what `path` is without opening it: a regular file within its size, or (unless `kind`
/// is seekable) a pipe. Returns its metadata. HDF5 readers call this before libhdf5 opens the path.
pub fn check_input(path: &Path, kind: &InputKind) -> Result<Metadata, DatasetError> {
    let meta = std::fs::metadata(path).map_err(|e| os_error(path, kind, e))?;
    let t = meta.file_type();
    if t.is_file() {
        check_size(path, kind, meta.len())?;
    } else if t.is_fifo() {
        if kind.seekable {
            return Err(refuse(
                path,
                format!("a pipe, but {} is read by a library that seeks in it: save it to a file first", kind.what),
            ));
        }
    } else {
        return Err(refuse(path, format!("{}, not a file: expected {}", describe(&meta), kind.what)));
    }
    Ok(meta)
}

/// Opens `path` as an input of `kind` (see the module documentation): a regular file is returned
/// open, a pipe is read whole (within the size and time bounds).
pub fn open_input(path: &Path, kind: &InputKind) -> Result<Input, DatasetError> {
    check_input(path, kind)?;
    // O_NONBLOCK: opening a FIFO for reading otherwise blocks until a writer opens it
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| os_error(path, kind, e))?;
    // what was opened, not what the path named a moment ago
    let meta = file.metadata().map_err(|e| os_error(path, kind, e))?;
    let t = meta.file_type();
    if t.is_fifo() && !kind.seekable {
        let bytes = read_pipe(path, &file, byte_bound(kind, true), read_timeout(), kind)?;
        let len = bytes.len() as u64;
        return Ok(Input { source: InputSource::Piped(Cursor::new(bytes)), len });
    }
    if !t.is_file() {
        return Err(refuse(path, format!("{}, not a file: expected {}", describe(&meta), kind.what)));
    }
    check_size(path, kind, meta.len())?;
    clear_nonblocking(&file);
    if meta.len() == 0 {
        // /proc and /sys files report size 0 whatever they hold: read them within the bound
        let bytes = read_bounded(path, file, byte_bound(kind, false), kind)?;
        let len = bytes.len() as u64;
        return Ok(Input { source: InputSource::Piped(Cursor::new(bytes)), len });
    }
    Ok(Input { source: InputSource::File(file), len: meta.len() })
}

/// Reads an input of `kind` whole (see [`open_input`]).
pub fn read_input_bytes(path: &Path, kind: &InputKind) -> Result<Vec<u8>, DatasetError> {
    let input = open_input(path, kind)?;
    match input.source {
        InputSource::Piped(cursor) => Ok(cursor.into_inner()),
        InputSource::File(file) => read_bounded(path, file, byte_bound(kind, false), kind),
    }
}

/// Reads an input of `kind` whole as UTF-8 text.
pub fn read_input_string(path: &Path, kind: &InputKind) -> Result<String, DatasetError> {
    String::from_utf8(read_input_bytes(path, kind)?)
        .map_err(|e| DatasetError::format(path, format!("not UTF-8 text: {e}")))
}

/// Turns `O_NONBLOCK` off again on a regular file (it changes nothing there, but a reader that
/// gets a descriptor should not inherit a surprise). Best effort.
fn clear_nonblocking(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns for the duration of the call.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// Reads a regular file, refusing it when it holds more than `bound` bytes (it grew, or its size
/// said 0).
fn read_bounded(path: &Path, file: File, bound: u64, kind: &InputKind) -> Result<Vec<u8>, DatasetError> {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(bound)).unwrap_or(0));
    file.take(bound.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| os_error(path, kind, e))?;
    if bytes.len() as u64 > bound {
        return Err(refuse(
            path,
            format!("holds more than {} can ({}): the wrong file?", kind.what, human_bytes(bound.into())),
        ));
    }
    Ok(bytes)
}

/// Reads a pipe opened with `O_NONBLOCK` until its writers close it: at most `bound` bytes, and
/// an error when nothing arrives for `silence`. `poll` waits for the first writer too: a FIFO
/// that no writer has opened yet reads as empty, but polls as not ready.
fn read_pipe(
    path: &Path,
    file: &File,
    bound: u64,
    silence: Duration,
    kind: &InputKind,
) -> Result<Vec<u8>, DatasetError> {
    use std::os::fd::AsRawFd;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut reader = file;
    loop {
        let mut poll = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(silence.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `poll` points at one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, ms) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_error(path, kind, e));
        }
        if ready == 0 {
            let waited = silence.as_secs_f64();
            let what = if bytes.is_empty() {
                format!("a pipe that sent nothing in {waited} s (does anything write to it?)")
            } else {
                format!("a pipe that sent {} bytes, then nothing for {waited} s", bytes.len())
            };
            return Err(refuse(path, format!("{what}; GDISTILL_READ_TIMEOUT_S sets how long to wait")));
        }
        match reader.read(&mut buf) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                if bytes.len() as u64 + n as u64 > bound {
                    return Err(refuse(
                        path,
                        format!(
                            "a pipe that sent more than {} can hold ({}): refused",
                            kind.what,
                            human_bytes(bound.into())
                        ),
                    ));
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(os_error(path, kind, e)),
        }
    }
}

/// Checks that `dir` is a directory, naming what it is otherwise (`what` is the hint of a
/// "file not found").
pub fn check_input_dir(dir: &Path, what: &str) -> Result<(), DatasetError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) => {
            let is = if meta.is_file() {
                "a file"
            } else if meta.file_type().is_fifo() {
                "a pipe"
            } else {
                describe(&meta)
            };
            Err(refuse(dir, format!("{is}, not a directory: expected {what}")))
        }
        Err(e) => Err(os_error(dir, &InputKind::small(what), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("fifo");
        let name = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        path
    }

    #[test]
    fn devices_directories_and_oversized_files_are_refused_by_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let config = InputKind::small("a TOML config");
        let err = |p: &Path, k: &InputKind| read_input_bytes(p, k).unwrap_err().to_string();
        assert!(err(Path::new("/dev/zero"), &config).contains("/dev/zero: a character device"));
        assert!(err(dir.path(), &config).contains("a directory, not a file: expected a TOML config"));
        let big = dir.path().join("big");
        File::create(&big).unwrap().set_len(1 << 40).unwrap();
        assert!(err(&big, &config).contains("1.0 TiB is too large for a TOML config"));
        assert!(err(&big, &InputKind::data("a checkpoint")).contains("more than the memory available"));
        let missing = err(&dir.path().join("absent"), &config);
        assert!(missing.contains("file not found (a TOML config)"), "{missing}");
    }

    #[test]
    fn a_silent_pipe_ends_after_the_timeout_and_a_written_one_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let kind = InputKind::small("a TOML config");
        let start = Instant::now();
        let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&path).unwrap();
        let e = read_pipe(&path, &file, 100, Duration::from_millis(300), &kind).unwrap_err().to_string();
        assert!(e.contains("a pipe that sent nothing in 0.3 s"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(file);
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut w = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
            w.write_all(b"temperature = 4.0\n").unwrap();
        });
        assert_eq!(read_input_string(&path, &kind).unwrap(), "temperature = 4.0\n");
        writer.join().unwrap();
        assert!(check_input(&path, &InputKind::seekable("an HDF5 file")).unwrap_err().to_string().contains("a pipe"));
    }

    #[test]
    fn a_pipe_that_sends_too_much_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
            let _ = w.write_all(&[b'x'; 1 << 20]);
        });
        let kind = InputKind::small("a list");
        let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&path).unwrap();
        let e = read_pipe(&path, &file, 1000, Duration::from_secs(5), &kind).unwrap_err().to_string();
        assert!(e.contains("a pipe that sent more than a list can hold"), "{e}");
        drop(file);
        writer.join().unwrap();
    }

    #[test]
    fn proc_files_of_size_zero_read_whole() {
        let text = read_input_string(Path::new("/proc/self/status"), &InputKind::small("status")).unwrap();
        assert!(text.contains("VmRSS"));
    }

    #[test]
    fn a_directory_is_checked_as_one() {
        assert!(check_input_dir(Path::new("/tmp"), "a directory").is_ok());
        let e = check_input_dir(Path::new("/dev/zero"), "a directory of MNIST files").unwrap_err().to_string();
        assert!(e.contains("/dev/zero: a character device") && e.contains("not a directory"), "{e}");
    }
}
