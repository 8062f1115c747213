//! The sparse layers against dense computations, and the tape's gradients against autograd's.

use gdistill_models::{parse_device, record_sparse_products, Arch, GcnConv, ModelConfig, NodeFeatures, SparseMatrix};
use tch::{nn, Device, Kind, Tensor};

/// A seeded random sparse matrix as CSR arrays plus its dense copy (row-major).
fn random_csr(rows: usize, cols: usize, density: f64, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<f32>, Vec<f32>) {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let (mut indptr, mut indices, mut values) = (vec![0], vec![], vec![]);
    let mut dense = vec![0f32; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            if next() < density {
                let v = (next() * 2.0 - 1.0) as f32;
                indices.push(j);
                values.push(v);
                dense[i * cols + j] = v;
            }
        }
        indptr.push(indices.len());
    }
    (indptr, indices, values, dense)
}

fn sparse_and_dense(rows: usize, cols: usize, density: f64, seed: u64) -> (SparseMatrix, Tensor) {
    let (indptr, indices, values, dense) = random_csr(rows, cols, density, seed);
    let m = SparseMatrix::from_csr(&indptr, &indices, &values, (rows, cols), Device::Cpu).unwrap();
    (m, Tensor::from_slice(&dense).view([rows as i64, cols as i64]))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn sparse_products_match_dense_ones() {
    for (rows, cols, density, seed) in [(7, 5, 0.3, 1), (40, 90, 0.05, 2), (1, 1, 1.0, 3), (6, 4, 0.0, 4)] {
        let (m, dense) = sparse_and_dense(rows, cols, density, seed);
        assert_eq!(max_abs_diff(&m.to_dense(), &dense), 0.0);
        let d = Tensor::randn([cols as i64, 3], (Kind::Float, Device::Cpu));
        assert!(max_abs_diff(&m.matmul(&d), &dense.mm(&d)) < 1e-5);
        let g = Tensor::randn([rows as i64, 3], (Kind::Float, Device::Cpu));
        assert!(max_abs_diff(&m.matmul_transposed(&g), &dense.tr().mm(&g)) < 1e-5);
    }
}

#[test]
fn gcn_layer_matches_its_dense_formula() {
    tch::manual_seed(0);
    let (a_hat, a_dense) = sparse_and_dense(12, 12, 0.3, 7);
    let (x_sparse, x_dense) = sparse_and_dense(12, 9, 0.4, 8);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = GcnConv::new(&vs.root(), 9, 4);
    tch::no_grad(|| conv.bias.shallow_clone().copy_(&Tensor::randn([4], (Kind::Float, Device::Cpu))));
    let want = a_dense.mm(&x_dense.mm(&conv.weight)) + &conv.bias;
    let from_sparse = conv.forward(&NodeFeatures::Sparse(x_sparse), &a_hat);
    let from_dense = conv.forward(&x_dense, &a_hat);
    assert!(max_abs_diff(&from_sparse, &want) < 1e-5);
    assert!(max_abs_diff(&from_dense, &want) < 1e-5);
    // Glorot bound sqrt(6 / (9 + 4))
    assert!(conv.weight.abs().max().double_value(&[]) <= (6.0f64 / 13.0).sqrt());
}

#[test]
fn taped_gradients_equal_plain_autograd() {
    let (a_hat, _) = sparse_and_dense(30, 30, 0.15, 11);
    let (x, _) = sparse_and_dense(30, 20, 0.2, 12);
    let x = NodeFeatures::Sparse(x);
    for arch in [Arch::Gcn, Arch::Mlp] {
        let config = ModelConfig::new(arch, 20, 8, 3, 4, 0.0);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = config.build(&vs.root()).unwrap();
        let vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        // The loss also reads the hidden features, as LSP does: the graph between sparse
        // products is then reached from two places.
        let loss_of = |out: gdistill_models::ModelOutput| {
            out.logits.log_softmax(-1, Kind::Float).square().sum(Kind::Float)
                + out.hidden.iter().map(|h| h.sin().sum(Kind::Float)).fold(Tensor::from(0.0f32), |a, b| a + b)
        };

        loss_of(model.forward_t(&x, &a_hat, true)).backward();
        let plain: Vec<Tensor> = vars.iter().map(|(_, v)| v.grad().copy()).collect();
        for (_, v) in &vars {
            let _ = v.grad().zero_();
        }
        let (out, tape) = record_sparse_products(|| model.forward_t(&x, &a_hat, true));
        let expected_products = if arch == Arch::Gcn { 1 + 3 } else { 1 };
        assert_eq!(tape.len(), expected_products, "{arch}: X @ W1 plus one A_hat product per layer");
        tape.backward(&loss_of(out)).unwrap();
        for ((name, v), want) in vars.iter().zip(&plain) {
            let diff = max_abs_diff(&v.grad(), want);
            assert!(diff < 1e-5 * (1.0 + want.abs().max().double_value(&[])), "{arch} {name}: {diff}");
            assert!(want.abs().sum(Kind::Float).double_value(&[]) > 0.0, "{arch} {name} has a gradient");
        }
    }
}

#[test]
fn models_report_their_parameters_and_hidden_features() {
    let config = ModelConfig::new(Arch::Gcn, 1433, 64, 2, 7, 0.5);
    assert_eq!(config.num_params(), 92231); // Kipf & Welling's GCN at 64 hidden on Cora
    let vs = nn::VarStore::new(Device::Cpu);
    let _model = config.build(&vs.root()).unwrap();
    let counted: i64 = vs.trainable_variables().iter().map(|v| v.numel() as i64).sum();
    assert_eq!(counted, 92231);

    let (a_hat, _) = sparse_and_dense(10, 10, 0.3, 3);
    let x = NodeFeatures::Dense(Tensor::randn([10, 6], (Kind::Float, Device::Cpu)));
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(Arch::Gcn, 6, 5, 3, 2, 0.5).build(&vs.root()).unwrap();
    let out = model.forward_t(&x, &a_hat, false);
    assert_eq!(out.logits.size(), [10, 2]);
    assert_eq!(out.hidden.iter().map(|h| h.size()).collect::<Vec<_>>(), [[10, 5], [10, 5]]);
    assert!(out.hidden.iter().all(|h| h.min().double_value(&[]) >= 0.0), "hidden features are post-ReLU");
    // eval mode is deterministic, train mode applies dropout
    let again = model.forward_t(&x, &a_hat, false);
    assert_eq!(max_abs_diff(&out.logits, &again.logits), 0.0);
}

#[test]
fn bad_configurations_and_devices_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    assert!(ModelConfig::new(Arch::Gcn, 0, 8, 2, 3, 0.5).build(&vs.root()).is_err());
    assert!(ModelConfig::new(Arch::Mlp, 4, 8, 2, 3, 1.0).build(&vs.root()).is_err());
    assert!("transformer".parse::<Arch>().is_err());
    assert!(parse_device("tpu").is_err());
    assert!(parse_device("cuda:x").is_err());
    if !gdistill_models::cuda_available() {
        let err = parse_device("cuda").unwrap_err().to_string();
        assert!(err.contains("no CUDA device"), "{err}");
    }
    assert!(SparseMatrix::from_csr(&[0, 1], &[5], &[1.0], (1, 3), Device::Cpu).is_err());
    assert!(SparseMatrix::from_csr(&[0, 2], &[0], &[1.0], (1, 3), Device::Cpu).is_err());
}

#[test]
fn block_diagonal_holds_one_copy_per_head_and_its_products_match_per_head_ones() {
    let (m, dense) = sparse_and_dense(5, 7, 0.4, 11);
    for heads in [1, 3] {
        let big = m.block_diagonal(heads);
        assert_eq!((big.rows(), big.cols(), big.nnz()), (5 * heads, 7 * heads, m.nnz() * heads));
        let blocks: Vec<Tensor> = (0..heads).map(|_| dense.shallow_clone()).collect();
        let oracle = Tensor::block_diag(&blocks);
        assert!(big.to_dense().allclose(&oracle, 0.0, 0.0, false), "heads {heads}");
        // Per-head values (head-major) and per-head sources give the per-head products stacked.
        let values = Tensor::randn([heads * m.nnz()], (Kind::Float, Device::Cpu));
        let sources = Tensor::randn([heads * 7, 2], (Kind::Float, Device::Cpu));
        let out = big.matmul_with_values(&values, &sources);
        for h in 0..heads {
            let expected = m.matmul_with_values(&values.narrow(0, h * m.nnz(), m.nnz()), &sources.narrow(0, h * 7, 7));
            assert!(out.narrow(0, h * 5, 5).allclose(&expected, 1e-6, 1e-6, false), "head {h}");
        }
    }
    // The same count again is the cached operator, not a new one.
    assert!(std::sync::Arc::ptr_eq(&m.block_diagonal(3), &m.block_diagonal(3)));
}
