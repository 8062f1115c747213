//! A partitioned dataset on disk (`gdistill partition`): one HDF5 file per part and a JSON
//! manifest, so that a process of a run across ranks reads only its own part.
//!
//! `DIR/partition.json` (written last, atomically; a run that dies before leaves none, and
//! [`write_partition`] removes an older one before writing any part):
//!
//! ```json
//! {"format": "gdistill-partition", "version": 1, "dataset": "cora", "dataset_sha256": "…",
//!  "method": "metis", "seed": 0, "nodes": 2708, "entries": 10556, "features": 1433, "classes": 7,
//!  "cut_edges": 1234,
//!  "parts": [{"file": "part-0-of-2.h5", "sha256": "…", "nodes": 1354, "entries": 5300,
//!             "cut_edges": 617, "halo": 580}, …]}
//! ```
//!
//! `entries` are stored adjacency entries (an undirected edge counts twice); `cut_edges` of a
//! part: entries of its rows whose column another part owns; `halo`: the distinct such columns
//! (the rows it must receive per layer). `dataset_sha256` hashes the source dataset's graph,
//! features, labels and splits; `sha256` each part file's bytes.
//!
//! A part file (`DIR/part-R-of-P.h5`), every id global:
//!
//! | object | type, shape | meaning |
//! | --- | --- | --- |
//! | attrs `format`, `version`, `dataset` | string, int, string | `"gdistill-partition-part"`, `1`, the dataset's name |
//! | attrs `part`, `parts`, `num_nodes`, `num_classes` | int | which part of how many; the whole graph's sizes |
//! | `nodes` | int64 `[n]` | the owned nodes, ascending |
//! | `adj/indptr`, `adj/indices`, `adj/weights` | int64 `[n+1]`, int64 `[e]`, float32 `[e]` | their adjacency rows |
//! | `features_csr/{indptr,indices,data,shape}` | as in the HDF5 graph layout | their features, row by row |
//! | `labels` | int64 `[n]` | their labels |
//! | `train`, `val`, `test` | int64 | the owned nodes of each split |
//! | `halo`, `halo_owner` | int64 `[h]` | non-owned neighbours of owned nodes, ascending, and their parts |
//! | `halo_degree` | float64 `[h]` | each halo node's row weight sum, self-loop left out |
//!
//! [`open_part`] checks the manifest, the part count and the part file's sha256 before libhdf5
//! opens the file, so a part left by another run, a missing part, or a job started on the wrong
//! number of ranks is one message naming the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use gdistill_graph::partition::PartGraph;
use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sprs::CsMat;

use crate::atomic::{remove_if_present, write_dataset_file, RemovedOnDrop};
use crate::{DatasetError, NodeDataset};

/// The manifest's `format`.
pub const PARTITION_FORMAT: &str = "gdistill-partition";
/// A part file's `format` attribute.
pub const PART_FORMAT: &str = "gdistill-partition-part";
/// The manifest's file name inside the partition directory.
pub const MANIFEST_NAME: &str = "partition.json";

/// One part, as the manifest lists it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PartEntry {
    /// File name inside the partition directory.
    pub file: String,
    /// sha256 of the file's bytes, lower-case hex.
    pub sha256: String,
    /// Nodes the part owns.
    pub nodes: usize,
    /// Stored adjacency entries of its rows.
    pub entries: usize,
    /// Entries of its rows whose column another part owns.
    pub cut_edges: usize,
    /// Distinct non-owned columns of its rows: the rows it receives per layer.
    pub halo: usize,
}

/// `DIR/partition.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PartitionManifest {
    /// Always [`PARTITION_FORMAT`].
    pub format: String,
    /// `1`.
    pub version: u32,
    /// The dataset's name.
    pub dataset: String,
    /// sha256 of the dataset's content ([`dataset_sha256`]).
    pub dataset_sha256: String,
    /// `metis` or `contiguous`.
    pub method: String,
    /// The partitioner's seed.
    pub seed: u64,
    /// Nodes of the whole graph.
    pub nodes: usize,
    /// Stored adjacency entries of the whole graph.
    pub entries: usize,
    /// Feature columns.
    pub features: usize,
    /// Classes.
    pub classes: usize,
    /// Cut entries over all parts (each undirected cut edge counts once from each side).
    pub cut_edges: usize,
    /// The parts, in order.
    pub parts: Vec<PartEntry>,
}

/// What one part file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct PartData {
    /// Which part (0-based).
    pub part: usize,
    /// Of how many.
    pub parts: usize,
    /// The dataset's name.
    pub dataset: String,
    /// Nodes of the whole graph.
    pub num_nodes: usize,
    /// Classes of the whole dataset.
    pub num_classes: usize,
    /// The owned nodes, their rows and the halo.
    pub graph: PartGraph,
    /// The owned nodes' features, one row per owned node (CSR); no stored values when
    /// `features_deferred`.
    pub features: CsMat<f32>,
    /// The features were left on disk, being dense (opened with [`PartFeatures::DenseLater`]):
    /// read them with [`crate::part_features::DenseFeatureReader`].
    pub features_deferred: bool,
    /// The owned nodes' labels.
    pub labels: Vec<usize>,
    /// Owned nodes (global ids) of each split.
    pub train: Vec<usize>,
    /// See `train`.
    pub val: Vec<usize>,
    /// See `train`.
    pub test: Vec<usize>,
}

impl PartData {
    /// Part `part` of `dataset` under the assignment `owner`.
    pub fn extract(dataset: &NodeDataset, owner: &[usize], part: usize, parts: usize) -> PartData {
        let graph = PartGraph::extract(&dataset.graph, owner, part);
        let csr;
        let features = if dataset.features.is_csr() {
            &dataset.features
        } else {
            csr = dataset.features.to_csr();
            &csr
        };
        let mut indptr = vec![0usize];
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        for &i in &graph.nodes {
            let row = features.outer_view(i).expect("an owned node is a row of the features");
            indices.extend_from_slice(row.indices());
            data.extend_from_slice(row.data());
            indptr.push(indices.len());
        }
        let features = CsMat::new((graph.nodes.len(), features.cols()), indptr, indices, data);
        let owned = |split: &[usize]| {
            let mut ids: Vec<usize> = split.iter().copied().filter(|&i| owner[i] == part).collect();
            ids.sort_unstable();
            ids
        };
        PartData {
            part,
            parts,
            dataset: dataset.name.clone(),
            num_nodes: dataset.num_nodes(),
            num_classes: dataset.num_classes,
            labels: graph.nodes.iter().map(|&i| dataset.labels[i]).collect(),
            train: owned(&dataset.train),
            val: owned(&dataset.val),
            test: owned(&dataset.test),
            graph,
            features,
            features_deferred: false,
        }
    }

    /// Scales each owned feature row to sum to one, as [`NodeDataset::row_normalize_features`]
    /// does for the whole dataset (the operation is row by row, so a part can do its share).
    pub fn row_normalize_features(&mut self) {
        crate::dataset::row_normalize(&mut self.features);
    }
}

/// `part-R-of-P.h5`.
pub fn part_file_name(part: usize, parts: usize) -> String {
    format!("part-{part}-of-{parts}.h5")
}

/// sha256 of a dataset's content: graph (CSR arrays), features (shape and CSR arrays), labels
/// and splits, each array's length first.
pub fn dataset_sha256(dataset: &NodeDataset) -> String {
    let mut h = Sha256::new();
    let mut usizes = |values: &[usize]| {
        h.update((values.len() as u64).to_le_bytes());
        values.iter().for_each(|&v| h.update((v as u64).to_le_bytes()));
    };
    usizes(&dataset.graph.indptr());
    usizes(dataset.graph.indices());
    let csr = dataset.features.to_csr();
    usizes(&[csr.rows(), csr.cols()]);
    usizes(&csr.indptr().to_proper());
    usizes(csr.indices());
    usizes(&dataset.labels);
    usizes(&dataset.train);
    usizes(&dataset.val);
    usizes(&dataset.test);
    let mut floats = |values: &[f32]| values.iter().for_each(|v| h.update(v.to_bits().to_le_bytes()));
    floats(dataset.graph.csr().data());
    floats(csr.data());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file's bytes, read in blocks (a part file is never held whole for this).
pub fn file_sha256(path: &Path) -> Result<String, DatasetError> {
    let mut file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| DatasetError::io(path, e))?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buffer[..n]);
    }
}

/// Writes `dataset` cut by `owner` (every node's part, in `0..parts`) into `dir`: each part file
/// atomically, one at a time, then the manifest. An existing manifest is removed first, so a run
/// that fails or dies part-way leaves no manifest; one that fails (a full disk) also removes the
/// part files it wrote. Returns the manifest written.
pub fn write_partition(
    dir: &Path,
    dataset: &NodeDataset,
    owner: &[usize],
    parts: usize,
    method: &str,
    seed: u64,
) -> Result<PartitionManifest, DatasetError> {
    let manifest_path = dir.join(MANIFEST_NAME);
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::unwritable(dir, &e))?;
    remove_if_present(&manifest_path).map_err(|e| DatasetError::unwritable(&manifest_path, &e))?;
    let mut entries = Vec::with_capacity(parts);
    // the part files this run wrote, removed again if it fails (a full disk): it leaves none
    let mut written = RemovedOnDrop::default();
    for part in 0..parts {
        let data = PartData::extract(dataset, owner, part, parts);
        let file = part_file_name(part, parts);
        let path = dir.join(&file);
        write_dataset_file(&path, "writing HDF5", |tmp| write_part(tmp, &data))?;
        written.push(path.clone());
        entries.push(PartEntry {
            file,
            sha256: file_sha256(&path)?,
            nodes: data.graph.nodes.len(),
            entries: data.graph.num_entries(),
            cut_edges: data.graph.cut_edges(),
            halo: data.graph.halo.len(),
        });
    }
    let manifest = PartitionManifest {
        format: PARTITION_FORMAT.into(),
        version: 1,
        dataset: dataset.name.clone(),
        dataset_sha256: dataset_sha256(dataset),
        method: method.into(),
        seed,
        nodes: dataset.num_nodes(),
        entries: dataset.graph.num_entries(),
        features: dataset.num_features(),
        classes: dataset.num_classes,
        cut_edges: entries.iter().map(|e| e.cut_edges).sum(),
        parts: entries,
    };
    let mut json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| DatasetError::format(&manifest_path, format!("cannot encode the manifest: {e}")))?;
    json.push(b'\n');
    write_dataset_file(&manifest_path, "writing the manifest", |tmp| std::fs::write(tmp, &json))?;
    written.keep();
    Ok(manifest)
}

fn write_part(tmp: &Path, data: &PartData) -> hdf5::Result<()> {
    let file = crate::h5file::create(tmp)?;
    let text = |s: &str| s.parse::<VarLenUnicode>().map_err(|e| hdf5::Error::from(format!("{e}")));
    file.new_attr::<VarLenUnicode>().create("format")?.write_scalar(&text(PART_FORMAT)?)?;
    file.new_attr::<VarLenUnicode>().create("dataset")?.write_scalar(&text(&data.dataset)?)?;
    for (name, value) in [
        ("version", 1),
        ("part", data.part),
        ("parts", data.parts),
        ("num_nodes", data.num_nodes),
        ("num_classes", data.num_classes),
    ] {
        file.new_attr::<i64>().create(name)?.write_scalar(&(value as i64))?;
    }
    let ints = |group: &hdf5::Group, name: &str, values: &[usize]| -> hdf5::Result<()> {
        let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        group.new_dataset::<i64>().shape([values.len()]).create(name)?.write_raw(&values)
    };
    let g = &data.graph;
    ints(&file, "nodes", &g.nodes)?;
    let adj = file.create_group("adj")?;
    ints(&adj, "indptr", &g.indptr)?;
    ints(&adj, "indices", &g.indices)?;
    adj.new_dataset::<f32>().shape([g.weights.len()]).create("weights")?.write_raw(&g.weights)?;
    let features = file.create_group("features_csr")?;
    let f = &data.features;
    features.new_dataset::<f32>().shape([f.nnz()]).create("data")?.write_raw(f.data())?;
    ints(&features, "indices", f.indices())?;
    ints(&features, "indptr", &f.indptr().to_proper())?;
    ints(&features, "shape", &[f.rows(), f.cols()])?;
    ints(&file, "labels", &data.labels)?;
    ints(&file, "train", &data.train)?;
    ints(&file, "val", &data.val)?;
    ints(&file, "test", &data.test)?;
    ints(&file, "halo", &g.halo)?;
    ints(&file, "halo_owner", &g.halo_owner)?;
    file.new_dataset::<f64>().shape([g.halo_degree.len()]).create("halo_degree")?.write_raw(&g.halo_degree)?;
    file.close()
}

/// Reads and checks `dir/partition.json`.
pub fn read_manifest(dir: &Path) -> Result<PartitionManifest, DatasetError> {
    let path = dir.join(MANIFEST_NAME);
    let hint =
        || Some("written last by `gdistill partition --out DIR`; a run that did not finish leaves none".to_string());
    let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DatasetError::missing(&path, hint()),
        _ => DatasetError::io(&path, e),
    })?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return Err(DatasetError::format(&path, "not a partition manifest (not a regular file of at most 64 MiB)"));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
    let manifest: PartitionManifest = serde_json::from_str(&text)
        .map_err(|e| DatasetError::format(&path, format!("not a partition manifest: {e}")))?;
    if manifest.format != PARTITION_FORMAT || manifest.version != 1 {
        return Err(DatasetError::format(
            &path,
            format!(
                "format '{}' version {}, expected '{PARTITION_FORMAT}' version 1",
                manifest.format, manifest.version
            ),
        ));
    }
    for (k, entry) in manifest.parts.iter().enumerate() {
        if entry.file != part_file_name(k, manifest.parts.len()) {
            return Err(DatasetError::format(
                &path,
                format!("part {k} is '{}', expected '{}'", entry.file, part_file_name(k, manifest.parts.len())),
            ));
        }
    }
    Ok(manifest)
}

/// Opens part `part` of the partition in `dir` for a job of `parts` processes: the manifest must
/// list exactly `parts` parts, and the part file must be there with the manifest's sha256.
pub fn open_part(dir: &Path, part: usize, parts: usize) -> Result<(PartitionManifest, PartData), DatasetError> {
    let manifest = read_manifest_for(dir, parts)?;
    open_listed_part(dir, manifest, part, parts)
}

/// [`read_manifest`], refused unless it lists exactly `parts` parts (the ranks of the job).
pub fn read_manifest_for(dir: &Path, parts: usize) -> Result<PartitionManifest, DatasetError> {
    let manifest = read_manifest(dir)?;
    if manifest.parts.len() != parts {
        return Err(DatasetError::format(
            dir.join(MANIFEST_NAME),
            format!(
                "{} parts, but the job has {parts} ranks: start it with `mpirun -np {}` or partition again with --parts {parts}",
                manifest.parts.len(),
                manifest.parts.len()
            ),
        ));
    }
    Ok(manifest)
}

/// How a part file's features are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartFeatures {
    /// As CSR arrays, whatever their density.
    Csr,
    /// As CSR when at most a third of the values are stored; otherwise left on disk, for the
    /// caller to read as dense rows (4 bytes a value, not CSR's 12 plus the reading's copies).
    DenseLater,
}

/// Part `part`'s file, checked against `manifest` (from [`read_manifest_for`]).
pub fn open_listed_part(
    dir: &Path,
    manifest: PartitionManifest,
    part: usize,
    parts: usize,
) -> Result<(PartitionManifest, PartData), DatasetError> {
    open_listed_part_with(dir, manifest, part, parts, PartFeatures::Csr, true)
}

/// [`open_listed_part`], reading the features as `features` says; without `adjacency` (a
/// graph-less student's read), `graph` holds the owned nodes only: every row empty, no halo.
pub fn open_listed_part_with(
    dir: &Path,
    manifest: PartitionManifest,
    part: usize,
    parts: usize,
    features: PartFeatures,
    adjacency: bool,
) -> Result<(PartitionManifest, PartData), DatasetError> {
    let manifest_path = dir.join(MANIFEST_NAME);
    let entry = &manifest.parts[part];
    let path: PathBuf = dir.join(&entry.file);
    if !path.is_file() {
        return Err(DatasetError::missing(
            &path,
            Some(format!("part {part} of {parts}, named by {}", manifest_path.display())),
        ));
    }
    let found = file_sha256(&path)?;
    if found != entry.sha256 {
        return Err(DatasetError::format(
            &path,
            format!(
                "sha256 {found} does not match {} ({}): a part file of another partition run? partition again",
                manifest_path.display(),
                entry.sha256
            ),
        ));
    }
    let data = read_part(&path, features, adjacency)
        .map_err(|e| DatasetError::format(&path, format!("reading the part file: {e}")))?;
    let same = data.part == part
        && data.parts == parts
        && data.dataset == manifest.dataset
        && data.num_nodes == manifest.nodes
        && data.graph.nodes.len() == entry.nodes
        && data.features.cols() == manifest.features;
    if !same {
        return Err(DatasetError::format(
            &path,
            format!("its content does not agree with {}", manifest_path.display()),
        ));
    }
    Ok((manifest, data))
}

/// Reads a part file (no hash check: [`open_part`] does that first).
fn read_part(path: &Path, how: PartFeatures, adjacency: bool) -> Result<PartData, String> {
    let file = crate::h5file::open(path).map_err(|e| e.to_string())?;
    let err = |what: &str, e: hdf5::Error| format!("'{what}': {e}");
    let text = |name: &str| -> Result<String, String> {
        file.attr(name).and_then(|a| a.read_scalar::<VarLenUnicode>()).map(|s| s.to_string()).map_err(|e| err(name, e))
    };
    let int = |name: &str| -> Result<usize, String> {
        let v = file.attr(name).and_then(|a| a.read_scalar::<i64>()).map_err(|e| err(name, e))?;
        usize::try_from(v).map_err(|_| format!("attribute '{name}' is {v}"))
    };
    if text("format")? != PART_FORMAT || int("version")? != 1 {
        return Err(format!("not a '{PART_FORMAT}' version 1 file"));
    }
    let ints = |name: &str| -> Result<Vec<usize>, String> {
        let values: Vec<i64> = file.dataset(name).and_then(|d| d.read_raw::<i64>()).map_err(|e| err(name, e))?;
        values.into_iter().map(|v| usize::try_from(v).map_err(|_| format!("'{name}' holds {v}"))).collect()
    };
    let floats = |name: &str| file.dataset(name).and_then(|d| d.read_raw::<f32>()).map_err(|e| err(name, e));
    let nodes = ints("nodes")?;
    let (indptr, indices, weights, halo, halo_owner, halo_degree) = if adjacency {
        let (indptr, indices, weights) = (ints("adj/indptr")?, ints("adj/indices")?, floats("adj/weights")?);
        let (halo, halo_owner) = (ints("halo")?, ints("halo_owner")?);
        let halo_degree =
            file.dataset("halo_degree").and_then(|d| d.read_raw::<f64>()).map_err(|e| err("halo_degree", e))?;
        (indptr, indices, weights, halo, halo_owner, halo_degree)
    } else {
        (vec![0; nodes.len() + 1], Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new())
    };
    let shape = ints("features_csr/shape")?;
    let n = nodes.len();
    let stored = file.dataset("features_csr/data").map_err(|e| err("features_csr/data", e))?.size();
    let deferred = how == PartFeatures::DenseLater
        && shape.len() == 2
        && stored.saturating_mul(3) > shape[0].saturating_mul(shape[1]);
    let (f_indptr, f_indices, f_data) = if deferred {
        (vec![0; n + 1], Vec::new(), Vec::new())
    } else {
        (ints("features_csr/indptr")?, ints("features_csr/indices")?, floats("features_csr/data")?)
    };
    let rows_ok = indptr.len() == n + 1 && indptr.last() == Some(&indices.len()) && weights.len() == indices.len();
    let halo_ok = halo_owner.len() == halo.len() && halo_degree.len() == halo.len();
    if !rows_ok || !halo_ok || shape.len() != 2 || shape[0] != n {
        return Err("arrays of inconsistent lengths".into());
    }
    let features =
        CsMat::try_new((n, shape[1]), f_indptr, f_indices, f_data).map_err(|e| format!("features: {}", e.3))?;
    let labels = ints("labels")?;
    if labels.len() != n {
        return Err(format!("{} labels for {n} nodes", labels.len()));
    }
    Ok(PartData {
        part: int("part")?,
        parts: int("parts")?,
        dataset: text("dataset")?,
        num_nodes: int("num_nodes")?,
        num_classes: int("num_classes")?,
        graph: PartGraph { nodes, indptr, indices, weights, halo, halo_owner, halo_degree },
        features,
        features_deferred: deferred,
        labels,
        train: ints("train")?,
        val: ints("val")?,
        test: ints("test")?,
    })
}
