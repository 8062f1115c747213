//! Local structure preservation (LSP; Yang et al., CVPR 2020), on an edge list.
//!
//! For each node `i` with neighbours `N(i)`, the local structure is the distribution
//! `LS_ij = softmax_{j in N(i)} SIM(z_i, z_j)` over its edges, computed from a hidden layer's
//! features `z`. The loss is the mean over nodes (with at least one neighbour) of
//! `KL(LS_i^teacher || LS_i^student)`, the two distributions taken on the same edges. Teacher and
//! student features may have different widths: only the per-edge distributions are compared.
//! Everything is gathers and a segment softmax grouped by centre node, so it runs on any device
//! and on graphs the student never reads (an MLP student's features are compared over the
//! teacher's graph).
//!
//! ```
//! use gdistill_distill::lsp::{lsp_loss, EdgeList, KlDirection, LspKernel};
//! use tch::{Device, Kind, Tensor};
//! // a triangle 0-1-2, both directions
//! let edges = EdgeList::new(&[(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0)], 3, Device::Cpu).unwrap();
//! let z = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
//! let same = lsp_loss(&z, &z, &edges, LspKernel::Linear, KlDirection::TeacherToStudent);
//! assert!(same.double_value(&[]).abs() < 1e-6);
//! ```

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

/// The similarity `SIM(z_i, z_j)` whose softmax over a node's edges is its local structure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LspKernel {
    /// `z_i . z_j`
    Linear,
    /// `(z_i . z_j + c)^d`
    Poly { c: f64, d: i32 },
    /// `exp(-|z_i - z_j|^2 / (2 sigma^2))`
    Rbf { sigma: f64 },
    /// `exp(-|z_i - z_j|_1 / b)`: the form the LSP authors' public code uses.
    L1 { b: f64 },
}

impl std::str::FromStr for LspKernel {
    type Err = String;
    /// `linear`, `poly[:c:d]`, `rbf[:sigma]`, `l1[:b]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let nums: Vec<f64> = parts
            .map(|p| p.parse::<f64>().map_err(|_| format!("bad number '{p}' in kernel '{s}'")))
            .collect::<Result<_, _>>()?;
        let arg = |k: usize, default: f64| nums.get(k).copied().unwrap_or(default);
        let kernel = match name.as_str() {
            "linear" if nums.is_empty() => LspKernel::Linear,
            "poly" if nums.len() <= 2 => LspKernel::Poly { c: arg(0, 1.0), d: arg(1, 2.0) as i32 },
            "rbf" if nums.len() <= 1 => LspKernel::Rbf { sigma: arg(0, 1.0) },
            "l1" if nums.len() <= 1 => LspKernel::L1 { b: arg(0, 1.0) },
            _ => return Err(format!("unknown LSP kernel '{s}': use linear, poly[:c:d], rbf[:sigma] or l1[:b]")),
        };
        match kernel {
            LspKernel::Rbf { sigma: w } | LspKernel::L1 { b: w } if w <= 0.0 => {
                Err(format!("kernel '{s}': width must be positive"))
            }
            LspKernel::Poly { d, .. } if d < 1 => Err(format!("kernel '{s}': degree must be at least 1")),
            k => Ok(k),
        }
    }
}

impl std::fmt::Display for LspKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LspKernel::Linear => write!(f, "linear"),
            LspKernel::Poly { c, d } => write!(f, "poly:{c}:{d}"),
            LspKernel::Rbf { sigma } => write!(f, "rbf:{sigma}"),
            LspKernel::L1 { b } => write!(f, "l1:{b}"),
        }
    }
}

/// Which way the KL divergence between local structures runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KlDirection {
    /// `KL(LS^teacher || LS^student)`, the paper's choice.
    TeacherToStudent,
    /// `KL(LS^student || LS^teacher)`.
    StudentToTeacher,
}

/// Directed edges `centre <- neighbour` on a device, sorted by centre.
#[derive(Debug)]
pub struct EdgeList {
    /// The node whose local structure the edge belongs to (`i`).
    pub centre: Tensor,
    /// Its neighbour (`j`).
    pub neighbour: Tensor,
    pub num_nodes: i64,
    /// Nodes with at least one edge: the loss averages over these.
    pub num_centres: i64,
}

impl EdgeList {
    /// From `(centre, neighbour)` pairs; duplicates are merged.
    pub fn new(pairs: &[(usize, usize)], num_nodes: usize, device: Device) -> Result<EdgeList, String> {
        if let Some(&(i, j)) = pairs.iter().find(|&&(i, j)| i >= num_nodes || j >= num_nodes) {
            return Err(format!("edge ({i}, {j}) names a node outside 0..{num_nodes}"));
        }
        let keys: Vec<i64> = pairs.iter().map(|&(i, j)| (i * num_nodes + j) as i64).collect();
        Ok(EdgeList::from_keys(&Tensor::from_slice(&keys).to(device), num_nodes as i64))
    }

    /// Every stored entry of `graph` as `(row, column)`; with `self_loops`, `(i, i)` for each node too.
    pub fn from_graph(graph: &gdistill_graph::Graph, self_loops: bool, device: Device) -> EdgeList {
        let n = graph.num_nodes();
        let mut pairs: Vec<(usize, usize)> = graph.edges().filter(|&(i, j)| i != j).collect();
        if self_loops {
            pairs.extend((0..n).map(|i| (i, i)));
        }
        EdgeList::new(&pairs, n, device).expect("a graph's edges are in range")
    }

    /// From equally long int64 tensors of centres and neighbours already on the device (point
    /// clouds build their kNN edges there); duplicates are merged. Indices must be in `0..num_nodes`.
    pub fn from_tensors(centre: &Tensor, neighbour: &Tensor, num_nodes: i64) -> EdgeList {
        EdgeList::from_keys(&(centre * num_nodes + neighbour), num_nodes)
    }

    fn from_keys(keys: &Tensor, n: i64) -> EdgeList {
        let (unique, _) = keys.internal_unique(true, false);
        let centre = unique.divide_scalar_mode(n, "floor");
        let num_centres = centre.unique_consecutive(false, false, None::<i64>).0.size()[0];
        EdgeList { neighbour: unique.remainder(n), centre, num_nodes: n, num_centres }
    }

    /// The union of two edge sets on the same nodes (teacher and student kNN graphs differ).
    pub fn union(&self, other: &EdgeList) -> EdgeList {
        let key = |e: &EdgeList| &e.centre * e.num_nodes + &e.neighbour;
        EdgeList::from_keys(&Tensor::cat(&[key(self), key(other)], 0), self.num_nodes.max(other.num_nodes))
    }

    pub fn len(&self) -> i64 {
        self.centre.size()[0]
    }

    /// Another handle on the same tensors (no copy).
    pub fn shallow_clone(&self) -> EdgeList {
        EdgeList {
            centre: self.centre.shallow_clone(),
            neighbour: self.neighbour.shallow_clone(),
            num_nodes: self.num_nodes,
            num_centres: self.num_centres,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `SIM(z_i, z_j)` for every edge.
pub fn edge_similarity(z: &Tensor, edges: &EdgeList, kernel: LspKernel) -> Tensor {
    let zi = z.index_select(0, &edges.centre);
    let zj = z.index_select(0, &edges.neighbour);
    let dot = || (&zi * &zj).sum_dim_intlist(-1, false, z.kind());
    match kernel {
        LspKernel::Linear => dot(),
        LspKernel::Poly { c, d } => (dot() + c).pow_tensor_scalar(d as i64),
        LspKernel::Rbf { sigma } => {
            ((&zi - &zj).square().sum_dim_intlist(-1, false, z.kind()) / (-2.0 * sigma * sigma)).exp()
        }
        LspKernel::L1 { b } => ((&zi - &zj).abs().sum_dim_intlist(-1, false, z.kind()) / -b).exp(),
    }
}

/// `log softmax` of `scores` within each group of edges sharing a centre node (the one edge
/// softmax GAT and LSP share).
pub use gdistill_models::segment_log_softmax;

/// `log LS_ij` for every edge: the log of node `i`'s local structure at neighbour `j`.
pub fn log_local_structure(z: &Tensor, edges: &EdgeList, kernel: LspKernel) -> Tensor {
    segment_log_softmax(&edge_similarity(z, edges, kernel), &edges.centre, edges.num_nodes)
}

/// A teacher's local structure on a set of edges, with what the loss needs of it precomputed.
#[derive(Debug)]
pub struct TeacherStructure {
    /// `log LS_ij^teacher` per edge.
    pub log_ls: Tensor,
    /// `LS_ij^teacher` per edge.
    pub ls: Tensor,
    /// `sum_ij LS log LS`, the constant half of `KL(LS^teacher || LS^student)`.
    pub neg_entropy: Tensor,
}

impl TeacherStructure {
    pub fn new(teacher: &Tensor, edges: &EdgeList, kernel: LspKernel) -> TeacherStructure {
        tch::no_grad(|| {
            let log_ls = log_local_structure(teacher, edges, kernel);
            let ls = log_ls.exp();
            let neg_entropy = (&ls * &log_ls).sum(ls.kind());
            TeacherStructure { log_ls, ls, neg_entropy }
        })
    }
}

/// The LSP loss: mean over nodes with at least one edge of `KL` between the teacher's and the
/// student's local structures (direction as given). `teacher` is treated as a constant.
pub fn lsp_loss(
    student: &Tensor,
    teacher: &Tensor,
    edges: &EdgeList,
    kernel: LspKernel,
    direction: KlDirection,
) -> Tensor {
    lsp_loss_to(student, &TeacherStructure::new(teacher, edges, kernel), edges, kernel, direction)
}

/// [`lsp_loss`] against a teacher structure computed once beforehand (it is constant while a
/// student trains, and the teacher is usually the wider of the two).
pub fn lsp_loss_to(
    student: &Tensor,
    teacher: &TeacherStructure,
    edges: &EdgeList,
    kernel: LspKernel,
    direction: KlDirection,
) -> Tensor {
    if edges.is_empty() {
        return Tensor::zeros([], (student.kind(), student.device()));
    }
    let log_s = log_local_structure(student, edges, kernel);
    let kl = match direction {
        KlDirection::TeacherToStudent => &teacher.neg_entropy - (&teacher.ls * log_s).sum(student.kind()),
        KlDirection::StudentToTeacher => (log_s.exp() * (&log_s - &teacher.log_ls)).sum(student.kind()),
    };
    // Nodes without neighbours have no local structure: they are left out of the mean.
    kl / edges.num_centres as f64
}
