//! Methods that distil a GNN teacher into a graph-less MLP student beyond soft targets (GLNN).

pub mod adversarial;
pub mod rsd;
