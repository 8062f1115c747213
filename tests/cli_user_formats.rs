//! The user-data readers through the binary: `data info` on each layout, `--split-index`, and
//! `data convert`, which writes the HDF5 layout whole or not at all. Bad input exits with status
//! 1 and one `error:` line naming the file, with no panic and no output or temporary file left
//! (as tests/bad_input.rs asks of every loader; the readers' full bad-input table is in-process,
//! in datasets/tests/user_formats.rs).

#[path = "support/cli.rs"]
mod cli;
#[path = "support/user_formats.rs"]
mod user_formats;

use std::path::Path;

use cli::{assert_fails_with, gdistill, stdout};
use user_formats::*;

/// `data info` output from the line `nodes` on (the name line differs between layouts).
fn info(spec: &str, extra: &[&str], data_dir: &Path) -> String {
    let mut args = vec!["data", "info", "--dataset", spec];
    args.extend_from_slice(extra);
    let o = gdistill(&args, data_dir);
    assert!(o.status.success(), "{spec}: {}", cli::stderr(&o));
    let text = stdout(&o);
    text.lines().skip_while(|l| !l.starts_with("nodes")).collect::<Vec<_>>().join("\n")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn data_info_reads_every_layout_alike() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_h5(&d.join("reference.h5"), &raw(), &raw().split);
    write_h5(&d.join("second.h5"), &raw(), &other_split());
    write_ogb(d, "ogbn_toy", &raw());
    let csv = write_csv(d, "mine", &raw());
    write_hetero(&d.join("roman.npz"), &hetero_arrays(&raw()));

    let want = info("h5:reference.h5", &[], d);
    assert!(want.contains("nodes            12") && want.contains("edges            13"), "{want}");
    assert!(want.contains("split            train 3 / val 3 / test 6"), "{want}");
    assert_eq!(info("ogb:ogbn_toy", &[], d), want, "ogb");
    assert_eq!(info(&csv, &[], d), want, "csv");
    assert_eq!(info("npz:roman.npz", &[], d), want, "npz");
    let second = info("h5:second.h5", &[], d);
    assert_eq!(info("npz:roman.npz", &["--split-index", "1"], d), second, "--split-index 1");
    assert_eq!(info("npz:roman.npz:1", &[], d), second, "npz:PATH:1");

    let o = gdistill(&["data", "info", "--dataset", "npz:roman.npz", "--split-index", "5"], d);
    assert_fails_with(&o, &["roman.npz", "split index 5 is out of range"]);
    let o = gdistill(&["data", "info", "--dataset", "ogb:ogbn_toy", "--split-index", "1"], d);
    assert_fails_with(&o, &["ogb:ogbn_toy", "--split-index applies to npz files"]);
}

#[test]
fn data_convert_writes_the_hdf5_layout_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ogb = write_ogb(d, "ogbn_toy", &raw());
    std::fs::create_dir(d.join("out")).unwrap();
    let out = d.join("out/toy.h5");
    let o = gdistill(&["data", "convert", "--dataset", "ogb:ogbn_toy", "--out", out.to_str().unwrap()], d);
    assert!(o.status.success(), "{}", cli::stderr(&o));
    assert!(stdout(&o).contains("12 nodes, 13 edges"), "{}", stdout(&o));
    assert_eq!(info(&format!("h5:{}", out.display()), &[], d), info("ogb:ogbn_toy", &[], d));
    let before = std::fs::read(&out).unwrap();

    // a bad input leaves the previous file as it was, and no temporary file
    std::fs::write(ogb.join("raw/edge.csv.gz"), gz(b"0,1\n1,40\n")).unwrap();
    let o = gdistill(&["data", "convert", "--dataset", "ogb:ogbn_toy", "--out", out.to_str().unwrap()], d);
    assert_fails_with(&o, &["edge.csv.gz", "line 2", "node id 40 is outside 0..12"]);
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(files_in(&d.join("out")), vec!["toy.h5"]);

    // bad input for each reader, and a new output that must not appear
    let fresh = d.join("out/new.h5");
    let csv = write_csv(d, "mine", &raw());
    std::fs::write(d.join("mine/labels.txt"), "0\n1\n").unwrap();
    let npz = d.join("bad.npz");
    let mut arrays = hetero_arrays(&raw());
    arrays.retain(|(k, _)| *k != "test_masks");
    write_hetero(&npz, &arrays);
    std::fs::write(d.join("truncated.npz"), &std::fs::read(&npz).unwrap()[..100]).unwrap();
    for (spec, needles) in [
        (csv.as_str(), vec!["features.csv", "12 feature rows for 2 nodes"]),
        ("npz:bad.npz", vec!["bad.npz", "no 'test_masks' array"]),
        ("npz:truncated.npz", vec!["truncated.npz", "not an npz (zip) archive"]),
        ("ogb:absent", vec!["absent", "file not found"]),
        ("mnist:somewhere", vec!["images and point clouds have no graph layout"]),
    ] {
        let o = gdistill(&["data", "convert", "--dataset", spec, "--out", fresh.to_str().unwrap()], d);
        assert_fails_with(&o, &needles);
        assert_eq!(cli::stderr(&o).lines().filter(|l| l.starts_with("error:")).count(), 1, "{spec}");
        assert_eq!(files_in(&d.join("out")), vec!["toy.h5"], "{spec}");
    }
    // an output directory that does not exist
    let o = gdistill(&["data", "convert", "--dataset", "npz:bad.npz:0", "--out", "nowhere/x.h5"], d);
    assert_fails_with(&o, &["no 'test_masks' array"]);
    write_hetero(&npz, &hetero_arrays(&raw()));
    let o = gdistill(
        &["data", "convert", "--dataset", "npz:bad.npz", "--out", d.join("nowhere/x.h5").to_str().unwrap()],
        d,
    );
    assert_fails_with(&o, &["nowhere"]);
}
