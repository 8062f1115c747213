//! `--features deepwalk:K` through the binary: one `error:` line for each bad setting, and a
//! small run, transductive and inductive, that reports the feature step's seconds.

#[path = "support/cli.rs"]
mod cli;
use cli::{assert_fails_with, gdistill, stderr, stdout};
use std::path::Path;

const CSBM: &str = "csbm:nodes=120,classes=2,degree=4,features=4,seed=1";

#[test]
fn bad_deepwalk_settings_fail_with_one_error_line() {
    for (spec, needle) in [
        ("deepwalk:0", "K = 0"),
        ("given+deepwalk:0", "K = 0"),
        ("deepwalk:16:walk=0", "walk = 0"),
        ("deepwalk:16:window=0", "window = 0"),
        ("deepwalk:16:walks=0", "walks = 0"),
        ("deepwalk:16:stride=2", "unknown deepwalk option 'stride'"),
    ] {
        let o = gdistill(&["compare", "--dataset", CSBM, "--features", spec, "--seeds", "1"], Path::new("."));
        assert_fails_with(&o, &[spec, needle]);
        assert_eq!(stderr(&o).lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn compare_learns_deepwalk_features_and_reports_their_cost() {
    for setting in ["transductive", "inductive"] {
        let flags = "--features given+deepwalk:8:walks=2 --seeds 2 --epochs 20 --no-lsp --no-prune --threads 1";
        let mut args = vec!["compare", "--dataset", CSBM, "--setting", setting];
        args.extend(flags.split_whitespace());
        let o = gdistill(&args, Path::new("."));
        assert!(o.status.success(), "{}", stderr(&o));
        // 4 given columns and 8 learnt ones.
        assert!(stdout(&o).contains("12 features"), "{}", stdout(&o));
        let lines = stderr(&o).lines().filter(|l| l.starts_with("features given+deepwalk:8:walks=2: ")).count();
        // Once before the seeds; inductively once per seed, on each seed's observed graph.
        assert_eq!(lines, if setting == "inductive" { 2 } else { 1 }, "{}", stderr(&o));
    }
}
