//! The recipe search reads validation labels only, keeps the current recipe unless a trial
//! beats it on validation, and refuses an empty budget.

use gdistill_datasets::load;
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::tune::{tune, TuneConfig};
use tch::Device;

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

fn small_config(dataset: &gdistill_datasets::NodeDataset) -> CompareConfig {
    let mut config = CompareConfig::for_dataset(dataset);
    config.seeds = 1;
    config.lsp.rows = false;
    config.prune.rows = false;
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 15;
    }
    config.tune = Some(TuneConfig { trials: 3, seed: 7 });
    config
}

#[test]
fn tuning_never_reads_a_test_label() {
    let _rng = torch_rng::torch_rng();
    let dataset =
        load("csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed=8", std::path::Path::new(".")).unwrap();
    let config = small_config(&dataset);
    // The same graph with every test label changed: a search that read them would differ.
    let mut corrupted = dataset.clone();
    for &node in &dataset.test {
        corrupted.labels[node] = (corrupted.labels[node] + 1) % corrupted.num_classes;
    }
    let (clean, clean_report) = tune(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let (dirty, dirty_report) = tune(&corrupted, &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(clean, dirty);
    let accs = |r: &gdistill_distill::tune::TuneReport| r.trials.iter().map(|t| t.val_acc).collect::<Vec<_>>();
    assert_eq!(accs(&clean_report), accs(&dirty_report));
    assert_eq!(clean_report.trials.len(), 12, "four stages of three trials");
    // The chosen config runs nothing again when saved and reused.
    assert!(clean.tune.is_none());
}

#[test]
fn each_stage_keeps_the_best_validation_trial_and_the_first_is_the_current_recipe() {
    let _rng = torch_rng::torch_rng();
    let dataset =
        load("csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed=9", std::path::Path::new(".")).unwrap();
    let config = small_config(&dataset);
    let (chosen_config, report) = tune(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    for stage in ["teacher", "student", "distillation", "small student"] {
        let trials: Vec<_> = report.trials.iter().filter(|t| t.stage == stage).collect();
        assert!(trials[0].settings.is_empty(), "{stage}: trial 0 is the recipe as given");
        let best = trials.iter().map(|t| t.val_acc).fold(f64::NEG_INFINITY, f64::max);
        let chosen = report.chosen.iter().find(|t| t.stage == stage).unwrap();
        assert_eq!(chosen.val_acc, best, "{stage}");
    }
    // The small student's stage sets its own training (from the recipe's student training, at
    // most the recipe's learning rate) and dropout, and the chosen config carries them.
    let small = report.chosen.iter().find(|t| t.stage == "small student").unwrap();
    let setting = |key: &str| small.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.parse::<f64>().unwrap());
    let small_training = chosen_config.small_training.as_ref().expect("tuning sets the small student's training");
    assert_eq!(small_training.lr, setting("small_training.lr").unwrap_or(config.student_training.lr));
    assert_eq!(chosen_config.gcn_small.dropout, setting("gcn_small.dropout").unwrap_or(config.gcn_small.dropout));
    assert_eq!(chosen_config.gcn_small.hidden, config.gcn_small.hidden, "its width stays the recipe's");
    for trial in report.trials.iter().filter(|t| t.stage == "small student") {
        for (key, value) in &trial.settings {
            assert!(key.starts_with("small_training.") || key == "gcn_small.dropout", "{key}");
            if key == "small_training.lr" {
                assert!(value.parse::<f64>().unwrap() <= config.student_training.lr, "lr {value} above the recipe's");
            }
        }
    }
    // The MLP's tuned training does not reach the small student's row.
    let (_, small_settings) = chosen_config.row_model("gcn-small", 10, 3);
    assert_eq!(&small_settings, small_training);
    // compare records the search and runs its rows with the chosen recipe.
    let compared = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(compared.tune.as_ref().unwrap().trials.len(), 12);
    assert!(compared.config.tune.is_none());
}

#[test]
fn an_empty_budget_is_refused() {
    let dataset = load("csbm:nodes=60,classes=2,degree=3,features=4,seed=1", std::path::Path::new(".")).unwrap();
    let mut config = small_config(&dataset);
    config.tune = Some(TuneConfig { trials: 0, seed: 0 });
    let err = compare(&dataset, &config, Device::Cpu, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("at least 1 trial"), "{err}");
}
