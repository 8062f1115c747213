//! libtorch's random generator is global to the process, and the tests of one file run in
//! parallel threads. A test that seeds it and then relies on the draws that follow (weights it
//! rebuilds, a run it repeats and compares) holds this lock, as does every test of the file that
//! draws from it, so that another test's dropout cannot take draws in between.

use std::sync::{Mutex, MutexGuard};

static TORCH_RNG: Mutex<()> = Mutex::new(());

/// The lock; a test that failed while holding it does not poison it for the others.
pub fn torch_rng() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
