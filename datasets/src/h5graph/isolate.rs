//! Running a libhdf5 read in a child process first, so that a crash of the library on a corrupt
//! file becomes an error message instead of the end of gdistill.
//!
//! libhdf5 1.10 (Debian's, which gdistill builds against) trusts many on-disk fields: fuzzing
//! found segfaults inside `H5Dread` and the global-heap reader that no check of ours can rule out
//! in general (`precheck.rs` guards the two it can). So a reader forks, the child performs the
//! same read and exits, and the parent reads only if the child survived. A file libhdf5 crashes
//! on is reported as corrupt, naming the signal. The cost is a second read of the file, which is
//! small next to training on it.
//!
//! The fork happens while holding the hdf5 crate's global lock: another thread's libhdf5 call in
//! progress would otherwise leave that (copied) lock held forever in the child.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::DatasetError;

/// `read(path)` behind every guard: the byte checks of `precheck.rs` (for files libhdf5 would
/// hang on), then a trial read in a child process (for files it would crash on).
pub(crate) fn read_guarded<T>(path: &Path, read: impl Fn(&Path) -> Result<T, DatasetError>) -> Result<T, DatasetError> {
    super::precheck::check_file(path)
        .map_err(|e| DatasetError::io(path, e))?
        .map_err(|e| DatasetError::format(path, e))?;
    survives(|| read(path)).map_err(|e| DatasetError::format(path, e))?;
    read(path)
}

/// Runs `read` in a forked child; `Err` describes how the child died. Where `fork` fails (or
/// off Linux and macOS) the read is not isolated and `Ok` is returned.
pub(crate) fn survives<T>(read: impl FnOnce() -> T) -> Result<(), String> {
    #[cfg(unix)]
    {
        hdf5::sync::sync(|| {
            // SAFETY: the child only runs `read` (libhdf5 calls under the lock this thread holds,
            // and the allocator, which is fork-safe) and leaves with `_exit`, skipping atexit
            // handlers and destructors that belong to the parent.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let _ = catch_unwind(AssertUnwindSafe(read));
                unsafe { libc::_exit(0) };
            }
            if pid < 0 {
                return Ok(());
            }
            let mut status = 0;
            loop {
                let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
                if waited == pid {
                    break;
                }
                if waited < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    return Ok(());
                }
            }
            if libc::WIFSIGNALED(status) {
                let signal = libc::WTERMSIG(status);
                return Err(format!(
                    "libhdf5 crashed reading this file (signal {signal}{}): the file is corrupt",
                    match signal {
                        libc::SIGSEGV => ", a segmentation fault",
                        libc::SIGABRT => ", an abort",
                        libc::SIGBUS => ", a bus error",
                        _ => "",
                    }
                ));
            }
            Ok(())
        })
    }
    #[cfg(not(unix))]
    {
        let _ = read;
        Ok(())
    }
}
