//! The inductive setting: held-out test nodes and their edges never reach training, and each
//! row's `tran`, `ind` and `prod` accuracies are what they claim to be.

use gdistill_datasets::inductive::inductive_split;
use gdistill_datasets::{load, NodeDataset};
use gdistill_distill::compare::{compare, CompareConfig, CompareReport};
use gdistill_distill::setting::{SeedGraphs, Setting};
use gdistill_distill::{accuracy, predict, train, GraphData, Objective, TrainConfig};
use gdistill_graph::{EdgeOptions, Graph};
use gdistill_models::{Arch, ModelConfig};
use tch::{Device, Tensor};

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

const CSBM: &str = "csbm:nodes=300,classes=3,degree=5,features=12,signal=1,seed=4";

fn csbm() -> NodeDataset {
    load(CSBM, std::path::Path::new(".")).unwrap()
}

fn small_config(dataset: &NodeDataset) -> CompareConfig {
    let mut config = CompareConfig::for_dataset(dataset);
    config.seeds = 2;
    config.setting = Setting::Inductive { held_out: 0.2 };
    config.prune.rows = false;
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 20;
    }
    config
}

/// `dataset` with the nodes held out by every seed in `seeds` rewritten: their features replaced
/// by large values and an edge from each to some observed node. Training that never reads them
/// cannot tell the two datasets apart. (A node held out by one seed only is, rightly, seen by
/// the others' training.)
fn with_held_out_nodes_rewritten(dataset: &NodeDataset, seeds: std::ops::Range<u64>) -> NodeDataset {
    let n = dataset.num_nodes();
    let f = dataset.num_features();
    let mut times_held = vec![0; n];
    let runs = seeds.end - seeds.start;
    for seed in seeds {
        for v in inductive_split(dataset, 0.2, seed).unwrap().held_out {
            times_held[v] += 1;
        }
    }
    let held: Vec<bool> = times_held.iter().map(|&t| t == runs).collect();
    assert!(held.iter().filter(|&&h| h).count() >= 3, "the seeds share held-out nodes to rewrite");
    let dense = dataset.dense_features();
    let mut features = sprs::TriMat::new((n, f));
    for v in 0..n {
        for j in 0..f {
            let x = if held[v] { 40.0 * ((v * 31 + j * 7) as f32).sin() } else { dense[v * f + j] };
            if x != 0.0 {
                features.add_triplet(v, j, x);
            }
        }
    }
    let mut edges = dataset.graph.undirected_edges();
    let observed: Vec<usize> = (0..n).filter(|&v| times_held[v] == 0).collect();
    for v in (0..n).filter(|&v| held[v]) {
        edges.push((v, observed[(v * 13) % observed.len()]));
    }
    NodeDataset {
        features: features.to_csr(),
        graph: Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap(),
        ..dataset.clone()
    }
}

fn inductive_figures(report: &CompareReport) -> Vec<(String, Vec<f64>, Vec<f64>, Vec<f64>)> {
    report
        .rows
        .iter()
        .map(|r| {
            let s = r.inductive.as_ref().expect("inductive rows carry tran and ind");
            (r.name.clone(), r.val_acc.clone(), s.tran_acc.clone(), s.ind_acc.clone())
        })
        .collect()
}

#[test]
fn held_out_nodes_and_their_edges_never_reach_training() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm();
    let config = small_config(&dataset);
    assert!(config.lsp.rows, "the LSP rows read the training graph's edges too");
    let rewritten = with_held_out_nodes_rewritten(&dataset, 0..2);
    let clean = inductive_figures(&compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap());
    let dirty = inductive_figures(&compare(&rewritten, &config, Device::Cpu, &mut |_| {}).unwrap());
    let mut ind_changed = false;
    for ((name, val, tran, ind), (_, dirty_val, dirty_tran, dirty_ind)) in clean.iter().zip(&dirty) {
        // Bit-equal: every weight of every row is the same whatever the held-out nodes hold.
        assert_eq!(val, dirty_val, "{name}: validation accuracy read the held-out nodes");
        assert_eq!(tran, dirty_tran, "{name}: tran accuracy read the held-out nodes");
        ind_changed |= ind != dirty_ind;
    }
    assert!(ind_changed, "the rewrite must matter at test time, or this test proves nothing");
}

#[test]
fn prod_is_every_test_node_and_an_mlp_reads_only_features() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm();
    let seed = 3;
    let setting = Setting::Inductive { held_out: 0.2 };
    let graphs = SeedGraphs::new(&dataset, setting, seed, Device::Cpu).unwrap();
    let split = inductive_split(&dataset, 0.2, seed).unwrap();
    assert_eq!(graphs.held_out(), split.held_out.len());
    assert_eq!(graphs.data.num_nodes() as usize, dataset.num_nodes() - split.held_out.len());
    let cfg = ModelConfig::new(Arch::Mlp, dataset.num_features() as i64, 32, 2, 3, 0.5);
    let settings = TrainConfig { epochs: 30, seed, ..TrainConfig::default() };
    let trained = train(&cfg, &graphs.data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    let scores = graphs.score(trained.model.as_ref());
    let (tran, ind) = scores.inductive.unwrap();

    // Oracle: the MLP on the full graph, each group of test nodes in global ids.
    let full = GraphData::new(&dataset, Device::Cpu, gdistill_distill::FeatureLayout::Auto).unwrap();
    let logits = predict(trained.model.as_ref(), &full);
    let index = |nodes: &[usize]| Tensor::from_slice(&nodes.iter().map(|&v| v as i64).collect::<Vec<_>>());
    assert!((accuracy(&logits, &full.labels, &index(&split.test_tran)) - tran).abs() < 1e-12);
    assert!((accuracy(&logits, &full.labels, &index(&split.held_out)) - ind).abs() < 1e-12);
    assert!((accuracy(&logits, &full.labels, &full.test) - scores.test).abs() < 1e-6, "prod is every test node");
    assert!(ind != tran || split.held_out.len() == split.test_tran.len(), "two groups, scored apart");
}

#[test]
fn the_report_has_glnn_columns_only_inductively() {
    let _rng = torch_rng::torch_rng();
    let dataset = csbm();
    let mut config = small_config(&dataset);
    config.lsp.rows = false;
    config.seeds = 1;
    let inductive = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(inductive.dataset.held_out, Some((0.2 * dataset.test.len() as f64).round() as usize));
    let row = serde_json::to_value(&inductive.rows[0]).unwrap();
    for key in ["tran_mean", "tran_std", "ind_mean", "ind_std", "prod_mean", "prod_std", "ind_acc", "tran_acc"] {
        assert!(row.get(key).is_some(), "inductive rows have {key}: {row}");
    }
    assert_eq!(row["prod_mean"], row["mean"]);
    let back: CompareReport = serde_json::from_value(serde_json::to_value(&inductive).unwrap()).unwrap();
    assert_eq!(back.rows[0].inductive, inductive.rows[0].inductive, "the report reads back");

    config.setting = Setting::Transductive;
    let transductive = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(transductive.dataset.held_out, None);
    let row = serde_json::to_value(&transductive.rows[0]).unwrap();
    let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
    let expected = ["name", "params", "test_acc", "mean", "std", "val_acc", "val_mean", "train_s", "infer_ms"];
    assert_eq!(keys.len(), expected.len(), "transductive rows keep their keys: {keys:?}");
    assert!(expected.iter().all(|k| row.get(k).is_some()));
}

#[test]
fn too_few_test_nodes_for_an_inductive_split_is_refused() {
    let mut dataset = csbm();
    dataset.test.truncate(2);
    let mut config = small_config(&dataset);
    config.seeds = 1;
    let error = compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap_err().to_string();
    assert!(error.contains("inductive") && error.contains("test nodes"), "{error}");
    for bad in ["inductive:0", "inductive:1", "inductive:x", "transductive:0.2", "production"] {
        assert!(bad.parse::<Setting>().is_err(), "{bad}");
    }
}
