//! Checks of an HDF5 file's bytes that libhdf5 1.10 itself does not make, run before the library
//! opens the file.
//!
//! libhdf5 1.10's global-heap reader (`H5HG__cache_heap_deserialize`: the heap that holds
//! variable-length strings, such as this layout's `format` attribute and `class_names`) walks
//! the objects of a collection by their sizes; an object with index 0 and size 0 makes it loop
//! forever, and a size near 2^64 makes it jump outside the buffer. Later HDF5 releases check
//! this; the Debian 1.10.8 that gdistill builds against does not. Found by fuzzing
//! (`datasets/tests/fuzz_parsers.rs`): a one-byte change of a valid file hung the process.
//!
//! A second crash of the same reader: a variable-length string's heap ID (collection address +
//! object index, stored after the string's 4-byte length in a dataset's or attribute's data)
//! naming an object the collection does not hold makes `H5HG_read` index past its object table
//! and segfault (also found by fuzzing: a flipped bit in the data of `class_names`).
//!
//! [`check_file`] finds every global heap collection (`GCOL`, version 1, within the file)
//! and repeats libhdf5's walk over its objects, refusing the file when that walk would not
//! advance or would leave the collection. It then looks for the heap IDs that point at those
//! collections (the collection's address, preceded by a 32-bit length between 1 and the
//! collection's size) and refuses one whose object index is not in the collection. (Raw numbers
//! that happen to spell such an ID would be refused too: in int64 data that takes a value of
//! 2^32 or more just before a value equal to the collection's byte address; in float32 data, a
//! denormal number.)

/// The superblock's "size of offsets" and "size of lengths" (8 and 8 when unreadable). The
/// superblock sits at byte 0, 512, 1024, 2048, ...; version 0/1 keep the two sizes at bytes 13
/// and 14, versions 2/3 at bytes 9 and 10.
fn superblock_sizes(bytes: &[u8]) -> (usize, usize) {
    const SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";
    let valid = |b: u8| if matches!(b, 2 | 4 | 8) { b as usize } else { 8 };
    let mut base = 0usize;
    while base + 16 <= bytes.len() {
        if &bytes[base..base + 8] == SIGNATURE {
            return match bytes[base + 8] {
                0 | 1 => (valid(bytes[base + 13]), valid(bytes[base + 14])),
                _ => (valid(bytes[base + 9]), valid(bytes[base + 10])),
            };
        }
        base = if base == 0 { 512 } else { base * 2 };
    }
    (8, 8)
}

fn read_uint(bytes: &[u8], at: usize, width: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(width)?)?;
    let mut value = 0u64;
    for (k, &b) in field.iter().enumerate().take(8) {
        value |= (b as u64) << (8 * k);
    }
    if field.iter().skip(8).any(|&b| b != 0) {
        return Some(u64::MAX);
    }
    Some(value)
}

/// Refuses a file holding a global heap collection whose object walk would not advance, or would
/// step past the end of the collection (see the module documentation); the inner error says
/// where. The file is read in blocks: only the collections are held whole.
pub fn check_file(path: &std::path::Path) -> std::io::Result<Result<(), String>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let file_len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    let mut head = Vec::new();
    (&mut file).take(1 << 16).read_to_end(&mut head)?;
    let (offset_size, len_size) = superblock_sizes(&head);

    // Pass 1: the collections, each walked as libhdf5 walks it.
    let mut collections: Vec<(u64, u64, Vec<u64>)> = Vec::new(); // address, size, object indices
    let mut failure = None;
    scan(&mut file, 4, |file, block, offset| {
        for k in block.windows(4).enumerate().filter(|(_, w)| *w == b"GCOL").map(|(k, _)| k) {
            let at = offset + k;
            let header = read_at(file, at, 8 + len_size)?;
            let Some(size) = collection_size(&header, len_size, file_len - at) else { continue };
            let heap = read_at(file, at, size)?;
            match check_collection(&heap, at, len_size) {
                Ok(indices) => collections.push((at as u64, size as u64, indices)),
                Err(e) => {
                    failure = Some(e);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    })?;
    if let Some(e) = failure {
        return Ok(Err(e));
    }
    if collections.is_empty() {
        return Ok(Ok(()));
    }
    // Pass 2: heap IDs naming those collections must name objects they hold.
    let id_len = 4 + offset_size + 4;
    scan(&mut file, id_len, |_, block, offset| {
        for k in 0..block.len().saturating_sub(id_len - 1) {
            let Some(address) = read_uint(block, k + 4, offset_size) else { continue };
            let Some((_, size, indices)) = collections.iter().find(|(a, _, _)| *a == address) else { continue };
            // a string's length is at least 1 and at most its collection's size
            let length = read_uint(block, k, 4).unwrap_or(0);
            let index = read_uint(block, k + 4 + offset_size, 4).unwrap_or(0);
            if (1..=*size).contains(&length) && indices.binary_search(&index).is_err() {
                failure = Some(format!(
                    "corrupt HDF5 variable-length data at byte {}: it names object {index} of the global heap at byte \
                     {address}, which has no such object (libhdf5 1.10 would read past its object table)",
                    offset + k
                ));
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    Ok(failure.map_or(Ok(()), Err))
}

/// Reads `len` bytes at `at`.
fn read_at(file: &mut std::fs::File, at: usize, len: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut buf = vec![0u8; len];
    file.seek(SeekFrom::Start(at as u64))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Calls `visit(file, block, offset of block[0])` over the whole file in 1 MiB blocks that
/// overlap by `window - 1` bytes (so a pattern of `window` bytes is never cut in two), until
/// `visit` returns `false`.
fn scan(
    file: &mut std::fs::File,
    window: usize,
    mut visit: impl FnMut(&mut std::fs::File, &[u8], usize) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: usize = 1 << 20;
    let keep = window - 1;
    let mut block = vec![0u8; BLOCK + keep];
    let mut offset = 0usize; // file offset of block[0]
    let mut carried = 0usize;
    loop {
        file.seek(SeekFrom::Start((offset + carried) as u64))?;
        let mut filled = carried;
        while filled < block.len() {
            let n = file.read(&mut block[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if !visit(file, &block[..filled], offset)? || filled < block.len() {
            return Ok(());
        }
        block.copy_within(filled - keep..filled, 0);
        offset += filled - keep;
        carried = keep;
    }
}

/// The size of the collection whose header starts `header` (signature included), when libhdf5
/// would read it as one: version 1 (the reserved bytes are not checked: libhdf5 does not check
/// them either), a size that fits in the `room` bytes left (a collection past the end of the
/// file is an error for libhdf5, not a loop).
fn collection_size(header: &[u8], len_size: usize, room: usize) -> Option<usize> {
    if header.get(..4) != Some(b"GCOL") || header.get(4) != Some(&1) {
        return None;
    }
    let size = usize::try_from(read_uint(header, 8, len_size)?).ok()?;
    (size >= 8 + len_size && size <= room).then_some(size)
}

/// Repeats libhdf5's walk over the objects of one collection (`heap`, found at byte `at`);
/// returns the indices of the objects it holds (sorted, free space excluded).
fn check_collection(heap: &[u8], at: usize, len_size: usize) -> Result<Vec<u64>, String> {
    let size = heap.len();
    let mut indices = Vec::new();
    let object_header = 8 + len_size; // index u16, references u16, 4 reserved, object size
    let mut p = 8 + len_size; // after "GCOL", version, 3 reserved, collection size
    while p < size {
        if p + object_header > size {
            break; // trailing free space too small for an object header
        }
        let index = read_uint(heap, p, 2).unwrap_or(0);
        let object_size = read_uint(heap, p + 8, len_size).unwrap_or(u64::MAX);
        // libhdf5: objects other than 0 take their header plus their size rounded up to 8;
        // object 0 (free space) takes exactly its size
        let need = if index > 0 {
            object_size.checked_add(7).map(|s| s / 8 * 8).and_then(|s| s.checked_add(object_header as u64))
        } else {
            Some(object_size)
        };
        match need.and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n > 0 && p.checked_add(n).is_some_and(|end| end <= size) => {
                if index > 0 {
                    indices.push(index);
                }
                p += n
            }
            _ => {
                return Err(format!(
                    "corrupt HDF5 global heap at byte {at}: object {index} at offset {p} has size {object_size}, \
                     which libhdf5 1.10 would loop on or read past the collection"
                ))
            }
        }
    }
    indices.sort_unstable();
    Ok(indices)
}
