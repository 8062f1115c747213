//! The halo exchange of partitioned layer-wise inference, shared by `soft-targets` across ranks
//! ([`super::soft_targets`]) and the evaluation of `train --partitions` ([`super::layerwise`]).
//!
//! A rank owns some rows of the graph. [`local_adjacency`] renumbers the columns of its rows of
//! `A_hat` (own rows first, then the other-rank nodes they reach, its halo, by owner then id)
//! and agrees with the other ranks on which rows each needs ([`Halo`]); at every layer
//! [`with_halo_rows`] sends each rank exactly the rows of a `[own rows, width]` tensor it asked
//! for (one all-to-all-v), so a layer's traffic is `halo rows x width x 4` bytes.

use super::counts_and_displacements;
use super::exchange::{all_to_all_v, Traffic};
use anyhow::{Context, Result};
use gdistill_models::SparseMatrix;
use mpi::collective::CommunicatorCollectives;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Communicator, SimpleCommunicator};
use tch::{Device, Kind, Tensor};

/// Which other-rank rows a rank needs and which of its rows the others need.
pub struct Halo {
    /// Per source rank, the global ids this rank receives from it, ascending.
    pub recv: Vec<Vec<usize>>,
    /// Per destination rank, the local row indices this rank sends to it.
    pub send: Vec<Vec<i64>>,
}

/// Rows of `A_hat` with global columns: `(indptr, columns, values)`.
pub type GlobalRows<'a> = (&'a [usize], &'a [usize], &'a [f32]);

/// This rank's rows of `A_hat` with local columns, and the halo plan agreed with the other ranks.
/// `local_row` maps an owned global id to its row; `owner` names the rank of any other id.
pub fn local_adjacency(
    world: &SimpleCommunicator,
    (indptr, columns, values): GlobalRows,
    local_row: &dyn Fn(usize) -> Option<usize>,
    owner: &dyn Fn(usize) -> usize,
    device: Device,
) -> Result<(SparseMatrix, Halo)> {
    let rows = indptr.len() - 1;
    let mut needed = vec![Vec::new(); world.size() as usize];
    for &j in columns {
        if local_row(j).is_none() {
            needed[owner(j)].push(j);
        }
    }
    for ids in &mut needed {
        ids.sort_unstable();
        ids.dedup();
    }
    let halo = exchange_needs(world, &needed, local_row)?;
    let mut column = std::collections::HashMap::new();
    let mut next = rows;
    for &j in halo.recv.iter().flatten() {
        column.insert(j, next);
        next += 1;
    }
    let indices: Vec<usize> = columns.iter().map(|&j| local_row(j).unwrap_or_else(|| column[&j])).collect();
    Ok((SparseMatrix::from_csr(indptr, &indices, values, (rows, next), device)?, halo))
}

/// No rows to exchange (a model that ignores the graph).
pub fn no_halo(size: usize) -> Halo {
    Halo { recv: vec![Vec::new(); size], send: vec![Vec::new(); size] }
}

/// Tells every rank which of its rows this rank needs (`needed[q]`: global ids owned by rank q),
/// and learns which of its own rows (`local_row` of the global ids asked for) every other rank
/// needs: the ownership may be any map, contiguous ranges or a partition's.
fn exchange_needs(
    world: &SimpleCommunicator,
    needed: &[Vec<usize>],
    local_row: &dyn Fn(usize) -> Option<usize>,
) -> Result<Halo> {
    let ids: Vec<Vec<u64>> = needed.iter().map(|ids| ids.iter().map(|&j| j as u64).collect()).collect();
    let asked = all_to_all_v(world, &ids, &mut Traffic::default())?;
    let send = asked
        .iter()
        .map(|ids| ids.iter().map(|&j| local_row(j as usize).map(|r| r as i64)).collect::<Option<Vec<i64>>>())
        .collect::<Option<Vec<_>>>()
        .context("a rank asked for a node this rank does not own (ranks disagree on the partition)")?;
    Ok(Halo { recv: needed.to_vec(), send })
}

/// Sends every rank the rows of `projected` it asked for; returns `projected`'s rows followed
/// by the rows this rank asked for, in the order of `halo.recv` (by owner, then by id), in one
/// tensor that the halo rows are received into (no separate halo buffer, no concatenation).
pub fn with_halo_rows(world: &SimpleCommunicator, projected: Tensor, halo: &Halo, width: usize) -> Result<Tensor> {
    let device = projected.device();
    let host = projected.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    drop(projected);
    let own = host.size()[0];
    let send_rows: Vec<i64> = halo.send.iter().flatten().copied().collect();
    let selected = if send_rows.is_empty() {
        Tensor::zeros([0], (Kind::Float, Device::Cpu))
    } else {
        host.index_select(0, &Tensor::from_slice(&send_rows)).contiguous()
    };
    let received: usize = halo.recv.iter().map(Vec::len).sum();
    let all = Tensor::empty([own + received as i64, width as i64], (Kind::Float, Device::Cpu));
    all.narrow(0, 0, own).copy_(&host);
    drop(host);
    let far_tensor = all.narrow(0, own, received as i64);
    // SAFETY: `selected` is a contiguous CPU float tensor of `numel` values, alive (and not
    // written) while `out` is used; `far_tensor` is the last `received` rows of the contiguous
    // CPU float tensor `all` (a narrowing of dimension 0 keeps rows contiguous), alive while `far`
    // is written, and nothing else reads or writes it meanwhile.
    // (an empty tensor's data pointer may be null: no slice is made from it)
    let out: &[f32] = match selected.numel() {
        0 => &[],
        n => unsafe { std::slice::from_raw_parts(selected.data_ptr() as *const f32, n) },
    };
    let far: &mut [f32] = match received * width {
        0 => &mut [],
        n => unsafe { std::slice::from_raw_parts_mut(far_tensor.data_ptr() as *mut f32, n) },
    };
    let values = |rows: usize| rows.saturating_mul(width);
    let (send_counts, send_displs) =
        counts_and_displacements(halo.send.iter().map(|rows| values(rows.len())), "sending halo rows")?;
    let (recv_counts, recv_displs) =
        counts_and_displacements(halo.recv.iter().map(|ids| values(ids.len())), "receiving halo rows")?;
    anyhow::ensure!(
        recv_counts.iter().map(|&c| c as usize).sum::<usize>() == far.len(),
        "the halo's rows do not fit the buffer for them"
    );
    {
        let send = Partition::new(out, &send_counts[..], &send_displs[..]);
        let mut recv = PartitionMut::new(far, &recv_counts[..], &recv_displs[..]);
        world.all_to_all_varcount_into(&send, &mut recv);
    }
    drop(selected);
    Ok(all.to_device(device))
}
