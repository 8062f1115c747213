//! Device selection from the CLI's `--device cpu|cuda|cuda:N|auto`.

use tch::Device;

use crate::ModelError;

/// Parses a device spec; `auto` picks the first CUDA device when there is one, else the CPU.
/// Asking for CUDA where there is none is an error, not a silent fall-back.
///
/// ```
/// use gdistill_models::parse_device;
/// assert_eq!(parse_device("cpu").unwrap(), tch::Device::Cpu);
/// assert!(parse_device("tpu").is_err());
/// ```
pub fn parse_device(spec: &str) -> Result<Device, ModelError> {
    let spec = spec.trim().to_ascii_lowercase();
    let cuda = |index: usize| {
        let count = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
        if index < count {
            Ok(Device::Cuda(index))
        } else if count == 0 {
            Err(ModelError::NoCuda(spec.clone(), String::new()))
        } else {
            Err(ModelError::NoCuda(spec.clone(), format!(" at index {index} ({count} device(s): 0..{})", count - 1)))
        }
    };
    match spec.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
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
    let library = ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"].iter().find_map(|name| {
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
    let (mem_get_info, get_device, set_device) = (symbol("cudaMemGetInfo")?, symbol("cudaGetDevice")?, symbol("cudaSetDevice")?);
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
    /// Some figure exactly where CUDA is, and a plausible one: at least the context's few MiB.
    #[test]
    fn cuda_memory_is_reported_where_cuda_is() {
        let used = super::cuda_memory_in_use_mib(0);
        assert_eq!(used.is_some(), tch::Cuda::is_available(), "{used:?}");
        if let Some(mib) = used {
            let _on_device = tch::Tensor::zeros([64, 1024, 1024], (tch::Kind::Float, tch::Device::Cuda(0)));
            let with = super::cuda_memory_in_use_mib(0).unwrap();
            assert!(with >= mib + 200.0, "a 256 MiB tensor: {mib} -> {with} MiB");
        }
        assert_eq!(super::cuda_memory_in_use_mib(1 << 20), None, "no such device");
    }
}
