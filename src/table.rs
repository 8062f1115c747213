//! The comparison table of every experiment (graphs, images, point clouds): a list of column
//! specs (header, width, alignment, how a row fills the cell) printed by one printer, so that
//! headers and cells cannot drift apart and the shared columns read the same in all three.

use gdistill_distill::ensemble::EnsembleScores;
use gdistill_distill::experiment::Row;

/// One column: its header, its width, and the cell of each row (padded to the width).
pub struct Column<X> {
    header: String,
    width: usize,
    left: bool,
    cell: Box<dyn Fn(&Row<X>) -> String>,
}

impl<X> Column<X> {
    /// A right-aligned column (figures).
    pub fn right(header: &str, width: usize, cell: impl Fn(&Row<X>) -> String + 'static) -> Column<X> {
        Column { header: header.to_string(), width, left: false, cell: Box::new(cell) }
    }

    /// A left-aligned column (names).
    pub fn left(header: &str, width: usize, cell: impl Fn(&Row<X>) -> String + 'static) -> Column<X> {
        Column { left: true, ..Column::right(header, width, cell) }
    }

    fn pad(&self, text: &str) -> String {
        let width = self.width;
        if self.left {
            format!("{text:<width$}")
        } else {
            format!("{text:>width$}")
        }
    }
}

/// The row's name, under `model`.
pub fn name<X>(width: usize) -> Column<X> {
    Column::left("model", width, |r| r.name.clone())
}

/// The row's architecture in a few words.
pub fn architecture<X>(width: usize) -> Column<X> {
    Column::left("architecture", width, |r| r.model.clone().unwrap_or_default())
}

pub fn params<X>(width: usize) -> Column<X> {
    Column::right("params", width, |r| r.params.to_string())
}

/// Test accuracy as mean +- std over the seeds.
pub fn accuracy<X>(header: &str) -> Column<X> {
    Column::right(header, 18, |r| plus_minus(r.mean, r.std, 9))
}

/// A figure with `precision` decimals.
pub fn figure<X: 'static>(header: &str, width: usize, precision: usize, value: fn(&Row<X>) -> f64) -> Column<X> {
    Column::right(header, width, move |r| format!("{:.precision$}", value(r)))
}

/// `mean +- std`, the mean right-aligned in `width` characters.
pub fn plus_minus(mean: f64, std: f64, width: usize) -> String {
    format!("{mean:>width$.4} +- {std:.4}")
}

/// Prints the header line, then one line per row.
pub fn print_table<X>(columns: &[Column<X>], rows: &[Row<X>]) {
    let line = |cells: Vec<String>| cells.join(" ");
    println!("{}", line(columns.iter().map(|c| c.pad(&c.header)).collect()));
    for row in rows {
        println!("{}", line(columns.iter().map(|c| c.pad(&(c.cell)(row))).collect()));
    }
}

/// One line per ensemble row: its members' accuracies (and, with `average`, one member's mean).
pub fn print_ensembles<'a>(rows: impl Iterator<Item = (&'a str, &'a EnsembleScores)>, average: bool) {
    for (name, e) in rows {
        let mut each: Vec<String> =
            e.member_mean.iter().zip(&e.member_std).map(|(m, s)| plus_minus(*m, *s, 0)).collect();
        let mut size = e.members.to_string();
        if let Some(families) = &e.families {
            size = families.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(" + ");
            each = families.iter().zip(each).map(|(f, acc)| format!("{f} {acc}")).collect();
        }
        let average = if average { format!(" (one member on average {:.4})", e.single_mean) } else { String::new() };
        println!("{name}: an ensemble of {size}{average}; members: {}", each.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdistill_distill::experiment::Runs;

    #[test]
    fn headers_and_cells_share_widths_and_alignment() {
        let row = Runs { test_acc: vec![0.5, 0.7], ..Runs::default() }.row("mlp", Some("mlp 2x8".into()), 42, ());
        let columns = [name::<()>(6), architecture(8), params(5), accuracy("test acc")];
        let cells: Vec<String> = columns.iter().map(|c| c.pad(&(c.cell)(&row))).collect();
        let headers: Vec<String> = columns.iter().map(|c| c.pad(&c.header)).collect();
        // By hand: mean 0.6, sample std sqrt(0.02) = 0.1414.
        assert_eq!(cells.join(" "), "mlp    mlp 2x8     42    0.6000 +- 0.1414");
        assert_eq!(headers.join(" "), "model  architecture params           test acc");
        assert_eq!(plus_minus(0.5, 0.25, 0), "0.5000 +- 0.2500");
    }
}
