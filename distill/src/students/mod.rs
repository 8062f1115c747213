//! Methods that distil a GNN teacher into a graph-less MLP student beyond soft targets (GLNN).
//!
//! [`nosmog`] (Tian et al., ICLR 2023) adds two of them to soft targets: representation
//! similarity distillation ([`rsd`]) and adversarial feature augmentation ([`adversarial`]),
//! trained on mini-batches of the nodes training sees ([`train_nosmog`]). Its third
//! piece, DeepWalk position features ([`deepwalk`]), is a feature spec (`deepwalk:K`), not a loss.
//!
//! [`gcrd`] (Joshi et al., TNNLS 2022) distils into small GNN students instead: their embeddings
//! are aligned with the teacher's by a contrastive loss, beside soft targets.
//!
//! [`vqgraph`] (Yang et al., ICLR 2024) distils a teacher trained as a graph tokenizer: its soft
//! labels and its soft assignments of the nodes over a learned codebook. NOSMOG and VQGraph train
//! their students in the same mini-batch loop (`batch_student.rs`).

pub mod adversarial;
mod batch_student;
pub mod deepwalk;
pub mod gcrd;
pub mod nosmog;
mod nosmog_train;
pub mod rsd;
pub mod vqgraph;

pub use nosmog_train::{feature_scale, train_nosmog};
