//! Terminal output of the image comparison: its table, with test errors counted out of the test set as Hinton et al. report them.

use gdistill_distill::images::{ImageColumns, ImageCompareReport, ImageCompareRow};

use crate::table::{self, Column};

/// The comparison as a table on stdout.
pub fn print_image_table(report: &ImageCompareReport) {
    let d = &report.dataset;
    println!(
        "{}: {} images of {}x{}, {} classes, split {}/{}/{}; {} seeds on {}",
        d.name, d.images, d.height, d.width, d.classes, d.train, d.val, d.test, report.config.seeds, report.device
    );
    let test = report.rows.first().map_or(d.test as i64, |r| r.test_images);
    let errors = Column::right(&format!("errors /{test}"), 24, |r: &ImageCompareRow| {
        let each: Vec<String> = r.errors.iter().map(i64::to_string).collect();
        format!("{:.1} ({})", r.errors_mean, each.join(" "))
    });
    let width = report.rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(12);
    let mut columns: Vec<Column<ImageColumns>> = vec![table::name(width), table::architecture(22), table::params(9)];
    if report.config.weight_bytes_column() {
        columns.push(Column::right("weight B", 10, |r: &ImageCompareRow| {
            r.weight_bytes.map_or_else(|| "-".into(), |b| b.to_string())
        }));
    }
    columns.extend([
        table::accuracy("test acc"),
        errors,
        table::figure("train s", 9, 1, |r| r.train_s),
        table::figure("infer ms", 10, 1, |r| r.infer_ms),
    ]);
    table::print_table(&columns, &report.rows);
    table::print_ensembles(report.rows.iter().filter_map(|r| Some((r.name.as_str(), r.ensemble.as_ref()?))), false);
    if report.config.prune.rows {
        println!(
            "teacher-obd: the teacher pruned by OBD (empirical Fisher) to mlp-800's count of weights in {} steps; \
             params: non-zero weights and biases; weight B: CSR (f32 value and int32 index per non-zero)",
            report.config.prune.steps
        );
    }
    if let Some(t) = &report.transfer_set {
        println!("+kd rows trained on {} images: the training images and {} ({})", t.size, t.pseudo, t.kind);
    }
}
