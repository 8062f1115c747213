//! Point-cloud models against independent oracles: the device kNN against the graph crate's
//! exact kNN, EdgeConv against a loop over edges, and the DGCNN's dynamic graph against kNN of
//! its own features.

use gdistill_graph::{knn_graph_batched, KnnOptions};
use gdistill_models::pointcloud::{knn, CloudArch, CloudShape, EdgeConv};
use tch::{nn, Device, Kind, Tensor};

fn random_clouds(batch: i64, n: i64, dim: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([batch, n, dim], (Kind::Float, Device::Cpu))
}

/// The device kNN, as sorted neighbour sets per global point.
fn device_sets(x: &Tensor, k: i64, include_self: bool) -> Vec<Vec<usize>> {
    let (batch, n) = (x.size()[0], x.size()[1]);
    let idx = knn(x, k, include_self);
    let kk = idx.size()[2];
    let flat: Vec<i64> = Vec::try_from(idx.view([-1])).unwrap();
    (0..(batch * n) as usize)
        .map(|p| {
            let b = p / n as usize;
            let mut s: Vec<usize> =
                flat[p * kk as usize..(p + 1) * kk as usize].iter().map(|&j| b * n as usize + j as usize).collect();
            s.sort_unstable();
            s
        })
        .collect()
}

fn exact_sets(x: &Tensor, k: usize, include_self: bool) -> Vec<Vec<usize>> {
    let (batch, n, dim) = (x.size()[0] as usize, x.size()[1] as usize, x.size()[2] as usize);
    let points: Vec<f32> = Vec::try_from(x.view([-1])).unwrap();
    let opts = if include_self { KnnOptions::include_self() } else { KnnOptions::default() };
    let g = knn_graph_batched(&points, dim, &vec![n; batch], k, opts).unwrap();
    (0..batch * n)
        .map(|i| {
            let mut s = g.neighbors(i).to_vec();
            s.sort_unstable();
            s
        })
        .collect()
}

#[test]
fn device_knn_equals_the_exact_knn_of_the_graph_crate() {
    for (dim, k, include_self) in [(3, 5, true), (3, 5, false), (2, 1, false), (16, 8, true), (3, 40, false)] {
        let x = random_clouds(3, 30, dim, 7 + dim);
        assert_eq!(device_sets(&x, k, include_self), exact_sets(&x, k as usize, include_self), "dim {dim} k {k}");
    }
    // a duplicated point: with include_self each copy still takes itself first
    let x = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 0.0, 1.0, 0.0, 5.0, 5.0]).view([1, 4, 2]);
    let idx: Vec<i64> = Vec::try_from(knn(&x, 1, true).view([-1])).unwrap();
    assert_eq!(idx, [0, 1, 2, 3]);
    assert_eq!(device_sets(&x, 2, false), exact_sets(&x, 2, false));
}

/// `max_j LeakyReLU(Θ [x_i, x_j - x_i] + b)`, one edge at a time, in f64.
fn edgeconv_oracle(conv: &EdgeConv, x: &Tensor, idx: &Tensor) -> Vec<f64> {
    let w_c: Vec<f64> = Vec::try_from(conv.centre.ws.to_kind(Kind::Double).view([-1])).unwrap();
    let w_e: Vec<f64> = Vec::try_from(conv.offset.ws.to_kind(Kind::Double).view([-1])).unwrap();
    let bias: Vec<f64> = Vec::try_from(conv.centre.bs.as_ref().unwrap().to_kind(Kind::Double)).unwrap();
    let (batch, n, c) = (x.size()[0] as usize, x.size()[1] as usize, x.size()[2] as usize);
    let (k, out) = (idx.size()[2] as usize, bias.len());
    let xs: Vec<f64> = Vec::try_from(x.to_kind(Kind::Double).view([-1])).unwrap();
    let ids: Vec<i64> = Vec::try_from(idx.view([-1])).unwrap();
    let mut result = vec![f64::NEG_INFINITY; batch * n * out];
    for b in 0..batch {
        for i in 0..n {
            let xi = &xs[(b * n + i) * c..(b * n + i + 1) * c];
            for m in 0..k {
                let j = ids[(b * n + i) * k + m] as usize;
                let xj = &xs[(b * n + j) * c..(b * n + j + 1) * c];
                // the edge feature [x_i, x_j - x_i] through one linear layer [out, 2C]
                let edge: Vec<f64> = xi.iter().copied().chain(xj.iter().zip(xi).map(|(a, b)| a - b)).collect();
                for o in 0..out {
                    let theta: Vec<f64> =
                        w_c[o * c..(o + 1) * c].iter().chain(&w_e[o * c..(o + 1) * c]).copied().collect();
                    let e = bias[o] + theta.iter().zip(&edge).map(|(t, v)| t * v).sum::<f64>();
                    let h = if e > 0.0 { e } else { 0.2 * e };
                    let slot = &mut result[(b * n + i) * out + o];
                    *slot = slot.max(h);
                }
            }
        }
    }
    result
}

#[test]
fn edgeconv_matches_a_loop_over_edges() {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let conv = EdgeConv::new(&vs.root(), 3, 5, false);
    let x = random_clouds(2, 7, 3, 11);
    let idx = knn(&x, 3, true);
    let fast: Vec<f32> = Vec::try_from(conv.forward_t(&x, &idx, false).view([-1])).unwrap();
    let slow = edgeconv_oracle(&conv, &x, &idx);
    assert_eq!(fast.len(), slow.len());
    for (a, b) in fast.iter().zip(&slow) {
        assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
    }
    // an arbitrary neighbour list (not a kNN one, repeats allowed) gives the same agreement
    let idx = Tensor::from_slice(&[6i64, 0, 0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0, 0, 0, 1, 1, 1])
        .view([1, 7, 3])
        .repeat([2, 1, 1]);
    let fast: Vec<f32> = Vec::try_from(conv.forward_t(&x, &idx, false).view([-1])).unwrap();
    for (a, b) in fast.iter().zip(&edgeconv_oracle(&conv, &x, &idx)) {
        assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn dgcnn_rebuilds_its_graph_in_feature_space_and_static_keeps_the_coordinate_graph() {
    let shape = CloudShape { dim: 3, classes: 3 };
    let x = random_clouds(2, 24, 3, 5);
    for dynamic in [true, false] {
        let vs = nn::VarStore::new(Device::Cpu);
        let arch = CloudArch::Dgcnn { k: 4, widths: vec![8, 8, 8], dynamic, embed: 16, head: vec![8], dropout: 0.0 };
        let out = arch.build(&vs.root(), shape).unwrap().forward_t(&x, false);
        let coordinate_graph = knn(&x, 4, true);
        assert!(out.graphs[0].equal(&coordinate_graph));
        for l in 1..3 {
            let expected =
                if dynamic { knn(&out.point_features[l - 1], 4, true) } else { coordinate_graph.shallow_clone() };
            assert!(out.graphs[l].equal(&expected), "layer {l}, dynamic {dynamic}");
        }
        assert_eq!(out.point_features.len(), 4, "three EdgeConv outputs and the embedding");
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let arch = CloudArch::Dgcnn { k: 4, widths: vec![8, 8, 8], dynamic: true, embed: 16, head: vec![8], dropout: 0.0 };
    let dyn_out = arch.build(&vs.root(), shape).unwrap().forward_t(&x, false);
    assert!(!dyn_out.graphs[2].equal(&dyn_out.graphs[0]), "a feature-space graph differs from the coordinate one");
}

#[test]
fn models_are_permutation_invariant_and_train() {
    let shape = CloudShape { dim: 2, classes: 2 };
    let x = random_clouds(4, 16, 2, 9);
    let perm = Tensor::randperm(16, (Kind::Int64, Device::Cpu));
    for arch in [
        CloudArch::Dgcnn { k: 3, widths: vec![8, 8], dynamic: true, embed: 8, head: vec![8], dropout: 0.0 },
        CloudArch::PointNet { widths: vec![8, 16], head: vec![8], dropout: 0.0 },
    ] {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = arch.build(&vs.root(), shape).unwrap();
        let a = model.forward_t(&x, false).logits;
        let b = model.forward_t(&x.index_select(1, &perm), false).logits;
        assert!(a.allclose(&b, 1e-5, 1e-5, false), "{}", arch.describe());
        let out = model.forward_t(&x, true);
        let loss = out.logits.log_softmax(-1, Kind::Float).nll_loss(&Tensor::from_slice(&[0i64, 1, 0, 1]));
        loss.backward();
        let grads: f64 =
            vs.trainable_variables().iter().map(|v| v.grad().abs().sum(Kind::Double).double_value(&[])).sum();
        assert!(grads > 0.0 && grads.is_finite());
        assert_eq!(arch.num_params(shape), vs.trainable_variables().iter().map(|v| v.numel() as i64).sum::<i64>());
    }
    assert!(CloudArch::PointNet { widths: vec![], head: vec![], dropout: 0.0 }.validate(shape).is_err());
    assert!(CloudArch::PointNet { widths: vec![8], head: vec![], dropout: 0.0 }
        .validate(CloudShape { dim: 4, classes: 2 })
        .is_err());
}
