//! Text tables as users and OGB write them: the shared reading of the `ogb:` and `csv:` readers.
//!
//! A table is a plain or gzip file (recognised by its magic bytes, not its name: OGB's files end
//! in `.csv.gz`, a user's may not) of lines of tokens separated by commas or by whitespace.
//! Blank lines and lines starting with `#` are skipped; a first line holding a token that is not
//! a number is a header and skipped too, so `src,dst` or `node label` tops a file harmlessly.
//!
//! The file is read through [`crate::input`] (bounded size, devices and silent pipes refused);
//! a gzip stream is decompressed to at most the memory budget ([`crate::limits`]), so a small
//! file that inflates a thousandfold is refused rather than allowed to fill memory, and a
//! truncated stream (a download cut short) is an error, never the rows that happened to arrive.
//! Every error names the file and, for a bad token, the line and column.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::limits::{human_bytes, memory_budget};
use crate::DatasetError;

/// A table's text, with the path its messages name.
pub(crate) struct Table<'a> {
    pub path: &'a Path,
    text: String,
}

/// One data line: its 1-based line number and its tokens.
pub(crate) struct Row<'t> {
    pub line: usize,
    pub tokens: Vec<&'t str>,
}

impl<'a> Table<'a> {
    /// Reads `path` (plain or gzip) as text; `what` says what the file holds, for "file not found".
    pub fn read(path: &'a Path, what: &str) -> Result<Self, DatasetError> {
        let bytes = crate::error::read_file(path, what)?;
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) { gunzip(path, &bytes)? } else { bytes };
        let text = String::from_utf8(bytes).map_err(|e| {
            DatasetError::format(
                path,
                format!("not UTF-8 text (byte {}): expected {what}", e.utf8_error().valid_up_to()),
            )
        })?;
        Ok(Table { path, text })
    }

    /// The text as read (decompressed), for a reader whose blank lines mean something.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A format error naming this file.
    pub fn error(&self, message: impl Into<String>) -> DatasetError {
        DatasetError::format(self.path, message)
    }

    /// A format error naming this file and `line`.
    pub fn error_at(&self, line: usize, message: impl std::fmt::Display) -> DatasetError {
        DatasetError::format(self.path, format!("line {line}: {message}"))
    }

    /// The data lines (comments, blank lines and a header skipped), one at a time: a feature
    /// table of millions of tokens is never held as tokens all at once.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        let mut rows = self
            .text
            .lines()
            .enumerate()
            .map(|(k, l)| (k + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .map(|(line, l)| Row { line, tokens: tokens(l) })
            .peekable();
        // Only a line of nothing but words is a header: `0,abc` is a bad row, reported as such.
        if rows.peek().is_some_and(|r| r.tokens.iter().all(|t| !looks_numeric(t))) {
            rows.next();
        }
        rows
    }

    /// `row` when it has `columns` tokens, else an error naming the line.
    pub fn check_columns<'r, 't>(
        &self,
        row: &'r Row<'t>,
        columns: usize,
        what: &str,
    ) -> Result<&'r Row<'t>, DatasetError> {
        if row.tokens.len() == columns {
            Ok(row)
        } else {
            Err(self.error_at(row.line, format!("{} columns, expected {columns} ({what})", row.tokens.len())))
        }
    }

    /// A non-negative integer token (a node id, a class, a count).
    pub fn index(&self, row: &Row, column: usize, what: &str) -> Result<usize, DatasetError> {
        let token = row.tokens[column];
        let at = |m: String| self.error_at(row.line, format!("column {}: {m}", column + 1));
        match token.parse::<i64>() {
            Ok(v) => usize::try_from(v).map_err(|_| at(format!("{what} {v} is negative"))),
            Err(_) => match exact_integer(token) {
                Some(v) => usize::try_from(v).map_err(|_| at(format!("{what} {v} is negative"))),
                None => Err(at(format!("'{token}' is not a whole number ({what})"))),
            },
        }
    }

    /// A finite number token (a feature).
    pub fn finite(&self, row: &Row, column: usize) -> Result<f32, DatasetError> {
        let token = row.tokens[column];
        let at = |m: String| self.error_at(row.line, format!("column {}: {m}", column + 1));
        let value = token.parse::<f64>().map_err(|_| at(format!("'{token}' is not a number")))?;
        let value32 = value as f32;
        if !value32.is_finite() {
            return Err(at(format!("'{token}' is not finite as a float32: features must be finite")));
        }
        Ok(value32)
    }

    /// Every row as `columns_of_first_row` finite numbers: a dense row-major matrix and its
    /// column count. Rows of another length are an error naming the line.
    pub fn matrix(&self) -> Result<(usize, usize, Vec<f32>), DatasetError> {
        let (mut rows, mut cols, mut values) = (0, None, Vec::new());
        for row in self.rows() {
            let width = *cols.get_or_insert(row.tokens.len());
            if row.tokens.len() != width {
                return Err(
                    self.error_at(row.line, format!("{} values, but the first row has {width}", row.tokens.len()))
                );
            }
            for c in 0..width {
                values.push(self.finite(&row, c)?);
            }
            rows += 1;
        }
        Ok((rows, cols.unwrap_or(0), values))
    }
}

/// Splits a line at commas when it has any, else at whitespace.
fn tokens(line: &str) -> Vec<&str> {
    if line.contains(',') {
        line.split(',').map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    }
}

/// Whether a token reads as a number (or as the empty or NaN label of an unlabelled node).
fn looks_numeric(token: &str) -> bool {
    token.is_empty() || token.parse::<f64>().is_ok()
}

/// `3.0` as 3: pandas writes integer columns holding a NaN as floats.
fn exact_integer(token: &str) -> Option<i64> {
    let v = token.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

/// Decompresses a gzip file (every member: `cat a.gz b.gz` is valid gzip) up to the memory budget.
fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DatasetError> {
    let budget = memory_budget();
    let limit = u64::try_from(budget).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    let read = MultiGzDecoder::new(bytes).take(limit.saturating_add(1)).read_to_end(&mut out);
    match read {
        Ok(_) if out.len() as u64 > limit => Err(DatasetError::format(
            path,
            format!(
                "gzip data decompresses to more than the memory available ({}): the wrong file?",
                human_bytes(budget)
            ),
        )),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(DatasetError::format(
            path,
            format!(
                "truncated gzip: the stream ends after {} compressed bytes, before its end (a download cut short?)",
                bytes.len()
            ),
        )),
        Err(e) => Err(DatasetError::format(path, format!("corrupt gzip data: {e}"))),
    }
}
