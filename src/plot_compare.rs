//! `compare --plot`: test accuracy against parameter count, one labelled point per row.
//!
//! The question a comparison answers is "how close does a student of a tenth of the size come
//! to the teacher?", so the x axis is the parameter count on a log scale, the y axis test
//! accuracy with a +- one standard deviation bar over seeds, and the teacher's mean is a dashed
//! line across the chart. Teachers, students trained from labels and distilled students differ
//! in colour and marker. Graph, image and point-cloud reports all reduce to [`SizePoint`]s.

use std::path::Path;

use anyhow::Result;
use gdistill_distill::experiment::Row;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One row of a comparison, as the plot needs it.
#[derive(Clone, Debug)]
pub struct SizePoint {
    pub label: String,
    pub params: i64,
    pub mean: f64,
    pub std: f64,
    pub is_teacher: bool,
}

/// A chart's title and its points.
pub struct SizePlot {
    pub title: String,
    pub points: Vec<SizePoint>,
}

/// How a point is drawn: teacher, student from labels, or student that learnt from a teacher.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Teacher,
    Student,
    Distilled,
}

impl Role {
    /// Row names say how a student was trained: `+kd` (soft targets) or `+lsp` (local
    /// structure) mean it learnt from a teacher.
    fn of(point: &SizePoint) -> Role {
        if point.is_teacher {
            Role::Teacher
        } else if point.label.contains("+kd") || point.label.contains("+lsp") {
            Role::Distilled
        } else {
            Role::Student
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Role::Teacher => RGBColor(214, 39, 40),
            Role::Student => RGBColor(110, 110, 110),
            Role::Distilled => RGBColor(31, 119, 180),
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Student => "student, from labels",
            Role::Distilled => "student, distilled",
        }
    }
}

fn point(label: &str, params: i64, mean: f64, std: f64, is_teacher: bool) -> SizePoint {
    SizePoint { label: label.to_string(), params, mean, std, is_teacher }
}

/// A comparison's rows (graphs, images or point clouds) as points; `is_teacher` names the
/// teachers among them.
pub fn size_points<X>(dataset: &str, seeds: usize, rows: &[Row<X>], is_teacher: impl Fn(&str) -> bool) -> SizePlot {
    let points = rows.iter().map(|r| point(&r.name, r.params, r.mean, r.std, is_teacher(&r.name)));
    SizePlot { title: title(dataset, seeds), points: points.collect() }
}

fn title(dataset: &str, seeds: usize) -> String {
    let over = if seeds == 1 { "1 seed".to_string() } else { format!("mean +- std over {seeds} seeds") };
    format!("{dataset}: test accuracy against model size ({over})")
}

/// Draws `plot` to `path` (a PNG, written atomically).
pub fn write_size_plot(path: &Path, plot: &SizePlot) -> Result<()> {
    crate::plot::write_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (960, 620)).into_drawing_area();
        draw(&root, plot)?;
        root.present()?;
        Ok(())
    })
}

fn draw(root: &DrawingArea<BitMapBackend, Shift>, plot: &SizePlot) -> Result<()> {
    root.fill(&WHITE)?;
    let points: Vec<&SizePoint> = plot.points.iter().filter(|p| p.params > 0 && p.mean.is_finite()).collect();
    let std = |p: &SizePoint| if p.std.is_finite() { p.std } else { 0.0 };
    let low = points.iter().map(|p| p.mean - std(p)).fold(1.0f64, f64::min);
    let high = points.iter().map(|p| p.mean + std(p)).fold(0.0f64, f64::max);
    let pad = ((high - low) * 0.12).max(0.01);
    let (y0, y1) = ((low - pad).max(0.0), (high + pad).min(1.0).max(low + 0.02));
    let smallest = points.iter().map(|p| p.params).min().unwrap_or(1) as f64;
    let largest = points.iter().map(|p| p.params).max().unwrap_or(10) as f64;
    let xs = dodged_positions(&points);
    // Room on both sides for the labels, in decades.
    let (x0, x1) = (smallest / 2.5, largest * 2.5);

    let mut chart = ChartBuilder::on(root)
        .caption(&plot.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        // Ticks at 1, 2 and 5 times each power of ten in range, light lines at the other
        // multiples: plotters' own log ticks left points of a few hundred parameters unlabelled
        // when the axis reached past 1k.
        .build_cartesian_2d(
            (x0..x1).log_scale().with_key_points(log_ticks(x0, x1, &[1.0, 2.0, 5.0])).with_light_points(log_ticks(
                x0,
                x1,
                &[3.0, 4.0, 6.0, 7.0, 8.0, 9.0],
            )),
            y0..y1,
        )?;
    chart
        .configure_mesh()
        .x_desc("trainable parameters (log scale)")
        .y_desc("test accuracy")
        .x_label_formatter(&|v| if is_round(*v) { human_count(*v) } else { String::new() })
        .y_label_formatter(&|v| format!("{v:.2}"))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 15))
        .draw()?;

    if let Some(teacher) = points.iter().find(|p| p.is_teacher) {
        let colour = Role::Teacher.colour();
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, teacher.mean), (x1, teacher.mean)],
                8,
                6,
                colour.mix(0.6).stroke_width(1),
            ))?
            .label(format!("{} accuracy", teacher.label))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.mix(0.6).stroke_width(1)));
    }
    // Teachers last, so that a student of the same size does not hide them.
    for role in [Role::Student, Role::Distilled, Role::Teacher] {
        let mine: Vec<(&SizePoint, f64)> =
            points.iter().zip(&xs).filter(|(p, _)| Role::of(p) == role).map(|(p, &x)| (*p, x)).collect();
        if mine.is_empty() {
            continue;
        }
        let colour = role.colour();
        for &(p, x) in &mine {
            let s = std(p);
            let cap = [x / 1.04, x * 1.04];
            let bar = [
                vec![(x, p.mean - s), (x, p.mean + s)],
                vec![(cap[0], p.mean - s), (cap[1], p.mean - s)],
                vec![(cap[0], p.mean + s), (cap[1], p.mean + s)],
            ];
            chart.draw_series(bar.into_iter().map(|line| PathElement::new(line, colour.stroke_width(1))))?;
        }
        let markers = mine.iter().map(|&(p, x)| EmptyElement::at((x, p.mean)) + marker(role, (0, 0)));
        chart.draw_series(markers)?.label(role.legend()).legend(move |(x, y)| marker(role, (x + 9, y)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;

    let anchors: Vec<(i32, i32)> = points.iter().zip(&xs).map(|(p, &x)| chart.backend_coord(&(x, p.mean))).collect();
    let (area_x, area_y) = chart.plotting_area().get_pixel_range();
    let labels = place_labels(root, &points, &anchors, (area_x, area_y))?;
    for (p, (x, y)) in points.iter().zip(labels) {
        let style = ("sans-serif", 14).into_font().color(&Role::of(p).colour());
        root.draw(&Text::new(p.label.clone(), (x, y), style))?;
    }
    Ok(())
}

/// Where each point is drawn on the x axis: its parameter count, except that rows of the same
/// size (a student trained from labels and distilled) are spread side by side, each 6% apart
/// (a few pixels on the log axis), so that their markers and bars do not hide each other.
fn dodged_positions(points: &[&SizePoint]) -> Vec<f64> {
    const STEP: f64 = 1.06;
    let same_size = |a: i64, b: i64| (a as f64 / b as f64 - 1.0).abs() < 0.02;
    points
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let group: Vec<usize> = (0..points.len()).filter(|&j| same_size(points[j].params, p.params)).collect();
            let rank = group.iter().position(|&j| j == k).expect("a point is in its own group") as f64;
            p.params as f64 * STEP.powf(rank - (group.len() - 1) as f64 / 2.0)
        })
        .collect()
}

/// A role's marker centred on a pixel (or on a point, as an offset from it).
fn marker<DB: DrawingBackend>(role: Role, (x, y): (i32, i32)) -> DynElement<'static, DB, (i32, i32)> {
    let colour = role.colour();
    match role {
        Role::Teacher => TriangleMarker::new((x, y), 8, colour.filled()).into_dyn(),
        Role::Student => Circle::new((x, y), 5, colour.filled()).into_dyn(),
        Role::Distilled => Rectangle::new([(x - 5, y - 5), (x + 5, y + 5)], colour.filled()).into_dyn(),
    }
}

/// Chooses where each label goes (its top-left pixel): beside its point, on the first side
/// where it overlaps no label placed before, no other point and stays in the plotting area;
/// when every side collides, the side with the least overlap.
fn place_labels(
    root: &DrawingArea<BitMapBackend, Shift>,
    points: &[&SizePoint],
    anchors: &[(i32, i32)],
    (area_x, area_y): (std::ops::Range<i32>, std::ops::Range<i32>),
) -> Result<Vec<(i32, i32)>> {
    type Box4 = (i32, i32, i32, i32);
    let overlap = |a: Box4, b: Box4| {
        let w = (a.2.min(b.2) - a.0.max(b.0)).max(0);
        let h = (a.3.min(b.3) - a.1.max(b.1)).max(0);
        (w * h) as i64
    };
    let markers: Vec<Box4> = anchors.iter().map(|&(x, y)| (x - 7, y - 7, x + 7, y + 7)).collect();
    let mut placed: Vec<Box4> = Vec::new();
    let mut result = vec![(0, 0); points.len()];
    // Place from the top of the chart down, so neighbours see each other in order.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&k| anchors[k].1);
    for k in order {
        let (w, h) = root.estimate_text_size(&points[k].label, &("sans-serif", 14).into_text_style(root))?;
        let (w, h) = (w as i32, h as i32);
        let (x, y) = anchors[k];
        let gap = 9;
        let candidates = [
            (x + gap, y - h / 2),
            (x - gap - w, y - h / 2),
            (x + gap, y - h - 4),
            (x + gap, y + 4),
            (x - gap - w, y - h - 4),
            (x - gap - w, y + 4),
            (x - w / 2, y - h - gap),
            (x - w / 2, y + gap),
            (x + gap, y - 2 * h - 4),
            (x + gap, y + h + 4),
            (x - gap - w, y - 2 * h - 4),
            (x - gap - w, y + h + 4),
        ];
        let cost = |&(cx, cy): &(i32, i32)| {
            let b = (cx, cy, cx + w, cy + h);
            let outside =
                !(area_x.contains(&b.0) && area_x.contains(&b.2) && area_y.contains(&b.1) && area_y.contains(&b.3));
            let hits: i64 = placed.iter().chain(markers.iter()).map(|&o| overlap(b, o)).sum();
            hits + if outside { 1_000_000 } else { 0 }
        };
        let best = candidates.iter().find(|c| cost(c) == 0).or_else(|| candidates.iter().min_by_key(|c| cost(c)));
        let chosen = *best.expect("candidates are not empty");
        placed.push((chosen.0, chosen.1, chosen.0 + w, chosen.1 + h));
        result[k] = chosen;
    }
    Ok(result)
}

/// The values `m * 10^k` in `[low, high]` for every mantissa `m` in `mantissas`, ascending.
fn log_ticks(low: f64, high: f64, mantissas: &[f64]) -> Vec<f64> {
    let mut ticks = Vec::new();
    let (first, last) = (low.max(1e-12).log10().floor() as i32, high.max(1e-12).log10().ceil() as i32);
    for k in first..=last {
        for m in mantissas {
            let v = m * 10f64.powi(k);
            if (low..=high).contains(&v) {
                ticks.push(v);
            }
        }
    }
    ticks.sort_by(f64::total_cmp);
    ticks
}

/// Whether `v` is 1, 2 or 5 times a power of ten: the only ticks labelled, as a log axis over a
/// decade or two otherwise crowds `80k 90k 100k` into each other.
fn is_round(v: f64) -> bool {
    let mantissa = v / 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6)
}

/// `1200` -> `1.2k`, `92231` -> `92k`, `3400000` -> `3.4M`.
fn human_count(v: f64) -> String {
    let (value, unit) = match v {
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    if value >= 10.0 || value.fract().abs() < 1e-9 {
        format!("{value:.0}{unit}")
    } else {
        format!("{value:.1}{unit}")
    }
}
