//! `--plot` on real data: compare on Cora, MNIST and the chair/monitor point clouds, and the
//! training curve of `train` on Cora, each a valid PNG of the size drawn. Runs are cut to a few
//! epochs; the data folders are required when `CI=true` (tests/support/data.rs).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/data.rs"]
mod data;

use std::path::Path;

use cli::{gdistill, stderr, stdout};

/// Checks the PNG signature and the IHDR chunk, and returns (width, height).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 10_000, "{}: only {} bytes", path.display(), bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: not a PNG", path.display());
    assert_eq!(&bytes[12..16], b"IHDR", "{}: no IHDR chunk first", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Runs `gdistill ARGS`, asserts success and that `png` came out `width x height`.
fn assert_plots(args: &[&str], data_dir: &Path, png: &Path, size: (u32, u32)) {
    let o = gdistill(args, data_dir);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    assert!(stdout(&o).contains(&format!("wrote {}", png.display())), "{}", stdout(&o));
    assert_eq!(png_size(png), size);
    // Written atomically: no temporary file left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(png.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn compare_on_cora_plots_accuracy_against_parameters() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("cora.png");
    let args = [
        "compare",
        "--dataset",
        "cora",
        "--seeds",
        "2",
        "--epochs",
        "5",
        "--no-lsp",
        "--no-prune",
        "--teacher-hidden",
        "16",
        "--mlp-hidden",
        "16",
        "--plot",
        png.to_str().unwrap(),
    ];
    assert_plots(&args, root, &png, (960, 620));
}

#[test]
fn train_on_cora_plots_its_training_curve() {
    let Some(cora) = data::data_dir("cora") else { return };
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("curve.png");
    let args = ["train", "--dataset", "cora", "--epochs", "15", "--hidden", "16", "--plot", png.to_str().unwrap()];
    assert_plots(&args, cora.parent().unwrap(), &png, (900, 640));
}

#[test]
fn distill_on_cora_plots_the_students_training_curve() {
    let Some(cora) = data::data_dir("cora") else { return };
    let root = cora.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let teacher = dir.path().join("teacher.safetensors");
    let teacher = teacher.to_str().unwrap();
    let o = gdistill(&["train", "--dataset", "cora", "--epochs", "5", "--hidden", "16", "--out", teacher], root);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let png = dir.path().join("student.png");
    let args = [
        "distill",
        "--dataset",
        "cora",
        "--teacher",
        teacher,
        "--model",
        "mlp",
        "--hidden",
        "16",
        "--epochs",
        "15",
        "--plot",
        png.to_str().unwrap(),
    ];
    assert_plots(&args, root, &png, (900, 640));
}

/// `compare --dataset SPEC --epochs 1 --config DIR/tiny.toml --plot DIR/size.png`, the config
/// holding `toml`, writes a plot of the size the graph comparison's plot has.
fn compare_plots_with_config(spec: &str, toml: &str, dir: &Path) {
    let config = dir.join("tiny.toml");
    std::fs::write(&config, toml).unwrap();
    let png = dir.join("size.png");
    let args = [
        "compare",
        "--dataset",
        spec,
        "--epochs",
        "1",
        "--config",
        config.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ];
    assert_plots(&args, dir, &png, (960, 620));
}

#[test]
fn compare_on_mnist_plots_accuracy_against_parameters() {
    let Some(mnist) = data::data_dir("mnist") else { return };
    let dir = tempfile::tempdir().unwrap();
    let toml = "seeds = 2\nrows = [\"teacher\", \"mlp-30\", \"mlp-30+kd\"]\n\
         [teacher.model]\narch = \"mlp\"\nhidden = [64, 64]\ninput_dropout = 0.0\ndropout = 0.2\n";
    compare_plots_with_config(&format!("mnist:{}", mnist.display()), toml, dir.path());
}

#[test]
fn compare_on_point_clouds_plots_accuracy_against_parameters() {
    let Some(clouds) = data::data_dir("pointclouds/modelnet10_chair_monitor_hdf5_2048") else { return };
    let dir = tempfile::tempdir().unwrap();
    let toml = "seeds = 2\npoints = 64\nrows = [\"teacher\", \"student\", \"student+kd\", \"pointnet\"]\n\
         teacher = { arch = \"dgcnn\", k = 5, widths = [16, 16], dynamic = false, embed = 32, head = [16], dropout = 0.3 }\n\
         student = { arch = \"dgcnn\", k = 5, widths = [8], dynamic = false, embed = 16, head = [8], dropout = 0.0 }\n\
         pointnet = { arch = \"pointnet\", widths = [8, 16], head = [8], dropout = 0.0 }\n";
    compare_plots_with_config(&format!("modelnet:{}", clouds.display()), toml, dir.path());
}

#[test]
fn a_plot_path_that_is_not_png_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let o = gdistill(&["train", "--dataset", "cora", "--plot", "curve.svg"], dir.path());
    cli::assert_fails_with(&o, &["curve.svg", ".png"]);
}
