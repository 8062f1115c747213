//! Build script shared by the crates that link libtorch (models, distill, the CLI).
//!
//! It makes their binaries, tests and examples find libtorch at run time without
//! LD_LIBRARY_PATH (an rpath to `$LIBTORCH/lib`), and keeps `libtorch_cuda` linked: Rust links
//! with `--as-needed`, which would drop it because nothing references it by symbol, and CUDA
//! would then silently be unavailable. `LIBTORCH` comes from `.cargo/config.toml`, which
//! `make bootstrap` writes.

use std::path::PathBuf;

pub fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set: run `make bootstrap` first");
        return;
    };
    let lib = PathBuf::from(libtorch).join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
