//! PNG curves (plotters' bitmap backend): test accuracy against sparsity, one line per method,
//! with a +- one standard deviation band over seeds.
//!
//! Text needs a TrueType font; plotters' `ab_glyph` backend reads none from the system itself,
//! so one is loaded from `$GDISTILL_FONT` or the usual Debian/Fedora/macOS locations. The image
//! is drawn to a temporary file beside the target and renamed over it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use gdistill_datasets::input::{read_input_bytes, InputKind};
use gdistill_distill::prune::PruneRow;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Refuses a plot path that does not end in `.png` before any work is done.
pub fn check_png_path(path: &Path) -> Result<()> {
    let png = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        bail!("{}: --plot writes a PNG; give a path ending in .png", path.display());
    }
    Ok(())
}

fn load_font() -> Result<()> {
    let candidates: Vec<PathBuf> = std::env::var_os("GDISTILL_FONT")
        .map(PathBuf::from)
        .into_iter()
        .chain(FONT_PATHS.iter().map(PathBuf::from))
        .collect();
    // through the input checks: GDISTILL_FONT naming a device or a pipe must not hang the plot
    let font = InputKind::small("a TrueType font");
    let Some((path, bytes)) = candidates.iter().find_map(|p| read_input_bytes(p, &font).ok().map(|b| (p, b))) else {
        bail!("--plot needs a TrueType font: install fonts-dejavu-core, or set GDISTILL_FONT to a .ttf file");
    };
    // plotters keeps a reference for the life of the program.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{}: not a TrueType font plotters can read", path.display()))
}

pub const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes the accuracy-versus-sparsity curve of `rows` (grouped by method) to `path`.
pub fn write_prune_plot(path: &Path, title: &str, rows: &[PruneRow]) -> Result<()> {
    write_png(path, |tmp| draw(tmp, title, rows))
}

/// Checks the path, loads the font, and draws with `draw` into a temporary PNG beside `path`
/// that then replaces it: what every plot of the CLI goes through.
pub fn write_png(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    check_png_path(path)?;
    load_font()?;
    crate::cmd::write_atomically_with(path, "the plot", draw)
}

fn draw(tmp: &Path, title: &str, rows: &[PruneRow]) -> Result<()> {
    let mut methods: Vec<&str> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method.as_str()) {
            methods.push(&r.method);
        }
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let low = rows.iter().filter_map(|r| finite(r.mean - r.std)).fold(1.0f64, f64::min);
    let high = rows.iter().filter_map(|r| finite(r.mean + r.std)).fold(0.0f64, f64::max);
    let (y0, y1) = ((low - 0.02).max(0.0), (high + 0.02).min(1.0).max(low + 0.05));
    let root = BitMapBackend::new(tmp, (800, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..1.0f64, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("sparsity (fraction of weights pruned)")
        .y_desc("test accuracy")
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 15))
        .draw()?;
    for (k, method) in methods.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<&PruneRow> = rows.iter().filter(|r| r.method == *method).collect();
        let mut band: Vec<(f64, f64)> = points.iter().map(|r| (r.sparsity, r.mean + r.std)).collect();
        band.extend(points.iter().rev().map(|r| (r.sparsity, r.mean - r.std)));
        chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.15).filled())))?;
        chart
            .draw_series(LineSeries::new(points.iter().map(|r| (r.sparsity, r.mean)), colour.stroke_width(2)))?
            .label(*method)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(points.iter().map(|r| Circle::new((r.sparsity, r.mean), 4, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
