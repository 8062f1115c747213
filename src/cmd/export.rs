//! `gdistill export`: a checkpoint as a TorchScript module, runnable without gdistill.
//!
//! The model is traced (`tch::CModule::create_by_tracing`) on the CPU in evaluation mode, so
//! dropout is off and the weights become constants of the module. Only models whose forward
//! pass is dense tensor algebra trace: graph-less MLP students and the image MLPs and CNN.
//! Graph models read the adjacency through gdistill's sparse products, which the tracer does not
//! record, so they are refused with a message naming what does export.
//!
//! Beside `FILE.pt` goes `FILE.pt.json`: what the module takes and returns, the preprocessing
//! the inputs need, and the checkpoint's own record. Both files are written atomically. Before
//! writing, the traced module is run against gdistill's own forward pass on random inputs, and
//! the export is refused if they differ by more than [`MAX_DIFFERENCE`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use gdistill_distill::images::load_image_checkpoint;
use gdistill_distill::{checkpoint_kind, load_checkpoint, CheckpointKind};
use gdistill_models::{Arch, ImageArch, NodeFeatures, SparseMatrix};
use serde_json::json;
use tch::{CModule, Device, Kind, Tensor};

use super::{write_atomically_with, write_json};

#[derive(Args)]
#[command(long_about = "Export a checkpoint as a TorchScript module (torch.jit.load in Python, \
    torch::jit::load in C++), traced in evaluation mode (dropout off).\n\n\
    What the module takes and returns:\n  \
    MLP student (gdistill train/distill --model mlp): features float32 [N, F] -> logits [N, C], \
    one row per node; features row-normalised (each row summing to one) when the checkpoint was \
    trained so (FILE.pt.json says).\n  \
    image MLP or CNN: images float32 [B, H, W], pixels in 0..1 -> logits [B, C].\n\
    Graph models (gcn, sage, gat, appnp, grid-gcn) read the graph through sparse products that \
    tracing does not record, and are refused: distil them into an MLP student first.\n\n\
    The contract is also written beside the module as FILE.pt.json.")]
pub struct ExportArgs {
    /// Checkpoint from `gdistill train`, `gdistill distill`, or `gdistill compare --save-models`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The TorchScript file to write (conventionally .pt); FILE.json goes beside it.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// The largest difference between the traced module's logits and gdistill's own that an export
/// accepts (float32 arithmetic in the same order gives 0; a few ulps of reordering, far less).
pub const MAX_DIFFERENCE: f64 = 1e-5;

/// What a traced module takes and returns, for the printout and the `.json` beside it.
struct Contract {
    input: serde_json::Value,
    output: serde_json::Value,
    /// The model in a few words, for the printout.
    describe: String,
    /// The checkpoint's metadata.
    source: serde_json::Value,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let (module, contract, difference) = match checkpoint_kind(&args.checkpoint)? {
        CheckpointKind::Node => trace_node_model(&args.checkpoint)?,
        CheckpointKind::Image => trace_image_model(&args.checkpoint)?,
    };
    write_atomically_with(&args.out, "the TorchScript module", |tmp| Ok(module.save(tmp)?))?;
    let sidecar = sidecar_path(&args.out);
    let record = json!({
        "format": "torchscript", "traced_on": "cpu", "mode": "eval",
        "input": contract.input, "output": contract.output,
        "max_abs_difference_from_gdistill": difference,
        "checkpoint": args.checkpoint, "source": contract.source,
    });
    write_json(&sidecar, &record)?;
    println!("exported {} ({}) to {}", args.checkpoint.display(), contract.describe, args.out.display());
    println!("  input  {}", describe_tensor(&contract.input));
    println!("  output {}", describe_tensor(&contract.output));
    println!("  logits match gdistill's forward to {difference:.2e} (max abs difference)");
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

/// Traces `forward` (logits from one input tensor) on `example`, then checks the module against
/// `forward` on `check`: returns the module and the largest absolute difference.
fn trace(name: &str, example: Tensor, check: Tensor, forward: &dyn Fn(&Tensor) -> Tensor) -> Result<(CModule, f64)> {
    let module = tch::no_grad(|| {
        CModule::create_by_tracing(name, "forward", &[example], &mut |inputs: &[Tensor]| vec![forward(&inputs[0])])
    })
    .context("tracing the model")?;
    let expected = tch::no_grad(|| forward(&check));
    let got = tch::no_grad(|| module.forward_ts(&[&check])).context("running the traced module")?;
    if got.size() != expected.size() {
        bail!("the traced module returns {:?}, the model {:?}", got.size(), expected.size());
    }
    let difference = (got - expected).abs().max().double_value(&[]);
    if difference.is_nan() || difference > MAX_DIFFERENCE {
        bail!("the traced module's logits differ from the model's by {difference:e}; nothing written");
    }
    Ok((module, difference))
}

/// A node MLP: features `[N, F]` in, logits out. Traced on 3 rows and checked on 5, so a
/// module that kept the traced row count would fail the check.
fn trace_node_model(path: &Path) -> Result<(CModule, Contract, f64)> {
    let (mut vs, model, meta) = load_checkpoint(path, Device::Cpu)?;
    vs.freeze(); // the tracer stores the weights as constants, which must not require gradients
    let config = &meta.model;
    if config.arch != Arch::Mlp {
        bail!(
            "{}: a {} checkpoint does not export: it reads the graph through sparse products, which \
             TorchScript tracing does not record. gdistill export takes MLP students (node features in, \
             logits out) and image MLPs and CNNs; distil this model into an MLP student first \
             (gdistill distill --teacher {} --model mlp)",
            path.display(),
            config.arch,
            path.display()
        );
    }
    let features = config.in_features;
    let no_graph =
        |n: i64| SparseMatrix::from_csr(&vec![0; n as usize + 1], &[], &[], (n as usize, n as usize), Device::Cpu);
    let forward = |x: &Tensor| -> Tensor {
        let n = x.size()[0];
        let graph = no_graph(n).expect("an empty graph");
        model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &graph, false).logits
    };
    let random = |n: i64| Tensor::rand([n, features], (Kind::Float, Device::Cpu));
    let (module, difference) = trace("GdistillMlp", random(3), random(5), &forward)?;
    let note = if meta.dataset.row_normalized {
        "one row per node; each row scaled to sum to one, as in training"
    } else {
        "one row per node; raw features, as in training"
    };
    let contract = Contract {
        input: json!({"name": "features", "dtype": "float32", "shape": ["N", features], "note": note}),
        output: json!({"name": "logits", "dtype": "float32", "shape": ["N", config.num_classes]}),
        describe: format!("mlp, {} parameters, trained on {}", config.num_params(), meta.dataset.name),
        source: serde_json::to_value(&meta)?,
    };
    Ok((module, contract, difference))
}

/// An image MLP or CNN: images `[B, H, W]` in, logits out.
fn trace_image_model(path: &Path) -> Result<(CModule, Contract, f64)> {
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
        input: json!({"name": "images", "dtype": "float32", "shape": ["B", s.height, s.width],
                      "note": "grayscale, pixels in 0..1"}),
        output: json!({"name": "logits", "dtype": "float32", "shape": ["B", s.classes]}),
        describe: format!(
            "{}, {} parameters, trained on {}",
            meta.model.describe(),
            meta.model.num_params(s),
            meta.dataset
        ),
        source: serde_json::to_value(&meta)?,
    };
    Ok((module, contract, difference))
}
