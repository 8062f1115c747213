//! Ensemble teachers and int8 quantization: the averaging and the rounding against hand
//! computations, and the compare rows on Cora at CI size.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::load;
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::ensemble::{combine_logits, Ensemble, EnsembleCombine, EnsembleConfig};
use gdistill_distill::quantize::{ActivationQuant, QuantizedWeight};
use gdistill_models::{Arch, ModelConfig, NodeFeatures, NodeModel, SparseMatrix};
use tch::{nn, Device, Kind, Tensor};

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let n = t.size()[0];
    (0..n).map(|i| Vec::<f64>::try_from(&t.get(i).to_kind(Kind::Double)).unwrap()).collect()
}

fn softmax(z: &[f64], t: f64) -> Vec<f64> {
    let e: Vec<f64> = z.iter().map(|v| (v / t).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

const MEMBERS: [[[f64; 3]; 2]; 3] =
    [[[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], [[3.0, 1.0, 0.0], [2.0, 2.0, 2.0]], [[-1.0, 4.0, 0.5], [0.3, -2.0, 1.0]]];

fn member_tensors() -> Vec<Tensor> {
    MEMBERS.iter().map(|m| Tensor::from_slice(&m.concat()).view([2, 3]).to_kind(Kind::Float)).collect()
}

#[test]
fn averaged_soft_targets_are_the_mean_of_the_members_tempered_softmaxes() {
    let t = 2.5;
    let z = combine_logits(&member_tensors(), EnsembleCombine::SoftTargets, t);
    // What the training loop computes from a teacher's logits: log softmax(z / T).
    let got = rows(&(&z / t).log_softmax(-1, Kind::Float).exp());
    for node in 0..2 {
        let members: Vec<Vec<f64>> = MEMBERS.iter().map(|m| softmax(&m[node], t)).collect();
        for class in 0..3 {
            let want = members.iter().map(|q| q[class]).sum::<f64>() / 3.0;
            assert!(
                (got[node][class] - want).abs() < 1e-6,
                "node {node} class {class}: {} vs {want}",
                got[node][class]
            );
        }
    }
}

#[test]
fn averaged_logits_are_the_mean_logits_and_differ_from_averaged_soft_targets() {
    let t = 2.5;
    let z = rows(&combine_logits(&member_tensors(), EnsembleCombine::Logits, t));
    for node in 0..2 {
        for class in 0..3 {
            let want = MEMBERS.iter().map(|m| m[node][class]).sum::<f64>() / 3.0;
            assert!((z[node][class] - want).abs() < 1e-6);
        }
    }
    // The product of the members is sharper than their mixture where they disagree.
    let mixture = softmax(&rows(&combine_logits(&member_tensors(), EnsembleCombine::SoftTargets, t))[0], t);
    let product = softmax(&z[0], t);
    assert!((mixture[1] - product[1]).abs() > 1e-3, "{mixture:?} vs {product:?}");
}

#[test]
fn an_ensemble_of_one_is_its_member_and_its_prediction_is_the_mean_probability() {
    let x = NodeFeatures::Dense(Tensor::randn([6, 4], (Kind::Float, Device::Cpu)));
    let graph = SparseMatrix::from_csr(&[0; 7], &[], &[], (6, 6), Device::Cpu).unwrap();
    let stores: Vec<nn::VarStore> = (0..3).map(|_| nn::VarStore::new(Device::Cpu)).collect();
    let models: Vec<Box<dyn NodeModel>> =
        stores.iter().map(|vs| ModelConfig::new(Arch::Mlp, 4, 5, 2, 3, 0.0).build(&vs.root()).unwrap()).collect();
    let member_probs: Vec<Tensor> =
        models.iter().map(|m| m.forward_t(&x, &graph, false).logits.softmax(-1, Kind::Float)).collect();
    let mean = Tensor::stack(&member_probs, 0).mean_dim(0, false, Kind::Float);
    let ensemble = Ensemble::new(models, EnsembleCombine::SoftTargets);
    let got = ensemble.forward_t(&x, &graph, false).logits.softmax(-1, Kind::Float);
    assert!(got.allclose(&mean, 1e-5, 1e-6, false));
    assert_eq!(ensemble.weights().len(), 6, "every member's weights");
}

#[test]
fn int8_weights_match_a_hand_computation_and_libtorch_per_channel_quantization() {
    // Columns: max |w| = 1.27 and 0.5; scales 0.01 and 0.5 / 127.
    let w = Tensor::from_slice(&[1.27f32, 0.5, -0.004, -0.25, 0.635, 0.001]).view([3, 2]);
    let q = QuantizedWeight::per_output_channel(&w);
    let scales = Vec::<f32>::try_from(&q.scales).unwrap();
    assert!((scales[0] - 0.01).abs() < 1e-7 && (scales[1] - 0.5 / 127.0).abs() < 1e-9);
    // round(-0.4) = 0, round(63.5) = 64 (half to even), round(0.254) = 0, round(-63.5) = -64.
    assert_eq!(Vec::<i8>::try_from(&q.values.view([-1])).unwrap(), vec![127, 127, 0, -64, 64, 0]);
    assert_eq!(q.bytes(), 6 + 2 * 4);
    // libtorch's own per-channel quantizer (axis 1, zero points 0) stores the same integers.
    let torch = w.quantize_per_channel(
        &q.scales.to_kind(Kind::Double),
        &Tensor::zeros([2], (Kind::Int64, Device::Cpu)),
        1,
        Kind::QInt8,
    );
    assert_eq!(
        Vec::<i8>::try_from(&torch.int_repr().view([-1])).unwrap(),
        Vec::<i8>::try_from(&q.values.view([-1])).unwrap()
    );
}

#[test]
fn quantize_dequantize_error_is_at_most_half_a_step() {
    tch::manual_seed(3);
    let w = Tensor::randn([50, 7], (Kind::Float, Device::Cpu))
        * Tensor::from_slice(&[0.01f32, 0.1, 1.0, 10.0, 3.0, 0.5, 2.0]);
    let q = QuantizedWeight::per_output_channel(&w);
    let error = (q.dequantize() - &w).abs().amax([0i64].as_slice(), false);
    let half_step = &q.scales / 2.0;
    assert!(bool::try_from(error.le_tensor(&(&half_step * (1.0 + 1e-5))).all()).unwrap(), "{error:?} {half_step:?}");

    let a = ActivationQuant::calibrate(-1.0, 1.55);
    assert!((a.scale - 0.01).abs() < 1e-12 && a.zero_point == 100);
    let x = Tensor::from_slice(&[0.123f64, -1.0, 0.0, 1.55, 2.0, -3.0]);
    let got = Vec::<f64>::try_from(&a.fake_quant(&x)).unwrap();
    let want = [0.12, -1.0, 0.0, 1.55, 1.55, -1.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-9, "{got:?} vs {want:?}");
    }
    let inside = Tensor::rand([1000], (Kind::Double, Device::Cpu)) * 2.55 - 1.0;
    let err = (a.fake_quant(&inside) - &inside).abs().max().double_value(&[]);
    assert!(err <= a.scale / 2.0 + 1e-12, "{err}");
}

fn ci_config(cora: &gdistill_datasets::NodeDataset) -> CompareConfig {
    let mut config = CompareConfig::for_dataset(cora);
    config.seeds = 1;
    config.lsp.rows = false;
    config.prune.rows = false;
    config.teacher_training.epochs = 100;
    config.student_training.epochs = 100;
    config.distill_training.epochs = 150;
    config
}

#[test]
fn cora_int8_rows_keep_accuracy_within_half_a_point_at_a_quarter_of_the_bytes() {
    let Some(dir) = data::data_dir("cora") else { return };
    let cora = load("cora", dir.parent().unwrap()).expect("cora loads");
    let config = CompareConfig { int8_rows: true, ..ci_config(&cora) };
    let report = compare(&cora, &config, Device::Cpu, &mut |_| {}).unwrap();
    let row = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("row {name}"));
    for (float, int8) in [("teacher", "teacher-int8"), ("mlp+kd", "mlp+kd-int8")] {
        let (f, q) = (row(float), row(int8));
        assert!((f.mean - q.mean).abs() <= 0.005, "{int8} {} vs {float} {}", q.mean, f.mean);
        let (fb, qb) = (f.weight_bytes.unwrap(), q.weight_bytes.unwrap());
        assert_eq!(fb, 4 * f.params);
        assert!(fb as f64 / qb as f64 >= 3.9, "{int8}: {qb} bytes against {fb}");
    }
}

#[test]
fn cora_ensemble_teacher_row_sums_parameters_and_reports_its_members() {
    let Some(dir) = data::data_dir("cora") else { return };
    let cora = load("cora", dir.parent().unwrap()).expect("cora loads");
    let mut config = ci_config(&cora);
    config.ensemble = Some(EnsembleConfig::of_size(3, EnsembleCombine::SoftTargets));
    let report = compare(&cora, &config, Device::Cpu, &mut |_| {}).unwrap();
    let single = CompareConfig::for_dataset(&cora).teacher.config(Arch::Gcn, 1433, 7).num_params();
    let teacher = &report.rows[0];
    assert_eq!(teacher.params, 3 * single);
    let members = teacher.ensemble.as_ref().expect("member accuracies");
    assert_eq!((members.members, members.member_acc.len(), members.member_acc[0].len()), (3, 3, 1));
    assert!(members.member_acc.iter().flatten().all(|a| (0.5..=1.0).contains(a)), "{members:?}");
    assert!(teacher.mean > 0.7, "ensemble {}", teacher.mean);
    assert!(report.rows.iter().skip(1).all(|r| r.ensemble.is_none()));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["config"]["ensemble"]["members"], 3);
    assert_eq!(json["rows"][0]["ensemble"]["member_mean"].as_array().unwrap().len(), 3);
}

#[test]
fn a_var_stores_weights_round_per_output_channel_and_the_rest_stays_f32() {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let mut conv = nn::conv1d(vs.root() / "c", 3, 2, 1, Default::default());
    let norm = nn::batch_norm1d(vs.root() / "n", 2, Default::default());
    tch::no_grad(|| {
        conv.ws.copy_(&Tensor::from_slice(&[1.0f32, -0.5, 0.3, 0.02, 0.01, -0.04]).view([2, 3, 1]));
        conv.bs.as_mut().unwrap().copy_(&Tensor::from_slice(&[0.123f32, -0.456]));
    });
    let before = conv.ws.copy();
    let f32_bytes = gdistill_distill::quantize_store::f32_store_bytes(&vs);
    // conv: 6 weights + 2 biases; batch norm: 2 scales, 2 shifts, 2 running means, 2 variances.
    assert_eq!(f32_bytes, 4 * (6 + 2 + 8));
    let bytes = gdistill_distill::quantize_store::quantize_store_weights(&mut vs);
    // 6 int8 weights and 2 channel scales; 2 biases and the 8 batch-norm values in f32.
    assert_eq!(bytes, 6 + 4 * 2 + 4 * (2 + 8));
    // Channel 0 has max |w| = 1, channel 1 0.04: each error within its own scale / 2.
    let err = (&conv.ws - &before).abs().view([2, 3]);
    for (c, max) in [(0i64, 1.0f64), (1, 0.04)] {
        let worst = err.get(c).max().double_value(&[]);
        assert!(worst <= max / 127.0 / 2.0 + 1e-7, "channel {c}: {worst}");
    }
    assert!(err.get(1).max().double_value(&[]) < 1e-3, "the small channel keeps its own fine grid");
    assert_eq!(Vec::<f32>::try_from(conv.bs.as_ref().unwrap()).unwrap(), vec![0.123f32, -0.456]);
    let _ = norm;
}
