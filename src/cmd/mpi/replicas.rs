//! The model every rank holds a replica of: its variables in one order on every rank, flattened
//! for one all-reduce and copied back, checked identical across ranks by a hash of their bits,
//! and the epoch a run keeps ([`BestEpoch`]), the same on every rank because every rank sees the
//! same validation figures (sums over all ranks).

use std::collections::BTreeMap;

use anyhow::Result;
use gdistill_distill::{Selection, TrainConfig};
use indicatif::ProgressBar;
use mpi::collective::CommunicatorCollectives;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;
use mpi::Count;
use tch::{nn, Device, Kind, Tensor};

use super::Fnv;

/// The model's variables in name order (the same order on every rank: `VarStore::variables` is
/// a hash map, whose order differs between processes).
pub(super) fn ordered_variables(vs: &nn::VarStore) -> Vec<Tensor> {
    vs.variables().into_iter().collect::<BTreeMap<_, _>>().into_values().collect()
}

/// The model's variables (or their gradients) as one buffer, for one MPI message: refused with a
/// message, before any rank sends it, when it and the loss beside it would not fit MPI's 32-bit
/// count (rsmpi would panic on the slice's length).
pub(super) fn flatten(tensors: &[Tensor]) -> Result<Vec<f32>> {
    fits_one_message(tensors.iter().map(|t| t.numel()).sum())?;
    let flat = Tensor::cat(&tensors.iter().map(|t| t.to_device(Device::Cpu).view([-1])).collect::<Vec<_>>(), 0);
    Ok(Vec::try_from(flat.to_kind(Kind::Float))?)
}

/// Copies consecutive slices of `values` into `tensors`.
pub(super) fn unflatten(values: &[f32], tensors: &[Tensor]) {
    let mut at = 0;
    tch::no_grad(|| {
        for t in tensors {
            let n = t.numel();
            let part = Tensor::from_slice(&values[at..at + n]).view(t.size().as_slice()).to_device(t.device());
            t.shallow_clone().copy_(&part);
            at += n;
        }
    });
}

/// Whether `values` weights and the loss fit one all-reduce.
fn fits_one_message(values: usize) -> Result<()> {
    anyhow::ensure!(
        values < Count::MAX as usize,
        "the model has {values} weights: one all-reduce of them with the loss needs more than MPI's 32-bit \
         counts allow ({}); train a smaller model",
        Count::MAX
    );
    Ok(())
}

/// A hash of the weights' exact bits.
fn weights_hash(variables: &[Tensor]) -> Result<u64> {
    Ok(Fnv::default().f32s(&flatten(variables)?).finish())
}

/// Whether every rank's weights hash the same; `Err` names the step and the hashes.
pub(super) fn check_identical(world: &SimpleCommunicator, variables: &[Tensor], when: &str) -> Result<()> {
    let mine = weights_hash(variables)?;
    let mut all = vec![0u64; world.size() as usize];
    world.all_gather_into(&mine, &mut all[..]);
    anyhow::ensure!(
        all.iter().all(|&h| h == all[0]),
        "the ranks' weights differ {when}: hashes {}",
        all.iter().map(|h| format!("{h:016x}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// The test hook behind `GDISTILL_MPI_TEST_PERTURB=RANK:STEP`: the rank named nudges one weight
/// after that step, so that the tests can see the weight check catch ranks that drift apart.
pub(super) fn perturb_for_tests(rank: usize, step: usize, variables: &[Tensor]) {
    if std::env::var("GDISTILL_MPI_TEST_PERTURB").is_ok_and(|s| s == format!("{rank}:{step}")) {
        tch::no_grad(|| {
            let mut v = variables[0].shallow_clone();
            v += 1e-3;
        });
    }
}

pub(super) fn zero_grads(variables: &[Tensor]) {
    tch::no_grad(|| {
        for v in variables {
            let _ = v.grad().zero_();
        }
    });
}

/// The best epoch so far by the run's selection rule, with its weights, and patience.
pub(super) struct BestEpoch {
    acc: f64,
    loss: f64,
    epoch: usize,
    weights: Vec<f32>,
    select: Selection,
    patience: Option<usize>,
}

impl BestEpoch {
    /// The initial weights count as the best until an epoch is scored.
    pub(super) fn new(variables: &[Tensor], settings: &TrainConfig) -> Result<BestEpoch> {
        let weights = flatten(variables)?;
        let (select, patience) = (settings.select, settings.patience);
        Ok(BestEpoch { acc: f64::NEG_INFINITY, loss: f64::INFINITY, epoch: 0, weights, select, patience })
    }

    /// Scores `epoch` by its validation figures (keeping its weights if it is the best so far)
    /// and shows it on `bar` with the epoch's mean training `loss`; returns whether patience has
    /// run out.
    pub(super) fn after_epoch(
        &mut self,
        epoch: usize,
        (val_acc, val_loss): (f64, f64),
        variables: &[Tensor],
        bar: Option<&ProgressBar>,
        loss: f64,
    ) -> Result<bool> {
        if self.select.improves(val_acc, val_loss, self.acc, self.loss) {
            (self.acc, self.loss, self.epoch, self.weights) = (val_acc, val_loss, epoch, flatten(variables)?);
        }
        if let Some(bar) = bar {
            bar.set_position(epoch as u64 + 1);
            bar.set_message(format!("loss {loss:.4} val {val_acc:.3}"));
        }
        Ok(self.patience.is_some_and(|p| epoch - self.epoch >= p))
    }

    /// Ends training: clears `bar`, checks that every rank ends with the same weights, and puts
    /// the best epoch's back; returns its validation accuracy and index.
    pub(super) fn restore(
        self,
        world: &SimpleCommunicator,
        variables: &[Tensor],
        bar: Option<ProgressBar>,
    ) -> Result<(f64, usize)> {
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        check_identical(world, variables, "at the end of training")?;
        unflatten(&self.weights, variables);
        Ok((self.acc.max(0.0), self.epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::fits_one_message;

    /// The gradient bucket holds every weight and the loss: i32::MAX - 1 weights fit, one more
    /// is refused with a message (only the count is given; no buffer of that size is made).
    #[test]
    fn a_model_past_one_message_is_refused() {
        let max = i32::MAX as usize;
        assert!(fits_one_message(0).is_ok() && fits_one_message(max - 1).is_ok());
        for values in [max, max + 1, usize::MAX] {
            let e = fits_one_message(values).unwrap_err().to_string();
            assert!(e.contains(&format!("the model has {values} weights")) && e.contains("32-bit counts"), "{e}");
        }
    }
}
