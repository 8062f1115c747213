//! Device selection from the CLI's `--device cpu|cuda|cuda:N|auto`, and libtorch's CUDA backend,
//! loaded only when a CUDA device is asked for.
//!
//! The binaries do not link `libtorch_cuda.so` (build/link_libtorch.rs): loading it and the CUDA
//! libraries it needs (cuBLAS, cuDNN, NCCL, cuSPARSE, cuFFT: about 2 GB of files) took 0.4-0.8 s
//! of every process, `gdistill data info` included, on machines without a GPU. [`load_cuda`]
//! opens it with `dlopen` instead; its static initialisers register libtorch's CUDA hooks, the
//! same as when it is linked. libtorch fixes its CUDA hooks at their first use, though: any CUDA
//! query before the load (`tch::Cuda::is_available`, `Device::cuda_if_available`, and
//! `tch::manual_seed`, which seeds every CUDA device) leaves CUDA off for the whole process.
//! [`parse_device`] and [`cuda_available`] load it first; call one of them, or [`load_cuda`],
//! before anything else that touches CUDA.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tch::Device;

use crate::ModelError;

/// Whether a device spec asks for CUDA (`cuda`, `cuda:N`, `gpu`, or `auto`), so that the CUDA
/// backend has to be loaded before it is parsed.
///
/// ```
/// use gdistill_models::asks_for_cuda;
/// assert!(asks_for_cuda("cuda:1") && asks_for_cuda(" Auto") && !asks_for_cuda("cpu"));
/// ```
pub fn asks_for_cuda(spec: &str) -> bool {
    let spec = spec.trim().to_ascii_lowercase();
    matches!(spec.as_str(), "cuda" | "gpu" | "auto") || spec.starts_with("cuda:")
}

/// The folder of the `libtorch_cpu.so` this process runs on (found with `dladdr` on one of its
/// symbols), where libtorch keeps `libtorch_cuda.so` beside it: the same copy of libtorch however
/// the binary found it (its rpath here, `LD_LIBRARY_PATH` on a machine where the rpath does not
/// exist). None where libtorch_cpu is not loaded under that name.
pub fn libtorch_lib_dir() -> Option<PathBuf> {
    // SAFETY: RTLD_NOLOAD only looks up a library already in the process; the handle is given
    // back below, and the symbol's address is only passed to dladdr.
    unsafe {
        let handle = libc::dlopen(c"libtorch_cpu.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        // at::detail::getCUDAHooks(), defined in libtorch_cpu in every libtorch build.
        let symbol = libc::dlsym(handle, c"_ZN2at6detail12getCUDAHooksEv".as_ptr());
        let mut info: libc::Dl_info = std::mem::zeroed();
        let found = !symbol.is_null() && libc::dladdr(symbol, &mut info) != 0 && !info.dli_fname.is_null();
        let file = found.then(|| PathBuf::from(CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned()));
        libc::dlclose(handle);
        file.as_deref().and_then(Path::parent).map(Path::to_path_buf)
    }
}

/// Loads libtorch's CUDA backend, `libtorch_cuda.so` from [`libtorch_lib_dir`], once per process
/// (later calls give the first call's outcome). Ok means libtorch's CUDA hooks are registered:
/// CUDA devices, where there are any, can be used. Err says why not, in words for a user: a
/// CPU-only libtorch, a library that would not load (the loader's message), or a CUDA query that
/// came before this call (see the module's documentation). Having no GPU is not an error here:
/// `tch::Cuda::is_available` answers that once this is Ok.
pub fn load_cuda() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(open_libtorch_cuda).clone()
}

fn open_libtorch_cuda() -> Result<(), String> {
    // SAFETY: RTLD_NOLOAD only looks up a library already in the process.
    let already = unsafe { libc::dlopen(c"libtorch_cuda.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if already.is_null() {
        let path = match libtorch_lib_dir() {
            Some(dir) if dir.join("libtorch_cuda.so").exists() => dir.join("libtorch_cuda.so"),
            Some(dir) => {
                return Err(format!("the libtorch in {} is a CPU-only build (no libtorch_cuda.so)", dir.display()))
            }
            // Not found by its folder: the dynamic loader's own search (rpath, LD_LIBRARY_PATH).
            None => PathBuf::from("libtorch_cuda.so"),
        };
        let name = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: loads a library; its initialisers are libtorch's own (CUDA hook registration).
        // The handle is never closed: libtorch keeps using the library.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            // SAFETY: dlerror's message, copied at once, on the thread whose dlopen failed.
            let why = unsafe { libc::dlerror() };
            let why = if why.is_null() {
                "unknown error".to_owned()
            } else {
                unsafe { CStr::from_ptr(why) }.to_string_lossy().into_owned()
            };
            return Err(format!("libtorch's CUDA backend did not load: {why}"));
        }
    }
    // With the real hooks, hasCUDART is true (a CUDA build) with or without a GPU; the default
    // hooks, fixed by a CUDA query before the load, say false.
    if tch::utils::has_cudart() {
        Ok(())
    } else {
        Err("libtorch's CUDA backend was loaded after libtorch had been asked about CUDA, so CUDA stays off \
             in this process (call gdistill_models::load_cuda() before any other CUDA query)"
            .to_owned())
    }
}

/// Whether a CUDA device can be used, loading libtorch's CUDA backend first ([`load_cuda`]):
/// what `tch::Cuda::is_available()` answers when libtorch_cuda is linked.
pub fn cuda_available() -> bool {
    load_cuda().is_ok() && tch::Cuda::is_available()
}

/// Parses a device spec; `auto` picks the first CUDA device when there is one, else the CPU.
/// Asking for CUDA where there is none is an error, not a silent fall-back. Specs that may mean
/// CUDA load libtorch's CUDA backend first ([`load_cuda`]); `cpu` loads nothing.
///
/// ```
/// use gdistill_models::parse_device;
/// assert_eq!(parse_device("cpu").unwrap(), tch::Device::Cpu);
/// assert!(parse_device("tpu").is_err());
/// ```
pub fn parse_device(spec: &str) -> Result<Device, ModelError> {
    let spec = spec.trim().to_ascii_lowercase();
    let cuda = |index: usize| {
        let loaded = load_cuda();
        let count = if loaded.is_ok() && tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
        if index < count {
            Ok(Device::Cuda(index))
        } else if count == 0 {
            Err(ModelError::NoCuda(spec.clone(), loaded.err().map(|why| format!(" ({why})")).unwrap_or_default()))
        } else {
            Err(ModelError::NoCuda(spec.clone(), format!(" at index {index} ({count} device(s): 0..{})", count - 1)))
        }
    };
    match spec.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(if cuda_available() { Device::Cuda(0) } else { Device::Cpu }),
        "cuda" | "gpu" => cuda(0),
        s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => cuda(index),
            _ => Err(ModelError::UnknownDevice(spec.to_string())),
        },
    }
}

/// Memory in use on CUDA device `index`, MiB: the whole device as the CUDA runtime sees it (the
/// CUDA context and the blocks libtorch's caching allocator holds included, which it keeps after
/// the tensors in them are freed, so sampled after each epoch this is close to the run's peak).
/// None without CUDA. The runtime is the one libtorch loaded (`libcudart`, found by `dlopen`
/// with `RTLD_NOLOAD`: nothing new is loaded).
pub fn cuda_memory_in_use_mib(index: usize) -> Option<f64> {
    if !tch::Cuda::is_available() || index >= tch::Cuda::device_count() as usize {
        return None;
    }
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> i32;
    type GetDevice = unsafe extern "C" fn(*mut i32) -> i32;
    type SetDevice = unsafe extern "C" fn(i32) -> i32;
    let library =
        ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"].iter().find_map(|name| {
            let name = std::ffi::CString::new(*name).ok()?;
            // SAFETY: dlopen with RTLD_NOLOAD only looks up a library already in the process.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
            (!handle.is_null()).then_some(handle)
        })?;
    let symbol = |name: &str| {
        let name = std::ffi::CString::new(name).ok()?;
        // SAFETY: `library` is a live handle; a missing symbol gives null.
        let address = unsafe { libc::dlsym(library, name.as_ptr()) };
        (!address.is_null()).then_some(address)
    };
    let (mem_get_info, get_device, set_device) =
        (symbol("cudaMemGetInfo")?, symbol("cudaGetDevice")?, symbol("cudaSetDevice")?);
    // SAFETY: the CUDA runtime's documented signatures for these three entry points.
    type Symbol = *mut std::ffi::c_void;
    let (mem_get_info, get_device, set_device) = unsafe {
        (
            std::mem::transmute::<Symbol, MemGetInfo>(mem_get_info),
            std::mem::transmute::<Symbol, GetDevice>(get_device),
            std::mem::transmute::<Symbol, SetDevice>(set_device),
        )
    };
    let (mut free, mut total, mut previous) = (0usize, 0usize, 0i32);
    // SAFETY: plain out-parameters; the calling thread's current device is restored.
    let ok = unsafe {
        get_device(&mut previous) == 0
            && set_device(index as i32) == 0
            && mem_get_info(&mut free, &mut total) == 0
            && set_device(previous) == 0
    };
    // SAFETY: dlopen above took a reference; this gives it back (libtorch keeps the library).
    unsafe { libc::dlclose(library) };
    ok.then(|| (total.saturating_sub(free)) as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    /// The folder of the libtorch_cpu.so that the process mapped, as /proc/self/maps names it.
    #[test]
    fn libtorch_lib_dir_is_where_libtorch_cpu_was_loaded_from() {
        let dir = super::libtorch_lib_dir().expect("libtorch_cpu.so is loaded");
        assert!(dir.join("libtorch_cpu.so").is_file(), "{}", dir.display());
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mapped = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.ends_with("/libtorch_cpu.so"))
            .expect("libtorch_cpu.so in /proc/self/maps");
        let mapped = std::path::Path::new(mapped).parent().unwrap();
        assert_eq!(dir.canonicalize().unwrap(), mapped.canonicalize().unwrap());
    }

    /// Some figure exactly where CUDA is, and a plausible one: at least the context's few MiB.
    #[test]
    fn cuda_memory_is_reported_where_cuda_is() {
        let used = super::cuda_memory_in_use_mib(0);
        assert_eq!(used.is_some(), super::cuda_available(), "{used:?}");
        if let Some(mib) = used {
            let _on_device = tch::Tensor::zeros([64, 1024, 1024], (tch::Kind::Float, tch::Device::Cuda(0)));
            let with = super::cuda_memory_in_use_mib(0).unwrap();
            assert!(with >= mib + 200.0, "a 256 MiB tensor: {mib} -> {with} MiB");
        }
        assert_eq!(super::cuda_memory_in_use_mib(1 << 20), None, "no such device");
    }
}
