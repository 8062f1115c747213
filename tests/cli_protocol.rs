//! `--lcc` and `--protocol glnn`: the component's counts against the CPF loader's published ones,
//! the settings the protocol resolves to (and what overrides them), and one clear message when a
//! class is too small for its split.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;

use std::path::Path;

use cli::{assert_fails_with, gdistill, stderr};

/// The LINQS text of Cora, which the shared data holds and the repository does not.
const LINQS_CORA: &[&str] = &["cora.content", "cora.cites"];

/// One seed of one epoch, without the LSP and pruned rows, on one thread.
const ONE_SHORT_SEED: [&str; 8] = ["--seeds", "1", "--epochs", "1", "--no-lsp", "--no-prune", "--threads", "1"];

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `data info --lcc` nodes of `spec`, read from its JSON.
fn lcc_nodes(spec: &str, data_dir: &Path) -> u64 {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("info.json");
    let o = gdistill(&["data", "info", "-d", spec, "--lcc", "--json", json.to_str().unwrap()], data_dir);
    assert!(o.status.success(), "{spec}: {}", stderr(&o));
    read_json(&json)["nodes"].as_u64().unwrap()
}

/// GLNN's Table 1 datasets come from CPF's loader, which keeps the largest component: Cora 2485,
/// Citeseer 2110 (from the LINQS files; Planetoid's Citeseer has 2120), Photo 7487, Computers 13381.
#[test]
fn largest_components_match_the_cpf_loaders_counts() {
    // The LINQS text files live only in the shared data (the repository carries Planetoid's).
    let Some(cora_dir) = data::data_dir_with("cora", LINQS_CORA) else { return };
    let Some(citeseer_dir) = data::data_dir_with("citeseer", &["citeseer.content", "citeseer.cites"]) else { return };
    let root = cora_dir.parent().unwrap().to_path_buf();
    let cora = cora_dir.join("cora");
    let citeseer = citeseer_dir.join("citeseer");
    assert_eq!(lcc_nodes(&format!("linqs:{}", cora.display()), &root), 2485);
    assert_eq!(lcc_nodes("cora", &root), 2485);
    assert_eq!(lcc_nodes(&format!("linqs:{}", citeseer.display()), &root), 2110);
    let Some(amazon) = data::data_dir("amazon") else { return };
    for (file, nodes) in [("amazon_electronics_photo.npz", 7487), ("amazon_electronics_computers.npz", 13381)] {
        assert_eq!(lcc_nodes(&format!("npz:{}", amazon.join(file).display()), &root), nodes, "{file}");
    }
}

#[test]
fn protocol_glnn_sets_glnn_recipe_and_flags_override_it() {
    let Some(cora_dir) = data::data_dir_with("cora", LINQS_CORA) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (json, saved) = (dir.path().join("r.json"), dir.path().join("saved.toml"));
    let spec = format!("linqs:{}", cora_dir.join("cora").display());
    let args = [
        "compare",
        "-d",
        &spec,
        "--protocol",
        "glnn",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
        "--temperature",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--save-config",
        saved.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let report = read_json(&json);
    let d = &report["dataset"];
    assert_eq!((d["nodes"].as_u64(), d["classes"].as_u64()), (Some(2485), Some(7)));
    assert_eq!((d["train"].as_u64(), d["val"].as_u64(), d["test"].as_u64()), (Some(140), Some(210), Some(2135)));
    let c = &report["config"];
    assert_eq!((c["protocol"].as_str(), c["lcc"].as_bool()), (Some("glnn"), Some(true)));
    assert_eq!((c["family"].as_str(), c["split"].as_str()), (Some("sage"), Some("per-class:20,30")));
    assert_eq!(c["normalize_features"], false);
    assert_eq!((c["teacher"]["hidden"].as_i64(), c["teacher"]["layers"].as_i64()), (Some(128), Some(2)));
    assert_eq!((c["mlp"]["hidden"].as_i64(), c["mlp"]["dropout"].as_f64()), (Some(128), Some(0.6)));
    // GLNN's MLP drops after its hidden layers, not on its input
    assert_eq!(c["mlp"]["options"]["input_dropout"].as_f64(), Some(0.0));
    assert_eq!(c["sampler"]["fanouts"], serde_json::json!([5, 5]));
    assert_eq!((c["sampler"]["batch_size"].as_u64(), c["distill_batch_size"].as_u64()), (Some(140), Some(512)));
    assert_eq!(c["alpha"].as_f64(), Some(0.0));
    // GLNN's teacher layer (DGL's SAGEConv "gcn") and its tie rule on every training
    assert_eq!(c["teacher"]["options"]["aggregator"].as_str(), Some("gcn"));
    for training in ["teacher_training", "student_training", "distill_training"] {
        assert_eq!(c[training]["select"].as_str(), Some("val-acc-latest"), "{training}");
    }
    // flags beat the protocol: --seeds, --epochs, --temperature
    assert_eq!((c["seeds"].as_u64(), c["temperature"].as_f64()), (Some(1), Some(2.0)));
    assert_eq!(c["distill_training"]["epochs"].as_u64(), Some(2));
    assert_eq!(c["student_training"]["weight_decay"].as_f64(), Some(0.005));
    // the small student, which GLNN has not: no dropout, the MLP's rate (Cora's features are
    // sparse), a fifth of its 1 000 epochs' patience (the flag sets the epochs, not the patience)
    assert_eq!(c["gcn_small"]["dropout"].as_f64(), Some(0.0));
    let small = &c["small_training"];
    assert_eq!((small["lr"].as_f64(), small["weight_decay"].as_f64()), (Some(0.01), Some(0.005)));
    assert_eq!((small["epochs"].as_u64(), small["patience"].as_u64()), (Some(2), Some(200)));
    let rows: Vec<&str> = report["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(&rows[..3], ["teacher", "mlp", "mlp+kd"]);

    // the saved config is the resolved one: read back, it reproduces the same settings
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("protocol = \"glnn\"") && text.contains("lcc = true"), "{text}");
    let again = dir.path().join("again.json");
    let args = [
        "compare",
        "-d",
        &spec,
        "--config",
        saved.to_str().unwrap(),
        "--threads",
        "1",
        "--json",
        again.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_json(&again)["config"], report["config"]);
}

/// On Amazon Photo's dense raw features the small student trains from labels at 0.001, not at
/// GLNN's MLP rate of 0.005, which killed its ReLUs (10 seeds: `sage-small` 35.1 ± 21.3), for
/// three times the epochs (patience a fifth of 3 000: at 1 000 a seed was still learning), and
/// keeps the dropout of 0.2 that such features take (sparse ones take none).
#[test]
fn protocol_caps_the_small_students_rate_on_dense_raw_features() {
    let Some(amazon) = data::data_dir("amazon") else { return };
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.toml");
    let spec = format!("npz:{}", amazon.join("amazon_electronics_photo.npz").display());
    let args = [
        &["compare", "-d", &spec, "--protocol", "glnn"][..],
        &ONE_SHORT_SEED,
        &["--save-config", saved.to_str().unwrap()],
    ]
    .concat();
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let c: toml::Value = toml::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(c["student_training"]["lr"].as_float(), Some(0.005), "the MLP keeps GLNN's rate");
    assert_eq!(c["small_training"]["lr"].as_float(), Some(0.001));
    assert_eq!(c["small_training"]["patience"].as_integer(), Some(600));
    assert_eq!(c["gcn_small"]["dropout"].as_float(), Some(0.2), "RAW_FEATURES_SMALL_DROPOUT");
}

#[test]
fn a_toml_key_beats_the_protocol_of_the_same_file() {
    let Some(cora_dir) = data::data_dir_with("cora", LINQS_CORA) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (json, toml) = (dir.path().join("r.json"), dir.path().join("c.toml"));
    std::fs::write(&toml, "protocol = \"glnn\"\nlcc = false\n[mlp]\nhidden = 32\n").unwrap();
    let spec = format!("linqs:{}", cora_dir.join("cora").display());
    let given = ["compare", "-d", &spec, "--config", toml.to_str().unwrap()];
    let args = [&given[..], &ONE_SHORT_SEED, &["--json", json.to_str().unwrap()]].concat();
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let report = read_json(&json);
    assert_eq!(report["dataset"]["nodes"].as_u64(), Some(2708));
    let c = &report["config"];
    assert_eq!((c["protocol"].as_str(), c["lcc"].as_bool()), (Some("glnn"), None));
    assert_eq!((c["mlp"]["hidden"].as_i64(), c["teacher"]["hidden"].as_i64()), (Some(32), Some(128)));
}

/// The full graph has 500 nodes of each class, its largest component (72 nodes at this sparsity)
/// fewer than the 20 + 30 the protocol's split needs.
#[test]
fn protocol_refuses_a_component_with_a_class_too_small_for_its_split() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("never.json");
    let spec = "csbm:nodes=1000,classes=2,degree=1,seed=3";
    let args = ["compare", "-d", spec, "--protocol", "glnn", "--threads", "1", "--json", json.to_str().unwrap()];
    let o = gdistill(&args, dir.path());
    assert_fails_with(&o, &["csbm", "class 0 (class_0)", "largest connected component", "at least 50"]);
    assert!(!json.exists(), "nothing is written");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // without the protocol, --lcc alone trains on the small component
    let args = [
        "compare",
        "-d",
        spec,
        "--lcc",
        "--split",
        "per-class:5,5",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--no-lsp",
        "--no-prune",
        "--threads",
        "1",
        "--json",
        json.to_str().unwrap(),
    ];
    let o = gdistill(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_json(&json)["dataset"]["nodes"].as_u64(), Some(72));
}

#[test]
fn bad_protocol_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["compare", "-d", "csbm:nodes=100,classes=2", "--protocol", "cpf"], dir.path());
    assert_fails_with(&o, &["cpf", "glnn"]);
    let toml = dir.path().join("c.toml");
    std::fs::write(&toml, "protocol = 3\n").unwrap();
    let o = gdistill(&["compare", "-d", "csbm:nodes=100,classes=2", "--config", toml.to_str().unwrap()], dir.path());
    assert_fails_with(&o, &["c.toml", "protocol"]);
}

/// The shipped NOSMOG configs (examples/nosmog) resolve and run: a CSBM stands in for their
/// datasets, one seed of one epoch.
#[test]
fn the_nosmog_example_configs_run() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nosmog");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let args = [
            "compare",
            "-d",
            "csbm:nodes=300,classes=2,degree=6,features=16,seed=3",
            "--config",
            path.to_str().unwrap(),
            "--nosmog",
            "--no-small",
            "--no-lsp",
            "--no-prune",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--json",
            json.to_str().unwrap(),
        ];
        let o = gdistill(&args, dir.path());
        assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
        let report = read_json(&json);
        let c = &report["config"];
        assert_eq!(c["protocol"].as_str(), Some("glnn"), "{}", path.display());
        assert!(c["mlp_features"].as_str().is_some_and(|f| f.contains("deepwalk")), "{}", path.display());
        let rows: Vec<&str> = report["rows"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(rows.contains(&"mlp+nosmog"), "{}: {rows:?}", path.display());
    }
    assert_eq!(seen, 4, "cora, citeseer, computers and photo");
}
