//! Making a trained model smaller: Optimal Brain Damage pruning ([`prune`]) and int8
//! quantisation ([`quantize`], with the weights' storage in [`quantize_store`]).

pub mod prune;
pub mod quantize;
pub mod quantize_store;
