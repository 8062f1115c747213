//! Images as CSV: one image per line, its pixels row-major, then its label.
//!
//! The form of `mnist_5k.csv.gz` (784 values `0..=255`, then `0..=9`) and of scikit-learn's
//! `digits.csv.gz` (64 values `0..=16`, then `0..=9`). Plain or gzip-compressed; a first line
//! that is not numeric is a header and skipped; blank lines are skipped. Every line must have
//! exactly `pixels + 1` values, every pixel must be a finite number in `0..=max_value` and every
//! label an integer in `0..num_classes`; the first offence is reported with its line and column.
//!
//! ```
//! use gdistill_datasets::images::csv::read_pixel_csv;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.csv");
//! std::fs::write(&path, "p0,p1,p2,p3,label\n0,16,8,0,3\n1,2,3,4,0\n").unwrap();
//! let table = read_pixel_csv(&path, 4, 16.0, 10).unwrap();
//! assert_eq!(table.labels, vec![3, 0]);
//! assert_eq!(table.pixels, vec![0.0, 16.0, 8.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
//! ```

use std::io::BufRead;
use std::path::Path;

use super::read::ImageFile;
use crate::DatasetError;

/// The images of a CSV file, pixel values as stored (not rescaled).
#[derive(Clone, Debug, PartialEq)]
pub struct PixelTable {
    /// `labels.len() * pixels` values, image after image.
    pub pixels: Vec<f32>,
    /// One class per image.
    pub labels: Vec<usize>,
}

/// Reads a CSV of `pixels` values and a label per line (see the module documentation).
pub fn read_pixel_csv(
    path: &Path,
    pixels: usize,
    max_value: f32,
    num_classes: usize,
) -> Result<PixelTable, DatasetError> {
    let mut file = ImageFile::open(path, "a CSV of images, one per line: the pixels, then the label")?;
    let mut table = PixelTable { pixels: Vec::new(), labels: Vec::new() };
    let mut line = String::new();
    let mut line_no = 0usize;
    let mut first_content = true;
    loop {
        line.clear();
        match file.reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData && !file.is_gzip() => {
                return Err(DatasetError::format(path, format!("line {}: not UTF-8 text", line_no + 1)));
            }
            Err(e) => return Err(file.read_error(e)),
        }
        line_no += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let is_header = first_content && text.split(',').next().is_some_and(|f| f.trim().parse::<f64>().is_err());
        first_content = false;
        if is_header {
            continue;
        }
        parse_row(text, pixels, max_value, num_classes, &mut table)
            .map_err(|message| DatasetError::format(path, format!("line {line_no}: {message}")))?;
    }
    if table.labels.is_empty() {
        return Err(DatasetError::format(path, "no images: the file holds no data line"));
    }
    Ok(table)
}

/// Appends one line's pixels and label to `table`, or says what is wrong with it.
fn parse_row(
    text: &str,
    pixels: usize,
    max_value: f32,
    num_classes: usize,
    table: &mut PixelTable,
) -> Result<(), String> {
    let start = table.pixels.len();
    let mut count = 0usize;
    let mut label = None;
    for (col, field) in text.split(',').enumerate() {
        count += 1;
        if col > pixels {
            continue; // counted, reported below
        }
        let field = field.trim();
        let value: f64 = field.parse().map_err(|_| format!("column {}: '{field}' is not a number", col + 1))?;
        if !value.is_finite() {
            return Err(format!("column {}: '{field}' is not a finite number", col + 1));
        }
        if col < pixels {
            if !(0.0..=f64::from(max_value)).contains(&value) {
                return Err(format!("column {}: pixel value {value} outside 0..={max_value}", col + 1));
            }
            table.pixels.push(value as f32);
        } else {
            if value.fract() != 0.0 || value < 0.0 || value >= num_classes as f64 {
                return Err(format!("column {}: label {field} is not a class in 0..{num_classes}", col + 1));
            }
            label = Some(value as usize);
        }
    }
    if count != pixels + 1 {
        table.pixels.truncate(start);
        return Err(format!("{count} values where {} are expected ({pixels} pixels, then the label)", pixels + 1));
    }
    table.labels.push(label.expect("a line of pixels + 1 values has a label"));
    Ok(())
}
