//! `gdistill-h5probe KIND FILE`: reads one HDF5 file the way gdistill would, in a process of its
//! own, so that a libhdf5 crash or hang on a corrupt file is reported instead of suffered
//! (`gdistill_datasets::h5graph::isolate`). Exit 0: read; 3: refused with a message on stderr.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(gdistill_datasets::h5graph::isolate::probe_main(&args));
}
