//! Numeric arrays as numpy stores them, shared by the pickle (Planetoid) and `.npy` (npz) readers.
//!
//! An [`NdArray`] is a shape plus row-major (C order) data in one of a few element kinds. It is
//! decoded from raw little-endian bytes and a numpy dtype string (`<f4`, `|b1`, `<i8`, `<U7`, ...);
//! errors are plain strings that the caller wraps with the file name.
//!
//! ```
//! use gdistill_datasets::array::{DType, NdArray};
//! let dtype: DType = "<i4".parse().unwrap();
//! let bytes: Vec<u8> = [1i32, -2, 3, 4].iter().flat_map(|v| v.to_le_bytes()).collect();
//! let a = NdArray::from_le_bytes(dtype, vec![2, 2], &bytes, false).unwrap();
//! assert_eq!(a.to_i64().unwrap(), vec![1, -2, 3, 4]);
//! ```

use std::str::FromStr;

/// The element type of a numpy array (byte order already resolved to little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// One byte per boolean (`|b1`).
    Bool,
    /// Signed integer of the given byte width (1, 2, 4 or 8).
    Int(usize),
    /// Unsigned integer of the given byte width (1, 2, 4 or 8).
    UInt(usize),
    /// IEEE float of the given byte width (4 or 8).
    Float(usize),
    /// Fixed-width UTF-32 text (`<U n`): n characters.
    Unicode(usize),
    /// Fixed-width byte strings (`|S n`).
    Bytes(usize),
}

impl DType {
    /// Bytes per element.
    pub fn item_size(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::Int(w) | DType::UInt(w) | DType::Float(w) | DType::Bytes(w) => w,
            DType::Unicode(n) => 4 * n,
        }
    }

    /// Parses numpy's kind + width without a byte-order character (`f4`, `b1`, `U12`).
    pub fn from_kind(kind: &str) -> Result<DType, String> {
        let mut chars = kind.chars();
        let k = chars.next().ok_or("empty dtype")?;
        let rest = chars.as_str();
        let width: usize = if rest.is_empty() && k == '?' {
            1
        } else {
            rest.parse().map_err(|_| format!("unsupported dtype '{kind}'"))?
        };
        let dtype = match (k, width) {
            ('b', 1) | ('?', 1) => DType::Bool,
            ('i', 1 | 2 | 4 | 8) => DType::Int(width),
            ('u', 1 | 2 | 4 | 8) => DType::UInt(width),
            ('f', 4 | 8) => DType::Float(width),
            ('U', _) => DType::Unicode(width),
            ('S', _) | ('a', _) => DType::Bytes(width),
            _ => return Err(format!("unsupported dtype '{kind}' (supported: b1, i1-i8, u1-u8, f4, f8, U, S)")),
        };
        Ok(dtype)
    }

    /// Combines a byte-order character (`<`, `|`, `=`, `>`) with a kind: big-endian multi-byte
    /// types are refused.
    pub fn with_order(order: char, kind: &str) -> Result<DType, String> {
        let dtype = DType::from_kind(kind)?;
        let single_byte = matches!(dtype, DType::Bool | DType::Bytes(_)) || dtype.item_size() == 1;
        match order {
            '<' | '|' => Ok(dtype),
            '=' if cfg!(target_endian = "little") => Ok(dtype),
            '>' if single_byte => Ok(dtype),
            _ => Err(format!("dtype '{order}{kind}': only little-endian data is supported")),
        }
    }
}

impl FromStr for DType {
    type Err = String;

    /// Parses a full numpy descr such as `<f4`, `|b1`, `<U5`.
    fn from_str(descr: &str) -> Result<DType, String> {
        match descr.chars().next() {
            Some(order @ ('<' | '>' | '|' | '=')) => DType::with_order(order, &descr[1..]),
            Some(_) => DType::from_kind(descr),
            None => Err("empty dtype".into()),
        }
    }
}

/// The decoded elements of an array, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    /// Booleans.
    Bool(Vec<bool>),
    /// Any signed or unsigned integer type that fits `i64`.
    Int(Vec<i64>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// Text elements (`U`, `S`, or an object array of strings).
    Str(Vec<String>),
}

/// A shaped numpy array.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    /// Dimensions, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// The `prod(shape)` elements, row-major.
    pub data: ArrayData,
}

impl NdArray {
    /// Decodes `bytes` (exactly `prod(shape) * item_size` of them) as elements of `dtype`.
    /// `fortran` says the bytes are column-major; the result is always row-major.
    pub fn from_le_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8], fortran: bool) -> Result<NdArray, String> {
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("shape {shape:?} is too large"))?;
        let size = dtype.item_size();
        let expected = count.checked_mul(size).ok_or_else(|| format!("shape {shape:?} is too large"))?;
        if bytes.len() != expected {
            return Err(format!("{} data bytes for shape {shape:?} of {dtype:?} (expected {expected})", bytes.len()));
        }
        let chunks = bytes.chunks_exact(size.max(1));
        let fixed = |c: &[u8]| -> [u8; 8] {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            b
        };
        let data = match dtype {
            DType::Bool => ArrayData::Bool(bytes.iter().map(|&b| b != 0).collect()),
            DType::Int(w) => ArrayData::Int(
                chunks
                    .map(|c| {
                        let v = i64::from_le_bytes(fixed(c));
                        let shift = 64 - 8 * w as u32;
                        (v << shift) >> shift // sign-extend
                    })
                    .collect(),
            ),
            DType::UInt(_) => {
                let values: Vec<u64> = chunks.map(|c| u64::from_le_bytes(fixed(c))).collect();
                if values.iter().any(|&v| v > i64::MAX as u64) {
                    return Err("unsigned 64-bit value too large".into());
                }
                ArrayData::Int(values.into_iter().map(|v| v as i64).collect())
            }
            DType::Float(4) => ArrayData::F32(chunks.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            DType::Float(_) => ArrayData::F64(chunks.map(|c| f64::from_le_bytes(fixed(c))).collect()),
            DType::Unicode(_) => ArrayData::Str(
                (0..count)
                    .map(|i| {
                        bytes[i * size..(i + 1) * size]
                            .chunks_exact(4)
                            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .take_while(|&u| u != 0)
                            .map(|u| char::from_u32(u).ok_or_else(|| format!("invalid unicode code point {u:#x}")))
                            .collect::<Result<String, String>>()
                    })
                    .collect::<Result<_, _>>()?,
            ),
            DType::Bytes(_) => ArrayData::Str(
                (0..count)
                    .map(|i| {
                        let raw = &bytes[i * size..(i + 1) * size];
                        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                        String::from_utf8_lossy(&raw[..end]).into_owned()
                    })
                    .collect(),
            ),
        };
        let array = NdArray { shape, data };
        if fortran && array.shape.len() > 1 {
            array.fortran_to_c()
        } else {
            Ok(array)
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            ArrayData::Bool(v) => v.len(),
            ArrayData::Int(v) => v.len(),
            ArrayData::F32(v) => v.len(),
            ArrayData::F64(v) => v.len(),
            ArrayData::Str(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short name of the element kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.data {
            ArrayData::Bool(_) => "bool",
            ArrayData::Int(_) => "integer",
            ArrayData::F32(_) => "float32",
            ArrayData::F64(_) => "float64",
            ArrayData::Str(_) => "string",
        }
    }

    /// Elements as `f32` (from floats, integers or booleans; not from strings).
    pub fn to_f32(&self) -> Result<Vec<f32>, String> {
        match &self.data {
            ArrayData::Bool(v) => Ok(v.iter().map(|&b| b as u8 as f32).collect()),
            ArrayData::Int(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            ArrayData::F32(v) => Ok(v.clone()),
            ArrayData::F64(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            ArrayData::Str(_) => Err("expected a numeric array, found strings".into()),
        }
    }

    /// Elements as `i64` (integers or booleans only: a float array is a wrong dtype here).
    pub fn to_i64(&self) -> Result<Vec<i64>, String> {
        match &self.data {
            ArrayData::Bool(v) => Ok(v.iter().map(|&b| b as i64).collect()),
            ArrayData::Int(v) => Ok(v.clone()),
            _ => Err(format!("expected an integer array, found {}", self.kind_name())),
        }
    }

    /// Elements as non-negative indices.
    pub fn to_indices(&self) -> Result<Vec<usize>, String> {
        self.to_i64()?.into_iter().map(|v| usize::try_from(v).map_err(|_| format!("negative index {v}"))).collect()
    }

    /// Elements as strings (string arrays only).
    pub fn to_strings(&self) -> Result<Vec<String>, String> {
        match &self.data {
            ArrayData::Str(v) => Ok(v.clone()),
            _ => Err(format!("expected a string array, found {}", self.kind_name())),
        }
    }

    /// Reorders column-major data to row-major.
    fn fortran_to_c(self) -> Result<NdArray, String> {
        let shape = self.shape.clone();
        let n = shape.len();
        // strides of the Fortran layout
        let mut f_strides = vec![1usize; n];
        for k in 1..n {
            f_strides[k] = f_strides[k - 1] * shape[k - 1];
        }
        let count: usize = shape.iter().product();
        let order: Vec<usize> = (0..count)
            .map(|mut c| {
                let mut f = 0;
                for k in (0..n).rev() {
                    f += (c % shape[k]) * f_strides[k];
                    c /= shape[k];
                }
                f
            })
            .collect();
        fn permute<T: Clone>(v: &[T], order: &[usize]) -> Vec<T> {
            order.iter().map(|&i| v[i].clone()).collect()
        }
        let data = match &self.data {
            ArrayData::Bool(v) => ArrayData::Bool(permute(v, &order)),
            ArrayData::Int(v) => ArrayData::Int(permute(v, &order)),
            ArrayData::F32(v) => ArrayData::F32(permute(v, &order)),
            ArrayData::F64(v) => ArrayData::F64(permute(v, &order)),
            ArrayData::Str(v) => ArrayData::Str(permute(v, &order)),
        };
        Ok(NdArray { shape, data })
    }
}
