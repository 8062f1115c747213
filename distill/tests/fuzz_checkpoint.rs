//! Fuzzing the checkpoint reader, CI-sized (`GDISTILL_FUZZ_ITERS` / `GDISTILL_FUZZ_SECS` scale it).
//!
//! Starts from small valid checkpoints (a GCN and an MLP), mutates their bytes (truncation, bit
//! flips, splices, inflated length fields) or the text of their JSON header (numbers become
//! `nan`, `-1`, `10^12`, ...; the header length is then fixed up so the edit reaches the
//! parser), and asserts `load_checkpoint` never panics and either refuses the file or returns a
//! model whose configuration is valid and whose every weight is finite and shaped as the
//! configuration says.

#[path = "../../tests/support/mutate.rs"]
mod mutate;

use gdistill_distill::{load_checkpoint, save_checkpoint, CheckpointMeta, DatasetFingerprint};
use gdistill_models::{Arch, ModelConfig};
use mutate::{fuzz, Mutator};
use tch::{nn, Device};

fn checkpoint(arch: Arch, path: &std::path::Path) -> Vec<u8> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let config = ModelConfig::new(arch, 5, 6, 3, 3, 0.5);
    config.build(&vs.root()).unwrap();
    let meta = CheckpointMeta {
        format_version: 1,
        model: config,
        dataset: DatasetFingerprint { name: "tiny".into(), nodes: 10, features: 5, classes: 3, row_normalized: true },
        training: serde_json::json!({"objective": "labels"}),
    };
    save_checkpoint(path, &vs, &meta).unwrap();
    std::fs::read(path).unwrap()
}

/// Splits a safetensors file into (header text, data).
fn split(bytes: &[u8]) -> (String, &[u8]) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (String::from_utf8(bytes[8..8 + n].to_vec()).unwrap(), &bytes[8 + n..])
}

fn join(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

#[test]
fn fuzz_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = [
        checkpoint(Arch::Gcn, &dir.path().join("gcn.safetensors")),
        checkpoint(Arch::Mlp, &dir.path().join("mlp.safetensors")),
    ];
    let others: Vec<&[u8]> = corpus.iter().map(|c| c.as_slice()).collect();
    let path = dir.path().join("fuzzed.safetensors");
    fuzz(
        "checkpoint",
        8_000,
        3.0,
        11,
        |m: &mut Mutator, k| {
            let seed = &corpus[k % corpus.len()];
            if k % 2 == 0 {
                m.mutate(seed, &others)
            } else {
                // edit the JSON header (the metadata inside it is JSON in a JSON string: its
                // numbers are tokens too), keep the data
                let (header, data) = split(seed);
                join(&m.mutate_text(&header), data)
            }
        },
        |bytes| {
            std::fs::write(&path, bytes).unwrap();
            match load_checkpoint(&path, Device::Cpu) {
                Err(e) => {
                    if e.to_string().is_empty() {
                        return Err("an error with an empty message".into());
                    }
                    Ok(false)
                }
                Ok((vs, model, meta)) => {
                    meta.model.validate().map_err(|e| format!("loaded an invalid configuration: {e}"))?;
                    if model.config() != &meta.model {
                        return Err("the model does not follow the metadata".into());
                    }
                    for (name, var) in vs.variables() {
                        let finite = var.isfinite().all().int64_value(&[]) == 1;
                        if !finite {
                            return Err(format!("tensor {name} holds non-finite values"));
                        }
                    }
                    let params: i64 = vs.variables().values().map(|v| v.numel() as i64).sum();
                    if params != meta.model.num_params() {
                        return Err(format!("{params} parameters loaded for a model of {}", meta.model.num_params()));
                    }
                    Ok(true)
                }
            }
        },
    );
}

/// Metadata describing a 10^12-wide layer made `load_checkpoint` build the model first, and the
/// allocation failed inside tch (a panic). The size is now checked against the file first.
#[test]
fn regression_metadata_claiming_a_huge_model() {
    let dir = tempfile::tempdir().unwrap();
    let valid = checkpoint(Arch::Mlp, &dir.path().join("mlp.safetensors"));
    let (header, data) = split(&valid);
    let huge = header.replace("\\\"hidden\\\":[6,6]", "\\\"hidden\\\":[1000000000000,6]");
    assert_ne!(huge, header, "the metadata holds the hidden widths");
    let path = dir.path().join("huge.safetensors");
    std::fs::write(&path, join(huge.as_bytes(), data)).unwrap();
    let err = load_checkpoint(&path, Device::Cpu).err().expect("refused");
    assert!(err.to_string().contains("the model needs 12000000000027"), "{err}");
}
