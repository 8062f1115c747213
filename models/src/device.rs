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
