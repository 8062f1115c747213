//! Building checked `sprs` CSR matrices from untrusted compressed parts (scipy pickles, npz, HDF5).
//!
//! `sprs::CsMat::new` panics on a malformed structure; [`csr_from_parts`] checks everything first
//! and returns a message instead, so a corrupt file can never panic a loader.

use sprs::CsMat;

/// Whether `indptr` compresses rows (CSR) or columns (CSC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compressed {
    /// CSR: `indptr` has one entry per row plus one.
    Rows,
    /// CSC: `indptr` has one entry per column plus one.
    Columns,
}

/// Builds a `rows x cols` CSR matrix from compressed parts, checking that `indptr` has one entry
/// per compressed line plus one, starts at 0, never decreases and ends at `indices.len()`, that
/// every index is in range, and that `data` matches `indices`. Unsorted indices are sorted and
/// duplicate entries summed (scipy's semantics). A CSC input is converted to CSR.
pub fn csr_from_parts(
    shape: (usize, usize),
    compressed: Compressed,
    indptr: &[usize],
    indices: &[usize],
    data: &[f32],
) -> Result<CsMat<f32>, String> {
    let (rows, cols) = shape;
    let (outer, inner) = match compressed {
        Compressed::Rows => (rows, cols),
        Compressed::Columns => (cols, rows),
    };
    if Some(indptr.len()) != outer.checked_add(1) {
        return Err(format!(
            "indptr has {} entries for {outer} compressed lines (expected {})",
            indptr.len(),
            outer as u128 + 1
        ));
    }
    if indices.len() != data.len() {
        return Err(format!("{} indices but {} values", indices.len(), data.len()));
    }
    if indptr[0] != 0 || indptr[outer] != indices.len() {
        return Err(format!(
            "indptr runs from {} to {} but there are {} entries",
            indptr[0],
            indptr[outer],
            indices.len()
        ));
    }
    if let Some(k) = indptr.windows(2).position(|w| w[0] > w[1]) {
        return Err(format!("indptr decreases at position {k}"));
    }
    if let Some(&bad) = indices.iter().find(|&&j| j >= inner) {
        return Err(format!("index {bad} is outside 0..{inner}"));
    }
    // Per compressed line: sort by index, merge duplicates.
    let mut new_indptr = Vec::with_capacity(outer + 1);
    let mut new_indices = Vec::with_capacity(indices.len());
    let mut new_data = Vec::with_capacity(data.len());
    new_indptr.push(0);
    let mut line: Vec<(usize, f32)> = Vec::new();
    for k in 0..outer {
        let range = indptr[k]..indptr[k + 1];
        let sorted = indices[range.clone()].windows(2).all(|w| w[0] < w[1]);
        if sorted {
            new_indices.extend_from_slice(&indices[range.clone()]);
            new_data.extend_from_slice(&data[range]);
        } else {
            line.clear();
            line.extend(range.map(|e| (indices[e], data[e])));
            line.sort_by_key(|&(j, _)| j);
            for &(j, v) in &line {
                if new_indices.len() > *new_indptr.last().unwrap() && new_indices.last() == Some(&j) {
                    *new_data.last_mut().unwrap() += v;
                } else {
                    new_indices.push(j);
                    new_data.push(v);
                }
            }
        }
        new_indptr.push(new_indices.len());
    }
    let matrix = match compressed {
        Compressed::Rows => CsMat::try_new(shape, new_indptr, new_indices, new_data),
        Compressed::Columns => CsMat::try_new_csc(shape, new_indptr, new_indices, new_data),
    }
    .map_err(|(_, _, _, e)| format!("invalid sparse structure: {e}"))?;
    Ok(if matrix.is_csr() { matrix } else { matrix.to_csr() })
}

/// A CSR matrix from a dense row-major `rows x cols` buffer, keeping the non-zero entries.
pub fn csr_from_dense(rows: usize, cols: usize, dense: &[f32]) -> Result<CsMat<f32>, String> {
    if rows.checked_mul(cols) != Some(dense.len()) {
        return Err(format!("{} values for a {rows} x {cols} matrix", dense.len()));
    }
    // with cols = 0 there are no values to bound rows: the row pointer alone could be huge
    crate::limits::check_memory(&format!("a {rows} x {cols} matrix"), (rows as u128 + 1) * 8)?;
    let mut indptr = Vec::with_capacity(rows + 1);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    indptr.push(0);
    if cols > 0 {
        for row in dense.chunks_exact(cols) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
    } else {
        indptr.resize(rows + 1, 0);
    }
    CsMat::try_new((rows, cols), indptr, indices, data).map_err(|(_, _, _, e)| format!("invalid sparse structure: {e}"))
}

/// Stacks CSR matrices with the same number of columns on top of each other.
pub fn vstack(parts: &[&CsMat<f32>]) -> Result<CsMat<f32>, String> {
    let cols = parts.first().map_or(0, |m| m.cols());
    if let Some(m) = parts.iter().find(|m| m.cols() != cols) {
        return Err(format!("cannot stack matrices with {} and {cols} columns", m.cols()));
    }
    let mut indptr = vec![0usize];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for m in parts {
        let owned;
        let m = if m.is_csr() {
            *m
        } else {
            owned = m.to_csr();
            &owned
        };
        for row in m.outer_iterator() {
            indices.extend_from_slice(row.indices());
            data.extend_from_slice(row.data());
            indptr.push(indices.len());
        }
    }
    let rows = indptr.len() - 1;
    CsMat::try_new((rows, cols), indptr, indices, data).map_err(|(_, _, _, e)| format!("invalid sparse structure: {e}"))
}
