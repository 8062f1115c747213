//! Split specs: parsing and printing, and the splits `apply_split` draws from them.

use std::collections::HashSet;

use gdistill_datasets::{apply_split, generate_csbm, CsbmParams, DatasetError, NodeDataset, SplitSpec};
use gdistill_graph::{EdgeOptions, Graph};

/// 1 000 nodes in 4 classes of 250.
fn dataset() -> NodeDataset {
    generate_csbm(&"nodes=1000,classes=4,degree=6,features=4,seed=5".parse::<CsbmParams>().unwrap()).unwrap()
}

fn sizes(d: &NodeDataset) -> (usize, usize, usize) {
    (d.train.len(), d.val.len(), d.test.len())
}

fn per_class_counts(d: &NodeDataset, ids: &[usize]) -> Vec<usize> {
    let mut counts = vec![0; d.num_classes];
    for &i in ids {
        counts[d.labels[i]] += 1;
    }
    counts
}

#[test]
fn specs_print_as_they_parse() {
    let cases = [
        ("public", SplitSpec::Public),
        ("per-class:20,30", SplitSpec::PerClass { train: 20, val: 30 }),
        ("random:0.6,0.2", SplitSpec::Random { train: 0.6, val: 0.2 }),
        ("random:0.1,0.1", SplitSpec::Random { train: 0.1, val: 0.1 }),
    ];
    for (text, spec) in cases {
        assert_eq!(text.parse::<SplitSpec>().unwrap(), spec, "{text}");
        assert_eq!(spec.to_string(), text);
        assert_eq!(spec.to_string().parse::<SplitSpec>().unwrap(), spec);
        // serde holds the same text
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<SplitSpec>(&json).unwrap(), spec);
    }
    // spaces and capitals are forgiven; the printed form is canonical
    assert_eq!(" Per-Class: 20 , 30 ".parse::<SplitSpec>().unwrap().to_string(), "per-class:20,30");
    assert_eq!("PUBLIC".parse::<SplitSpec>().unwrap(), SplitSpec::Public);
    // a config holding a bad spec fails to deserialise with the parser's message
    let err = serde_json::from_str::<SplitSpec>("\"random:0.9,0.2\"").unwrap_err().to_string();
    assert!(err.contains("leaves no test nodes"), "{err}");
}

#[test]
fn bad_specs_are_errors() {
    let cases = [
        ("per-class:0,30", "TRAIN must be at least 1"),
        ("per-class:20,0", "VAL must be at least 1"),
        ("per-class:20", "expected two numbers"),
        ("per-class:20,-1", "not a whole number"),
        ("per-class:18446744073709551615,1", "beyond any graph"),
        ("random:0.9,0.2", "leaves no test nodes"),
        ("random:0.5,0.5", "leaves no test nodes"),
        ("random:x", "expected two numbers"),
        ("random:x,0.2", "'x' is not a fraction"),
        ("random:0,0.2", "strictly between 0 and 1"),
        ("random:1.5,0.2", "strictly between 0 and 1"),
        ("random:NaN,0.2", "strictly between 0 and 1"),
        ("random", "needs TRAIN,VAL"),
        ("public:3", "takes no arguments"),
        ("bogus", "unknown split 'bogus'"),
        ("", "unknown split"),
    ];
    for (text, expect) in cases {
        let err = text.parse::<SplitSpec>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expect), "'{text}': '{message}' lacks '{expect}'");
        assert!(message.contains(&format!("split spec '{text}'")), "{message}");
        assert!(message.contains("valid forms"), "{message}");
    }
}

#[test]
fn per_class_takes_exactly_train_per_class_and_depends_on_the_seed() {
    let d = dataset();
    let spec = SplitSpec::PerClass { train: 20, val: 30 };
    let a = apply_split(&d, &spec, 1).unwrap();
    assert_eq!(per_class_counts(&d, &a.train), vec![20; 4]);
    assert_eq!(per_class_counts(&d, &a.val), vec![30; 4]);
    assert_eq!(per_class_counts(&d, &a.test), vec![200; 4]);
    let again = apply_split(&d, &spec, 1).unwrap();
    assert_eq!((&a.train, &a.val, &a.test), (&again.train, &again.val, &again.test), "same seed, other split");
    let other = apply_split(&d, &spec, 2).unwrap();
    assert_ne!(a.train, other.train, "seeds 1 and 2 drew the same training nodes");
    assert_eq!(per_class_counts(&d, &other.train), vec![20; 4]);
    // everything but the split is untouched
    assert_eq!(a.labels, d.labels);
    assert_eq!(a.features, d.features);
    assert_eq!(a.graph, d.graph);
    // the generator's own seed (5) gives the generator's own split
    let own = apply_split(&d, &spec, 5).unwrap();
    assert_eq!((own.train, own.val, own.test), (d.train.clone(), d.val.clone(), d.test.clone()));
}

#[test]
fn random_splits_have_the_asked_sizes_and_cover_every_node_once() {
    let d = dataset();
    let spec = SplitSpec::Random { train: 0.6, val: 0.2 };
    let a = apply_split(&d, &spec, 7).unwrap();
    assert_eq!(sizes(&a), (600, 200, 200));
    let mut all: Vec<usize> = a.train.iter().chain(&a.val).chain(&a.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>(), "not a partition of the nodes");
    for ids in [&a.train, &a.val, &a.test] {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "split not sorted");
    }
    let again = apply_split(&d, &spec, 7).unwrap();
    assert_eq!(a.train, again.train);
    let other = apply_split(&d, &spec, 8).unwrap();
    assert_ne!(a.train, other.train);
    // uneven fractions round to the nearest node
    let b = apply_split(&d, &SplitSpec::Random { train: 0.1234, val: 0.0015 }, 0).unwrap();
    assert_eq!(sizes(&b), (123, 2, 875));
    let train: HashSet<usize> = b.train.iter().copied().collect();
    assert!(b.val.iter().chain(&b.test).all(|i| !train.contains(i)));
}

#[test]
fn public_keeps_the_split() {
    let d = dataset();
    for seed in [0, 1, 99] {
        let p = apply_split(&d, &SplitSpec::Public, seed).unwrap();
        assert_eq!((p.train, p.val, p.test), (d.train.clone(), d.val.clone(), d.test.clone()));
    }
}

fn invalid_message(result: Result<NodeDataset, DatasetError>) -> String {
    match result {
        Err(DatasetError::Invalid { name, message }) => format!("{name}: {message}"),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn splits_that_cannot_be_drawn_are_errors_naming_the_dataset() {
    let d = dataset();
    // specs built directly, around the parser
    let message = invalid_message(apply_split(&d, &SplitSpec::PerClass { train: 0, val: 5 }, 0));
    assert!(message.starts_with("csbm: split per-class:0,5: 0 training nodes"), "{message}");
    let message = invalid_message(apply_split(&d, &SplitSpec::Random { train: 0.7, val: 0.3 }, 0));
    assert!(message.contains("leaves no test nodes"), "{message}");
    let message = invalid_message(apply_split(&d, &SplitSpec::Random { train: -0.1, val: 0.3 }, 0));
    assert!(message.contains("strictly between 0 and 1"), "{message}");
    // one node per class: every node trains, nothing is left for validation or test
    let singles = NodeDataset {
        name: "singles".into(),
        graph: Graph::from_edges(3, &[(0, 1), (1, 2)], EdgeOptions::undirected()).unwrap(),
        features: sprs::CsMat::eye(3),
        labels: vec![0, 1, 2],
        num_classes: 3,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        train: vec![0],
        val: vec![1],
        test: vec![2],
        unlabelled: Vec::new(),
    };
    let message = invalid_message(apply_split(&singles, &SplitSpec::PerClass { train: 20, val: 30 }, 0));
    assert!(message.starts_with("singles: split per-class:20,30: the validation split is empty"), "{message}");
    // a tiny graph cannot spare a training node for 0.1 %
    let tiny = generate_csbm(&"nodes=20,classes=2,degree=2,features=2".parse::<CsbmParams>().unwrap()).unwrap();
    let message = invalid_message(apply_split(&tiny, &SplitSpec::Random { train: 0.001, val: 0.5 }, 0));
    assert!(message.contains("the training split is empty"), "{message}");
    let message = invalid_message(apply_split(&tiny, &SplitSpec::Random { train: 0.5, val: 0.01 }, 0));
    assert!(message.contains("the validation split is empty"), "{message}");
}

/// The random split once shuffled with the stream the CSBM generator permutes its nodes with:
/// for the same seed, a 60% training split then held classes 0-5 only and every GCN scored 0.
#[test]
fn a_random_split_of_a_csbm_graph_is_independent_of_its_classes() {
    let dataset =
        gdistill_datasets::load("csbm:nodes=2000,classes=10,degree=4,features=4,seed=0", std::path::Path::new("."))
            .unwrap();
    for seed in 0..3 {
        let split = apply_split(&dataset, &"random:0.6,0.2".parse().unwrap(), seed).unwrap();
        let mut per_class = vec![0usize; 10];
        for &v in &split.train {
            per_class[split.labels[v]] += 1;
        }
        // 1 200 training nodes over 10 classes of 200: each class near 120.
        assert!(per_class.iter().all(|&c| (80..=160).contains(&c)), "seed {seed}: {per_class:?}");
    }
}

/// The CSBM graph above with every tenth node's label taken away (its `labels` entry left as the
/// class it had, which must not matter).
fn with_unlabelled() -> NodeDataset {
    let mut d = dataset();
    d.unlabelled = (0..d.num_nodes()).step_by(10).collect();
    let unlabelled: HashSet<usize> = d.unlabelled.iter().copied().collect();
    for split in [&mut d.train, &mut d.val, &mut d.test] {
        split.retain(|v| !unlabelled.contains(v));
    }
    d.validate().unwrap();
    d
}

#[test]
fn drawn_splits_never_pick_an_unlabelled_node() {
    let d = with_unlabelled();
    let unlabelled: HashSet<usize> = d.unlabelled.iter().copied().collect();
    // 1 000 nodes, 100 unlabelled: the class counts are of the 900 others
    let counts = d.class_counts();
    assert_eq!(counts.iter().sum::<usize>(), 900);
    let want: Vec<usize> =
        (0..4).map(|c| (0..1000).filter(|v| !unlabelled.contains(v) && d.labels[*v] == c).count()).collect();
    assert_eq!(counts, want);
    assert_eq!(d.summary().unlabelled, 100);
    for spec in ["per-class:20,30", "per-class:400,100", "random:0.6,0.2"] {
        for seed in 0..4 {
            let s = apply_split(&d, &spec.parse().unwrap(), seed).unwrap();
            for (name, ids) in [("train", &s.train), ("val", &s.val), ("test", &s.test)] {
                assert!(
                    ids.iter().all(|v| !unlabelled.contains(v)),
                    "{spec} seed {seed}: an unlabelled node in {name}"
                );
            }
            // every labelled node has a split, and the dataset still knows which have no label
            assert_eq!(s.train.len() + s.val.len() + s.test.len(), 900, "{spec} seed {seed}");
            assert_eq!(s.unlabelled, d.unlabelled);
        }
    }
    // a random split's fractions are of the labelled nodes
    let s = apply_split(&d, &"random:0.6,0.2".parse().unwrap(), 0).unwrap();
    assert_eq!(sizes(&s), (540, 180, 180));
    // a class of 250 nodes with 25 unlabelled gives 225 to a per-class split that asks for more
    let s = apply_split(&d, &"per-class:400,100".parse().unwrap(), 0).unwrap();
    assert_eq!(per_class_counts(&s, &s.train), want.iter().map(|&n| n.min(400).min(n / 2)).collect::<Vec<_>>());
}

#[test]
fn a_given_split_naming_an_unlabelled_node_is_refused() {
    let mut d = with_unlabelled();
    d.test.push(d.unlabelled[3]);
    d.test.sort_unstable();
    let message = invalid_message(d.validate().map(|_| d.clone()));
    assert!(message.contains("node 30 has no label but is in the test split"), "{message}");
    let mut d = with_unlabelled();
    d.unlabelled.swap(0, 1);
    let message = invalid_message(d.validate().map(|_| d.clone()));
    assert!(message.contains("unlabelled nodes are not sorted"), "{message}");
    let mut d = with_unlabelled();
    d.unlabelled.push(5000);
    let message = invalid_message(d.validate().map(|_| d.clone()));
    assert!(message.contains("unlabelled node 5000 is outside 0..1000"), "{message}");
}
