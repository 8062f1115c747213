//! Tiny image and cloud datasets the CLI tests write for themselves (no real data needed).
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};

/// A small 8x8 digits CSV: class `c` lights column `c % 8` (and row 0 for classes 8 and 9),
/// with a little seeded noise, so that even two epochs learn something.
pub fn write_digits(dir: &Path, rows: usize) -> PathBuf {
    let mut state = 12345u64;
    let mut noise = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 61) as u32 // 0..8
    };
    let mut text = String::new();
    for i in 0..rows {
        let class = i % 10;
        let pixels: Vec<String> = (0..64)
            .map(|p| {
                let lit = p % 8 == class % 8 || (class >= 8 && p / 8 == 0);
                (if lit { 16 - noise() } else { noise() / 2 }).to_string()
            })
            .collect();
        text.push_str(&format!("{},{class}\n", pixels.join(",")));
    }
    let path = dir.join("digits.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// An 8x8 digits CSV of two shapes: class 0 a vertical bar, class 1 a horizontal one (the
/// digits loader always declares its ten classes).
pub fn write_bars(dir: &Path, rows: usize) -> PathBuf {
    let mut text = String::new();
    for i in 0..rows {
        let class = i % 2;
        let at = 1 + i % 6;
        let pixels: Vec<String> = (0..64)
            .map(|p| {
                let lit = if class == 0 { p % 8 == at } else { p / 8 == at };
                (if lit { 16 } else { 0 }).to_string()
            })
            .collect();
        text.push_str(&format!("{},{class}\n", pixels.join(",")));
    }
    let path = dir.join("bars.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A point-cloud experiment file small enough for two epochs in a test: every kind of row
/// (teacher, student from labels, KD+LSP, a PointNet distilled).
pub const TINY_CLOUD_CONFIG: &str =
    "points = 12\nrows = [\"teacher\", \"student\", \"student+kd+lsp\", \"pointnet+kd\"]\n\
     teacher = { arch = \"dgcnn\", k = 4, widths = [8, 8], dynamic = true, embed = 16, head = [8], dropout = 0.0 }\n\
     student = { arch = \"dgcnn\", k = 3, widths = [4], dynamic = false, embed = 8, head = [4], dropout = 0.0 }\n\
     pointnet = { arch = \"pointnet\", widths = [8], head = [8], dropout = 0.0 }\n\
     [lsp]\nweight = 1.0\nk = 3\nkernel = { kind = \"linear\" }\n";

/// Converts `rows` bar images into a ModelNet-layout folder of 12-point 2-D clouds in `dir`.
pub fn write_bar_clouds(dir: &Path, rows: usize) -> (PathBuf, std::process::Output) {
    let csv = write_bars(dir, rows);
    let clouds = dir.join("bars-points");
    let o = super::cli::gdistill(
        &[
            "data",
            "pointcloud-from-images",
            "--dataset",
            &format!("digits:{}", csv.display()),
            "--points",
            "12",
            "--out",
            clouds.to_str().unwrap(),
        ],
        dir,
    );
    (clouds, o)
}
