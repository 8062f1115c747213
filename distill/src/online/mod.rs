//! Classifying a few nodes on request, from their receptive field instead of the whole graph.
//!
//! A model of `L` graph convolutions reads, for a node, only the nodes within `L` hops of it; a
//! graph-less MLP reads the node alone. So the logits of query nodes `Q` are exactly those of a
//! forward pass over the subgraph induced by the `L`-hop closure `S` of `Q`, provided the
//! subgraph keeps the full graph's normalisation (the degrees of `S`'s border nodes count
//! neighbours outside `S`): at layer `k` the rows of nodes within `L - k` hops of `Q` still see
//! all their neighbours. This is the serving cost that graph-less students remove (Zhang et al.,
//! "Graph-less Neural Networks", ICLR 2022): the GCN must gather a neighbourhood that grows with
//! the degree to the power `L`, the MLP one row of features.
//!
//! ```
//! use gdistill_distill::{online::OnlineGraph, predict, FeatureLayout, GraphData};
//! use gdistill_models::{Arch, ModelConfig};
//! use tch::{nn, Device};
//! let dataset = gdistill_datasets::load("csbm:nodes=200,classes=3,degree=4,features=8,seed=2", ".".as_ref()).unwrap();
//! let vs = nn::VarStore::new(Device::Cpu);
//! let gcn = ModelConfig::new(Arch::Gcn, 8, 16, 2, 3, 0.0).build(&vs.root()).unwrap();
//! let online = OnlineGraph::new(&dataset, Device::Cpu).unwrap();
//! let few = online.classify(gcn.as_ref(), &[5, 17]).unwrap();
//! let all = predict(gcn.as_ref(), &GraphData::new(&dataset, Device::Cpu, FeatureLayout::Auto).unwrap());
//! assert!(few.allclose(&all.index_select(0, &tch::Tensor::from_slice(&[5i64, 17])), 1e-5, 1e-5, false));
//! ```

mod host_mlp;

use std::collections::HashMap;

use gdistill_datasets::NodeDataset;
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{Arch, ModelError, NodeFeatures, NodeModel, SparseMatrix};
use sprs::CsMat;
use tch::{Device, Kind, Tensor};

use host_mlp::HostRow;

/// The graph on the host, ready to cut out receptive fields for queries, and the features.
pub struct OnlineGraph {
    /// `D^-1/2 (A + I) D^-1/2` of the whole graph, CSR.
    a_hat: CsMat<f32>,
    features: OnlineFeatures,
    /// What graph-less models are handed: they never read it, and building one per query would
    /// cost more than their whole forward.
    no_graph: SparseMatrix,
    device: Device,
}

/// Node features in the layout the model was trained on (as [`crate::GraphData`] would choose).
enum OnlineFeatures {
    /// `[nodes, features]` on the device: rows are gathered there with one `index_select`.
    Dense(Tensor),
    /// CSR on the host: rows are cut out and sent.
    Sparse(CsMat<f32>),
}

/// The hops a model's output depends on: one per message-passing layer, one per propagation
/// step for APPNP, none for an MLP.
pub fn receptive_hops(model: &dyn NodeModel) -> usize {
    let config = model.config();
    match config.arch {
        Arch::Gcn | Arch::Sage | Arch::Gat => config.hidden.len() + 1,
        Arch::Appnp => config.options.steps,
        Arch::Mlp => 0,
    }
}

impl OnlineGraph {
    /// Takes `dataset` as it is (normalise its features first if the model was trained so).
    pub fn new(dataset: &NodeDataset, device: Device) -> Result<OnlineGraph, ModelError> {
        let features = if gdistill_datasets::FeatureLayout::Auto.is_sparse_for(dataset) {
            OnlineFeatures::Sparse(dataset.features.to_csr())
        } else {
            let dense = Tensor::from_slice(&dataset.dense_features());
            let shape = [dataset.num_nodes() as i64, dataset.num_features() as i64];
            OnlineFeatures::Dense(dense.view(shape).to(device))
        };
        Ok(OnlineGraph {
            a_hat: gcn_normalized_adjacency(&dataset.graph),
            features,
            no_graph: SparseMatrix::empty(0, device)?,
            device,
        })
    }

    pub fn num_nodes(&self) -> usize {
        self.a_hat.rows()
    }

    /// The nodes within `hops` of `query`, breadth first: the query nodes come first, in order
    /// (a node repeated in `query` is kept once).
    pub fn receptive_field(&self, query: &[usize], hops: usize) -> Vec<usize> {
        self.field_and_query_count(query, hops).0
    }

    /// [`Self::receptive_field`], and how many of its first nodes are the distinct query nodes.
    fn field_and_query_count(&self, query: &[usize], hops: usize) -> (Vec<usize>, usize) {
        let mut position: HashMap<usize, usize> = HashMap::with_capacity(query.len() * 4);
        let mut nodes = Vec::with_capacity(query.len());
        for &q in query {
            if let std::collections::hash_map::Entry::Vacant(e) = position.entry(q) {
                e.insert(nodes.len());
                nodes.push(q);
            }
        }
        let distinct = nodes.len();
        let mut frontier = 0..distinct;
        for _ in 0..hops {
            let end = nodes.len();
            for i in frontier.clone() {
                let row = self.a_hat.outer_view(nodes[i]).expect("node in range");
                for &j in row.indices() {
                    if let std::collections::hash_map::Entry::Vacant(e) = position.entry(j) {
                        e.insert(nodes.len());
                        nodes.push(j);
                    }
                }
            }
            frontier = end..nodes.len();
        }
        (nodes, distinct)
    }

    /// Logits of `model` for `query` (one row per distinct query node, in order), computed on
    /// the query's receptive field only.
    pub fn classify(&self, model: &dyn NodeModel, query: &[usize]) -> Result<Tensor, ModelError> {
        if let Some(&bad) = query.iter().find(|&&q| q >= self.num_nodes()) {
            return Err(ModelError::Shape(format!("query node {bad} outside the graph's {} nodes", self.num_nodes())));
        }
        if let Some(logits) = self.host_mlp(model, query) {
            return Ok(logits);
        }
        let hops = receptive_hops(model);
        let (field, distinct) = self.field_and_query_count(query, hops);
        let induced_graph;
        let a_hat = if hops == 0 {
            &self.no_graph
        } else {
            induced_graph = SparseMatrix::from_sprs(&induced(&self.a_hat, &field, true), self.device)?;
            &induced_graph
        };
        let features = match &self.features {
            OnlineFeatures::Dense(all) => {
                let index: Vec<i64> = field.iter().map(|&n| n as i64).collect();
                NodeFeatures::Dense(all.index_select(0, &Tensor::from_slice(&index).to(self.device)))
            }
            OnlineFeatures::Sparse(all) => {
                NodeFeatures::Sparse(SparseMatrix::from_sprs(&induced(all, &field, false), self.device)?)
            }
        };
        let logits = tch::no_grad(|| model.forward_t(&features, a_hat, false).logits);
        Ok(logits.narrow(0, 0, distinct as i64).to_kind(Kind::Float))
    }

    /// The MLP's logits for a few `query` nodes (each once, in order), computed on the host
    /// without libtorch (see [`host_mlp`]); None where that path does not apply (a GCN, many
    /// nodes, a GPU).
    fn host_mlp(&self, model: &dyn NodeModel, query: &[usize]) -> Option<Tensor> {
        if model.config().arch != Arch::Mlp || query.len() > host_mlp::HOST_MAX_ROWS {
            return None;
        }
        let mut nodes = Vec::with_capacity(query.len());
        query.iter().for_each(|q| {
            if !nodes.contains(q) {
                nodes.push(*q)
            }
        });
        let rows: Vec<HostRow> = match &self.features {
            OnlineFeatures::Dense(all) => {
                let (all, shape) = host_mlp::host_slice(all)?;
                let width = *shape.get(1)? as usize;
                nodes.iter().map(|&n| HostRow::Dense(&all[n * width..(n + 1) * width])).collect()
            }
            OnlineFeatures::Sparse(all) => nodes
                .iter()
                .map(|&n| {
                    let range = all.indptr().outer_inds_sz(n);
                    HostRow::Sparse { columns: &all.indices()[range.clone()], values: &all.data()[range] }
                })
                .collect(),
        };
        host_mlp::host_mlp_logits(&model.weights(), &model.biases(), &rows)
    }
}

/// Median milliseconds to classify `count` nodes drawn at random (other nodes on every run),
/// receptive field gathering included, over `runs` timed runs after as many untimed ones.
///
/// The untimed runs measure a serving process in its steady state. Memory a process has left
/// untouched for a while can cost far more on first touch than when warm: on the 2-core VM of
/// the figures in docs/performance-and-scale.md, after a minute of training at 1M nodes, each of the first few hundred
/// single-node queries took 0.1-0.2 ms against 3 us later, with no page fault or context switch
/// the process could see (the hypervisor, or the guest's DAMON reclaim, had taken the pages).
pub fn online_latency_ms(
    online: &OnlineGraph,
    model: &dyn NodeModel,
    count: usize,
    runs: usize,
    seed: u64,
) -> Result<f64, ModelError> {
    // SplitMix64: a seeded, dependency-free stream of node ids.
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = online.num_nodes() as u64;
    let runs = runs.max(1);
    let mut times = Vec::with_capacity(runs);
    for run in 0..2 * runs {
        let query: Vec<usize> = (0..count).map(|_| (next() % n) as usize).collect();
        let start = std::time::Instant::now();
        let logits = online.classify(model, &query)?;
        if let Device::Cuda(i) = logits.device() {
            tch::Cuda::synchronize(i as i64);
        }
        if run >= runs {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Rows `nodes` of `m`; with `square`, also only the columns `nodes`, renumbered in that order.
fn induced(m: &CsMat<f32>, nodes: &[usize], square: bool) -> CsMat<f32> {
    let local: HashMap<usize, usize> =
        if square { nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect() } else { HashMap::new() };
    let (mut indptr, mut indices, mut values) = (vec![0usize], Vec::new(), Vec::new());
    for &n in nodes {
        let row = m.outer_view(n).expect("node in range");
        let mut entries: Vec<(usize, f32)> = row
            .iter()
            .filter_map(|(j, &v)| if square { local.get(&j).map(|&l| (l, v)) } else { Some((j, v)) })
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        indices.extend(entries.iter().map(|e| e.0));
        values.extend(entries.iter().map(|e| e.1));
        indptr.push(indices.len());
    }
    let cols = if square { nodes.len() } else { m.cols() };
    CsMat::new((nodes.len(), cols), indptr, indices, values)
}
