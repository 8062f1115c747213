//! `train --plot` and `distill --plot`: the training curve of one run.
//!
//! Two panels over the same epochs: the training loss (dropout on, as optimised) above, the
//! validation accuracy below, and in both a dashed line at the epoch whose weights were kept
//! (early stopping restores them), so a curve that peaked early and degraded shows as such.

use std::path::Path;

use anyhow::Result;
use gdistill_distill::EpochStats;
use plotters::prelude::*;

const LOSS: RGBColor = RGBColor(214, 39, 40);
const ACCURACY: RGBColor = RGBColor(31, 119, 180);
const BEST: RGBColor = RGBColor(44, 160, 44);

/// Draws `history` (one entry per epoch run) of the model `label` to `path`, marking
/// `best_epoch` (0-based, as [`gdistill_distill::Trained`] gives it).
pub fn write_training_plot(path: &Path, label: &str, history: &[EpochStats], best_epoch: usize) -> Result<()> {
    anyhow::ensure!(!history.is_empty(), "no epochs to plot");
    crate::plot::write_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (900, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let best = history.iter().find(|s| s.epoch == best_epoch).unwrap_or(&history[history.len() - 1]);
        let title = format!(
            "{label}: training curve, best epoch {} of {} (val {:.4})",
            best.epoch + 1,
            history.len(),
            best.val_acc
        );
        let (top, bottom) = root.titled(&title, ("sans-serif", 20))?.split_vertically(290);
        let epochs = 1.0..(history.len().max(2) as f64);
        let at = |s: &EpochStats| s.epoch as f64 + 1.0;
        let loss: Vec<(f64, f64)> = history.iter().map(|s| (at(s), s.loss)).collect();
        let val: Vec<(f64, f64)> = history.iter().map(|s| (at(s), s.val_acc)).collect();
        let kept = (at(best), best.val_acc);
        panel(
            &top,
            epochs.clone(),
            padded(&loss, 1e-3, None),
            Curve { name: "training loss", points: &loss, colour: LOSS },
            kept.0,
            None,
        )?;
        panel(
            &bottom,
            epochs,
            padded(&val, 0.01, Some(1.0)),
            Curve { name: "validation accuracy", points: &val, colour: ACCURACY },
            kept.0,
            Some(kept),
        )?;
        root.present()?;
        Ok(())
    })
}

/// One panel's line.
struct Curve<'a> {
    name: &'a str,
    points: &'a [(f64, f64)],
    colour: RGBColor,
}

/// The y range of `points` with a margin of 8% (at least `min_pad`), above zero and, when
/// given, at most `cap`.
fn padded(points: &[(f64, f64)], min_pad: f64, cap: Option<f64>) -> std::ops::Range<f64> {
    let finite = points.iter().map(|p| p.1).filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.08).max(min_pad);
    (lo - pad).max(0.0)..cap.map_or(hi + pad, |c| (hi + pad).min(c))
}

/// One panel: axes, the curve, the dashed line at the kept epoch `best_x`, and (for accuracy)
/// a dot on the kept value; the x axis is described only on the bottom panel (`dot` given).
fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    curve: Curve,
    best_x: f64,
    dot: Option<(f64, f64)>,
) -> Result<()> {
    let bottom = dot.is_some();
    let (y0, y1) = (y.start, y.end);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(if bottom { 44 } else { 28 })
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(curve.name)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 14));
    if bottom {
        mesh.x_desc("epoch");
    }
    mesh.draw()?;
    let colour = curve.colour;
    chart
        .draw_series(LineSeries::new(curve.points.iter().copied(), colour.stroke_width(2)))?
        .label(curve.name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
    chart
        .draw_series(DashedLineSeries::new([(best_x, y0), (best_x, y1)], 6, 5, BEST.stroke_width(2)))?
        .label(format!("kept: epoch {best_x:.0}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BEST.stroke_width(2)));
    if let Some(point) = dot {
        chart.draw_series(std::iter::once(Circle::new(point, 5, BEST.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(if bottom { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight })
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}
