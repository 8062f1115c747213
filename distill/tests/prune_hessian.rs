//! The Hessian-diagonal estimators against independent oracles on tiny GCNs and MLPs.
//!
//! The oracle re-implements each network densely in float64 (its own forward, its own losses)
//! and takes second differences of the loss in each weight; a second oracle builds the full
//! Jacobian of the logits with float64 autograd and forms the Gauss-Newton diagonal
//! `diag(J^T M J)` that the Fisher estimator targets.

use gdistill_datasets::load;
use gdistill_distill::prune::{hessian_diagonal, HessianEstimator, PruneLoss};
use gdistill_distill::{FeatureLayout, GraphData};
use gdistill_models::{Arch, ModelConfig, NodeModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{nn, Device, Kind, Tensor};

/// 12 nodes, 4 features, 3 classes; 6 training nodes. Sparse features exercise the CSR path.
fn tiny(layout: FeatureLayout) -> GraphData {
    let dataset =
        load("csbm:nodes=12,classes=3,degree=2,homophily=0.6,features=4,seed=2", std::path::Path::new(".")).unwrap();
    let mut data = GraphData::new(&dataset, Device::Cpu, layout).unwrap();
    data.train = Tensor::from_slice(&[0i64, 2, 3, 5, 8, 11]);
    data
}

struct Net {
    _vs: nn::VarStore,
    model: Box<dyn NodeModel>,
    /// (weight, bias) per layer, float64 copies.
    params: Vec<(Tensor, Tensor)>,
}

/// A network with weights and biases drawn from `seed` on the host (libtorch's generator is
/// shared by the tests running in parallel), biases non-zero so that they matter.
fn net(arch: Arch, layers: usize, seed: u64) -> Net {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ModelConfig::new(arch, 4, 3, layers, 3, 0.5).build(&vs.root()).unwrap();
    let vars = vs.variables();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fill = |t: &Tensor, scale: f32| {
        let values: Vec<f32> = (0..t.numel()).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale).collect();
        tch::no_grad(|| t.shallow_clone().copy_(&Tensor::from_slice(&values).view(t.size().as_slice())));
    };
    let params = (0..layers)
        .map(|k| {
            let (w, b) = (&vars[&format!("{k}.weight")], &vars[&format!("{k}.bias")]);
            fill(w, 0.9);
            fill(b, 0.3);
            (w.detach().to_kind(Kind::Double), b.detach().to_kind(Kind::Double))
        })
        .collect();
    Net { _vs: vs, model, params }
}

fn dense(data: &GraphData) -> (Tensor, Tensor) {
    let x = match &data.features {
        gdistill_models::NodeFeatures::Dense(x) => x.shallow_clone(),
        gdistill_models::NodeFeatures::Sparse(x) => x.to_dense(),
    };
    (data.a_hat.to_dense().to_kind(Kind::Double), x.to_kind(Kind::Double))
}

/// The float64 forward pass: `A (H W) + b` (GCN) or `H W + b` (MLP), ReLU between layers.
fn oracle_logits(arch: Arch, a: &Tensor, x: &Tensor, params: &[(Tensor, Tensor)]) -> Tensor {
    let mut h = x.shallow_clone();
    for (k, (w, b)) in params.iter().enumerate() {
        let z = if arch == Arch::Gcn { a.mm(&h.mm(w)) } else { h.mm(w) } + b;
        h = if k + 1 < params.len() { z.relu() } else { z };
    }
    h
}

enum Loss {
    Labels,
    Soft(f64),
    Mse,
}

fn teacher_logits() -> Tensor {
    Tensor::from_slice(&(0..36).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect::<Vec<_>>()).view([12, 3])
}

fn prune_loss(loss: &Loss) -> PruneLoss {
    match loss {
        Loss::Labels => PruneLoss::Labels,
        Loss::Soft(t) => PruneLoss::SoftTargets { teacher_logits: teacher_logits(), temperature: *t },
        Loss::Mse => PruneLoss::LogitMatching { teacher_logits: teacher_logits() },
    }
}

fn oracle_loss(loss: &Loss, z: &Tensor, data: &GraphData) -> Tensor {
    let t = teacher_logits().to_kind(Kind::Double);
    match loss {
        Loss::Labels => {
            let zt = z.index_select(0, &data.train);
            let y = data.labels.index_select(0, &data.train);
            -zt.log_softmax(-1, Kind::Double).gather(1, &y.unsqueeze(1), false).mean(Kind::Double)
        }
        Loss::Soft(temp) => {
            let q = (&t / *temp).softmax(-1, Kind::Double);
            let log_p = (z / *temp).log_softmax(-1, Kind::Double);
            (&q * (q.log() - log_p)).sum(Kind::Double) / z.size()[0] as f64 * (temp * temp)
        }
        Loss::Mse => (z - t).square().mean(Kind::Double),
    }
}

/// Second differences of the float64 loss in each weight of each layer.
fn finite_difference_diagonal(arch: Arch, n: &Net, data: &GraphData, loss: &Loss) -> Vec<Tensor> {
    let (a, x) = dense(data);
    let eval =
        |params: &[(Tensor, Tensor)]| oracle_loss(loss, &oracle_logits(arch, &a, &x, params), data).double_value(&[]);
    let base = eval(&n.params);
    let eps = 1e-4;
    n.params
        .iter()
        .enumerate()
        .map(|(layer, (w, _))| {
            let values: Vec<f64> = (0..w.numel() as i64)
                .map(|k| {
                    let shifted = |delta: f64| {
                        let params: Vec<(Tensor, Tensor)> =
                            n.params.iter().map(|(w, b)| (w.copy(), b.copy())).collect();
                        let flat = params[layer].0.view([-1]);
                        let _ = flat.get(k).fill_(w.view([-1]).double_value(&[k]) + delta);
                        eval(&params)
                    };
                    (shifted(eps) - 2.0 * base + shifted(-eps)) / (eps * eps)
                })
                .collect();
            Tensor::from_slice(&values).view(w.size().as_slice())
        })
        .collect()
}

/// `diag(J^T M J)` from the float64 Jacobian of the logits, `M` the loss's logit Hessian.
fn gauss_newton_oracle(arch: Arch, n: &Net, data: &GraphData, loss: &Loss) -> Vec<Tensor> {
    let (a, x) = dense(data);
    let params: Vec<(Tensor, Tensor)> =
        n.params.iter().map(|(w, b)| (w.copy().set_requires_grad(true), b.copy())).collect();
    let z = oracle_logits(arch, &a, &x, &params);
    let (nodes, classes) = (z.size()[0], z.size()[1]);
    // M per node: the Hessian of the loss in that node's logits (exact, by autograd in float64).
    let zc = z.detach().set_requires_grad(true);
    let g = Tensor::run_backward(&[oracle_loss(loss, &zc, data)], &[&zc], true, true).remove(0);
    let m = Tensor::zeros([nodes, classes, classes], (Kind::Double, Device::Cpu));
    for i in 0..nodes {
        for c in 0..classes {
            let row = Tensor::run_backward(&[g.get(i).get(c)], &[&zc], true, false).remove(0);
            let _ = m.get(i).get(c).copy_(&row.get(i));
        }
    }
    let weights: Vec<&Tensor> = params.iter().map(|(w, _)| w).collect();
    let mut out: Vec<Tensor> = weights.iter().map(|w| w.zeros_like().detach()).collect();
    for i in 0..nodes {
        let rows: Vec<Vec<Tensor>> =
            (0..classes).map(|c| Tensor::run_backward(&[z.get(i).get(c)], &weights, true, false)).collect();
        for c in 0..classes {
            for d in 0..classes {
                let coef = m.double_value(&[i, c, d]);
                for (l, o) in out.iter_mut().enumerate() {
                    *o += &rows[c as usize][l] * &rows[d as usize][l] * coef;
                }
            }
        }
    }
    out
}

fn rel_error(estimate: &[Tensor], oracle: &[Tensor]) -> f64 {
    let e = Tensor::cat(&estimate.iter().map(|t| t.to_kind(Kind::Double).view([-1])).collect::<Vec<_>>(), 0);
    let o = Tensor::cat(&oracle.iter().map(|t| t.view([-1])).collect::<Vec<_>>(), 0);
    (&e - &o).norm().double_value(&[]) / o.norm().double_value(&[])
}

fn max_rel_error(estimate: &[Tensor], oracle: &[Tensor]) -> f64 {
    let e = Tensor::cat(&estimate.iter().map(|t| t.to_kind(Kind::Double).view([-1])).collect::<Vec<_>>(), 0);
    let o = Tensor::cat(&oracle.iter().map(|t| t.view([-1])).collect::<Vec<_>>(), 0);
    (&e - &o).abs().max().double_value(&[]) / o.abs().max().double_value(&[])
}

fn estimate(n: &Net, data: &GraphData, loss: &Loss, estimator: HessianEstimator, seed: u64) -> Vec<Tensor> {
    hessian_diagonal(n.model.as_ref(), data, &prune_loss(loss), estimator, seed).unwrap()
}

#[test]
fn exact_diagonal_matches_finite_differences_for_gcn_and_mlp() {
    for layout in [FeatureLayout::Dense, FeatureLayout::Sparse] {
        let data = tiny(layout);
        for (arch, seed) in [(Arch::Gcn, 1), (Arch::Mlp, 2)] {
            let n = net(arch, 2, seed);
            for loss in [Loss::Labels, Loss::Soft(2.0), Loss::Mse] {
                let oracle = finite_difference_diagonal(arch, &n, &data, &loss);
                let exact = estimate(&n, &data, &loss, HessianEstimator::Exact, 0);
                let err = max_rel_error(&exact, &oracle);
                assert!(err < 1e-4, "{arch} {layout:?}: exact diagonal off by {err:e} (relative to the largest entry)");
            }
        }
    }
}

#[test]
fn gauss_newton_is_exact_for_models_linear_in_their_weights() {
    let data = tiny(FeatureLayout::Sparse);
    for (arch, seed) in [(Arch::Gcn, 3), (Arch::Mlp, 4)] {
        let n = net(arch, 1, seed);
        for loss in [Loss::Mse, Loss::Labels, Loss::Soft(3.0)] {
            let oracle = finite_difference_diagonal(arch, &n, &data, &loss);
            let gn = estimate(&n, &data, &loss, HessianEstimator::GaussNewton, 0);
            let err = max_rel_error(&gn, &oracle);
            assert!(err < 1e-4, "{arch}: single-layer Gauss-Newton diagonal off by {err:e}");
        }
    }
}

#[test]
fn gauss_newton_is_an_approximation_once_layers_stack() {
    // OBD's propagation drops the cross terms between hidden units and between nodes: for two
    // layers it must differ from the exact diagonal, yet stay of the same size (not garbage).
    let data = tiny(FeatureLayout::Dense);
    let n = net(Arch::Gcn, 2, 5);
    let oracle = finite_difference_diagonal(Arch::Gcn, &n, &data, &Loss::Labels);
    let gn = estimate(&n, &data, &Loss::Labels, HessianEstimator::GaussNewton, 0);
    let err = rel_error(&gn, &oracle);
    assert!(err > 1e-3 && err < 1.0, "two-layer OBD diagonal relative error {err}");
    // the output layer's inputs are exact, so its block matches
    assert!(max_rel_error(&gn[1..], &oracle[1..]) < 1e-4);
}

#[test]
fn fisher_converges_to_the_gauss_newton_diagonal() {
    let data = tiny(FeatureLayout::Dense);
    for (arch, loss) in [(Arch::Gcn, Loss::Labels), (Arch::Mlp, Loss::Soft(2.0)), (Arch::Gcn, Loss::Mse)] {
        let n = net(arch, 2, 6);
        let target = gauss_newton_oracle(arch, &n, &data, &loss);
        let few = rel_error(&estimate(&n, &data, &loss, HessianEstimator::Fisher { samples: 4 }, 1), &target);
        let many = rel_error(&estimate(&n, &data, &loss, HessianEstimator::Fisher { samples: 6000 }, 1), &target);
        assert!(many < 0.05, "{arch}: Fisher with 6000 samples off by {many}");
        assert!(few > 2.0 * many, "{arch}: error {few} with 4 samples vs {many} with 6000");
    }
}

#[test]
fn hutchinson_converges_to_the_exact_diagonal() {
    let data = tiny(FeatureLayout::Sparse);
    for (arch, loss) in [(Arch::Gcn, Loss::Labels), (Arch::Mlp, Loss::Mse)] {
        let n = net(arch, 2, 7);
        let target = finite_difference_diagonal(arch, &n, &data, &loss);
        let few = rel_error(&estimate(&n, &data, &loss, HessianEstimator::Hutchinson { probes: 4 }, 2), &target);
        let many = rel_error(&estimate(&n, &data, &loss, HessianEstimator::Hutchinson { probes: 6000 }, 2), &target);
        assert!(many < 0.05, "{arch}: Hutchinson with 6000 probes off by {many}");
        assert!(few > 2.0 * many, "{arch}: error {few} with 4 probes vs {many} with 6000");
    }
}

#[test]
fn estimators_are_deterministic_for_a_seed() {
    let data = tiny(FeatureLayout::Dense);
    let n = net(Arch::Gcn, 2, 8);
    for estimator in [
        HessianEstimator::GaussNewton,
        HessianEstimator::Fisher { samples: 5 },
        HessianEstimator::Hutchinson { probes: 5 },
    ] {
        let a = estimate(&n, &data, &Loss::Labels, estimator, 9);
        let b = estimate(&n, &data, &Loss::Labels, estimator, 9);
        assert!(a.iter().zip(&b).all(|(a, b)| a.equal(b)), "{estimator} differs between two runs");
    }
    let a = estimate(&n, &data, &Loss::Labels, HessianEstimator::Fisher { samples: 5 }, 9);
    let c = estimate(&n, &data, &Loss::Labels, HessianEstimator::Fisher { samples: 5 }, 10);
    assert!(!a[0].equal(&c[0]), "another seed draws other labels");
}

#[test]
fn exact_refuses_large_layers_and_counts_must_be_positive() {
    let data = tiny(FeatureLayout::Dense);
    let n = net(Arch::Gcn, 2, 1);
    let err = hessian_diagonal(n.model.as_ref(), &data, &PruneLoss::Labels, HessianEstimator::Fisher { samples: 0 }, 0);
    assert!(err.unwrap_err().to_string().contains("at least 1"));
    let vs = nn::VarStore::new(Device::Cpu);
    let wide = ModelConfig::new(Arch::Gcn, 4, 6000, 2, 3, 0.5).build(&vs.root()).unwrap();
    let err = hessian_diagonal(wide.as_ref(), &data, &PruneLoss::Labels, HessianEstimator::Exact, 0).unwrap_err();
    assert!(err.to_string().contains("gauss-newton"), "{err}");
}
