//! The one error type of gdistill-datasets.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a dataset could not be loaded. Every variant names the file (or spec) and the problem.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A file the loader needs is not there; `hint` says what it holds or where to get it.
    #[error("{}: file not found{}", path.display(), hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Missing {
        /// The file that is not there.
        path: PathBuf,
        /// What the file holds or how to get it.
        hint: Option<String>,
    },
    /// The file is there but could not be read or written. (The operating system's error is
    /// part of the message, not a separate `source`, so `{:#}` chains do not print it twice.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The path is there but is not something gdistill reads as this input: a directory, a
    /// device, a socket, a pipe that stays silent, a file far larger than such an input can be
    /// ([`crate::input`]).
    #[error("{}: {message}", path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// What the path is and why it cannot serve.
        message: String,
    },
    /// An output that cannot be written; the message says why ([`crate::atomic::describe_write_error`]).
    #[error("{}: {message}", path.display())]
    Unwritable {
        /// The output's path.
        path: PathBuf,
        /// Why it cannot be written.
        message: String,
    },
    /// The file was read but its contents are not what the format says (truncated, corrupt,
    /// wrong dtype or shape, ...).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the array / dataset / line where it helps.
        message: String,
    },
    /// The dataset spec string itself is wrong.
    #[error("dataset spec '{spec}': {message}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong (for an unknown spec: the valid forms).
        message: String,
    },
    /// The data parsed but breaks an invariant of [`crate::NodeDataset`].
    #[error("dataset '{name}': {message}")]
    Invalid {
        /// The dataset's name.
        name: String,
        /// The broken invariant.
        message: String,
    },
}

impl DatasetError {
    /// A [`DatasetError::Format`] for `path`.
    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DatasetError::Format { path: path.as_ref().to_path_buf(), message: message.into() }
    }

    /// A [`DatasetError::Unwritable`] for `path`, the reason in words
    /// ([`crate::atomic::describe_write_error`]).
    pub fn unwritable(path: impl AsRef<Path>, error: &std::io::Error) -> Self {
        let path = path.as_ref();
        DatasetError::Unwritable { path: path.to_path_buf(), message: crate::atomic::describe_write_error(path, error) }
    }

    /// A [`DatasetError::Invalid`] for the dataset called `name`.
    pub fn invalid(name: impl Into<String>, message: impl Into<String>) -> Self {
        DatasetError::Invalid { name: name.into(), message: message.into() }
    }

    /// A [`DatasetError::Missing`] for `path`, with an optional hint.
    pub fn missing(path: impl AsRef<Path>, hint: Option<String>) -> Self {
        DatasetError::Missing { path: path.as_ref().to_path_buf(), hint }
    }

    /// A [`DatasetError::Spec`] for the spec string `spec`.
    pub fn spec(spec: impl Into<String>, message: impl Into<String>) -> Self {
        DatasetError::Spec { spec: spec.into(), message: message.into() }
    }

    /// Wraps an I/O error on `path`: "not found" becomes [`DatasetError::Missing`].
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::missing(path, None)
        } else {
            DatasetError::Io { path: path.as_ref().to_path_buf(), error: source }
        }
    }
}

/// Reads a whole data file through [`crate::input`] (bounded by the memory available; devices,
/// directories and silent pipes refused); a missing file is [`DatasetError::Missing`] with `hint`.
pub(crate) fn read_file(path: &Path, hint: &str) -> Result<Vec<u8>, DatasetError> {
    crate::input::read_input_bytes(path, &crate::input::InputKind::data(hint))
}
