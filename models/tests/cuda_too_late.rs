//! libtorch fixes its CUDA hooks at the first CUDA query: `tch::manual_seed` (which seeds every
//! CUDA device) before `load_cuda` leaves CUDA off for the process. That case is reported as
//! such, not as a plain "no GPU", so that a caller who gets the order wrong finds out (on a GPU
//! machine it would otherwise look like a missing GPU). Its own process: the state is global.

use gdistill_models::{libtorch_lib_dir, load_cuda, parse_device};

#[test]
fn a_cuda_query_before_the_load_is_reported() {
    if !libtorch_lib_dir().is_some_and(|dir| dir.join("libtorch_cuda.so").exists()) {
        return; // a CPU-only libtorch: nothing to load (tests/cuda_lazy.rs)
    }
    tch::manual_seed(0);
    let why = load_cuda().unwrap_err();
    assert!(why.contains("before any other CUDA query"), "{why}");
    let err = parse_device("cuda").unwrap_err().to_string();
    assert!(err.contains("no CUDA device") && err.contains("CUDA stays off"), "{err}");
}
