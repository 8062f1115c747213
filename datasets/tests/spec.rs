//! Spec parsing, the unknown-spec message, dataset validation and the JSON summary.

use std::path::{Path, PathBuf};

use gdistill_datasets::{load, DatasetError, DatasetSpec, NodeDataset};
use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

#[test]
fn specs_parse_into_their_kinds() {
    assert_eq!("cora".parse::<DatasetSpec>().unwrap(), DatasetSpec::Planetoid("cora".into()));
    assert_eq!("CiteSeer".parse::<DatasetSpec>().unwrap(), DatasetSpec::Planetoid("citeseer".into()));
    assert_eq!(
        "linqs:data/cora/cora".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Linqs { prefix: PathBuf::from("data/cora/cora"), strict: false }
    );
    assert_eq!(
        "linqs-strict:x".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Linqs { prefix: PathBuf::from("x"), strict: true }
    );
    assert_eq!(
        "npz:/a/b.npz".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Npz { path: "/a/b.npz".into(), split_index: None }
    );
    assert_eq!(
        "npz:r.npz:3".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Npz { path: "r.npz".into(), split_index: Some(3) }
    );
    assert_eq!(
        "ogb:ogbn_arxiv".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Ogb { dir: "ogbn_arxiv".into(), split: None }
    );
    assert_eq!(
        "ogb:d/ogbn_arxiv:time".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Ogb { dir: "d/ogbn_arxiv".into(), split: Some("time".into()) }
    );
    assert_eq!(
        "csv:edges=e.txt,features=x.npy,labels=y.txt".parse::<DatasetSpec>().unwrap(),
        DatasetSpec::Csv(gdistill_datasets::CsvSpec {
            edges: "e.txt".into(),
            features: "x.npy".into(),
            labels: "y.txt".into(),
            split: None
        })
    );
    for (spec, expect) in [
        ("csv:edges=e.txt,labels=y.txt", "no features=FILE"),
        ("csv:edges=e.txt,features=x,labels=y,colour=red", "unknown key 'colour'"),
        ("csv:edges=a,edges=b,features=x,labels=y", "'edges' given twice"),
    ] {
        let err = spec.parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(err.contains(expect), "{spec}: {err}");
    }
    assert_eq!("h5:g.h5".parse::<DatasetSpec>().unwrap(), DatasetSpec::H5("g.h5".into()));
    assert!(matches!("csbm:nodes=50".parse::<DatasetSpec>().unwrap(), DatasetSpec::Csbm(p) if p.nodes == 50));
}

#[test]
fn unknown_specs_list_the_valid_forms() {
    for spec in ["mystery", "zip:foo", "npz:", "linqs:  ", ""] {
        let err = load(spec, Path::new(".")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DatasetError::Spec { .. }), "{spec}: {text}");
        assert!(text.contains("linqs:PREFIX") && text.contains("csbm:"), "{spec}: {text}");
    }
    let err = load("h5:/definitely/not/here.h5", Path::new(".")).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
}

fn valid() -> NodeDataset {
    NodeDataset {
        name: "v".into(),
        graph: Graph::from_edges(3, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap(),
        features: CsMat::new((3, 2), vec![0, 1, 2, 2], vec![0, 1], vec![1.0, 2.0]),
        labels: vec![0, 1, 1],
        num_classes: 2,
        class_names: vec!["a".into(), "b".into()],
        train: vec![0],
        val: vec![1],
        test: vec![2],
        unlabelled: Vec::new(),
    }
}

#[test]
fn validate_names_each_broken_invariant() {
    assert!(valid().validate().is_ok());
    type Break = fn(&mut NodeDataset);
    let cases: Vec<(Break, &str)> = vec![
        (|d| d.labels = vec![0, 1], "graph has 3 nodes but there are 2 labels"),
        (|d| d.features = CsMat::zero((2, 2)), "features have 2 rows"),
        (|d| d.class_names.pop().map(drop).unwrap_or(()), "1 class names for 2 classes"),
        (|d| d.labels[2] = 2, "node 2 has label 2, outside 0..2"),
        (|d| d.features.data_mut()[0] = f32::NAN, "is NaN"),
        (|d| d.features.data_mut()[1] = f32::INFINITY, "is inf"),
        (|d| d.test.push(3), "Test index 3 is outside 0..3"),
        (|d| d.val.push(0), "node 0 is in both the Train and the Val split"),
        (|d| d.train.clear(), "training split is empty"),
        (|d| d.num_classes = 0, "no classes"),
        (
            |d| {
                d.labels.clear();
                d.graph = Graph::from_edges(0, &[], EdgeOptions::undirected()).unwrap();
            },
            "no nodes",
        ),
    ];
    for (break_it, expect) in cases {
        let mut d = valid();
        break_it(&mut d);
        match d.validate() {
            Err(DatasetError::Invalid { name, message }) => {
                assert_eq!(name, "v");
                assert!(message.contains(expect), "'{message}' lacks '{expect}'");
            }
            other => panic!("expected Invalid containing '{expect}', got {other:?}"),
        }
    }
}

#[test]
fn summary_serialises_to_the_documented_json() {
    let json = serde_json::to_value(valid().summary()).unwrap();
    let expected = serde_json::json!({
        "name": "v", "nodes": 3, "edges": 2, "features": 2, "feature_density": 2.0 / 6.0,
        "classes": 2, "class_counts": [1, 2], "unlabelled": 0, "train": 1, "val": 1, "test": 1,
        "isolated_nodes": 0, "self_loops": 0
    });
    assert_eq!(json, expected);
}
