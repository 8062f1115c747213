//! One file over HTTP(S): resumed from its `.partial` when one is there, hashed as it arrives,
//! and renamed into place only once whole and, where pinned, matching its sha256.
//!
//! The `.partial` file is the temporary file of an atomic write that may span several runs: a
//! broken connection leaves it (flushed to disk) so the next run asks only for the rest
//! (`Range: bytes=N-`); a server that answers the whole file instead (200, not 206) is trusted
//! over the old bytes, which are dropped. The hash always covers the whole file, so a resumed
//! download is checked as strictly as a fresh one. A file whose hash is wrong is removed: its
//! bytes cannot be the start of the right file either, as far as anyone can tell.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FetchError, Progress};

/// What one download produced.
pub(crate) struct Downloaded {
    pub bytes: u64,
    pub sha256: String,
    pub resumed_from: u64,
}

/// `PATH.partial`, beside the file it becomes.
pub(crate) fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// The sha256 of `path` and its length, reading it in blocks (files can be gigabytes).
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let n = hash_prefix(&mut file, &mut hasher, u64::MAX)?;
    Ok((hex(&hasher.finalize()), n))
}

fn hash_prefix(file: &mut File, hasher: &mut Sha256, limit: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut reader = file.take(limit);
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `url` to `dest` through `dest.partial`. `pin` is the expected sha256; `size` the
/// expected length, which lets a complete `.partial` left by an earlier run be checked and
/// installed without asking the server again. `manual` is the sentence that tells the user where
/// to put the file by hand, appended to network errors.
pub(crate) fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    pin: Option<&str>,
    size: Option<u64>,
    manual: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Downloaded, FetchError> {
    let partial = partial_path(dest);
    let io_err = |e: std::io::Error| FetchError::io(&partial, &e);
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&partial).map_err(io_err)?;
    // Two runs appending to one `.partial` would interleave their bytes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(FetchError::Busy { partial });
    }
    let mut have = file.metadata().map_err(io_err)?.len();
    if have > 0 && pin.is_some() && size == Some(have) {
        let (sha256, _) = hash_file(&partial).map_err(io_err)?;
        if Some(sha256.as_str()) == pin {
            install(&file, &partial, dest)?;
            return Ok(Downloaded { bytes: have, sha256, resumed_from: have });
        }
    }
    if size.is_some_and(|size| have > size) {
        have = restart(&file).map_err(io_err)?;
    }
    let network = |reason: String| FetchError::Network { url: url.to_owned(), reason, manual: manual.to_owned() };
    let mut ranged = have > 0;
    let response = loop {
        let mut request = agent.get(url);
        if ranged {
            request = request.header("Range", format!("bytes={have}-"));
        }
        match request.call() {
            // The `.partial` is complete or longer than the file: start over.
            Err(ureq::Error::StatusCode(416)) if ranged => {
                have = restart(&file).map_err(io_err)?;
                ranged = false;
            }
            Err(e) => {
                if have == 0 {
                    let _ = std::fs::remove_file(&partial); // nothing to resume: leave nothing behind
                }
                return Err(network(describe(&e)));
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let range_start = response
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if status != 200 && status != 206 {
                    if have == 0 {
                        let _ = std::fs::remove_file(&partial);
                    }
                    return Err(network(format!("the server answered HTTP {status}, not the file")));
                }
                if status == 206 && range_start != Some(have) {
                    if !ranged {
                        return Err(network("the server sent part of the file unasked (HTTP 206)".to_owned()));
                    }
                    // A range other than the one asked for: not worth stitching.
                    have = restart(&file).map_err(io_err)?;
                    ranged = false;
                    continue;
                }
                if status == 200 && have > 0 {
                    have = restart(&file).map_err(io_err)?; // the server sends it all again
                }
                break response;
            }
        }
    };
    let resumed_from = have;
    let total = response.body().content_length().map(|n| n + have);
    progress(Progress::Start { url, total, from: have });
    let mut hasher = Sha256::new();
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    hash_prefix(&mut file, &mut hasher, have).map_err(io_err)?;
    file.seek(SeekFrom::Start(have)).map_err(io_err)?;
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = have;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = file.sync_all();
                if received == 0 {
                    let _ = std::fs::remove_file(&partial);
                }
                progress(Progress::Finish);
                return Err(FetchError::Broken {
                    url: url.to_owned(),
                    got: received,
                    expected: total,
                    reason: describe_io(&e),
                    partial,
                });
            }
        };
        file.write_all(&buf[..n]).map_err(io_err)?;
        hasher.update(&buf[..n]);
        received += n as u64;
        progress(Progress::Advance(n as u64));
    }
    progress(Progress::Finish);
    file.sync_all().map_err(io_err)?;
    if let Some(expected) = total.filter(|&t| received < t) {
        let reason = "the connection closed early".to_owned();
        return Err(FetchError::Broken {
            url: url.to_owned(),
            got: received,
            expected: Some(expected),
            reason,
            partial,
        });
    }
    let sha256 = hex(&hasher.finalize());
    if let Some(expected) = pin.filter(|&p| p != sha256) {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::HashMismatch { url: url.to_owned(), expected: expected.to_owned(), got: sha256 });
    }
    install(&file, &partial, dest)?;
    Ok(Downloaded { bytes: received, sha256, resumed_from })
}

/// Empties the `.partial` file for a download from the first byte.
fn restart(file: &File) -> std::io::Result<u64> {
    file.set_len(0)?;
    Ok(0)
}

/// Renames the flushed `.partial` over `dest`, then flushes the directory so the rename itself
/// survives a crash.
fn install(file: &File, partial: &Path, dest: &Path) -> Result<(), FetchError> {
    file.sync_all().map_err(|e| FetchError::io(partial, &e))?;
    std::fs::rename(partial, dest).map_err(|e| FetchError::io(dest, &e))?;
    if let Some(dir) = dest.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// A ureq error in a user's words: what failed, not the library's variant name.
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::HostNotFound => "the host name does not resolve (no network, or no DNS?)".to_owned(),
        ureq::Error::ConnectionFailed => "no connection could be made (no network?)".to_owned(),
        ureq::Error::Timeout(phase) => format!("timed out ({phase}; GDISTILL_FETCH_TIMEOUT_S sets the limit)"),
        ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}, not the file"),
        ureq::Error::Io(e) => describe_io(e),
        other => other.to_string(),
    }
}

fn describe_io(error: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    if let Some(inner) = error.get_ref().and_then(|e| e.downcast_ref::<ureq::Error>()) {
        return describe(inner);
    }
    match error.kind() {
        ConnectionRefused => "connection refused (no server there, or no network?)".to_owned(),
        TimedOut | WouldBlock => "timed out (GDISTILL_FETCH_TIMEOUT_S sets the limit)".to_owned(),
        UnexpectedEof => "the connection closed early".to_owned(),
        NetworkUnreachable | HostUnreachable => format!("{error} (no network?)"),
        // getaddrinfo's failures have no ErrorKind of their own.
        _ if error.to_string().contains("lookup address") => {
            format!("the host name does not resolve (no network, or no DNS?): {error}")
        }
        _ => error.to_string(),
    }
}
