//! Sharded soft targets: one HDF5 soft-targets file per rank (its contiguous range of nodes) and
//! one JSON manifest that names them.
//!
//! ```json
//! {"format": "gdistill-soft-targets-manifest", "version": 1, "dataset": "cora",
//!  "nodes": 2708, "classes": 7,
//!  "shards": [{"file": "st.shard-0-of-2.h5", "first_node": 0, "nodes": 1354, "hash": "…"}, …],
//!  "halo": [{"layer": 1, "width": 64, "rows": [..per rank..], "bytes": [..], ...}, …]}
//! ```
//!
//! Each shard is an ordinary soft-targets file (`logits` `[nodes of the shard, classes]`), written
//! atomically; `hash` is FNV-1a over its logits' bits. The manifest is written last, by rank 0,
//! once every rank has written its shard: a job that dies before leaves no manifest, and a shard
//! left over from another run does not match the manifest's hash and is refused.
//! [`read_soft_targets_any`] reads a manifest's set as one `[N, C]` array, or a single file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gdistill_datasets::{read_soft_target_rows, read_soft_targets, SoftTargets};
use serde::{Deserialize, Serialize};

use super::Fnv;

pub const MANIFEST_FORMAT: &str = "gdistill-soft-targets-manifest";

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Shard {
    /// File name, relative to the manifest's directory.
    pub file: String,
    pub first_node: usize,
    pub nodes: usize,
    /// FNV-1a of the shard's logits (then of its node ids, when scattered), as 16 hex digits.
    pub hash: String,
    /// The rows are the nodes the shard file lists in its `nodes` dataset (a run from
    /// `--partitions`), not `first_node ..`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scattered: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct HaloLayer {
    /// 1-based layer of the teacher.
    pub layer: usize,
    /// Columns of the rows exchanged (the layer's output width: `H W` is what travels).
    pub width: usize,
    /// Rows received by each rank.
    pub rows: Vec<usize>,
    /// Bytes received by each rank (rows x width x 4).
    pub bytes: Vec<usize>,
    /// Edges of each rank's nodes that end on another rank's node.
    pub cut_edges: Vec<usize>,
    /// Distinct other-rank endpoints of those edges: the rows each rank must receive.
    pub cut_endpoints: Vec<usize>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub dataset: String,
    pub nodes: usize,
    pub classes: usize,
    pub shards: Vec<Shard>,
    #[serde(default)]
    pub halo: Vec<HaloLayer>,
}

/// The hash recorded for a shard's logits.
pub fn logits_hash(logits: &[f32]) -> String {
    format!("{:016x}", Fnv::default().f32s(logits).finish())
}

/// The hash recorded for a scattered shard: its logits, then its node ids.
pub fn rows_hash(logits: &[f32], nodes: &[usize]) -> String {
    format!("{:016x}", Fnv::default().f32s(logits).usizes(nodes).finish())
}

/// `DIR/STEM.shard-R-of-P.h5` for a manifest at `DIR/STEM.EXT`.
pub fn shard_path(manifest: &Path, rank: usize, size: usize) -> PathBuf {
    let stem = manifest.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "soft-targets".into());
    manifest.with_file_name(format!("{stem}.shard-{rank}-of-{size}.h5"))
}

/// Largest manifest read (a manifest names one shard per rank: kilobytes).
const MANIFEST_LIMIT: u64 = 64 << 20;

/// Whether `path` is a regular file that starts like a JSON document rather than an HDF5 file.
/// Anything else (a pipe, a device, a directory) goes to the soft-targets reader, whose bounded
/// opener refuses it by name: opening a pipe here would wait for a writer.
fn looks_like_manifest(path: &Path) -> bool {
    use std::io::Read;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 1];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head[0] == b'{'
}

/// Reads and checks a soft-targets manifest (not its shards).
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    anyhow::ensure!(meta.is_file() && meta.len() <= MANIFEST_LIMIT, "{}: not a manifest file", path.display());
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{}: not a soft-targets manifest", path.display()))?;
    anyhow::ensure!(
        manifest.format == MANIFEST_FORMAT && manifest.version == 1,
        "{}: format '{}' version {}, expected '{MANIFEST_FORMAT}' version 1",
        path.display(),
        manifest.format,
        manifest.version
    );
    Ok(manifest)
}

/// Shard `k` of the manifest at `path` alone, checked against the manifest's shape and hash, with
/// the global ids of its rows (listed in the file, or the shard's range).
pub fn read_checked_shard(path: &Path, manifest: &Manifest, k: usize) -> Result<(SoftTargets, Vec<usize>)> {
    let shard = &manifest.shards[k];
    let file = path.with_file_name(&shard.file);
    let (part, listed) = read_shard(path, shard, manifest)?;
    let (nodes, hash) = match (shard.scattered, listed) {
        (true, Some(nodes)) => {
            let hash = rows_hash(&part.logits, &nodes);
            (nodes, hash)
        }
        (true, None) => anyhow::bail!("{}: no 'nodes' dataset, but the manifest says it has", file.display()),
        (false, _) => ((shard.first_node..shard.first_node + shard.nodes).collect(), logits_hash(&part.logits)),
    };
    anyhow::ensure!(
        hash == shard.hash,
        "{}: its content does not match the manifest {} (a shard of another run?)",
        file.display(),
        path.display()
    );
    Ok((part, nodes))
}

/// Reads soft targets from one file, or from the set of shards a manifest names.
pub fn read_soft_targets_any(path: &Path) -> Result<SoftTargets> {
    if !looks_like_manifest(path) {
        return Ok(read_soft_targets(path)?);
    }
    let manifest = read_manifest(path)?;
    let total = manifest.nodes.checked_mul(manifest.classes).filter(|&t| t > 0);
    let total = total
        .with_context(|| format!("{}: {} nodes x {} classes", path.display(), manifest.nodes, manifest.classes))?;
    if manifest.shards.iter().any(|s| s.scattered) {
        return read_scattered(path, manifest, total);
    }
    let mut logits = Vec::with_capacity(total);
    let mut next = 0;
    for shard in &manifest.shards {
        let file = path.with_file_name(&shard.file);
        anyhow::ensure!(
            shard.first_node == next,
            "{}: shard {} starts at node {}, expected {next}",
            path.display(),
            shard.file,
            shard.first_node
        );
        let (part, _) = read_shard(path, shard, &manifest)?;
        anyhow::ensure!(
            logits_hash(&part.logits) == shard.hash,
            "{}: its content does not match the manifest {} (a shard of another run?)",
            file.display(),
            path.display()
        );
        logits.extend_from_slice(&part.logits);
        next += shard.nodes;
    }
    anyhow::ensure!(
        next == manifest.nodes,
        "{}: the shards cover {next} nodes, the manifest says {}",
        path.display(),
        manifest.nodes
    );
    Ok(SoftTargets {
        logits,
        nodes: manifest.nodes,
        classes: manifest.classes,
        dataset: manifest.dataset,
        ensemble: None,
    })
}

/// One shard's soft targets (and node ids, if it lists them), checked against the manifest's shape.
fn read_shard(path: &Path, shard: &Shard, manifest: &Manifest) -> Result<(SoftTargets, Option<Vec<usize>>)> {
    let file = path.with_file_name(&shard.file);
    anyhow::ensure!(
        Path::new(&shard.file).file_name() == Some(std::ffi::OsStr::new(&shard.file)),
        "{}: shard '{}' must be a file name beside the manifest",
        path.display(),
        shard.file
    );
    let (part, nodes) = read_soft_target_rows(&file)?;
    anyhow::ensure!(
        part.nodes == shard.nodes && part.classes == manifest.classes,
        "{}: [{}, {}], but the manifest {} says [{}, {}]",
        file.display(),
        part.nodes,
        part.classes,
        path.display(),
        shard.nodes,
        manifest.classes
    );
    Ok((part, nodes))
}

/// The shards of a run from `--partitions`: each holds the rows of the nodes it lists; together
/// they must cover every node exactly once.
fn read_scattered(path: &Path, manifest: Manifest, total: usize) -> Result<SoftTargets> {
    let (n, c) = (manifest.nodes, manifest.classes);
    let mut logits = vec![0f32; total];
    let mut seen = vec![false; n];
    for shard in &manifest.shards {
        let file = path.with_file_name(&shard.file);
        anyhow::ensure!(shard.scattered, "{}: shard {} lists no nodes, unlike the others", path.display(), shard.file);
        let (part, nodes) = read_shard(path, shard, &manifest)?;
        let nodes =
            nodes.with_context(|| format!("{}: no 'nodes' dataset, but the manifest says it has", file.display()))?;
        anyhow::ensure!(
            rows_hash(&part.logits, &nodes) == shard.hash,
            "{}: its content does not match the manifest {} (a shard of another run?)",
            file.display(),
            path.display()
        );
        for (k, &i) in nodes.iter().enumerate() {
            anyhow::ensure!(i < n && !seen[i], "{}: node {i} is out of range or in two shards", file.display());
            seen[i] = true;
            logits[i * c..(i + 1) * c].copy_from_slice(&part.logits[k * c..(k + 1) * c]);
        }
    }
    let covered = seen.iter().filter(|&&s| s).count();
    anyhow::ensure!(covered == n, "{}: the shards cover {covered} nodes, the manifest says {n}", path.display());
    Ok(SoftTargets { logits, nodes: n, classes: c, dataset: manifest.dataset, ensemble: None })
}
