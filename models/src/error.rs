use thiserror::Error;

/// Why a model could not be built, loaded or run.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("unknown device '{0}': use cpu, cuda, cuda:N or auto")]
    UnknownDevice(String),
    #[error("CUDA was requested ('{0}') but no CUDA device is available{1}")]
    NoCuda(String, String),
    #[error("invalid model configuration: {0}")]
    Config(String),
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
