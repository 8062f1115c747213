//! `gdistill export`: the TorchScript module, loaded by Python's torch, gives gdistill's logits.
//!
//! Checkpoints are built in-process (an MLP student, an image CNN, GAT and APPNP models) with
//! fixed seeds, or trained on Cora by the CLI (GCN and SAGE teachers and small students); the
//! test computes gdistill's own logits (on random inputs, a random graph, Cora as `gdistill eval`
//! reads it), writes inputs and logits raw, and has `torch.jit.load` run the exported module on
//! the same inputs. Graph modules are also run from Rust (`tch::CModule`), which needs no Python.
//! The Python is
//! `$GDISTILL_PYTHON`, else the first of python3, python, the bootstrap's cache
//! (`~/.cache/gdistill/pyg-venv/bin/python`, or python3 with the cached torch wheel on
//! PYTHONPATH) that imports torch 2.11. Without one the Python half is skipped with a note, or
//! fails when `CI=true`.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{assert_fails_with, gdistill, stderr, stdout};
use gdistill_distill::images::{save_image_checkpoint, ImageCheckpointMeta};
use gdistill_distill::{load_checkpoint, predict, save_checkpoint, CheckpointMeta, DatasetFingerprint, GraphData};
use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph};
use gdistill_models::{
    Arch, ArchOptions, ImageArch, ImageShape, ModelConfig, NodeFeatures, NodeModel, SageAggregator, SparseMatrix,
};
use tch::{nn, CModule, Device, Kind, Tensor};

/// A Python that imports torch 2.11 (the libtorch gdistill links), with its environment.
struct Python {
    program: PathBuf,
    pythonpath: Option<PathBuf>,
}

fn find_python() -> Option<Python> {
    let cache = std::env::var_os("GDISTILL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/gdistill")));
    let mut candidates: Vec<Python> = Vec::new();
    if let Some(p) = std::env::var_os("GDISTILL_PYTHON") {
        candidates.push(Python { program: p.into(), pythonpath: None });
    }
    for name in ["python3", "python"] {
        candidates.push(Python { program: name.into(), pythonpath: None });
    }
    if let Some(cache) = cache {
        candidates.push(Python { program: cache.join("pyg-venv/bin/python"), pythonpath: None });
        candidates.push(Python { program: "python3".into(), pythonpath: Some(cache.join("pytorch-2.11.0")) });
    }
    candidates.into_iter().find(|p| {
        let out = p.command().args(["-c", "import torch; print(torch.__version__)"]).output();
        out.is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("2.11"))
    })
}

impl Python {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        if let Some(path) = &self.pythonpath {
            c.env("PYTHONPATH", path);
        }
        c
    }
}

/// The Python to check with, or `None` after a note; panics without one when `CI=true`.
fn python_or_skip() -> Option<Python> {
    let found = find_python();
    if found.is_none() {
        let message = "no Python with torch 2.11 (set GDISTILL_PYTHON, or run scripts/bootstrap.sh)";
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(!ci, "{message}; CI=true, so this is a failure");
        eprintln!("note: {message}; skipping the torch.jit.load check");
    }
    found
}

/// Writes `t` raw (little-endian) and returns its dtype as Python's torch names it.
fn write_raw(path: &Path, t: &Tensor) -> &'static str {
    let t = t.contiguous().view([-1]);
    let (bytes, dtype): (Vec<u8>, _) = if t.kind() == Kind::Int64 {
        (Vec::<i64>::try_from(t).unwrap().iter().flat_map(|v| v.to_le_bytes()).collect(), "torch.int64")
    } else {
        (Vec::<f32>::try_from(t).unwrap().iter().flat_map(|v| v.to_le_bytes()).collect(), "torch.float32")
    };
    std::fs::write(path, bytes).unwrap();
    dtype
}

/// Runs the exported `module` in Python on `inputs` (float32 or int64) and returns the largest
/// absolute difference from `expected`.
fn torch_difference(python: &Python, module: &Path, inputs: &[&Tensor], expected: &Tensor) -> f64 {
    let dir = module.parent().unwrap();
    let read = |name: &str, t: &Tensor| {
        let path = dir.join(name);
        let dtype = write_raw(&path, t);
        format!("read({:?}, {dtype}, {:?})", path.display().to_string(), t.size())
    };
    let args: Vec<String> = inputs.iter().enumerate().map(|(k, t)| read(&format!("input{k}.raw"), t)).collect();
    let out_shape = format!("{:?}", expected.size());
    let script = format!(
        "import torch\n\
         m = torch.jit.load({module:?})\n\
         read = lambda p, d, s: torch.frombuffer(bytearray(open(p, 'rb').read()), dtype=d).view(s)\n\
         args, y = [{args}], {expected}\n\
         with torch.no_grad(): z = m(*args)\n\
         assert list(z.shape) == {out_shape}, z.shape\n\
         print((z - y).abs().max().item())\n",
        module = module.display().to_string(),
        args = args.join(", "),
        expected = read("expected.raw", expected),
    );
    let o = python.command().args(["-c", &script]).output().expect("python runs");
    assert!(o.status.success(), "python failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().expect("a number")
}

/// The exported graph module run from Rust: the largest absolute difference from `expected`.
fn module_difference(module: &Path, x: &Tensor, edge_index: &Tensor, expected: &Tensor) -> f64 {
    let m = CModule::load(module).unwrap();
    let z = tch::no_grad(|| m.forward_ts(&[x, edge_index])).unwrap();
    assert_eq!(z.size(), expected.size());
    (z - expected).abs().max().double_value(&[])
}

/// A random edge list on `n` nodes as users write them: one direction per edge, a few
/// duplicates and reversed duplicates, a self-loop, and an isolated last node.
fn random_pairs(n: i64, edges: i64) -> Vec<(usize, usize)> {
    let ends = Vec::<i64>::try_from(Tensor::randint(n - 1, [2 * edges], (Kind::Int64, Device::Cpu))).unwrap();
    let mut pairs: Vec<(usize, usize)> = ends.chunks(2).map(|e| (e[0] as usize, e[1] as usize)).collect();
    pairs.extend_from_within(..5);
    pairs.push((pairs[1].1, pairs[1].0));
    pairs.push((2, 2));
    pairs
}

/// PyG's `edge_index`, `[2, E]`: row 0 source, row 1 target.
fn edge_index(pairs: &[(usize, usize)]) -> Tensor {
    let (source, target): (Vec<i64>, Vec<i64>) = pairs.iter().map(|&(s, t)| (s as i64, t as i64)).unzip();
    Tensor::stack(&[Tensor::from_slice(&source), Tensor::from_slice(&target)], 0)
}

/// gdistill's logits on the graph a dataset loader builds from `pairs`.
fn gdistill_logits(model: &dyn NodeModel, x: &Tensor, pairs: &[(usize, usize)]) -> Tensor {
    let graph = Graph::from_edges(x.size()[0] as usize, pairs, EdgeOptions::undirected()).unwrap();
    let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&graph), Device::Cpu).unwrap();
    tch::no_grad(|| model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &a_hat, false).logits)
}

/// Checks the graph module at `out` against `checkpoint`'s forward pass on a random graph of
/// `n` nodes, from Rust and (when there is one) from Python; returns the larger difference.
fn check_on_random_graph(checkpoint: &Path, out: &Path, n: i64, python: Option<&Python>) -> f64 {
    let (_vs, model, meta) = load_checkpoint(checkpoint, Device::Cpu).unwrap();
    let x = Tensor::rand([n, meta.model.in_features], (Kind::Float, Device::Cpu));
    let x = &x / x.sum_dim_intlist(1, true, Kind::Float);
    let pairs = random_pairs(n, 3 * n);
    let expected = gdistill_logits(model.as_ref(), &x, &pairs);
    let edges = edge_index(&pairs);
    let mut difference = module_difference(out, &x, &edges, &expected);
    if let Some(python) = python {
        difference = difference.max(torch_difference(python, out, &[&x, &edges], &expected));
    }
    difference
}

fn export(checkpoint: &Path, out: &Path) -> std::process::Output {
    gdistill(&["export", "--checkpoint", checkpoint.to_str().unwrap(), "--out", out.to_str().unwrap()], Path::new("."))
}

fn node_checkpoint(dir: &Path, arch: Arch) -> PathBuf {
    node_checkpoint_of(dir, &arch.to_string(), ModelConfig::new(arch, 20, 16, 3, 5, 0.5))
}

/// A checkpoint of `config`'s model, with weights drawn from a fixed seed, as `dir/NAME.safetensors`.
fn node_checkpoint_of(dir: &Path, name: &str, config: ModelConfig) -> PathBuf {
    tch::manual_seed(7);
    let vs = nn::VarStore::new(Device::Cpu);
    config.build(&vs.root()).unwrap();
    let path = dir.join(format!("{name}.safetensors"));
    let dataset = DatasetFingerprint { name: "toy".into(), nodes: 50, features: 20, classes: 5, row_normalized: true };
    let meta = CheckpointMeta { format_version: 1, model: config, dataset, training: serde_json::Value::Null };
    save_checkpoint(&path, &vs, &meta).unwrap();
    path
}

#[test]
fn an_mlp_student_exports_and_torch_reproduces_its_logits() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = node_checkpoint(dir.path(), Arch::Mlp);
    let out = dir.path().join("mlp.pt");
    let o = export(&checkpoint, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("input  features float32 [\"N\",20]") && text.contains("output logits float32 [\"N\",5]"),
        "{text}"
    );
    let contract: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("mlp.pt.json")).unwrap()).unwrap();
    assert_eq!(contract["input"]["shape"], serde_json::json!(["N", 20]));
    assert!(contract["max_abs_difference_from_gdistill"].as_f64().unwrap() <= 1e-5);

    let Some(python) = python_or_skip() else { return };
    // gdistill's own forward, in eval mode, on a batch size the trace never saw.
    let (_vs, model, _) = load_checkpoint(&checkpoint, Device::Cpu).unwrap();
    let x = Tensor::rand([37, 20], (Kind::Float, Device::Cpu));
    let no_graph = SparseMatrix::from_csr(&[0; 38], &[], &[], (37, 37), Device::Cpu).unwrap();
    let logits = tch::no_grad(|| model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &no_graph, false).logits);
    let difference = torch_difference(&python, &out, &[&x], &logits);
    eprintln!("mlp: max abs difference between torch.jit.load and gdistill: {difference:e}");
    assert!(difference <= 1e-5, "{difference}");
}

#[test]
fn an_image_cnn_exports_and_torch_reproduces_its_logits() {
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(3);
    let shape = ImageShape { height: 8, width: 8, classes: 10 };
    let arch = ImageArch::Cnn { channels: vec![4, 8], fc: 16, dropout: 0.5 };
    let vs = nn::VarStore::new(Device::Cpu);
    let model = arch.build(&vs.root(), shape).unwrap();
    let checkpoint = dir.path().join("cnn.safetensors");
    let meta = ImageCheckpointMeta {
        format_version: 1,
        model: arch,
        shape,
        dataset: "digits".into(),
        training: serde_json::Value::Null,
    };
    save_image_checkpoint(&checkpoint, &vs, &meta).unwrap();
    let out = dir.path().join("cnn.pt");
    let o = export(&checkpoint, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("input  images float32 [\"B\",8,8]"), "{}", stdout(&o));

    let Some(python) = python_or_skip() else { return };
    let x = Tensor::rand([11, 8, 8], (Kind::Float, Device::Cpu));
    let logits = tch::no_grad(|| model.forward_t(&x, false).logits);
    let difference = torch_difference(&python, &out, &[&x], &logits);
    eprintln!("cnn: max abs difference between torch.jit.load and gdistill: {difference:e}");
    assert!(difference <= 1e-5, "{difference}");
}

#[test]
fn gat_appnp_and_other_shapes_export_and_reproduce_gdistill_on_a_random_graph() {
    let dir = tempfile::tempdir().unwrap();
    let python = python_or_skip();
    let normalized_sage = ModelConfig::new(Arch::Sage, 20, 16, 3, 5, 0.5)
        .with_options(ArchOptions { normalize: true, ..ArchOptions::default() });
    let gcn_aggregator_sage = ModelConfig::new(Arch::Sage, 20, 16, 2, 5, 0.5)
        .with_options(ArchOptions { aggregator: SageAggregator::Gcn, ..ArchOptions::default() });
    let two_head_gat = ModelConfig::new(Arch::Gat, 20, 4, 2, 5, 0.5).with_options(ArchOptions {
        heads: 3,
        output_heads: 2,
        ..ArchOptions::default()
    });
    let models = [
        ("gat", ModelConfig::new(Arch::Gat, 20, 16, 3, 5, 0.5)),
        ("gat-2-output-heads", two_head_gat),
        ("appnp", ModelConfig::new(Arch::Appnp, 20, 16, 3, 5, 0.5)),
        ("sage-normalize", normalized_sage),
        ("sage-gcn-aggregator", gcn_aggregator_sage),
        ("gcn-1-layer", ModelConfig::new(Arch::Gcn, 20, 16, 1, 5, 0.5)),
    ];
    for (arch, config) in models {
        let checkpoint = node_checkpoint_of(dir.path(), arch, config);
        let out = dir.path().join(format!("{arch}.pt"));
        let o = export(&checkpoint, &out);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains("input  x float32 [\"N\",20]") && text.contains("input  edge_index int64 [2,\"E\"]"),
            "{text}"
        );
        // The checkpoint names a dataset ("toy") that does not load: a note, random graphs only.
        assert!(stderr(&o).contains("checked on random graphs only"), "{}", stderr(&o));
        tch::manual_seed(11);
        let module = CModule::load(&out).unwrap();
        let x = Tensor::rand([6, 20], (Kind::Float, Device::Cpu));
        let transposed = edge_index(&[(0, 1), (1, 2), (3, 4)]).transpose(0, 1);
        assert!(module.forward_ts(&[&x, &transposed]).is_err(), "{arch}: an [E, 2] edge list is an error");
        let one_row = edge_index(&[(0, 1), (1, 2), (3, 4)]).narrow(0, 0, 1);
        assert!(module.forward_ts(&[&x, &one_row]).is_err(), "{arch}: a [1, E] edge list is an error");
        let difference = check_on_random_graph(&checkpoint, &out, 41, python.as_ref());
        eprintln!("{arch}: max abs difference on a random graph of 41 nodes: {difference:e}");
        assert!(difference <= 1e-5, "{arch}: {difference}");
    }
}

#[test]
fn gcn_and_sage_trained_on_cora_export_and_reproduce_gdistill_on_cora_and_a_random_graph() {
    let Some(cora) = data::data_dir("cora") else { return };
    let data_dir = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let python = python_or_skip();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let o = gdistill(args, data_dir);
        assert!(o.status.success(), "gdistill {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    // Cora as `gdistill eval` reads it: row-normalised features, gdistill's graph.
    let (mut dataset, _) = gdistill_datasets::load_with_report("cora", data_dir).unwrap();
    dataset.row_normalize_features();
    let data = GraphData::new(&dataset, Device::Cpu, gdistill_datasets::FeatureLayout::Auto).unwrap();
    let x = Tensor::from_slice(&dataset.dense_features()).view([dataset.num_nodes() as i64, -1]);
    let edges = edge_index(&dataset.graph.edges().collect::<Vec<_>>());
    let common = ["--dataset", "cora", "--epochs", "5", "--seed", "1"];
    for arch in ["gcn", "sage"] {
        let (teacher, student) =
            (path(&format!("{arch}-teacher.safetensors")), path(&format!("{arch}-small.safetensors")));
        run(&[&["train", "--model", arch, "--hidden", "32", "--out", &teacher][..], &common[..]].concat());
        run(&[
            &["distill", "--teacher", &teacher, "--model", arch, "--hidden", "8", "--out", &student][..],
            &common[..],
        ]
        .concat());
        for (k, checkpoint) in [teacher, student].iter().enumerate() {
            let out = dir.path().join(format!("{arch}-{k}.pt"));
            // The teacher names its dataset; the student's is found from the name it records.
            let named = ["export", "--checkpoint", checkpoint, "--out", out.to_str().unwrap(), "--dataset", "cora"];
            let text = run(if k == 0 { &named[..] } else { &named[..5] });
            assert!(
                text.contains("input  edge_index int64 [2,\"E\"]") && text.contains("(max abs difference, cora)"),
                "{text}"
            );
            let sidecar: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(format!("{}.json", out.display())).unwrap()).unwrap();
            assert_eq!(sidecar["checked_on"][1]["graph"]["nodes"], 2708, "{sidecar}");
            assert_eq!(sidecar["inputs"][1]["name"], "edge_index");

            let (_vs, model, _) = load_checkpoint(Path::new(checkpoint), Device::Cpu).unwrap();
            let expected = predict(model.as_ref(), &data);
            let mut on_cora = module_difference(&out, &x, &edges, &expected);
            if let Some(python) = &python {
                on_cora = on_cora.max(torch_difference(python, &out, &[&x, &edges], &expected));
            }
            tch::manual_seed(5);
            let on_random = check_on_random_graph(Path::new(checkpoint), &out, 157, python.as_ref());
            eprintln!("{arch} #{k}: max abs difference from gdistill: Cora {on_cora:e}, random graph {on_random:e}");
            assert!(on_cora <= 1e-5 && on_random <= 1e-5, "{arch} #{k}: {on_cora} {on_random}");

            // The module's test accuracy is the one `gdistill eval` prints.
            let eval = run(&["eval", "--dataset", "cora", "--checkpoint", checkpoint]);
            let z = CModule::load(&out).unwrap().forward_ts(&[&x, &edges]).unwrap();
            let right =
                z.argmax(1, false).index_select(0, &data.test).eq_tensor(&data.labels.index_select(0, &data.test));
            let accuracy = right.to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
            assert!(eval.contains(&format!("test {accuracy:.4}")), "module: {accuracy:.4}; eval: {eval}");
        }
    }
}

#[test]
fn a_grid_gcn_checkpoint_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let shape = ImageShape { height: 4, width: 4, classes: 3 };
    let arch = ImageArch::GridGcn { hidden: 4, layers: 2, neighborhood: 4, coordinates: false, dropout: 0.0, pool: 1 };
    let vs = nn::VarStore::new(Device::Cpu);
    arch.build(&vs.root(), shape).unwrap();
    let checkpoint = dir.path().join("grid.safetensors");
    let meta = ImageCheckpointMeta {
        format_version: 1,
        model: arch,
        shape,
        dataset: "digits".into(),
        training: serde_json::Value::Null,
    };
    save_image_checkpoint(&checkpoint, &vs, &meta).unwrap();
    let out = dir.path().join("grid.pt");
    assert_fails_with(&export(&checkpoint, &out), &["grid-gcn checkpoint does not export"]);
    assert!(!out.exists(), "nothing is written for a refused model");
}

#[test]
fn a_dataset_that_is_not_the_checkpoints_is_refused() {
    let Some(citeseer) = data::data_dir("citeseer") else { return };
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = node_checkpoint(dir.path(), Arch::Gcn);
    let out = dir.path().join("gcn.pt");
    let args = [
        "export",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dataset",
        "citeseer",
    ];
    assert_fails_with(&gdistill(&args, citeseer.parent().unwrap()), &["trained on dataset 'toy'", "citeseer"]);
    assert!(!out.exists(), "nothing is written when the check cannot run");
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.safetensors");
    std::fs::write(&bogus, b"not a checkpoint").unwrap();
    let o = export(&bogus, &dir.path().join("x.pt"));
    assert_fails_with(&o, &["bogus.safetensors"]);
}
