//! Pruning masks: which weights go, that they stay at zero through retraining, that they survive
//! a checkpoint, and that a pruning schedule is reproducible for a seed.

use gdistill_datasets::load;
use gdistill_distill::prune::{
    prune_and_retrain, prune_to_target, HessianEstimator, Masks, PruneLoss, PruneMethod, PruneSettings, Schedule,
    ThresholdScope,
};
use gdistill_distill::{
    load_checkpoint, load_checkpoint_with_masks, predict, retrain_masked, save_checkpoint_with_masks, train,
    CheckpointMeta, DatasetFingerprint, FeatureLayout, GraphData, Objective, TrainConfig, Trained,
};
use gdistill_models::{Arch, ModelConfig};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

fn f32s(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.reshape([-1])).unwrap()
}

fn ones(n: i64) -> Tensor {
    Tensor::ones([n], (Kind::Float, Device::Cpu))
}

#[test]
fn global_threshold_ranks_across_layers_and_never_revives() {
    let saliency = [Tensor::from_slice(&[5.0f32, 1.0, 7.0]), Tensor::from_slice(&[2.0f32, 9.0, 0.5])];
    let masks = Masks(vec![ones(3), ones(3)]);
    let (half, removed) = prune_to_target(&saliency, &masks, 0.5, ThresholdScope::Global).unwrap();
    assert_eq!((f32s(&half.0[0]), f32s(&half.0[1])), (vec![1.0, 0.0, 1.0], vec![0.0, 1.0, 0.0]));
    assert!((removed - 3.5).abs() < 1e-9, "0.5 + 1 + 2 removed, got {removed}");
    // new saliencies that would rank a pruned weight high do not bring it back
    let later = [Tensor::from_slice(&[0.1f32, 100.0, 7.0]), Tensor::from_slice(&[100.0f32, 9.0, 100.0])];
    let (more, removed) = prune_to_target(&later, &half, 4.0 / 6.0, ThresholdScope::Global).unwrap();
    assert_eq!((f32s(&more.0[0]), f32s(&more.0[1])), (vec![0.0, 0.0, 1.0], vec![0.0, 1.0, 0.0]));
    assert!((removed - 0.1).abs() < 1e-6, "only the newly deleted weight counts, got {removed}");
    assert!((more.sparsity() - 4.0 / 6.0).abs() < 1e-9);
}

#[test]
fn per_layer_threshold_prunes_each_matrix_to_the_target() {
    let saliency = [Tensor::from_slice(&[5.0f32, 1.0, 7.0, 3.0]), Tensor::from_slice(&[20.0f32, 90.0])];
    let masks = Masks(vec![ones(4), ones(2)]);
    let (pruned, _) = prune_to_target(&saliency, &masks, 0.5, ThresholdScope::PerLayer).unwrap();
    assert_eq!(pruned.layer_sparsity(), vec![0.5, 0.5]);
    assert_eq!(f32s(&pruned.0[0]), vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(f32s(&pruned.0[1]), vec![0.0, 1.0]);
    for bad in [1.0, -0.1, f64::NAN] {
        assert!(prune_to_target(&saliency, &masks, bad, ThresholdScope::Global).is_err(), "target {bad} accepted");
    }
    let nan = [Tensor::from_slice(&[f32::NAN, 1.0, 7.0, 3.0]), Tensor::from_slice(&[20.0f32, 90.0])];
    assert!(prune_to_target(&nan, &masks, 0.5, ThresholdScope::Global).is_err());
}

fn tiny() -> (gdistill_datasets::NodeDataset, GraphData) {
    let dataset = load("csbm:nodes=300,classes=3,degree=6,features=12,seed=5", std::path::Path::new(".")).unwrap();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap();
    (dataset, data)
}

fn trained(data: &GraphData, arch: Arch) -> Trained {
    let cfg = ModelConfig::new(arch, 12, 16, 2, 3, 0.5);
    let settings = TrainConfig { epochs: 60, seed: 4, ..TrainConfig::default() };
    train(&cfg, data, &Objective::labels(), &settings, &mut |_| {}).unwrap()
}

#[test]
fn masks_hold_through_retraining_and_survive_a_checkpoint() {
    let (dataset, data) = tiny();
    for arch in [Arch::Gcn, Arch::Mlp] {
        let t = trained(&data, arch);
        let weights: Vec<Tensor> = t.model.weights().iter().map(|w| w.detach().copy()).collect();
        let saliency: Vec<Tensor> = weights.iter().map(Tensor::abs).collect();
        let (masks, _) =
            prune_to_target(&saliency, &Masks::keep_all(t.model.as_ref()), 0.7, ThresholdScope::Global).unwrap();
        masks.apply(t.model.as_ref());
        let settings = TrainConfig { epochs: 40, patience: None, seed: 9, ..TrainConfig::default() };
        retrain_masked(&t.vs, t.model.as_ref(), &data, &Objective::labels(), &settings, &masks.0, &mut |_| {}).unwrap();
        for ((w, m), before) in t.model.weights().iter().zip(&masks.0).zip(&weights) {
            let pruned_mass = (w.abs() * (1.0 - m) as Tensor).sum(Kind::Float).double_value(&[]);
            assert_eq!(pruned_mass, 0.0, "{arch}: a pruned weight moved during retraining");
            let kept_change = ((*w - before).abs() * m).sum(Kind::Float).double_value(&[]);
            assert!(kept_change > 0.0, "{arch}: retraining changed no kept weight");
        }
        assert!((masks.sparsity() - 0.7).abs() < 1e-3);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pruned.safetensors");
        let meta = CheckpointMeta {
            format_version: 1,
            model: t.model.config().clone(),
            dataset: DatasetFingerprint {
                name: dataset.name.clone(),
                nodes: 300,
                features: 12,
                classes: 3,
                row_normalized: false,
            },
            training: serde_json::json!({}),
        };
        save_checkpoint_with_masks(&path, &t.vs, &meta, Some(&masks)).unwrap();
        let (_vs, model, _, loaded) = load_checkpoint_with_masks(&path, Device::Cpu).unwrap();
        let loaded = loaded.expect("the masks come back");
        assert!(loaded.0.iter().zip(&masks.0).all(|(a, b)| a.equal(b)), "{arch}: masks changed in the round trip");
        assert!(predict(model.as_ref(), &data).equal(&predict(t.model.as_ref(), &data)));
        // a plain load predicts the same, and a checkpoint without masks has none
        let (_vs2, plain, _) = load_checkpoint(&path, Device::Cpu).unwrap();
        assert!(predict(plain.as_ref(), &data).equal(&predict(t.model.as_ref(), &data)));
        save_checkpoint_with_masks(&path, &t.vs, &meta, None).unwrap();
        assert!(load_checkpoint_with_masks(&path, Device::Cpu).unwrap().3.is_none());
        // a mask that claims a non-zero weight is pruned is refused
        let lying = Masks(masks.0.iter().map(|m| 1.0 - m).collect());
        save_checkpoint_with_masks(&path, &t.vs, &meta, Some(&lying)).unwrap();
        let err = load_checkpoint_with_masks(&path, Device::Cpu).err().expect("refused").to_string();
        assert!(err.contains("not zero") && err.contains("pruned.safetensors"), "{err}");
    }
}

#[test]
fn obd_predicts_small_deletions_to_second_order() {
    // Deleting a few weights at a trained model: the summed saliency should track the actual
    // increase (first-order terms are small near a minimum of the loss it is computed on).
    // A linear model fitted to random logits by least squares has a unique minimum, reached here
    // by plain optimisation (train() would restore its best-validation weights instead).
    let (_, data) = tiny();
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(Arch::Mlp, 12, 16, 1, 3, 0.0).build(&vs.root()).unwrap();
    let targets = Tensor::from_slice(&(0..900).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect::<Vec<_>>());
    let loss = PruneLoss::LogitMatching { teacher_logits: targets.view([300, 3]) };
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    for _ in 0..3000 {
        opt.backward_step(&loss.value(&model.forward_t(&data.features, &data.a_hat, false).logits, &data));
    }
    let settings = PruneSettings {
        method: PruneMethod::Obd { estimator: HessianEstimator::Exact },
        scope: ThresholdScope::Global,
        schedule: Schedule::OneShot,
        retrain: TrainConfig { epochs: 1, ..TrainConfig::default() },
        seed: 0,
    };
    let (points, _) =
        prune_and_retrain(&vs, model.as_ref(), &data, &loss, &Objective::labels(), &[0.1], &settings).unwrap();
    let step = &points[0].steps[0];
    let predicted = step.predicted_dloss.unwrap();
    assert!(predicted > 0.0);
    let ratio = step.actual_dloss / predicted;
    assert!((0.5..2.0).contains(&ratio), "predicted {predicted}, actual {}", step.actual_dloss);
}
