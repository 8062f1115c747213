//! G-CRD: the loss against a hand computation and finite differences, what it rewards, the
//! negatives it draws, the refusals, and its row in a comparison on Cora.

use gdistill_datasets::load;
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::students::gcrd::{gcrd_loss, project, sample_negatives, GcrdConfig, GcrdTerm, Negatives};
use gdistill_distill::{train, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::{Arch, Dense, ModelConfig};
use tch::{Device, Kind, Tensor};

#[path = "../../tests/support/data.rs"]
mod data;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

const CSBM: &str = "csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed=7";

/// A deterministic `[rows, cols]` f64 matrix, without libtorch's generator.
fn matrix(rows: i64, cols: i64, salt: f64) -> Tensor {
    let values: Vec<f64> = (0..rows * cols).map(|k| ((k * 7 % 11) as f64 + salt).sin() * 1.5).collect();
    Tensor::from_slice(&values).view([rows, cols])
}

fn unit_rows(m: &Tensor) -> Tensor {
    m / m.norm_scalaropt_dim(2.0, [-1], true)
}

#[test]
fn the_loss_matches_a_hand_computation() {
    // Three nodes on the unit circle at angles a; the student's are b. Anchor i's negatives are
    // fixed: node 0 -> [1, 2], node 1 -> [2], node 2 -> [0, 1].
    let (a, b) = ([0.0f64, 1.0, 2.5], [0.3f64, 0.9, -2.0]);
    let circle = |angles: &[f64]| {
        let flat: Vec<f64> = angles.iter().flat_map(|t| [t.cos(), t.sin()]).collect();
        Tensor::from_slice(&flat).view([3, 2])
    };
    let negatives = [vec![1i64, 2], vec![2], vec![0, 1]];
    let neg = Negatives::fixed(&negatives, 3, Device::Cpu);
    let tau = 0.5;
    let got = gcrd_loss(&circle(&b), &circle(&a), &neg, tau).double_value(&[]);
    // The dot product of two unit vectors at angles x and y is cos(x - y).
    let mut want = 0.0;
    for i in 0..3 {
        let positive = ((b[i] - a[i]).cos() / tau).exp();
        let all = positive + negatives[i].iter().map(|&j| ((b[i] - a[j as usize]).cos() / tau).exp()).sum::<f64>();
        want += -(positive / all).ln() / 3.0;
    }
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn the_gradient_matches_finite_differences() {
    // Through the projection and the normalisation: G-CRD as a function of the student's
    // hidden features, against central differences in f64.
    let (student, teacher) = (matrix(4, 3, 0.2), matrix(4, 5, 1.3));
    let head = |w: Tensor, b: Tensor| Dense { weight: w, bias: b };
    let (ws, wt) =
        (head(matrix(3, 2, 2.1), matrix(1, 2, 0.4).view([2])), head(matrix(5, 2, 0.8), matrix(1, 2, 3.0).view([2])));
    let neg = Negatives::fixed(&[vec![1, 2, 3], vec![0, 2], vec![1, 3], vec![0, 1, 2]], 4, Device::Cpu);
    let loss = |s: &Tensor| gcrd_loss(&project(s, &ws), &project(&teacher, &wt), &neg, 0.3);
    let x = student.set_requires_grad(true);
    loss(&x).backward();
    let grad = x.grad();
    let eps = 1e-6;
    for k in 0..12 {
        let (i, j) = (k / 3, k % 3);
        let shifted = |d: f64| {
            let s = x.detach().copy();
            let _ = s.get(i).get(j).f_add_(&Tensor::from(d)).unwrap();
            loss(&s).double_value(&[])
        };
        let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
        let analytic = grad.double_value(&[i, j]);
        assert!((numeric - analytic).abs() < 1e-6 * analytic.abs().max(1.0), "({i},{j}): {numeric} vs {analytic}");
    }
}

#[test]
fn a_student_equal_to_its_teacher_scores_lower_than_a_shuffled_one() {
    let teacher = unit_rows(&matrix(6, 4, 0.5));
    let neg = Negatives::fixed(
        &[vec![1, 2, 3], vec![0, 2, 4], vec![5, 0, 1], vec![0, 1, 2], vec![3, 5, 0], vec![4, 2, 1]],
        6,
        Device::Cpu,
    );
    let shuffled = teacher.index_select(0, &Tensor::from_slice(&[3i64, 5, 0, 1, 2, 4]));
    let same = gcrd_loss(&teacher, &teacher, &neg, 0.1).double_value(&[]);
    let other = gcrd_loss(&shuffled, &teacher, &neg, 0.1).double_value(&[]);
    assert!(same < other, "equal {same} vs shuffled {other}");
}

#[test]
fn each_anchor_gets_k_distinct_other_nodes_drawn_uniformly() {
    let _rng = torch_rng::torch_rng();
    tch::manual_seed(3);
    let (n, k, steps) = (5i64, 2usize, 2000);
    let mut counts = vec![vec![0i64; n as usize]; n as usize];
    for _ in 0..steps {
        let neg = sample_negatives(n, k, Device::Cpu);
        assert_eq!(neg.nodes.size(), [k as i64 + 1]);
        assert_eq!(neg.nodes.internal_unique(true, false).0.size()[0], k as i64 + 1, "distinct");
        let keep = neg.keep.to_kind(Kind::Int64);
        for i in 0..n {
            assert_eq!(keep.get(i).sum(Kind::Int64).int64_value(&[]), k as i64, "anchor {i}: K negatives");
            for m in 0..=k as i64 {
                if keep.int64_value(&[i, m]) == 1 {
                    counts[i as usize][neg.nodes.int64_value(&[m]) as usize] += 1;
                }
            }
        }
    }
    for (i, row) in counts.iter().enumerate() {
        assert_eq!(row[i], 0, "anchor {i} drew itself");
        // Each of the 4 others in half the steps (1 000); 880 is over five standard deviations away.
        for (j, &c) in row.iter().enumerate().filter(|&(j, _)| j != i) {
            assert!((880..1120).contains(&c), "anchor {i}, node {j}: {c}");
        }
    }
    let seeded = || {
        tch::manual_seed(3);
        sample_negatives(n, k, Device::Cpu)
    };
    let (a, b) = (seeded(), seeded());
    assert!(a.nodes.equal(&b.nodes) && a.keep.equal(&b.keep), "the draws follow the seed");
}

#[test]
fn bad_settings_are_refused_by_name() {
    let bad = [
        (GcrdConfig { tau: 0.0, ..GcrdConfig::default() }, "gcrd.tau"),
        (GcrdConfig { tau: -1.0, ..GcrdConfig::default() }, "gcrd.tau"),
        (GcrdConfig { tau: f64::NAN, ..GcrdConfig::default() }, "gcrd.tau"),
        (GcrdConfig { weight: -0.5, ..GcrdConfig::default() }, "gcrd.weight"),
        (GcrdConfig { weight: f64::NAN, ..GcrdConfig::default() }, "gcrd.weight"),
        (GcrdConfig { negatives: 0, ..GcrdConfig::default() }, "gcrd.negatives"),
        (GcrdConfig { projection_width: Some(0), ..GcrdConfig::default() }, "gcrd.projection_width"),
    ];
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    for (gcrd, key) in bad {
        assert!(gcrd.validate().unwrap_err().contains(key), "{key}");
        let config = CompareConfig { gcrd: Some(gcrd), ..CompareConfig::for_dataset(&dataset) };
        assert!(config.validate().unwrap_err().contains(key), "{key}");
    }
    let too_many = GcrdConfig { negatives: 240, ..GcrdConfig::default() };
    let err = too_many.validate_for(240).unwrap_err();
    assert!(err.contains("gcrd.negatives") && err.contains("240 nodes"), "{err}");
    assert!(GcrdConfig { negatives: 239, ..too_many }.validate_for(240).is_ok());
    let mut no_small = CompareConfig { gcrd: Some(GcrdConfig::default()), ..CompareConfig::for_dataset(&dataset) };
    (no_small.small_rows, no_small.prune.rows) = (false, false);
    assert!(no_small.validate().unwrap_err().contains("small student"));
    // Training refuses too many negatives for the graph it is given, by name.
    let _rng = torch_rng::torch_rng();
    let data = GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap();
    let (n, f, c) = (data.num_nodes(), data.num_features(), data.num_classes);
    let term = GcrdTerm { teacher_hidden: Tensor::zeros([n, 4], (Kind::Float, Device::Cpu)), config: too_many };
    let objective =
        Objective::soft_targets(Tensor::zeros([n, c], (Kind::Float, Device::Cpu)), 2.0, 0.0).with_gcrd(term);
    let cfg = ModelConfig::new(Arch::Gcn, f, 8, 2, c, 0.0);
    let err = train(&cfg, &data, &objective, &TrainConfig { epochs: 1, ..TrainConfig::default() }, &mut |_| {})
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("gcrd.negatives"), "{err}");
}

#[test]
fn configs_without_the_key_load_and_a_partial_table_takes_the_defaults() {
    let dataset = load(CSBM, std::path::Path::new(".")).unwrap();
    let config = CompareConfig::for_dataset(&dataset);
    let mut value = serde_json::to_value(&config).unwrap();
    assert!(value.get("gcrd").is_none(), "reports without the G-CRD row keep their keys");
    value["gcrd"] = serde_json::json!({ "tau": 0.2 });
    let read: CompareConfig = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(read.gcrd, Some(GcrdConfig { tau: 0.2, ..GcrdConfig::default() }));
    value["gcrd"] = serde_json::json!({ "temperature": 0.2 });
    assert!(serde_json::from_value::<CompareConfig>(value).is_err(), "an unknown key is refused");
}

#[test]
fn the_crd_row_trains_beside_kd_and_lsp_on_cora_for_each_small_family() {
    let _rng = torch_rng::torch_rng();
    let Some(dir) = data::data_dir("cora") else { return };
    let dataset = load("cora", dir.parent().unwrap()).unwrap();
    for family in [Arch::Gcn, Arch::Sage] {
        let mut config = CompareConfig::for_family(&dataset, family);
        config.seeds = 1;
        config.prune.rows = false;
        config.gcrd = Some(GcrdConfig { negatives: 64, ..GcrdConfig::default() });
        for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
            t.epochs = 5;
        }
        let report = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
        let s = format!("{family}-small");
        let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
        let small: Vec<String> = ["", "+kd", "+lsp", "+kd+lsp", "+crd"].iter().map(|x| format!("{s}{x}")).collect();
        assert_eq!(&names[names.len() - 5..], small.iter().map(String::as_str).collect::<Vec<_>>().as_slice());
        let (kd, crd) = (&report.rows[names.len() - 4], &report.rows[names.len() - 1]);
        assert_eq!(crd.params, kd.params, "the projections are not part of the student");
        assert!((0.0..=1.0).contains(&crd.mean), "{}", crd.mean);
    }
}
