//! The graph experiment (node classification), side by side with [`crate::images`] and
//! [`crate::pointcloud`] in the shape of [`crate::experiment`]: its settings (`config.rs`),
//! its rows (`rows.rs`) and the run over the seeds (`compare.rs`). Also reachable as
//! `gdistill_distill::compare`, its first name.

mod compare;
mod config;
mod members;
mod protocol;
mod replay;
mod rows;
pub mod setting;

pub use crate::compress::prune::compare_rows::PruneRowsConfig;
pub use crate::experiment::{mean_std, Progress};
pub use compare::{
    compare, compare_resumable, inductive_deepwalk, inductive_deepwalk_of, prepare_dataset, prepare_dataset_with,
    public_split_lost, search_part, CompareReport, CompareRow, DatasetInfo, GraphColumns, InductiveScores,
};
pub use config::{
    family_recipe, small_row_name, CompareConfig, KdLoss, LspConfig, ModelSpec, DISTILL_EPOCHS,
    RAW_FEATURES_DISTILL_EPOCHS, RAW_FEATURES_LR, RAW_FEATURES_SMALL_DROPOUT, RAW_FEATURES_SMALL_SAGE_EPOCHS,
};
pub use members::MemberRecipe;
pub use protocol::{check_protocol_classes, Protocol, GLNN_BATCH, GLNN_SPLIT};
