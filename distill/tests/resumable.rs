//! A run stopped at an epoch budget and resumed trains what one uninterrupted run trains, keeps
//! going from its own state whatever trained in between, and stays over once it has ended.

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

use gdistill_distill::training::resumable::ResumableRun;
use gdistill_distill::{predict, train, FeatureLayout, GraphData, Objective, TrainConfig, Trained};
use gdistill_models::{Arch, ModelConfig};
use tch::{Device, Tensor};

fn data() -> GraphData {
    let dataset =
        gdistill_datasets::load("csbm:nodes=300,classes=3,degree=6,features=12,seed=5", ".".as_ref()).unwrap();
    GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap()
}

fn weights(trained: &Trained) -> Vec<Tensor> {
    let mut named: Vec<(String, Tensor)> = trained.vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, t)| t).collect()
}

fn same_weights(a: &Trained, b: &Trained) -> bool {
    weights(a).iter().zip(weights(b)).all(|(x, y)| x.equal(&y))
}

/// Runs `budgets` in turn, training an unrelated model between two of them when `disturb`
/// (it moves libtorch's global generator, as a rung's other trials do).
fn resumed(
    config: &ModelConfig,
    data: &GraphData,
    settings: &TrainConfig,
    budgets: &[usize],
    disturb: bool,
) -> Trained {
    let labels = Objective::labels();
    let mut run = ResumableRun::start(config, data, &labels, settings).unwrap();
    for &until in budgets {
        run.advance(data, &labels, until, &mut |_| {}).unwrap();
        if disturb {
            let other = ModelConfig::new(Arch::Gcn, 12, 8, 2, 3, 0.5);
            let seed = TrainConfig { epochs: 3, seed: 99, ..TrainConfig::default() };
            train(&other, data, &labels, &seed, &mut |_| {}).unwrap();
            let _ = Tensor::rand([100], (tch::Kind::Float, Device::Cpu));
        }
    }
    run.finish()
}

#[test]
fn without_randomness_a_resumed_run_is_the_uninterrupted_one() {
    let _rng = torch_rng::torch_rng();
    let data = data();
    // No dropout: nothing in training draws from the generator, so reseeding changes nothing and
    // resuming must continue the same Adam steps (a restart would not).
    let config = ModelConfig::new(Arch::Gcn, 12, 16, 2, 3, 0.0);
    let settings = TrainConfig { epochs: 30, patience: None, seed: 4, ..TrainConfig::default() };
    let whole = train(&config, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    let pieces = resumed(&config, &data, &settings, &[7, 19, 30], true);
    assert!(same_weights(&whole, &pieces), "resuming changed the run");
    assert_eq!((pieces.epochs_run, pieces.best_epoch), (whole.epochs_run, whole.best_epoch));
    assert_eq!(pieces.best_val_acc, whole.best_val_acc);
    // A restart at each budget would have trained 7 + 19 + 30 epochs and ended elsewhere.
    let restarted =
        train(&config, &data, &Objective::labels(), &TrainConfig { epochs: 11, ..settings.clone() }, &mut |_| {});
    assert!(!same_weights(&whole, &restarted.unwrap()));
}

#[test]
fn with_dropout_what_trains_in_between_does_not_reach_a_resumed_run() {
    let _rng = torch_rng::torch_rng();
    let data = data();
    let config = ModelConfig::new(Arch::Gcn, 12, 16, 2, 3, 0.5);
    let settings = TrainConfig { epochs: 25, patience: None, seed: 11, ..TrainConfig::default() };
    let alone = resumed(&config, &data, &settings, &[5, 12, 25], false);
    let disturbed = resumed(&config, &data, &settings, &[5, 12, 25], true);
    assert!(same_weights(&alone, &disturbed), "the generator's state between budgets reached the run");
    assert_eq!(alone.best_val_acc, disturbed.best_val_acc);
    // The first budget is exactly `train` of that many epochs.
    let first = resumed(&config, &data, &settings, &[5], true);
    let five = train(&config, &data, &Objective::labels(), &TrainConfig { epochs: 5, ..settings }, &mut |_| {});
    let five = five.unwrap();
    assert!(same_weights(&first, &five));
    assert!(predict(first.model.as_ref(), &data).equal(&predict(five.model.as_ref(), &data)));
}

#[test]
fn an_ended_run_trains_no_more() {
    let _rng = torch_rng::torch_rng();
    let data = data();
    let labels = Objective::labels();
    let config = ModelConfig::new(Arch::Mlp, 12, 16, 2, 3, 0.0);
    // Patience 0: early stopping ends the run after its first epoch, long before its 500.
    let settings = TrainConfig { epochs: 500, patience: Some(0), seed: 2, ..TrainConfig::default() };
    let mut run = ResumableRun::start(&config, &data, &labels, &settings).unwrap();
    assert!(!run.ended());
    run.advance(&data, &labels, 100, &mut |_| {}).unwrap();
    let stopped_at = run.epochs_run();
    assert!(run.ended() && stopped_at == 1, "early stopping ended it at {stopped_at}");
    let mut epochs = 0;
    run.advance(&data, &labels, 500, &mut |_| epochs += 1).unwrap();
    assert_eq!((epochs, run.epochs_run()), (0, stopped_at));
    // A run that trained its whole length has ended too; a budget past its length stops there.
    let short = TrainConfig { epochs: 4, patience: None, ..settings };
    let mut run = ResumableRun::start(&config, &data, &labels, &short).unwrap();
    run.advance(&data, &labels, 10, &mut |_| {}).unwrap();
    assert!(run.ended());
    assert_eq!(run.finish().epochs_run, 4);
}
