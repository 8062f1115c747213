//! A part file's features (`gdistill partition`, [`crate::partition_files`]) read as dense rows,
//! a block of rows at a time, for parts whose features are dense (a CSBM's): CSR in memory costs
//! 12 bytes a value (f32 value, usize index) plus the copies of reading it; a dense row 4.
//!
//! Each block reads its slice of `features_csr/indices` and `features_csr/data` from the file
//! (hyperslabs), so the whole CSR is never in memory. The row scaling ([`DenseFeatureReader::read`]
//! with `normalize`) is [`crate::NodeDataset::row_normalize_features`]'s, value for value: a
//! row's absolute values summed in f32 in stored order (the zeros a dense row adds change no
//! sum), each value divided by the sum.

use std::ops::Range;
use std::path::Path;

use crate::DatasetError;

/// An open part file's feature rows.
pub struct DenseFeatureReader {
    file: hdf5::File,
    /// `features_csr/indptr` (one entry per row and one more).
    indptr: Vec<usize>,
    cols: usize,
    path: std::path::PathBuf,
}

impl DenseFeatureReader {
    /// Opens the features of the part file at `path` (already checked by
    /// [`crate::partition_files::open_listed_part_with`]).
    pub fn open(path: &Path) -> Result<DenseFeatureReader, DatasetError> {
        let bad = |e: String| DatasetError::format(path, format!("reading the part file's features: {e}"));
        let file = crate::h5file::open(path).map_err(|e| bad(e.to_string()))?;
        let ints = |name: &str| -> Result<Vec<usize>, DatasetError> {
            let values =
                file.dataset(name).and_then(|d| d.read_raw::<i64>()).map_err(|e| bad(format!("'{name}': {e}")))?;
            values.into_iter().map(|v| usize::try_from(v).map_err(|_| bad(format!("'{name}' holds {v}")))).collect()
        };
        let shape = ints("features_csr/shape")?;
        let indptr = ints("features_csr/indptr")?;
        let stored = file.dataset("features_csr/data").map_err(|e| bad(e.to_string()))?.size();
        let rows_ok = shape.len() == 2 && indptr.len() == shape[0] + 1;
        if !rows_ok || indptr.last() != Some(&stored) || indptr.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("inconsistent CSR arrays".into()));
        }
        Ok(DenseFeatureReader { file, indptr, cols: shape[1], path: path.to_path_buf() })
    }

    /// Rows of the part.
    pub fn rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Feature columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    fn bad(&self, e: impl std::fmt::Display) -> DatasetError {
        DatasetError::format(&self.path, format!("reading the part file's features: {e}"))
    }

    /// The stored entries of rows `rows`: their column indices and values.
    fn entries(&self, rows: Range<usize>) -> Result<(Vec<i64>, Vec<f32>), DatasetError> {
        let span = self.indptr[rows.start]..self.indptr[rows.end];
        let read = |name: &str| self.file.dataset(name).map_err(|e| self.bad(e));
        let indices = read("features_csr/indices")?.read_slice_1d::<i64, _>(span.clone()).map_err(|e| self.bad(e))?;
        let data = read("features_csr/data")?.read_slice_1d::<f32, _>(span).map_err(|e| self.bad(e))?;
        Ok((indices.into_raw_vec_and_offset().0, data.into_raw_vec_and_offset().0))
    }

    /// Whether every stored value is non-negative (read in blocks of `block` rows).
    pub fn all_nonnegative(&self, block: usize) -> Result<bool, DatasetError> {
        let mut start = 0;
        while start < self.rows() {
            let end = (start + block.max(1)).min(self.rows());
            if self.entries(start..end)?.1.iter().any(|&v| v < 0.0) {
                return Ok(false);
            }
            start = end;
        }
        Ok(true)
    }

    /// Rows `rows` into `out` (`rows.len() x cols` values, row-major; overwritten), each row
    /// divided by the sum of its absolute values when `normalize` (rows of zeros stay zero).
    pub fn read(&self, rows: Range<usize>, out: &mut [f32], normalize: bool) -> Result<(), DatasetError> {
        assert_eq!(out.len(), rows.len() * self.cols, "a buffer of the rows' size");
        out.fill(0.0);
        let (indices, data) = self.entries(rows.clone())?;
        let base = self.indptr[rows.start];
        for (r, row) in rows.clone().enumerate() {
            let span = self.indptr[row] - base..self.indptr[row + 1] - base;
            let sum: f32 = data[span.clone()].iter().map(|v| v.abs()).sum();
            let scale = normalize && sum > 0.0;
            for k in span {
                let j = usize::try_from(indices[k]).ok().filter(|&j| j < self.cols);
                let j = j.ok_or_else(|| self.bad(format!("column {} of row {row} is out of range", indices[k])))?;
                out[r * self.cols + j] = if scale { data[k] / sum } else { data[k] };
            }
        }
        Ok(())
    }
}
