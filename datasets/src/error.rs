use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a dataset could not be loaded. Every variant names the file (or spec) and the problem.
#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{}: file not found{}", path.display(), hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Missing { path: PathBuf, hint: Option<String> },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("dataset spec '{spec}': {message}")]
    Spec { spec: String, message: String },
    #[error("dataset '{name}': {message}")]
    Invalid { name: String, message: String },
}

impl DatasetError {
    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DatasetError::Format { path: path.as_ref().to_path_buf(), message: message.into() }
    }

    pub fn invalid(name: impl Into<String>, message: impl Into<String>) -> Self {
        DatasetError::Invalid { name: name.into(), message: message.into() }
    }
}
