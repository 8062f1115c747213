//! Layer-wise chunked inference equals the whole forward; mini-batch distillation from stored
//! soft targets equals full-batch distillation when the batch is the whole graph.

use gdistill_distill::chunked::chunked_logits;
use gdistill_distill::minibatch::dense_rows;
use gdistill_distill::minibatch::{glnn_batches, train_mlp_on_soft_targets, EpochShape, SoftTargetBatches};
use gdistill_distill::{cross_entropy, soft_target_loss_from_log_probs, Selection};
use gdistill_distill::{predict, train, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::SparseMatrix;
use gdistill_models::{Arch, ModelConfig};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

fn dataset(features: usize) -> gdistill_datasets::NodeDataset {
    let spec = format!("csbm:nodes=300,classes=3,degree=4,features={features},seed=4");
    gdistill_datasets::load(&spec, std::path::Path::new(".")).unwrap()
}

#[test]
fn chunked_logits_equal_the_whole_forward() {
    let _rng = torch_rng::torch_rng();
    let d = dataset(12);
    for layout in [FeatureLayout::Dense, FeatureLayout::Sparse] {
        let data = GraphData::new(&d, Device::Cpu, layout).unwrap();
        for (arch, layers) in [(Arch::Gcn, 2), (Arch::Gcn, 3), (Arch::Mlp, 2), (Arch::Gcn, 1)] {
            tch::manual_seed(3);
            let vs = nn::VarStore::new(Device::Cpu);
            let model = ModelConfig::new(arch, 12, 16, layers, 3, 0.5).build(&vs.root()).unwrap();
            let whole = predict(model.as_ref(), &data);
            for chunk in [1, 7, 128, 300, 1000] {
                let chunked = chunked_logits(model.as_ref(), &d, Device::Cpu, chunk).unwrap();
                let gap = (&chunked - &whole).abs().max().double_value(&[]);
                assert!(gap < 1e-5, "{arch:?} x{layers}, {layout:?}, chunks of {chunk}: max gap {gap}");
            }
        }
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(Arch::Gcn, 12, 4, 2, 3, 0.0).build(&vs.root()).unwrap();
    assert!(chunked_logits(model.as_ref(), &d, Device::Cpu, 0).is_err());
    assert!(chunked_logits(model.as_ref(), &dataset(5), Device::Cpu, 10).is_err(), "feature count checked");
}

/// With one batch of every node, no dropout and no weight decay, an epoch of mini-batch training
/// is one full-batch step on the same loss from the same initial weights: the two runs must
/// produce the same model.
#[test]
fn one_batch_of_every_node_is_full_batch_distillation() {
    let _rng = torch_rng::torch_rng();
    let mut d = dataset(12);
    d.row_normalize_features();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    tch::manual_seed(11);
    let teacher_logits = Tensor::randn([300, 3], (tch::Kind::Float, Device::Cpu)) * 3.0;
    let config = ModelConfig::new(Arch::Mlp, 12, 16, 2, 3, 0.0);
    let settings = TrainConfig { epochs: 15, weight_decay: 0.0, patience: None, seed: 2, ..TrainConfig::default() };
    let (temperature, alpha) = (2.0, 0.3);
    let full = train(
        &config,
        &data,
        &Objective::soft_targets(teacher_logits.copy(), temperature, alpha),
        &settings,
        &mut |_| {},
    )
    .unwrap();
    let batches = SoftTargetBatches { batch_size: 300, temperature, alpha, epoch: EpochShape::Mixed };
    let mini =
        train_mlp_on_soft_targets(&config, &d, &teacher_logits, Device::Cpu, &settings, batches, &mut |_| {}).unwrap();
    assert_eq!(full.best_epoch, mini.best_epoch, "the same trajectory picks the same epoch");
    for (a, b) in full.model.weights().iter().zip(mini.model.weights()) {
        let gap = (*a - b).abs().max().double_value(&[]);
        assert!(gap < 1e-4, "weights differ by {gap}");
    }
}

#[test]
fn mini_batches_from_soft_targets_refuse_a_gcn_and_bad_settings() {
    let _rng = torch_rng::torch_rng();
    let d = dataset(12);
    let logits = Tensor::zeros([300, 3], (tch::Kind::Float, Device::Cpu));
    let settings = TrainConfig { epochs: 2, ..TrainConfig::default() };
    let ok = SoftTargetBatches { batch_size: 64, temperature: 2.0, alpha: 0.0, epoch: EpochShape::Mixed };
    let gcn = ModelConfig::new(Arch::Gcn, 12, 8, 2, 3, 0.0);
    let err = train_mlp_on_soft_targets(&gcn, &d, &logits, Device::Cpu, &settings, ok, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("graph-less"), "{err}");
    let mlp = ModelConfig::new(Arch::Mlp, 12, 8, 2, 3, 0.0);
    let short = Tensor::zeros([299, 3], (tch::Kind::Float, Device::Cpu));
    assert!(train_mlp_on_soft_targets(&mlp, &d, &short, Device::Cpu, &settings, ok, &mut |_| {}).is_err());
    for bad in [
        SoftTargetBatches { batch_size: 0, ..ok },
        SoftTargetBatches { temperature: f64::INFINITY, ..ok },
        SoftTargetBatches { alpha: 1.5, ..ok },
    ] {
        assert!(train_mlp_on_soft_targets(&mlp, &d, &logits, Device::Cpu, &settings, bad, &mut |_| {}).is_err());
    }
}

#[test]
fn glnn_batches_keep_full_batches_only_but_never_none() {
    let order: Vec<i64> = (0..10).collect();
    let sizes = |size| glnn_batches(&order, size).map(|b| b.len()).collect::<Vec<_>>();
    assert_eq!(sizes(3), vec![3, 3, 3], "10 // 3 = 3 batches; node 9 sits the epoch out");
    assert_eq!(sizes(5), vec![5, 5]);
    assert_eq!(sizes(10), vec![10]);
    assert_eq!(sizes(512), vec![10], "fewer nodes than a batch: one batch of all of them");
    assert_eq!(glnn_batches(&order, 4).flatten().copied().collect::<Vec<_>>(), (0..8).collect::<Vec<i64>>());
    assert_eq!(glnn_batches(&[], 4).count(), 0, "no nodes, no batch");
}

/// GLNN's epoch with batches larger than the graph and no dropout is, per epoch, one Adam step
/// on `alpha * CE` over the training nodes (zero here, alpha = 0: the step still moves the
/// weights through Adam's momentum) and one on the KD loss over every node. Written out by hand
/// with tch's Adam, the weights must match; without the zero-loss steps they must not.
#[test]
fn glnn_epochs_take_the_zero_loss_labelled_step() {
    let _rng = torch_rng::torch_rng();
    let mut d = dataset(12);
    d.row_normalize_features();
    d.val.clear(); // every epoch ties on validation; val-acc-latest keeps the last
    tch::manual_seed(5);
    let teacher_logits = Tensor::randn([300, 3], (Kind::Float, Device::Cpu)) * 3.0;
    let config = ModelConfig::new(Arch::Mlp, 12, 16, 2, 3, 0.0);
    let (epochs, lr, temperature) = (6, 0.01, 1.0);
    let settings = TrainConfig {
        epochs,
        lr,
        weight_decay: 0.0,
        patience: None,
        seed: 7,
        select: Selection::ValAccLatest,
        ..TrainConfig::default()
    };
    let batches = SoftTargetBatches { batch_size: 1000, temperature, alpha: 0.0, epoch: EpochShape::Glnn };
    let glnn =
        train_mlp_on_soft_targets(&config, &d, &teacher_logits, Device::Cpu, &settings, batches, &mut |_| {}).unwrap();

    let by_hand = |zero_steps: bool| {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = config.build(&vs.root()).unwrap();
        let mut opt = nn::Adam::default().build(&vs, lr).unwrap();
        let no_graph = SparseMatrix::empty(0, Device::Cpu).unwrap();
        let all: Vec<usize> = (0..300).collect();
        let (x_all, x_train) =
            (dense_rows(&d.features, &all, Device::Cpu), dense_rows(&d.features, &d.train, Device::Cpu));
        let y_train = Tensor::from_slice(&d.train.iter().map(|&i| d.labels[i] as i64).collect::<Vec<_>>());
        let q = (&teacher_logits / temperature).log_softmax(-1, Kind::Float);
        for _ in 0..epochs {
            if zero_steps {
                opt.zero_grad();
                (cross_entropy(&model.forward_t(&x_train, &no_graph, true).logits, &y_train) * 0.0).backward();
                opt.step();
            }
            opt.zero_grad();
            soft_target_loss_from_log_probs(&model.forward_t(&x_all, &no_graph, true).logits, &q, temperature)
                .backward();
            opt.step();
        }
        model.weights().into_iter().map(|w| w.copy()).collect::<Vec<Tensor>>()
    };
    let gap = |other: Vec<Tensor>| {
        glnn.model.weights().iter().zip(&other).map(|(a, b)| (*a - b).abs().max().double_value(&[])).fold(0.0, f64::max)
    };
    let with = gap(by_hand(true));
    assert!(with < 1e-5, "GLNN's epoch differs from its hand-written form by {with}");
    let without = gap(by_hand(false));
    assert!(without > 1e-3, "the zero-loss steps should move the weights (gap {without} without them)");
}
