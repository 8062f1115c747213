//! Terminal output of the point-cloud comparison: its table.

use gdistill_distill::pointcloud::CloudCompareReport;

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
    // With int8 rows: the stored bytes of every row.
    let bytes = |b: Option<i64>| b.map_or(String::new(), |b| format!(" {b:>10}"));
    let bytes_header = if report.config.int8_rows { format!(" {:>10}", "weight B") } else { String::new() };
    println!(
        "{:<16} {:<26} {:>8}{bytes_header} {:>18} {:>8} {:>11} {:>9} {:>12} {:>11}",
        "model", "architecture", "params", "test acc", "val acc", "gap closed", "train s", "ms / cloud", "latency ms"
    );
    for row in &report.rows {
        let gap = row.gap_closed.map_or(String::new(), |g| format!("{:.0}%", 100.0 * g));
        println!(
            "{:<16} {:<26} {:>8}{} {:>9.4} +- {:.4} {:>8.4} {:>11} {:>9.1} {:>12.3} {:>11.2}",
            row.name,
            row.model,
            row.params,
            bytes(row.weight_bytes),
            row.mean,
            row.std,
            row.val_mean,
            gap,
            row.train_s,
            row.infer_ms_per_cloud,
            row.latency_ms
        );
    }
    crate::output_images::print_ensembles(report.rows.iter().map(|r| (r.name.as_str(), r.ensemble.as_ref())));
    if let Some(t) = &report.transfer_set {
        println!("+kd rows trained on {} clouds: the training clouds and {} ({})", t.size, t.pseudo, t.kind);
    }
    if report.config.int8_rows {
        println!("int8 rows: weights per output channel and input coordinates in int8, simulated in f32 (hidden activations f32)");
    }
}
