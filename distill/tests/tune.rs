//! The recipe search reads validation labels only, keeps the current recipe unless a trial
//! beats it on validation, and refuses an empty budget; successive halving's rungs keep the best
//! by validation and give a full-length run to the trial chosen.

use gdistill_datasets::load;
use gdistill_distill::compare::{compare, CompareConfig, Progress};
use gdistill_distill::tune::{
    halving_rungs, rung_epochs, survivors, tune, RungPlan, TuneConfig, TuneReport, TuneSchedule,
};
use tch::Device;

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

/// The searches' graph: 240 nodes in 3 classes, drawn with `seed`.
fn csbm_240(seed: u64) -> gdistill_datasets::NodeDataset {
    let spec = format!("csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed={seed}");
    load(&spec, std::path::Path::new(".")).unwrap()
}

fn small_config(dataset: &gdistill_datasets::NodeDataset) -> CompareConfig {
    let mut config = CompareConfig::for_dataset(dataset);
    config.seeds = 1;
    config.lsp.rows = false;
    config.prune.rows = false;
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 15;
    }
    config.tune = Some(TuneConfig { seed: 7, ..TuneConfig::new(3) });
    config
}

#[test]
fn tuning_never_reads_a_test_label() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm_240(8);
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
    assert_eq!(clean_report.schedule, TuneSchedule::Halving, "halving unless asked otherwise");
    // The exhaustive search does not read them either.
    let full = CompareConfig {
        tune: Some(TuneConfig { schedule: TuneSchedule::Full, ..config.tune.clone().unwrap() }),
        ..config
    };
    let (clean, clean_report) = tune(&dataset, &full, Device::Cpu, &mut |_| {}).unwrap();
    let (dirty, dirty_report) = tune(&corrupted, &full, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(clean, dirty);
    assert_eq!(accs(&clean_report), accs(&dirty_report));
    assert_eq!(clean_report.rungs.len(), 4, "one rung per stage");
    // The chosen config runs nothing again when saved and reused.
    assert!(clean.tune.is_none());
}

#[test]
fn each_stage_keeps_the_best_validation_trial_and_the_first_is_the_current_recipe() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm_240(9);
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
fn without_small_rows_the_small_students_stage_is_skipped() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm_240(8);
    let with = small_config(&dataset);
    let without = CompareConfig { small_rows: false, ..with.clone() };
    let (chosen_with, report_with) = tune(&dataset, &with, Device::Cpu, &mut |_| {}).unwrap();
    let (chosen_without, report_without) = tune(&dataset, &without, Device::Cpu, &mut |_| {}).unwrap();
    let stages = |r: &TuneReport| {
        let mut names: Vec<String> = r.trials.iter().map(|t| t.stage.to_string()).collect();
        names.dedup();
        names
    };
    assert_eq!(stages(&report_with), ["teacher", "student", "distillation", "small student"]);
    assert_eq!(stages(&report_without), ["teacher", "student", "distillation"]);
    // The three stages before it drew and chose the same.
    let first_three =
        |r: &TuneReport| r.trials.iter().filter(|t| t.stage != "small student").map(|t| t.val_acc).collect::<Vec<_>>();
    assert_eq!(first_three(&report_with), first_three(&report_without));
    assert_eq!(chosen_with.teacher, chosen_without.teacher);
    assert_eq!(chosen_with.distill_training, chosen_without.distill_training);
    assert!(chosen_without.small_training.is_none() || chosen_without.small_training == without.small_training);
}

#[test]
fn an_empty_budget_is_refused() {
    let dataset = load("csbm:nodes=60,classes=2,degree=3,features=4,seed=1", std::path::Path::new(".")).unwrap();
    let mut config = small_config(&dataset);
    config.tune = Some(TuneConfig::new(0));
    let err = compare(&dataset, &config, Device::Cpu, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("at least 1 trial"), "{err}");
}

#[test]
fn halving_rungs_shrink_by_eta_until_one_trial_runs_its_full_length() {
    let rungs = |trials, eta| {
        halving_rungs(trials, eta).into_iter().map(|RungPlan { trials, divisor }| (trials, divisor)).collect::<Vec<_>>()
    };
    // 8 at a ninth of their epochs, floor(8/3) = 2 at a third, 1 at full length.
    assert_eq!(rungs(8, 3), [(8, 9), (2, 3), (1, 1)]);
    assert_eq!(rungs(9, 3), [(9, 9), (3, 3), (1, 1)]);
    assert_eq!(rungs(10, 3), [(10, 9), (3, 3), (1, 1)]);
    assert_eq!(rungs(8, 2), [(8, 8), (4, 4), (2, 2), (1, 1)]);
    assert_eq!(rungs(3, 2), [(3, 2), (1, 1)]);
    // Fewer trials than eta: one cut, to the best.
    assert_eq!(rungs(2, 3), [(2, 3), (1, 1)]);
    // A single trial runs its full length once.
    assert_eq!(rungs(1, 3), [(1, 1)]);
    // The full schedule is one rung of every trial at full length.
    let full = TuneConfig { schedule: TuneSchedule::Full, ..TuneConfig::new(8) };
    assert_eq!(full.rungs(), [RungPlan { trials: 8, divisor: 1 }]);
    assert_eq!(TuneConfig::new(8).rungs(), halving_rungs(8, 3), "halving at 3 by default");
    // A rung's epochs round up and never reach 0.
    assert_eq!(rung_epochs(200, 9), 23);
    assert_eq!(rung_epochs(1000, 3), 334);
    assert_eq!(rung_epochs(200, 1), 200);
    assert_eq!(rung_epochs(2, 9), 1);
    let mut bad = TuneConfig::new(4);
    bad.eta = 1;
    assert!(bad.validate().unwrap_err().contains("eta must be at least 2"));
}

#[test]
fn survivors_are_the_best_on_validation_with_ties_to_the_earlier_trial() {
    let scores = [(0, 0.5), (1, 0.7), (2, 0.7), (3, 0.6), (4, f64::NAN)];
    assert_eq!(survivors(&scores, 2), [1, 2]);
    assert_eq!(survivors(&scores, 3), [1, 2, 3]);
    assert_eq!(survivors(&scores, 1), [1], "the tie goes to trial 1, not 2");
    // NaN ranks last; asking for more than ran keeps every one.
    assert_eq!(survivors(&scores, 9), [1, 2, 3, 0, 4]);
    // The recipe (trial 0) keeps a tie, as the exhaustive search always did.
    assert_eq!(survivors(&[(3, 0.8), (0, 0.8)], 1), [0]);
    assert_eq!(survivors(&[(5, 0.1)], 1), [5]);
}

/// Checks one stage's rungs in `report`: each rung runs the trials the one before kept, keeps
/// the best by validation among its runs, trains at most its budget (a share of the stage's
/// longest trial) and a trial's own length, trains again only runs that filled their budget,
/// and the chosen trial is the last rung's (a single run at full length).
fn check_rungs(report: &TuneReport, stage: &str, plan: &[RungPlan], full_epochs: impl Fn(usize) -> usize) {
    let rungs: Vec<_> = report.rungs.iter().filter(|r| r.stage == stage).collect();
    assert_eq!(rungs.len(), plan.len(), "{stage}");
    let mut alive: Vec<usize> = (0..plan[0].trials).collect();
    let longest = alive.iter().map(|&t| full_epochs(t)).max().unwrap();
    for (rung, (r, p)) in rungs.iter().zip(plan).enumerate() {
        assert_eq!((r.rung, r.divisor), (rung, p.divisor), "{stage}");
        assert_eq!(r.epochs, rung_epochs(longest, p.divisor), "{stage}");
        let mut ran: Vec<usize> = r.runs.iter().map(|run| run.trial).collect();
        ran.sort_unstable();
        assert_eq!(ran, alive, "{stage} rung {rung} runs what the rung before kept");
        let keep = plan.get(rung + 1).map_or(1, |next| next.trials);
        assert_eq!(r.kept.len(), keep);
        let best_left_out = r.runs.iter().filter(|run| !r.kept.contains(&run.trial)).map(|run| run.val_acc);
        let worst_kept = r.runs.iter().filter(|run| r.kept.contains(&run.trial)).map(|run| run.val_acc);
        assert!(
            best_left_out.fold(f64::NEG_INFINITY, f64::max) <= worst_kept.fold(f64::INFINITY, f64::min),
            "{stage} rung {rung}: a trial left out beats one kept on validation"
        );
        for run in &r.runs {
            let cap = r.epochs.min(full_epochs(run.trial));
            assert!(run.epochs_total <= cap, "{stage} rung {rung}: trial {} trained past {cap}", run.trial);
            // Unfinished only when it filled a budget below its length; a run that ended early
            // is finished (early stopping may also fire on a budget's last epoch).
            if !run.complete {
                assert!(run.epochs_total == cap && cap < full_epochs(run.trial), "{stage} rung {rung}");
            }
            assert!(run.complete || run.epochs_total == cap, "{stage} rung {rung}");
            if rung == 0 {
                assert_eq!(run.epochs_total, run.epochs_run);
            } else if run.epochs_run == 0 {
                // Reused: its run of the rung before ended inside its budget, with this score.
                let before = rungs[rung - 1].runs.iter().find(|b| b.trial == run.trial).unwrap();
                assert!(before.complete && before.val_acc == run.val_acc, "{stage} rung {rung}");
                assert_eq!(run.epochs_total, before.epochs_total);
            } else {
                // Resumed, not trained again: it adds to the epochs it had.
                let before = rungs[rung - 1].runs.iter().find(|b| b.trial == run.trial).unwrap();
                assert!(!before.complete, "{stage} rung {rung}: trial {} trained again", run.trial);
                assert_eq!(run.epochs_total, before.epochs_total + run.epochs_run, "{stage} rung {rung}: not resumed");
            }
        }
        alive = r.kept.clone();
        alive.sort_unstable();
    }
    let last = rungs.last().unwrap();
    let chosen = report.chosen.iter().find(|t| t.stage == stage).unwrap();
    assert_eq!((chosen.trial, chosen.rung), (last.kept[0], plan.len() - 1), "{stage}");
    assert_eq!(chosen.val_acc, last.runs[0].val_acc, "{stage}: the chosen trial's score is its full-length run's");
    assert_eq!(last.runs.len(), 1);
}

#[test]
fn compare_with_halving_records_its_rungs_and_chooses_on_validation_at_full_length() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm_240(9);
    let mut config = small_config(&dataset);
    config.tune = Some(TuneConfig { trials: 4, seed: 3, schedule: TuneSchedule::Halving, eta: 2 });
    // Every epoch the search trains, as its progress reports them.
    let mut search_epochs = 0;
    let compared = compare(&dataset, &config, Device::Cpu, &mut |p| {
        if matches!(p, Progress::Epoch { row, .. } if row.starts_with("tune ")) {
            search_epochs += 1;
        }
    })
    .unwrap();
    let report = compared.tune.as_ref().unwrap();
    assert_eq!((report.schedule, report.eta), (TuneSchedule::Halving, 2));
    let plan = halving_rungs(4, 2);
    assert_eq!(
        plan,
        [RungPlan { trials: 4, divisor: 4 }, RungPlan { trials: 2, divisor: 2 }, RungPlan { trials: 1, divisor: 1 }]
    );
    // Trials' full lengths as drawn (the recipe's 15 epochs unless a trial set its own).
    let length = |stage: &str, key: &'static str| {
        let trials: Vec<_> = report.trials.iter().filter(|t| t.stage == stage).cloned().collect();
        move |trial: usize| {
            trials[trial].settings.iter().find(|(k, _)| k == key).map_or(15, |(_, v)| v.parse::<usize>().unwrap())
        }
    };
    check_rungs(report, "teacher", &plan, length("teacher", "teacher_training.epochs"));
    check_rungs(report, "student", &plan, |_| 15);
    check_rungs(report, "distillation", &plan, length("distillation", "distill_training.epochs"));
    check_rungs(report, "small student", &plan, |_| 15);
    // Every trial is reported once, at the last rung it reached.
    assert_eq!(report.trials.len(), 16);
    for t in &report.trials {
        let rung = report.rungs.iter().find(|r| r.stage == t.stage && r.rung == t.rung).unwrap();
        let run = rung.runs.iter().find(|run| run.trial == t.trial).expect("its last rung ran it");
        assert_eq!(run.val_acc, t.val_acc);
    }
    // A 15-epoch trial of the teacher's or distillation's stage, whose longest draw is 2.5x or
    // 5x that, ends inside the first rung's budget (a quarter of the longest, rounded up): it is
    // final, and later rungs reuse it instead of training it again.
    let reused = report.rungs.iter().flat_map(|r| &r.runs).filter(|run| run.epochs_run == 0).count();
    assert!(reused > 0, "no run was reused");
    // The cost in epochs is what the runs trained: 4 + 2 + 1 runs a stage, at 1/4, 1/2 and 1.
    let epochs: usize = report.rungs.iter().flat_map(|r| &r.runs).map(|run| run.epochs_run).sum();
    assert_eq!(report.trial_epochs, epochs);
    // Kept trials resume: the search trains the epochs the rungs added and no more (retraining a
    // kept trial from scratch would train its earlier rungs' epochs again).
    assert_eq!(search_epochs, epochs);
    let resumed = report.rungs.iter().filter(|r| r.rung > 0).flat_map(|r| &r.runs).filter(|run| run.epochs_run > 0);
    assert!(resumed.count() > 0, "no trial was resumed");
    assert_eq!(report.rungs.iter().map(|r| r.runs.len()).sum::<usize>(), 4 * 7);
    // The same seed chooses the same trials, run for run.
    let again = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let scores = |r: &TuneReport| {
        r.rungs.iter().flat_map(|r| r.runs.iter().map(|run| (run.trial, run.val_acc))).collect::<Vec<_>>()
    };
    assert_eq!(scores(again.tune.as_ref().unwrap()), scores(report));
    assert_eq!(again.config, compared.config);

    // The exhaustive schedule trains every trial at full length: more epochs, one rung a stage.
    config.tune = Some(TuneConfig { schedule: TuneSchedule::Full, ..config.tune.clone().unwrap() });
    let (_, full) = tune(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(full.rungs.len(), 4);
    assert!(full.rungs.iter().all(|r| r.divisor == 1 && r.runs.len() == 4 && r.kept.len() == 1));
    assert!(full.trial_epochs > report.trial_epochs, "{} against {}", full.trial_epochs, report.trial_epochs);
    // Same draws under either schedule: the settings of trial k are the same.
    let settings = |r: &TuneReport| r.trials.iter().map(|t| t.settings.clone()).collect::<Vec<_>>();
    assert_eq!(settings(&full), settings(report));
}

#[test]
fn the_mlps_stages_search_on_the_mlps_own_features() {
    let _rng = torch_rng::torch_rng();
    // Features that tell the classes apart well, for a teacher and an MLP that read them.
    let dataset =
        load("csbm:nodes=240,classes=3,degree=5,features=10,signal=3,seed=4", std::path::Path::new(".")).unwrap();
    let mut config = small_config(&dataset);
    config.small_rows = false;
    for t in [&mut config.teacher_training, &mut config.student_training] {
        t.epochs = 60;
    }
    // One-hot node ids for the MLP: from labels it can learn the training nodes and nothing
    // that carries to a validation node.
    let own = CompareConfig { mlp_features: Some("identity".parse().unwrap()), ..config.clone() };
    let (_, given) = tune(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let (chosen, identity) = tune(&dataset, &own, Device::Cpu, &mut |_| {}).unwrap();
    let scores = |r: &TuneReport, stage: &str| {
        r.trials.iter().filter(|t| t.stage == stage).map(|t| t.val_acc).collect::<Vec<_>>()
    };
    assert_eq!(scores(&given, "teacher"), scores(&identity, "teacher"), "the teacher reads `features` either way");
    let best = |r: &TuneReport| scores(r, "student").into_iter().fold(0.0, f64::max);
    assert!(best(&given) > 0.8, "from the given features: {:?}", scores(&given, "student"));
    assert!(best(&identity) < 0.6, "from node ids: {:?}", scores(&identity, "student"));
    assert_eq!(chosen.mlp_features, own.mlp_features, "the chosen config keeps the MLP's features");
    // compare searches, then runs its MLP rows on the same features.
    let compared = compare(&dataset, &own, Device::Cpu, &mut |_| {}).unwrap();
    let mlp = compared.rows.iter().find(|r| r.name == "mlp").unwrap();
    assert_eq!(mlp.params as i64, chosen.mlp.config(gdistill_models::Arch::Mlp, 240, 3).num_params());
}
