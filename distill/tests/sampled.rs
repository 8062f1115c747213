//! Neighbour-sampled mini-batch training: it reaches full-batch accuracy on a CSBM graph, repeats
//! exactly for a seed, refuses bad sampler settings, and distils from a teacher on the batch.
//!
//! libtorch's random generator is global to the process and the tests of one binary run on
//! parallel threads: every test here holds [`TORCH_RNG`] so that a seeded run draws alone.

use std::sync::{Mutex, MutexGuard};

use gdistill_datasets::{apply_split, NodeDataset, SplitSpec};
use gdistill_distill::lsp::{EdgeList, KlDirection, LspKernel};
use gdistill_distill::sampled::{train_sampled, SamplerConfig};
use gdistill_distill::{accuracy, predict, train, FeatureLayout, GraphData, LspTerm, Objective, TrainConfig, Trained};
use gdistill_graph::NeighborSampler;
use gdistill_models::{Arch, ModelConfig};
use tch::Device;

static TORCH_RNG: Mutex<()> = Mutex::new(());

fn rng_alone() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 1500 nodes, 4 classes, average degree 10; 30% training, 20% validation nodes.
fn dataset() -> NodeDataset {
    let d = gdistill_datasets::load(
        "csbm:nodes=1500,classes=4,degree=10,homophily=0.75,features=16,signal=0.8,seed=7",
        std::path::Path::new("."),
    )
    .unwrap();
    apply_split(&d, &SplitSpec::Random { train: 0.3, val: 0.2 }, 1).unwrap()
}

fn settings(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig { epochs, patience: Some(40), seed, ..TrainConfig::default() }
}

fn sampler(fanouts: &[usize], batch_size: usize) -> SamplerConfig {
    SamplerConfig { fanouts: fanouts.to_vec(), batch_size, norm: Default::default() }
}

fn test_accuracy(t: &Trained, data: &GraphData) -> f64 {
    accuracy(&predict(t.model.as_ref(), data), &data.labels, &data.test)
}

#[test]
fn sampled_gcn_and_sage_reach_full_batch_accuracy() {
    let _alone = rng_alone();
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    for arch in [Arch::Gcn, Arch::Sage] {
        let config = ModelConfig::new(arch, 16, 32, 2, 4, 0.5);
        let (mut full_acc, mut sampled_acc) = (0.0, 0.0);
        for seed in 0..2 {
            let full = train(&config, &data, &Objective::labels(), &settings(150, seed), &mut |_| {}).unwrap();
            let sampled = train_sampled(
                &config,
                &d,
                &data,
                &Objective::labels(),
                &settings(60, seed),
                &sampler(&[10, 5], 64),
                &mut |_| {},
            )
            .unwrap();
            full_acc += test_accuracy(&full, &data) / 2.0;
            sampled_acc += test_accuracy(&sampled, &data) / 2.0;
        }
        eprintln!("{arch}: full-batch {full_acc:.3}, sampled {sampled_acc:.3}");
        assert!(full_acc > 0.6, "{arch}: the dataset should be learnable, full-batch reached {full_acc:.3}");
        assert!(sampled_acc >= full_acc - 0.05, "{arch}: sampled {sampled_acc:.3} vs full-batch {full_acc:.3}");
    }
}

#[test]
fn a_seeded_run_repeats_exactly() {
    let _alone = rng_alone();
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    for arch in [Arch::Gcn, Arch::Sage, Arch::Gat] {
        let config = ModelConfig::new(arch, 16, 8, 2, 4, 0.5);
        let run = |seed| {
            let mut losses = Vec::new();
            let t = train_sampled(
                &config,
                &d,
                &data,
                &Objective::labels(),
                &settings(3, seed),
                &sampler(&[5, 3], 100),
                &mut |s| losses.push(s.loss),
            )
            .unwrap();
            (t, losses)
        };
        let ((a, la), (b, lb), (c, _)) = (run(4), run(4), run(5));
        assert_eq!(la, lb, "{arch}: the same seed gives the same losses");
        let gap = |x: &Trained, y: &Trained| {
            x.model
                .weights()
                .iter()
                .zip(y.model.weights())
                .map(|(p, q)| (*p - q).abs().max().double_value(&[]))
                .fold(0.0, f64::max)
        };
        assert_eq!(gap(&a, &b), 0.0, "{arch}: the same seed gives the same weights");
        assert!(gap(&a, &c) > 0.0, "{arch}: another seed gives other weights");
    }
}

#[test]
fn sparse_features_gathered_on_the_host_train_like_dense_ones() {
    let _alone = rng_alone();
    let d = dataset();
    let config = ModelConfig::new(Arch::Gcn, 16, 8, 2, 4, 0.0);
    let run = |layout| {
        let data = GraphData::new(&d, Device::Cpu, layout).unwrap();
        let mut losses = Vec::new();
        let t = train_sampled(
            &config,
            &d,
            &data,
            &Objective::labels(),
            &settings(3, 2),
            &sampler(&[4, 4], 128),
            &mut |s| losses.push(s.loss),
        )
        .unwrap();
        (t, losses)
    };
    let ((dense, ld), (sparse, ls)) = (run(FeatureLayout::Dense), run(FeatureLayout::Sparse));
    for (a, b) in ld.iter().zip(&ls) {
        assert!((a - b).abs() < 1e-4, "losses {ld:?} vs {ls:?}");
    }
    for (p, q) in dense.model.weights().iter().zip(sparse.model.weights()) {
        let gap = (*p - q).abs().max().double_value(&[]);
        assert!(gap < 1e-4, "weights differ by {gap}");
    }
}

#[test]
fn bad_sampler_settings_are_refused() {
    let _alone = rng_alone();
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    let gcn = ModelConfig::new(Arch::Gcn, 16, 8, 2, 4, 0.0);
    let labels = Objective::labels();
    let short = settings(1, 0);
    let err = |config: &ModelConfig, s: SamplerConfig| {
        train_sampled(config, &d, &data, &labels, &short, &s, &mut |_| {}).err().expect("refused").to_string()
    };
    let train_nodes = d.train.len();
    for (s, expected) in [
        (sampler(&[10, 0], 32), "at least 1"),
        (sampler(&[], 32), "none"),
        (sampler(&[10], 32), "one fan-out per layer"),
        (sampler(&[10, 5, 5], 32), "one fan-out per layer"),
        (sampler(&[10, 5], 0), "at least 1 seed"),
        (sampler(&[10, 5], train_nodes + 1), "larger than the"),
    ] {
        let message = err(&gcn, s.clone());
        assert!(message.contains(expected), "{s:?}: {message}");
    }
    assert!(err(&gcn, sampler(&[10, 5], train_nodes + 1)).contains(&format!("use at most {train_nodes}")));
    // the whole training set in one batch is fine
    train_sampled(&gcn, &d, &data, &labels, &short, &sampler(&[10, 5], train_nodes), &mut |_| {}).unwrap();

    let appnp = ModelConfig::new(Arch::Appnp, 16, 8, 2, 4, 0.0);
    assert!(err(&appnp, sampler(&[10, 5], 32)).contains("appnp does not train on sampled blocks"));
    let wrong_width = ModelConfig::new(Arch::Gcn, 15, 8, 2, 4, 0.0);
    assert!(err(&wrong_width, sampler(&[10, 5], 32)).contains("features"));

    assert_eq!(SamplerConfig::parse_fanouts("15,10").unwrap(), vec![15, 10]);
    assert_eq!(SamplerConfig::parse_fanouts("-1").unwrap(), vec![NeighborSampler::ALL]);
    for bad in ["", "15,", "0", "ten", "15;10"] {
        assert!(SamplerConfig::parse_fanouts(bad).is_err(), "'{bad}' accepted");
    }
    let json = serde_json::to_string(&sampler(&[15, 10], 512)).unwrap();
    assert_eq!(serde_json::from_str::<SamplerConfig>(&json).unwrap(), sampler(&[15, 10], 512));
}

#[test]
fn distillation_with_the_sampler_lowers_the_soft_target_loss() {
    let _alone = rng_alone();
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    let teacher_config = ModelConfig::new(Arch::Gcn, 16, 32, 2, 4, 0.5);
    let teacher = train(&teacher_config, &data, &Objective::labels(), &settings(100, 0), &mut |_| {}).unwrap();
    let teacher_logits = predict(teacher.model.as_ref(), &data);
    let teacher_acc = test_accuracy(&teacher, &data);

    // alpha = 0, no weight decay: the epoch loss is the soft-target term alone, over all nodes
    let kd = TrainConfig { weight_decay: 0.0, patience: None, ..settings(30, 1) };
    for arch in [Arch::Sage, Arch::Mlp] {
        let student = ModelConfig::new(arch, 16, 16, 2, 4, 0.2);
        let mut losses = Vec::new();
        let objective = Objective::soft_targets(teacher_logits.copy(), 2.0, 0.0);
        let t =
            train_sampled(&student, &d, &data, &objective, &kd, &sampler(&[8, 4], 256), &mut |s| losses.push(s.loss))
                .unwrap();
        let (first, last) = (losses[0], *losses.last().unwrap());
        let acc = test_accuracy(&t, &data);
        eprintln!("{arch} student: soft-target loss {first:.4} -> {last:.4}, test {acc:.3} (teacher {teacher_acc:.3})");
        // an MLP reads features alone, which here say less than the graph: its loss falls less
        let factor = if arch == Arch::Mlp { 0.8 } else { 0.5 };
        assert!(last < factor * first, "{arch}: the soft-target loss should fall: {losses:?}");
        if arch != Arch::Mlp {
            assert!(acc > teacher_acc - 0.1, "{arch}: student {acc:.3}, teacher {teacher_acc:.3}");
        }
    }

    // logit matching and LSP on the last block's edges run and stay finite
    let teacher_hidden =
        tch::no_grad(|| teacher.model.forward_t(&data.features, &data.a_hat, false).hidden[0].shallow_clone());
    let lsp = LspTerm {
        teacher_hidden,
        student_layer: -1,
        edges: EdgeList::from_graph(&d.graph, true, Device::Cpu),
        kernel: LspKernel::Rbf { sigma: 1.0 },
        direction: KlDirection::TeacherToStudent,
        weight: 1.0,
        until_epoch: None,
    };
    let student = ModelConfig::new(Arch::Gcn, 16, 16, 2, 4, 0.2);
    for objective in [
        Objective::logit_matching(teacher_logits.copy(), 0.5),
        Objective::soft_targets(teacher_logits.copy(), 2.0, 0.5).with_lsp(lsp),
    ] {
        let mut losses = Vec::new();
        let t = train_sampled(&student, &d, &data, &objective, &settings(5, 3), &sampler(&[8, 4], 300), &mut |s| {
            losses.push(s.loss)
        })
        .unwrap();
        assert!(losses.iter().all(|l| l.is_finite()) && losses[4] < losses[0], "{losses:?}");
        assert!(t.best_val_acc > 0.4);
    }
}
