//! Downloads of the public datasets gdistill reads (`gdistill data fetch`), checked against
//! pinned sha256 values, written atomically, resumable (feature `fetch`).
//!
//! The catalogue ([`catalogue`]) says what each dataset's files are, where they come from and
//! where they go under the data directory. [`fetch`] brings them there: a file already in
//! place is checked, not downloaded again; a missing one is downloaded into `FILE.partial` and
//! renamed into place once whole and matching its pin; an OGB archive is unpacked into OGB's own
//! layout. Nothing is half-written at a final path: on an error only a resumable `.partial` stays.
//!
//! Every failure says which URL or path and why; a network failure also says where to put the
//! files by hand, since the hosts may be unreachable from where gdistill runs.

pub mod catalogue;
mod download;
mod unpack;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use catalogue::{find, Entry, Layout, RemoteFile, CATALOGUE};

/// How [`fetch`] downloads.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The data directory: an entry goes to `data_dir/<its folder>/`.
    pub data_dir: PathBuf,
    /// A mirror to download from instead of the catalogue's URLs: `BASE/<file name>` (hashes
    /// are checked all the same).
    pub base_url: Option<String>,
    /// Download files without a pinned sha256 (their hash is reported, not checked).
    pub allow_unpinned: bool,
    /// The limit on resolving the host and connecting.
    pub connect_timeout: Duration,
    /// The limit on each read: a server that stops sending ends the download after this long.
    pub read_timeout: Duration,
}

impl FetchOptions {
    /// Options with the default limits (30 s to connect, 30 s per read) and no mirror.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let limit = Duration::from_secs(30);
        FetchOptions {
            data_dir: data_dir.into(),
            base_url: None,
            allow_unpinned: false,
            connect_timeout: limit,
            read_timeout: limit,
        }
    }
}

/// Where a download is, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// A download starts: `total` bytes if the server said, `from` of them already on disk.
    Start {
        /// The URL.
        url: &'a str,
        /// The file's full size, when known.
        total: Option<u64>,
        /// The bytes a resumed download already has.
        from: u64,
    },
    /// This many more bytes arrived.
    Advance(u64),
    /// The download ended (whole or not).
    Finish,
}

/// What happened to one file (or, for an archive, to its folder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Already in place; `checked` when its sha256 was pinned and matched.
    Present {
        /// Whether its sha256 was checked against a pin.
        checked: bool,
    },
    /// Downloaded now.
    Downloaded {
        /// The file's size.
        bytes: u64,
        /// Its sha256 (lower-case hex).
        sha256: String,
        /// Bytes that came from an earlier run's `.partial`.
        resumed_from: u64,
        /// Whether `sha256` was checked against a pin.
        pinned: bool,
    },
    /// An archive unpacked into its folder (and removed).
    Unpacked,
}

/// One line of [`fetch`]'s report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// The file (or folder) on disk.
    pub path: PathBuf,
    /// What happened to it.
    pub outcome: Outcome,
}

/// Why a fetch failed; each reads as one line naming the URL or path.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer, or not the file: unreachable host, refused connection, timeout, HTTP error.
    #[error("{url}: {reason}; {manual}")]
    Network {
        /// The URL asked for.
        url: String,
        /// What went wrong.
        reason: String,
        /// Where to put the files by hand.
        manual: String,
    },
    /// The connection broke mid-file; the `.partial` file stays for the next run to resume.
    #[error(
        "{url}: {reason} after {got}{} bytes; {} is kept: run the same command again to resume",
        .expected.map(|e| format!(" of {e}")).unwrap_or_default(), .partial.display()
    )]
    Broken {
        /// The URL.
        url: String,
        /// Bytes on disk now.
        got: u64,
        /// The file's size, when the server said.
        expected: Option<u64>,
        /// What broke.
        reason: String,
        /// The kept `.partial` file.
        partial: PathBuf,
    },
    /// The downloaded bytes are not the pinned file (removed; nothing installed).
    #[error(
        "{url}: the download's sha256 is {got}, but gdistill's catalogue pins {expected}: not the expected \
         file (a changed source or a bad mirror?); it was removed and nothing was installed"
    )]
    HashMismatch {
        /// The URL.
        url: String,
        /// The pinned sha256.
        expected: String,
        /// The downloaded file's sha256.
        got: String,
    },
    /// A file already at its final path has another sha256 than its pin.
    #[error(
        "{}: already there, but its sha256 is {got}, not the pinned {expected} (another version, or \
         damaged? move it away and run this again)", .path.display()
    )]
    PresentMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned sha256.
        expected: String,
        /// Its sha256.
        got: String,
    },
    /// Files without a pinned sha256 would be downloaded, and that was not allowed.
    #[error(
        "{} ha{} no pinned sha256 in gdistill's catalogue, so the download could not be checked; \
         --allow-unpinned downloads it anyway and prints its sha256 (or put the file there yourself: {})",
        .files.join(", "), if .files.len() == 1 { "s" } else { "ve" },
        .paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Unpinned {
        /// The unpinned files' names.
        files: Vec<&'static str>,
        /// Where they go.
        paths: Vec<PathBuf>,
    },
    /// Another process holds the `.partial` file.
    #[error("{}: another gdistill is downloading into it (wait for it to end)", .partial.display())]
    Busy {
        /// The `.partial` file.
        partial: PathBuf,
    },
    /// A file or folder could not be read, written or renamed, or an archive is bad.
    #[error("{}: {message}", .path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl FetchError {
    pub(crate) fn io(path: &Path, error: &std::io::Error) -> Self {
        FetchError::File { path: path.to_owned(), message: crate::atomic::describe_write_error(path, error) }
    }
}

/// The URL of `file` of `entry`: the catalogue's, or the mirror's.
pub fn url(entry: &Entry, file: &RemoteFile, base_url: Option<&str>) -> String {
    format!("{}/{}", base_url.unwrap_or(entry.base_url).trim_end_matches('/'), file.name)
}

/// Where `file` of `entry` lands under `data_dir` (an archive: beside its folder, until unpacked).
pub fn destination(entry: &Entry, file: &RemoteFile, data_dir: &Path) -> PathBuf {
    match entry.layout {
        Layout::Files { dir } => data_dir.join(dir).join(file.name),
        Layout::Zip { .. } => data_dir.join(file.name),
    }
}

/// The sentence a network error ends with: where the files go when downloaded by other means.
fn manual_hint(entry: &Entry, data_dir: &Path) -> String {
    let missing: Vec<String> = entry
        .files
        .iter()
        .map(|f| destination(entry, f, data_dir))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    match entry.layout {
        Layout::Files { .. } => format!(
            "without network, download the files elsewhere and put them by hand at {} (then run this again \
             to check them)",
            missing.join(", ")
        ),
        Layout::Zip { dir, marker, .. } => format!(
            "without network, download the archive elsewhere and put it by hand at {} (then run this again \
             to unpack it into {}, so that {} exists)",
            missing.join(", "),
            data_dir.join(dir).display(),
            data_dir.join(dir).join(marker).display()
        ),
    }
}

/// Brings `entry`'s files into `options.data_dir`, reporting each file's fate. See the module
/// documentation for what is checked and what is left behind on failure.
pub fn fetch(
    entry: &Entry,
    options: &FetchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<FileReport>, FetchError> {
    let data_dir = &options.data_dir;
    if let Layout::Zip { dir, marker, .. } = entry.layout {
        let folder = data_dir.join(dir);
        if folder.join(marker).is_file() {
            return Ok(vec![FileReport { path: folder, outcome: Outcome::Present { checked: false } }]);
        }
    }
    let to_download: Vec<&RemoteFile> =
        entry.files.iter().filter(|f| !destination(entry, f, data_dir).exists()).collect();
    let unpinned: Vec<&RemoteFile> = to_download.iter().copied().filter(|f| f.sha256.is_none()).collect();
    if !unpinned.is_empty() && !options.allow_unpinned {
        return Err(FetchError::Unpinned {
            files: unpinned.iter().map(|f| f.name).collect(),
            paths: unpinned.iter().map(|f| destination(entry, f, data_dir)).collect(),
        });
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(options.connect_timeout))
        .timeout_connect(Some(options.connect_timeout))
        .timeout_send_request(Some(options.read_timeout))
        .timeout_per_read(Some(options.read_timeout))
        .user_agent(concat!("gdistill/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let manual = manual_hint(entry, data_dir);
    let folder = data_dir.join(entry.layout.dir());
    let created = !folder.exists();
    let result = fetch_files(entry, options, &agent, &manual, progress);
    if result.is_err() && created {
        let _ = std::fs::remove_dir(&folder); // only if empty: a `.partial` to resume stays
    }
    result
}

fn fetch_files(
    entry: &Entry,
    options: &FetchOptions,
    agent: &ureq::Agent,
    manual: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<FileReport>, FetchError> {
    let data_dir = &options.data_dir;
    let mut reports = Vec::new();
    for file in entry.files {
        let dest = destination(entry, file, data_dir);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| FetchError::io(&dest, &e))?;
        }
        let outcome = if dest.exists() {
            check_present(&dest, file.sha256)?
        } else {
            let url = url(entry, file, options.base_url.as_deref());
            let got = download::download(agent, &url, &dest, file.sha256, file.bytes, manual, progress)?;
            Outcome::Downloaded {
                bytes: got.bytes,
                sha256: got.sha256,
                resumed_from: got.resumed_from,
                pinned: file.sha256.is_some(),
            }
        };
        reports.push(FileReport { path: dest.clone(), outcome });
        if let Layout::Zip { dir, root, marker } = entry.layout {
            unpack::unpack(&dest, data_dir, root, dir, marker)?;
            reports.push(FileReport { path: data_dir.join(dir), outcome: Outcome::Unpacked });
        }
    }
    Ok(reports)
}

/// Checks a file already at its final path against its pin (a file without one is taken as is).
fn check_present(path: &Path, pin: Option<&str>) -> Result<Outcome, FetchError> {
    if !path.is_file() {
        let message = "already there, but not a regular file: move it away and run this again".to_owned();
        return Err(FetchError::File { path: path.to_owned(), message });
    }
    let Some(expected) = pin else { return Ok(Outcome::Present { checked: false }) };
    let (got, _) = download::hash_file(path).map_err(|e| FetchError::File {
        path: path.to_owned(),
        message: format!("cannot read it to check its sha256: {e}"),
    })?;
    if got != expected {
        return Err(FetchError::PresentMismatch { path: path.to_owned(), expected: expected.to_owned(), got });
    }
    Ok(Outcome::Present { checked: true })
}

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;
