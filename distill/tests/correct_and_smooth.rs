//! Correct and Smooth on the teacher's predictions: against the closed form of both
//! propagations (dense linear solves in f64), the hand cases of zero weights, selection that
//! never reads a test label, the config's checks, and a comparison that teaches from it.

use gdistill_datasets::{apply_split, SplitSpec};
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::transfer::correct_and_smooth::{correct_and_smooth, Alphas, CorrectAndSmooth};
use gdistill_models::{Arch, SparseMatrix};
use tch::{Device, Kind, Tensor};

/// A 7-node graph: a 5-cycle 0-1-2-3-4 with a chord 1-3, and an edge 5-6 apart from it.
const EDGES: [(usize, usize); 7] = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (1, 3), (5, 6)];
const N: usize = 7;
const C: usize = 3;

/// `D^-1/2 A D^-1/2` as a dense f64 matrix.
fn dense_s() -> Vec<Vec<f64>> {
    let mut a = vec![vec![0.0; N]; N];
    for &(u, v) in &EDGES {
        a[u][v] = 1.0;
        a[v][u] = 1.0;
    }
    let degree: Vec<f64> = a.iter().map(|row| row.iter().sum()).collect();
    (0..N).map(|i| (0..N).map(|j| a[i][j] / (degree[i] * degree[j]).sqrt()).collect()).collect()
}

fn sparse_s() -> SparseMatrix {
    let s = dense_s();
    let (mut crow, mut col, mut val) = (vec![0usize], vec![], vec![]);
    for row in &s {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                col.push(j);
                val.push(v as f32);
            }
        }
        crow.push(col.len());
    }
    SparseMatrix::from_csr(&crow, &col, &val, (N, N), Device::Cpu).unwrap()
}

/// `(1 - a) (I - a S)^-1 X`, the fixed point of `X ← (1 - a) X0 + a S X`, by Gaussian elimination.
fn closed_form(s: &[Vec<f64>], x: &[Vec<f64>], a: f64) -> Vec<Vec<f64>> {
    let cols = x[0].len();
    let mut m: Vec<Vec<f64>> = (0..N)
        .map(|i| {
            let mut row: Vec<f64> = (0..N).map(|j| f64::from(u8::from(i == j)) - a * s[i][j]).collect();
            row.extend(x[i].iter().map(|v| (1.0 - a) * v));
            row
        })
        .collect();
    for k in 0..N {
        let pivot = (k..N).max_by(|&p, &q| m[p][k].abs().total_cmp(&m[q][k].abs())).unwrap();
        m.swap(k, pivot);
        let pivot_row = m[k].clone();
        for (_, row) in m.iter_mut().enumerate().filter(|(i, _)| *i != k) {
            let f = row[k] / pivot_row[k];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(k) {
                *x -= f * p;
            }
        }
    }
    (0..N).map(|i| (0..cols).map(|c| m[i][N + c] / m[i][i]).collect()).collect()
}

/// Teacher probabilities, labels, training nodes.
fn case() -> (Vec<Vec<f64>>, Vec<i64>, Vec<usize>) {
    let probs = vec![
        vec![0.7, 0.2, 0.1],
        vec![0.2, 0.5, 0.3],
        vec![0.1, 0.1, 0.8],
        vec![0.3, 0.4, 0.3],
        vec![0.6, 0.3, 0.1],
        vec![0.2, 0.2, 0.6],
        vec![0.5, 0.25, 0.25],
    ];
    (probs, vec![1, 1, 2, 0, 0, 2, 2], vec![0, 3, 5])
}

fn tensor(rows: &[Vec<f64>]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64])
}

fn rows_of(t: &Tensor) -> Vec<Vec<f64>> {
    let flat = Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap();
    flat.chunks(C).map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect()
}

fn index(nodes: &[usize]) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&v| v as i64).collect::<Vec<_>>())
}

#[test]
fn both_propagations_reach_the_closed_form() {
    let (probs, labels, train) = case();
    let s = dense_s();
    let alphas = Alphas { correct: 0.8, smooth: 0.6 };
    // Correct: the training errors spread, then every node moved by the mean training error's
    // L1 size in the direction of its spread error.
    let mut error = vec![vec![0.0; C]; N];
    for &v in &train {
        for c in 0..C {
            error[v][c] = f64::from(u8::from(labels[v] == c as i64)) - probs[v][c];
        }
    }
    let spread = closed_form(&s, &error, alphas.correct);
    let sigma: f64 = train.iter().map(|&v| error[v].iter().map(|e| e.abs()).sum::<f64>()).sum::<f64>() / 3.0;
    let mut guess: Vec<Vec<f64>> = (0..N)
        .map(|i| {
            let size: f64 = spread[i].iter().map(|e| e.abs()).sum();
            let scale = if size > 0.0 { sigma / size } else { 0.0 };
            (0..C).map(|c| probs[i][c] + scale * spread[i][c]).collect()
        })
        .collect();
    for &v in &train {
        guess[v] = (0..C).map(|c| f64::from(u8::from(labels[v] == c as i64))).collect();
    }
    let expected = closed_form(&s, &guess, alphas.smooth);

    let got =
        correct_and_smooth(&tensor(&probs), &Tensor::from_slice(&labels), &index(&train), &sparse_s(), alphas, 400);
    for (i, (g, e)) in rows_of(&got).iter().zip(&expected).enumerate() {
        for c in 0..C {
            assert!((g[c] - e[c]).abs() < 1e-4, "node {i} class {c}: {} against {}", g[c], e[c]);
        }
    }
    // Node 6 has no path to a labelled node but through 5: its correction comes from 5 alone.
    assert!(rows_of(&got)[6][2] > probs[6][2]);
}

#[test]
fn zero_weights_keep_the_teacher_off_the_labelled_nodes() {
    let (probs, labels, train) = case();
    let got = correct_and_smooth(
        &tensor(&probs),
        &Tensor::from_slice(&labels),
        &index(&train),
        &sparse_s(),
        Alphas { correct: 0.0, smooth: 0.0 },
        10,
    );
    for (i, row) in rows_of(&got).iter().enumerate() {
        let expected: Vec<f64> = if train.contains(&i) {
            (0..C).map(|c| f64::from(u8::from(labels[i] == c as i64))).collect()
        } else {
            probs[i].clone()
        };
        for c in 0..C {
            assert!((row[c] - expected[c]).abs() < 1e-6, "node {i}: {row:?} against {expected:?}");
        }
    }
}

#[test]
fn validation_chooses_the_weights_and_test_labels_are_never_read() {
    let (probs, mut labels, train) = case();
    let logits = tensor(&probs).log();
    let cs = CorrectAndSmooth::default();
    let (val, test) = (index(&[1, 6]), index(&[2, 4]));
    let run =
        |labels: &[i64]| cs.apply(&logits, &sparse_s(), &Tensor::from_slice(labels), (&index(&train), &val, &test));
    let first = run(&labels);
    // The chosen pair is the first in grid order with the best validation accuracy.
    let mut best = (-1.0, None);
    for &correct in &cs.correct_alphas {
        for &smooth in &cs.smooth_alphas {
            let alphas = Alphas { correct, smooth };
            let g = correct_and_smooth(
                &tensor(&probs),
                &Tensor::from_slice(&labels),
                &index(&train),
                &sparse_s(),
                alphas,
                50,
            );
            let acc = gdistill_distill::accuracy(&g, &Tensor::from_slice(&labels), &val);
            if acc > best.0 {
                best = (acc, Some(alphas));
            }
        }
    }
    assert_eq!(Some(first.figures.alphas), best.1);
    assert_eq!(first.figures.val_acc, best.0);
    // The targets are a distribution per node.
    let sums = Vec::<f32>::try_from(first.log_probs.exp().sum_dim_intlist(1, false, Kind::Float)).unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    // Other labels on the test nodes: the same targets and choice, another test score.
    labels[2] = 0;
    labels[4] = 1;
    let second = run(&labels);
    assert!(first.log_probs.equal(&second.log_probs));
    assert_eq!(first.figures.alphas, second.figures.alphas);
    assert_ne!(first.figures.test_acc, second.figures.test_acc);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let refused = |cs: CorrectAndSmooth| cs.validate().unwrap_err();
    let e = refused(CorrectAndSmooth { correct_alphas: vec![], ..Default::default() });
    assert!(e.contains("correct_alphas is empty"), "{e}");
    let e = refused(CorrectAndSmooth { smooth_alphas: vec![0.5, 1.5], ..Default::default() });
    assert!(e.contains("smooth_alphas: 1.5 is not a weight in [0, 1]"), "{e}");
    let e = refused(CorrectAndSmooth { correct_alphas: vec![f64::NAN], ..Default::default() });
    assert!(e.contains("NaN is not a weight"), "{e}");
    let e = refused(CorrectAndSmooth { iterations: 0, ..Default::default() });
    assert!(e.contains("iterations must be at least 1"), "{e}");
    assert_eq!(CorrectAndSmooth::default().validate(), Ok(()));
}

/// A comparison with C&S reports the smoothed teacher on its teacher row, per seed, and its
/// students learn from it: the teacher's own rows are untouched, the distilled ones move.
#[test]
fn a_comparison_teaches_from_the_smoothed_predictions() {
    tch::set_num_threads(1);
    let d = gdistill_datasets::load(
        "csbm:nodes=600,classes=3,degree=6,homophily=0.8,features=12,signal=0.4,seed=3",
        std::path::Path::new("."),
    )
    .unwrap();
    let d = apply_split(&d, &SplitSpec::Random { train: 0.1, val: 0.2 }, 0).unwrap();
    let run = |cs: Option<CorrectAndSmooth>| {
        let mut config = CompareConfig::for_family(&d, Arch::Gcn);
        config.seeds = 2;
        config.split = SplitSpec::PerClass { train: 20, val: 30 };
        config.lsp.rows = false;
        config.prune.rows = false;
        config.teacher_training.epochs = 30;
        config.student_training.epochs = 10;
        config.distill_training.epochs = 10;
        config.correct_and_smooth = cs;
        compare(&d, &config, Device::Cpu, &mut |_| {}).unwrap()
    };
    let plain = run(None);
    let smoothed = run(Some(CorrectAndSmooth::default()));
    let row = |r: &gdistill_distill::compare::CompareReport, name: &str| {
        r.rows.iter().find(|row| row.name == name).unwrap().clone()
    };
    assert!(row(&plain, "teacher").correct_and_smooth.is_none());
    let cs = row(&smoothed, "teacher").correct_and_smooth.clone().expect("the teacher row reports C&S");
    assert_eq!((cs.test_acc.len(), cs.val_acc.len(), cs.alphas.len()), (2, 2, 2));
    assert!(cs.test_acc.iter().all(|a| (0.0..=1.0).contains(a)));
    assert_eq!(row(&plain, "teacher").test_acc, row(&smoothed, "teacher").test_acc);
    assert_eq!(row(&plain, "mlp").test_acc, row(&smoothed, "mlp").test_acc);
    assert_ne!(row(&plain, "mlp+kd").val_acc, row(&smoothed, "mlp+kd").val_acc);
}

#[test]
fn logit_matching_is_refused_with_it() {
    let d = gdistill_datasets::load("csbm:nodes=100,classes=2,degree=4,features=4,seed=1", std::path::Path::new("."))
        .unwrap();
    let mut config = CompareConfig::for_family(&d, Arch::Gcn);
    config.correct_and_smooth = Some(CorrectAndSmooth::default());
    assert_eq!(config.validate(), Ok(()));
    config.kd_loss = gdistill_distill::compare::KdLoss::Logits;
    let e = config.validate().unwrap_err();
    assert!(e.contains("correct_and_smooth") && e.contains("kd_loss soft-targets"), "{e}");
}
