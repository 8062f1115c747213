//! The distillation losses against hand-computed values and finite differences.

use gdistill_distill::{blend, cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss};
use tch::Tensor;

fn t(rows: &[&[f64]]) -> Tensor {
    let cols = rows[0].len() as i64;
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, cols])
}

fn value(x: &Tensor) -> f64 {
    x.double_value(&[])
}

/// Independent oracle: `T^2 * mean_rows KL(softmax(t/T) || softmax(s/T))` in plain f64.
fn soft_target_oracle(student: &[&[f64]], teacher: &[&[f64]], temp: f64) -> f64 {
    let softmax = |z: &[f64]| {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| ((v - m) / temp).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|v| v / s).collect::<Vec<_>>()
    };
    let kl: f64 = student
        .iter()
        .zip(teacher)
        .map(|(s, t)| {
            let (q, p) = (softmax(s), softmax(t));
            p.iter().zip(&q).map(|(p, q)| p * (p.ln() - q.ln())).sum::<f64>()
        })
        .sum();
    temp * temp * kl / student.len() as f64
}

#[test]
fn soft_target_loss_matches_a_hand_computed_case() {
    // T = 1, teacher (0, ln 3) -> p = (1/4, 3/4); student (0, 0) -> q = (1/2, 1/2)
    // KL = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812...
    let loss = soft_target_loss(&t(&[&[0.0, 0.0]]), &t(&[&[0.0, 3f64.ln()]]), 1.0);
    assert!((value(&loss) - 0.130_812_035).abs() < 1e-8, "{}", value(&loss));
}

#[test]
fn soft_target_loss_matches_the_oracle_and_averages_per_row() {
    let student: &[&[f64]] = &[&[1.0, -2.0, 0.5], &[3.0, 0.0, 0.0], &[-1.0, 4.0, 2.0]];
    let teacher: &[&[f64]] = &[&[2.0, 1.0, -1.0], &[0.0, 0.0, 5.0], &[1.0, 1.0, 1.0]];
    for temp in [1.0, 2.0, 4.0, 20.0] {
        let got = value(&soft_target_loss(&t(student), &t(teacher), temp));
        let want = soft_target_oracle(student, teacher, temp);
        assert!((got - want).abs() < 1e-10, "T={temp}: {got} vs {want}");
    }
    // batchmean: duplicating every row leaves the loss unchanged
    let doubled: Vec<&[f64]> = student.iter().chain(student).copied().collect();
    let doubled_t: Vec<&[f64]> = teacher.iter().chain(teacher).copied().collect();
    let once = value(&soft_target_loss(&t(student), &t(teacher), 3.0));
    let twice = value(&soft_target_loss(&t(&doubled), &t(&doubled_t), 3.0));
    assert!((once - twice).abs() < 1e-12);
}

#[test]
fn soft_target_gradient_matches_finite_differences_and_scales_with_t() {
    let student: &[&[f64]] = &[&[0.3, -1.2, 2.0, 0.1], &[1.5, 0.2, -0.7, 0.0]];
    let teacher: &[&[f64]] = &[&[1.0, 0.0, 3.0, -1.0], &[-2.0, 1.0, 0.5, 0.5]];
    for temp in [1.0, 4.0, 10.0] {
        let s = t(student).set_requires_grad(true);
        soft_target_loss(&s, &t(teacher), temp).backward();
        let grad = Vec::<f64>::try_from(s.grad().view([-1])).unwrap();
        let h = 1e-6;
        for (k, &g) in grad.iter().enumerate() {
            let (r, c) = (k / 4, k % 4);
            let shifted = |delta: f64| {
                let mut rows: Vec<Vec<f64>> = student.iter().map(|r| r.to_vec()).collect();
                rows[r][c] += delta;
                let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
                soft_target_oracle(&refs, teacher, temp)
            };
            let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!((g - fd).abs() < 1e-6, "T={temp} entry {k}: autograd {g} vs finite difference {fd}");
        }
        // The T^2 factor makes the gradient T (q - p) / rows: it grows with T rather than
        // shrinking as 1/T, the reason Hinton et al. scale by T^2.
        let softmax = |z: &[f64]| {
            let e: Vec<f64> = z.iter().map(|v| (v / temp).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|v| v / sum).collect::<Vec<_>>()
        };
        for (k, &g) in grad.iter().enumerate() {
            let (r, c) = (k / 4, k % 4);
            let expected = temp * (softmax(student[r])[c] - softmax(teacher[r])[c]) / 2.0;
            assert!((g - expected).abs() < 1e-9, "T={temp}: {g} vs {expected}");
        }
    }
}

#[test]
fn soft_target_loss_is_zero_for_equal_logits_and_stable_for_large_ones() {
    let z = t(&[&[1000.0, -1000.0, 0.0]]);
    assert!(value(&soft_target_loss(&z, &z, 1.0)).abs() < 1e-12);
    let other = t(&[&[-1000.0, 1000.0, 0.0]]);
    assert!(value(&soft_target_loss(&other, &z, 1.0)).is_finite());
}

#[test]
fn cross_entropy_and_logit_matching_match_hand_computed_values() {
    // CE of logits (0, 0) against class 1 is ln 2; of (ln 3, 0) against class 0 is ln(4/3).
    let logits = t(&[&[0.0, 0.0], &[3f64.ln(), 0.0]]);
    let labels = Tensor::from_slice(&[1i64, 0]);
    let want = (2f64.ln() + (4.0f64 / 3.0).ln()) / 2.0;
    assert!((value(&cross_entropy(&logits, &labels)) - want).abs() < 1e-12);
    // MSE over every entry: ((1-0)^2 + (2-4)^2 + 0 + (3-0)^2) / 4 = 14 / 4
    let mse = logit_matching_loss(&t(&[&[1.0, 2.0], &[0.0, 3.0]]), &t(&[&[0.0, 4.0], &[0.0, 0.0]]));
    assert!((value(&mse) - 3.5).abs() < 1e-12);
}

#[test]
fn blend_and_l2_penalty_weigh_their_terms() {
    let one = Tensor::from(1.0f64);
    let three = Tensor::from(3.0f64);
    assert!((value(&blend(0.25, one, three)) - 2.5).abs() < 1e-12);
    let w = t(&[&[1.0, -2.0]]);
    assert!((value(&l2_penalty(&[&w], 0.1).unwrap()) - 0.25).abs() < 1e-12);
    assert!(l2_penalty(&[&w], 0.0).is_none());
}
