//! Build script of the `gdistill` binary: libtorch's link settings (shared with the library
//! crates), the version run journals record (`version.rs`), plus the small C++ warning filter
//! in `src/cpp/quiet_warnings.cpp`, compiled against libtorch's own headers with the same C++
//! settings `torch-sys` uses.

#[path = "link_libtorch.rs"]
mod link_libtorch;
#[path = "version.rs"]
mod version;

use std::path::PathBuf;

fn main() {
    link_libtorch::main();
    version::main();
    println!("cargo:rerun-if-changed=src/cpp/quiet_warnings.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Ok(libtorch) = std::env::var("LIBTORCH") else { return };
    let include = PathBuf::from(libtorch).join("include");
    // torch-sys's default; the PyPI wheels since torch 2.7 are built with the C++11 ABI.
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .file("src/cpp/quiet_warnings.cpp")
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .warnings(false)
        .compile("gdistill_quiet_warnings");
}
