//! Opening and creating HDF5 files without libhdf5's file locks.
//!
//! libhdf5 1.10 takes a `flock` on every file it opens, on a descriptor it opens without
//! close-on-exec. Any child process started while such a file is open (by another thread of the
//! same program: a test harness, a pipeline that runs tools) inherits the descriptor, and with it
//! the lock, for its whole life. Every later open of that file then fails with "unable to lock
//! file, errno = 11" until the child exits: a valid input refused for a reason that has nothing to
//! do with it. gdistill never shares a file it is writing (outputs appear by rename, whole), so
//! the lock protects nothing here and is turned off for every file it opens or creates.
//! `HDF5_USE_FILE_LOCKING=TRUE` in the environment still turns it back on (libhdf5 lets the
//! variable override the property list).
//!
//! Files created here write every dataset straight through, without libhdf5's sieve buffer: a
//! write that fits the buffer (64 KiB) would otherwise reach the disk only when the dataset is
//! closed, and an error there (a full disk) is lost, since closing a handle on drop cannot report
//! one; libhdf5 then closes the file without complaint, leaving a file with holes for data
//! (found by a soft-targets shard on a full tmpfs: `tests/mpi_full_disk.rs`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use hdf5::plist::FileAccess;
use hdf5_sys::h5f::{H5Fcreate, H5Fopen, H5F_ACC_RDONLY, H5F_ACC_RDWR, H5F_ACC_TRUNC};
use hdf5_sys::h5p::H5P_DEFAULT;

/// A file-access property list with file locking off. (hdf5-metno's `FileBuilder` copies only the
/// settings it knows from a property list, and locking is not one of them: hence the raw calls.)
fn unlocked_access() -> hdf5::Result<FileAccess> {
    let fapl = FileAccess::try_new()?;
    // SAFETY: `fapl` is a live file-access property list for the duration of the call.
    hdf5::h5check(unsafe { hdf5_sys::h5p::H5Pset_file_locking(fapl.id(), 0, 1) })?;
    Ok(fapl)
}

/// Opens (`create`: false) or creates (true) `path` with `flags` and locking off; a file created
/// has no sieve buffer, so that a failed write of a dataset fails the write that made it.
fn unlocked(path: &Path, flags: std::ffi::c_uint, create: bool) -> hdf5::Result<hdf5::File> {
    let name = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| hdf5::Error::from(format!("file name contains a NUL byte: {path:?}")))?;
    let fapl = unlocked_access()?;
    if create {
        // SAFETY: `fapl` is a live file-access property list for the duration of the call.
        hdf5::h5check(unsafe { hdf5_sys::h5p::H5Pset_sieve_buf_size(fapl.id(), 0) })?;
    }
    hdf5::sync::sync(|| {
        // SAFETY: `name` and `fapl` outlive the call; libhdf5 is entered under hdf5-metno's lock.
        let id = hdf5::h5check(unsafe {
            if create {
                H5Fcreate(name.as_ptr(), flags, H5P_DEFAULT, fapl.id())
            } else {
                H5Fopen(name.as_ptr(), flags, fapl.id())
            }
        })?;
        // SAFETY: `id` is a file identifier just returned by libhdf5; the File takes ownership.
        unsafe { hdf5::from_id::<hdf5::File>(id) }
    })
}

/// Opens `path` read-only, without a file lock.
pub fn open(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    unlocked(path.as_ref(), H5F_ACC_RDONLY, false)
}

/// [`open`] for gdistill's readers: a file libhdf5 cannot open is refused, naming it.
pub(crate) fn open_input(path: &Path) -> Result<hdf5::File, crate::DatasetError> {
    open(path).map_err(|e| crate::DatasetError::format(path, format!("not a readable HDF5 file: {e}")))
}

/// Opens `path` for reading and writing, without a file lock.
pub fn open_rw(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    unlocked(path.as_ref(), H5F_ACC_RDWR, false)
}

/// Creates (or truncates) `path`, without a file lock.
pub fn create(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    unlocked(path.as_ref(), H5F_ACC_TRUNC, true)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    /// Each of open, open_rw and create works while another open file description holds an
    /// exclusive flock on the file (what an inheriting child process holds).
    #[test]
    fn opens_and_creates_ignore_a_lock_held_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.h5");
        super::create(&path).unwrap().new_dataset::<i32>().shape(3).create("x").unwrap();
        let holder = std::fs::File::open(&path).unwrap();
        // SAFETY: a plain flock on a descriptor this test owns.
        assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
        assert_eq!(super::open(&path).unwrap().dataset("x").unwrap().shape(), vec![3]);
        super::open_rw(&path).unwrap().new_dataset::<i32>().shape(2).create("y").unwrap();
        assert_eq!(super::open(&path).unwrap().dataset("y").unwrap().shape(), vec![2]);
        super::create(&path).unwrap();
        assert!(super::open(&path).unwrap().dataset("x").is_err(), "create truncates");
        // and the plain hdf5-metno open, which locks, is refused: the lock is real
        assert!(hdf5::File::open(&path).is_err());
        drop(holder);
    }
}
