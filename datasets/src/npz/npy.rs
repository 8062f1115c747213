//! The `.npy` array format: reading and writing one array.
//!
//! A file is the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), a header length (u16 for 1.0,
//! u32 otherwise), then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and `\n`,
//! then the raw data. Supported `descr`: `|b1`, `<i1`-`<i8`, `<u1`-`<u8`, `<f4`, `<f8`, `<U n`,
//! `|S n`, and `|O` when the object array holds only strings (its data is then a pickle, read by
//! the inert [`crate::pickle`] reader, so nothing is executed).

use crate::array::{ArrayData, DType, NdArray};
use crate::pickle::decode::decode_ndarray;
use crate::pickle::Pickle;

const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype string, e.g. `<f4`.
    pub descr: String,
    /// Whether the data is column-major.
    pub fortran_order: bool,
    /// The array's dimensions.
    pub shape: Vec<usize>,
}

/// Splits a `.npy` file into its header and the offset where the data starts.
pub fn parse_header(bytes: &[u8]) -> Result<(NpyHeader, usize), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy array (bad magic)".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or("truncated .npy header")?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| "the .npy header is not text")?;
    Ok((parse_dict(text)?, end))
}

/// Parses the header dict literal (only the three keys numpy writes).
fn parse_dict(text: &str) -> Result<NpyHeader, String> {
    let body =
        text.trim().strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or("the .npy header is not a dict")?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let (key, after) = quoted(rest).ok_or_else(|| format!("bad .npy header near '{rest}'"))?;
        let after = after.trim_start().strip_prefix(':').ok_or("missing ':' in .npy header")?.trim_start();
        rest = match key {
            "descr" => {
                let (d, after) = quoted(after)
                    .ok_or("'descr' is not a simple dtype string (structured dtypes are not supported)")?;
                descr = Some(d.to_string());
                after
            }
            "fortran_order" => {
                let (value, after) = if let Some(a) = after.strip_prefix("True") {
                    (true, a)
                } else if let Some(a) = after.strip_prefix("False") {
                    (false, a)
                } else {
                    return Err("'fortran_order' is not True or False".into());
                };
                fortran = Some(value);
                after
            }
            "shape" => {
                let close = after.find(')').ok_or("'shape' is not a tuple")?;
                let inner = after.strip_prefix('(').ok_or("'shape' is not a tuple")?;
                let dims = inner[..close - 1]
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        d.trim_end_matches('L').parse::<usize>().map_err(|_| format!("bad dimension '{d}' in shape"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                shape = Some(dims);
                &after[close + 1..]
            }
            other => return Err(format!("unexpected key '{other}' in .npy header")),
        };
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(NpyHeader {
        descr: descr.ok_or("the .npy header has no 'descr'")?,
        fortran_order: fortran.ok_or("the .npy header has no 'fortran_order'")?,
        shape: shape.ok_or("the .npy header has no 'shape'")?,
    })
}

/// A single- or double-quoted string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|&c| c == '\'' || c == '"')?;
    let end = s[1..].find(q)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}

/// Decodes a whole `.npy` file.
pub fn read_npy(bytes: &[u8]) -> Result<NdArray, String> {
    let (header, start) = parse_header(bytes)?;
    let data = &bytes[start..];
    if header.descr == "|O" || header.descr == "O" {
        let p = Pickle::parse(data).map_err(|e| format!("object array: {e}"))?;
        let array = decode_ndarray(&p, p.root()).map_err(|e| format!("object array: {e}"))?;
        if !matches!(array.data, ArrayData::Str(_)) || array.shape != header.shape {
            return Err("object array holds something other than strings of the declared shape".into());
        }
        return Ok(array);
    }
    let dtype: DType = header.descr.parse()?;
    NdArray::from_le_bytes(dtype, header.shape, data, header.fortran_order)
}

/// Encodes an array as a version-1.0 `.npy` file (C order, little-endian; strings as `<U n`).
pub fn write_npy(array: &NdArray) -> Vec<u8> {
    let (descr, body): (String, Vec<u8>) = match &array.data {
        ArrayData::Bool(v) => ("|b1".into(), v.iter().map(|&b| b as u8).collect()),
        ArrayData::Int(v) => ("<i8".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ArrayData::F32(v) => ("<f4".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ArrayData::F64(v) => ("<f8".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ArrayData::Str(v) => {
            let width = v.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1);
            let body = v
                .iter()
                .flat_map(|s| {
                    let mut units: Vec<u32> = s.chars().map(u32::from).collect();
                    units.resize(width, 0);
                    units.into_iter().flat_map(u32::to_le_bytes)
                })
                .collect();
            (format!("<U{width}"), body)
        }
    };
    let dims: Vec<String> = array.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // pad so that magic + version + length + header is a multiple of 64, ending in '\n'
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&body);
    out
}
