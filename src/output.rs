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
    println!(
        "{}: {} nodes, {} edges, {} features, {} classes, split {}/{}/{}; {} seeds on {}",
        d.name, d.nodes, d.edges, d.features, d.classes, d.train, d.val, d.test, report.config.seeds, report.device
    );
    let width = report.rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(16);
    println!(
        "{:<width$} {:>9} {:>18} {:>8} {:>10} {:>11}",
        "model", "params", "test acc", "val acc", "train s", "infer ms"
    );
    for row in &report.rows {
        println!(
            "{:<width$} {:>9} {:>9.4} +- {:.4} {:>8.4} {:>10.2} {:>11.3}",
            row.name, row.params, row.mean, row.std, row.val_mean, row.train_s, row.infer_ms
        );
    }
}
