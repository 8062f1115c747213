//! Dataset specs: one string names a dataset and where it comes from.
//!
//! | spec | source |
//! | --- | --- |
//! | `cora`, `citeseer`, `pubmed` | Planetoid files `DATA_DIR/<name>/ind.<name>.*` ([`crate::planetoid`]) |
//! | `linqs:PREFIX` | LINQS `PREFIX.content` + `PREFIX.cites`; unknown citations dropped and reported ([`crate::linqs`]) |
//! | `linqs-strict:PREFIX` | the same, unknown citations are an error |
//! | `npz:PATH`, `npz:PATH:K` | gnn-benchmark `.npz` ([`crate::npz`]), or the heterophilous-graph layout with its stored split `K` (default 0; [`crate::npz::hetero`]) |
//! | `ogb:DIR`, `ogb:DIR:SPLIT` | OGB's node-property layout, its only split or the one named ([`crate::ogb`]) |
//! | `csv:edges=FILE,features=FILE,labels=FILE[,split=FILE]` | an edge list, a feature table (or `.npy`), labels ([`crate::csv_graph`]) |
//! | `h5:PATH` | gdistill HDF5 graph ([`crate::h5graph`]) |
//! | `csbm:key=value,...` | synthetic CSBM ([`crate::csbm`]) |
//!
//! Image specs (`mnist:DIR`, `digits:FILE`) are refused here with a pointer to
//! [`crate::load_images`]: images have no graph between them. Point-cloud specs (`modelnet:DIR`)
//! likewise, with a pointer to [`crate::load_pointclouds`].
//!
//! A relative `PREFIX` / `PATH` / `DIR` / `FILE` is taken as given when it exists, else under `DATA_DIR`
//! (so `linqs:cora/cora` finds `DATA_DIR/cora/cora.content`). Loaders print nothing: what they
//! noticed comes back in a [`LoadReport`] from [`load_with_report`].
//!
//! ```
//! use gdistill_datasets::{load, DatasetError};
//! let d = load("csbm:nodes=300,classes=3,degree=4,features=5", std::path::Path::new(".")).unwrap();
//! assert_eq!(d.num_nodes(), 300);
//! assert!(matches!(load("mystery", std::path::Path::new(".")), Err(DatasetError::Spec { .. })));
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::csbm::{generate_csbm, CsbmParams};
use crate::csv_graph::{load_csv, CsvSpec};
use crate::linqs::{linqs_files, load_linqs, LinqsOptions, LinqsReport};
use crate::planetoid::{load_planetoid_with_report, PlanetoidReport};
use crate::split::SplitOptions;
use crate::{DatasetError, NodeDataset};

/// The valid spec forms, for error messages and `--help`.
pub const SPEC_FORMS: &str = "cora | citeseer | pubmed (Planetoid files under DATA_DIR/<name>/), \
linqs:PREFIX (PREFIX.content + PREFIX.cites), linqs-strict:PREFIX (unknown citations are errors), \
npz:PATH[:K] (gnn-benchmark .npz, or heterophilous-graph .npz with stored split K), \
ogb:DIR[:SPLIT] (OGB node-property folder), csv:edges=FILE,features=FILE,labels=FILE[,split=FILE], \
h5:PATH (gdistill HDF5 graph), \
csbm:nodes=N,classes=C,degree=D,homophily=H,features=F,signal=S,seed=K (synthetic; every key optional)";

/// A parsed dataset spec.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetSpec {
    /// A Planetoid dataset under `DATA_DIR/<name>/` (`cora`, `citeseer`, `pubmed`).
    Planetoid(String),
    /// LINQS text files `PREFIX.content` + `PREFIX.cites`.
    Linqs {
        /// Path prefix of the two files.
        prefix: PathBuf,
        /// Whether unknown citations are errors.
        strict: bool,
    },
    /// A gnn-benchmark or heterophilous-graph `.npz` file.
    Npz {
        /// The file.
        path: PathBuf,
        /// Which stored split of a heterophilous-layout file (`None`: the first).
        split_index: Option<usize>,
    },
    /// An OGB node-property dataset folder.
    Ogb {
        /// The dataset folder (holding `raw/` and `split/`).
        dir: PathBuf,
        /// The split folder under `split/` (`None`: the only one).
        split: Option<String>,
    },
    /// An edge list, a feature table and labels.
    Csv(CsvSpec),
    /// A gdistill HDF5 graph file.
    H5(PathBuf),
    /// A synthetic CSBM graph.
    Csbm(CsbmParams),
}

impl FromStr for DatasetSpec {
    type Err = DatasetError;

    fn from_str(spec: &str) -> Result<Self, DatasetError> {
        let bad = |m: String| DatasetError::spec(spec, m);
        let nonempty = |rest: &str, what: &str| {
            if rest.trim().is_empty() {
                Err(bad(format!("{what} is empty; valid forms: {SPEC_FORMS}")))
            } else {
                Ok(PathBuf::from(rest.trim()))
            }
        };
        let lower = spec.trim().to_ascii_lowercase();
        if crate::images::is_image_spec(spec) {
            return Err(bad(format!(
                "an image dataset, not a node dataset: `gdistill compare` takes it, and the library loads it with \
                 load_images ({})",
                crate::images::IMAGE_SPEC_FORMS
            )));
        }
        if crate::pointcloud::is_pointcloud_spec(spec) {
            return Err(bad(format!(
                "a point-cloud dataset, not a node dataset: `gdistill compare` takes it, and the library loads it \
                 with load_pointclouds ({})",
                crate::pointcloud::POINTCLOUD_SPEC_FORMS
            )));
        }
        if matches!(lower.as_str(), "cora" | "citeseer" | "pubmed") {
            return Ok(DatasetSpec::Planetoid(lower));
        }
        let Some((kind, rest)) = spec.trim().split_once(':') else {
            return Err(bad(format!("unknown dataset; valid forms: {SPEC_FORMS}")));
        };
        match kind.to_ascii_lowercase().as_str() {
            "linqs" => Ok(DatasetSpec::Linqs { prefix: nonempty(rest, "PREFIX")?, strict: false }),
            "linqs-strict" => Ok(DatasetSpec::Linqs { prefix: nonempty(rest, "PREFIX")?, strict: true }),
            "npz" => {
                // A trailing `:K` of digits picks a stored split; no real .npz path ends so.
                let (path, split_index) = match rest.trim().rsplit_once(':') {
                    Some((path, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => {
                        let k = k.parse().map_err(|_| bad(format!("split index '{k}' is too large")))?;
                        (path, Some(k))
                    }
                    _ => (rest, None),
                };
                Ok(DatasetSpec::Npz { path: nonempty(path, "PATH")?, split_index })
            }
            "ogb" => {
                let (dir, split) = match rest.trim().rsplit_once(':') {
                    Some((dir, name)) if !name.trim().is_empty() && !name.contains('/') => {
                        (dir, Some(name.trim().to_string()))
                    }
                    _ => (rest, None),
                };
                Ok(DatasetSpec::Ogb { dir: nonempty(dir, "DIR")?, split })
            }
            "csv" => rest.parse().map(DatasetSpec::Csv).map_err(bad),
            "h5" | "hdf5" => Ok(DatasetSpec::H5(nonempty(rest, "PATH")?)),
            "csbm" => rest.parse().map(DatasetSpec::Csbm).map_err(bad),
            _ => Err(bad(format!("unknown dataset kind '{kind}'; valid forms: {SPEC_FORMS}"))),
        }
    }
}

/// What the loader noticed beyond the dataset, for the caller to show (loaders print nothing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// One line per notable thing, ready to print.
    pub notes: Vec<String>,
    /// The LINQS loader's counts, for `linqs:` specs.
    pub linqs: Option<LinqsReport>,
    /// The Planetoid loader's findings, for Planetoid specs.
    pub planetoid: Option<PlanetoidReport>,
}

/// `path` as given when `probe(path)` exists, else under `data_dir` when that exists there.
fn resolve(path: &Path, data_dir: &Path, probe: impl Fn(&Path) -> PathBuf) -> PathBuf {
    if probe(path).exists() || path.is_absolute() {
        return path.to_path_buf();
    }
    let under = data_dir.join(path);
    if probe(&under).exists() {
        under
    } else {
        path.to_path_buf()
    }
}

impl DatasetSpec {
    /// Loads the dataset, with what the loader noticed.
    pub fn load_with_report(&self, data_dir: &Path) -> Result<(NodeDataset, LoadReport), DatasetError> {
        let mut report = LoadReport::default();
        let dataset = match self {
            DatasetSpec::Planetoid(name) => {
                let (dataset, found) = load_planetoid_with_report(&data_dir.join(name), name)?;
                if !found.nodes_without_data.is_empty() {
                    report.notes.push(format!(
                        "{name}: {} nodes in the test-index range have no features or labels (zero rows, class 0, in no split)",
                        found.nodes_without_data.len()
                    ));
                }
                report.planetoid = Some(found);
                dataset
            }
            DatasetSpec::Linqs { prefix, strict } => {
                let prefix = resolve(prefix, data_dir, |p| linqs_files(p).0);
                let opts = LinqsOptions { strict: *strict, split: SplitOptions::default() };
                let (dataset, found) = load_linqs(&prefix, &opts)?;
                if found.unknown_citations > 0 {
                    let first = &found.examples[0];
                    report.notes.push(format!(
                        "{}: {} of {} citations name papers absent from {} and were left out (first: line {}, '{}' cited by '{}')",
                        linqs_files(&prefix).1.display(),
                        found.unknown_citations,
                        found.citations,
                        linqs_files(&prefix).0.display(),
                        first.line,
                        first.cited,
                        first.citing
                    ));
                }
                report.linqs = Some(found);
                dataset
            }
            DatasetSpec::Npz { path, split_index } => {
                crate::npz::load_npz_split(&resolve(path, data_dir, Path::to_path_buf), *split_index)?
            }
            DatasetSpec::Ogb { dir, split } => {
                let (dataset, notes) =
                    crate::ogb::load_ogb(&resolve(dir, data_dir, Path::to_path_buf), split.as_deref())?;
                report.notes.extend(notes);
                dataset
            }
            DatasetSpec::Csv(files) => load_csv(&files.map_paths(|p| resolve(p, data_dir, Path::to_path_buf)))?,
            DatasetSpec::H5(path) => crate::h5graph::read_h5graph(&resolve(path, data_dir, Path::to_path_buf))?,
            DatasetSpec::Csbm(params) => generate_csbm(params)?,
        };
        Ok((dataset, report))
    }

    /// This spec with stored split `index` (`--split-index`): only heterophilous-layout npz files
    /// store several splits; for any other spec, or an `npz:PATH:K` naming another index, an
    /// index is an error (for the caller to put beside the spec's text) rather than something
    /// silently ignored.
    pub fn with_split_index(self, index: usize) -> Result<DatasetSpec, String> {
        match self {
            DatasetSpec::Npz { path, split_index: None } => Ok(DatasetSpec::Npz { path, split_index: Some(index) }),
            DatasetSpec::Npz { split_index: Some(k), .. } if k == index => Ok(self),
            DatasetSpec::Npz { split_index: Some(k), .. } => {
                Err(format!("the spec names stored split {k} and --split-index {index}: give one"))
            }
            _ => Err("--split-index applies to npz files that store several splits (the heterophilous-graph \
                      layout: train_masks, val_masks, test_masks)"
                .into()),
        }
    }

    /// Loads the dataset.
    pub fn load(&self, data_dir: &Path) -> Result<NodeDataset, DatasetError> {
        self.load_with_report(data_dir).map(|(dataset, _)| dataset)
    }
}

/// Parses `spec` and loads the dataset (Planetoid files under `data_dir`).
pub fn load(spec: &str, data_dir: &Path) -> Result<NodeDataset, DatasetError> {
    spec.parse::<DatasetSpec>()?.load(data_dir)
}

/// [`load`], also returning what the loader noticed (unknown LINQS citations, ...).
pub fn load_with_report(spec: &str, data_dir: &Path) -> Result<(NodeDataset, LoadReport), DatasetError> {
    spec.parse::<DatasetSpec>()?.load_with_report(data_dir)
}
