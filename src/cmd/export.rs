//! `gdistill export`: a checkpoint as a TorchScript module, runnable without gdistill.
//!
//! The model is traced (`tch::CModule::create_by_tracing`) on the CPU in evaluation mode, so
//! dropout is off and the weights become constants of the module. MLP students and image models
//! are dense tensor algebra and trace as they are. Graph models (GCN, SAGE, GAT, APPNP) read a
//! prebuilt CSR adjacency through sparse products the tracer does not record, so they are traced
//! from a rebuilding of their forward pass on the edge list ([`graph`]): the module takes
//! `(x, edge_index)` and derives the normalisation itself, for any graph. tch 0.24 cannot compile
//! TorchScript source, so tracing is the one way to build a module from Rust.
//!
//! Beside `FILE.pt` goes `FILE.pt.json`: what the module takes and returns, the preprocessing
//! the inputs need, what it was checked on, and the checkpoint's own record. Both files are
//! written atomically. Before writing, the traced module is run against gdistill's own forward
//! pass on inputs the trace did not see (other batch sizes; for graph models another random
//! graph, and the training graph when it loads), and the export is refused if they differ by
//! more than [`MAX_DIFFERENCE`].

mod graph;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use gdistill_distill::images::load_image_checkpoint;
use gdistill_distill::{checkpoint_kind, load_checkpoint, predict, CheckpointKind, CheckpointMeta};
use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph};
use gdistill_models::{Arch, ImageArch, NodeFeatures, NodeModel, SparseMatrix};
use serde_json::json;
use tch::{CModule, Device, Kind, Tensor};

use super::eval::check_fingerprint;
use super::train::prepare;
use super::{write_atomically_with, write_json, DatasetArgs, DeviceArgs};
use graph::{EdgeListModel, Weights};

#[derive(Args)]
#[command(long_about = "Export a checkpoint as a TorchScript module (torch.jit.load in Python, \
    torch::jit::load in C++), traced in evaluation mode (dropout off).\n\n\
    What the module takes and returns:\n  \
    MLP student (gdistill train/distill --model mlp): features float32 [N, F] -> logits [N, C], \
    one row per node.\n  \
    graph model (gcn, sage, gat, appnp; teachers and small students): module(x, edge_index) -> \
    logits [N, C], with x float32 [N, F] and edge_index int64 [2, E] in PyTorch Geometric's layout \
    (row 0 source, row 1 target). The module normalises the graph itself as gdistill does: each \
    edge counts in both directions, duplicates once, self-loops are replaced by gdistill's own, so \
    a one-way or a symmetric edge list gives the same logits.\n  \
    image MLP or CNN: images float32 [B, H, W], pixels in 0..1 -> logits [B, C].\n\
    Node features are row-normalised (each row summing to one) when the checkpoint was trained so \
    (FILE.pt.json says). The image grid-gcn is refused.\n\n\
    Before writing, the module is checked against gdistill's own forward pass on random inputs \
    and, for graph models, on a random graph and on the training graph when it loads (--dataset, \
    else the dataset the checkpoint names). The contract is also written beside the module as \
    FILE.pt.json.")]
pub struct ExportArgs {
    /// Checkpoint from `gdistill train`, `gdistill distill`, or `gdistill compare --save-models`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The TorchScript file to write (conventionally .pt); FILE.json goes beside it.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Graph models: the dataset the checkpoint was trained on, to check the module on its graph
    /// too (a failure to load it is an error) [default: the name the checkpoint records, skipped
    /// with a note when it does not load].
    #[arg(long, short = 'd')]
    pub dataset: Option<String>,
    /// Directory holding <name>/ folders of Planetoid files [default: $GDISTILL_DATA_DIR, else data/].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// The largest difference between the traced module's logits and gdistill's own that an export
/// accepts (float32 arithmetic in the same order gives 0; a few ulps of reordering, far less).
pub const MAX_DIFFERENCE: f64 = 1e-5;

/// What a traced module takes and returns, for the printout and the `.json` beside it.
struct Contract {
    inputs: Vec<serde_json::Value>,
    output: serde_json::Value,
    /// The model in a few words, for the printout.
    describe: String,
    /// The checkpoint's metadata.
    source: serde_json::Value,
}

/// One comparison of the module with gdistill's forward pass.
struct Check {
    on: serde_json::Value,
    difference: f64,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let (module, contract, checks) = match checkpoint_kind(&args.checkpoint)? {
        CheckpointKind::Node => trace_node_model(&args)?,
        CheckpointKind::Image => trace_image_model(&args.checkpoint)?,
    };
    let difference = checks.iter().map(|c| c.difference).fold(0.0, f64::max);
    write_atomically_with(&args.out, "the TorchScript module", |tmp| Ok(module.save(tmp)?))?;
    let sidecar = sidecar_path(&args.out);
    let checked_on: Vec<_> =
        checks.iter().map(|c| json!({"graph": c.on, "max_abs_difference": c.difference})).collect();
    let record = json!({
        "format": "torchscript", "traced_on": "cpu", "mode": "eval",
        "input": contract.inputs[0], "inputs": contract.inputs, "output": contract.output,
        "max_abs_difference_from_gdistill": difference, "checked_on": checked_on,
        "checkpoint": args.checkpoint, "source": contract.source,
    });
    write_json(&sidecar, &record)?;
    println!("exported {} ({}) to {}", args.checkpoint.display(), contract.describe, args.out.display());
    for input in &contract.inputs {
        println!("  input  {}", describe_tensor(input));
    }
    println!("  output {}", describe_tensor(&contract.output));
    for check in &checks {
        let on = check.on.as_str().map_or_else(|| check.on["name"].as_str().unwrap_or("").to_string(), String::from);
        println!("  logits match gdistill's forward to {:.2e} (max abs difference, {on})", check.difference);
    }
    println!("wrote {}", sidecar.display());
    Ok(())
}

/// `FILE.pt` -> `FILE.pt.json`.
fn sidecar_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn describe_tensor(t: &serde_json::Value) -> String {
    let mut text = format!("{} {} {}", t["name"].as_str().unwrap_or(""), t["dtype"].as_str().unwrap_or(""), t["shape"]);
    if let Some(note) = t["note"].as_str() {
        text.push_str(&format!(" ({note})"));
    }
    text
}

/// The largest absolute difference between `got` and `expected`; an error past [`MAX_DIFFERENCE`].
fn compare(got: Tensor, expected: Tensor, on: &str) -> Result<f64> {
    if got.size() != expected.size() {
        bail!("on {on}, the traced module returns {:?}, the model {:?}; nothing written", got.size(), expected.size());
    }
    let difference = (got - expected).abs().max().double_value(&[]);
    if difference.is_nan() || difference > MAX_DIFFERENCE {
        bail!("on {on}, the traced module's logits differ from the model's by {difference:e}; nothing written");
    }
    Ok(difference)
}

/// Traces `forward` (logits from one input tensor) on `example`, then checks the module against
/// `forward` on `check`: returns the module and the largest absolute difference.
fn trace(name: &str, example: Tensor, check: Tensor, forward: &dyn Fn(&Tensor) -> Tensor) -> Result<(CModule, f64)> {
    let module = tch::no_grad(|| {
        CModule::create_by_tracing(name, "forward", &[example], &mut |inputs: &[Tensor]| vec![forward(&inputs[0])])
    })
    .context("tracing the model")?;
    let expected = tch::no_grad(|| forward(&check));
    let got = tch::no_grad(|| module.forward_ts(&[&check])).context("running the traced module")?;
    Ok((module, compare(got, expected, "random inputs")?))
}

/// A node checkpoint: an MLP traces as it is, a graph model through its edge-list form.
fn trace_node_model(args: &ExportArgs) -> Result<(CModule, Contract, Vec<Check>)> {
    let (mut vs, model, meta) = load_checkpoint(&args.checkpoint, Device::Cpu)?;
    vs.freeze(); // the tracer stores the weights as constants, which must not require gradients
    let config = &meta.model;
    let features = config.in_features;
    let note = if meta.dataset.row_normalized {
        "one row per node; each row scaled to sum to one, as in training"
    } else {
        "one row per node; raw features, as in training"
    };
    let output = json!({"name": "logits", "dtype": "float32", "shape": ["N", config.num_classes]});
    let describe = format!("{}, {} parameters, trained on {}", config.arch, config.num_params(), meta.dataset.name);
    let source = serde_json::to_value(&meta)?;
    if config.arch != Arch::Mlp {
        let edge_model = EdgeListModel::new(config, Weights(vs.variables())).with_context(|| {
            format!("{}: rebuilding the {} on the edge list", args.checkpoint.display(), config.arch)
        })?;
        let (module, checks) = trace_graph_model(args, &edge_model, model.as_ref(), &meta)?;
        let inputs = vec![
            json!({"name": "x", "dtype": "float32", "shape": ["N", features], "note": note}),
            json!({"name": "edge_index", "dtype": "int64", "shape": [2, "E"],
                   "note": "PyTorch Geometric's COO layout, row 0 source, row 1 target, nodes 0..N; read as \
                            undirected as gdistill reads a dataset: each edge counts both ways, duplicates \
                            once, self-loops replaced by the model's own"}),
        ];
        return Ok((module, Contract { inputs, output, describe, source }, checks));
    }
    let no_graph =
        |n: i64| SparseMatrix::from_csr(&vec![0; n as usize + 1], &[], &[], (n as usize, n as usize), Device::Cpu);
    let forward = |x: &Tensor| -> Tensor {
        let n = x.size()[0];
        let graph = no_graph(n).expect("an empty graph");
        model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &graph, false).logits
    };
    // Traced on 3 rows and checked on 5, so a module that kept the traced row count would fail.
    let random = |n: i64| Tensor::rand([n, features], (Kind::Float, Device::Cpu));
    let (module, difference) = trace("GdistillMlp", random(3), random(5), &forward)?;
    let inputs = vec![json!({"name": "features", "dtype": "float32", "shape": ["N", features], "note": note})];
    let checks = vec![Check { on: json!("random inputs"), difference }];
    Ok((module, Contract { inputs, output, describe, source }, checks))
}

/// A random graph on `n` nodes as an edge list with what a user's list may hold: edges given in
/// one direction only, duplicates, a self-loop, and an isolated last node. Its features are rows
/// summing to one when the checkpoint was trained so: raw rows of a thousand features would give
/// logits in the hundreds, where float32's rounding alone passes [`MAX_DIFFERENCE`].
fn random_graph(n: usize, edges: usize, features: i64, row_normalized: bool) -> (Tensor, Vec<(usize, usize)>) {
    let ends = Vec::<i64>::try_from(Tensor::randint(n as i64 - 1, [2 * edges as i64], (Kind::Int64, Device::Cpu)))
        .expect("int64 values");
    let mut pairs: Vec<(usize, usize)> = ends.chunks(2).map(|e| (e[0] as usize, e[1] as usize)).collect();
    pairs.extend_from_within(..3);
    pairs.push((pairs[0].1, pairs[0].0));
    pairs.push((1, 1));
    let x = Tensor::rand([n as i64, features], (Kind::Float, Device::Cpu));
    let x = if row_normalized { &x / x.sum_dim_intlist(1, true, Kind::Float) } else { x };
    (x, pairs)
}

/// `[2, E]` int64, one column per pair.
fn edge_index(pairs: &[(usize, usize)]) -> Tensor {
    let (source, target): (Vec<i64>, Vec<i64>) = pairs.iter().map(|&(s, t)| (s as i64, t as i64)).unzip();
    Tensor::stack(&[Tensor::from_slice(&source), Tensor::from_slice(&target)], 0)
}

/// gdistill's own logits on the graph built from `pairs` as a dataset's edges are built.
fn gdistill_logits(model: &dyn NodeModel, x: &Tensor, pairs: &[(usize, usize)]) -> Result<Tensor> {
    let graph = Graph::from_edges(x.size()[0] as usize, pairs, EdgeOptions::undirected())?;
    let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&graph), Device::Cpu)?;
    Ok(tch::no_grad(|| model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &a_hat, false).logits))
}

/// Traces `edge_model` on one small random graph; checks it on another of other sizes, and on the
/// training graph when it loads.
fn trace_graph_model(
    args: &ExportArgs,
    edge_model: &EdgeListModel,
    model: &dyn NodeModel,
    meta: &CheckpointMeta,
) -> Result<(CModule, Vec<Check>)> {
    let features = meta.model.in_features;
    tch::manual_seed(0); // the same random graphs, and figures in FILE.pt.json, on every run
    let (x, pairs) = random_graph(7, 9, features, meta.dataset.row_normalized);
    let module = tch::no_grad(|| {
        CModule::create_by_tracing("GdistillGraphModel", "forward", &[x, edge_index(&pairs)], &mut |inputs| {
            vec![edge_model.forward(&inputs[0], &inputs[1])]
        })
    })
    .context("tracing the model")?;
    let run = |x: &Tensor, edges: &Tensor| {
        tch::no_grad(|| module.forward_ts(&[x, edges])).context("running the traced module")
    };
    let (x, pairs) = random_graph(23, 31, features, meta.dataset.row_normalized);
    let on = "a random graph of 23 nodes";
    let difference = compare(run(&x, &edge_index(&pairs))?, gdistill_logits(model, &x, &pairs)?, on)?;
    let mut checks = vec![Check { on: json!(on), difference }];
    if let Some(p) = training_graph(args, meta)? {
        let x = match &p.data.features {
            NodeFeatures::Dense(x) => x.shallow_clone(),
            NodeFeatures::Sparse(x) => x.to_dense(),
        };
        let pairs: Vec<_> = p.graph.edges().collect();
        let name = &p.fingerprint.name;
        let on = format!("the training graph, {name}");
        let difference = compare(run(&x, &edge_index(&pairs))?, predict(model, &p.data), &on)?;
        let graph = json!({"name": name, "nodes": p.graph.num_nodes(), "edges": pairs.len()});
        checks.push(Check { on: graph, difference });
    }
    Ok((module, checks))
}

/// The dataset the checkpoint was trained on, prepared as `gdistill eval` prepares it: from
/// `--dataset` (an error when it does not load or is not the checkpoint's), else from the name the
/// checkpoint records (`None`, after a note, when that does not load or does not match).
fn training_graph(args: &ExportArgs, meta: &CheckpointMeta) -> Result<Option<super::train::Prepared>> {
    let asked = args.dataset.is_some();
    let dataset = DatasetArgs {
        dataset: args.dataset.clone().unwrap_or_else(|| meta.dataset.name.clone()),
        data_dir: args.data_dir.clone(),
        split_index: None,
    };
    let device = DeviceArgs { device: "cpu".into(), threads: None };
    let prepared = prepare(&dataset, &device, Some(meta.dataset.row_normalized))
        .and_then(|p| check_fingerprint(&args.checkpoint, &meta.dataset, &p.fingerprint).map(|()| p));
    match prepared {
        Ok(p) => Ok(Some(p)),
        Err(e) if asked => Err(e),
        Err(e) => {
            eprintln!(
                "note: checked on random graphs only: the training graph '{}' did not load ({e:#}); \
                 pass --dataset and --data-dir to check on it too",
                meta.dataset.name
            );
            Ok(None)
        }
    }
}

/// An image MLP or CNN: images `[B, H, W]` in, logits out.
fn trace_image_model(path: &Path) -> Result<(CModule, Contract, Vec<Check>)> {
    let (mut vs, model, meta) = load_image_checkpoint(path, Device::Cpu)?;
    vs.freeze(); // the tracer stores the weights as constants, which must not require gradients
    if let ImageArch::GridGcn { .. } = meta.model {
        bail!(
            "{}: a grid-gcn checkpoint does not export: it builds a sparse pixel graph, which TorchScript \
             tracing does not record. gdistill export takes image MLPs and CNNs, and node MLP students",
            path.display()
        );
    }
    let s = meta.shape;
    let forward = |x: &Tensor| model.forward_t(x, false).logits;
    let random = |b: i64| Tensor::rand([b, s.height, s.width], (Kind::Float, Device::Cpu));
    let (module, difference) = trace("GdistillImageModel", random(3), random(5), &forward)?;
    let contract = Contract {
        inputs: vec![json!({"name": "images", "dtype": "float32", "shape": ["B", s.height, s.width],
                            "note": "grayscale, pixels in 0..1"})],
        output: json!({"name": "logits", "dtype": "float32", "shape": ["B", s.classes]}),
        describe: format!(
            "{}, {} parameters, trained on {}",
            meta.model.describe(),
            meta.model.num_params(s),
            meta.dataset
        ),
        source: serde_json::to_value(&meta)?,
    };
    Ok((module, contract, vec![Check { on: json!("random inputs"), difference }]))
}
