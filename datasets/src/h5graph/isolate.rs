//! The guards every HDF5 read goes through before libhdf5 sees a file.
//!
//! libhdf5 1.10 (Debian's, which gdistill builds against) trusts many on-disk fields. The byte
//! checks of `precheck.rs` refuse the corruptions it would hang or crash on that can be
//! recognised; others remain (README, "Bad input"). A trial read in a forked child process was
//! tried and withdrawn: the child inherits locks and thread pools (rayon, the environment lock)
//! whose owners do not exist there, and hung.

use std::path::Path;

use crate::DatasetError;

/// `read(path)` after the byte checks of `precheck.rs`.
pub(crate) fn read_guarded<T>(path: &Path, read: impl Fn(&Path) -> Result<T, DatasetError>) -> Result<T, DatasetError> {
    super::precheck::check_file(path)
        .map_err(|e| DatasetError::io(path, e))?
        .map_err(|e| DatasetError::format(path, e))?;
    read(path)
}
