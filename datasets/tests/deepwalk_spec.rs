//! The `deepwalk:K` feature specs: text round trip, one clear message per bad input, columns
//! appended where the embedder says, and held-out nodes given their observed neighbours' mean.

use gdistill_datasets::deepwalk::{extend_to_held_out, ColumnScale, DeepWalkSpec};
use gdistill_datasets::{apply_features, apply_features_with, generate_csbm, CsbmParams, FeatureSpec, NodeDataset};
use gdistill_graph::{EdgeOptions, Graph};

fn csbm(features: usize) -> NodeDataset {
    let params = format!("nodes=40,classes=2,degree=4,features={features},seed=3");
    generate_csbm(&params.parse::<CsbmParams>().unwrap()).unwrap()
}

#[test]
fn deepwalk_specs_print_as_they_parse() {
    let custom = DeepWalkSpec { dim: 8, walk_length: 20, walks_per_node: 2, window: 3, epochs: 4, scale: None };
    let scaled = DeepWalkSpec { scale: Some(ColumnScale::new(0.05).unwrap()), ..DeepWalkSpec::new(64) };
    let cases = [
        ("deepwalk:64", FeatureSpec::DeepWalk(DeepWalkSpec::new(64))),
        ("given+deepwalk:16", FeatureSpec::GivenPlusDeepWalk(DeepWalkSpec::new(16))),
        ("deepwalk:8:walk=20,walks=2,window=3,epochs=4", FeatureSpec::DeepWalk(custom)),
        (
            "given+deepwalk:32:window=2",
            FeatureSpec::GivenPlusDeepWalk(DeepWalkSpec { window: 2, ..DeepWalkSpec::new(32) }),
        ),
        ("given+deepwalk:64:scale=0.05", FeatureSpec::GivenPlusDeepWalk(scaled)),
    ];
    for (text, spec) in cases {
        assert_eq!(text.parse::<FeatureSpec>().unwrap(), spec, "{text}");
        assert_eq!(spec.to_string(), text);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<FeatureSpec>(&json).unwrap(), spec);
    }
    // Keys in any order and case, spaces around them; a key set to its default is dropped.
    let loose = " DeepWalk: 8 : epochs=4, WINDOW = 3,walks=2, walk=20 ".parse::<FeatureSpec>().unwrap();
    assert_eq!(loose, FeatureSpec::DeepWalk(custom));
    let default_window = format!("deepwalk:8:window={}", DeepWalkSpec::DEFAULT_WINDOW);
    assert_eq!(default_window.parse::<FeatureSpec>().unwrap().to_string(), "deepwalk:8");
    assert_eq!(FeatureSpec::DeepWalk(custom).deepwalk(), Some(custom));
    assert_eq!(FeatureSpec::Positional { k: 3 }.deepwalk(), None);
}

#[test]
fn bad_deepwalk_specs_get_one_clear_message() {
    for (text, expect) in [
        ("deepwalk:0", "K = 0"),
        ("given+deepwalk:0", "K = 0"),
        ("deepwalk:16:walk=0", "walk = 0"),
        ("deepwalk:16:window=0", "window = 0"),
        ("deepwalk:16:walks=0", "walks = 0"),
        ("deepwalk:16:epochs=0", "epochs = 0"),
        ("deepwalk", "needs a width K"),
        ("deepwalk:x", "not a whole number"),
        ("deepwalk:16:window=-1", "not a whole number"),
        ("deepwalk:16:window", "not key=value"),
        ("deepwalk:16:p=1", "unknown deepwalk option 'p'"),
        ("deepwalk:16:scale=0", "must be positive and finite"),
        ("deepwalk:16:scale=-0.1", "must be positive and finite"),
        ("deepwalk:16:scale=nan", "must be positive and finite"),
        ("deepwalk:16:scale=inf", "must be positive and finite"),
        ("deepwalk:16:scale=big", "scale 'big' is not a number"),
    ] {
        let message = text.parse::<FeatureSpec>().unwrap_err().to_string();
        assert!(message.contains(expect), "'{text}': '{message}' lacks '{expect}'");
        assert!(message.starts_with(&format!("features spec '{text}'")), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

#[test]
fn the_embedders_columns_are_appended_after_the_given_ones() {
    let d = csbm(3);
    // A stand-in embedder: node i gets (i, i + 0.5) whatever the graph.
    let fake = |g: &Graph, s: &DeepWalkSpec| -> Result<Vec<f32>, String> {
        Ok((0..g.num_nodes()).flat_map(|i| [i as f32, i as f32 + 0.5]).take(g.num_nodes() * s.dim).collect())
    };
    let alone = apply_features_with(&d, &"deepwalk:2".parse().unwrap(), &fake).unwrap();
    assert_eq!(alone.features.shape(), (40, 2));
    assert_eq!(alone.features.get(7, 1), Some(&7.5));
    let both = apply_features_with(&d, &"given+deepwalk:2".parse().unwrap(), &fake).unwrap();
    assert_eq!(both.features.shape(), (40, 5));
    assert_eq!(both.features.get(7, 4), Some(&7.5));
    for i in 0..40 {
        for j in 0..3 {
            assert_eq!(both.features.get(i, j), d.features.get(i, j));
        }
    }
    // A wrong-sized embedding and the embedder's own error are reported, not trusted.
    let short = apply_features_with(&d, &"deepwalk:3".parse().unwrap(), &fake).unwrap_err().to_string();
    assert!(short.contains("not 40 x 3"), "{short}");
    let failing = |_: &Graph, _: &DeepWalkSpec| -> Result<Vec<f32>, String> { Err("no torch".into()) };
    let message = apply_features_with(&d, &"deepwalk:2".parse().unwrap(), &failing).unwrap_err().to_string();
    assert!(message.contains("no torch"), "{message}");
    // Without an embedder the spec is refused with the way to one.
    let message = apply_features(&d, &"deepwalk:2".parse().unwrap()).unwrap_err().to_string();
    assert!(message.contains("students::deepwalk::apply_features"), "{message}");
    // given+deepwalk on a featureless graph names the featureless alternatives.
    let featureless = NodeDataset { features: sprs::CsMat::zero((40, 0)), ..d.clone() };
    let message =
        apply_features_with(&featureless, &"given+deepwalk:2".parse().unwrap(), &fake).unwrap_err().to_string();
    assert!(message.contains("deepwalk:K"), "{message}");
    // A spec built in code, bypassing the parser, is still checked.
    let zero = FeatureSpec::DeepWalk(DeepWalkSpec { window: 0, ..DeepWalkSpec::new(2) });
    assert!(apply_features_with(&d, &zero, &fake).unwrap_err().to_string().contains("window = 0"));
}

#[test]
fn held_out_nodes_take_their_observed_neighbours_mean() {
    // 0 - 1 - 2 - 3, 2 - 4, 5 alone, 3 - 6; held out: 2 (neighbours 1, 3 observed; 4 observed),
    // 5 (no neighbours) and 6 (its only neighbour 3 is observed).
    let edges = [(0, 1), (1, 2), (2, 3), (2, 4), (3, 6)];
    let full = Graph::from_edges(7, &edges, EdgeOptions::undirected()).unwrap();
    let held = [2, 5, 6];
    let mut local_of = vec![None; 7];
    let mut next = 0;
    for (v, slot) in local_of.iter_mut().enumerate() {
        if !held.contains(&v) {
            *slot = Some(next);
            next += 1;
        }
    }
    // Observed nodes 0, 1, 3, 4 are local 0..4; their rows (k = 2) are (10 l, -l).
    let observed: Vec<f32> = (0..4).flat_map(|l| [10.0 * l as f32, -(l as f32)]).collect();
    let out = extend_to_held_out(&full, &local_of, &observed, 2);
    let row = |v: usize| &out[2 * v..2 * v + 2];
    assert_eq!(row(0), &[0.0, 0.0]);
    assert_eq!(row(3), &[20.0, -2.0]);
    // Node 2: mean of nodes 1, 3, 4 = locals 1, 2, 3.
    assert_eq!(row(2), &[20.0, -2.0]);
    assert_eq!(row(5), &[0.0, 0.0]);
    assert_eq!(row(6), &[20.0, -2.0]);
    assert!(extend_to_held_out(&full, &local_of, &[], 0).is_empty());
}
