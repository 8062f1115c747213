//! The JSON reports and table headers of `gdistill compare` on the three kinds of input, pinned:
//! every key path of each report (key names only, arrays collapsed to `[]`) and the table's
//! header lines must stay what they were when the three experiments were given one shape.
//! A change here breaks every script that reads the reports.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;
#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;
use std::path::Path;

use cli::{gdistill, stderr, stdout};
use serde_json::Value;

/// Every key path of `value`: `rows[].name`, `config.teacher.hidden`, ...
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                out.insert(path.clone());
                key_paths(inner, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| key_paths(item, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

/// Runs `gdistill compare ARGS --json` on `data_dir` and returns its stdout and the report's
/// key paths.
fn compare(args: &[&str], data_dir: &Path) -> (String, BTreeSet<String>) {
    let (table, report) = compare_report(args, data_dir);
    let mut keys = BTreeSet::new();
    key_paths(&report, "", &mut keys);
    (table, keys)
}

/// Runs `gdistill compare ARGS --json` on `data_dir` and returns its stdout and the report.
fn compare_report(args: &[&str], data_dir: &Path) -> (String, Value) {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("report.json");
    let o = gdistill(&[&["compare"], args, &["--threads", "1", "--json", json.to_str().unwrap()]].concat(), data_dir);
    assert!(o.status.success(), "{}", stderr(&o));
    (stdout(&o), serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap())
}

/// Asserts `keys` is exactly the whitespace-separated keys of `expected`, naming what was lost and what was added.
fn assert_keys(what: &str, keys: &BTreeSet<String>, expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().flat_map(|e| e.split_whitespace()).map(str::to_string).collect();
    let lost: Vec<&String> = expected.difference(keys).collect();
    let added: Vec<&String> = keys.difference(&expected).collect();
    assert!(lost.is_empty() && added.is_empty(), "{what}: keys lost {lost:?}, keys added {added:?}\nall: {keys:#?}");
}

/// The table's lines that carry no figures: the column headers.
fn header_lines(table: &str) -> Vec<&str> {
    table.lines().filter(|l| l.starts_with("model ")).collect()
}

#[test]
fn graph_reports_keep_their_keys_and_table_headers() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let tiny = ["--dataset", "cora", "--seeds", "1", "--epochs", "3"];
    // The default rows (LSP and pruned ones) after a search of the recipe.
    let (table, keys) = compare(&[&tiny[..], &["--tune", "2"]].concat(), root);
    assert_keys("graphs, tuned", &keys, &[GRAPH_COMMON, GRAPH_TUNED]);
    assert_eq!(header_lines(&table), [GRAPH_HEADER]);
    // Every optional column: inductive scores, an ensemble teacher, int8 rows with weight bytes.
    let options = ["--no-prune", "--no-lsp", "--int8", "--teacher-ensemble", "2", "--setting", "inductive"];
    let (table, keys) = compare(&[&tiny[..], &options].concat(), root);
    assert_keys("graphs, every option", &keys, &[GRAPH_COMMON, GRAPH_ENSEMBLE, GRAPH_OPTIONS]);
    assert_eq!(header_lines(&table), [GRAPH_OPTIONS_HEADER]);
    assert!(table.contains("\nteacher: an ensemble of 2 (one member on average "), "{table}");
}

#[test]
fn a_mixed_family_ensemble_adds_its_families_and_nothing_else() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let tiny = ["--dataset", "cora", "--seeds", "1", "--epochs", "3", "--no-prune", "--no-lsp"];
    let (table, report) = compare_report(&[&tiny[..], &["--teacher-ensemble", "gcn,sage,gat"]].concat(), root);
    let mut keys = BTreeSet::new();
    key_paths(&report, "", &mut keys);
    assert_keys("graphs, mixed ensemble", &keys, &[GRAPH_COMMON, GRAPH_ENSEMBLE, GRAPH_FAMILIES]);
    assert_eq!(header_lines(&table), [GRAPH_HEADER]);
    let families = serde_json::json!(["gcn", "sage", "gat"]);
    assert_eq!(report["config"]["ensemble"]["families"], families);
    assert_eq!(report["rows"][0]["ensemble"]["families"], families);
    let member_acc = report["rows"][0]["ensemble"]["member_acc"].as_array().unwrap();
    assert_eq!(member_acc.iter().map(|a| a.as_array().unwrap().len()).collect::<Vec<_>>(), [1, 1, 1]);
    assert!(table.contains("\nteacher: an ensemble of gcn + sage + gat (one member on average "), "{table}");
}

#[test]
fn correct_and_smooth_adds_its_settings_and_the_teacher_rows_figures() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let tiny = ["--dataset", "cora", "--seeds", "2", "--epochs", "3", "--no-prune", "--no-lsp"];
    let (table, report) = compare_report(&[&tiny[..], &["--correct-and-smooth"]].concat(), root);
    let mut keys = BTreeSet::new();
    key_paths(&report, "", &mut keys);
    assert_keys("graphs, correct and smooth", &keys, &[GRAPH_COMMON, GRAPH_CORRECT_AND_SMOOTH]);
    assert_eq!(header_lines(&table), [GRAPH_HEADER]);
    assert_eq!(report["rows"][0]["name"], "teacher");
    assert_eq!(report["rows"][0]["correct_and_smooth"]["test_acc"].as_array().unwrap().len(), 2);
    assert!(report["rows"][1].get("correct_and_smooth").is_none(), "only the teacher row carries it");
    assert!(table.contains("\nteacher after Correct and Smooth, what the students learnt from: test acc "), "{table}");
}

#[test]
fn image_reports_keep_their_keys_and_table_headers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("digits:{}", fixtures::write_digits(dir.path(), 200).display());
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, "rows = [\"teacher\", \"mlp-30\", \"mlp-30+kd\"]\n[teacher.model]\narch = \"mlp\"\nhidden = [16]\ninput_dropout = 0.0\ndropout = 0.0\n").unwrap();
    let tiny = ["--dataset", &spec, "--seeds", "2", "--epochs", "2", "--config", config.to_str().unwrap()];
    let (table, keys) = compare(&tiny, dir.path());
    assert_keys("images", &keys, &[IMAGE_PLAIN]);
    assert_eq!(header_lines(&table), [IMAGE_HEADER]);
    let options = ["--teacher-ensemble", "2", "--transfer-set", "munge:50,0.5"];
    let (table, keys) = compare(&[&tiny[..], &options].concat(), dir.path());
    assert_keys("images, ensemble and transfer set", &keys, &[IMAGE_PLAIN, IMAGE_OPTIONS]);
    assert_eq!(header_lines(&table), [IMAGE_HEADER]);
    assert!(table.contains("\nteacher: an ensemble of 2; members: "), "{table}");
    let line = "\n+kd rows trained on 170 images: the training images and 50 (munge:50,0.5)";
    assert_eq!(table.matches(line).count(), 1, "the transfer-set line, once: {table}");
    // The pruned row (opt-in): its settings and every row's weight bytes; mlp-800 made smaller
    // than the tiny teacher so that there is something to prune to.
    let pruned = dir.path().join("pruned.toml");
    let student = "[mlp_800.model]\narch = \"mlp\"\nhidden = [4]\ninput_dropout = 0.0\ndropout = 0.0\n";
    std::fs::write(&pruned, std::fs::read_to_string(&config).unwrap() + student).unwrap();
    let tiny = ["--dataset", &spec, "--seeds", "2", "--epochs", "2", "--config", pruned.to_str().unwrap()];
    let (table, keys) = compare(&[&tiny[..], &["--prune"]].concat(), dir.path());
    assert_keys("images, pruned row", &keys, &[IMAGE_PLAIN, IMAGE_PRUNED]);
    assert_eq!(header_lines(&table), [IMAGE_WEIGHT_BYTES_HEADER]);
    assert!(table.contains("\nteacher-obd "), "{table}");
}

#[test]
fn cloud_reports_keep_their_keys_and_table_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (clouds, o) = fixtures::write_bar_clouds(dir.path(), 60);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, fixtures::TINY_CLOUD_CONFIG).unwrap();
    let spec = format!("modelnet:{}", clouds.display());
    let (table, keys) = compare(
        &["--dataset", &spec, "--seeds", "2", "--epochs", "2", "--config", config.to_str().unwrap()],
        dir.path(),
    );
    assert_keys("point clouds", &keys, &[CLOUD_KEYS]);
    assert_eq!(header_lines(&table), [CLOUD_HEADER]);
}

const GRAPH_HEADER: &str = "model               params           test acc  val acc    train s    infer ms";
const GRAPH_OPTIONS_HEADER: &str =
    "model               params   weight B           prod acc         tran acc          ind acc  val acc    train s    infer ms";
const IMAGE_HEADER: &str =
    "model        architecture              params           test acc               errors /60   train s   infer ms";
const IMAGE_WEIGHT_BYTES_HEADER: &str =
    "model        architecture              params   weight B           test acc               errors /60   train s   infer ms";
const CLOUD_HEADER: &str =
    "model            architecture                 params           test acc  val acc  gap closed   train s   ms / cloud  latency ms";

/// Keys of every graph report of these runs.
const GRAPH_COMMON: &str = "
    config config.alpha config.distill_training config.distill_training.clip_grad_norm
    config.distill_training.decay_all_layers config.distill_training.epochs config.distill_training.lr
    config.distill_training.patience config.distill_training.seed config.distill_training.weight_decay
    config.family config.features config.first_seed config.gcn_small config.gcn_small.dropout
    config.gcn_small.hidden config.gcn_small.layers config.gcn_small.options
    config.gcn_small.options.aggregator config.gcn_small.options.attention_dropout config.gcn_small.options.heads
    config.gcn_small.options.normalize config.gcn_small.options.output_heads config.gcn_small.options.steps
    config.gcn_small.options.teleport config.kd_loss config.lsp config.lsp.ablation_kernels
    config.lsp.direction config.lsp.kernel config.lsp.kernel.b config.lsp.kernel.kind config.lsp.rows
    config.lsp.self_loops config.lsp.student_layer config.lsp.teacher_layer config.lsp.until_epoch
    config.lsp.weight config.mlp config.mlp.dropout config.mlp.hidden config.mlp.layers config.mlp.options
    config.mlp.options.aggregator config.mlp.options.attention_dropout config.mlp.options.heads config.mlp.options.normalize
    config.mlp.options.output_heads config.mlp.options.steps config.mlp.options.teleport
    config.normalize_features config.prune config.prune.estimator config.prune.estimator.kind
    config.prune.rows config.prune.steps config.prune.student_sparsity config.seeds config.setting
    config.split config.student_training config.student_training.clip_grad_norm
    config.student_training.decay_all_layers config.student_training.epochs config.student_training.lr
    config.student_training.patience config.student_training.seed config.student_training.weight_decay
    config.teacher config.teacher.dropout config.teacher.hidden config.teacher.layers config.teacher.options
    config.teacher.options.aggregator config.teacher.options.attention_dropout config.teacher.options.heads config.teacher.options.normalize
    config.teacher.options.output_heads config.teacher.options.steps config.teacher.options.teleport
    config.teacher_training config.teacher_training.clip_grad_norm config.teacher_training.decay_all_layers
    config.teacher_training.epochs config.teacher_training.lr config.teacher_training.patience
    config.teacher_training.seed config.teacher_training.weight_decay config.temperature dataset
    dataset.classes dataset.edges dataset.features dataset.name dataset.nodes dataset.test dataset.train
    dataset.val device rows rows[].infer_ms rows[].mean rows[].name rows[].params rows[].std rows[].test_acc
    rows[].train_s rows[].val_acc rows[].val_mean
";

/// Keys of a tuned graph report beside the common ones (the small student's own training is
/// set by the search only).
const GRAPH_TUNED: &str = "
    config.small_training config.small_training.clip_grad_norm config.small_training.decay_all_layers
    config.small_training.epochs config.small_training.lr config.small_training.patience
    config.small_training.seed config.small_training.weight_decay
    tune tune.chosen tune.chosen[].rung tune.chosen[].settings tune.chosen[].stage tune.chosen[].trial
    tune.chosen[].val_acc tune.eta tune.rungs tune.rungs[].divisor tune.rungs[].epochs tune.rungs[].kept tune.rungs[].rung
    tune.rungs[].runs tune.rungs[].runs[].complete tune.rungs[].runs[].epochs_run tune.rungs[].runs[].epochs_total
    tune.rungs[].runs[].trial tune.rungs[].runs[].val_acc tune.rungs[].stage tune.schedule tune.train_s tune.trial_epochs tune.trials tune.trials[].rung
    tune.trials[].settings tune.trials[].stage tune.trials[].trial tune.trials[].val_acc
";

/// Keys of an ensemble teacher beside the common ones.
const GRAPH_ENSEMBLE: &str = "
    config.ensemble config.ensemble.combine config.ensemble.members
    rows[].ensemble rows[].ensemble.member_acc rows[].ensemble.member_mean rows[].ensemble.member_std
    rows[].ensemble.members rows[].ensemble.single_mean
";

/// Keys an ensemble of listed families adds to an ensemble's (none when the families are not listed).
const GRAPH_FAMILIES: &str = "config.ensemble.families rows[].ensemble.families";

/// Keys `--correct-and-smooth` adds: its settings, and the teacher row's smoothed figures.
const GRAPH_CORRECT_AND_SMOOTH: &str = "
    config.correct_and_smooth config.correct_and_smooth.correct_alphas config.correct_and_smooth.iterations
    config.correct_and_smooth.smooth_alphas
    rows[].correct_and_smooth rows[].correct_and_smooth.alphas rows[].correct_and_smooth.alphas[].correct
    rows[].correct_and_smooth.alphas[].smooth rows[].correct_and_smooth.mean rows[].correct_and_smooth.seconds
    rows[].correct_and_smooth.std rows[].correct_and_smooth.test_acc rows[].correct_and_smooth.val_acc
    rows[].correct_and_smooth.val_mean
";

/// Keys of an inductive graph report with int8 rows beside the common and ensemble ones.
const GRAPH_OPTIONS: &str = "
    config.int8_rows dataset.held_out
    rows[].ind_acc rows[].ind_mean rows[].ind_std
    rows[].prod_mean rows[].prod_std rows[].tran_acc rows[].tran_mean rows[].tran_std rows[].weight_bytes
";

/// Keys of an image report.
const IMAGE_PLAIN: &str = "
    config config.cnn config.cnn.model config.cnn.model.arch config.cnn.model.channels
    config.cnn.model.dropout config.cnn.model.fc config.cnn.training config.cnn.training.batch_size
    config.cnn.training.epochs config.cnn.training.jitter config.cnn.training.lr config.cnn.training.lr_decay
    config.cnn.training.patience config.cnn.training.seed config.cnn.training.weight_decay config.first_seed
    config.grid_gcn config.grid_gcn.distill config.grid_gcn.distill.batch_size config.grid_gcn.distill.epochs
    config.grid_gcn.distill.jitter config.grid_gcn.distill.lr config.grid_gcn.distill.lr_decay
    config.grid_gcn.distill.patience config.grid_gcn.distill.seed config.grid_gcn.distill.weight_decay
    config.grid_gcn.kd config.grid_gcn.kd.alpha config.grid_gcn.kd.teacher config.grid_gcn.kd.temperature
    config.grid_gcn.model config.grid_gcn.model.arch config.grid_gcn.model.coordinates
    config.grid_gcn.model.dropout config.grid_gcn.model.hidden config.grid_gcn.model.layers
    config.grid_gcn.model.neighborhood config.grid_gcn.model.pool config.grid_gcn.training
    config.grid_gcn.training.batch_size config.grid_gcn.training.epochs config.grid_gcn.training.jitter
    config.grid_gcn.training.lr config.grid_gcn.training.lr_decay config.grid_gcn.training.patience
    config.grid_gcn.training.seed config.grid_gcn.training.weight_decay config.mlp_30 config.mlp_30.distill
    config.mlp_30.distill.batch_size config.mlp_30.distill.epochs config.mlp_30.distill.jitter
    config.mlp_30.distill.lr config.mlp_30.distill.lr_decay config.mlp_30.distill.patience
    config.mlp_30.distill.seed config.mlp_30.distill.weight_decay config.mlp_30.kd config.mlp_30.kd.alpha
    config.mlp_30.kd.teacher config.mlp_30.kd.temperature config.mlp_30.model config.mlp_30.model.arch
    config.mlp_30.model.dropout config.mlp_30.model.hidden config.mlp_30.model.input_dropout
    config.mlp_30.training config.mlp_30.training.batch_size config.mlp_30.training.epochs
    config.mlp_30.training.jitter config.mlp_30.training.lr config.mlp_30.training.lr_decay
    config.mlp_30.training.patience config.mlp_30.training.seed config.mlp_30.training.weight_decay
    config.mlp_800 config.mlp_800.distill config.mlp_800.distill.batch_size config.mlp_800.distill.epochs
    config.mlp_800.distill.jitter config.mlp_800.distill.lr config.mlp_800.distill.lr_decay
    config.mlp_800.distill.patience config.mlp_800.distill.seed config.mlp_800.distill.weight_decay
    config.mlp_800.kd config.mlp_800.kd.alpha config.mlp_800.kd.teacher config.mlp_800.kd.temperature
    config.mlp_800.model config.mlp_800.model.arch config.mlp_800.model.dropout config.mlp_800.model.hidden
    config.mlp_800.model.input_dropout config.mlp_800.training config.mlp_800.training.batch_size
    config.mlp_800.training.epochs config.mlp_800.training.jitter config.mlp_800.training.lr
    config.mlp_800.training.lr_decay config.mlp_800.training.patience config.mlp_800.training.seed
    config.mlp_800.training.weight_decay config.rows config.seeds config.teacher config.teacher.model
    config.teacher.model.arch config.teacher.model.dropout config.teacher.model.hidden
    config.teacher.model.input_dropout config.teacher.training config.teacher.training.batch_size
    config.teacher.training.epochs config.teacher.training.jitter config.teacher.training.lr
    config.teacher.training.lr_decay config.teacher.training.patience config.teacher.training.seed
    config.teacher.training.weight_decay dataset dataset.class_counts dataset.classes dataset.height
    dataset.images dataset.name dataset.test dataset.train dataset.val dataset.width device rows
    rows[].best_epochs rows[].errors rows[].errors_mean rows[].infer_ms rows[].mean rows[].model rows[].name
    rows[].params rows[].std rows[].test_acc rows[].test_images rows[].train_s
";

/// Keys an ensemble teacher and a transfer set add to an image report.
const IMAGE_OPTIONS: &str = "
    config.teacher_ensemble config.teacher_ensemble.combine config.teacher_ensemble.members
    config.transfer_set rows[].ensemble rows[].ensemble.member_acc rows[].ensemble.member_mean
    rows[].ensemble.member_std rows[].ensemble.members rows[].ensemble.single_mean transfer_set
    transfer_set.kind transfer_set.pseudo transfer_set.size
";
/// Keys the pruned row (`--prune`) adds to an image report.
const IMAGE_PRUNED: &str = "
    config.prune config.prune.retrain_epochs config.prune.retrain_lr config.prune.rows config.prune.steps
    rows[].weight_bytes
";
const CLOUD_KEYS: &str = "
    config config.augmentation config.augmentation.dropout_max config.augmentation.jitter_clip
    config.augmentation.jitter_sigma config.augmentation.rotate_up config.augmentation.scale_high
    config.augmentation.scale_low config.augmentation.translate config.augmentation.up_axis config.first_seed
    config.kd config.kd.alpha config.kd.temperature config.lsp config.lsp.k config.lsp.kernel
    config.lsp.kernel.kind config.lsp.weight config.pointnet config.pointnet.arch config.pointnet.dropout
    config.pointnet.head config.pointnet.widths config.points config.rows config.seeds config.student
    config.student.arch config.student.dropout config.student.dynamic config.student.embed config.student.head
    config.student.k config.student.widths config.student_training config.student_training.batch_size
    config.student_training.epochs config.student_training.lr config.student_training.lr_min
    config.student_training.patience config.student_training.seed config.student_training.weight_decay
    config.teacher config.teacher.arch config.teacher.dropout config.teacher.dynamic config.teacher.embed
    config.teacher.head config.teacher.k config.teacher.widths config.teacher_training
    config.teacher_training.batch_size config.teacher_training.epochs config.teacher_training.lr
    config.teacher_training.lr_min config.teacher_training.patience config.teacher_training.seed
    config.teacher_training.weight_decay dataset dataset.class_names dataset.classes dataset.clouds
    dataset.dim dataset.name dataset.points_per_cloud dataset.test dataset.train dataset.val device rows
    rows[].best_epochs rows[].gap_closed rows[].infer_ms_per_cloud rows[].latency_ms rows[].mean rows[].model
    rows[].name rows[].params rows[].std rows[].test_acc rows[].train_s rows[].val_acc rows[].val_mean
";
