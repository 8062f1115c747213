//! LSP against a dense brute-force oracle, finite differences, and extreme inputs.

use gdistill_distill::lsp::{lsp_loss, EdgeList, KlDirection, LspKernel};
use gdistill_graph::{EdgeOptions, Graph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const KERNELS: [LspKernel; 4] =
    [LspKernel::Linear, LspKernel::Poly { c: 1.0, d: 2 }, LspKernel::Rbf { sigma: 1.5 }, LspKernel::L1 { b: 2.0 }];

fn sim(a: &[f64], b: &[f64], kernel: LspKernel) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match kernel {
        LspKernel::Linear => dot,
        LspKernel::Poly { c, d } => (dot + c).powi(d),
        LspKernel::Rbf { sigma } => {
            (-a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / (2.0 * sigma * sigma)).exp()
        }
        LspKernel::L1 { b: w } => (-a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / w).exp(),
    }
}

/// Node by node, in plain f64: softmax of similarities over each node's neighbours, KL, mean.
fn oracle(s: &[Vec<f64>], t: &[Vec<f64>], pairs: &[(usize, usize)], kernel: LspKernel, dir: KlDirection) -> f64 {
    let n = s.len();
    let mut total = 0.0;
    let mut centres = 0;
    for i in 0..n {
        let mut nbrs: Vec<usize> = pairs.iter().filter(|p| p.0 == i).map(|p| p.1).collect();
        nbrs.sort();
        nbrs.dedup();
        if nbrs.is_empty() {
            continue;
        }
        centres += 1;
        let dist = |z: &[Vec<f64>]| {
            let v: Vec<f64> = nbrs.iter().map(|&j| sim(&z[i], &z[j], kernel)).collect();
            let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|x| x / sum).collect::<Vec<_>>()
        };
        let (ps, pt) = (dist(s), dist(t));
        let (p, q) = if dir == KlDirection::TeacherToStudent { (pt, ps) } else { (ps, pt) };
        total += p.iter().zip(&q).map(|(p, q)| p * (p.ln() - q.ln())).sum::<f64>();
    }
    total / centres.max(1) as f64
}

fn random_rows(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Vec<Vec<f64>> {
    (0..n).map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect()).collect()
}

fn tensor(rows: &[Vec<f64>]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64])
}

fn random_pairs(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Vec<(usize, usize)> {
    (0..m).map(|_| (rng.random_range(0..n), rng.random_range(0..n))).filter(|(i, j)| i != j).collect()
}

#[test]
fn matches_the_dense_oracle_for_every_kernel_direction_and_self_loop_setting() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for trial in 0..6 {
        let n = 4 + trial * 3;
        let (s, t) = (random_rows(&mut rng, n, 3), random_rows(&mut rng, n, 5)); // different widths
        let pairs = random_pairs(&mut rng, n, 3 * n);
        let graph = Graph::from_edges(n, &pairs, EdgeOptions::undirected()).unwrap();
        for self_loops in [false, true] {
            let edges = EdgeList::from_graph(&graph, self_loops, Device::Cpu);
            let mut oracle_pairs: Vec<(usize, usize)> = graph.edges().collect();
            if self_loops {
                oracle_pairs.extend((0..n).map(|i| (i, i)));
            }
            for kernel in KERNELS {
                for dir in [KlDirection::TeacherToStudent, KlDirection::StudentToTeacher] {
                    let got = lsp_loss(&tensor(&s), &tensor(&t), &edges, kernel, dir).double_value(&[]);
                    let want = oracle(&s, &t, &oracle_pairs, kernel, dir);
                    assert!(
                        (got - want).abs() < 1e-9 * (1.0 + want.abs()),
                        "{kernel} {dir:?} loops={self_loops}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn differing_neighbour_sets_use_their_union() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n = 12;
    let (s, t) = (random_rows(&mut rng, n, 4), random_rows(&mut rng, n, 4));
    let (a, b) = (random_pairs(&mut rng, n, 20), random_pairs(&mut rng, n, 20));
    let union = EdgeList::new(&a, n, Device::Cpu).unwrap().union(&EdgeList::new(&b, n, Device::Cpu).unwrap());
    let both: Vec<(usize, usize)> = a.iter().chain(&b).copied().collect();
    let mut distinct = both.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(union.len() as usize, distinct.len());
    for kernel in KERNELS {
        let got = lsp_loss(&tensor(&s), &tensor(&t), &union, kernel, KlDirection::TeacherToStudent).double_value(&[]);
        let want = oracle(&s, &t, &both, kernel, KlDirection::TeacherToStudent);
        assert!((got - want).abs() < 1e-9 * (1.0 + want), "{kernel}: {got} vs {want}");
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 7;
    let (s, t) = (random_rows(&mut rng, n, 3), random_rows(&mut rng, n, 4));
    let pairs = random_pairs(&mut rng, n, 16);
    let edges = EdgeList::new(&pairs, n, Device::Cpu).unwrap();
    for kernel in KERNELS {
        for dir in [KlDirection::TeacherToStudent, KlDirection::StudentToTeacher] {
            let student = tensor(&s).set_requires_grad(true);
            lsp_loss(&student, &tensor(&t), &edges, kernel, dir).backward();
            let grad = Vec::<f64>::try_from(student.grad().view([-1])).unwrap();
            for (k, g) in grad.iter().enumerate() {
                let shifted = |h: f64| {
                    let mut moved = s.clone();
                    moved[k / 3][k % 3] += h;
                    oracle(&moved, &t, &pairs, kernel, dir)
                };
                let fd = (shifted(1e-6) - shifted(-1e-6)) / 2e-6;
                assert!((g - fd).abs() < 1e-5 * (1.0 + fd.abs()), "{kernel} {dir:?} entry {k}: {g} vs {fd}");
            }
        }
    }
}

#[test]
fn equal_features_cost_nothing_and_large_norms_stay_finite() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let n = 30;
    let pairs = random_pairs(&mut rng, n, 90);
    let edges = EdgeList::new(&pairs, n, Device::Cpu).unwrap();
    let z = tensor(&random_rows(&mut rng, n, 6));
    let big_s = tensor(&random_rows(&mut rng, n, 6)) * 1e4;
    let big_t = tensor(&random_rows(&mut rng, n, 6)) * 1e4;
    for kernel in KERNELS {
        for dir in [KlDirection::TeacherToStudent, KlDirection::StudentToTeacher] {
            assert!(lsp_loss(&z, &z, &edges, kernel, dir).double_value(&[]).abs() < 1e-12);
            let s32 = big_s.to_kind(Kind::Float).set_requires_grad(true);
            let loss = lsp_loss(&s32, &big_t.to_kind(Kind::Float), &edges, kernel, dir);
            loss.backward();
            assert!(loss.double_value(&[]).is_finite(), "{kernel} {dir:?}: loss {}", loss.double_value(&[]));
            assert!(s32.grad().isfinite().all().int64_value(&[]) == 1, "{kernel} {dir:?}: gradient not finite");
        }
    }
    // No edges at all: zero, not NaN.
    let none = EdgeList::new(&[], n, Device::Cpu).unwrap();
    assert_eq!(lsp_loss(&z, &z, &none, LspKernel::Linear, KlDirection::TeacherToStudent).double_value(&[]), 0.0);
    assert!(
        "poly:1:0".parse::<LspKernel>().is_err()
            && "rbf:-1".parse::<LspKernel>().is_err()
            && "cosine".parse::<LspKernel>().is_err()
    );
    assert_eq!("poly:2:3".parse::<LspKernel>().unwrap(), LspKernel::Poly { c: 2.0, d: 3 });
}
