//! Files that appear whole or not at all: written under a temporary name beside their target
//! (same directory, so the rename cannot cross file systems), then renamed into place.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::DatasetError;

/// `.NAME.tmp-PID-N` beside `path`: unique per process and per write.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!(".{name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    path.with_file_name(unique)
}

/// Runs `write` on a temporary path beside `path`, then renames it into place. On failure the
/// temporary file is removed and the error names `path`: `{what}: {error}`.
pub(crate) fn write_atomically<E: Display>(
    path: &Path,
    what: &str,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), DatasetError> {
    let tmp = temp_path(path);
    let result = write(&tmp)
        .map_err(|e| DatasetError::format(path, format!("{what}: {e}")))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| DatasetError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
