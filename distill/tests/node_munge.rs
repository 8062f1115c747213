//! MUNGE pseudo nodes for a graph's MLP student: the teacher's view of a pseudo node is its
//! source node's place in the graph (checked by a pseudo node that copies its source exactly),
//! real nodes are untouched, values stay in range, and nothing is labelled with ground truth.

use gdistill_distill::node_munge::{munge_nodes, student_data, teacher_view};
use gdistill_distill::transfer_set::nearest_neighbours;
use gdistill_distill::{FeatureLayout, GraphData};
use gdistill_models::{Arch, ModelConfig, NodeModel};
use tch::{nn, Device, Kind, Tensor};

fn dataset() -> gdistill_datasets::NodeDataset {
    gdistill_datasets::load("csbm:nodes=120,classes=3,degree=5,features=10,seed=6", std::path::Path::new(".")).unwrap()
}

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn untrained(arch: Arch, vs: &nn::VarStore) -> Box<dyn NodeModel> {
    ModelConfig::new(arch, 10, 16, 2, 3, 0.0).build(&vs.root()).unwrap()
}

#[test]
fn a_pseudo_node_that_copies_its_source_gets_the_sources_output_in_every_family() {
    tch::manual_seed(0);
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    // p = 0: every pseudo node is an exact copy of node k mod n.
    let pseudo = munge_nodes(&d, 150, 0.0, 3);
    assert_eq!(pseudo.sources, (0..150).map(|k| k % 120).collect::<Vec<_>>());
    let (x, a) = teacher_view(&data, &d, &pseudo).unwrap();
    assert_eq!(x.num_nodes(), 270);
    let sources = Tensor::from_slice(&pseudo.sources.iter().map(|&s| s as i64).collect::<Vec<_>>());
    for arch in [Arch::Gcn, Arch::Sage, Arch::Gat, Arch::Appnp] {
        let vs = nn::VarStore::new(Device::Cpu);
        let model = untrained(arch, &vs);
        let plain = model.forward_t(&data.features, &data.a_hat, false).logits;
        let augmented = model.forward_t(&x, &a, false).logits;
        // No real node reads a pseudo node: their outputs do not move.
        assert!(max_abs(&augmented.narrow(0, 0, 120), &plain) < 1e-5, "{arch}: real nodes changed");
        let copied = augmented.narrow(0, 120, 150);
        assert!(max_abs(&copied, &plain.index_select(0, &sources)) < 1e-5, "{arch}: copy differs from its source");
    }
    // p = 1: the pseudo nodes' features move, and so does the teacher's view of them.
    let moved = munge_nodes(&d, 120, 1.0, 3);
    let (x, a) = teacher_view(&data, &d, &moved).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let gcn = untrained(Arch::Gcn, &vs);
    let out = gcn.forward_t(&x, &a, false).logits;
    assert!(max_abs(&out.narrow(0, 120, 120), &out.narrow(0, 0, 120)) > 1e-3);
}

#[test]
fn munge_nodes_stay_in_range_and_use_the_brute_force_nearest_neighbour() {
    let d = dataset();
    let (n, f) = (d.num_nodes(), d.num_features());
    let x = d.dense_features();
    let pseudo = munge_nodes(&d, 300, 0.5, 11);
    let dense = pseudo.features.to_dense();
    for col in 0..f {
        let (lo, hi) = (0..n).map(|i| x[i * f + col]).fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
        for k in 0..300 {
            let v = dense[[k, col]];
            assert!(v >= lo && v <= hi, "pseudo node {k}, feature {col}: {v} outside [{lo}, {hi}]");
        }
    }
    // With p = 1 and no jitter where a node equals its neighbour, each pseudo value lies between
    // the source's value and its brute-force nearest neighbour's, widened by the jitter: check
    // the neighbour itself through a p = 1 copy of a node whose neighbour is unique.
    let brute = nearest_neighbours(&x, f);
    let swapped = munge_nodes(&d, n, 1.0, 5).features.to_dense();
    let closer = (0..n)
        .filter(|&i| {
            let dist = |j: usize| (0..f).map(|c| (swapped[[i, c]] - x[j * f + c]).powi(2)).sum::<f32>();
            dist(brute[i]) <= dist(i)
        })
        .count();
    // Every value is drawn around the neighbour's: most pseudo nodes end nearer it than their source.
    assert!(closer * 10 >= n * 8, "{closer} of {n} pseudo nodes nearer their brute-force neighbour");
}

#[test]
fn the_students_data_labels_pseudo_nodes_by_the_teacher_only() {
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Sparse).unwrap();
    let pseudo = munge_nodes(&d, 40, 0.5, 2);
    // A teacher that answers class 2 for everything.
    let logits = Tensor::zeros([40, 3], (Kind::Float, Device::Cpu)).index_fill(1, &Tensor::from_slice(&[2i64]), 5.0);
    let s = student_data(&data, &d, &pseudo, &logits).unwrap();
    assert_eq!(s.num_nodes(), 160);
    let pseudo_labels: Vec<i64> = Vec::try_from(s.labels.narrow(0, 120, 40)).unwrap();
    assert!(pseudo_labels.iter().all(|&y| y == 2), "{pseudo_labels:?}");
    assert!(max_abs(&s.labels.narrow(0, 0, 120), &data.labels) == 0.0);
    for (a, b) in [(&s.train, &data.train), (&s.val, &data.val), (&s.test, &data.test)] {
        assert_eq!(Vec::<i64>::try_from(a).unwrap(), Vec::<i64>::try_from(b).unwrap(), "splits unchanged");
    }
}
