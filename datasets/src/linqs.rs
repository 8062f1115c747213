//! LINQS citation datasets: `PREFIX.content` and `PREFIX.cites` (Cora, Citeseer as distributed by
//! the LINQS group).
//!
//! - `PREFIX.content`: one paper per line, whitespace-separated: `<paper id> <feature>... <class>`.
//!   Papers are numbered `0..n` in file order; class names are sorted alphabetically and labels
//!   index that list. Every line must have the same number of fields; ids must be unique.
//! - `PREFIX.cites`: one citation per line, `<cited id> <citing id>`. The graph is undirected,
//!   self-citations dropped, repeated and reciprocal citations merged.
//!
//! A citation naming a paper absent from `.content` (Citeseer's file has 17) is never dropped
//! silently: by default it is left out of the graph and counted in the [`LinqsReport`]; with
//! [`LinqsOptions::strict`] it is an error. The loader prints nothing. LINQS has no standard split:
//! a seeded per-class split ([`crate::split`]) is drawn.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

use crate::error::read_file;
use crate::split::{per_class_split, SplitOptions};
use crate::{DatasetError, NodeDataset};

/// How strictly to read a LINQS dataset, and how to split it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinqsOptions {
    /// Fail on a citation that names a paper absent from `.content` (default: drop and report).
    pub strict: bool,
    /// The per-class split to draw.
    pub split: SplitOptions,
}

/// One citation line naming a paper that `.content` does not list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCitation {
    /// 1-based line number in `.cites`.
    pub line: usize,
    /// First id on the line.
    pub cited: String,
    /// Second id on the line.
    pub citing: String,
}

/// What the LINQS loader left out or merged, for the caller to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinqsReport {
    /// Citation lines in `.cites`.
    pub citations: usize,
    /// Lines naming at least one unknown paper (left out of the graph).
    pub unknown_citations: usize,
    /// The first few of them (at most [`LinqsReport::MAX_EXAMPLES`]).
    pub examples: Vec<UnknownCitation>,
    /// Lines citing the paper itself (dropped: the graph has no self-loops).
    pub self_citations: usize,
    /// Lines that repeat an edge already present in either direction (merged).
    pub merged_citations: usize,
}

impl LinqsReport {
    /// How many unknown citations are kept as examples.
    pub const MAX_EXAMPLES: usize = 5;
}

/// The `(PREFIX.content, PREFIX.cites)` file paths of a LINQS prefix.
pub fn linqs_files(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".content"), with(".cites"))
}

fn read_text(path: &Path, hint: &str) -> Result<String, DatasetError> {
    String::from_utf8(read_file(path, hint)?).map_err(|e| DatasetError::format(path, format!("not UTF-8 text: {e}")))
}

/// Loads `PREFIX.content` + `PREFIX.cites`; the dataset is named after the prefix's file name.
pub fn load_linqs(prefix: &Path, opts: &LinqsOptions) -> Result<(NodeDataset, LinqsReport), DatasetError> {
    let (content_path, cites_path) = linqs_files(prefix);
    let content = read_text(&content_path, "LINQS node file: <paper id> <features...> <class> per line")?;
    let cites = read_text(&cites_path, "LINQS citation file: <cited id> <citing id> per line")?;

    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut label_names: Vec<&str> = Vec::new();
    let (mut indptr, mut indices, mut data) = (vec![0usize], Vec::new(), Vec::new());
    let mut num_fields = None;
    for (k, line) in content.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |m: String| DatasetError::format(&content_path, format!("line {}: {m}", k + 1));
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            return Err(bad("expected '<paper id> <features...> <class>'".into()));
        }
        match num_fields {
            None => num_fields = Some(fields.len()),
            Some(f) if f != fields.len() => {
                return Err(bad(format!("{} fields, but the first line has {f}", fields.len())))
            }
            _ => {}
        }
        if ids.insert(fields[0], ids.len()).is_some() {
            return Err(bad(format!("paper id '{}' appears twice", fields[0])));
        }
        for (j, text) in fields[1..fields.len() - 1].iter().enumerate() {
            let v: f32 = text.parse().map_err(|_| bad(format!("feature {j} is '{text}', not a number")))?;
            if !v.is_finite() {
                return Err(bad(format!("feature {j} is {v}: features must be finite")));
            }
            if v != 0.0 {
                indices.push(j);
                data.push(v);
            }
        }
        indptr.push(indices.len());
        label_names.push(fields[fields.len() - 1]);
    }
    let n = ids.len();
    if n == 0 {
        return Err(DatasetError::format(&content_path, "no papers"));
    }
    let num_features = num_fields.unwrap_or(2) - 2;
    let features = CsMat::try_new((n, num_features), indptr, indices, data)
        .map_err(|(_, _, _, e)| DatasetError::format(&content_path, format!("invalid features: {e}")))?;
    let mut class_names: Vec<String> = label_names.iter().map(|s| s.to_string()).collect();
    class_names.sort();
    class_names.dedup();
    let labels: Vec<usize> =
        label_names.iter().map(|l| class_names.binary_search_by(|c| c.as_str().cmp(l)).expect("listed")).collect();

    let mut report = LinqsReport::default();
    let mut edges = Vec::new();
    for (k, line) in cites.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let &[cited, citing] = fields.as_slice() else {
            return Err(DatasetError::format(
                &cites_path,
                format!("line {}: expected '<cited id> <citing id>'", k + 1),
            ));
        };
        report.citations += 1;
        match (ids.get(cited), ids.get(citing)) {
            (Some(&a), Some(&b)) if a == b => report.self_citations += 1,
            (Some(&a), Some(&b)) => edges.push((b, a)),
            _ => {
                let unknown = UnknownCitation { line: k + 1, cited: cited.to_string(), citing: citing.to_string() };
                if opts.strict {
                    let missing = if ids.contains_key(cited) { citing } else { cited };
                    return Err(DatasetError::format(
                        &cites_path,
                        format!("line {}: paper '{missing}' is not in {}", unknown.line, content_path.display()),
                    ));
                }
                report.unknown_citations += 1;
                if report.examples.len() < LinqsReport::MAX_EXAMPLES {
                    report.examples.push(unknown);
                }
            }
        }
    }
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected())
        .map_err(|e| DatasetError::format(&cites_path, e.to_string()))?;
    report.merged_citations = edges.len() - graph.num_undirected_edges();

    let num_classes = class_names.len();
    let split = per_class_split(&labels, num_classes, &opts.split);
    let name = prefix.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "linqs".into());
    let dataset = NodeDataset {
        name,
        graph,
        features,
        labels,
        num_classes,
        class_names,
        train: split.train,
        val: split.val,
        test: split.test,
        unlabelled: Vec::new(),
    };
    dataset.validate()?;
    Ok((dataset, report))
}
