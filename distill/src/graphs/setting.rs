//! Where a comparison's test nodes are during training: in the graph (transductive) or held out
//! of it (GLNN's inductive, "production" setting: Zhang et al., ICLR 2022).
//!
//! In the inductive setting a seeded fraction of the test nodes (20% by default, as in the paper)
//! and every edge touching them are removed from everything training sees: the teacher, the soft
//! targets, the students, LSP's edges, the sampler. At test time a GNN sees the full graph and an
//! MLP only the node's own features. Each row reports accuracy on the observed test nodes
//! (`tran`, read on the observed graph, as GLNN does), on the held-out ones (`ind`, read on the
//! full graph), and on both (`prod`, weighted by their counts: GLNN's 0.8/0.2 up to rounding).
//!
//! ```
//! use gdistill_distill::setting::Setting;
//! assert_eq!("inductive".parse::<Setting>().unwrap(), Setting::Inductive { held_out: 0.2 });
//! assert_eq!("inductive:0.3".parse::<Setting>().unwrap().to_string(), "inductive:0.3");
//! assert!("inductive:1.5".parse::<Setting>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use gdistill_datasets::inductive::inductive_split;
use gdistill_datasets::{DeepWalkSpec, NodeDataset};
use gdistill_graph::symmetric_normalized_adjacency;
use gdistill_models::{NodeModel, SparseMatrix};
use tch::{Device, Tensor};

use crate::{accuracy, predict, GraphData, TrainError};

/// The evaluation setting of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Setting {
    /// Every node and edge is in the graph during training; only test labels are hidden.
    #[default]
    Transductive,
    /// A fraction `held_out` of the test nodes, and their edges, are unseen until test time.
    Inductive { held_out: f64 },
}

const SETTING_FORMS: &str = "transductive, inductive, inductive:FRACTION (of the test nodes held out, default 0.2)";

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Transductive => write!(f, "transductive"),
            Setting::Inductive { held_out } => write!(f, "inductive:{held_out}"),
        }
    }
}

impl FromStr for Setting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |message: String| format!("setting '{text}': {message}; valid forms: {SETTING_FORMS}");
        let trimmed = text.trim();
        let (kind, fraction) = match trimmed.split_once(':') {
            Some((kind, fraction)) => (kind.trim(), Some(fraction.trim())),
            None => (trimmed, None),
        };
        match (kind.to_ascii_lowercase().as_str(), fraction) {
            ("transductive", None) => Ok(Setting::Transductive),
            ("transductive", Some(_)) => Err(bad("'transductive' takes no fraction".into())),
            ("inductive", None) => Ok(Setting::Inductive { held_out: 0.2 }),
            ("inductive", Some(f)) => match f.parse::<f64>() {
                Ok(held_out) if held_out > 0.0 && held_out < 1.0 => Ok(Setting::Inductive { held_out }),
                _ => Err(bad(format!("the held-out fraction must be a number in (0, 1), got '{f}'"))),
            },
            _ => Err(bad(format!("unknown setting '{kind}'"))),
        }
    }
}

gdistill_datasets::serde_as_string!(Setting);

impl Setting {
    /// `split` (a dataset with one seed's split) as training sees it: itself, or, inductively,
    /// the subgraph of the nodes not held out (renumbered; its test nodes the observed ones).
    pub fn observed(&self, split: &NodeDataset, seed: u64) -> Result<NodeDataset, TrainError> {
        self.observed_with(split, seed, None)
    }

    /// [`Setting::observed`], inductively with `deepwalk`'s columns appended, learnt on the
    /// observed graph alone (`split` holds the features before them; see [`SeedGraphs::with_deepwalk`]).
    pub fn observed_with(
        &self,
        split: &NodeDataset,
        seed: u64,
        deepwalk: Option<&DeepWalkSpec>,
    ) -> Result<NodeDataset, TrainError> {
        self.partition(split, seed, deepwalk).map(|(observed, _)| observed)
    }

    /// [`Setting::observed_with`], and inductively the held-out nodes (global ids) with the full
    /// graph's dataset (with the DeepWalk columns, held-out rows from their observed neighbours).
    fn partition(
        &self,
        split: &NodeDataset,
        seed: u64,
        deepwalk: Option<&DeepWalkSpec>,
    ) -> Result<(NodeDataset, Option<(Vec<usize>, NodeDataset)>), TrainError> {
        match *self {
            Setting::Transductive => Ok((split.clone(), None)),
            Setting::Inductive { held_out } => {
                let parts = inductive_split(split, held_out, seed).map_err(|e| TrainError::Config(e.to_string()))?;
                let (observed, full) = match deepwalk {
                    Some(spec) => crate::students::deepwalk::inductive_features(&parts, split, spec, seed)?,
                    None => (parts.dataset, split.clone()),
                };
                Ok((observed, Some((parts.held_out, full))))
            }
        }
    }
}

/// A model's accuracies on one seed's graphs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Test accuracy: every test node (`prod` in the inductive setting).
    pub test: f64,
    pub val: f64,
    /// Inductive only: (`tran`, `ind`).
    pub inductive: Option<(f64, f64)>,
}

/// What one seed of a comparison trains on and is scored on.
pub struct SeedGraphs {
    /// What training sees: the dataset with this seed's split, inductively without the held-out
    /// nodes. Its `test` nodes are the observed test nodes.
    pub dataset: NodeDataset,
    /// `dataset` on the device.
    pub data: GraphData,
    /// Inductive only: the full graph, with the held-out nodes as its test nodes.
    full: Option<GraphData>,
    /// Inductive only: DeepWalk columns learnt per seed on the observed graph.
    deepwalk: Option<DeepWalkSpec>,
}

impl SeedGraphs {
    /// The graphs of the seed whose split is `split`.
    pub fn new(split: &NodeDataset, setting: Setting, seed: u64, device: Device) -> Result<SeedGraphs, TrainError> {
        SeedGraphs::with_deepwalk(split, setting, seed, device, None)
    }

    /// [`SeedGraphs::new`], inductively with `deepwalk`'s columns appended to `split`'s
    /// features: learnt with `seed` on the observed graph, so that no held-out node or edge is
    /// in any walk, and a held-out node's row the mean of its observed neighbours' (NOSMOG).
    /// Transductively `deepwalk` is ignored: the whole graph is observed, and the columns are
    /// learnt once, before the seeds ([`crate::compare::prepare_dataset`]).
    pub fn with_deepwalk(
        split: &NodeDataset,
        setting: Setting,
        seed: u64,
        device: Device,
        deepwalk: Option<DeepWalkSpec>,
    ) -> Result<SeedGraphs, TrainError> {
        let (dataset, held_out) = setting.partition(split, seed, deepwalk.as_ref())?;
        let data = GraphData::new(&dataset, device, crate::FeatureLayout::Auto)?;
        let full = match held_out {
            None => None,
            Some((held_out, full_dataset)) => {
                let mut full = GraphData::new(&full_dataset, device, crate::FeatureLayout::Auto)?;
                full.test = index_tensor(&held_out, device);
                Some(full)
            }
        };
        Ok(SeedGraphs { dataset, data, full, deepwalk })
    }

    /// The next seed's graphs: in the transductive setting the graph and features stay on the
    /// device and only the split changes (when it is drawn per seed); inductively the held-out
    /// nodes change with the seed, so everything is rebuilt.
    pub fn next_seed(
        &mut self,
        split: &NodeDataset,
        setting: Setting,
        split_changes: bool,
        seed: u64,
    ) -> Result<(), TrainError> {
        match setting {
            Setting::Transductive if !split_changes => {}
            Setting::Transductive => {
                self.data.set_split(split);
                self.dataset = split.clone();
            }
            Setting::Inductive { .. } => {
                *self = SeedGraphs::with_deepwalk(split, setting, seed, self.data.device, self.deepwalk)?
            }
        }
        Ok(())
    }

    /// Whether `other` has this seed's split and held-out nodes (graphs of one dataset read
    /// through two feature specs must).
    pub fn same_nodes_as(&self, other: &SeedGraphs) -> bool {
        let (a, b) = (&self.data, &other.data);
        let held_out = match (&self.full, &other.full) {
            (None, None) => true,
            (Some(x), Some(y)) => x.test.equal(&y.test),
            _ => false,
        };
        held_out && a.train.equal(&b.train) && a.val.equal(&b.val) && a.test.equal(&b.test)
    }

    /// `D^-1/2 A D^-1/2` of the graph training sees, without self-loops: the propagation of
    /// label propagation and Correct and Smooth.
    pub fn propagation_matrix(&self) -> Result<SparseMatrix, TrainError> {
        let matrix = symmetric_normalized_adjacency(&self.dataset.graph, false);
        Ok(SparseMatrix::from_sprs(&matrix, self.data.device)?)
    }

    /// Held-out test nodes (0 in the transductive setting).
    pub fn held_out(&self) -> usize {
        self.full.as_ref().map_or(0, |f| f.test.numel())
    }

    /// `model`'s accuracies: validation on the training graph; test transductively on it, or
    /// inductively `tran` on the observed graph, `ind` on the full one, `prod` over both.
    pub fn score(&self, model: &dyn NodeModel) -> Scores {
        let observed = predict(model, &self.data);
        let val = accuracy(&observed, &self.data.labels, &self.data.val);
        let tran = accuracy(&observed, &self.data.labels, &self.data.test);
        let Some(full) = &self.full else { return Scores { test: tran, val, inductive: None } };
        let ind = accuracy(&predict(model, full), &full.labels, &full.test);
        let (n_tran, n_ind) = (self.data.test.numel() as f64, full.test.numel() as f64);
        let prod = (tran * n_tran + ind * n_ind) / (n_tran + n_ind);
        Scores { test: prod, val, inductive: Some((tran, ind)) }
    }
}

fn index_tensor(nodes: &[usize], device: Device) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&v| v as i64).collect::<Vec<_>>()).to(device)
}
