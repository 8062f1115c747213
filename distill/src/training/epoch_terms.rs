//! An epoch's loss, term by term, summed over mini-batches on the device and read back once.
//!
//! Mini-batch loops (neighbour-sampled training, NOSMOG's students) weight each batch's mean
//! terms by the batch's size, so the epoch's figure is a mean per node whatever the last
//! batch's size; reading the sums once per epoch keeps a device round trip out of every step.

use gdistill_models::ModelError;
use tch::{Device, Kind, Tensor};

use crate::TrainError;

/// Each named term's sum over the epoch's nodes so far.
#[derive(Default)]
pub(crate) struct EpochTerms {
    sums: Vec<(&'static str, Tensor)>,
}

impl EpochTerms {
    /// Adds one batch's mean terms, weighted by the `size` nodes they were averaged over.
    pub(crate) fn add(&mut self, terms: Vec<(&'static str, Tensor)>, size: f64) {
        for (name, term) in terms {
            let term = term.detach() * size;
            match self.sums.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum = &*sum + term,
                None => self.sums.push((name, term)),
            }
        }
    }

    /// The epoch's loss per node (the terms' sum divided by `nodes`), or the error naming the
    /// first term that is not finite (`epoch` counts from 0, the error from 1).
    pub(crate) fn loss_per_node(&self, nodes: usize, epoch: usize, lr: f64) -> Result<f64, TrainError> {
        if self.sums.is_empty() {
            return Ok(0.0);
        }
        let stacked = Tensor::stack(&self.sums.iter().map(|(_, t)| t.to_kind(Kind::Float)).collect::<Vec<_>>(), 0);
        let values: Vec<f64> = Vec::<f32>::try_from(stacked.to_device(Device::Cpu))
            .map_err(ModelError::from)?
            .into_iter()
            .map(|v| f64::from(v) / nodes as f64)
            .collect();
        let loss: f64 = values.iter().sum();
        if !loss.is_finite() {
            let term = self.sums.iter().zip(&values).find(|(_, v)| !v.is_finite()).map_or("the sum", |((n, _), _)| *n);
            return Err(TrainError::NonFiniteLoss { epoch: epoch + 1, value: loss, term, lr });
        }
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_weigh_by_their_size_and_a_nan_term_is_named() {
        let mut terms = EpochTerms::default();
        // Batch means 1.0 over 3 nodes and 4.0 over 1 node: (3 + 4) / 4 per node.
        terms.add(vec![("a", Tensor::from(1.0f32))], 3.0);
        terms.add(vec![("a", Tensor::from(4.0f32)), ("b", Tensor::from(2.0f32))], 1.0);
        assert!((terms.loss_per_node(4, 0, 0.01).unwrap() - (7.0 + 2.0) / 4.0).abs() < 1e-12);
        terms.add(vec![("b", Tensor::from(f32::NAN))], 1.0);
        match terms.loss_per_node(4, 2, 0.01) {
            Err(TrainError::NonFiniteLoss { epoch: 3, term: "b", .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(EpochTerms::default().loss_per_node(4, 0, 0.01).unwrap(), 0.0);
    }
}
