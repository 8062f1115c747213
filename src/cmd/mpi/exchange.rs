//! All-to-all-v exchanges of per-rank lists, with the bytes counted.
//!
//! Distributed training moves ids, sampled neighbours and feature rows between ranks at every
//! step; [`Traffic`] counts what this rank sends to and receives from the OTHER ranks (the
//! payload and the 4-byte counts that precede it), so the trainer can print bytes per epoch.

use anyhow::Result;
use mpi::collective::CommunicatorCollectives;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::Equivalence;
use mpi::Count;

use super::counts_and_displacements;

/// Bytes this rank sent to and received from the other ranks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub sent: u64,
    pub received: u64,
}

impl Traffic {
    pub fn add(&mut self, other: Traffic) {
        self.sent += other.sent;
        self.received += other.received;
    }
}

/// Sends `outgoing[q]` to rank q and returns what every rank sent to this one, by source rank:
/// one all-to-all of the counts, one all-to-all-v of the values. Every rank must call it.
pub fn all_to_all_v<T: Equivalence + Copy + Default>(
    world: &SimpleCommunicator,
    outgoing: &[Vec<T>],
    traffic: &mut Traffic,
) -> Result<Vec<Vec<T>>> {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    anyhow::ensure!(outgoing.len() == size, "{} outgoing lists for {size} ranks", outgoing.len());
    let (send_counts, send_displs) = counts_and_displacements(outgoing.iter().map(Vec::len), "sending")?;
    let mut recv_counts = vec![0 as Count; size];
    world.all_to_all_into(&send_counts[..], &mut recv_counts[..]);
    let (_, recv_displs) = counts_and_displacements(recv_counts.iter().map(|&c| c as usize), "receiving")?;
    let flat: Vec<T> = outgoing.iter().flatten().copied().collect();
    let mut incoming = vec![T::default(); recv_counts.iter().map(|&c| c as usize).sum()];
    {
        let send = Partition::new(&flat[..], &send_counts[..], &send_displs[..]);
        let mut recv = PartitionMut::new(&mut incoming[..], &recv_counts[..], &recv_displs[..]);
        world.all_to_all_varcount_into(&send, &mut recv);
    }
    let width = std::mem::size_of::<T>() as u64;
    for q in (0..size).filter(|&q| q != rank) {
        traffic.sent += 4 + send_counts[q] as u64 * width;
        traffic.received += 4 + recv_counts[q] as u64 * width;
    }
    let mut by_source = Vec::with_capacity(size);
    let mut at = 0;
    for &c in &recv_counts {
        by_source.push(incoming[at..at + c as usize].to_vec());
        at += c as usize;
    }
    Ok(by_source)
}
