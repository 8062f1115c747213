//! NOSMOG's pieces: RSD against loops and finite differences, the PGD attack's ball and
//! ascent, the refusals, and its rows in a comparison (inductively blind to held-out nodes).

use gdistill_datasets::load;
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::setting::Setting;
use gdistill_distill::students::adversarial::{inside_ball, Pgd};
use gdistill_distill::students::nosmog::{NosmogConfig, NosmogParts};
use gdistill_distill::students::rsd::{gram, rsd_loss, Projection};
use gdistill_distill::students::train_nosmog;
use gdistill_distill::{soft_target_loss, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::{Arch, ModelConfig, NodeFeatures, SparseMatrix};
use tch::{nn, Device, Kind, Tensor};

#[path = "../../tests/support/node_methods.rs"]
mod node_methods;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

use node_methods::{assert_blind_to_held_out, matrix, with_held_out_features_rewritten};

const CSBM: &str = "csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed=7";

/// Independent oracle: `mean_ij (t_i . t_j - s_i . s_j)^2` with explicit loops.
fn rsd_oracle(t: &[Vec<f64>], s: &[Vec<f64>]) -> f64 {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let n = t.len();
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            sum += (dot(&t[i], &t[j]) - dot(&s[i], &s[j])).powi(2);
        }
    }
    sum / (n * n) as f64
}

#[test]
fn rsd_matches_explicit_loops_with_different_widths() {
    let (teacher, t) = matrix(5, 4, 0.3);
    let (student, s) = matrix(5, 3, 1.1);
    let got = rsd_loss(&teacher, &student).double_value(&[]);
    let want = rsd_oracle(&t, &s);
    assert!((got - want).abs() < 1e-10 * want.max(1.0), "{got} vs {want}");
    // The Gram matrix itself: symmetric, the squared norms on its diagonal.
    let g = gram(&student);
    let norm0: f64 = s[0].iter().map(|v| v * v).sum();
    assert!((g.double_value(&[0, 0]) - norm0).abs() < 1e-12);
    assert!((g.double_value(&[1, 3]) - g.double_value(&[3, 1])).abs() < 1e-12);
}

#[test]
fn rsd_gradient_matches_finite_differences() {
    let (teacher, t) = matrix(4, 3, 0.7);
    let (student, s) = matrix(4, 2, 2.0);
    let student = student.set_requires_grad(true);
    rsd_loss(&teacher, &student).backward();
    let grad = student.grad();
    let h = 1e-6;
    for i in 0..4 {
        for k in 0..2 {
            let bumped = |d: f64| {
                let mut s = s.clone();
                s[i][k] += d;
                rsd_oracle(&t, &s)
            };
            let fd = (bumped(h) - bumped(-h)) / (2.0 * h);
            let got = grad.double_value(&[i as i64, k as i64]);
            assert!((got - fd).abs() < 1e-6 * fd.abs().max(1.0), "[{i},{k}]: {got} vs {fd}");
        }
    }
}

#[test]
fn the_projection_is_a_linear_layer_and_a_relu() {
    // Its initialisation draws from libtorch's generator, which pgd_follows_the_seed seeds.
    let _rng = torch_rng::torch_rng();
    let vs = nn::VarStore::new(Device::Cpu);
    let p = Projection::new(&vs.root(), 3, 2);
    let (h, _) = matrix(4, 3, 0.1);
    let h = h.to_kind(Kind::Float);
    let want = (h.matmul(&p.weight) + &p.bias).clamp_min(0.0);
    assert!(p.forward(&h).allclose(&want, 1e-6, 1e-6, false));
    assert!(p.forward(&h).min().double_value(&[]) >= 0.0);
}

/// A fixed small MLP (eval mode) and a soft-target loss against fixed teacher logits.
fn fixed_student(hidden: Vec<i64>) -> (nn::VarStore, Box<dyn gdistill_models::NodeModel>, Tensor, Tensor) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = ModelConfig { hidden, ..ModelConfig::new(Arch::Mlp, 6, 8, 2, 3, 0.0) };
    let model = cfg.build(&vs.root()).unwrap();
    let x = Tensor::randn([10, 6], (Kind::Float, Device::Cpu));
    let teacher = Tensor::randn([10, 3], (Kind::Float, Device::Cpu)) * 2.0;
    (vs, model, x, teacher)
}

#[test]
fn pgd_stays_in_its_ball_and_raises_the_loss_of_a_fixed_model() {
    let _rng = torch_rng::torch_rng();
    tch::manual_seed(3);
    let no_graph = SparseMatrix::empty(10, Device::Cpu).unwrap();
    for hidden in [vec![8], vec![]] {
        let (_vs, model, x, teacher) = fixed_student(hidden.clone());
        let mut loss = |input: &Tensor| {
            let out = model.forward_t(&NodeFeatures::Dense(input.shallow_clone()), &no_graph, false);
            soft_target_loss(&out.logits, &teacher, 2.0)
        };
        let clean = tch::no_grad(|| loss(&x)).double_value(&[]);
        for eps in [0.05, 0.3] {
            let pgd = Pgd::new(eps, 5).unwrap();
            assert_eq!(pgd.step_size, eps / 4.0);
            let mut seen = 0;
            let delta = pgd.perturb(&x, &mut loss, &mut |_, d| {
                seen += 1;
                assert!(inside_ball(d, eps), "a step left the ball of radius {eps}");
            });
            assert_eq!(seen, 6, "the start and five steps");
            let attacked = tch::no_grad(|| loss(&(&x + &delta))).double_value(&[]);
            // The softmax loss of a linear model (no hidden layer) is convex in the input, so
            // the attack cannot do worse than the clean input; the MLP is the generic case.
            assert!(attacked > clean, "hidden {hidden:?}, eps {eps}: {attacked} <= clean {clean}");
        }
        let zero = Pgd::new(0.0, 5).unwrap().perturb(&x, &mut loss, &mut |_, _| {});
        assert_eq!(zero.abs().max().double_value(&[]), 0.0, "eps 0 perturbs nothing");
    }
}

#[test]
fn pgd_follows_the_seed() {
    let _rng = torch_rng::torch_rng();
    let no_graph = SparseMatrix::empty(10, Device::Cpu).unwrap();
    tch::manual_seed(5);
    let (_vs, model, x, teacher) = fixed_student(vec![8]);
    let mut loss = |input: &Tensor| {
        let out = model.forward_t(&NodeFeatures::Dense(input.shallow_clone()), &no_graph, false);
        soft_target_loss(&out.logits, &teacher, 1.0)
    };
    let pgd = Pgd::new(0.1, 5).unwrap();
    let run = |loss: &mut dyn FnMut(&Tensor) -> Tensor| {
        tch::manual_seed(11);
        pgd.perturb(&x, loss, &mut |_, _| {})
    };
    assert!(run(&mut loss).equal(&run(&mut loss)));
}

#[test]
fn bad_settings_are_refused_by_name() {
    for eps in [-0.01, f64::NAN, f64::INFINITY] {
        let err = Pgd::new(eps, 5).unwrap_err();
        assert!(err.contains("eps") && err.contains("non-negative"), "{err}");
    }
    let bad = [
        (NosmogConfig { adv_eps: -0.1, ..NosmogConfig::default() }, "adv_eps"),
        (NosmogConfig { rsd_weight: -1.0, ..NosmogConfig::default() }, "rsd_weight"),
        (NosmogConfig { adv_weight: f64::NAN, ..NosmogConfig::default() }, "adv_weight"),
        (NosmogConfig { batch_size: 1, ..NosmogConfig::default() }, "batch_size"),
        (NosmogConfig { adv_steps: 0, ..NosmogConfig::default() }, "adv_steps"),
        (NosmogConfig { projection_width: Some(0), ..NosmogConfig::default() }, "projection_width"),
        (NosmogConfig { epochs: 0, ..NosmogConfig::default() }, "epochs"),
    ];
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    for (nosmog, key) in bad {
        let config = CompareConfig { nosmog: Some(nosmog), ..CompareConfig::for_dataset(&dataset) };
        let err = config.validate().unwrap_err();
        assert!(err.contains(key), "{key}: {err}");
    }
    let mut one_layer = CompareConfig { nosmog: Some(NosmogConfig::default()), ..CompareConfig::for_dataset(&dataset) };
    one_layer.teacher.layers = 1;
    assert!(one_layer.validate().unwrap_err().contains("hidden layer"));
}

#[test]
fn configs_without_the_key_load_and_a_partial_table_takes_the_defaults() {
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    let config = CompareConfig::for_dataset(&dataset);
    let mut value = serde_json::to_value(&config).unwrap();
    assert!(value.get("nosmog").is_none(), "reports without NOSMOG rows keep their keys");
    assert_eq!(serde_json::from_value::<CompareConfig>(value.clone()).unwrap(), config);
    value["nosmog"] = serde_json::json!({ "adv_eps": 0.1 });
    let read: CompareConfig = serde_json::from_value(value).unwrap();
    assert_eq!(read.nosmog, Some(NosmogConfig { adv_eps: 0.1, ..NosmogConfig::default() }));
}

#[test]
fn training_refuses_what_nosmog_cannot_train() {
    let _rng = torch_rng::torch_rng();
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap();
    let (n, f, c) = (data.num_nodes(), data.num_features(), data.num_classes);
    let teacher = Tensor::zeros([n, c], (Kind::Float, Device::Cpu));
    let hidden = Tensor::zeros([n, 4], (Kind::Float, Device::Cpu));
    let mlp = ModelConfig::new(Arch::Mlp, f, 8, 2, c, 0.0);
    let settings = TrainConfig { epochs: 1, ..TrainConfig::default() };
    let nosmog = NosmogConfig::default();
    let run = |cfg: &ModelConfig, objective: &Objective, hidden: Option<&Tensor>, parts| {
        train_nosmog(cfg, &data, objective, hidden, &nosmog, parts, &settings, &mut |_| {}).err().map(|e| e.to_string())
    };
    let kd = Objective::soft_targets(teacher.shallow_clone(), 2.0, 0.0);
    let no_rsd = NosmogParts { rsd: false, adversarial: true };
    let cases = [
        (run(&ModelConfig::new(Arch::Gcn, f, 8, 2, c, 0.0), &kd, Some(&hidden), NosmogParts::FULL), "MLP"),
        (run(&ModelConfig::new(Arch::Mlp, f, 8, 1, c, 0.0), &kd, Some(&hidden), NosmogParts::FULL), "hidden layer"),
        (run(&mlp, &Objective::labels(), Some(&hidden), NosmogParts::FULL), "teacher"),
        (run(&mlp, &kd, None, NosmogParts::FULL), "RSD needs the teacher's last hidden layer"),
        (run(&mlp, &kd, Some(&hidden.narrow(0, 0, 5)), NosmogParts::FULL), "one row per node"),
    ];
    for (err, expected) in cases {
        let err = err.expect("refused");
        assert!(err.starts_with("NOSMOG") && err.contains(expected), "{expected}: {err}");
    }
    assert!(run(&mlp, &kd, None, no_rsd).is_none(), "without RSD the teacher's hidden layer is not needed");
}

#[test]
fn nosmog_rows_run_in_a_comparison_and_never_read_held_out_nodes() {
    let _rng = torch_rng::torch_rng();
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    let mut config = CompareConfig::for_dataset(&dataset);
    config.seeds = 1;
    config.setting = Setting::Inductive { held_out: 0.2 };
    config.lsp.rows = false;
    config.prune.rows = false;
    config.nosmog = Some(NosmogConfig { batch_size: 64, epochs: 8, ..NosmogConfig::default() });
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 8;
    }
    let report = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["teacher", "mlp", "mlp+kd", "mlp+nosmog", "mlp+nosmog-rsd", "mlp+nosmog-adv", "gcn-small", "gcn-small+kd"]
    );
    let kd_params = report.rows[2].params;
    for row in &report.rows[3..6] {
        assert_eq!(row.params, kd_params, "{}: the projection is not part of the student", row.name);
        assert!((0.0..=1.0).contains(&row.mean), "{}: {}", row.name, row.mean);
    }
    let rewritten = compare(&with_held_out_features_rewritten(&dataset), &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_blind_to_held_out(&report.rows[3..6], &rewritten.rows[3..6]);
}

#[test]
fn the_radius_is_in_units_of_the_non_zero_features() {
    use gdistill_distill::students::feature_scale;
    let binary = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0]).view([2, 3]);
    assert_eq!(feature_scale(&binary), 1.0, "NOSMOG's binary features: eps as its code has it");
    let normalised = Tensor::from_slice(&[0.5f32, 0.5, 0.0, 0.0, 0.0, 1.0]).view([2, 3]);
    assert!((feature_scale(&normalised) - 2.0 / 3.0).abs() < 1e-9);
    let signed = Tensor::from_slice(&[-2.0f32, 0.0, 4.0, 0.0]).view([2, 2]);
    assert!((feature_scale(&signed) - 3.0).abs() < 1e-9);
    assert_eq!(feature_scale(&Tensor::zeros([2, 2], (Kind::Float, Device::Cpu))), 1.0);
}

/// Cosine RSD by hand: teacher rows (1, 0) and (1, 1) have cosine 1/sqrt 2, student rows
/// (2, 0) and (0, 3) have cosine 0; the two off-diagonal entries differ by 1/sqrt 2, so the
/// mean of the squared differences over the 4 entries is (2 * 1/2) / 4 = 0.25, at any scale.
#[test]
fn cosine_rsd_matches_a_hand_computation_and_ignores_scale() {
    use gdistill_distill::students::rsd::{rsd_loss_with, RsdSimilarity};
    let teacher = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 1.0]).view([2, 2]);
    let student = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 3.0]).view([2, 2]);
    let loss = |t: &Tensor, s: &Tensor| rsd_loss_with(t, s, RsdSimilarity::Cosine).double_value(&[]);
    assert!((loss(&teacher, &student) - 0.25).abs() < 1e-6, "{}", loss(&teacher, &student));
    assert!((loss(&(&teacher * 100.0), &(&student * 0.01)) - 0.25).abs() < 1e-6, "scale moved the loss");
    let inner = rsd_loss_with(&(&teacher * 100.0), &student, RsdSimilarity::Inner).double_value(&[]);
    assert!(inner > 1e3, "the paper's inner products keep the scale: {inner}");
    // A zero row has no direction: it contributes zeros, not NaN, and its gradient is finite.
    let zero_row = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 1.0]).view([2, 2]).set_requires_grad(true);
    let l = rsd_loss_with(&teacher, &zero_row, RsdSimilarity::Cosine);
    l.backward();
    assert!(l.double_value(&[]).is_finite() && zero_row.grad().isfinite().all().int64_value(&[]) == 1);
}
