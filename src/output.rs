//! Terminal output: progress bars (drawn only on a terminal) and the comparison table.

use gdistill_distill::compare::{CompareReport, CompareRow, InductiveScores, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::table::{self, Column};

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

/// A bar over `seeds` seeds trained by `workers` processes (`compare --jobs`).
pub fn seed_bar(seeds: usize, workers: usize) -> ProgressBar {
    let b = bar(seeds, "{prefix:>24} [{bar:30}] {pos}/{len} seeds ({elapsed})");
    b.set_prefix(format!("{workers} worker processes"));
    b
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
        // One line on stderr whether or not the bar is drawn: the cost of learnt features is
        // worth seeing in logs too.
        Progress::FeaturesBuilt { spec, seconds } => bar.suspend(|| eprintln!("features {spec}: {seconds:.2} s")),
    });
    bar.finish_and_clear();
    result
}

/// The graph comparison as a table on stdout; inductively with GLNN's three accuracies, with
/// int8 rows with every row's stored weight bytes.
pub fn print_compare_table(report: &CompareReport) {
    let d = &report.dataset;
    let held_out = d.held_out.map_or_else(String::new, |n| format!(" ({n} test nodes held out of training)"));
    println!(
        "{}: {} nodes, {} edges, {} features, {} classes, split {}/{}/{}{held_out}; {} seeds on {}",
        d.name, d.nodes, d.edges, d.features, d.classes, d.train, d.val, d.test, report.config.seeds, report.device
    );
    let width = report.rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(16);
    let mut columns = vec![table::name(width), table::params(9)];
    if report.rows.iter().any(|r| r.weight_bytes.is_some()) {
        columns.push(Column::right("weight B", 10, |r: &CompareRow| {
            r.weight_bytes.map_or_else(|| "-".into(), |b| b.to_string())
        }));
    }
    // Inductively the test column is GLNN's `prod` (every test node), beside `tran` and `ind`.
    if report.rows.iter().any(|r| r.inductive.is_some()) {
        columns.push(table::accuracy("prod acc"));
        columns.push(Column::right("tran acc", 16, |r| inductive_cell(r, |s| (s.tran_mean, s.tran_std))));
        columns.push(Column::right("ind acc", 16, |r| inductive_cell(r, |s| (s.ind_mean, s.ind_std))));
    } else {
        columns.push(table::accuracy("test acc"));
    }
    columns.push(table::figure("val acc", 8, 4, |r| r.val_mean));
    columns.push(table::figure("train s", 10, 2, |r| r.train_s));
    columns.push(table::figure("infer ms", 11, 3, |r| r.infer_ms));
    table::print_table(&columns, &report.rows);
    table::print_ensembles(report.rows.iter().filter_map(|r| Some((r.name.as_str(), r.ensemble.as_ref()?))), true);
    for (name, cs) in report.rows.iter().filter_map(|r| Some((r.name.as_str(), r.correct_and_smooth.as_ref()?))) {
        let tran = if report.rows.iter().any(|r| r.inductive.is_some()) { " (observed graph: tran)" } else { "" };
        let alphas: Vec<String> = cs.alphas.iter().map(|a| format!("{}/{}", a.correct, a.smooth)).collect();
        println!(
            "{name} after Correct and Smooth, what the students learnt from: test acc{tran} {}, val acc {:.4}; weights (correct/smooth) per seed {}; {:.2} s a seed",
            table::plus_minus(cs.mean, cs.std, 0),
            cs.val_mean,
            alphas.join(" "),
            cs.seconds
        );
    }
}

/// One of a row's inductive accuracies as mean +- std.
fn inductive_cell(row: &CompareRow, scores: fn(&InductiveScores) -> (f64, f64)) -> String {
    row.inductive.as_ref().map_or_else(String::new, |s| {
        let (mean, std) = scores(s);
        table::plus_minus(mean, std, 7)
    })
}
