//! Image models: shapes and parameter counts, the grid GCN's shared-adjacency batching against an
//! explicit block-diagonal batch, its corner/border/interior weights, and tape gradients.

use gdistill_graph::{block_diagonal, gcn_normalized_adjacency, grid_graph, Neighborhood};
use gdistill_models::{grid_features, record_sparse_products, GcnConv, GridGcn, ImageArch, ImageShape, SparseMatrix};
use tch::{nn, Device, Kind, Tensor};

const MNIST: ImageShape = ImageShape { height: 28, width: 28, classes: 10 };
const DIGITS: ImageShape = ImageShape { height: 8, width: 8, classes: 10 };

fn mlp(hidden: &[i64]) -> ImageArch {
    ImageArch::Mlp { hidden: hidden.to_vec(), input_dropout: 0.2, dropout: 0.5 }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn hinton_mlps_have_the_papers_sizes() {
    // 784-1200-1200-10, 784-800-800-10, 784-30-30-10, weights and biases
    assert_eq!(mlp(&[1200, 1200]).num_params(MNIST), 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10);
    assert_eq!(mlp(&[800, 800]).num_params(MNIST), 1_276_810);
    assert_eq!(mlp(&[30, 30]).num_params(MNIST), 24_790);
    assert_eq!(mlp(&[800, 800]).describe(), "mlp 2x800");
}

#[test]
fn every_architecture_gives_logits_and_hidden_features() {
    tch::manual_seed(0);
    let archs = [
        mlp(&[30, 30]),
        ImageArch::Cnn { channels: vec![8, 16], fc: 32, dropout: 0.5 },
        ImageArch::GridGcn { hidden: 8, layers: 3, neighborhood: 4, coordinates: false, dropout: 0.5, pool: 1 },
        ImageArch::GridGcn { hidden: 8, layers: 2, neighborhood: 8, coordinates: true, dropout: 0.0, pool: 1 },
    ];
    for shape in [MNIST, DIGITS] {
        for arch in &archs {
            let vs = nn::VarStore::new(Device::Cpu);
            let model = arch.build(&vs.root(), shape).unwrap();
            let images = Tensor::rand([5, shape.height, shape.width], (Kind::Float, Device::Cpu));
            let out = model.forward_t(&images, false);
            assert_eq!(out.logits.size(), [5, 10], "{arch:?}");
            assert!(!out.hidden.is_empty() && out.hidden.iter().all(|h| h.size()[0] == 5), "{arch:?}");
            // evaluation is deterministic; training mode draws dropout masks
            assert_eq!(max_abs_diff(&out.logits, &model.forward_t(&images, false).logits), 0.0);
            let trained = model.forward_t(&images, true);
            assert_eq!(trained.logits.size(), [5, 10]);
        }
    }
}

#[test]
fn bad_settings_are_configuration_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let bad = [
        ImageArch::Cnn { channels: vec![8, 8, 8, 8], fc: 8, dropout: 0.0 }, // 8 -> 0 pixels
        ImageArch::Cnn { channels: vec![], fc: 8, dropout: 0.0 },
        ImageArch::GridGcn { hidden: 8, layers: 2, neighborhood: 6, coordinates: false, dropout: 0.0, pool: 1 },
        ImageArch::GridGcn { hidden: 8, layers: 0, neighborhood: 4, coordinates: false, dropout: 0.0, pool: 1 },
        ImageArch::Mlp { hidden: vec![10], input_dropout: 1.0, dropout: 0.0 },
        ImageArch::Mlp { hidden: vec![0], input_dropout: 0.0, dropout: 0.0 },
    ];
    for arch in bad {
        let err = arch.build(&vs.root(), DIGITS).err().unwrap_or_else(|| panic!("{arch:?} was accepted"));
        assert!(err.to_string().starts_with("invalid model configuration"), "{err}");
    }
}

#[test]
fn shared_grid_batching_equals_the_block_diagonal_batch() {
    tch::manual_seed(1);
    let (h, w, batch, channels) = (4usize, 5usize, 3i64, 6i64);
    let pixels = (h * w) as i64;
    for nb in [Neighborhood::Four, Neighborhood::Eight] {
        let grid = grid_graph(h, w, nb);
        let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&grid), Device::Cpu).unwrap();
        let (union, owner, offsets) = block_diagonal(&vec![grid.clone(); batch as usize]);
        assert_eq!(offsets, vec![0, 20, 40, 60]);
        assert_eq!(owner[25], 1);
        let big = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&union), Device::Cpu).unwrap();

        let vs = nn::VarStore::new(Device::Cpu);
        let conv = GcnConv::new(&vs.root(), channels, 4);
        let node_major = Tensor::randn([pixels, batch, channels], (Kind::Float, Device::Cpu));
        let shared = GridGcn::propagate(&conv, &a_hat, &node_major); // [P, B, 4]
                                                                     // the same features image after image, [B * P, C], through the block-diagonal matrix
        let image_major = node_major.permute([1, 0, 2]).reshape([batch * pixels, channels]);
        let explicit = conv.forward(&image_major, &big).reshape([batch, pixels, 4]).permute([1, 0, 2]);
        assert!(max_abs_diff(&shared, &explicit) < 1e-5, "{nb:?}");
    }
}

#[test]
fn grid_weights_at_corners_borders_and_interior() {
    // 4-neighbourhood with self-loops: corner degree 3, border 4, interior 5
    let a = gcn_normalized_adjacency(&grid_graph(3, 3, Neighborhood::Four));
    let close = |v: Option<&f32>, x: f64| (f64::from(*v.unwrap()) - x).abs() < 1e-6;
    assert!(close(a.get(0, 0), 1.0 / 3.0));
    assert!(close(a.get(0, 1), 1.0 / (3.0f64 * 4.0).sqrt()));
    assert!(close(a.get(1, 4), 1.0 / (4.0f64 * 5.0).sqrt()));
    assert!(close(a.get(4, 4), 1.0 / 5.0));
    assert_eq!(a.get(0, 4), None); // diagonal neighbours only with 8
    let a = gcn_normalized_adjacency(&grid_graph(3, 3, Neighborhood::Eight));
    assert!(close(a.get(0, 4), 1.0 / (4.0f64 * 9.0).sqrt())); // corner 3+1, centre 8+1
    assert_eq!(a.get(0, 8), None);
    // pixel features, node-major, with coordinates spanning -1..=1
    let images = Tensor::arange(18, (Kind::Float, Device::Cpu)).view([2, 3, 3]);
    let coords = Tensor::from_slice(&[
        -1.0f32, -1.0, -1.0, 0.0, -1.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0, 1.0, 0.0, 1.0, 1.0,
    ])
    .view([9, 1, 2]);
    let x = grid_features(&images, Some(&coords));
    assert_eq!(x.size(), [9, 2, 3]);
    assert_eq!(Vec::<f32>::try_from(x.get(5).get(1)).unwrap(), vec![14.0, 0.0, 1.0]);
}

#[test]
fn grid_gcn_gradients_through_the_tape_match_autograd() {
    tch::manual_seed(2);
    let arch = ImageArch::GridGcn { hidden: 6, layers: 2, neighborhood: 8, coordinates: true, dropout: 0.0, pool: 1 };
    let vs = nn::VarStore::new(Device::Cpu);
    let model = arch.build(&vs.root(), DIGITS).unwrap();
    let images = Tensor::rand([4, 8, 8], (Kind::Float, Device::Cpu));
    let loss_of = |logits: Tensor| logits.log_softmax(-1, Kind::Float).mean(Kind::Float);
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));

    loss_of(model.forward_t(&images, false).logits).backward();
    let plain: Vec<Tensor> = vars.iter().map(|(_, v)| v.grad().copy()).collect();
    for (_, v) in &vars {
        let _ = v.grad().zero_();
    }
    let (loss, tape) = record_sparse_products(|| loss_of(model.forward_t(&images, false).logits));
    assert_eq!(tape.len(), 2);
    tape.backward(&loss).unwrap();
    for ((name, v), expected) in vars.iter().zip(&plain) {
        assert!(max_abs_diff(&v.grad(), expected) < 1e-5, "{name}");
    }
}
