//! Interpreting inert pickle objects as the numpy / scipy / collections values they stand for.
//!
//! - numpy `ndarray`: `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` followed by
//!   `BUILD (version, shape, dtype, fortran_order, raw_bytes)`, the dtype itself being
//!   `numpy.dtype('f4', 0, 1)` built with state `(3, '<', ...)`; dtypes `b1`, `i1`-`i8`,
//!   `u1`-`u8`, `f4`, `f8` little-endian, or an object array of strings.
//! - scipy sparse `csr_matrix` / `csc_matrix` (and the `_array` variants): an object whose state
//!   dict holds `_shape`, `data`, `indices`, `indptr`.
//! - `collections.defaultdict(list)` (or a plain dict) of `int -> [int]`: an adjacency list.

use sprs::CsMat;

use super::{Node, Pickle, Value};
use crate::array::{ArrayData, DType, NdArray};
use crate::sparse::{csr_from_parts, Compressed};

const NUMPY_MULTIARRAY: &[&str] = &["numpy.core.multiarray", "numpy._core.multiarray"];

fn object_parts<'p>(p: &'p Pickle, v: &Value) -> Option<(&'p Value, &'p [Value], Option<&'p Value>)> {
    match p.node(v)? {
        Node::Object { class, args, state, .. } => Some((class, args, state.as_ref())),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match *v {
        Value::Int(i) => Some(i),
        Value::Bool(b) => Some(b as i64),
        _ => None,
    }
}

fn describe(p: &Pickle, v: &Value) -> String {
    match (p.class_of(v), p.node(v)) {
        (Some((m, n)), _) => format!("an object of class {m}.{n}"),
        (None, Some(Node::Tuple(_))) => "a tuple".into(),
        (None, Some(Node::List(_))) => "a list".into(),
        (None, Some(Node::Dict(_))) => "a dict".into(),
        (None, Some(Node::Str(_) | Node::Bytes(_))) => "a string".into(),
        (None, _) => format!("{v:?}"),
    }
}

/// Decodes a numpy dtype object into a [`DType`].
fn decode_dtype(p: &Pickle, v: &Value) -> Result<DType, String> {
    let (class, args, state) =
        object_parts(p, v).ok_or_else(|| format!("expected a numpy dtype, found {}", describe(p, v)))?;
    if !p.is_global(class, &["numpy"], &["dtype"]) {
        return Err(format!("expected a numpy dtype, found {}", describe(p, v)));
    }
    let kind = args.first().and_then(|a| p.str(a)).ok_or("numpy dtype without a type string")?;
    let order = state
        .and_then(|s| p.tuple(s))
        .and_then(|t| t.get(1))
        .and_then(|o| p.str(o))
        .and_then(|o| o.chars().next())
        .unwrap_or('|');
    DType::with_order(order, kind)
}

/// Decodes a pickled numpy array.
pub fn decode_ndarray(p: &Pickle, v: &Value) -> Result<NdArray, String> {
    let not_array = || format!("expected a numpy array, found {}", describe(p, v));
    let (class, args, state) = object_parts(p, v).ok_or_else(not_array)?;
    if !p.is_global(class, NUMPY_MULTIARRAY, &["_reconstruct"])
        || !args.first().is_some_and(|a| p.is_global(a, &["numpy"], &["ndarray"]))
    {
        return Err(not_array());
    }
    let state = state.and_then(|s| p.tuple(s)).ok_or("numpy array without a state tuple")?;
    // (version, shape, dtype, fortran, data), or the old 4-tuple without version
    let fields = match state.len() {
        5 => &state[1..],
        4 => state,
        n => return Err(format!("numpy array state has {n} fields (expected 4 or 5)")),
    };
    let shape = p
        .tuple(&fields[0])
        .ok_or("numpy array shape is not a tuple")?
        .iter()
        .map(|d| int(d).and_then(|d| usize::try_from(d).ok()).ok_or("numpy array shape has a bad dimension"))
        .collect::<Result<Vec<usize>, _>>()?;
    let fortran = int(&fields[2]).ok_or("numpy array fortran flag is not a bool")? != 0;
    if let Some(Node::List(items)) = p.node(&fields[3]) {
        // object array: a list of Python objects; only strings are accepted
        let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if count != Some(items.len()) {
            return Err(format!("object array of {} items for shape {shape:?}", items.len()));
        }
        let mut budget = p.decode_budget();
        let strings = items
            .iter()
            .map(|s| {
                let s = p.str(s).ok_or("object array holds a non-string value")?;
                budget = budget
                    .checked_sub(s.len() + 1)
                    .ok_or("object array strings exceed the size of the file many times over (shared references)")?;
                Ok(s.to_string())
            })
            .collect::<Result<Vec<_>, &str>>()?;
        return Ok(NdArray { shape, data: ArrayData::Str(strings) });
    }
    let dtype = decode_dtype(p, &fields[1])?;
    let bytes = p.bytes(&fields[3]).ok_or("numpy array data is not a byte string")?;
    NdArray::from_le_bytes(dtype, shape, &bytes, fortran)
}

/// Decodes a pickled scipy sparse matrix (CSR or CSC) into a CSR `f32` matrix.
pub fn decode_sparse_matrix(p: &Pickle, v: &Value) -> Result<CsMat<f32>, String> {
    let not_sparse = || format!("expected a scipy sparse matrix, found {}", describe(p, v));
    let (module, name) = p.class_of(v).ok_or_else(not_sparse)?;
    if !module.starts_with("scipy.sparse") {
        return Err(not_sparse());
    }
    let compressed = match name {
        "csr_matrix" | "csr_array" => Compressed::Rows,
        "csc_matrix" | "csc_array" => Compressed::Columns,
        other => return Err(format!("unsupported scipy sparse class {other} (expected csr_matrix or csc_matrix)")),
    };
    let (_, _, state) = object_parts(p, v).ok_or_else(not_sparse)?;
    let state = state.ok_or("sparse matrix without state")?;
    let get = |key: &str| p.dict_get(state, key).ok_or_else(|| format!("sparse matrix state has no '{key}'"));
    let shape = p.tuple(get("_shape")?).ok_or("sparse matrix _shape is not a tuple")?;
    let dims = shape
        .iter()
        .map(|d| int(d).and_then(|d| usize::try_from(d).ok()).ok_or("sparse matrix _shape has a bad dimension"))
        .collect::<Result<Vec<usize>, _>>()?;
    let &[rows, cols] = dims.as_slice() else {
        return Err(format!("sparse matrix _shape has {} dimensions", dims.len()));
    };
    let indptr = decode_ndarray(p, get("indptr")?).and_then(|a| a.to_indices()).map_err(|e| format!("indptr: {e}"))?;
    let indices =
        decode_ndarray(p, get("indices")?).and_then(|a| a.to_indices()).map_err(|e| format!("indices: {e}"))?;
    let data = decode_ndarray(p, get("data")?).and_then(|a| a.to_f32()).map_err(|e| format!("data: {e}"))?;
    csr_from_parts((rows, cols), compressed, &indptr, &indices, &data)
}

/// Decodes a dict (or `defaultdict`) mapping node ids to lists of neighbour ids.
pub fn decode_adjacency_dict(p: &Pickle, v: &Value) -> Result<Vec<(usize, Vec<usize>)>, String> {
    let items =
        p.dict_items(v).ok_or_else(|| format!("expected a dict of adjacency lists, found {}", describe(p, v)))?;
    let node = |x: &Value| -> Result<usize, String> {
        int(x).and_then(|i| usize::try_from(i).ok()).ok_or_else(|| format!("bad node id {}", describe(p, x)))
    };
    let mut budget = p.decode_budget();
    items
        .iter()
        .map(|(k, vs)| {
            let neighbours =
                p.tuple(vs).ok_or_else(|| format!("neighbours of {k:?} are {}, not a list", describe(p, vs)))?;
            budget = budget.checked_sub(neighbours.len() + 1).ok_or_else(|| {
                "the adjacency lists exceed the size of the file many times over (shared references)".to_string()
            })?;
            Ok((node(k)?, neighbours.iter().map(node).collect::<Result<Vec<_>, _>>()?))
        })
        .collect()
}
