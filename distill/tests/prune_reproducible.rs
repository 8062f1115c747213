//! A pruning schedule is reproducible for a seed, and reaches the sparsities it was asked for.
//!
//! libtorch's random generator is global to the process (dropout during retraining draws from
//! it), so this test lives alone in its own test binary.

use gdistill_datasets::load;
use gdistill_distill::prune::{
    prune_and_retrain, HessianEstimator, PruneLoss, PruneMethod, PruneSettings, Schedule, ThresholdScope,
};
use gdistill_distill::{predict, train, FeatureLayout, GraphData, Objective, TrainConfig, Trained};
use gdistill_models::{Arch, ModelConfig};
use tch::Device;

fn tiny() -> GraphData {
    let dataset = load("csbm:nodes=300,classes=3,degree=6,features=12,seed=5", std::path::Path::new(".")).unwrap();
    GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap()
}

fn trained(data: &GraphData) -> Trained {
    let cfg = ModelConfig::new(Arch::Gcn, 12, 16, 2, 3, 0.5);
    let settings = TrainConfig { epochs: 60, seed: 4, ..TrainConfig::default() };
    train(&cfg, data, &Objective::labels(), &settings, &mut |_| {}).unwrap()
}

fn settings(method: PruneMethod, schedule: Schedule, seed: u64) -> PruneSettings {
    PruneSettings {
        method,
        scope: ThresholdScope::Global,
        schedule,
        retrain: TrainConfig { epochs: 30, seed, ..TrainConfig::default() },
        seed,
    }
}

#[test]
fn schedules_reach_their_targets_reproducibly() {
    let data = tiny();
    let obd = PruneMethod::Obd { estimator: HessianEstimator::GaussNewton };
    let fisher = PruneMethod::Obd { estimator: HessianEstimator::Fisher { samples: 4 } };
    let cases = [
        (obd, Schedule::Iterative { steps: 2 }),
        (fisher, Schedule::OneShot),
        (PruneMethod::Magnitude, Schedule::OneShot),
        (PruneMethod::Random, Schedule::Iterative { steps: 1 }),
    ];
    for (method, schedule) in cases {
        let run = |seed| {
            let t = trained(&data);
            let s = settings(method, schedule, seed);
            let (points, masks) = prune_and_retrain(
                &t.vs,
                t.model.as_ref(),
                &data,
                &PruneLoss::Labels,
                &Objective::labels(),
                &[0.8, 0.0, 0.5],
                &s,
            )
            .unwrap();
            (points, masks, predict(t.model.as_ref(), &data))
        };
        let (a, masks_a, logits_a) = run(1);
        let (b, masks_b, logits_b) = run(1);
        assert_eq!(a.iter().map(|p| p.target).collect::<Vec<_>>(), vec![0.0, 0.5, 0.8]);
        for p in &a {
            assert!(
                (p.sparsity - p.target).abs() < 1e-3,
                "{method:?}: sparsity {} for target {}",
                p.sparsity,
                p.target
            );
            assert_eq!(p.predicted_dloss.is_some(), matches!(method, PruneMethod::Obd { .. }));
        }
        assert_eq!(a[0].actual_dloss, 0.0, "nothing pruned at sparsity 0");
        let steps = if schedule == Schedule::OneShot { 1 } else { 2 };
        assert_eq!(a[2].steps.len(), if matches!(schedule, Schedule::Iterative { steps: 1 }) { 1 } else { steps });
        assert!(masks_a.0.iter().zip(&masks_b.0).all(|(x, y)| x.equal(y)), "{method:?}: masks differ for one seed");
        assert!(logits_a.equal(&logits_b), "{method:?}: the pruned model differs for one seed");
        assert!(a.iter().zip(&b).all(|(x, y)| x.test_acc == y.test_acc && x.actual_dloss == y.actual_dloss));
        if method == PruneMethod::Random {
            let (_, masks_c, _) = run(2);
            assert!(!masks_a.0[0].equal(&masks_c.0[0]), "another seed, other random ranks");
        }
    }
}
