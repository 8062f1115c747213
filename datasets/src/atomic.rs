//! Files that appear whole or not at all, for every output of gdistill (checkpoints, reports,
//! plots, HDF5 graphs, soft targets, point clouds).
//!
//! The file is written under a temporary name beside its target (same directory, so the rename
//! cannot cross file systems), flushed to disk, then renamed into place: a reader, or a process
//! killed at any moment, sees the previous file or the new one, never a mix. A process killed
//! mid-write leaves its temporary file behind; the next write to the same target removes those
//! of processes that have ended.
//!
//! The temporary file is created here, before the caller's writer runs: a target that cannot be
//! written (a read-only file system, a directory without permission, `/proc`, which takes no new
//! files) then fails with the operating system's own reason, the same for every writer, rather
//! than with whatever a library (libhdf5, plotters) makes of it. [`describe_write_error`] puts
//! that reason in words: "cannot write: read-only file system", never "file not found" for a
//! file that is there.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::DatasetError;

/// Why an atomic write failed: the caller's writer, or the file system around it.
#[derive(Debug)]
pub enum AtomicWriteError<E> {
    /// The caller's writer failed.
    Write(E),
    /// Flushing or renaming the temporary file failed.
    Io(std::io::Error),
}

/// `.NAME.tmpPID-N[.EXT]` beside `path`: unique per process and per write, and ending in the
/// target's extension for writers that choose the format by it (plotters does).
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let extension = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp{}-{n}{extension}", std::process::id()))
}

/// Runs `write` on a fresh temporary path beside `path`, flushes what it wrote to disk, then
/// renames it over `path`. On failure the temporary file is removed and `path` is untouched.
/// The directory must exist.
pub fn write_atomically<E>(path: &Path, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), AtomicWriteError<E>> {
    stage_atomically(path, write)?.commit().map_err(AtomicWriteError::Io)
}

/// A file written whole and flushed to disk under its temporary name, not yet renamed over its
/// target: [`Staged::commit`] puts it in place; dropping it uncommitted removes it. For outputs
/// made of several files that must appear together or not at all (the shards of a job across MPI
/// ranks: each rank stages its own, and the ranks commit only once every one has staged).
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// The target the file is renamed to by [`Staged::commit`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file over the target (on failure the temporary file is removed).
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// [`write_atomically`] up to the rename: `write` fills a fresh temporary path beside `path`,
/// which is then flushed to disk; the [`Staged`] file returned is put in place by
/// [`Staged::commit`], and removed if dropped first. On failure nothing is left.
pub fn stage_atomically<E>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<Staged, AtomicWriteError<E>> {
    remove_stale_temp_files(path);
    let tmp = temp_path(path);
    std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(AtomicWriteError::Io)?;
    let staged = Staged { tmp, path: path.to_path_buf(), committed: false };
    write(&staged.tmp).map_err(AtomicWriteError::Write)?;
    std::fs::File::open(&staged.tmp).and_then(|file| file.sync_all()).map_err(AtomicWriteError::Io)?;
    Ok(staged)
}

/// [`write_atomically`] for the datasets crate's writers: `{what}: {error}` names `path`.
pub(crate) fn write_dataset_file<E: Display>(
    path: &Path,
    what: &str,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), DatasetError> {
    commit_dataset_file(stage_dataset_file(path, what, write)?)
}

/// Puts a [`Staged`] file of the datasets crate in place, with [`write_dataset_file`]'s errors.
pub(crate) fn commit_dataset_file(staged: Staged) -> Result<(), DatasetError> {
    let path = staged.path().to_path_buf();
    staged.commit().map_err(|e| DatasetError::unwritable(path, &e))
}

/// Removes `path` if it is there (a missing file is not an error).
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Files removed when this is dropped, unless [`RemovedOnDrop::keep`] was called first: what a
/// job that fails part-way must not leave behind (the part files of a partition, a shard put in
/// place before the manifest).
#[derive(Debug, Default)]
pub struct RemovedOnDrop(Vec<PathBuf>);

impl RemovedOnDrop {
    /// Removes `path` too, on drop.
    pub fn push(&mut self, path: PathBuf) {
        self.0.push(path);
    }

    /// The job completed: the files stay.
    pub fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// [`stage_atomically`] for the datasets crate's writers, with [`write_dataset_file`]'s errors.
pub(crate) fn stage_dataset_file<E: Display>(
    path: &Path,
    what: &str,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<Staged, DatasetError> {
    stage_atomically(path, write).map_err(|e| match e {
        AtomicWriteError::Write(e) => {
            let message = e.to_string();
            match os_error_in(&message) {
                // the file system's reason, in the words every other writer uses
                Some(code) => DatasetError::unwritable(path, &std::io::Error::from_raw_os_error(code)),
                None => DatasetError::format(path, format!("{what}: {message}")),
            }
        }
        AtomicWriteError::Io(e) => DatasetError::unwritable(path, &e),
    })
}

/// The operating system's error code in a writer's error message about a failed write (libhdf5's
/// `file write failed: time = ..., errno = 28, error message = 'No space left on device', ...`,
/// or an `std::io::Error`'s `... (os error 28)`), when it names one of the write errors
/// [`describe_write_error`] puts in words. libhdf5 gives the reason only as text, several lines
/// of it.
fn os_error_in(message: &str) -> Option<i32> {
    // libhdf5's words, or std::io::Error's (`No space left on device (os error 28)`)
    let at = ["errno = ", "(os error "].iter().find_map(|key| message.find(key).map(|k| k + key.len()))?;
    let digits: String = message[at..].chars().take_while(char::is_ascii_digit).collect();
    let code = digits.parse::<i32>().ok()?;
    [libc::ENOSPC, libc::EDQUOT, libc::EFBIG, libc::EROFS, libc::EIO].contains(&code).then_some(code)
}

/// Why `path` could not be written, in words: `cannot write: read-only file system`,
/// `permission denied`, `no space left on the device`, `is a directory`, `the directory DIR does
/// not exist`, `DIR takes no new files` (`/proc`, `/sys`: "not found" there is about the
/// temporary file, not the target, which may well exist). Other errors keep the system's words.
pub fn describe_write_error(path: &Path, error: &std::io::Error) -> String {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let reason = match error.raw_os_error() {
        Some(libc::EROFS) => "read-only file system".to_string(),
        Some(libc::EACCES | libc::EPERM) => "permission denied".to_string(),
        Some(libc::ENOSPC) => "no space left on the device".to_string(),
        Some(libc::EDQUOT) => "disk quota exceeded".to_string(),
        Some(libc::EFBIG) => "file too large for the file system".to_string(),
        Some(libc::EISDIR) => "is a directory".to_string(),
        Some(libc::ENOTDIR) => format!("{} is not a directory", first_non_directory(dir).display()),
        Some(libc::ENOENT) if dir.is_dir() => {
            format!("the directory {} takes no new files (a virtual file system such as /proc or /sys?)", dir.display())
        }
        Some(libc::ENOENT) => format!("the directory {} does not exist", dir.display()),
        _ => error.to_string(),
    };
    format!("cannot write: {reason}")
}

/// The first ancestor of `dir` (itself included, nearest the root first) that exists and is not
/// a directory, else `dir`.
fn first_non_directory(dir: &Path) -> &Path {
    let mut found = dir;
    for a in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        if a.exists() && !a.is_dir() {
            found = a;
        }
    }
    found
}

/// Removes `.NAME.tmpPID...` files beside `path` left by processes that no longer run (killed
/// during a write). Files of running processes are left alone. Best effort: errors are ignored.
fn remove_stale_temp_files(path: &Path) {
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!(".{}.tmp", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(pid) = digits.parse::<u32>() else { continue };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`; elsewhere assume it does, so
/// nothing is removed).
fn process_is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_appears_whole_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically::<std::io::Error>(&path, |tmp| {
            assert!(tmp.to_string_lossy().ends_with(".json"), "{tmp:?} keeps the extension");
            std::fs::write(tmp, "new")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let failed = write_atomically(&path, |tmp| {
            std::fs::write(tmp, "half").unwrap();
            Err("the writer gave up")
        });
        assert!(matches!(failed, Err(AtomicWriteError::Write("the writer gave up"))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new", "the previous file is intact");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["report.json"], "no temporary file is left");
    }

    /// Each write error says what happened, in words: never "not found" for a target that is
    /// there, and no temporary file left.
    #[test]
    fn write_errors_say_why() {
        let e = |path: &str, code: i32| describe_write_error(Path::new(path), &std::io::Error::from_raw_os_error(code));
        assert_eq!(e("/mnt/ro/x.ot", libc::EROFS), "cannot write: read-only file system");
        assert_eq!(e("/root/x.ot", libc::EACCES), "cannot write: permission denied");
        assert_eq!(e("/full/x.ot", libc::ENOSPC), "cannot write: no space left on the device");
        assert_eq!(e("/tmp", libc::EISDIR), "cannot write: is a directory");
        assert_eq!(e("/no/such/dir/x.ot", libc::ENOENT), "cannot write: the directory /no/such/dir does not exist");
        assert!(e("/proc/version", libc::ENOENT).starts_with("cannot write: the directory /proc takes no new files"));
        assert_eq!(e("/etc/passwd/x.ot", libc::ENOTDIR), "cannot write: /etc/passwd is not a directory");
        let failed = write_dataset_file(Path::new("/proc/version"), "writing", |tmp| std::fs::write(tmp, "x"));
        let message = failed.unwrap_err().to_string();
        assert!(
            message.starts_with("/proc/version: cannot write: the directory /proc takes no new files"),
            "{message}"
        );
    }

    /// A staged file is there under its temporary name only: committed, it replaces the target;
    /// dropped, it is gone and the target untouched.
    #[test]
    fn a_staged_file_appears_on_commit_and_vanishes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard.h5");
        std::fs::write(&path, "old").unwrap();
        let names = || {
            let mut n: Vec<String> =
                std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            n.sort();
            n
        };
        let staged = stage_atomically::<std::io::Error>(&path, |tmp| std::fs::write(tmp, "new")).unwrap();
        assert_eq!(names().len(), 2, "{:?}", names());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        drop(staged);
        assert_eq!(names(), ["shard.h5"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let staged = stage_atomically::<std::io::Error>(&path, |tmp| std::fs::write(tmp, "new")).unwrap();
        assert_eq!(staged.path(), path);
        staged.commit().unwrap();
        assert_eq!(names(), ["shard.h5"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    /// libhdf5 reports a failed write as text; the reason in it is put in the words every other
    /// writer uses, and a writer's other errors keep theirs.
    #[test]
    fn a_libhdf5_write_error_names_the_reason() {
        let hdf5 = "H5Dwrite(): can't write data: file write failed: time = Mon Dec  7 02:52:59 2026\n, filename = \
                    'out/.st.h5.tmp27810-0.h5', file descriptor = 3, errno = 28, error message = 'No space left on \
                    device', buf = 0x5600, total write size = 65584";
        assert_eq!(os_error_in(hdf5), Some(libc::ENOSPC));
        assert_eq!(os_error_in("unable to open file: errno = 2"), None, "not a write error");
        assert_eq!(os_error_in("H5Dwrite(): can't write data"), None);
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC).to_string();
        assert_eq!(os_error_in(&io), Some(libc::ENOSPC), "{io}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("st.h5");
        let message = write_dataset_file(&path, "writing HDF5", |_| Err(hdf5)).unwrap_err().to_string();
        assert_eq!(message, format!("{}: cannot write: no space left on the device", path.display()));
        let message = write_dataset_file(&path, "writing HDF5", |_| Err("bad shape")).unwrap_err().to_string();
        assert!(message.ends_with("writing HDF5: bad shape"), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file is left");
    }

    /// A temporary file of an ended process is removed by the next write; one of a running
    /// process (this one's parent) is kept, and so are other files.
    #[test]
    fn stale_temporary_files_of_ended_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.ot");
        // pid_max is at most 2^22 on Linux: this process cannot exist
        let dead = dir.path().join(".model.ot.tmp4999999-0.ot");
        let alive = dir.path().join(format!(".model.ot.tmp{}-0.ot", std::os::unix::process::parent_id()));
        let other = dir.path().join(".model.ot.tmpfile");
        for p in [&dead, &alive, &other] {
            std::fs::write(p, "x").unwrap();
        }
        write_atomically::<std::io::Error>(&path, |tmp| std::fs::write(tmp, "w")).unwrap();
        assert!(!dead.exists() && alive.exists() && other.exists());
    }
}
