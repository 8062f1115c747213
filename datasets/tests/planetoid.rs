//! The Planetoid loader on the real Cora, Citeseer and (incomplete) Pubmed files.

#[path = "../../tests/support/data.rs"]
mod common;

use gdistill_datasets::{load, load_with_report, DatasetError};

#[test]
fn cora_matches_the_published_figures() {
    let Some(dir) = common::data_dir("cora") else { return };
    let d = load("cora", dir.parent().unwrap()).unwrap();
    let s = d.summary();
    assert_eq!((s.nodes, s.edges, s.features, s.classes), (2708, 5278, 1433, 7));
    assert_eq!((s.train, s.val, s.test), (140, 500, 1000));
    assert_eq!((s.isolated_nodes, s.self_loops), (0, 0));
    assert_eq!(d.features.nnz(), 49216);
    assert_eq!(s.class_counts, vec![351, 217, 418, 818, 426, 298, 180]);
    assert_eq!(d.class_names[3], "Neural_Networks");
    // 20 training nodes per class, the public split
    let mut per_class = vec![0; 7];
    for &i in &d.train {
        per_class[d.labels[i]] += 1;
    }
    assert_eq!(per_class, vec![20; 7]);
    assert_eq!(d.val, (140..640).collect::<Vec<_>>());
    assert!(d.test.iter().all(|&i| (1708..2708).contains(&i)));
    assert!(d.features.data().iter().all(|&v| v == 1.0));
}

#[test]
fn citeseer_has_the_gap_nodes_and_isolated_nodes() {
    let Some(dir) = common::data_dir("citeseer") else { return };
    let (d, report) = load_with_report("citeseer", dir.parent().unwrap()).unwrap();
    let s = d.summary();
    assert_eq!((s.nodes, s.edges, s.features, s.classes), (3327, 4552, 3703, 6));
    assert_eq!((s.train, s.val, s.test), (120, 500, 1000));
    assert_eq!(s.isolated_nodes, 48);
    let gaps = &report.planetoid.as_ref().unwrap().nodes_without_data;
    assert_eq!(gaps.len(), 15);
    assert_eq!(gaps[0], 2407);
    for &g in gaps {
        assert_eq!(d.features.outer_view(g).unwrap().nnz(), 0);
        assert_eq!(d.labels[g], 0);
        assert!(!d.test.contains(&g));
    }
    assert_eq!(report.notes.len(), 1);
    // the gap nodes have no label: not counted, so class 0 (AI) has the 249 papers of the LINQS
    // files, not 264
    assert_eq!(&d.unlabelled, gaps);
    assert_eq!(s.unlabelled, 15);
    assert_eq!(s.class_counts, vec![249, 590, 668, 701, 596, 508]);
}

#[test]
fn pubmed_without_allx_is_a_clear_missing_error() {
    let Some(dir) = common::data_dir("pubmed") else { return };
    let err = load("pubmed", dir.parent().unwrap()).unwrap_err();
    match &err {
        DatasetError::Missing { path, hint } => {
            assert!(path.ends_with("ind.pubmed.allx"), "{err}");
            assert!(hint.as_deref().unwrap_or("").contains("features of most nodes"), "{err}");
        }
        other => panic!("expected Missing, got {other}"),
    }
    assert!(err.to_string().contains("ind.pubmed.allx"));
}

#[test]
fn a_missing_planetoid_folder_names_the_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = load("cora", dir.path()).unwrap_err();
    assert!(matches!(&err, DatasetError::Missing { path, .. } if path.ends_with("cora/ind.cora.x")), "{err}");
}

/// Copies Cora's Planetoid files to a temporary folder where a test may damage them.
fn cora_copy() -> Option<tempfile::TempDir> {
    let src = common::data_dir("cora")?;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("cora")).unwrap();
    for ext in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"] {
        let name = format!("ind.cora.{ext}");
        std::fs::copy(src.join(&name), tmp.path().join("cora").join(&name)).unwrap();
    }
    Some(tmp)
}

fn expect_format(tmp: &tempfile::TempDir, file: &str, expect: &str) {
    match load("cora", tmp.path()) {
        Err(DatasetError::Format { path, message }) => {
            assert!(path.ends_with(file), "{path:?} is not {file}");
            assert!(message.contains(expect), "'{message}' lacks '{expect}'");
        }
        other => panic!("expected a Format error on {file} containing '{expect}', got {other:?}"),
    }
}

#[test]
fn damaged_planetoid_files_are_format_errors_naming_the_file() {
    let Some(tmp) = cora_copy() else { return };
    let dir = tmp.path().join("cora");
    let graph = std::fs::read(dir.join("ind.cora.graph")).unwrap();
    std::fs::write(dir.join("ind.cora.graph"), &graph[..graph.len() / 2]).unwrap();
    expect_format(&tmp, "ind.cora.graph", "truncated");
    std::fs::write(dir.join("ind.cora.graph"), &graph).unwrap();

    // tx and ty swapped: a label array where a sparse matrix belongs
    std::fs::copy(dir.join("ind.cora.ty"), dir.join("ind.cora.tx")).unwrap();
    expect_format(&tmp, "ind.cora.tx", "expected a scipy sparse matrix");
    std::fs::copy(common::data_dir("cora").unwrap().join("ind.cora.tx"), dir.join("ind.cora.tx")).unwrap();

    let index = std::fs::read_to_string(dir.join("ind.cora.test.index")).unwrap();
    std::fs::write(dir.join("ind.cora.test.index"), index.replacen("2692", "abc", 1)).unwrap();
    expect_format(&tmp, "ind.cora.test.index", "line 1: 'abc' is not a node index");
    std::fs::write(dir.join("ind.cora.test.index"), index.replacen("2692", "5", 1)).unwrap();
    expect_format(&tmp, "ind.cora.test.index", "test node 5 collides with allx row 5");
    std::fs::write(dir.join("ind.cora.test.index"), index.replacen("2692", "2532", 1)).unwrap();
    expect_format(&tmp, "ind.cora.test.index", "listed twice");
    let shorter: String = index.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("ind.cora.test.index"), shorter).unwrap();
    expect_format(&tmp, "ind.cora.test.index", "999 test indices, 1000 rows in tx");
    std::fs::write(dir.join("ind.cora.test.index"), &index).unwrap();

    // a graph dict naming a node that does not exist: {0: [99999]}
    let bad_graph = b"\x80\x02ccollections\ndefaultdict\nq\x00c__builtin__\nlist\nq\x01\x85q\x02Rq\x03K\x00]q\x04J\x9f\x86\x01\x00as.";
    std::fs::write(dir.join("ind.cora.graph"), bad_graph).unwrap();
    expect_format(&tmp, "ind.cora.graph", "edge (0, 99999) names a node outside 0..2708");
    std::fs::write(dir.join("ind.cora.graph"), &graph).unwrap();
    assert!(load("cora", tmp.path()).is_ok());
}
