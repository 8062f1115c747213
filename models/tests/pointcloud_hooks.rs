//! The point-cloud models' hook between layers (`forward_hooked`, what the int8 rows round
//! hidden activations through): a hook that returns its input leaves the pass bit for bit as
//! `forward_t`, the hook sees every hidden activation once, in forward order, with the shapes
//! the config gives, and what it returns is what the next layer (and a dynamic kNN) reads.

use std::cell::RefCell;

use gdistill_models::pointcloud::{knn, CloudArch, CloudShape};
use tch::{nn, Device, Kind, Tensor};

// Tests here compare passes that draw from libtorch's global generator.
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

const SHAPE: CloudShape = CloudShape { dim: 3, classes: 5 };

fn clouds(batch: i64, points: i64) -> Tensor {
    tch::manual_seed(7);
    Tensor::randn([batch, points, SHAPE.dim], (Kind::Float, Device::Cpu))
}

fn dgcnn(dynamic: bool) -> CloudArch {
    CloudArch::Dgcnn { k: 4, widths: vec![8, 6, 10], dynamic, embed: 12, head: vec![9, 7], dropout: 0.3 }
}

fn pointnet() -> CloudArch {
    CloudArch::PointNet { widths: vec![8, 16], head: vec![6], dropout: 0.3 }
}

/// Every hook call's point and shape, in call order, and the pass's output.
fn hooked_shapes(arch: &CloudArch, x: &Tensor, train: bool) -> (Vec<(usize, Vec<i64>)>, Tensor, Tensor) {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = arch.build(&vs.root(), SHAPE).unwrap();
    tch::manual_seed(11);
    let plain = model.forward_t(x, train).logits;
    let seen = RefCell::new(Vec::new());
    tch::manual_seed(11);
    let hooked = model
        .forward_hooked(x, train, &|k, h| {
            seen.borrow_mut().push((k, h.size()));
            h.shallow_clone()
        })
        .expect("the DGCNN and the PointNet have hook points");
    (seen.into_inner(), plain, hooked.logits)
}

#[test]
fn a_hook_that_returns_its_input_changes_no_bit_of_the_logits() {
    let _rng = torch_rng::torch_rng();
    let x = clouds(3, 20);
    for arch in [dgcnn(true), dgcnn(false), pointnet()] {
        // Evaluation, and training (batch statistics; dropout from the same seed).
        for train in [false, true] {
            let (_, plain, hooked) = hooked_shapes(&arch, &x, train);
            assert!(plain.equal(&hooked), "{arch:?} train={train}");
        }
    }
}

#[test]
fn the_hook_sees_each_hidden_activation_once_in_order_with_its_shape() {
    let _rng = torch_rng::torch_rng();
    let (b, n) = (3, 20);
    let x = clouds(b, n);
    // DGCNN: three EdgeConv outputs, the embedding, the pooled max and mean, two head layers.
    let (seen, _, _) = hooked_shapes(&dgcnn(true), &x, false);
    let expected: Vec<(usize, Vec<i64>)> = vec![
        (0, vec![b, n, 8]),
        (1, vec![b, n, 6]),
        (2, vec![b, n, 10]),
        (3, vec![b, n, 12]),
        (4, vec![b, 24]),
        (5, vec![b, 9]),
        (6, vec![b, 7]),
    ];
    assert_eq!(seen, expected);
    // PointNet: two shared layers, the pooled maximum, one head layer.
    let (seen, _, _) = hooked_shapes(&pointnet(), &x, false);
    assert_eq!(seen, vec![(0, vec![b, n, 8]), (1, vec![b, n, 16]), (2, vec![b, 16]), (3, vec![b, 6])]);
}

#[test]
fn what_the_hook_returns_is_what_the_next_layer_and_its_knn_read() {
    let _rng = torch_rng::torch_rng();
    let x = clouds(2, 16);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = dgcnn(true).build(&vs.root(), SHAPE).unwrap();
    // Coarse rounding of every hidden activation, as an int8 grid would.
    let coarse = |_: usize, h: &Tensor| (h * 2.0).round() / 2.0;
    let out = model.forward_hooked(&x, false, &coarse).unwrap();
    // The features handed on are the rounded ones ...
    for (l, f) in out.point_features.iter().enumerate() {
        assert!(f.equal(&((f * 2.0).round() / 2.0)), "stage {l}: not the hook's output");
    }
    // ... and each dynamic layer's graph is the kNN of the layer before's rounded features.
    for l in 1..3 {
        assert!(out.graphs[l].equal(&knn(&out.point_features[l - 1], 4, true)), "layer {l}'s graph");
    }
    // A hook that changes the activations changes the logits (the hook is not ignored).
    let plain = model.forward_t(&x, false).logits;
    let zeroed = model.forward_hooked(&x, false, &|k, h| if k == 4 { h.zeros_like() } else { h.shallow_clone() });
    assert!(!plain.equal(&zeroed.unwrap().logits));
}
