//! Adversarial feature augmentation (NOSMOG, Tian et al. ICLR 2023).
//!
//! An MLP student reads nothing but a node's features, so noise in them goes straight to its
//! prediction; a GNN averages it away over neighbours. NOSMOG trains the student on the
//! perturbation of each batch's features that hurts it most within an L-infinity ball of radius
//! `eps`, found by projected gradient ascent (PGD, Madry et al. 2018): a uniform start in the
//! ball, then `steps` steps of `step_size` along the sign of the loss's gradient with respect to
//! the perturbation, each followed by clipping back into the ball. The loss ascended is the
//! student's own distillation loss; the same loss on the perturbed input is then added to the
//! training loss with a weight.
//!
//! ```
//! use gdistill_distill::students::adversarial::Pgd;
//! use tch::{Kind, Tensor};
//! // Eight steps of eps/4 cross the whole ball, whatever the random start.
//! let pgd = Pgd::new(0.1, 8).unwrap();
//! let x = Tensor::from_slice(&[1.0f32, -2.0, 0.5]);
//! // Ascending |x + delta|^2 pushes every coordinate of delta to the edge of the ball on x's side.
//! let delta = pgd.perturb(&x, &mut |input| input.square().sum(Kind::Float), &mut |_, _| {});
//! let expected = Tensor::from_slice(&[0.1f32, -0.1, 0.1]);
//! assert!((delta - expected).abs().max().double_value(&[]) < 1e-6);
//! assert!(Pgd::new(-0.1, 5).is_err());
//! ```

use tch::{Kind, Tensor};

/// Projected gradient ascent in an L-infinity ball.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pgd {
    /// Radius of the ball (in the units of the features the student reads).
    pub eps: f64,
    pub steps: usize,
    /// `eps / 4` (NOSMOG's code). Five steps reach the edge from the centre; from a start on the
    /// far side (uniform in the ball) it takes up to eight.
    pub step_size: f64,
}

impl Pgd {
    /// `steps` steps of `eps / 4`; refuses a negative or non-finite radius.
    pub fn new(eps: f64, steps: usize) -> Result<Pgd, String> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(format!("the adversarial radius eps must be non-negative and finite, got {eps}"));
        }
        Ok(Pgd { eps, steps, step_size: eps / 4.0 })
    }

    /// The perturbation of `x` (same shape, detached) that ascends `loss(x + delta)`, with
    /// `delta` kept in `[-eps, eps]` after every step. `observe(step, delta)` sees the start
    /// (step 0) and each step's projected perturbation. Draws the start from libtorch's global
    /// generator, so it follows `tch::manual_seed`. The loss's graph reaches the model's
    /// weights, but only the perturbation's gradient is taken: the weights' stay untouched.
    pub fn perturb(
        &self,
        x: &Tensor,
        loss: &mut dyn FnMut(&Tensor) -> Tensor,
        observe: &mut dyn FnMut(usize, &Tensor),
    ) -> Tensor {
        let start = Tensor::rand_like(x) * (2.0 * self.eps) - self.eps;
        let mut delta = start.detach();
        observe(0, &delta);
        if self.eps == 0.0 {
            return delta;
        }
        for step in 1..=self.steps {
            let d = delta.detach().set_requires_grad(true);
            let value = loss(&(x.detach() + &d));
            let grad = Tensor::run_backward(&[value], &[&d], false, false).swap_remove(0);
            delta = tch::no_grad(|| (d.detach() + grad.sign() * self.step_size).clamp(-self.eps, self.eps));
            observe(step, &delta);
        }
        delta.to_kind(x.kind())
    }
}

/// Whether every entry of `delta` lies in `[-eps, eps]` (up to float rounding).
pub fn inside_ball(delta: &Tensor, eps: f64) -> bool {
    delta.numel() == 0 || delta.abs().max().to_kind(Kind::Double).double_value(&[]) <= eps * (1.0 + 1e-6)
}
