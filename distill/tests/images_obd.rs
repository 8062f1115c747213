//! `teacher-obd` for images: the empirical Fisher and OBD's saliency against a hand computation,
//! pruning to an exact count of weights that retraining keeps at zero, the row in a CI-sized
//! comparison on the digits, and one clear error for a count that cannot be reached.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::{load_images, ImageDataset};
use gdistill_distill::images::{
    compare_images, image_fisher_diagonal, prune_image_model, train_image_model, ImageCompareConfig, ImageData,
    ImageObjective, ImageTrainConfig,
};
use gdistill_distill::prune::{keep_schedule, obd_saliency, prune_to_count, store_weights, Masks};
use gdistill_models::ImageArch;
use tch::{nn, Device, Kind, Tensor};

fn mlp(hidden: &[i64]) -> ImageArch {
    ImageArch::Mlp { hidden: hidden.to_vec(), input_dropout: 0.0, dropout: 0.0 }
}

fn host(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

/// Six 2x2 images in three classes, all for training: the model is `x W + b`, so the gradient
/// of a batch's mean cross-entropy is `X^T (softmax(X W + b) - Y) / B` by hand.
fn tiny_images() -> ImageDataset {
    let images = vec![
        0.1, 0.9, 0.3, 0.0, 0.8, 0.2, 0.5, 0.4, 0.0, 0.6, 0.7, 1.0, 0.3, 0.3, 0.9, 0.2, 1.0, 0.0, 0.1, 0.5, 0.4, 0.7,
        0.2, 0.6,
    ];
    ImageDataset {
        name: "tiny".into(),
        images,
        labels: vec![0, 1, 2, 1, 0, 2],
        height: 2,
        width: 2,
        num_classes: 3,
        train: (0..6).collect(),
        val: vec![],
        test: vec![],
    }
}

#[test]
fn saliency_is_h_w_squared_over_two_with_the_fisher_of_a_hand_computed_gradient() {
    let dataset = tiny_images();
    let data = ImageData::new(&dataset, Device::Cpu);
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = mlp(&[]).build(&vs.root(), data.shape).unwrap();
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            v.copy_(&(Tensor::randn(v.size(), (Kind::Float, Device::Cpu)) * 0.5));
        }
    });
    let weights = store_weights(&vs);
    assert_eq!(weights.len(), 1, "one weight matrix, the bias is not pruned");
    let refs: Vec<&Tensor> = weights.iter().collect();
    // batches of 4 and 2: the uneven last batch is weighted by its size
    let fisher = image_fisher_diagonal(model.as_ref(), &data, &refs, 4).unwrap();
    let saliency = obd_saliency(&fisher, &refs);

    let w = host(&weights[0]); // [4 pixels, 3 classes], row-major
    let bias = host(&vs.variables().into_iter().find(|(_, v)| v.dim() == 1).unwrap().1);
    let (x, y) = (&dataset.images, &dataset.labels);
    let mut expected_h = [0.0f64; 12];
    for batch in [0..4usize, 4..6] {
        let size = batch.len() as f64;
        let mut grad = [0.0f64; 12];
        for i in batch {
            let z: Vec<f64> =
                (0..3).map(|c| bias[c] + (0..4).map(|j| x[i * 4 + j] as f64 * w[j * 3 + c]).sum::<f64>()).collect();
            let norm: f64 = z.iter().map(|v| v.exp()).sum();
            for c in 0..3 {
                let p = z[c].exp() / norm;
                let residual = p - if y[i] == c { 1.0 } else { 0.0 };
                for j in 0..4 {
                    grad[j * 3 + c] += x[i * 4 + j] as f64 * residual / size;
                }
            }
        }
        for k in 0..12 {
            expected_h[k] += size * grad[k] * grad[k] / 2.0; // mean over the two batches
        }
    }
    let (h, s) = (host(&fisher[0]), host(&saliency[0]));
    for k in 0..12 {
        assert!(
            (h[k] - expected_h[k]).abs() <= 1e-6 * (1.0 + expected_h[k]),
            "h[{k}] {} against {}",
            h[k],
            expected_h[k]
        );
        let expected_s = expected_h[k] * w[k] * w[k] / 2.0;
        assert!((s[k] - expected_s).abs() <= 1e-6 * (1.0 + expected_s), "s[{k}] {} against {expected_s}", s[k]);
    }
}

#[test]
fn pruning_reaches_the_count_exactly_and_retraining_keeps_pruned_weights_at_zero() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let arch = mlp(&[32]);
    let settings = ImageTrainConfig { epochs: 3, patience: None, ..Default::default() };
    let teacher = train_image_model(&arch, &data, &ImageObjective::Labels, &settings, &mut |_| {}).unwrap();
    let total = 64 * 32 + 32 * 10; // 2368 weights; biases 32 + 10
    assert_eq!(keep_schedule(total, 1000, 2).unwrap(), [1684, 1000]);
    let retrain = ImageTrainConfig { epochs: 2, lr: 1e-3, patience: None, ..Default::default() };
    let pruned = prune_image_model(&teacher, &arch, &data, 1000, 2, &retrain).unwrap();

    let weights = store_weights(&pruned.trained.vs);
    let nonzero: i64 = weights.iter().map(|w| w.ne(0.0).sum(Kind::Int64).int64_value(&[])).sum();
    assert_eq!(nonzero, 1000);
    assert_eq!(pruned.masks.kept(), 1000);
    for (w, m) in weights.iter().zip(&pruned.masks.0) {
        let pruned_weights = (w * (m.ones_like() - m)).abs().sum(Kind::Double).double_value(&[]);
        assert_eq!(pruned_weights, 0.0, "a pruned weight came back");
    }
    assert_eq!(pruned.params, 1000 + 32 + 10);
    // CSR of the [in, out] matrices: 8 bytes per non-zero, in + 1 row offsets each; f32 biases.
    assert_eq!(pruned.weight_bytes, 8 * 1000 + 4 * (65 + 33) + 4 * (32 + 10));
    // retraining moved the kept weights away from the teacher's
    let before = store_weights(&teacher.vs);
    let moved: f64 = before
        .iter()
        .zip(&weights)
        .zip(&pruned.masks.0)
        .map(|((b, a), m)| ((a - b) * m).abs().sum(Kind::Double).double_value(&[]))
        .sum();
    assert!(moved > 0.0);
    let score = gdistill_distill::images::score_images(pruned.trained.model.as_ref(), &data, &data.test);
    assert!(score.accuracy > 0.5, "the pruned net still classifies: {}", score.accuracy);
}

#[test]
fn teacher_obd_row_on_digits_has_the_students_count_of_weights() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let mut config = ImageCompareConfig::for_shape(data.shape);
    config.seeds = 1;
    config.rows = vec!["teacher".into(), "mlp-800+kd".into()];
    for t in config.trainings_mut() {
        t.epochs = 2;
    }
    config.prune.rows = true;
    config.prune.retrain_epochs = 1;
    let report = compare_images(&digits, &config, Device::Cpu, &mut |_| {}).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["teacher", "mlp-800+kd", "teacher-obd"]);
    let obd = &report.rows[2];
    // mlp-800's weights on 8x8 digits: 64*800 + 800*800 + 800*10; the teacher's biases: 1200 + 1200 + 10.
    assert_eq!(obd.params, 64 * 800 + 800 * 800 + 800 * 10 + 2410);
    assert_eq!(report.rows[1].params, 64 * 800 + 800 * 800 + 800 * 10 + 1610);
    assert!(obd.weight_bytes.is_some() && report.rows[0].weight_bytes.is_some());
    assert!(obd.mean > 0.5, "{}", obd.mean);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["config"]["prune"]["rows"], true);
}

#[test]
fn an_unreachable_count_of_weights_is_one_clear_error() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let mut config = ImageCompareConfig::for_shape(data.shape);
    config.seeds = 1;
    config.rows = vec!["teacher".into()];
    config.prune.rows = true;
    // a student wider than the teacher: nothing to prune to
    config.mlp_800.model = mlp(&[2000, 2000]);
    let err = compare_images(&digits, &config, Device::Cpu, &mut |_| {}).err().unwrap().to_string();
    assert!(err.contains("teacher-obd prunes the teacher's 1528800 weights to mlp-800's 4148000"), "{err}");
    config.mlp_800.model = mlp(&[800, 800]);
    config.prune.steps = 0;
    assert_eq!(config.validate().unwrap_err(), "prune.steps must be at least 1");

    assert!(keep_schedule(10, 11, 1).unwrap_err().to_string().contains("between 1 and 10"));
    assert!(keep_schedule(10, 0, 1).is_err());
    let masks = Masks(vec![Tensor::ones([4], (Kind::Float, Device::Cpu))]);
    let saliency = [Tensor::from_slice(&[0.3f32, 0.1, 0.2, 0.4])];
    assert!(prune_to_count(&saliency, &masks, 5).is_err());
    let (kept, _) = prune_to_count(&saliency, &masks, 3).unwrap();
    assert_eq!(host(&kept.0[0]), [1.0, 0.0, 1.0, 1.0]);
}
