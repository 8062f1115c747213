//! VQGraph's pieces against hand computations (nearest codes, the straight-through gradient,
//! the codebook and commitment losses, the code distillation's KL, the batch adjacency), its
//! refusals, and its rows in a comparison, inductively blind to the held-out nodes.

use gdistill_datasets::{load, NodeDataset};
use gdistill_distill::compare::{compare, CompareConfig};
use gdistill_distill::lsp::EdgeList;
use gdistill_distill::setting::Setting;
use gdistill_distill::students::vqgraph::{
    batch_adjacency, code_distillation_loss, nearest_codes, quantize, squared_distances, VqgraphConfig,
};
use tch::{Device, Kind, Tensor};

#[path = "../../tests/support/node_methods.rs"]
mod node_methods;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

use node_methods::{assert_blind_to_held_out, matrix, with_held_out_features_rewritten};

const CSBM: &str = "csbm:nodes=240,classes=3,degree=5,features=10,signal=1,seed=7";

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The index of the nearest row of `codes` to `z`, by a scan (the first on ties).
fn brute_nearest(z: &[f64], codes: &[Vec<f64>]) -> usize {
    let mut best = 0;
    for (k, code) in codes.iter().enumerate() {
        if sq_dist(z, code) < sq_dist(z, &codes[best]) {
            best = k;
        }
    }
    best
}

#[test]
fn assignment_matches_brute_force_nearest_codes() {
    let (z, zs) = matrix(40, 5, 0.3);
    let (codebook, cs) = matrix(9, 5, 2.1);
    let got = Vec::<i64>::try_from(&nearest_codes(&z, &codebook)).unwrap();
    let want: Vec<i64> = zs.iter().map(|row| brute_nearest(row, &cs) as i64).collect();
    assert_eq!(got, want);
    assert!(want.iter().collect::<std::collections::HashSet<_>>().len() > 3, "the case must use several codes");
    let q = quantize(&z, &codebook, 0.25);
    assert_eq!(Vec::<i64>::try_from(&q.codes).unwrap(), want);
    // Forward, each output is replaced by its code.
    for (i, &k) in want.iter().enumerate() {
        let row = Vec::<f64>::try_from(q.quantized.get(i as i64)).unwrap();
        for (a, b) in row.iter().zip(&cs[k as usize]) {
            assert!((a - b).abs() < 1e-12, "node {i}: {row:?} vs {:?}", cs[k as usize]);
        }
    }
    // The distances themselves.
    let d = squared_distances(&z, &codebook);
    assert!((d.double_value(&[3, 4]) - sq_dist(&zs[3], &cs[4])).abs() < 1e-10);
}

#[test]
fn the_straight_through_gradient_reaches_the_encoder_output_unchanged() {
    let (z, _) = matrix(6, 3, 0.9);
    let (codebook, _) = matrix(4, 3, 4.0);
    let (z, codebook) = (z.set_requires_grad(true), codebook.set_requires_grad(true));
    let (upstream, _) = matrix(6, 3, 7.7);
    let q = quantize(&z, &codebook, 0.25);
    (&q.quantized * &upstream).sum(Kind::Double).backward();
    // d loss / d quantized = upstream, passed to z as it is.
    assert!(z.grad().equal(&upstream), "{:?}", z.grad());
    // The codebook takes nothing from the reconstruction path.
    let codebook_grad = codebook.grad();
    assert!(!codebook_grad.defined() || codebook_grad.abs().sum(Kind::Double).double_value(&[]) == 0.0);
}

#[test]
fn codebook_and_commitment_losses_match_a_hand_computation() {
    let (z, zs) = matrix(7, 4, 1.3);
    let (codebook, cs) = matrix(3, 4, 5.5);
    let (z, codebook) = (z.set_requires_grad(true), codebook.set_requires_grad(true));
    let beta = 0.25;
    let q = quantize(&z, &codebook, beta);
    // Means over the 7 x 4 entries.
    let mean_sq: f64 = zs.iter().map(|row| sq_dist(row, &cs[brute_nearest(row, &cs)])).sum::<f64>() / 28.0;
    assert!((q.codebook_loss.double_value(&[]) - mean_sq).abs() < 1e-10);
    assert!((q.commitment_loss.double_value(&[]) - beta * mean_sq).abs() < 1e-10);
    // The codebook loss moves only the codes: d/de_k = 2 (e_k - z_i) / (N D) over its nodes.
    q.codebook_loss.backward();
    assert!(!z.grad().defined() || z.grad().abs().sum(Kind::Double).double_value(&[]) == 0.0);
    let mut want = vec![vec![0.0; 4]; 3];
    for row in &zs {
        let k = brute_nearest(row, &cs);
        for j in 0..4 {
            want[k][j] += 2.0 * (cs[k][j] - row[j]) / 28.0;
        }
    }
    for (k, want_k) in want.iter().enumerate() {
        for (j, w) in want_k.iter().enumerate() {
            assert!((codebook.grad().double_value(&[k as i64, j as i64]) - w).abs() < 1e-10);
        }
    }
    // The commitment loss moves only the outputs: d/dz_i = 2 beta (z_i - e_i) / (N D).
    let (z2, codebook2) = (z.detach().set_requires_grad(true), codebook.detach().set_requires_grad(true));
    quantize(&z2, &codebook2, beta).commitment_loss.backward();
    assert!(!codebook2.grad().defined() || codebook2.grad().abs().sum(Kind::Double).double_value(&[]) == 0.0);
    let k = brute_nearest(&zs[2], &cs);
    let want = 2.0 * beta * (zs[2][1] - cs[k][1]) / 28.0;
    assert!((z2.grad().double_value(&[2, 1]) - want).abs() < 1e-10);
}

#[test]
fn code_distillation_matches_a_dense_hand_computation() {
    let (student, ss) = matrix(5, 3, 0.2);
    let (teacher, ts) = matrix(5, 3, 3.3);
    let (codebook, cs) = matrix(6, 3, 8.1);
    let tau = 1.7;
    let assignment = |z: &[f64]| {
        let logits: Vec<f64> = cs.iter().map(|c| -sq_dist(z, c) / tau).collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        logits.iter().map(|l| (l - max).exp() / total).collect::<Vec<f64>>()
    };
    let mut kl = 0.0;
    for (s, t) in ss.iter().zip(&ts) {
        let (p, q) = (assignment(t), assignment(s));
        kl += p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
    }
    let want = kl / 5.0;
    let got = code_distillation_loss(&student, &teacher, &codebook, tau).double_value(&[]);
    assert!(want > 1e-3, "the case must not be trivial: {want}");
    assert!((got - want).abs() < 1e-9 * want.max(1.0), "{got} vs {want}");
    // Rows are matched in order: swapping the student's rows changes the loss.
    let swapped = student.index_select(0, &Tensor::from_slice(&[1i64, 0, 2, 3, 4]));
    assert!((code_distillation_loss(&swapped, &teacher, &codebook, tau).double_value(&[]) - want).abs() > 1e-6);
}

#[test]
fn batch_adjacency_reads_the_edges_among_the_batch() {
    // Path 0-1-2-3 and the edge 0-3: batch [3, 0, 2].
    let edges =
        EdgeList::new(&[(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (0, 3), (3, 0)], 4, Device::Cpu).unwrap();
    let a = batch_adjacency(&edges, &Tensor::from_slice(&[3i64, 0, 2]));
    let want = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).view([3, 3]);
    assert!(a.equal(&want), "{a:?}");
}

fn csbm() -> NodeDataset {
    load(CSBM, std::path::Path::new(".")).unwrap()
}

#[test]
fn bad_settings_are_refused_by_name() {
    let dataset = csbm();
    let bad = [
        (VqgraphConfig { codebook_size: 0, ..VqgraphConfig::default() }, "codebook_size"),
        (VqgraphConfig { tau: 0.0, ..VqgraphConfig::default() }, "tau"),
        (VqgraphConfig { beta: -1.0, ..VqgraphConfig::default() }, "beta"),
        (VqgraphConfig { code_weight: f64::NAN, ..VqgraphConfig::default() }, "code_weight"),
        (VqgraphConfig { edge_weight: f64::INFINITY, ..VqgraphConfig::default() }, "edge_weight"),
        (VqgraphConfig { code_dim: Some(0), ..VqgraphConfig::default() }, "code_dim"),
        (VqgraphConfig { epochs: 0, ..VqgraphConfig::default() }, "epochs"),
        (VqgraphConfig { batch_size: 0, ..VqgraphConfig::default() }, "batch_size"),
    ];
    for (vq, key) in bad {
        let config = CompareConfig { vqgraph: Some(vq), ..CompareConfig::for_dataset(&dataset) };
        let err = config.validate().unwrap_err();
        assert!(err.contains(&format!("vqgraph.{key}")), "{key}: {err}");
    }
    let mut one_layer =
        CompareConfig { vqgraph: Some(VqgraphConfig::default()), ..CompareConfig::for_dataset(&dataset) };
    one_layer.mlp.layers = 1;
    assert!(one_layer.validate().unwrap_err().contains("2 layers or more"));

    // A codebook larger than the graph, and a graph without edges: refused before training.
    let mut config = CompareConfig::for_dataset(&dataset);
    config.vqgraph = Some(VqgraphConfig { codebook_size: 241, ..VqgraphConfig::default() });
    let err = compare(&dataset, &config, Device::Cpu, &mut |_| panic!("nothing trains")).unwrap_err().to_string();
    assert!(err.contains("vqgraph.codebook_size (241)") && err.contains("240 nodes"), "{err}");
    config.vqgraph = Some(VqgraphConfig { codebook_size: 8, ..VqgraphConfig::default() });
    let edgeless = NodeDataset {
        graph: gdistill_graph::Graph::from_edges(240, &[], Default::default()).unwrap(),
        ..dataset.clone()
    };
    let err = compare(&edgeless, &config, Device::Cpu, &mut |_| panic!("nothing trains")).unwrap_err().to_string();
    assert!(err.contains("vqgraph") && err.contains("no edges"), "{err}");
}

#[test]
fn configs_without_the_key_load_and_a_partial_table_takes_the_defaults() {
    let config = CompareConfig::for_dataset(&csbm());
    let mut value = serde_json::to_value(&config).unwrap();
    assert!(value.get("vqgraph").is_none(), "reports without VQGraph rows keep their keys");
    value["vqgraph"] = serde_json::json!({ "codebook_size": 64, "tau": 2.0 });
    let read: CompareConfig = serde_json::from_value(value).unwrap();
    assert_eq!(read.vqgraph, Some(VqgraphConfig { codebook_size: 64, tau: 2.0, ..VqgraphConfig::default() }));
}

#[test]
fn vqgraph_rows_run_in_a_comparison_and_never_read_held_out_nodes() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm();
    let mut config = CompareConfig::for_dataset(&dataset);
    config.seeds = 1;
    config.setting = Setting::Inductive { held_out: 0.2 };
    config.lsp.rows = false;
    config.prune.rows = false;
    config.small_rows = false;
    config.vqgraph = Some(VqgraphConfig {
        codebook_size: 16,
        batch_size: 64,
        edge_batch: 64,
        tokenizer_epochs: 8,
        epochs: 8,
        ..VqgraphConfig::default()
    });
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 8;
    }
    let report = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["teacher", "mlp", "mlp+kd", "teacher+vq", "mlp+vqgraph", "mlp+vqgraph-code"]);
    assert_eq!(report.rows[3].params, report.rows[0].params, "the tokenizer's heads are not the teacher's");
    for row in &report.rows[4..] {
        assert_eq!(row.params, report.rows[2].params, "{}: the projection is not part of the student", row.name);
    }
    // The codebook is as large as the observed graph allows (192 - 38 held out) but no larger.
    let observed = report.dataset.nodes - report.dataset.held_out.unwrap();
    let mut too_big = config.clone();
    too_big.vqgraph.as_mut().unwrap().codebook_size = observed + 1;
    let err = compare(&dataset, &too_big, Device::Cpu, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("vqgraph.codebook_size") && err.contains(&format!("{observed} nodes")), "{err}");

    let rewritten = compare(&with_held_out_features_rewritten(&dataset), &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_blind_to_held_out(&report.rows[3..], &rewritten.rows[3..]);
}
