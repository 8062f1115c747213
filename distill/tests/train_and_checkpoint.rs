//! Training on real Cora, reproducibility, and checkpoint round trips and corruption.

#[path = "../../tests/support/data.rs"]
mod data;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

use gdistill_datasets::{load, NodeDataset};
use gdistill_distill::{
    accuracy, load_checkpoint, predict, save_checkpoint, train, CheckpointMeta, DatasetFingerprint, FeatureLayout,
    GraphData, Objective, TrainConfig, TrainError,
};
use gdistill_models::{Arch, ModelConfig};
use tch::{Device, Kind, Tensor};

fn cora() -> Option<NodeDataset> {
    let root = data::data_dir("cora")?.parent().unwrap().to_path_buf();
    let mut cora = load("cora", &root).expect("cora loads");
    cora.row_normalize_features();
    Some(cora)
}

fn fingerprint(d: &NodeDataset) -> DatasetFingerprint {
    DatasetFingerprint {
        name: d.name.clone(),
        nodes: d.num_nodes(),
        features: d.num_features(),
        classes: d.num_classes,
        row_normalized: true,
    }
}

#[test]
fn gcn_on_cora_beats_0_75_and_distils_into_an_mlp() {
    let _rng = torch_rng::torch_rng();
    let Some(cora) = cora() else { return };
    let data = GraphData::new(&cora, Device::Cpu, FeatureLayout::Auto).unwrap();
    let teacher_cfg = ModelConfig::new(Arch::Gcn, 1433, 64, 2, 7, 0.5);
    let settings = TrainConfig { seed: 3, ..TrainConfig::default() };
    let teacher = train(&teacher_cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    let teacher_logits = predict(teacher.model.as_ref(), &data);
    let teacher_acc = accuracy(&teacher_logits, &data.labels, &data.test);
    assert!(teacher_acc > 0.75, "GCN teacher test accuracy {teacher_acc}");

    let mlp_cfg = ModelConfig::new(Arch::Mlp, 1433, 64, 2, 7, 0.5);
    let plain = train(&mlp_cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    let plain_acc = accuracy(&predict(plain.model.as_ref(), &data), &data.labels, &data.test);
    let kd = Objective::soft_targets(teacher_logits, 2.0, 0.0);
    let kd_settings = TrainConfig { weight_decay: 0.0, epochs: 400, ..settings };
    let student = train(&mlp_cfg, &data, &kd, &kd_settings, &mut |_| {}).unwrap();
    let student_acc = accuracy(&predict(student.model.as_ref(), &data), &data.labels, &data.test);
    assert!(plain_acc < 0.66, "an MLP on 140 labels stays far below a GCN, got {plain_acc}");
    assert!(student_acc > 0.75, "the distilled MLP reached only {student_acc} (teacher {teacher_acc})");
}

/// A small synthetic dataset, so the checkpoint tests need no files.
fn tiny() -> NodeDataset {
    gdistill_datasets::load("csbm:nodes=300,classes=3,degree=6,features=12,seed=5", std::path::Path::new(".")).unwrap()
}

#[test]
fn checkpoints_round_trip_and_reject_corruption() {
    let _rng = torch_rng::torch_rng();
    let dataset = tiny();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap();
    let cfg = ModelConfig::new(Arch::Gcn, 12, 8, 2, 3, 0.5);
    let settings = TrainConfig { epochs: 20, ..TrainConfig::default() };
    let trained = train(&cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    let meta = CheckpointMeta {
        format_version: 1,
        model: cfg.clone(),
        dataset: fingerprint(&dataset),
        training: serde_json::json!({"note": "test"}),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/model.safetensors");
    save_checkpoint(&path, &trained.vs, &meta).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");

    let (_vs, model, loaded_meta) = load_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded_meta, meta);
    let before = predict(trained.model.as_ref(), &data);
    let after = predict(model.as_ref(), &data);
    assert_eq!((&before - &after).abs().max().double_value(&[]), 0.0);

    let bytes = std::fs::read(&path).unwrap();
    let bad = |name: &str, content: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let err = load_checkpoint(&p, Device::Cpu).err().expect("a bad checkpoint is an error").to_string();
        assert!(err.contains(name), "the error names the file: {err}");
        err
    };
    bad("truncated.safetensors", &bytes[..bytes.len() - 10]);
    bad("header_only.safetensors", &bytes[..6]);
    bad("random.safetensors", &[7u8; 300]);
    let err = load_checkpoint(&dir.path().join("absent.safetensors"), Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("absent.safetensors"), "{err}");

    // A configuration that disagrees with the stored tensors (wider hidden layer).
    let needle = br#"\"hidden\":[8]"#;
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the metadata holds the hidden widths");
    let mut tampered = bytes.clone();
    tampered[at + needle.len() - 2] = b'9';
    let err = bad("tampered.safetensors", &tampered);
    assert!(err.contains("model needs"), "{err}");

    // A safetensors file that gdistill did not write.
    let foreign = Tensor::zeros([2], (Kind::Float, Device::Cpu));
    let foreign_path = dir.path().join("foreign.safetensors");
    Tensor::write_safetensors(&[("x", &foreign)], &foreign_path).unwrap();
    let err = load_checkpoint(&foreign_path, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("no gdistill metadata"), "{err}");
}

#[test]
fn mismatched_shapes_and_divergence_are_errors_not_panics() {
    let _rng = torch_rng::torch_rng();
    let dataset = tiny();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Dense).unwrap();
    let settings = TrainConfig { epochs: 5, ..TrainConfig::default() };
    let wrong_classes = ModelConfig::new(Arch::Mlp, 12, 8, 2, 5, 0.0);
    assert!(matches!(
        train(&wrong_classes, &data, &Objective::labels(), &settings, &mut |_| {}),
        Err(TrainError::Mismatch(_))
    ));
    let cfg = ModelConfig::new(Arch::Mlp, 12, 8, 2, 3, 0.0);
    let short = Objective::soft_targets(Tensor::zeros([10, 3], (Kind::Float, Device::Cpu)), 2.0, 0.0);
    assert!(matches!(train(&cfg, &data, &short, &settings, &mut |_| {}), Err(TrainError::Mismatch(_))));
    let nan_teacher = Objective::logit_matching(Tensor::full([300, 3], f64::NAN, (Kind::Float, Device::Cpu)), 0.5);
    let err = train(&cfg, &data, &nan_teacher, &settings, &mut |_| {}).err().unwrap();
    assert!(matches!(err, TrainError::NonFiniteLoss { epoch: 1, term: "logit matching", .. }), "{err}");
    assert!(err.to_string().contains("epoch 1 (term: logit matching)"), "{err}");
    let inf_teacher = Tensor::zeros([300, 3], (Kind::Float, Device::Cpu));
    let _ = inf_teacher.get(7).get(1).fill_(f64::INFINITY);
    let err =
        train(&cfg, &data, &Objective::soft_targets(inf_teacher, 2.0, 0.5), &settings, &mut |_| {}).err().unwrap();
    assert!(matches!(err, TrainError::NonFiniteLoss { term: "soft targets", .. }), "{err}");
    let zero_epochs = TrainConfig { epochs: 0, ..settings };
    assert!(matches!(train(&cfg, &data, &Objective::labels(), &zero_epochs, &mut |_| {}), Err(TrainError::Config(_))));
}

/// Adam is invariant to the scale of the gradient except through its epsilon (1e-8), so a clip
/// far below epsilon must all but stop the weights; an unclipped step moves them by about lr.
#[test]
fn gradient_clipping_bounds_the_gradient_norm() {
    let _rng = torch_rng::torch_rng();
    let data = GraphData::new(&tiny(), Device::Cpu, FeatureLayout::Dense).unwrap();
    let cfg = ModelConfig::new(Arch::Mlp, 12, 8, 2, 3, 0.0);
    let moved = |clip: Option<f64>| {
        let settings = TrainConfig { epochs: 1, patience: None, clip_grad_norm: clip, ..TrainConfig::default() };
        tch::manual_seed(settings.seed as i64);
        let initial = nn_initial_weights(&cfg);
        let trained = train(&cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
        let after = trained.model.weights()[0].shallow_clone();
        (after - initial).abs().max().double_value(&[])
    };
    let free = moved(None);
    let clipped = moved(Some(1e-12));
    assert!((free - 0.01).abs() < 2e-3, "an unclipped Adam step moves a weight by about lr: {free}");
    assert!(clipped < 1e-3 * free, "clipped to 1e-12 the step should vanish: {clipped} vs {free}");
}

/// The first layer's weights `train` starts from with the same seed (it seeds, then builds).
fn nn_initial_weights(cfg: &ModelConfig) -> Tensor {
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = cfg.build(&vs.root()).unwrap();
    model.weights()[0].detach().copy()
}

#[test]
fn every_family_round_trips_through_a_checkpoint_and_refuses_another_family() {
    let _rng = torch_rng::torch_rng();
    let dataset = tiny();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for arch in [Arch::Sage, Arch::Gat, Arch::Appnp] {
        let cfg = ModelConfig::new(arch, 12, 8, 2, 3, 0.5);
        let settings = TrainConfig { epochs: 5, ..TrainConfig::default() };
        let trained = train(&cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
        let meta = CheckpointMeta {
            format_version: 1,
            model: cfg.clone(),
            dataset: fingerprint(&dataset),
            training: serde_json::json!({}),
        };
        let path = dir.path().join(format!("{arch}.safetensors"));
        save_checkpoint(&path, &trained.vs, &meta).unwrap();
        let (_vs, model, loaded) = load_checkpoint(&path, Device::Cpu).unwrap();
        assert_eq!(loaded.model, cfg, "{arch}");
        let diff = (predict(trained.model.as_ref(), &data) - predict(model.as_ref(), &data)).abs().max();
        assert_eq!(diff.double_value(&[]), 0.0, "{arch}");
    }
    // A GAT checkpoint whose metadata claims another family is refused, not loaded half-way.
    // Same length ("gat" -> "gcn"), so the header stays well-formed and only the family lies.
    let mut bytes = std::fs::read(dir.path().join("gat.safetensors")).unwrap();
    let needle = br#"\"arch\":\"gat\""#;
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the family is in the header");
    bytes[at + needle.len() - 5..at + needle.len() - 2].copy_from_slice(b"gcn");
    let forged = dir.path().join("forged.safetensors");
    std::fs::write(&forged, &bytes).unwrap();
    let err = load_checkpoint(&forged, Device::Cpu).err().expect("a family mismatch is an error").to_string();
    assert!(err.contains("forged.safetensors") && err.contains("parameter values"), "{err}");
}
