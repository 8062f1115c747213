//! `gdistill soft-targets` with several `--teacher`s: an ensemble's soft targets stored in HDF5,
//! checked against the members' own stored logits combined by hand, and the temperature a
//! mixture was made at enforced when a student distils from it.

#[path = "support/cli.rs"]
mod cli;
use std::path::Path;

use cli::{assert_fails_with, gdistill, stdout};
use gdistill_datasets::read_soft_targets;

const SPEC: &str = "csbm:nodes=300,classes=3,degree=6,features=12,signal=2,seed=5";

fn run_ok(args: &[&str], here: &Path) -> String {
    let o = gdistill(args, here);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

/// `T * ln(1/K sum_k softmax(z_k / T))`, one node's classes at a time, in f64.
fn mixture_logits(members: &[Vec<f32>], classes: usize, t: f64) -> Vec<f64> {
    let mut out = Vec::new();
    for node in 0..members[0].len() / classes {
        let mut q = vec![0.0f64; classes];
        for z in members {
            let row: Vec<f64> = z[node * classes..(node + 1) * classes].iter().map(|&v| v as f64 / t).collect();
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
            for (c, v) in row.iter().enumerate() {
                q[c] += (v - max).exp() / sum / members.len() as f64;
            }
        }
        out.extend(q.iter().map(|p| t * p.ln()));
    }
    out
}

/// The members' logits come from other processes than the ensemble's, and MKL may order a
/// product's sums differently between runs on a loaded machine: one CI run read -4.731738 against
/// the hand computation's -4.731635. A formula slip (mean logits for the mixture, a missing `T`)
/// moves these values by tenths.
const SEPARATE_RUNS_TOLERANCE: f64 = 1e-3;

#[test]
fn an_ensembles_soft_targets_are_stored_and_distilled_at_their_temperature() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path();
    let p = |name: &str| here.join(name).display().to_string();
    for (k, seed) in ["1", "2", "3"].iter().enumerate() {
        let out = p(&format!("t{k}.safetensors"));
        run_ok(&["train", "--dataset", SPEC, "--epochs", "20", "--seed", seed, "-o", &out], here);
        run_ok(&["soft-targets", "--dataset", SPEC, "--teacher", &out, "-o", &p(&format!("t{k}.h5"))], here);
    }
    let members: Vec<Vec<f32>> =
        (0..3).map(|k| read_soft_targets(Path::new(&p(&format!("t{k}.h5")))).unwrap().logits).collect();
    assert_ne!(members[0], members[1], "teachers of different seeds differ");
    let teachers =
        ["--teacher", &p("t0.safetensors"), "--teacher", &p("t1.safetensors"), "--teacher", &p("t2.safetensors")];
    let soft = ["soft-targets", "--dataset", SPEC];

    let printed = run_ok(&[&soft[..], &teachers, &["--temperature", "2.5", "-o", &p("mix.h5")]].concat(), here);
    assert!(printed.contains("an ensemble of 3 teachers (mixture of soft targets at T = 2.5)"), "{printed}");
    let mix = read_soft_targets(Path::new(&p("mix.h5"))).unwrap();
    let origin = mix.ensemble.as_ref().expect("the file records its ensemble");
    assert_eq!((origin.members, origin.combine.as_str(), origin.temperature), (3, "soft-targets", Some(2.5)));
    let expected = mixture_logits(&members, 3, 2.5);
    for (got, want) in mix.logits.iter().zip(&expected) {
        assert!((*got as f64 - want).abs() < SEPARATE_RUNS_TOLERANCE, "mixture logit {got} vs hand-computed {want}");
    }

    run_ok(&[&soft[..], &teachers, &["--ensemble-combine", "logits", "-o", &p("mean.h5")]].concat(), here);
    let mean = read_soft_targets(Path::new(&p("mean.h5"))).unwrap();
    assert_eq!(mean.ensemble.as_ref().map(|e| e.temperature), Some(None), "mean logits hold at every T");
    for (i, got) in mean.logits.iter().enumerate() {
        let want = members.iter().map(|z| z[i] as f64).sum::<f64>() / 3.0;
        assert!((*got as f64 - want).abs() < SEPARATE_RUNS_TOLERANCE, "mean logit {got} vs {want}");
    }

    let distill = ["distill", "--dataset", SPEC, "--model", "mlp", "--epochs", "10", "--batch-size", "100"];
    let with = |file: &str, t: &str| {
        gdistill(&[&distill[..], &["--soft-targets", &p(file), "--temperature", t]].concat(), here)
    };
    assert_fails_with(&with("mix.h5", "2"), &["mix.h5", "T = 2.5", "--temperature 2.5"]);
    assert!(with("mix.h5", "2.5").status.success());
    assert!(with("mean.h5", "4").status.success(), "averaged logits distil at any temperature");
}

#[test]
fn ensemble_settings_that_do_not_apply_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path();
    let teacher = here.join("t.safetensors").display().to_string();
    run_ok(&["train", "--dataset", SPEC, "--epochs", "5", "-o", &teacher], here);
    let out = here.join("x.h5").display().to_string();
    let soft = |extra: &[&str]| {
        gdistill(&[&["soft-targets", "--dataset", SPEC, "-o", &out, "--teacher", &teacher][..], extra].concat(), here)
    };
    assert_fails_with(&soft(&["--teacher", &teacher]), &["need --temperature"]);
    assert_fails_with(&soft(&["--temperature", "2"]), &["--temperature applies to several"]);
    assert_fails_with(
        &soft(&["--teacher", &teacher, "--ensemble-combine", "logits", "--temperature", "2"]),
        &["every T"],
    );
    assert_fails_with(&soft(&["--teacher", &teacher, "--temperature", "0"]), &["positive"]);
    // Bag-of-words features are row-normalised unless a teacher asks to keep them raw.
    let (mut content, mut cites) = (String::new(), String::new());
    for i in 0..90 {
        let words: Vec<&str> = (0..9).map(|w| if w % 3 == i % 3 || (w + i) % 4 == 0 { "1" } else { "0" }).collect();
        content.push_str(&format!("p{i}\t{}\tc{}\n", words.join("\t"), i % 3));
        cites.push_str(&format!("p{i}\tp{}\n", (i + 3) % 90));
    }
    std::fs::write(here.join("papers.content"), content).unwrap();
    std::fs::write(here.join("papers.cites"), cites).unwrap();
    let linqs = format!("linqs:{}", here.join("papers").display());
    let (normalized, raw) =
        (here.join("n.safetensors").display().to_string(), here.join("raw.safetensors").display().to_string());
    run_ok(&["train", "--dataset", &linqs, "--epochs", "5", "-o", &normalized], here);
    run_ok(&["train", "--dataset", &linqs, "--epochs", "5", "--no-normalize-features", "-o", &raw], here);
    let o = gdistill(
        &[
            "soft-targets",
            "--dataset",
            &linqs,
            "-o",
            &out,
            "--teacher",
            &normalized,
            "--teacher",
            &raw,
            "--temperature",
            "2",
        ],
        here,
    );
    assert_fails_with(&o, &["raw.safetensors", "same features"]);
    assert!(!Path::new(&out).exists(), "nothing written on a refusal");
}

/// Checkpoints of different families (a GCN and a GAT) store one mixture, equal to their own
/// stored logits combined by hand.
#[test]
fn teachers_of_different_families_store_one_mixture() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path();
    let p = |name: &str| here.join(name).display().to_string();
    for family in ["gcn", "gat"] {
        let out = p(&format!("{family}.safetensors"));
        run_ok(&["train", "--dataset", SPEC, "--model", family, "--epochs", "20", "--seed", "4", "-o", &out], here);
        run_ok(&["soft-targets", "--dataset", SPEC, "--teacher", &out, "-o", &p(&format!("{family}.h5"))], here);
    }
    let members: Vec<Vec<f32>> =
        ["gcn", "gat"].iter().map(|f| read_soft_targets(Path::new(&p(&format!("{f}.h5")))).unwrap().logits).collect();
    assert_ne!(members[0], members[1]);
    let teachers = ["--teacher", &p("gcn.safetensors"), "--teacher", &p("gat.safetensors")];
    let soft = ["soft-targets", "--dataset", SPEC, "--temperature", "2", "-o", &p("mix.h5")];
    let printed = run_ok(&[&soft[..], &teachers].concat(), here);
    assert!(printed.contains("an ensemble of 2 teachers (mixture of soft targets at T = 2)"), "{printed}");
    let mix = read_soft_targets(Path::new(&p("mix.h5"))).unwrap();
    for (got, want) in mix.logits.iter().zip(&mixture_logits(&members, 3, 2.0)) {
        assert!((*got as f64 - want).abs() < SEPARATE_RUNS_TOLERANCE, "mixture logit {got} vs hand-computed {want}");
    }
}
