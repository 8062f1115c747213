//! Terminal output of the image comparison: its table, with test errors counted out of the test set as Hinton et al. report them.

use gdistill_distill::ensemble::EnsembleScores;
use gdistill_distill::images::ImageCompareReport;

/// The comparison as a table on stdout.
pub fn print_image_table(report: &ImageCompareReport) {
    let d = &report.dataset;
    println!(
        "{}: {} images of {}x{}, {} classes, split {}/{}/{}; {} seeds on {}",
        d.name, d.images, d.height, d.width, d.classes, d.train, d.val, d.test, report.config.seeds, report.device
    );
    let test = report.rows.first().map_or(d.test as i64, |r| r.test_images);
    // With int8 rows: the stored bytes of every row.
    let bytes_header = if report.config.int8_rows { format!(" {:>10}", "weight B") } else { String::new() };
    println!(
        "{:<15} {:<22} {:>9}{bytes_header} {:>18} {:>24} {:>9} {:>10}",
        "model",
        "architecture",
        "params",
        "test acc",
        format!("errors /{test}"),
        "train s",
        "infer ms"
    );
    for row in &report.rows {
        let errors = row.errors.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
        println!(
            "{:<15} {:<22} {:>9}{} {:>9.4} +- {:.4} {:>24} {:>9.1} {:>10.1}",
            row.name,
            row.model,
            row.params,
            row.weight_bytes.map_or(String::new(), |b| format!(" {b:>10}")),
            row.mean,
            row.std,
            format!("{:.1} ({errors})", row.errors_mean),
            row.train_s,
            row.infer_ms
        );
    }
    print_ensembles(report.rows.iter().map(|r| (r.name.as_str(), r.ensemble.as_ref())));
    if let Some(t) = &report.transfer_set {
        println!("+kd rows trained on {} images: the training images and {} ({})", t.size, t.pseudo, t.kind);
    }
}

/// One line per ensemble row (image and point-cloud tables): its members' accuracies.
pub fn print_ensembles<'a>(rows: impl Iterator<Item = (&'a str, Option<&'a EnsembleScores>)>) {
    for (name, e) in rows.filter_map(|(name, e)| Some((name, e?))) {
        let each: Vec<String> =
            e.member_mean.iter().zip(&e.member_std).map(|(m, s)| format!("{m:.4} +- {s:.4}")).collect();
        println!("{name}: an ensemble of {}; members: {}", e.members, each.join(", "));
    }
}
