//! Bad input, end to end: every loader and every output of the `gdistill` binary against missing,
//! empty, truncated, random, mistyped, misshapen, inconsistent, out-of-range, non-finite and
//! absurdly sized input. Each case must exit with status 1, print exactly one `error:` line that
//! names the file and the problem, print no panic (Rust or C++), and leave no output file
//! (`--json`, `--out`) and no temporary file behind.
//!
//! Every bad file is written here, in a temporary directory, from the small valid inputs of
//! `tests/support/inputs.rs`. The cases run a few at a time (each is a process start, most of
//! which is loading libtorch). The table in docs/reliability.md ("Bad input") lists the same cases.

#[path = "support/inputs.rs"]
mod inputs;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use gdistill_datasets::h5graph::hdf5;
use gdistill_datasets::FeatureLayout;
use inputs::*;

/// A small CSBM every checkpoint and config case runs against.
const CSBM: &str = "csbm:nodes=60,classes=2,degree=3,features=4,seed=1";

fn gdistill(args: &[String], data_dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gdistill"));
    command.args(args).env("GDISTILL_DATA_DIR", data_dir).env_remove("GDISTILL_MAX_MEMORY");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the gdistill binary runs")
}

/// The cases that also run through the binary (every other one runs in-process only, where the
/// binary's own layer, one `error:` line and no output file, is the same for all): for each
/// loader its missing, non-finite and absurd-size cases and one of empty / truncated / random.
/// Every output, `--json` and TOML case (those have no in-process path) runs there too.
const CLI_CASES: &[&str] = &[
    "planetoid-missing-folder",
    "planetoid-random-bytes",
    "planetoid-absurd-array-shape",
    "planetoid-memo-amplification",
    "planetoid-nan-feature",
    "planetoid-absurd-test-index",
    "linqs-missing",
    "linqs-empty",
    "linqs-nan-feature",
    "npz-missing",
    "npz-truncated",
    "npz-nan-feature",
    "npz-absurd-npy-shape",
    "npz-absurd-member-size",
    "h5-missing",
    "h5-random-bytes",
    "h5-nan-feature",
    "h5-absurd-labels-shape",
    "h5-crashes-libhdf5",
    "csbm-absurd-nodes",
    "ckpt-missing",
    "ckpt-empty",
    "ckpt-nan-weight",
    "ckpt-absurd-model",
    "mnist-missing-dir",
    "mnist-truncated-gz",
    "mnist-absurd-idx-size",
    "mnist-csv-nan-pixel",
    "digits-random-bytes",
    "digits-label-out-of-range",
    "modelnet-missing-dir",
    "modelnet-random-bytes",
    "modelnet-nan-point",
    "modelnet-absurd-shape",
    "modelnet-label-out-of-range",
];

/// What a case feeds its bad input to.
enum Target {
    /// `gdistill data info --dataset SPEC --data-dir DIR --json OUT`; in-process:
    /// `gdistill_datasets::load_with_report(SPEC, DIR)`.
    Dataset { spec: String, data_dir: PathBuf },
    /// `gdistill eval --dataset CSBM --checkpoint PATH --json OUT`; in-process:
    /// `gdistill_distill::load_checkpoint(PATH, Cpu)`.
    Checkpoint(PathBuf),
    /// Any other command line (through the binary only).
    Args(Vec<String>),
}

/// One bad input: where it goes, what the `error:` line must mention (the file, then the
/// problem), the output files that must not exist afterwards, and whether it also runs through
/// the binary (every case runs in-process where it can; a process start costs about half a
/// second, mostly loading libtorch, so the binary runs a subset that covers each loader's
/// missing / empty / truncated / random / non-finite / absurd-size cases and every output).
struct Case {
    label: String,
    target: Target,
    file: String,
    problem: Vec<String>,
    outputs: Vec<PathBuf>,
    env: Vec<(&'static str, &'static str)>,
    cli: bool,
}

impl Case {
    fn args(&self, out_dir: &Path) -> Vec<String> {
        let json = out_dir.join(format!("{}.json", self.label)).display().to_string();
        match &self.target {
            Target::Dataset { spec, data_dir } => strings(&[
                "data",
                "info",
                "--dataset",
                spec,
                "--data-dir",
                &data_dir.display().to_string(),
                "--json",
                &json,
            ]),
            Target::Checkpoint(path) => {
                strings(&["eval", "--dataset", CSBM, "--checkpoint", &path.display().to_string(), "--json", &json])
            }
            Target::Args(args) => args.clone(),
        }
    }

    fn all_outputs(&self, out_dir: &Path) -> Vec<PathBuf> {
        let mut outputs = self.outputs.clone();
        if !matches!(self.target, Target::Args(_)) {
            outputs.push(out_dir.join(format!("{}.json", self.label)));
        }
        outputs
    }

    /// The in-process check: an `Err` whose message names the problem (and the file, except
    /// for a dataset that parsed but broke an invariant: the library names the dataset, the
    /// binary adds the file), and no panic.
    fn check_in_process(&self) -> Result<String, String> {
        let message = match &self.target {
            Target::Dataset { spec, data_dir } => {
                if gdistill_datasets::is_pointcloud_spec(spec) {
                    let result = catch_unwind(AssertUnwindSafe(|| gdistill_datasets::load_pointclouds(spec, data_dir)));
                    match result {
                        Err(_) => return Err("panicked".into()),
                        Ok(Ok(_)) => return Err("loaded without an error".into()),
                        Ok(Err(e)) => e.to_string(),
                    }
                } else if gdistill_datasets::is_image_spec(spec) {
                    let result = catch_unwind(AssertUnwindSafe(|| gdistill_datasets::load_images(spec, data_dir)));
                    match result {
                        Err(_) => return Err("panicked".into()),
                        Ok(Ok(_)) => return Err("loaded without an error".into()),
                        Ok(Err(e)) => e.to_string(),
                    }
                } else {
                    let result = catch_unwind(AssertUnwindSafe(|| gdistill_datasets::load_with_report(spec, data_dir)));
                    match result {
                        Err(_) => return Err("panicked".into()),
                        Ok(Ok(_)) => return Err("loaded without an error".into()),
                        Ok(Err(e @ gdistill_datasets::DatasetError::Invalid { .. })) => format!("{} {e}", self.file),
                        Ok(Err(e)) => e.to_string(),
                    }
                }
            }
            Target::Checkpoint(path) => {
                let result =
                    catch_unwind(AssertUnwindSafe(|| gdistill_distill::load_checkpoint(path, tch::Device::Cpu)));
                match result {
                    Err(_) => return Err("panicked".into()),
                    Ok(Ok(_)) => return Err("loaded without an error".into()),
                    Ok(Err(e)) => e.to_string(),
                }
            }
            Target::Args(_) => return Ok(String::new()),
        };
        for needle in std::iter::once(&self.file).chain(&self.problem) {
            if !message.contains(needle.as_str()) {
                return Err(format!("message lacks '{needle}': {message}"));
            }
        }
        Ok(message)
    }
}

/// Checks one failed run of the binary; returns what is wrong with it, if anything.
fn check_run(case: &Case, o: &Output, out_dir: &Path) -> Result<(), String> {
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    if o.status.code() != Some(1) {
        return Err(format!("exit status {:?} (expected 1); stderr: {err}; stdout: {out}", o.status.code()));
    }
    for bad in ["panicked", "RUST_BACKTRACE", "frame #", "Exception raised from"] {
        if err.contains(bad) {
            return Err(format!("stderr contains '{bad}': {err}"));
        }
    }
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    let [line] = errors.as_slice() else {
        return Err(format!("expected exactly one 'error:' line, found {}: {err}", errors.len()));
    };
    for needle in std::iter::once(&case.file).chain(&case.problem) {
        if !line.contains(needle.as_str()) {
            return Err(format!("error line lacks '{needle}': {line}"));
        }
    }
    for path in case.all_outputs(out_dir) {
        // an output path that is a directory (the case itself) is only checked for strays
        if path.exists() && !path.is_dir() {
            return Err(format!("output {} was left behind", path.display()));
        }
        let dir = path.parent().unwrap();
        let prefix = format!(".{}.tmp", path.file_name().unwrap().to_string_lossy());
        let strays: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default();
        if !strays.is_empty() {
            return Err(format!("temporary files left behind: {strays:?}"));
        }
    }
    Ok(())
}

/// Runs every case in-process (where it has a library path), then the CLI cases through the
/// binary, three processes at a time; fails listing every case that went wrong.
fn run_cases(cases: Vec<Case>, root: &Path) {
    let out_dir = root.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut failures = Vec::new();
    let mut in_process = 0;
    let start = std::time::Instant::now();
    for case in &cases {
        if matches!(case.target, Target::Args(_)) {
            continue;
        }
        for (k, v) in &case.env {
            std::env::set_var(k, v);
        }
        let result = case.check_in_process();
        if std::env::var_os("GDISTILL_BAD_INPUT_SHOW").is_some() {
            eprintln!("[{}] in-process: {result:?}", case.label);
        }
        for (k, _) in &case.env {
            std::env::remove_var(k);
        }
        in_process += 1;
        if let Err(why) = result {
            failures.push(format!("[{}] in-process: {why}", case.label));
        }
    }
    let in_process_s = start.elapsed().as_secs_f64();
    let cli: Vec<&Case> = cases.iter().filter(|c| c.cli).collect();
    let queue = Mutex::new(cli.iter());
    let cli_failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().next() else { break };
                let args = case.args(&out_dir);
                let o = gdistill(&args, root, &case.env);
                if std::env::var_os("GDISTILL_BAD_INPUT_SHOW").is_some() {
                    // GDISTILL_BAD_INPUT_SHOW=1 prints every message (for the table in docs/reliability.md)
                    let err = String::from_utf8_lossy(&o.stderr).into_owned();
                    eprintln!("[{}] {}", case.label, err.lines().find(|l| l.starts_with("error:")).unwrap_or(""));
                }
                if let Err(why) = check_run(case, &o, &out_dir) {
                    cli_failures.lock().unwrap().push(format!("[{}] gdistill {}: {why}", case.label, args.join(" ")));
                }
            });
        }
    });
    failures.extend(cli_failures.into_inner().unwrap());
    let total = cases.len();
    assert!(failures.is_empty(), "{} failures among {total} cases:\n{}", failures.len(), failures.join("\n\n"));
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "outputs left behind: {left:?}");
    eprintln!(
        "{total} bad-input cases: {in_process} checked in-process ({in_process_s:.2} s), {} through the binary ({:.2} s)",
        cli.len(),
        start.elapsed().as_secs_f64() - in_process_s
    );
}

/// Collects cases.
struct Cases {
    cases: Vec<Case>,
}

impl Cases {
    fn push(&mut self, label: &str, target: Target, file: &str, problem: &[&str]) -> &mut Case {
        self.cases.push(Case {
            label: label.to_string(),
            target,
            file: file.to_string(),
            problem: problem.iter().map(|s| s.to_string()).collect(),
            outputs: Vec::new(),
            env: Vec::new(),
            cli: false,
        });
        let case = self.cases.last_mut().unwrap();
        case.cli = matches!(case.target, Target::Args(_)) || CLI_CASES.contains(&label);
        case
    }

    /// A dataset spec (loaded with `data_dir` as the data directory).
    fn dataset(&mut self, label: &str, spec: &str, data_dir: &Path, file: &str, problem: &[&str]) -> &mut Case {
        let target = Target::Dataset { spec: spec.to_string(), data_dir: data_dir.to_path_buf() };
        self.push(label, target, file, problem)
    }

    /// A checkpoint.
    fn checkpoint(&mut self, label: &str, path: &Path, file: &str, problem: &[&str]) -> &mut Case {
        self.push(label, Target::Checkpoint(path.to_path_buf()), file, problem)
    }

    /// `gdistill compare --dataset CSBM --config PATH --json OUT` (one seed, two epochs).
    fn compare(&mut self, label: &str, config: &Path, file: &str, problem: &[&str], out_dir: &Path) -> &mut Case {
        let out = out_dir.join(format!("{label}.json"));
        let args = strings(&[
            "compare",
            "--dataset",
            CSBM,
            "--seeds",
            "1",
            "--epochs",
            "2",
            "--config",
            &config.display().to_string(),
            "--json",
            &out.display().to_string(),
        ]);
        let case = self.push(label, Target::Args(args), file, problem);
        case.outputs.push(out);
        case
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// 4 KiB of deterministic noise.
fn random_bytes() -> Vec<u8> {
    (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// Planetoid

/// A data directory `root/<label>/` holding a `cora/` Planetoid folder with one file replaced
/// (or removed).
fn planetoid_case(root: &Path, label: &str, ext: &str, bytes: Option<Vec<u8>>) -> PathBuf {
    let dir = root.join(label);
    let mut files = planetoid_files();
    let k = files.iter().position(|(e, _)| *e == ext).expect("a Planetoid file");
    match bytes {
        Some(b) => files[k].1 = b,
        None => {
            files.remove(k);
        }
    }
    write_planetoid(&dir, "cora", &files);
    dir
}

fn planetoid_cases(root: &Path, c: &mut Cases) {
    let valid = planetoid_files();
    let get = |ext: &str| valid.iter().find(|(e, _)| *e == ext).unwrap().1.clone();
    c.dataset(
        "planetoid-missing-folder",
        "cora",
        &root.join("no-such-folder"),
        "no-such-folder/cora/ind.cora.x",
        &["file not found"],
    );
    let mut case = |label: &str, ext: &str, bytes: Option<Vec<u8>>, problem: &[&str]| {
        let dir = planetoid_case(root, label, ext, bytes);
        c.dataset(label, "cora", &dir, &format!("ind.cora.{ext}"), problem);
    };
    let train_labels: Vec<usize> = (0..PLANETOID_TRAIN).map(planetoid_label).collect();
    let all_labels: Vec<usize> = (0..PLANETOID_ALLX).map(planetoid_label).collect();
    let allx_rows: Vec<Vec<(usize, f32)>> = (0..PLANETOID_ALLX).map(planetoid_row).collect();

    case("planetoid-missing-allx", "allx", None, &["file not found", "features of most nodes"]);
    case("planetoid-empty", "y", Some(Vec::new()), &["truncated"]);
    let graph = get("graph");
    case("planetoid-truncated", "graph", Some(graph[..graph.len() / 2].to_vec()), &["truncated"]);
    case("planetoid-random-bytes", "tx", Some(random_bytes()), &["pickle error"]);
    case(
        "planetoid-wrong-dtype",
        "y",
        Some(pickle_ndarray("U1", &[PLANETOID_TRAIN as i64, 3], &[0u8; PLANETOID_TRAIN * 3 * 4])),
        &["expected a numeric array"],
    );
    case(
        "planetoid-wrong-kind",
        "allx",
        Some(pickle_ndarray("f4", &[2, 2], &f32_bytes(&[1.0, 0.0, 0.0, 1.0]))),
        &["expected a scipy sparse matrix"],
    );
    case(
        "planetoid-wrong-shape",
        "y",
        Some(pickle_ndarray("i4", &[PLANETOID_TRAIN as i64], &i32_bytes(&[0; PLANETOID_TRAIN]))),
        &["expected 2-D one-hot"],
    );
    case(
        "planetoid-label-rows-vs-nodes",
        "ally",
        Some(pickle_onehot(&all_labels[..PLANETOID_ALLX - 1], PLANETOID_CLASSES)),
        &["509 label rows but allx has 510 rows"],
    );
    case(
        "planetoid-x-vs-y",
        "x",
        Some(pickle_features(&allx_rows[..PLANETOID_TRAIN + 1], PLANETOID_FEATURES)),
        &["7 x 5 features, but y has 6 rows and allx 5 columns"],
    );
    let short_index: String = planetoid_test_index()[1..].iter().map(|i| format!("{i}\n")).collect();
    case("planetoid-test-index-count", "test.index", Some(short_index.into_bytes()), &["must agree"]);
    let dir =
        planetoid_case(root, "planetoid-class-count", "y", Some(pickle_onehot(&train_labels, PLANETOID_CLASSES + 1)));
    c.dataset("planetoid-class-count", "cora", &dir, "ind.cora.ty", &["y, ally, ty have 4, 3, 3 classes"]);
    let mut case = |label: &str, ext: &str, bytes: Option<Vec<u8>>, problem: &[&str]| {
        let dir = planetoid_case(root, label, ext, bytes);
        c.dataset(label, "cora", &dir, &format!("ind.cora.{ext}"), problem);
    };
    case(
        "planetoid-edge-to-unknown-node",
        "graph",
        Some(PickleWriter::new().adjacency(&[(0, vec![1]), (3, vec![99_999])]).finish()),
        &["edge (3, 99999) names a node outside 0..522"],
    );
    case(
        "planetoid-test-index-not-a-number",
        "test.index",
        Some(b"510\n511\nfive hundred\n".to_vec()),
        &["line 3", "not a node index"],
    );
    let mut y = vec![0f32; PLANETOID_TRAIN * 3];
    y[4] = f32::NAN;
    case(
        "planetoid-nan-label",
        "y",
        Some(pickle_ndarray("f4", &[PLANETOID_TRAIN as i64, 3], &f32_bytes(&y))),
        &["label row 1, column 1 is NaN: labels must be finite"],
    );
    case(
        "planetoid-absurd-array-shape",
        "y",
        Some(pickle_ndarray("i4", &[1_000_000_000_000, 3], &i32_bytes(&[0; 18]))),
        &["72 data bytes for shape [1000000000000, 3]"],
    );
    case(
        "planetoid-absurd-rows-zero-columns",
        "ally",
        Some(pickle_ndarray("i4", &[1_000_000_000_000, 0], &[])),
        &["shape [1000000000000, 0]: no class columns"],
    );
    let mut huge_string = PickleWriter::new();
    huge_string.op(b"B").op(&u32::MAX.to_le_bytes()).op(b"abc");
    case(
        "planetoid-absurd-string-length",
        "tx",
        Some(huge_string.finish()),
        &["truncated: needs 4294967295 more bytes"],
    );
    let mut negative = PickleWriter::new();
    negative.op(b"T").op(&u32::MAX.to_le_bytes()).op(b"abc");
    case("planetoid-negative-string-length", "x", Some(negative.finish()), &["negative string length"]);
    case(
        "planetoid-absurd-test-index",
        "test.index",
        Some(b"510\n511\n512\n513\n514\n515\n516\n517\n518\n519\n520\n1000000000000\n".to_vec()),
        &["test index 1000000000000 implies 1000000000001 nodes"],
    );
    // A memoised 4096-item tuple handed to REDUCE 60 000 times: 370 KB of file asking for 4 GB.
    let mut bomb = PickleWriter::new();
    bomb.global("collections", "defaultdict").op(b"(");
    for _ in 0..4096 {
        bomb.op(b"K\x01");
    }
    bomb.op(b"t").put();
    for _ in 0..60_000 {
        bomb.op(b"h\x01h\x02R0");
    }
    bomb.op(b"h\x02");
    case("planetoid-memo-amplification", "graph", Some(bomb.finish()), &["copies of memoised objects exceed"]);
    // Non-finite features parse, then fail validation: the binary names the folder's files.
    for (label, value, shown) in
        [("planetoid-nan-feature", f32::NAN, "NaN"), ("planetoid-inf-feature", f32::INFINITY, "inf")]
    {
        let mut rows = allx_rows.clone();
        rows[7][0].1 = value;
        let dir = planetoid_case(root, label, "allx", Some(pickle_features(&rows, PLANETOID_FEATURES)));
        c.dataset(label, "cora", &dir, "ind.cora.*", &[&format!("feature (7, 2) is {shown}")]);
    }
}

// ---------------------------------------------------------------------------------------------
// LINQS

fn linqs_cases(root: &Path, c: &mut Cases) {
    let (content, cites) = linqs_texts();
    let dir = root.join("linqs");
    std::fs::create_dir_all(&dir).unwrap();
    c.dataset(
        "linqs-missing",
        &format!("linqs:{}", dir.join("absent").display()),
        root,
        "absent.content",
        &["file not found"],
    );
    let mut case = |label: &str, content: &[u8], cites: &[u8], file: &str, problem: &[&str], strict: bool| {
        let prefix = write_linqs(&dir, label, content, cites);
        let kind = if strict { "linqs-strict" } else { "linqs" };
        c.dataset(label, &format!("{kind}:{}", prefix.display()), root, &format!("{label}.{file}"), problem);
    };
    case("linqs-empty", b"", cites.as_bytes(), "content", &["no papers"], false);
    let cut = &content[..content.len() - 7];
    case(
        "linqs-truncated",
        cut.as_bytes(),
        cites.as_bytes(),
        "content",
        &["line 12: 3 fields, but the first line has 6"],
        false,
    );
    case("linqs-random-bytes", &random_bytes(), cites.as_bytes(), "content", &["not UTF-8"], false);
    let wrong = content.replacen("p3\t1", "p3\tabc", 1);
    case(
        "linqs-wrong-dtype",
        wrong.as_bytes(),
        cites.as_bytes(),
        "content",
        &["line 4: feature 0 is 'abc', not a number"],
        false,
    );
    let dup = content.replacen("p5\t", "p4\t", 1);
    case(
        "linqs-duplicate-id",
        dup.as_bytes(),
        cites.as_bytes(),
        "content",
        &["line 6: paper id 'p4' appears twice"],
        false,
    );
    let unknown = format!("{cites}zzz\tp1\n");
    case(
        "linqs-unknown-paper",
        content.as_bytes(),
        unknown.as_bytes(),
        "cites",
        &["line 25: paper 'zzz' is not in"],
        true,
    );
    let three = format!("{cites}p1\tp2\tp3\n");
    case(
        "linqs-cites-shape",
        content.as_bytes(),
        three.as_bytes(),
        "cites",
        &["line 25: expected '<cited id> <citing id>'"],
        false,
    );
    let nan = content.replacen("p2\t0", "p2\tnan", 1);
    case(
        "linqs-nan-feature",
        nan.as_bytes(),
        cites.as_bytes(),
        "content",
        &["line 3: feature 0 is NaN: features must be finite"],
        false,
    );
    let inf = content.replacen("p6\t1", "p6\t1e309", 1);
    case("linqs-inf-feature", inf.as_bytes(), cites.as_bytes(), "content", &["line 7: feature 0 is inf"], false);
}

// ---------------------------------------------------------------------------------------------
// npz

/// Rewrites the 32-bit uncompressed-size fields of every member of a zip: local headers (offset
/// 22) and central directory entries (offset 24).
fn inflate_zip_sizes(bytes: &mut [u8], size: u32) {
    let mut i = 0;
    while i + 46 <= bytes.len() {
        match &bytes[i..i + 4] {
            b"PK\x03\x04" => bytes[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
            b"PK\x01\x02" => bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
        i += 1;
    }
}

fn npz_cases(root: &Path, c: &mut Cases) {
    let dir = root.join("npz");
    std::fs::create_dir_all(&dir).unwrap();
    let file = |label: &str, arrays: Vec<(&'static str, gdistill_datasets::array::NdArray)>| {
        let path = dir.join(format!("{label}.npz"));
        write_npz(&path, &arrays);
        path
    };
    let valid = std::fs::read(file("valid", npz_arrays())).unwrap();
    let mut case = |label: &str, path: &Path, problem: &[&str]| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        c.dataset(label, &format!("npz:{}", path.display()), root, &name, problem);
    };

    case("npz-missing", &dir.join("absent.npz"), &["file not found"]);
    case("npz-empty", &write(&dir.join("empty.npz"), b""), &["not an npz (zip) archive"]);
    case(
        "npz-truncated",
        &write(&dir.join("truncated.npz"), &valid[..valid.len() * 2 / 3]),
        &["not an npz (zip) archive"],
    );
    case("npz-random-bytes", &write(&dir.join("random.npz"), &random_bytes()), &["not an npz (zip) archive"]);
    let p = file("wrong-dtype", replace_array(npz_arrays(), "labels", Some(floats(&[12], &[0.0; 12]))));
    case("npz-wrong-dtype", &p, &["labels: expected an integer array, found float32"]);
    let labels_2d = gdistill_datasets::array::NdArray {
        shape: vec![6, 2],
        data: gdistill_datasets::array::ArrayData::Int(vec![0; 12]),
    };
    let p = file("wrong-shape", replace_array(npz_arrays(), "labels", Some(labels_2d)));
    case("npz-wrong-shape", &p, &["labels have shape [6, 2], expected [nodes]"]);
    let p = file("label-count", replace_array(npz_arrays(), "labels", Some(ints(&[0; 11]))));
    case("npz-labels-vs-nodes", &p, &["11 labels for 12 nodes"]);
    let p = file("attr-count", replace_array(npz_arrays(), "attr_shape", Some(ints(&[11, 3]))));
    case("npz-features-vs-nodes", &p, &["attr: indptr has 13 entries for 11 compressed lines"]);
    let mut edges: Vec<i64> = (1..=12).map(|i| i % 12).collect();
    edges[4] = 40;
    let p = file("unknown-node", replace_array(npz_arrays(), "adj_indices", Some(ints(&edges))));
    case("npz-edge-to-unknown-node", &p, &["adj: index 40 is outside 0..12"]);
    edges[4] = -1;
    let p = file("negative-node", replace_array(npz_arrays(), "adj_indices", Some(ints(&edges))));
    case("npz-negative-index", &p, &["negative index -1"]);
    let mut labels: Vec<i64> = (0..12).map(|i| i % 2).collect();
    labels[5] = 2;
    let p = file("label-range", replace_array(npz_arrays(), "labels", Some(ints(&labels))));
    case("npz-label-out-of-range", &p, &["label 2 of node 5 is outside 0..2"]);
    labels[5] = 1_000_000_000_000;
    let p = file(
        "label-absurd",
        replace_array(replace_array(npz_arrays(), "class_names", None), "labels", Some(ints(&labels))),
    );
    case(
        "npz-absurd-label-without-names",
        &p,
        &["label 1000000000000 of node 5", "1000000000001 classes for 12 nodes"],
    );
    let mut attr: Vec<f32> = (0..12).map(|i| 1.0 + i as f32).collect();
    attr[3] = f32::NAN;
    let p = file("nan", replace_array(npz_arrays(), "attr_data", Some(floats(&[12], &attr))));
    case("npz-nan-feature", &p, &["feature (3, 0) is NaN"]);
    attr[3] = f32::NEG_INFINITY;
    let p = file("inf", replace_array(npz_arrays(), "attr_data", Some(floats(&[12], &attr))));
    case("npz-inf-feature", &p, &["feature (3, 0) is -inf"]);
    // an .npy header claiming a million by a million elements over 48 bytes of data
    let npy = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", &[0u8; 48]);
    let p = write(&dir.join("absurd-shape.npz"), &stored_zip(&[("attr_matrix.npy", npy)]));
    case("npz-absurd-npy-shape", &p, &["attr_matrix.npy: 48 data bytes for shape [1000000, 1000000]"]);
    // zip members declaring 4 GiB each (the limit is set to 1 GiB for the run)
    let members = npy_members(&npz_arrays());
    let refs: Vec<(&str, Vec<u8>)> = members.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut bytes = stored_zip(&refs);
    inflate_zip_sizes(&mut bytes, 0xffff_fff0);
    let p = write(&dir.join("absurd-member.npz"), &bytes);
    case("npz-absurd-member-size", &p, &["(4294967280 bytes declared) would need about 4.0 GiB"]);
    c.cases.last_mut().unwrap().env.push(("GDISTILL_MAX_MEMORY", "1G"));
}

// ---------------------------------------------------------------------------------------------
// gdistill HDF5 graphs

fn h5_damaged(dir: &Path, name: &str, edit: impl FnOnce(&hdf5::File)) -> PathBuf {
    let path = dir.join(name);
    write_h5(&path, FeatureLayout::Dense);
    let file = gdistill_datasets::h5file::open_rw(&path).unwrap();
    edit(&file);
    file.close().unwrap();
    path
}

fn replace_i64(file: &hdf5::File, name: &str, shape: &[usize], values: &[i64]) {
    file.unlink(name).unwrap();
    file.new_dataset::<i64>().shape(shape.to_vec()).create(name).unwrap().write_raw(values).unwrap();
}

fn replace_features(file: &hdf5::File, rows: usize, edit: impl FnOnce(&mut Vec<f32>)) {
    let mut values: Vec<f32> = file.dataset("features").unwrap().read_raw().unwrap();
    values.truncate(rows * 4);
    edit(&mut values);
    file.unlink("features").unwrap();
    file.new_dataset::<f32>().shape([rows, 4]).create("features").unwrap().write_raw(&values).unwrap();
}

fn h5_cases(root: &Path, c: &mut Cases) {
    let dir = root.join("h5");
    std::fs::create_dir_all(&dir).unwrap();
    let valid_path = dir.join("valid.h5");
    write_h5(&valid_path, FeatureLayout::Dense);
    let valid = std::fs::read(&valid_path).unwrap();
    let labels: Vec<i64> = small_dataset().labels.iter().map(|&y| y as i64).collect();
    let mut case = |label: &str, path: &Path, problem: &[&str]| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        c.dataset(label, &format!("h5:{}", path.display()), root, &name, problem);
    };

    case("h5-missing", &dir.join("absent.h5"), &["file not found"]);
    case("h5-empty", &write(&dir.join("empty.h5"), b""), &["not a readable HDF5 file"]);
    case("h5-truncated", &write(&dir.join("truncated.h5"), &valid[..valid.len() / 2]), &[]);
    case("h5-random-bytes", &write(&dir.join("random.h5"), &random_bytes()), &["not a readable HDF5 file"]);
    let p = h5_damaged(&dir, "wrong-dtype.h5", |f| {
        f.unlink("labels").unwrap();
        f.new_dataset::<f32>().shape([40]).create("labels").unwrap().write_raw(&[0.0f32; 40]).unwrap();
    });
    case("h5-wrong-dtype", &p, &["'labels' has type", "expected an integer type"]);
    let p = h5_damaged(&dir, "wrong-shape.h5", |f| replace_i64(f, "edge_index", &[4], &[0, 1, 1, 2]));
    case("h5-wrong-shape", &p, &["'edge_index' has shape [4], expected rank 2"]);
    let p = h5_damaged(&dir, "row-count.h5", |f| replace_features(f, 39, |_| {}));
    case("h5-features-vs-nodes", &p, &["'features' has 39 rows for 40 nodes"]);
    let p = h5_damaged(&dir, "unknown-node.h5", |f| replace_i64(f, "edge_index", &[2, 2], &[0, 1, 1, 40]));
    case("h5-edge-to-unknown-node", &p, &["column 1 is (1, 40): names a node outside 0..40"]);
    let mut bad_labels = labels.clone();
    bad_labels[3] = 2;
    let p = h5_damaged(&dir, "label-range.h5", |f| replace_i64(f, "labels", &[40], &bad_labels));
    case("h5-label-out-of-range", &p, &["node 3 has label 2, outside 0..2"]);
    bad_labels[3] = -4;
    let p = h5_damaged(&dir, "label-negative.h5", |f| replace_i64(f, "labels", &[40], &bad_labels));
    case("h5-negative-label", &p, &["'labels' holds -4, a negative class"]);
    let p = h5_damaged(&dir, "nan.h5", |f| replace_features(f, 40, |v| v[10] = f32::NAN));
    case("h5-nan-feature", &p, &["feature (2, 2) is NaN"]);
    let p = h5_damaged(&dir, "inf.h5", |f| replace_features(f, 40, |v| v[5] = f32::INFINITY));
    case("h5-inf-feature", &p, &["feature (1, 1) is inf"]);
    let p = h5_damaged(&dir, "absurd-labels.h5", |f| {
        f.unlink("labels").unwrap();
        f.new_dataset::<i64>().chunk([4096]).shape([1_000_000_000_000usize]).create("labels").unwrap();
    });
    case("h5-absurd-labels-shape", &p, &["'labels' of shape [1000000000000] would need about 7.3 TiB"]);
    let p = h5_damaged(&dir, "absurd-edges.h5", |f| {
        f.unlink("edge_index").unwrap();
        f.new_dataset::<i64>().chunk([2, 4096]).shape([2, 1_000_000_000_000usize]).create("edge_index").unwrap();
    });
    case("h5-absurd-edge-shape", &p, &["'edge_index' of shape [2, 1000000000000] would need about 14.6 TiB"]);
    let p = h5_damaged(&dir, "no-format.h5", |f| f.delete_attr("format").unwrap());
    case("h5-not-a-gdistill-file", &p, &["not a gdistill graph file"]);
    // found by fuzzing: libhdf5 1.10 segfaults in H5Dread; the probe process takes the crash
    let mut crashing = valid.clone();
    crashing.splice(120..120, [0xFF; 8]);
    case("h5-crashes-libhdf5", &write(&dir.join("crash.h5"), &crashing), &["libhdf5 crashed reading this file"]);
}

// ---------------------------------------------------------------------------------------------
// CSBM spec strings

fn csbm_cases(root: &Path, c: &mut Cases) {
    let mut case = |label: &str, spec: &str, problem: &[&str]| {
        c.dataset(label, spec, root, "csbm:", problem);
    };
    case("csbm-unknown-key", "csbm:nodes=50,colour=3", &["unknown key 'colour'"]);
    case("csbm-wrong-type", "csbm:nodes=fifty", &["bad value 'fifty' for nodes"]);
    case("csbm-float-count", "csbm:nodes=1e3", &["bad value '1e3' for nodes"]);
    case("csbm-nan", "csbm:nodes=50,classes=2,homophily=nan", &["homophily must be in [0, 1], got NaN"]);
    case("csbm-inf", "csbm:nodes=50,classes=2,degree=inf", &["degree must be a finite number"]);
    case("csbm-classes-vs-nodes", "csbm:nodes=5,classes=9", &["classes <= nodes"]);
    case("csbm-too-dense", "csbm:nodes=10,classes=2,degree=1e300", &["too dense: degree 1e300"]);
    case("csbm-absurd-nodes", "csbm:nodes=1000000000000", &["would need about", "more than the memory available"]);
    case(
        "csbm-absurd-features",
        "csbm:nodes=100000,features=100000000",
        &["100000 nodes, 100000000 features", "would need about"],
    );
}

// ---------------------------------------------------------------------------------------------
// Checkpoints (safetensors) and outputs

/// A safetensors file split into its JSON header and its data.
fn split_safetensors(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header.as_object().unwrap().clone(), bytes[8 + n..].to_vec())
}

fn join_safetensors(header: &serde_json::Map<String, serde_json::Value>, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_string(header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The checkpoint with its gdistill metadata edited.
fn with_meta(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let (mut header, data) = split_safetensors(bytes);
    let meta = header["__metadata__"]["gdistill"].as_str().unwrap().to_string();
    let mut meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    edit(&mut meta);
    header["__metadata__"]["gdistill"] = serde_json::Value::String(meta.to_string());
    join_safetensors(&header, &data)
}

fn tensor_offset(header: &serde_json::Map<String, serde_json::Value>, name: &str) -> usize {
    header[name]["data_offsets"][0].as_u64().unwrap() as usize
}

fn checkpoint_cases(root: &Path, valid: &[u8], c: &mut Cases) {
    let dir = root.join("ckpt");
    std::fs::create_dir_all(&dir).unwrap();
    let (header, data) = split_safetensors(valid);
    let mut case = |label: &str, path: &Path, problem: &[&str]| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        c.checkpoint(label, path, &name, problem);
    };

    case("ckpt-missing", &dir.join("absent.safetensors"), &["file not found"]);
    case("ckpt-empty", &write(&dir.join("empty.safetensors"), b""), &["not a safetensors checkpoint (HeaderTooSmall)"]);
    let p = write(&dir.join("truncated.safetensors"), &valid[..valid.len() - 20]);
    case("ckpt-truncated", &p, &["not a safetensors checkpoint"]);
    case(
        "ckpt-random-bytes",
        &write(&dir.join("random.safetensors"), &random_bytes()),
        &["not a safetensors checkpoint"],
    );
    // 0.bias stored as F64 (same number of bytes, half as many values)
    let mut h = header.clone();
    h["0.bias"]["dtype"] = "F64".into();
    h["0.bias"]["shape"] = serde_json::json!([4]);
    let p = write(&dir.join("wrong-dtype.safetensors"), &join_safetensors(&h, &data));
    case("ckpt-wrong-dtype", &p, &["tensor 0.bias is F64; gdistill checkpoints hold F32 tensors"]);
    let mut h = header.clone();
    h["0.weight"]["shape"] = serde_json::json!([8, 4]);
    let p = write(&dir.join("wrong-shape.safetensors"), &join_safetensors(&h, &data));
    case("ckpt-wrong-shape", &p, &["tensor 0.weight is F32 [8, 4], the model needs F32 [4, 8]"]);
    let p = write(
        &dir.join("meta-mismatch.safetensors"),
        &with_meta(valid, |m| m["model"]["hidden"] = serde_json::json!([16])),
    );
    case("ckpt-metadata-vs-tensors", &p, &["holds 58 parameter values, but the model needs 114"]);
    let mut h = header.clone();
    h.remove("__metadata__");
    let p = write(&dir.join("no-meta.safetensors"), &join_safetensors(&h, &data));
    case("ckpt-no-metadata", &p, &["no gdistill metadata"]);
    let p = write(&dir.join("bad-meta.safetensors"), &with_meta(valid, |m| m["model"]["arch"] = "transformer".into()));
    case("ckpt-bad-metadata", &p, &["bad gdistill metadata", "transformer"]);
    let mut nan = data.clone();
    let at = tensor_offset(&header, "1.weight") + 4;
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let p = write(&dir.join("nan.safetensors"), &join_safetensors(&header, &nan));
    case("ckpt-nan-weight", &p, &["tensor 1.weight holds NaN or infinite values"]);
    let mut inf = data.clone();
    let at = tensor_offset(&header, "0.bias");
    inf[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let p = write(&dir.join("inf.safetensors"), &join_safetensors(&header, &inf));
    case("ckpt-inf-weight", &p, &["tensor 0.bias holds NaN or infinite values"]);
    let mut huge = valid.to_vec();
    huge[..8].copy_from_slice(&1_000_000_000_000u64.to_le_bytes());
    let p = write(&dir.join("absurd-header.safetensors"), &huge);
    case("ckpt-absurd-header-length", &p, &["HeaderTooLarge"]);
    let mut h = header.clone();
    h["0.weight"]["shape"] = serde_json::json!([1_000_000_000_000u64, 1_000_000_000_000u64]);
    let p = write(&dir.join("absurd-shape.safetensors"), &join_safetensors(&h, &data));
    case("ckpt-absurd-tensor-shape", &p, &["not a safetensors checkpoint"]);
    let p = write(
        &dir.join("absurd-model.safetensors"),
        &with_meta(valid, |m| m["model"]["hidden"] = serde_json::json!([1_000_000_000_000u64])),
    );
    case("ckpt-absurd-model", &p, &["the model needs 7000000000002"]);
    let p = write(
        &dir.join("negative-width.safetensors"),
        &with_meta(valid, |m| m["model"]["hidden"] = serde_json::json!([-8])),
    );
    case("ckpt-negative-width", &p, &["hidden widths must be positive"]);

    // A failing run never leaves its --out behind: a bad dataset for train, a bad teacher for distill.
    let out = root.join("out").join("never.safetensors");
    let bad = format!("npz:{}", dir.join("absent.npz").display());
    let args = strings(&["train", "--dataset", &bad, "--out", &out.display().to_string()]);
    c.push("train-out-not-created", Target::Args(args), "absent.npz", &["file not found"]).outputs.push(out.clone());
    let teacher = dir.join("nan.safetensors").display().to_string();
    let args = strings(&["distill", "--dataset", CSBM, "--teacher", &teacher, "--out", &out.display().to_string()]);
    c.push("distill-out-not-created", Target::Args(args), "nan.safetensors", &["NaN"]).outputs.push(out);
    // --json naming a directory: one error naming it, no temporary file left beside it
    let target = dir.join("a-directory");
    std::fs::create_dir_all(&target).unwrap();
    let args = strings(&["data", "info", "--dataset", CSBM, "--json", &target.display().to_string()]);
    c.push("json-into-a-directory", Target::Args(args), "a-directory", &["cannot write: is a directory"])
        .outputs
        .push(target);
}

// ---------------------------------------------------------------------------------------------
// TOML experiment configs of `gdistill compare --config` (through the binary only)

fn config_cases(root: &Path, c: &mut Cases) {
    let dir = root.join("toml");
    std::fs::create_dir_all(&dir).unwrap();
    let out_dir = root.join("out");
    let file = |name: &str, text: &[u8]| write(&dir.join(name), text);
    let cases: Vec<(&str, PathBuf, &str, Vec<&str>)> = vec![
        ("toml-missing", dir.join("absent.toml"), "absent.toml", vec!["file not found"]),
        (
            "toml-truncated",
            file("truncated.toml", b"temperature = 3.0\n[teach"),
            "truncated.toml",
            vec!["not valid TOML"],
        ),
        ("toml-random-bytes", file("random.toml", &random_bytes()), "random.toml", vec!["not UTF-8 text"]),
        (
            "toml-wrong-dtype",
            file("dtype.toml", b"temperature = \"hot\"\n"),
            "dtype.toml",
            vec!["bad experiment setting", "expected f64"],
        ),
        (
            "toml-wrong-shape",
            file("shape.toml", b"teacher = 3\n"),
            "shape.toml",
            vec!["bad experiment setting", "expected struct"],
        ),
        ("toml-negative-count", file("negative.toml", b"seeds = -1\n"), "negative.toml", vec!["expected usize"]),
        (
            "toml-absurd-integer",
            file("absurd.toml", b"seeds = 100000000000000000000\n"),
            "absurd.toml",
            vec!["not valid TOML"],
        ),
        (
            "toml-nan",
            file("nan.toml", b"temperature = nan\n"),
            "nan.toml",
            vec!["temperature must be positive and finite, got NaN"],
        ),
    ];
    for (label, path, name, problem) in cases {
        c.compare(label, &path, name, &problem, &out_dir);
    }
}

#[test]
fn every_loader_and_output_refuses_bad_input_cleanly() {
    assert!(
        gdistill_datasets::h5graph::isolate::probe().is_some(),
        "no gdistill-h5probe beside this test binary: build it (cargo build --release --workspace --bins)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // One valid checkpoint to damage.
    let ckpt = root.join("valid.safetensors");
    let args =
        strings(&["train", "--dataset", CSBM, "--epochs", "3", "--hidden", "8", "--out", &ckpt.display().to_string()]);
    let o = gdistill(&args, root, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let valid = std::fs::read(&ckpt).unwrap();

    let mut c = Cases { cases: Vec::new() };
    planetoid_cases(root, &mut c);
    linqs_cases(root, &mut c);
    npz_cases(root, &mut c);
    h5_cases(root, &mut c);
    csbm_cases(root, &mut c);
    checkpoint_cases(root, &valid, &mut c);
    config_cases(root, &mut c);
    image_cases(root, &mut c);
    modelnet_cases(root, &mut c);
    run_cases(c.cases, root);
}

/// The valid inputs the cases start from do load: each case fails for its one defect.
#[test]
fn the_valid_inputs_load() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_planetoid(root, "cora", &planetoid_files());
    let (content, cites) = linqs_texts();
    let linqs = write_linqs(root, "papers", content.as_bytes(), cites.as_bytes());
    let npz = root.join("graph.npz");
    write_npz(&npz, &npz_arrays());
    let stored = root.join("stored.npz");
    let members = npy_members(&npz_arrays());
    std::fs::write(&stored, stored_zip(&members.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>()))
        .unwrap();
    let h5 = root.join("graph.h5");
    write_h5(&h5, FeatureLayout::Sparse);
    let specs = [
        ("cora".to_string(), 522),
        (format!("linqs:{}", linqs.display()), 12),
        (format!("npz:{}", npz.display()), 12),
        (format!("npz:{}", stored.display()), 12),
        (format!("h5:{}", h5.display()), 40),
    ];
    for (spec, nodes) in &specs {
        let d = gdistill_datasets::load(spec, root).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(d.num_nodes(), *nodes, "{spec}");
    }
    // and through the binary, with its --json output
    let json = root.join("info.json");
    let args = strings(&["data", "info", "--dataset", "cora", "--json", &json.display().to_string()]);
    let o = gdistill(&args, root, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(info["nodes"], 522);
    assert_eq!(info["train"], PLANETOID_TRAIN);
    // the image folders and files the image cases damage
    let mnist = mnist_dir(root, "mnist-valid", |_| {});
    let images = gdistill_datasets::load_images(&format!("mnist:{}", mnist.display()), root).unwrap();
    assert_eq!((images.labels.len(), images.height, images.width), (50, 4, 4));
    let digits = write(&root.join("digits.csv"), pixel_csv(40, 64, 16).as_bytes());
    let images = gdistill_datasets::load_images(&format!("digits:{}", digits.display()), root).unwrap();
    assert_eq!(images.labels.len(), 40);
}

/// Settings that cannot train: refused before anything trains, naming the file or the flag
/// (not a panic in tch's allocator, libtorch's C++ stack frames, or "the loss became NaN").
#[test]
fn impossible_settings_are_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let out_dir = root.join("out");
    let mut c = Cases { cases: Vec::new() };
    let dir = root.join("toml");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = |name: &str, text: &str| write(&dir.join(name), text.as_bytes());
    let wide = cfg("wide.toml", "[teacher]\nhidden = 1000000000000\n");
    c.compare("toml-absurd-width", &wide, "wide.toml", &["teacher", "would need about"], &out_dir);
    c.compare("toml-inf-temperature", &cfg("inf.toml", "temperature = inf\n"), "inf.toml", &["temperature"], &out_dir);
    let lr = cfg("lr.toml", "[teacher_training]\nlr = -1\n");
    c.compare("toml-negative-lr", &lr, "lr.toml", &["teacher_training: lr must be positive"], &out_dir);
    let epochs = cfg("epochs.toml", "[distill_training]\nepochs = 0\n");
    c.compare("toml-zero-epochs", &epochs, "epochs.toml", &["epochs must be at least 1"], &out_dir);
    let lsp = cfg("lsp.toml", "[lsp]\nweight = nan\n");
    c.compare("toml-nan-lsp-weight", &lsp, "lsp.toml", &["lsp.weight must be non-negative"], &out_dir);
    let out = out_dir.join("wide.safetensors");
    let args = strings(&["train", "--dataset", CSBM, "--hidden", "1000000000000", "--out", &out.display().to_string()]);
    c.push("train-absurd-width", Target::Args(args), "hidden", &["would need about"]).outputs.push(out);
    let args = strings(&["train", "--dataset", CSBM, "--lr", "nan"]);
    c.push("train-nan-lr", Target::Args(args), "lr", &["must be positive and finite, got NaN"]);
    let args = strings(&["train", "--dataset", CSBM, "--epochs", "0"]);
    c.push("train-zero-epochs", Target::Args(args), "epochs", &["at least 1"]);
    let args = strings(&["distill", "--dataset", CSBM, "--teacher", "absent.safetensors", "--temperature", "inf"]);
    c.push("distill-inf-temperature", Target::Args(args), "temperature", &["positive and finite"]);
    run_cases(c.cases, root);
}

// ---------------------------------------------------------------------------------------------
// Images: MNIST (IDX test files + CSV or IDX training files) and digits (CSV)

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A CSV of `rows` images of `pixels` values (0..=max) and a label each.
fn pixel_csv(rows: usize, pixels: usize, max: usize) -> String {
    (0..rows)
        .map(|r| {
            let values: Vec<String> = (0..pixels).map(|p| ((r * 7 + p * 3) % (max + 1)).to_string()).collect();
            format!("{},{}\n", values.join(","), r % 10)
        })
        .collect()
}

/// A valid 4x4 MNIST folder (20 test images as IDX, 30 training images as CSV), with `edit`
/// applied to its files (name -> bytes) before they are written.
fn mnist_dir(root: &Path, label: &str, edit: impl FnOnce(&mut Vec<(&'static str, Vec<u8>)>)) -> PathBuf {
    let dir = root.join("images").join(label);
    std::fs::create_dir_all(&dir).unwrap();
    let pixels: Vec<u8> = (0..20 * 16).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    let mut files = vec![
        ("t10k-images-idx3-ubyte", idx_bytes(0x0803, &[20, 4, 4], &pixels)),
        ("t10k-labels-idx1-ubyte", idx_bytes(0x0801, &[20], &labels)),
        ("mnist_5k.csv", pixel_csv(30, 16, 255).into_bytes()),
    ];
    edit(&mut files);
    for (name, bytes) in files {
        write(&dir.join(name), &bytes);
    }
    dir
}

fn image_cases(root: &Path, c: &mut Cases) {
    let spec = |dir: &Path| format!("mnist:{}", dir.display());
    let absent = root.join("images/nomnist");
    c.dataset("mnist-missing-dir", &spec(&absent), root, "nomnist", &["not found"]);
    let no_train = mnist_dir(root, "mnist-no-train", |f| f.retain(|(n, _)| !n.ends_with(".csv")));
    c.dataset("mnist-missing-train", &spec(&no_train), root, "mnist_5k.csv", &["not found"]);
    let replace = |name: &'static str, bytes: Vec<u8>| {
        move |f: &mut Vec<(&'static str, Vec<u8>)>| {
            for entry in f.iter_mut() {
                if entry.0 == name {
                    entry.1 = bytes.clone();
                }
            }
        }
    };
    let images = "t10k-images-idx3-ubyte";
    let labels = "t10k-labels-idx1-ubyte";
    let pixels: Vec<u8> = vec![9; 20 * 16];
    let cases: Vec<(&str, &str, Vec<u8>, &str, Vec<&str>)> = vec![
        ("mnist-empty-idx", images, Vec::new(), images, vec![]),
        ("mnist-truncated-idx", images, idx_bytes(0x0803, &[20, 4, 4], &pixels[..100]), images, vec!["truncated"]),
        ("mnist-random-idx", images, random_bytes(), images, vec![]),
        ("mnist-wrong-magic", images, idx_bytes(0x0801, &[20, 4, 4], &pixels), images, vec![]),
        ("mnist-wrong-rank", images, idx_bytes(0x0803, &[20, 16], &pixels), images, vec![]),
        ("mnist-count-mismatch", labels, idx_bytes(0x0801, &[19], &[1; 19]), images, vec!["20 images", "19 labels"]),
        ("mnist-label-out-of-range", labels, idx_bytes(0x0801, &[20], &[12; 20]), labels, vec!["outside 0..=9"]),
        (
            "mnist-absurd-idx-size",
            images,
            idx_bytes(0x0803, &[1_000_000_000, 1000, 1000], &pixels),
            images,
            vec!["declares"],
        ),
    ];
    for (label, name, bytes, file, problem) in cases {
        let dir = mnist_dir(root, label, replace(name, bytes));
        c.dataset(label, &spec(&dir), root, file, &problem);
    }
    let truncated_gz = {
        let full = gz(&idx_bytes(0x0803, &[20, 4, 4], &pixels));
        full[..full.len() / 2].to_vec()
    };
    let dir = mnist_dir(root, "mnist-truncated-gz", |f| {
        f.retain(|(n, _)| *n != images);
        f.push(("t10k-images-idx3-ubyte.gz", truncated_gz));
    });
    c.dataset("mnist-truncated-gz", &spec(&dir), root, "t10k-images-idx3-ubyte.gz", &[]);
    let mut nan_csv = pixel_csv(30, 16, 255);
    nan_csv.replace_range(0..1, "nan");
    let dir = mnist_dir(root, "mnist-csv-nan-pixel", replace("mnist_5k.csv", nan_csv.into_bytes()));
    c.dataset("mnist-csv-nan-pixel", &spec(&dir), root, "mnist_5k.csv", &["line 1"]);
    let short = pixel_csv(30, 16, 255).replacen(",", "", 1);
    let dir = mnist_dir(root, "mnist-csv-wrong-count", replace("mnist_5k.csv", short.into_bytes()));
    c.dataset("mnist-csv-wrong-count", &spec(&dir), root, "mnist_5k.csv", &["line 1"]);

    let digits = |label: &str, text: &[u8]| {
        let path = write(&root.join("images").join(format!("{label}.csv")), text);
        format!("digits:{}", path.display())
    };
    let file = |label: &str| format!("{label}.csv");
    c.dataset("digits-missing", "digits:/nonexistent/digits.csv.gz", root, "digits.csv.gz", &["not found"]);
    for (label, text, problem) in [
        ("digits-empty", Vec::new(), vec![]),
        ("digits-random-bytes", random_bytes(), vec![]),
        ("digits-label-out-of-range", pixel_csv(40, 64, 16).replace(",0\n", ",10\n").into_bytes(), vec!["line"]),
        ("digits-pixel-out-of-range", pixel_csv(40, 64, 16).replacen("0,", "17,", 1).into_bytes(), vec!["line"]),
        ("digits-inf-pixel", pixel_csv(40, 64, 16).replacen("0,", "inf,", 1).into_bytes(), vec!["line"]),
    ] {
        let spec = digits(label, &text);
        c.dataset(label, &spec, root, &file(label), &problem);
    }
}

// ---------------------------------------------------------------------------------------------
// ModelNet HDF5 point clouds (`modelnet:DIR`: ply_data_*.h5 listed in train_files.txt / test_files.txt)

/// A valid ModelNet folder (two classes, 8 training and 4 test clouds of 16 points) whose test
/// file is written by `test_file` instead (or replaced by `raw` bytes).
fn modelnet_dir(root: &Path, label: &str, test_file: impl Fn(&hdf5::File) -> hdf5::Result<()>) -> PathBuf {
    let dir = root.join("modelnet").join(label);
    std::fs::create_dir_all(&dir).unwrap();
    let good = |file: &hdf5::File, n: usize| -> hdf5::Result<()> {
        let points: Vec<f32> = (0..n * 16 * 3).map(|k| ((k * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        file.new_dataset::<f32>().shape([n, 16, 3]).create("data")?.write_raw(&points)?;
        let labels: Vec<u8> = (0..n).map(|k| (k % 2) as u8).collect();
        file.new_dataset::<u8>().shape([n, 1]).create("label")?.write_raw(&labels)
    };
    let train = gdistill_datasets::h5file::create(dir.join("ply_data_train0.h5")).unwrap();
    good(&train, 8).unwrap();
    train.close().unwrap();
    let test = gdistill_datasets::h5file::create(dir.join("ply_data_test0.h5")).unwrap();
    test_file(&test).unwrap();
    test.close().unwrap();
    std::fs::write(dir.join("train_files.txt"), "ply_data_train0.h5\n").unwrap();
    std::fs::write(dir.join("test_files.txt"), "ply_data_test0.h5\n").unwrap();
    std::fs::write(dir.join("shape_names.txt"), "chair\nmonitor\n").unwrap();
    dir
}

fn modelnet_cases(root: &Path, c: &mut Cases) {
    let spec = |dir: &Path| format!("modelnet:{}", dir.display());
    let points = |n: usize| -> Vec<f32> { (0..n * 16 * 3).map(|k| (k % 17) as f32 / 17.0).collect() };
    let labels = |file: &hdf5::File, n: usize| -> hdf5::Result<()> {
        file.new_dataset::<u8>().shape([n, 1]).create("label")?.write_raw(&vec![1u8; n])
    };
    let file = "ply_data_test0.h5";
    c.dataset("modelnet-missing-dir", &spec(&root.join("modelnet/absent")), root, "absent", &[]);
    type Make = Box<dyn Fn(&hdf5::File) -> hdf5::Result<()>>;
    let cases: Vec<(&str, Make, Vec<&str>)> = vec![
        (
            "modelnet-nan-point",
            Box::new(move |f| {
                let mut p = points(4);
                p[5] = f32::NAN;
                f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&p)?;
                labels(f, 4)
            }),
            vec!["'data'"],
        ),
        (
            "modelnet-wrong-shape",
            Box::new(move |f| {
                f.new_dataset::<f32>().shape([4, 48]).create("data")?.write_raw(&points(4))?;
                labels(f, 4)
            }),
            vec!["'data'"],
        ),
        (
            "modelnet-wrong-dtype",
            Box::new(move |f| {
                f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&points(4))?;
                f.new_dataset::<f32>().shape([4, 1]).create("label")?.write_raw(&[1.0f32; 4])
            }),
            vec!["'label'"],
        ),
        (
            "modelnet-count-mismatch",
            Box::new(move |f| {
                f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&points(4))?;
                labels(f, 3)
            }),
            vec!["'label'"],
        ),
        (
            "modelnet-label-out-of-range",
            Box::new(move |f| {
                f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&points(4))?;
                f.new_dataset::<u8>().shape([4, 1]).create("label")?.write_raw(&[7u8; 4])
            }),
            vec!["7"],
        ),
        (
            "modelnet-absurd-shape",
            Box::new(move |f| {
                // declared, never written: fill values in a small file
                f.new_dataset::<f32>().shape([1_000_000_000_000usize, 16, 3]).create("data")?;
                labels(f, 4)
            }),
            vec!["would need about"],
        ),
    ];
    for (label, make, problem) in cases {
        let dir = modelnet_dir(root, label, make);
        c.dataset(label, &spec(&dir), root, file, &problem);
    }
    for (label, bytes) in [("modelnet-empty", Vec::new()), ("modelnet-random-bytes", random_bytes())] {
        let dir = modelnet_dir(root, label, |f| {
            f.new_dataset::<f32>().shape([4, 16, 3]).create("data")?.write_raw(&points(4))?;
            labels(f, 4)
        });
        std::fs::write(dir.join(file), bytes).unwrap();
        c.dataset(label, &spec(&dir), root, file, &[]);
    }
}

/// A `gdistill` binary installed without `gdistill-h5probe` beside it probes HDF5 files with
/// itself: the file that crashes libhdf5 is still refused with a message.
#[test]
fn a_gdistill_without_its_probe_probes_with_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let alone = tmp.path().join("bin").join("gdistill");
    std::fs::create_dir_all(alone.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_gdistill"), &alone).unwrap();
    let path = tmp.path().join("crash.h5");
    write_h5(&path, FeatureLayout::Dense);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.splice(120..120, [0xFF; 8]);
    std::fs::write(&path, &bytes).unwrap();
    let spec = format!("h5:{}", path.display());
    let o = Command::new(&alone)
        .args(["data", "info", "--dataset", &spec])
        .env_remove("GDISTILL_H5PROBE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("crash.h5") && stderr.contains("libhdf5 crashed reading this file"), "{stderr}");
}
