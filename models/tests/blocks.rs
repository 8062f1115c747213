//! Forward passes on neighbour-sampled blocks: with every neighbour sampled they equal the
//! full-graph forward on the seeds; with fewer, GCN's rescaled block aggregation is an unbiased
//! estimate of the full `A_hat` product; inconsistent blocks are refused.

use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph, NeighborSampler};
use gdistill_models::{
    block_adjacency, full_degrees, record_sparse_products, sampled_block_matrices, Arch, ArchOptions, ModelConfig,
    NodeFeatures, SageAggregator, SparseMatrix,
};
use tch::{nn, Device, Kind, Tensor};

// Tests here seed libtorch's global generator and rely on the draws that follow.
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

/// A seeded undirected graph on `n` nodes, each pair joined with probability `p`; node `n - 1`
/// is isolated and node 0 carries a self-loop (which the sampler never draws and `A + I` does
/// not double).
fn random_graph(n: usize, p: f64, seed: u64) -> Graph {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut edges = vec![(0, 0)];
    for i in 0..n - 1 {
        for j in i + 1..n - 1 {
            if next() < p {
                edges.push((i, j));
            }
        }
    }
    Graph::from_edges(n, &edges, EdgeOptions::undirected().keep_self_loops()).unwrap()
}

fn a_hat(g: &Graph) -> SparseMatrix {
    SparseMatrix::from_sprs(&gcn_normalized_adjacency(g), Device::Cpu).unwrap()
}

fn index(ids: &[usize]) -> Tensor {
    Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>())
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn every_neighbour_sampled_equals_the_full_graph_forward() {
    let _rng = torch_rng::torch_rng();
    let n = 60;
    let g = random_graph(n, 0.12, 3);
    let full_a = a_hat(&g);
    let degree = full_degrees(&g);
    tch::manual_seed(5);
    let x = Tensor::randn([n as i64, 6], CPU);
    // the self-looped node, the isolated one, and a few others
    let seeds = [0, 59, 17, 3, 42, 8];
    let options = ArchOptions { heads: 3, output_heads: 2, normalize: false, ..ArchOptions::default() };
    let (mean, gcn) = (SageAggregator::Mean, SageAggregator::Gcn);
    for (arch, normalize, aggregator) in [
        (Arch::Gcn, false, mean),
        (Arch::Sage, false, mean),
        (Arch::Sage, true, mean),
        (Arch::Sage, false, gcn),
        (Arch::Gat, false, mean),
        (Arch::Mlp, false, mean),
    ] {
        for layers in 1..=3 {
            let vs = nn::VarStore::new(Device::Cpu);
            let config = ModelConfig::new(arch, 6, 8, layers, 4, 0.5).with_options(ArchOptions {
                normalize,
                aggregator,
                ..options.clone()
            });
            let model = config.build(&vs.root()).unwrap();
            let full = model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &full_a, false);

            let sampler = NeighborSampler::new(vec![NeighborSampler::ALL; layers]).unwrap();
            let batch = sampler.sample(&g, &seeds, 11).unwrap();
            let blocks = sampled_block_matrices(&batch, &degree, Device::Cpu).unwrap();
            let x_src = NodeFeatures::Dense(x.index_select(0, &index(&batch.n_id)));
            let out = model.forward_blocks_t(&x_src, &blocks, false).unwrap();

            let what = format!("{arch} x{layers} (normalize {normalize}, aggregator {aggregator})");
            assert_eq!(out.logits.size(), [seeds.len() as i64, 4], "{what}");
            let gap = max_abs_diff(&out.logits, &full.logits.index_select(0, &index(&seeds)));
            assert!(gap < 1e-5, "{what}: logits differ by {gap}");
            assert_eq!(out.hidden.len(), full.hidden.len(), "{what}");
            for (k, (h, f)) in out.hidden.iter().zip(&full.hidden).enumerate() {
                let rows = batch.dst_nodes(k);
                assert_eq!(h.size()[0], rows.len() as i64, "{what}: hidden {k} holds block {k}'s destinations");
                let gap = max_abs_diff(h, &f.index_select(0, &index(rows)));
                assert!(gap < 1e-5, "{what}: hidden layer {k} differs by {gap}");
            }
        }
    }
}

/// Layers take `(agg @ x) @ W` instead of `agg @ (x @ W)` when `x` is constant and that is
/// cheaper (a first block, whose sources outnumber its destinations). Oracles: the same model
/// with `x` requiring a gradient (which keeps the projection first) for every family that
/// aggregates, and for GCN a dense brute force of `A1 relu(A0 X W0 + b0) W1 + b1`.
#[test]
fn aggregating_first_on_blocks_gives_the_same_outputs_and_weight_gradients() {
    let _rng = torch_rng::torch_rng();
    let n = 80;
    let g = random_graph(n, 0.15, 21);
    tch::manual_seed(2);
    let x = Tensor::randn([n as i64, 40], CPU);
    let batch = NeighborSampler::new(vec![3, 2]).unwrap().sample(&g, &[4, 9, 33], 6).unwrap();
    let blocks = sampled_block_matrices(&batch, &full_degrees(&g), Device::Cpu).unwrap();
    assert!(blocks[0].cols() > 2 * blocks[0].rows(), "the first block must fan out for the test to mean anything");
    let rows = x.index_select(0, &index(&batch.n_id));
    let (mean, gcn) = (SageAggregator::Mean, SageAggregator::Gcn);
    for (arch, aggregator) in [(Arch::Gcn, mean), (Arch::Sage, mean), (Arch::Sage, gcn)] {
        let what = format!("{arch} (aggregator {aggregator})");
        // One model for both orders: tests run in parallel and share libtorch's generator, so
        // two models built from one seed need not get the same weights.
        let vs = nn::VarStore::new(Device::Cpu);
        let config =
            ModelConfig::new(arch, 40, 6, 2, 3, 0.0).with_options(ArchOptions { aggregator, ..ArchOptions::default() });
        let model = config.build(&vs.root()).unwrap();
        let run = |input: &Tensor| {
            for (_, mut w) in vs.variables() {
                w.zero_grad();
            }
            let (out, tape) = record_sparse_products(|| {
                model.forward_blocks_t(&NodeFeatures::Dense(input.shallow_clone()), &blocks, true).unwrap()
            });
            tape.backward(&out.logits.square().sum(Kind::Float)).unwrap();
            let grads: Vec<Tensor> = model.weights().iter().map(|w| w.grad().copy()).collect();
            (out.logits.detach(), grads)
        };
        let (fast, fast_grads) = run(&rows);
        let (plain, plain_grads) = run(&rows.copy().set_requires_grad(true));
        assert!(max_abs_diff(&fast, &plain) < 1e-5, "{what}: logits differ");
        for (k, (a, b)) in fast_grads.iter().zip(&plain_grads).enumerate() {
            let scale = b.abs().max().double_value(&[]).max(1.0);
            assert!(max_abs_diff(a, b) < 1e-5 * scale, "{what}: gradient of weight {k} differs");
        }
        if arch == Arch::Gcn {
            let v = vs.variables();
            let (w0, b0, w1, b1) = (&v["0.weight"], &v["0.bias"], &v["1.weight"], &v["1.bias"]);
            let (a0, a1) = (blocks[0].to_dense(), blocks[1].to_dense());
            let w0 = w0.detach().set_requires_grad(true);
            let brute = a1.matmul(&(a0.matmul(&rows).matmul(&w0) + b0).relu().matmul(w1)) + b1;
            assert!(max_abs_diff(&fast, &brute.detach()) < 1e-5, "{what}: logits differ from the dense product");
            brute.square().sum(Kind::Float).backward();
            assert!(max_abs_diff(&fast_grads[0], &w0.grad()) < 1e-4, "{what}: first weight's gradient");
        }
    }
}

#[test]
fn sparse_input_on_blocks_matches_dense_input() {
    let _rng = torch_rng::torch_rng();
    let n = 40;
    let g = random_graph(n, 0.2, 8);
    tch::manual_seed(1);
    let x = Tensor::randn([n as i64, 5], CPU).relu(); // about half the entries zero
    let batch = NeighborSampler::new(vec![4, 3]).unwrap().sample(&g, &[1, 2, 30], 4).unwrap();
    let blocks = sampled_block_matrices(&batch, &full_degrees(&g), Device::Cpu).unwrap();
    let rows = x.index_select(0, &index(&batch.n_id));
    let dense: Vec<f32> = Vec::try_from(rows.view([-1])).unwrap();
    let (mut indptr, mut indices, mut values) = (vec![0], vec![], vec![]);
    for r in 0..batch.n_id.len() {
        for c in 0..5 {
            if dense[r * 5 + c] != 0.0 {
                indices.push(c);
                values.push(dense[r * 5 + c]);
            }
        }
        indptr.push(indices.len());
    }
    let sparse = SparseMatrix::from_csr(&indptr, &indices, &values, (batch.n_id.len(), 5), Device::Cpu).unwrap();
    for arch in [Arch::Gcn, Arch::Sage, Arch::Gat, Arch::Mlp] {
        let vs = nn::VarStore::new(Device::Cpu);
        let model = ModelConfig::new(arch, 5, 8, 2, 3, 0.0).build(&vs.root()).unwrap();
        let a = model.forward_blocks_t(&NodeFeatures::Dense(rows.shallow_clone()), &blocks, false).unwrap();
        let b = model
            .forward_blocks_t(&NodeFeatures::Sparse(sparse.with_values(sparse.values().copy())), &blocks, false)
            .unwrap();
        assert_eq!(a.logits.size(), [3, 3]);
        assert!(max_abs_diff(&a.logits, &b.logits) < 1e-5, "{arch}");
    }
}

/// Mean and standard error, over `runs` sampling seeds, of `estimate(seed)`, in f64.
fn mean_and_stderr(runs: u64, estimate: impl Fn(u64) -> Tensor) -> (Tensor, Tensor) {
    let (mut sum, mut sum_sq) = (None::<Tensor>, None::<Tensor>);
    for seed in 0..runs {
        let e = estimate(seed).to_kind(Kind::Double);
        let sq = e.square();
        sum = Some(sum.map_or(e.shallow_clone(), |s| s + &e));
        sum_sq = Some(sum_sq.map_or(sq.shallow_clone(), |s| s + &sq));
    }
    let r = runs as f64;
    let mean = sum.unwrap() / r;
    let var = (sum_sq.unwrap() / r - mean.square()).clamp_min(0.0);
    let stderr = (var / r).sqrt();
    (mean, stderr)
}

/// Every entry of `mean` within 5 standard errors (plus float rounding) of `truth`, and the
/// test not vacuous: sampling did vary the estimate, and the errors allowed are small.
fn assert_unbiased(mean: &Tensor, stderr: &Tensor, truth: &Tensor, what: &str) {
    let truth = truth.to_kind(Kind::Double);
    let excess = ((mean - &truth).abs() - stderr * 5.0 - 1e-5).max().double_value(&[]);
    assert!(excess <= 0.0, "{what}: the sampled mean is off by {excess} beyond 5 standard errors");
    let scale = truth.abs().max().double_value(&[]);
    let widest = stderr.max().double_value(&[]);
    assert!(widest > 0.0, "{what}: the estimate never varied: nothing was sampled");
    assert!(5.0 * widest < 0.1 * scale, "{what}: standard error {widest} too wide for a test (scale {scale})");
}

#[test]
fn sampled_gcn_aggregation_is_unbiased() {
    let _rng = torch_rng::torch_rng();
    let n = 50;
    let g = random_graph(n, 0.25, 21); // degrees around 12, fan-outs 3 and 2
    let full_a = a_hat(&g);
    let degree = full_degrees(&g);
    tch::manual_seed(2);
    let h = Tensor::randn([n as i64, 4], CPU);
    let all: Vec<usize> = (0..n).collect();
    let runs = 1500;

    // one layer: E[M (H rows of n_id)] = A_hat H
    let one = NeighborSampler::new(vec![3]).unwrap();
    let (mean, stderr) = mean_and_stderr(runs, |seed| {
        let batch = one.sample(&g, &all, seed).unwrap();
        let m = sampled_block_matrices(&batch, &degree, Device::Cpu).unwrap();
        m[0].matmul(&h.index_select(0, &index(&batch.n_id)))
    });
    assert_unbiased(&mean, &stderr, &full_a.matmul(&h), "one hop, fan-out 3");

    // two linear layers on a few seeds: each hop draws independently, so E[M1 M0 H] = A_hat^2 H
    let two = NeighborSampler::new(vec![3, 2]).unwrap();
    let seeds = [4, 0, 31, 49, 12];
    let (mean, stderr) = mean_and_stderr(runs, |seed| {
        let batch = two.sample(&g, &seeds, seed).unwrap();
        let m = sampled_block_matrices(&batch, &degree, Device::Cpu).unwrap();
        m[1].matmul(&m[0].matmul(&h.index_select(0, &index(&batch.n_id))))
    });
    let truth = full_a.matmul(&full_a.matmul(&h)).index_select(0, &index(&seeds));
    assert_unbiased(&mean, &stderr, &truth, "two hops, fan-outs 3, 2");
}

#[test]
fn block_adjacency_refuses_inconsistent_arrays() {
    let ok = |indptr: &[usize], indices: &[usize], dst: usize, src: usize, degree: &[usize]| {
        block_adjacency(indptr, indices, dst, src, degree, Device::Cpu)
    };
    // destination 0 samples sources 2 and 3 of degree 3; destination 1 samples nothing
    let m = ok(&[0, 2, 2], &[3, 2], 2, 4, &[3, 0, 1, 2]).unwrap();
    assert_eq!((m.rows(), m.cols(), m.nnz()), (2, 4, 4));
    let dense: Vec<f32> = Vec::try_from(m.to_dense().view([-1])).unwrap();
    let expected = |d_i: f64, s_i: f64, d_j: f64| ((d_i / s_i) / ((d_i + 1.0) * (d_j + 1.0)).sqrt()) as f32;
    assert_eq!(dense[0], 0.25);
    assert!((dense[2] - expected(3.0, 2.0, 1.0)).abs() < 1e-7);
    assert!((dense[3] - expected(3.0, 2.0, 2.0)).abs() < 1e-7);
    assert_eq!(&dense[4..], &[0.0, 1.0, 0.0, 0.0], "a node without neighbours keeps itself");

    let cases: [(&str, Result<SparseMatrix, _>); 10] = [
        ("more destinations than sources", ok(&[0, 0, 0, 0], &[], 3, 2, &[1, 1])),
        ("row pointer too short", ok(&[0, 2], &[2, 3], 2, 4, &[3, 0, 1, 2])),
        ("row pointer not from 0", ok(&[1, 2, 2], &[2, 3], 2, 4, &[3, 0, 1, 2])),
        ("row pointer decreasing", ok(&[0, 2, 1], &[2, 3], 2, 4, &[3, 0, 1, 2])),
        ("row pointer ends early", ok(&[0, 1, 1], &[2, 3], 2, 4, &[3, 0, 1, 2])),
        ("index out of range", ok(&[0, 2, 2], &[2, 4], 2, 4, &[3, 0, 1, 2])),
        ("degrees of the wrong length", ok(&[0, 2, 2], &[2, 3], 2, 4, &[3, 0, 1])),
        ("more sampled than the degree", ok(&[0, 2, 2], &[2, 3], 2, 4, &[1, 0, 1, 2])),
        ("a destination listing itself", ok(&[0, 2, 2], &[0, 3], 2, 4, &[3, 0, 1, 2])),
        ("a neighbour twice", ok(&[0, 2, 2], &[3, 3], 2, 4, &[3, 0, 1, 2])),
    ];
    for (what, result) in cases {
        let err = result.err().unwrap_or_else(|| panic!("{what} accepted"));
        assert!(err.to_string().contains("sampled block"), "{what}: {err}");
    }
}

#[test]
fn forward_on_blocks_refuses_appnp_and_stacks_that_do_not_fit() {
    let _rng = torch_rng::torch_rng();
    let g = random_graph(30, 0.2, 4);
    let degree = full_degrees(&g);
    let batch = NeighborSampler::new(vec![5, 5]).unwrap().sample(&g, &[1, 2], 0).unwrap();
    let blocks = sampled_block_matrices(&batch, &degree, Device::Cpu).unwrap();
    let x = NodeFeatures::Dense(Tensor::randn([batch.n_id.len() as i64, 4], CPU));

    let vs = nn::VarStore::new(Device::Cpu);
    let appnp = ModelConfig::new(Arch::Appnp, 4, 8, 2, 3, 0.0).build(&vs.root()).unwrap();
    let err = appnp.forward_blocks_t(&x, &blocks, true).err().unwrap().to_string();
    assert!(err.contains("appnp does not train on sampled blocks") && err.contains("hops"), "{err}");

    let gcn = ModelConfig::new(Arch::Gcn, 4, 8, 2, 3, 0.0).build(&vs.root()).unwrap();
    let err = gcn.forward_blocks_t(&x, &blocks[..1], true).err().unwrap().to_string();
    assert!(err.contains("one block per layer"), "{err}");
    let short = NodeFeatures::Dense(Tensor::randn([batch.n_id.len() as i64 - 1, 4], CPU));
    assert!(gcn.forward_blocks_t(&short, &blocks, true).is_err(), "input rows checked");
    let swapped = [blocks[1].with_values(blocks[1].values().copy()), blocks[0].with_values(blocks[0].values().copy())];
    assert!(gcn.forward_blocks_t(&x, &swapped, true).is_err(), "block chaining checked");
    assert!(gcn.forward_blocks_t(&x, &blocks, true).is_ok());

    let mut bad_degree = degree.clone();
    bad_degree.truncate(5);
    assert!(sampled_block_matrices(&batch, &bad_degree, Device::Cpu).is_err());
}

/// `BlockNorm::Block` by hand: a star 0 - {1, 2, 3} with the edge 1 - 2, every neighbour sampled
/// over two hops. The input block's destinations are all four nodes (in local ids 0, 1, 2, 3 in
/// the order the sampler met them); the output block's is the seed alone, whose sources 1-3 are
/// not destinations there, so they count no sampled neighbours (PyG's outermost nodes).
#[test]
fn block_norm_recomputes_gcn_normalisation_on_the_block() {
    use gdistill_models::{sampled_block_matrices_with, BlockNorm};
    let g = Graph::from_edges(4, &[(0, 1), (0, 2), (0, 3), (1, 2)], EdgeOptions::undirected()).unwrap();
    let batch = NeighborSampler::new(vec![NeighborSampler::ALL; 2]).unwrap().sample(&g, &[0], 3).unwrap();
    assert_eq!(batch.n_id[0], 0);
    let blocks = sampled_block_matrices_with(&batch, &full_degrees(&g), BlockNorm::Block, Device::Cpu).unwrap();
    let dense = |m: &SparseMatrix| -> Vec<Vec<f32>> {
        let d = m.to_dense();
        (0..d.size()[0]).map(|r| Vec::try_from(d.get(r)).unwrap()).collect()
    };
    // local id -> global id, and each node's sampled count: its full degree here (all sampled)
    let global = |k: usize| batch.n_id[k];
    let degree = [3.0f64, 2.0, 2.0, 1.0];
    let input = dense(&blocks[0]);
    assert_eq!(input.len(), 4);
    for (i, row) in input.iter().enumerate() {
        for (j, &value) in row.iter().enumerate() {
            let (gi, gj) = (global(i), global(j));
            let adjacent = gi == gj || g.neighbors(gi).binary_search(&gj).is_ok();
            let want = if adjacent { 1.0 / ((degree[gi] + 1.0) * (degree[gj] + 1.0)).sqrt() } else { 0.0 };
            assert!((value as f64 - want).abs() < 1e-6, "input block ({i}, {j}): {value} against {want}");
        }
    }
    // every source of the input block is one of its destinations: the block is A_hat itself
    let output = dense(&blocks[1]);
    assert_eq!(output.len(), 1);
    assert!((output[0][0] - 0.25).abs() < 1e-6, "self: 1 / (3 + 1)");
    for &value in &output[0][1..4] {
        assert!((value - 0.5).abs() < 1e-6, "a leaf of this block: 1 / sqrt(4 * 1), got {value}");
    }
    // SAGE reads only the pattern, which is the unbiased block's
    let unbiased = sampled_block_matrices(&batch, &full_degrees(&g), Device::Cpu).unwrap();
    assert!(unbiased[1].to_dense().ne(0.0).equal(&blocks[1].to_dense().ne(0.0)));
    assert_eq!("block".parse::<BlockNorm>().unwrap(), BlockNorm::Block);
    assert!("pyg".parse::<BlockNorm>().unwrap_err().contains("unbiased or block"));
}
