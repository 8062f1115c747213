//! Terminal output of the point-cloud comparison: its table.

use gdistill_distill::pointcloud::{CloudColumns, CloudCompareReport, CloudCompareRow};

use crate::table::{self, Column};

/// The comparison as a table on stdout.
pub fn print_cloud_table(report: &CloudCompareReport) {
    let d = &report.dataset;
    println!(
        "{}: {} clouds ({}-D, {} points used of {}), {} classes, split {}/{}/{}; {} seeds on {}",
        d.name,
        d.clouds,
        d.dim,
        report.config.points,
        d.points_per_cloud,
        d.classes,
        d.train,
        d.val,
        d.test,
        report.config.seeds,
        report.device
    );
    let gap = Column::right("gap closed", 11, |r: &CloudCompareRow| {
        r.gap_closed.map_or(String::new(), |g| format!("{:.0}%", 100.0 * g))
    });
    let mut columns: Vec<Column<CloudColumns>> = vec![table::name(16), table::architecture(26), table::params(8)];
    if report.config.int8_rows {
        columns.push(Column::right("weight B", 10, |r: &CloudCompareRow| {
            r.weight_bytes.map_or_else(|| "-".into(), |b| b.to_string())
        }));
    }
    columns.extend([
        table::accuracy("test acc"),
        table::figure("val acc", 8, 4, |r: &CloudCompareRow| r.val_mean),
        gap,
        table::figure("train s", 9, 1, |r| r.train_s),
        table::figure("ms / cloud", 12, 3, |r| r.infer_ms_per_cloud),
        table::figure("latency ms", 11, 2, |r| r.latency_ms),
    ]);
    table::print_table(&columns, &report.rows);
    table::print_ensembles(report.rows.iter().filter_map(|r| Some((r.name.as_str(), r.ensemble.as_ref()?))), false);
    if let Some(t) = &report.transfer_set {
        println!("+kd rows trained on {} clouds: the training clouds and {} ({})", t.size, t.pseudo, t.kind);
    }
    if report.config.int8_rows {
        println!(
            "int8 rows: weights per output channel, input coordinates and hidden activations in int8, simulated in f32"
        );
    }
}
