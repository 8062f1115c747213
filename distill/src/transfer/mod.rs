//! What a student learns from besides the one teacher's logits on the given nodes: ensembles of
//! teachers ([`ensemble`]), the teacher's predictions corrected and smoothed over the graph
//! ([`correct_and_smooth`]), pseudo data for the transfer set ([`transfer_set`], MUNGE and
//! friends), and MUNGE pseudo nodes on graphs ([`node_munge`]).

pub mod correct_and_smooth;
pub mod ensemble;
pub mod node_munge;
pub mod transfer_set;
