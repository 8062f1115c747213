//! Splitting a CSR output buffer into one mutable slice per row, so rows can be filled in parallel.
//!
//! Internal helper of the builders (normalisation, kNN): they compute the row pointer first, allocate
//! `indices` and `data` once, and let rayon fill each row's slice independently.

/// Cuts `buf` (of length `indptr[last] - indptr[0]`) into the rows described by `indptr`.
pub(crate) fn split_rows<'a, T>(mut buf: &'a mut [T], indptr: &[usize]) -> Vec<&'a mut [T]> {
    let mut rows = Vec::with_capacity(indptr.len().saturating_sub(1));
    for w in indptr.windows(2) {
        let (row, rest) = std::mem::take(&mut buf).split_at_mut(w[1] - w[0]);
        rows.push(row);
        buf = rest;
    }
    rows
}

/// The row pointer of rows with the given lengths: `[0, l0, l0 + l1, ...]`.
pub(crate) fn indptr_from_lengths(lengths: &[usize]) -> Vec<usize> {
    let mut indptr = Vec::with_capacity(lengths.len() + 1);
    let mut total = 0usize;
    indptr.push(0);
    for &l in lengths {
        total += l;
        indptr.push(total);
    }
    indptr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cover_the_buffer_in_order() {
        let indptr = indptr_from_lengths(&[2, 0, 3]);
        assert_eq!(indptr, vec![0, 2, 2, 5]);
        let mut buf = [0, 1, 2, 3, 4];
        let rows = split_rows(&mut buf, &indptr);
        let lens: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        assert_eq!(lens, vec![2, 0, 3]);
        assert_eq!(&*rows[2], &[2, 3, 4]);
    }
}
