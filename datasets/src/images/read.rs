//! Opening image files that may be gzip-compressed, and reading them without trusting sizes.
//!
//! Compression is recognised by gzip's magic bytes (`1f 8b`), not by the file name, so a
//! decompressed `t10k-images-idx3-ubyte` kept under a `.gz` name still reads. Payloads are read
//! through `Read::take(expected + 1)` into a buffer that grows only as bytes actually arrive: a
//! header declaring an absurd size can never make the reader allocate it.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::DatasetError;

/// An open image file, decompressing on the fly when it is gzip.
pub(crate) struct ImageFile {
    pub(crate) reader: Box<dyn BufRead>,
    path: PathBuf,
    gzip: bool,
    /// Bytes on disk, or sent by a pipe (the decompressed size is unknown until read for gzip files).
    pub(crate) disk_len: u64,
}

impl ImageFile {
    /// Opens `path` through [`crate::input`] (devices, directories, silent pipes and files larger
    /// than memory refused); a missing file is [`DatasetError::Missing`] with `hint`.
    pub(crate) fn open(path: &Path, hint: &str) -> Result<ImageFile, DatasetError> {
        let input = crate::input::open_input(path, &crate::input::InputKind::data(hint))?;
        let disk_len = input.len;
        let mut buffered = BufReader::with_capacity(1 << 16, input.source);
        let head = buffered.fill_buf().map_err(|e| DatasetError::io(path, e))?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead> =
            if gzip { Box::new(BufReader::new(MultiGzDecoder::new(buffered))) } else { Box::new(buffered) };
        Ok(ImageFile { reader, path: path.to_path_buf(), gzip, disk_len })
    }

    /// Whether the bytes come out of a gzip stream (so `disk_len` does not bound them).
    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// A read error as a [`DatasetError`]: inside a gzip stream it means a corrupt or truncated
    /// file, not an operating-system problem.
    pub(crate) fn read_error(&self, e: std::io::Error) -> DatasetError {
        if self.gzip && matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::UnexpectedEof)
        {
            DatasetError::format(&self.path, format!("corrupt or truncated gzip stream ({e})"))
        } else {
            DatasetError::io(&self.path, e)
        }
    }

    /// Fills `buf`; running out of bytes is a truncated file, described by `what`.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), DatasetError> {
        self.reader.read_exact(buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                DatasetError::format(&self.path, format!("truncated: the file ends inside {what}"))
            } else {
                self.read_error(e)
            }
        })
    }

    /// Up to `limit` bytes from here on (fewer when the file ends first).
    pub(crate) fn read_up_to(&mut self, limit: u64) -> Result<Vec<u8>, DatasetError> {
        // The initial capacity is capped so that a lying header costs nothing up front.
        let mut out = Vec::with_capacity(limit.min(64 << 20) as usize);
        match (&mut self.reader).take(limit).read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(self.read_error(e)),
        }
    }
}
