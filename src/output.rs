//! Terminal output: progress bars (drawn only on a terminal) and the comparison table.

use gdistill_distill::compare::{CompareReport, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn bar(len: usize, template: &str) -> ProgressBar {
    // indicatif hides a stderr bar when stderr is not a terminal, so logs and CI stay quiet.
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar
}

/// A bar over the epochs of one training run.
pub fn epoch_bar(label: &str, epochs: usize) -> ProgressBar {
    let b = bar(epochs, "{prefix:>10} [{bar:30}] {pos}/{len} epochs {msg}");
    b.set_prefix(label.to_string());
    b
}

/// A bar over `runs` training runs.
pub fn run_bar(runs: usize) -> ProgressBar {
    bar(runs, "{prefix:>24} [{bar:30}] {pos}/{len} runs {msg} ({elapsed})")
}

/// Runs a comparison (graphs, images or clouds) under a bar over its training runs, the current
/// row and seed as prefix and the last epoch's figures as message.
pub fn with_run_bar<T, E>(compare: impl FnOnce(&mut dyn FnMut(Progress)) -> Result<T, E>) -> Result<T, E> {
    let bar = run_bar(0);
    let result = compare(&mut |event| match event {
        Progress::RunStarted { row, seed, run, runs } => {
            bar.set_length(runs as u64);
            bar.set_position(run as u64);
            bar.set_prefix(format!("{row} seed {seed}"));
        }
        Progress::Epoch { stats, .. } => {
            bar.set_message(format!("epoch {} loss {:.4} val {:.4}", stats.epoch + 1, stats.loss, stats.val_acc))
        }
    });
    bar.finish_and_clear();
    result
}

pub fn print_compare_table(report: &CompareReport) {
    let d = &report.dataset;
    let held_out = d.held_out.map_or_else(String::new, |n| format!(" ({n} test nodes held out of training)"));
    println!(
        "{}: {} nodes, {} edges, {} features, {} classes, split {}/{}/{}{held_out}; {} seeds on {}",
        d.name, d.nodes, d.edges, d.features, d.classes, d.train, d.val, d.test, report.config.seeds, report.device
    );
    let width = report.rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(16);
    // Inductively the test column is GLNN's `prod` (every test node), beside `tran` and `ind`.
    let inductive = report.rows.iter().any(|r| r.inductive.is_some());
    let (test, extra) = if inductive {
        ("prod acc", format!(" {:>16} {:>16}", "tran acc", "ind acc"))
    } else {
        ("test acc", String::new())
    };
    // With int8 rows: the stored bytes of every row's weights.
    let bytes = report.rows.iter().any(|r| r.weight_bytes.is_some());
    let bytes_header = if bytes { format!(" {:>10}", "weight B") } else { String::new() };
    println!(
        "{:<width$} {:>9}{bytes_header} {:>18}{extra} {:>8} {:>10} {:>11}",
        "model", "params", test, "val acc", "train s", "infer ms"
    );
    for row in &report.rows {
        let extra = row.inductive.as_ref().map_or_else(String::new, |s| {
            format!(" {:>7.4} +- {:.4} {:>7.4} +- {:.4}", s.tran_mean, s.tran_std, s.ind_mean, s.ind_std)
        });
        let row_bytes = match (bytes, row.weight_bytes) {
            (true, Some(b)) => format!(" {b:>10}"),
            (true, None) => format!(" {:>10}", "-"),
            _ => String::new(),
        };
        println!(
            "{:<width$} {:>9}{row_bytes} {:>9.4} +- {:.4}{extra} {:>8.4} {:>10.2} {:>11.3}",
            row.name, row.params, row.mean, row.std, row.val_mean, row.train_s, row.infer_ms
        );
    }
    for row in &report.rows {
        if let Some(e) = &row.ensemble {
            let each: Vec<String> =
                e.member_mean.iter().zip(&e.member_std).map(|(m, s)| format!("{m:.4} +- {s:.4}")).collect();
            println!(
                "{}: an ensemble of {} (one member on average {:.4}); members: {}",
                row.name,
                e.members,
                e.single_mean,
                each.join(", ")
            );
        }
    }
}
