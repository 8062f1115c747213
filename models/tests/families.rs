//! SAGE, GAT and APPNP against dense computations written from the papers' formulas with PyTorch
//! Geometric's conventions (self-loops, the mean of no neighbours, the head average), and the
//! edge softmax against a dense masked softmax.

use gdistill_models::{
    personalized_pagerank, segment_softmax, Arch, ArchOptions, GatConv, ModelConfig, NodeFeatures, SageAggregator,
    SageConv, SparseMatrix,
};
use tch::{nn, Device, Kind, Tensor};

const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

/// A seeded undirected graph on `n` nodes as a dense 0/1 matrix without self-loops; node `n - 1`
/// is left isolated so every test meets a node without neighbours.
fn random_adjacency(n: usize, p: f64, seed: u64) -> Vec<Vec<bool>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut a = vec![vec![false; n]; n];
    for i in 0..n - 1 {
        for j in i + 1..n - 1 {
            if next() < p {
                a[i][j] = true;
                a[j][i] = true;
            }
        }
    }
    a
}

/// `A + I` as the CSR matrix every graph model is handed (values: GCN normalisation, which
/// SAGE and GAT ignore), and the dense 0/1 `A` without the diagonal.
fn graph_inputs(a: &[Vec<bool>]) -> (SparseMatrix, Tensor) {
    let n = a.len();
    let (mut indptr, mut indices, mut values) = (vec![0], vec![], vec![]);
    let degree: Vec<f32> = a.iter().map(|row| row.iter().filter(|&&e| e).count() as f32 + 1.0).collect();
    for i in 0..n {
        for j in 0..n {
            if a[i][j] || i == j {
                indices.push(j);
                values.push(1.0 / (degree[i] * degree[j]).sqrt());
            }
        }
        indptr.push(indices.len());
    }
    let dense: Vec<f32> = a.iter().flat_map(|row| row.iter().map(|&e| e as u8 as f32)).collect();
    let a_hat = SparseMatrix::from_csr(&indptr, &indices, &values, (n, n), Device::Cpu).unwrap();
    (a_hat, Tensor::from_slice(&dense).view([n as i64, n as i64]))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn randomize(t: &Tensor) {
    tch::no_grad(|| t.shallow_clone().copy_(&(Tensor::randn(t.size(), CPU) * 0.5)));
}

#[test]
fn edge_softmax_matches_a_dense_masked_softmax() {
    tch::manual_seed(1);
    let a = random_adjacency(9, 0.4, 3);
    let (a_hat, dense) = graph_inputs(&a);
    let mask = dense + Tensor::eye(9, CPU);
    let scores = Tensor::randn([a_hat.nnz(), 2], CPU) * 3.0;
    let got = segment_softmax(&scores, &a_hat.row_indices(), 9);
    for head in 0..2 {
        // Scatter the edge scores into a dense matrix with -inf off the pattern.
        let full = Tensor::full([9, 9], f64::NEG_INFINITY, CPU).index_put(
            &[Some(a_hat.row_indices()), Some(a_hat.col_indices().shallow_clone())],
            &scores.select(1, head),
            false,
        );
        let want = full.softmax(1, Kind::Float);
        let picked = want.index(&[Some(a_hat.row_indices()), Some(a_hat.col_indices().shallow_clone())]);
        assert!(max_abs_diff(&got.select(1, head), &picked) < 1e-6);
        assert!(max_abs_diff(&(want * &mask).sum_dim_intlist(1, false, Kind::Float), &Tensor::ones([9], CPU)) < 1e-5);
    }
}

#[test]
fn sage_layer_is_root_plus_neighbour_mean() {
    tch::manual_seed(2);
    let a = random_adjacency(10, 0.35, 5);
    let (graph, dense) = graph_inputs(&a);
    let x = Tensor::randn([10, 6], CPU);
    let vs = nn::VarStore::new(Device::Cpu);
    for normalize in [false, true] {
        let conv = SageConv::new(&(vs.root() / normalize as i64), 6, 4, normalize, SageAggregator::Mean);
        randomize(&conv.bias);
        // Mean over neighbours; a node without any aggregates zero (PyG's scatter mean).
        let degree = dense.sum_dim_intlist(1, true, Kind::Float).clamp_min(1.0);
        let mean = dense.matmul(&x) / degree;
        let root = conv.weight_root.as_ref().expect("the mean aggregator has a root weight");
        let mut want = x.matmul(root) + mean.matmul(&conv.weight_neigh) + &conv.bias;
        if normalize {
            want = &want / want.norm_scalaropt_dim(2, [-1], true);
        }
        let got = conv.forward(&x, &graph);
        assert!(max_abs_diff(&got, &want) < 1e-5, "normalize {normalize}");
        // The isolated last node sees only its own features.
        let isolated = x.get(9).unsqueeze(0).matmul(root) + &conv.bias;
        if !normalize {
            assert!(max_abs_diff(&got.get(9).unsqueeze(0), &isolated) < 1e-5);
        }
    }
}

#[test]
fn sage_gcn_aggregator_is_one_weight_on_the_mean_of_self_and_neighbours() {
    tch::manual_seed(4);
    let a = random_adjacency(10, 0.35, 6);
    let (graph, dense) = graph_inputs(&a);
    let x = Tensor::randn([10, 6], CPU);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = SageConv::new(&vs.root(), 6, 4, false, SageAggregator::Gcn);
    assert!(conv.weight_root.is_none());
    randomize(&conv.bias);
    // Dense oracle: (A + I) row-normalised, whatever diagonal `graph` stores.
    let with_self = &dense + Tensor::eye(10, CPU);
    let mean = with_self.matmul(&x) / with_self.sum_dim_intlist(1, true, Kind::Float);
    let want = mean.matmul(&conv.weight_neigh) + &conv.bias;
    let got = conv.forward(&x, &graph);
    assert!(max_abs_diff(&got, &want) < 1e-5);
    let without_diagonal = SparseMatrix::from_sprs(&dense_to_sprs(&dense), Device::Cpu).unwrap();
    assert!(max_abs_diff(&conv.forward(&x, &without_diagonal), &want) < 1e-5);
    // The isolated last node keeps its own features.
    let isolated = x.get(9).unsqueeze(0).matmul(&conv.weight_neigh) + &conv.bias;
    assert!(max_abs_diff(&got.get(9).unsqueeze(0), &isolated) < 1e-5);
    // One weight matrix per layer in the model, its parameter count, and the same forward from
    // sparse features.
    let config = ModelConfig::new(Arch::Sage, 6, 8, 2, 3, 0.0)
        .with_options(ArchOptions { aggregator: SageAggregator::Gcn, ..ArchOptions::default() });
    let model_vs = nn::VarStore::new(Device::Cpu);
    let model = config.build(&model_vs.root()).unwrap();
    assert_eq!(model.weights().len(), 2);
    assert_eq!(model_vs.trainable_variables().iter().map(|t| t.numel() as i64).sum::<i64>(), config.num_params());
    let x_sparse = SparseMatrix::from_sprs(&dense_to_sprs(&x), Device::Cpu).unwrap();
    assert!(max_abs_diff(&conv.forward(&NodeFeatures::Sparse(x_sparse), &graph), &got) < 1e-5);
}

#[test]
fn sage_on_sparse_features_equals_dense_features() {
    let a = random_adjacency(8, 0.5, 9);
    let (graph, _) = graph_inputs(&a);
    let x = Tensor::randn([8, 5], CPU) * Tensor::rand([8, 5], CPU).gt(0.6);
    let x_sparse = SparseMatrix::from_sprs(&dense_to_sprs(&x), Device::Cpu).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = SageConv::new(&vs.root(), 5, 3, false, SageAggregator::Mean);
    let dense_out = conv.forward(&x, &graph);
    let sparse_out = conv.forward(&NodeFeatures::Sparse(x_sparse), &graph);
    assert!(max_abs_diff(&dense_out, &sparse_out) < 1e-5);
}

fn dense_to_sprs(x: &Tensor) -> sprs::CsMat<f32> {
    let (rows, cols) = (x.size()[0] as usize, x.size()[1] as usize);
    let values: Vec<f32> = Vec::try_from(x.reshape([-1])).unwrap();
    let mut tri = sprs::TriMat::new((rows, cols));
    for (k, &v) in values.iter().enumerate() {
        if v != 0.0 {
            tri.add_triplet(k / cols, k % cols, v);
        }
    }
    tri.to_csr()
}

/// GAT from the paper with dense matrices: per head, `e_ij` over `j in N(i) + i`, a masked
/// softmax per row, `alpha @ (X W_h)`.
fn dense_gat(conv: &GatConv, x: &Tensor, adjacency: &Tensor, heads: i64, out: i64, concat: bool) -> Tensor {
    let n = x.size()[0];
    let mask = (adjacency + Tensor::eye(n, CPU)).gt(0.0);
    let projected = x.matmul(&conv.weight).view([n, heads, out]);
    let mut per_head = Vec::new();
    for h in 0..heads {
        let xh = projected.select(1, h);
        let src = xh.matmul(&conv.att_src.get(h));
        let dst = xh.matmul(&conv.att_dst.get(h));
        let e = dst.unsqueeze(1) + src.unsqueeze(0); // e[i][j] = a_dst.x_i + a_src.x_j
        let e = e.where_self(&e.ge(0.0), &(&e * 0.2)); // LeakyReLU, slope 0.2
        let e = e.masked_fill(&mask.logical_not(), f64::NEG_INFINITY);
        per_head.push(e.softmax(1, Kind::Float).matmul(&xh));
    }
    let stacked = Tensor::stack(&per_head, 1);
    let combined = if concat { stacked.view([n, heads * out]) } else { stacked.mean_dim(1, false, Kind::Float) };
    combined + &conv.bias
}

#[test]
fn gat_layer_matches_dense_attention_concatenated_and_averaged() {
    tch::manual_seed(3);
    let a = random_adjacency(11, 0.3, 7);
    let (graph, dense) = graph_inputs(&a);
    let x = Tensor::randn([11, 5], CPU);
    let vs = nn::VarStore::new(Device::Cpu);
    for (k, concat) in [(0, true), (1, false)] {
        let conv = GatConv::new(&(vs.root() / k), 5, 3, 4, concat);
        randomize(&conv.bias);
        let want = dense_gat(&conv, &x, &dense, 4, 3, concat);
        let got = conv.forward(&x, &graph, 0.6, false);
        assert_eq!(got.size(), [11, if concat { 12 } else { 3 }]);
        assert!(max_abs_diff(&got, &want) < 1e-5, "concat {concat}: {}", max_abs_diff(&got, &want));
        // An isolated node attends only to itself: its output is its own projection.
        let own = x.get(10).unsqueeze(0).matmul(&conv.weight).view([1, 4, 3]);
        let own = if concat { own.view([1, 12]) } else { own.mean_dim(1, false, Kind::Float) } + &conv.bias;
        assert!(max_abs_diff(&got.get(10).unsqueeze(0), &own) < 1e-5);
    }
}

#[test]
fn gat_attention_gradient_matches_finite_differences() {
    tch::manual_seed(4);
    let a = random_adjacency(7, 0.5, 11);
    let (graph, _) = graph_inputs(&a);
    let x = Tensor::randn([7, 4], (Kind::Double, Device::Cpu));
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = GatConv::new(&vs.root(), 4, 2, 2, true);
    vs.root().set_kind(Kind::Double);
    // Fixed weights for the read-out, so the loss is a generic smooth function of the output.
    let readout = Tensor::randn([7, 4], (Kind::Double, Device::Cpu));
    let loss = || (conv.forward(&x, &graph, 0.0, false) * &readout).sum(Kind::Double);
    let grad = Tensor::run_backward(&[loss()], &[&conv.att_src], false, false).remove(0);
    let eps = 1e-6;
    for (h, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let entry = conv.att_src.get(h).get(c);
        let original = entry.double_value(&[]);
        let at = |v: f64| {
            let _ = tch::no_grad(|| entry.shallow_clone().fill_(v));
            loss().double_value(&[])
        };
        let numeric = (at(original + eps) - at(original - eps)) / (2.0 * eps);
        let _restored = at(original);
        let analytic = grad.double_value(&[h, c]);
        assert!((numeric - analytic).abs() < 1e-6 * (1.0 + analytic.abs()), "({h},{c}): {numeric} vs {analytic}");
    }
}

#[test]
fn appnp_propagation_converges_to_the_personalized_pagerank_solve() {
    let a = random_adjacency(12, 0.3, 13);
    let (a_hat, _) = graph_inputs(&a);
    let h = Tensor::randn([12, 3], CPU);
    let teleport = 0.2;
    // The fixed point of Z = (1 - alpha) A_hat Z + alpha H: alpha (I - (1 - alpha) A_hat)^-1 H.
    let system = Tensor::eye(12, CPU) - a_hat.to_dense() * (1.0 - teleport);
    let fixed_point = Tensor::linalg_solve(&system, &(&h * teleport), true);
    let iterated = personalized_pagerank(&h, &a_hat, 200, teleport);
    assert!(max_abs_diff(&iterated, &fixed_point) < 1e-4);
    // Two steps by hand.
    let a_dense = a_hat.to_dense();
    let z1 = a_dense.matmul(&h) * (1.0 - teleport) + &h * teleport;
    let z2 = a_dense.matmul(&z1) * (1.0 - teleport) + &h * teleport;
    assert!(max_abs_diff(&personalized_pagerank(&h, &a_hat, 2, teleport), &z2) < 1e-5);
}

#[test]
fn num_params_counts_every_trainable_variable() {
    for arch in Arch::ALL {
        for (hidden, layers) in [(8, 2), (5, 3), (4, 1)] {
            let options = ArchOptions { heads: 3, output_heads: 2, ..ArchOptions::default() };
            let config = ModelConfig::new(arch, 7, hidden, layers, 4, 0.5).with_options(options);
            let vs = nn::VarStore::new(Device::Cpu);
            let _model = config.build(&vs.root()).unwrap();
            let counted: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
            assert_eq!(config.num_params(), counted, "{arch} hidden {hidden} layers {layers}");
        }
    }
}

#[test]
fn every_family_runs_forward_and_exposes_hidden_features() {
    let a = random_adjacency(9, 0.4, 17);
    let (graph, _) = graph_inputs(&a);
    let x = NodeFeatures::Dense(Tensor::randn([9, 6], CPU));
    for arch in Arch::ALL {
        let vs = nn::VarStore::new(Device::Cpu);
        let model = ModelConfig::new(arch, 6, 8, 2, 3, 0.5).build(&vs.root()).unwrap();
        let out = model.forward_t(&x, &graph, true);
        assert_eq!(out.logits.size(), [9, 3], "{arch}");
        assert_eq!(out.hidden.len(), 1, "{arch}");
        let width = if arch == Arch::Gat { 8 * 8 } else { 8 };
        assert_eq!(out.hidden[0].size(), [9, width], "{arch}");
        assert!(bool::try_from(out.logits.isfinite().all()).unwrap(), "{arch}");
    }
}

#[test]
fn bad_family_settings_are_refused_with_a_message() {
    let bad = [
        (Arch::Gat, ArchOptions { heads: 0, ..ArchOptions::default() }, "heads"),
        (Arch::Gat, ArchOptions { output_heads: 0, ..ArchOptions::default() }, "heads"),
        (Arch::Gat, ArchOptions { attention_dropout: 1.0, ..ArchOptions::default() }, "attention dropout"),
        (Arch::Appnp, ArchOptions { steps: 0, ..ArchOptions::default() }, "propagation step"),
        (Arch::Appnp, ArchOptions { teleport: 0.0, ..ArchOptions::default() }, "teleport"),
    ];
    for (arch, options, what) in bad {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = ModelConfig::new(arch, 4, 8, 2, 3, 0.5).with_options(options).build(&vs.root()).err().unwrap();
        assert!(err.to_string().contains(what), "{arch}: {err}");
    }
    // Width 0 for every family.
    for arch in Arch::ALL {
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(ModelConfig::new(arch, 4, 0, 2, 3, 0.5).build(&vs.root()).is_err());
    }
}

#[test]
fn old_checkpoint_configs_without_options_still_load() {
    let json = r#"{"arch":"gcn","in_features":5,"hidden":[4],"num_classes":3,"dropout":0.5}"#;
    let config: ModelConfig = serde_json::from_str(json).unwrap();
    assert_eq!(config.options, ArchOptions::default());
    let round: ModelConfig =
        serde_json::from_str(&serde_json::to_string(&ModelConfig::new(Arch::Gat, 5, 8, 2, 3, 0.6)).unwrap()).unwrap();
    assert_eq!(round.arch, Arch::Gat);
}

#[test]
fn gat_gradients_on_the_tape_equal_plain_autograd_and_eval_equals_the_oracle() {
    tch::manual_seed(5);
    let a = random_adjacency(13, 0.3, 19);
    let (graph, dense) = graph_inputs(&a);
    let x = NodeFeatures::Dense(Tensor::randn([13, 6], CPU));
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(Arch::Gat, 6, 4, 2, 3, 0.0)
        .with_options(ArchOptions { heads: 2, output_heads: 2, attention_dropout: 0.0, ..ArchOptions::default() })
        .build(&vs.root())
        .unwrap();
    let readout = Tensor::randn([13, 3], CPU);
    let loss = |out: gdistill_models::ModelOutput| {
        (out.logits * &readout).sum(Kind::Float) + out.hidden[0].square().mean(Kind::Float)
    };
    let params = vs.trainable_variables();
    let plain = Tensor::run_backward(&[loss(model.forward_t(&x, &graph, false))], &params, false, false);
    let (value, tape) = gdistill_models::record_sparse_products(|| loss(model.forward_t(&x, &graph, false)));
    assert!(!tape.is_empty(), "the attention products are recorded");
    tape.backward(&value).unwrap();
    for (p, want) in params.iter().zip(&plain) {
        assert!(max_abs_diff(&p.grad(), want) < 1e-4, "{}", max_abs_diff(&p.grad(), want));
    }
    // Without gradients the CSR path runs; it equals the dense oracle.
    let vs1 = nn::VarStore::new(Device::Cpu);
    let conv = GatConv::new(&vs1.root(), 6, 3, 2, true);
    let xd = match &x {
        NodeFeatures::Dense(t) => t.shallow_clone(),
        NodeFeatures::Sparse(_) => unreachable!(),
    };
    let want = tch::no_grad(|| dense_gat(&conv, &xd, &dense, 2, 3, true));
    let got = tch::no_grad(|| conv.forward(&xd, &graph, 0.0, false));
    assert!(max_abs_diff(&got, &want) < 1e-5);
}
