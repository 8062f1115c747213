//! DeepWalk position features against independent oracles: the skip-gram loss and its gradient
//! by hand and by finite differences, co-occurring nodes ending up close, a two-block graph
//! that DeepWalk separates for an MLP where the random-walk encoding cannot, and the inductive
//! setting, where no held-out node or edge may reach a walk.

use gdistill_datasets::deepwalk::{ColumnScale, DeepWalkSpec};
use gdistill_datasets::inductive::inductive_split;
use gdistill_datasets::{FeatureSpec, NodeDataset};
use gdistill_distill::setting::{SeedGraphs, Setting};
use gdistill_distill::students::deepwalk::skipgram::sgns_loss;
use gdistill_distill::students::deepwalk::{apply_features, deepwalk_embedding, inductive_features};
use gdistill_distill::{accuracy, predict, train, GraphData, Objective, TrainConfig};
use gdistill_graph::{EdgeOptions, Graph};
use gdistill_models::{Arch, ModelConfig};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

#[path = "../../tests/support/cpu_time.rs"]
mod cpu_time;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;
use cpu_time::cpu_seconds;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The loss written out per pair, in plain f64: `center`, `context` rows, `negatives[b][m]`.
fn hand_loss(center: &[Vec<f64>], context: &[Vec<f64>], negatives: &[Vec<Vec<f64>>]) -> f64 {
    let mut total = 0.0;
    for b in 0..center.len() {
        total -= sigmoid(dot(&center[b], &context[b])).ln();
        for n in &negatives[b] {
            total -= sigmoid(-dot(&center[b], n)).ln();
        }
    }
    total / center.len() as f64
}

#[test]
fn the_sgns_loss_and_its_gradient_match_the_formula() {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let (b, m, k) = (3, 2, 4);
    let mut draw = |count: usize| -> Vec<f64> { (0..count).map(|_| r.random_range(-1.0..1.0)).collect() };
    let (cv, ov, nv) = (draw(b * k), draw(b * k), draw(b * m * k));
    let rows = |v: &[f64]| -> Vec<Vec<f64>> { v.chunks(k).map(|c| c.to_vec()).collect() };
    let negs = |v: &[f64]| -> Vec<Vec<Vec<f64>>> { v.chunks(m * k).map(rows).collect() };
    let tensor = |v: &[f64], shape: &[i64]| Tensor::from_slice(v).view(shape).set_requires_grad(true);
    let (c, o, n) = (tensor(&cv, &[b as i64, k as i64]), tensor(&ov, &[b as i64, k as i64]), tensor(&nv, &[3, 2, 4]));
    let loss = sgns_loss(&c, &o, &n);
    assert_eq!(loss.kind(), Kind::Double);
    let expected = hand_loss(&rows(&cv), &rows(&ov), &negs(&nv));
    assert!((loss.double_value(&[]) - expected).abs() < 1e-12, "{} vs {expected}", loss.double_value(&[]));
    loss.backward();
    // Central differences of the hand formula, for every entry of the three inputs.
    let h = 1e-6;
    for (which, values, grad) in [(0, &cv, c.grad()), (1, &ov, o.grad()), (2, &nv, n.grad())] {
        let grad = Vec::<f64>::try_from(&grad.view(-1)).unwrap();
        for i in 0..values.len() {
            let at = |delta: f64| {
                let mut all = [cv.clone(), ov.clone(), nv.clone()];
                all[which][i] += delta;
                hand_loss(&rows(&all[0]), &rows(&all[1]), &negs(&all[2]))
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((grad[i] - numeric).abs() < 1e-7, "input {which} entry {i}: {} vs {numeric}", grad[i]);
        }
    }
    // The textbook gradient for the first centre: -(1 - s(u.v)) v + sum_m s(u.n_m) n_m, over B.
    let (u, v, ns) = (&rows(&cv)[0], &rows(&ov)[0], &negs(&nv)[0]);
    let mut textbook: Vec<f64> = v.iter().map(|x| -(1.0 - sigmoid(dot(u, v))) * x).collect();
    for n_m in ns {
        for (t, x) in textbook.iter_mut().zip(n_m) {
            *t += sigmoid(dot(u, n_m)) * x;
        }
    }
    let grad = Vec::<f64>::try_from(&c.grad().view(-1)).unwrap();
    for j in 0..k {
        assert!((grad[j] - textbook[j] / b as f64).abs() < 1e-12);
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    d / (na * nb)
}

#[test]
fn nodes_that_share_walks_end_up_closer_than_nodes_that_never_do() {
    let _rng = torch_rng::torch_rng();
    // Two 6-cliques with no edge between them: a walk never leaves its clique.
    let mut edges = Vec::new();
    for base in [0, 6] {
        for i in 0..6 {
            for j in i + 1..6 {
                edges.push((base + i, base + j));
            }
        }
    }
    let graph = Graph::from_edges(12, &edges, EdgeOptions::undirected()).unwrap();
    let spec = DeepWalkSpec { walks_per_node: 20, epochs: 5, ..DeepWalkSpec::new(8) };
    let e = deepwalk_embedding(&graph, &spec, 3).unwrap();
    let row = |i: usize| &e[i * 8..(i + 1) * 8];
    let (mut within, mut across) = (Vec::new(), Vec::new());
    for i in 0..12 {
        for j in i + 1..12 {
            let same = (i < 6) == (j < 6);
            (if same { &mut within } else { &mut across }).push(cosine(row(i), row(j)));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let min_within = within.iter().cloned().fold(f64::INFINITY, f64::min);
    let max_across = across.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(min_within > max_across, "every pair within a clique is closer than any pair across");
    assert!(mean(&within) > mean(&across) + 0.5, "within {} across {}", mean(&within), mean(&across));
    // Reproducible for a seed.
    assert_eq!(deepwalk_embedding(&graph, &spec, 3).unwrap(), e);
}

/// `scale=S` changes nothing but each column's offset and size: every column of the scaled
/// embedding has mean 0 and standard deviation S, and is the unscaled column mapped by one
/// affine function (checked on every node against the first two).
#[test]
fn a_scaled_embedding_is_the_same_embedding_centred_and_resized() {
    let _rng = torch_rng::torch_rng();
    let edges: Vec<(usize, usize)> =
        (0..30).map(|i| (i, (i + 1) % 30)).chain((0..30).map(|i| (i, (i + 7) % 30))).collect();
    let graph = Graph::from_edges(30, &edges, EdgeOptions::undirected()).unwrap();
    let plain = DeepWalkSpec::new(4);
    let scaled = DeepWalkSpec { scale: Some(ColumnScale::new(0.05).unwrap()), ..plain };
    let (a, b) = (deepwalk_embedding(&graph, &plain, 1).unwrap(), deepwalk_embedding(&graph, &scaled, 1).unwrap());
    for j in 0..4 {
        let col = |e: &[f32]| (0..30).map(|i| f64::from(e[i * 4 + j])).collect::<Vec<_>>();
        let (x, y) = (col(&a), col(&b));
        let mean = y.iter().sum::<f64>() / 30.0;
        let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 30.0).sqrt();
        assert!(mean.abs() < 1e-6 && (std - 0.05).abs() < 1e-5, "column {j}: mean {mean}, std {std}");
        let slope = (y[1] - y[0]) / (x[1] - x[0]);
        for i in 2..30 {
            assert!((y[0] + slope * (x[i] - x[0]) - y[i]).abs() < 1e-5, "column {j}, node {i}");
        }
    }
}

/// Two blocks of 200 nodes, edges with probability 0.05 within and 0.005 across, no features;
/// labels are the blocks; 20 train and 30 validation nodes per block, the rest test.
fn two_blocks(seed: u64) -> NodeDataset {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n = 400;
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let p = if (i < 200) == (j < 200) { 0.05 } else { 0.005 };
            if r.random_bool(p) {
                edges.push((i, j));
            }
        }
    }
    let labels: Vec<usize> = (0..n).map(|i| usize::from(i >= 200)).collect();
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for block in [0..200, 200..400] {
        let mut nodes: Vec<usize> = block.collect();
        nodes.shuffle(&mut r);
        train.extend_from_slice(&nodes[..20]);
        val.extend_from_slice(&nodes[20..50]);
        test.extend_from_slice(&nodes[50..]);
    }
    NodeDataset {
        name: "two-blocks".into(),
        graph: Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap(),
        features: sprs::CsMat::zero((n, 0)),
        labels,
        num_classes: 2,
        class_names: vec!["a".into(), "b".into()],
        train,
        val,
        test,
        unlabelled: Vec::new(),
    }
}

/// Test accuracy of an MLP trained from labels on `dataset`'s features.
fn mlp_accuracy(dataset: &NodeDataset, seed: u64) -> f64 {
    let data = GraphData::new(dataset, Device::Cpu, gdistill_distill::FeatureLayout::Auto).unwrap();
    let cfg = ModelConfig::new(Arch::Mlp, dataset.num_features() as i64, 32, 2, 2, 0.5);
    let settings = TrainConfig { epochs: 200, seed, ..TrainConfig::default() };
    let trained = train(&cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap();
    accuracy(&predict(trained.model.as_ref(), &data), &data.labels, &data.test)
}

#[test]
fn deepwalk_lets_an_mlp_tell_two_blocks_apart_where_the_walk_encoding_cannot() {
    let _rng = torch_rng::torch_rng();
    for seed in [0, 1] {
        let d = two_blocks(seed);
        let deepwalk = apply_features(&d, &"deepwalk:16".parse::<FeatureSpec>().unwrap(), seed).unwrap();
        let positional = apply_features(&d, &"positional:16".parse::<FeatureSpec>().unwrap(), seed).unwrap();
        let (with_deepwalk, with_positional) = (mlp_accuracy(&deepwalk, seed), mlp_accuracy(&positional, seed));
        println!("seed {seed}: deepwalk:16 {with_deepwalk:.4}, positional:16 {with_positional:.4}");
        assert!(with_deepwalk >= 0.9, "seed {seed}: deepwalk:16 gives only {with_deepwalk}");
        // The blocks are alike in every local statistic: return probabilities are no help.
        assert!(with_positional < 0.65, "seed {seed}: positional:16 gives {with_positional}");
    }
}

/// `dataset` with an edge added from every node held out by `seed` to some observed node, and
/// one between held-out nodes: a walk that stepped onto a held-out node or edge would change.
fn with_held_out_edges_added(dataset: &NodeDataset, seed: u64) -> NodeDataset {
    let split = inductive_split(dataset, 0.2, seed).unwrap();
    let mut edges = dataset.graph.undirected_edges();
    for (k, &v) in split.held_out.iter().enumerate() {
        edges.push((v, split.observed[(k * 13) % split.observed.len()]));
    }
    edges.push((split.held_out[0], split.held_out[1]));
    NodeDataset {
        graph: Graph::from_edges(dataset.num_nodes(), &edges, EdgeOptions::undirected()).unwrap(),
        ..dataset.clone()
    }
}

#[test]
fn inductively_no_held_out_node_or_edge_reaches_a_walk() {
    let _rng = torch_rng::torch_rng();
    let dataset = two_blocks(5);
    let seed = 2;
    let spec = DeepWalkSpec::new(8);
    let rewired = with_held_out_edges_added(&dataset, seed);
    let setting = Setting::Inductive { held_out: 0.2 };
    let clean = setting.observed_with(&dataset, seed, Some(&spec)).unwrap();
    let dirty = setting.observed_with(&rewired, seed, Some(&spec)).unwrap();
    assert_eq!(clean.features.shape(), (dataset.num_nodes() - 60, 8));
    // Bit-equal: the embedding of the observed graph cannot see what the held-out nodes touch.
    assert_eq!(clean.features, dirty.features);

    // Held-out rows: the mean of their observed neighbours in the full graph, by hand.
    let split = inductive_split(&rewired, 0.2, seed).unwrap();
    let (observed, full) = inductive_features(&split, &rewired, &spec, seed).unwrap();
    assert_eq!(observed.features, dirty.features);
    let dense =
        |d: &NodeDataset, v: usize| -> Vec<f32> { (0..8).map(|j| *d.features.get(v, j).unwrap_or(&0.0)).collect() };
    for v in 0..rewired.num_nodes() {
        let expected = match split.local_of[v] {
            Some(l) => dense(&observed, l),
            None => {
                let seen: Vec<usize> = rewired.graph.neighbors(v).iter().filter_map(|&u| split.local_of[u]).collect();
                let mut mean = vec![0f32; 8];
                for &l in &seen {
                    mean.iter_mut().zip(dense(&observed, l)).for_each(|(m, x)| *m += x);
                }
                mean.iter_mut().for_each(|m| *m /= seen.len().max(1) as f32);
                mean
            }
        };
        let got = dense(&full, v);
        assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6), "node {v}: {got:?} vs {expected:?}");
    }

    // Through a seed's graphs as compare builds them: the same observed features.
    let graphs = SeedGraphs::with_deepwalk(&rewired, setting, seed, Device::Cpu, Some(spec)).unwrap();
    assert_eq!(graphs.dataset.features, dirty.features);
}

#[test]
fn a_graph_without_edges_and_bad_settings_do_not_panic() {
    let _rng = torch_rng::torch_rng();
    let lonely = Graph::from_edges(5, &[], EdgeOptions::undirected()).unwrap();
    let e = deepwalk_embedding(&lonely, &DeepWalkSpec::new(4), 0).unwrap();
    assert_eq!(e.len(), 20);
    assert!(e.iter().all(|x| x.is_finite()));
    let bad = DeepWalkSpec { walk_length: 0, ..DeepWalkSpec::new(4) };
    let message = deepwalk_embedding(&lonely, &bad, 0).unwrap_err().to_string();
    assert!(message.contains("walk = 0"), "{message}");
    let huge = DeepWalkSpec { walks_per_node: 1 << 40, ..DeepWalkSpec::new(4) };
    assert!(deepwalk_embedding(&lonely, &huge, 0).is_err());
}

/// `cargo test --release -p gdistill-distill --test deepwalk -- --ignored --nocapture`
#[test]
#[ignore = "needs /work/shared/data; run by hand for the timing"]
fn deepwalk_timing() {
    // DEEPWALK_TIMING="threads dataset spec": e.g. "2 cora 64:walks=1" (default below).
    let what = std::env::var("DEEPWALK_TIMING")
        .unwrap_or_else(|_| "2 npz:/work/shared/data/amazon/amazon_electronics_computers.npz 64".into());
    let fields: Vec<&str> = what.split_whitespace().collect();
    tch::set_num_threads(fields[0].parse().unwrap());
    {
        let spec = fields[1];
        let d = gdistill_datasets::load(spec, std::path::Path::new("/work/shared/data")).unwrap();
        let dw: DeepWalkSpec = fields[2].parse().unwrap();
        let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
        let walks = gdistill_graph::RandomWalks::uniform(&d.graph, dw.walk_length, dw.walks_per_node, 0).unwrap();
        let (walk_s, walk_cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        drop(walks);
        let (start, cpu) = (std::time::Instant::now(), cpu_seconds());
        let e = deepwalk_embedding(&d.graph, &dw, 0).unwrap();
        println!(
            "{spec}: {} nodes; walks {walk_s:.2} s ({walk_cpu:.2} s CPU); deepwalk:{dw} in all {:.2} s ({:.2} s CPU)",
            d.num_nodes(),
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu
        );
        assert_eq!(e.len(), d.num_nodes() * 64);
    }
}

/// A comparison whose MLP rows read `mlp_features` and every other row the given features.
fn compare_with_mlp_features(mlp_features: Option<&str>, setting: Setting) -> gdistill_distill::compare::CompareReport {
    use gdistill_distill::compare::{compare, CompareConfig};
    let dataset = gdistill_datasets::load(
        "csbm:nodes=240,classes=3,degree=5,features=10,signal=0.3,seed=5",
        std::path::Path::new("."),
    )
    .unwrap();
    let mut config = CompareConfig::for_dataset(&dataset);
    config.seeds = 1;
    config.setting = setting;
    config.lsp.rows = false;
    config.prune.rows = false;
    config.mlp_features = mlp_features.map(|s| s.parse().unwrap());
    for t in [&mut config.teacher_training, &mut config.student_training, &mut config.distill_training] {
        t.epochs = 15;
    }
    compare(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap()
}

#[test]
fn mlp_features_reach_the_mlp_rows_alone() {
    let _rng = torch_rng::torch_rng();
    for setting in [Setting::Transductive, Setting::Inductive { held_out: 0.2 }] {
        let plain = compare_with_mlp_features(None, setting);
        let walked = compare_with_mlp_features(Some("given+deepwalk:8:walks=2,walk=20"), setting);
        let row = |report: &gdistill_distill::compare::CompareReport, name: &str| {
            report.rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no row {name}")).clone()
        };
        // The teacher and the graph student read the given features: the same runs, bit for bit.
        for name in ["teacher", "gcn-small", "gcn-small+kd"] {
            let (a, b) = (row(&plain, name), row(&walked, name));
            assert_eq!(a.params, b.params, "{setting:?} {name}");
            assert_eq!(a.test_acc, b.test_acc, "{setting:?} {name}: the row read the MLP's features");
            assert_eq!(a.val_acc, b.val_acc, "{setting:?} {name}");
        }
        // The MLP rows read 8 more columns: 8 more input rows of the first weight (64 wide).
        for name in ["mlp", "mlp+kd"] {
            let (a, b) = (row(&plain, name), row(&walked, name));
            let width = walked.config.mlp.hidden;
            assert_eq!(b.params - a.params, 8 * width, "{setting:?} {name}");
            assert_ne!(a.test_acc, b.test_acc, "{setting:?} {name}: the MLP did not read its features");
        }
        assert_eq!(plain.dataset.features, walked.dataset.features, "the report shows the teacher's features");
    }
}

#[test]
fn mlp_features_admit_a_search_and_refuse_munge() {
    use gdistill_distill::compare::CompareConfig;
    use gdistill_distill::transfer_set::TransferSet;
    let dataset =
        gdistill_datasets::load("csbm:nodes=60,classes=2,degree=4,features=4,seed=1", std::path::Path::new("."))
            .unwrap();
    let mut config = CompareConfig::for_dataset(&dataset);
    config.mlp_features = Some("given+deepwalk:4".parse().unwrap());
    // The search trains the MLP's stages on its own features (distill/tests/tune.rs).
    config.tune = Some(gdistill_distill::tune::TuneConfig::new(2));
    assert_eq!(config.validate(), Ok(()));
    config.tune = None;
    config.transfer_set = TransferSet::Munge { size: 10, p: 0.5 };
    assert!(config.validate().unwrap_err().contains("mlp_features"));
}
