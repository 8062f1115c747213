//! Build script shared by the crates that link libtorch (models, distill, the CLI).
//!
//! It makes their binaries, tests and examples find libtorch at run time without
//! LD_LIBRARY_PATH (an rpath to `$LIBTORCH/lib`). `LIBTORCH` comes from `.cargo/config.toml`,
//! which `make bootstrap` writes.
//!
//! `libtorch_cuda` is deliberately not linked: torch-sys asks for it, but Rust links with
//! `--as-needed`, which drops it because nothing references it by symbol. Linked, it brought the
//! CUDA libraries (cuBLAS, cuDNN, NCCL, ...) into every process, 0.4-0.8 s of start-up on a
//! machine without a GPU. `gdistill_models::load_cuda` loads it with `dlopen` when a CUDA
//! device is asked for (models/src/device.rs).

use std::path::PathBuf;

pub fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set: run `make bootstrap` first");
        return;
    };
    let lib = PathBuf::from(libtorch).join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
}
