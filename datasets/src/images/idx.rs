//! MNIST's IDX format (LeCun et al.), plain or gzip-compressed.
//!
//! A file is a big-endian header, then the data row-major: the magic number `0x0000TTDD`
//! (`TT` the element type, `08` = unsigned byte; `DD` the number of dimensions), one 4-byte
//! size per dimension, then the elements. MNIST images are `0x00000803` (2051: bytes, 3
//! dimensions `[n, rows, cols]`) and labels `0x00000801` (2049: bytes, `[n]`).
//!
//! Checked before any payload is read: the magic number (with a hint when the images and labels
//! files are swapped), non-zero image sides, and a declared size that the file can hold (an
//! uncompressed file must be exactly header + data; a gzip file is read with a cap, see
//! `read.rs`). Then the payload must have exactly the declared length: fewer bytes is a
//! truncated file, more is trailing data.
//!
//! ```no_run
//! use gdistill_datasets::images::idx::{read_idx_images, read_idx_labels};
//! let images = read_idx_images("t10k-images-idx3-ubyte.gz".as_ref()).unwrap();
//! let labels = read_idx_labels("t10k-labels-idx1-ubyte.gz".as_ref()).unwrap();
//! assert_eq!((images.count, images.height, images.width, labels.len()), (10000, 28, 28, 10000));
//! ```

use std::path::Path;

use super::read::ImageFile;
use crate::DatasetError;

/// Magic number of an IDX file of unsigned-byte images `[n, rows, cols]`.
pub const IMAGES_MAGIC: u32 = 0x0803;
/// Magic number of an IDX file of unsigned-byte labels `[n]`.
pub const LABELS_MAGIC: u32 = 0x0801;
/// Largest payload accepted (4 GiB; MNIST's training images are 47 MB): a larger declared size
/// is a corrupt header, refused before reading.
pub const MAX_PAYLOAD: u64 = 1 << 32;

/// Images read from an IDX file: `count * height * width` bytes, row-major, 0 = background.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// The pixels, image after image.
    pub pixels: Vec<u8>,
}

/// What a magic number is, for error messages.
fn describe(magic: u32) -> String {
    match magic {
        IMAGES_MAGIC => "an IDX images file".into(),
        LABELS_MAGIC => "an IDX labels file".into(),
        _ => "not an IDX file of unsigned bytes".into(),
    }
}

/// Reads the header (magic number and dimensions) and the payload of the declared size.
fn read_idx(path: &Path, magic: u32, what: &str) -> Result<(Vec<usize>, Vec<u8>), DatasetError> {
    let mut file = ImageFile::open(path, &format!("MNIST {what} in IDX format, plain or gzip"))?;
    let mut word = [0u8; 4];
    file.read_exact(&mut word, "the magic number")?;
    let found = u32::from_be_bytes(word);
    if found != magic {
        return Err(DatasetError::format(
            path,
            format!(
                "magic number {found:#010x} ({found}) where {what} need {magic:#010x} ({magic}): the file is {}",
                describe(found)
            ),
        ));
    }
    let ndims = (magic & 0xff) as usize;
    let mut dims = Vec::with_capacity(ndims);
    for k in 0..ndims {
        file.read_exact(&mut word, &format!("the size of dimension {k} of the header"))?;
        dims.push(u32::from_be_bytes(word) as usize);
    }
    let declared = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).filter(|&n| n <= MAX_PAYLOAD);
    let Some(declared) = declared else {
        return Err(DatasetError::format(
            path,
            format!("the header declares {dims:?} elements: implausibly large, refused"),
        ));
    };
    let header = 4 * (ndims as u64 + 1);
    if !file.is_gzip() && file.disk_len < header + declared {
        return Err(DatasetError::format(
            path,
            format!(
                "truncated: the header declares {dims:?} = {declared} bytes of data but the file holds {}",
                file.disk_len - header
            ),
        ));
    }
    let data = file.read_up_to(declared + 1)?;
    let got = data.len() as u64;
    if got < declared {
        return Err(DatasetError::format(
            path,
            format!("truncated: the header declares {dims:?} = {declared} bytes of data but the file holds {got}"),
        ));
    }
    if got > declared {
        return Err(DatasetError::format(
            path,
            format!("trailing data after the {declared} bytes the header declares ({dims:?})"),
        ));
    }
    Ok((dims, data))
}

/// Reads an IDX images file (magic 2051).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DatasetError> {
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC, "images")?;
    let (count, height, width) = (dims[0], dims[1], dims[2]);
    if height == 0 || width == 0 {
        return Err(DatasetError::format(path, format!("images of {height}x{width} pixels")));
    }
    Ok(IdxImages { count, height, width, pixels })
}

/// Reads an IDX labels file (magic 2049). The values are returned as stored; range checks are
/// the caller's, who knows the number of classes.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DatasetError> {
    read_idx(path, LABELS_MAGIC, "labels").map(|(_, labels)| labels)
}
