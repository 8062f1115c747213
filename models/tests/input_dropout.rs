//! `ArchOptions::input_dropout`: where it is 0 the first layer reads its input whole in
//! training (its output equals the evaluation-mode one) while the hidden layers still drop; where
//! it is absent the input drops at the model's rate (Kipf and Welling's GCN); full graph and
//! sampled blocks alike. Bad rates and GAT are refused.

use gdistill_graph::{gcn_normalized_adjacency, EdgeOptions, Graph, NeighborSampler};
use gdistill_models::{
    full_degrees, sampled_block_matrices, Arch, ArchOptions, ModelConfig, ModelOutput, NodeFeatures, SageAggregator,
    SparseMatrix,
};
use tch::{nn, Device, Kind, Tensor};

#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

fn ring_with_chords(n: usize) -> Graph {
    let edges: Vec<(usize, usize)> = (0..n).flat_map(|i| [(i, (i + 1) % n), (i, (i + 7) % n)]).collect();
    Graph::from_edges(n, &edges, EdgeOptions::undirected()).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn no_input_dropout_leaves_the_first_layer_whole_and_the_hidden_layers_dropping() {
    let _rng = torch_rng::torch_rng();
    let n = 40;
    let g = ring_with_chords(n);
    let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&g), Device::Cpu).unwrap();
    tch::manual_seed(3);
    let x = Tensor::rand([n as i64, 12], (Kind::Float, Device::Cpu)) + 0.5;
    let batch = NeighborSampler::new(vec![NeighborSampler::ALL; 2]).unwrap().sample(&g, &[0, 5, 11], 1).unwrap();
    let blocks = sampled_block_matrices(&batch, &full_degrees(&g), Device::Cpu).unwrap();
    let ids: Vec<i64> = batch.n_id.iter().map(|&i| i as i64).collect();
    let x_src = NodeFeatures::Dense(x.index_select(0, &Tensor::from_slice(&ids)));
    let features = NodeFeatures::Dense(x.shallow_clone());
    for (arch, aggregator) in [
        (Arch::Gcn, SageAggregator::Mean),
        (Arch::Mlp, SageAggregator::Mean),
        (Arch::Sage, SageAggregator::Gcn),
        (Arch::Sage, SageAggregator::Mean),
    ] {
        for input_dropout in [Some(0.0), None] {
            let what = format!("{arch} ({aggregator}), input dropout {input_dropout:?}");
            let options = ArchOptions { aggregator, input_dropout, ..ArchOptions::default() };
            let config = ModelConfig::new(arch, 12, 16, 2, 3, 0.5).with_options(options);
            let vs = nn::VarStore::new(Device::Cpu);
            let model = config.build(&vs.root()).unwrap();
            // (first layer's output, logits) in training and in evaluation.
            let runs: [(ModelOutput, ModelOutput); 2] = [
                (model.forward_t(&features, &a_hat, true), model.forward_t(&features, &a_hat, false)),
                (
                    model.forward_blocks_t(&x_src, &blocks, true).unwrap(),
                    model.forward_blocks_t(&x_src, &blocks, false).unwrap(),
                ),
            ];
            for ((train, eval), on) in runs.iter().zip(["full graph", "blocks"]) {
                let first = max_abs_diff(&train.hidden[0], &eval.hidden[0]);
                let logits = max_abs_diff(&train.logits, &eval.logits);
                assert!(logits > 1e-3, "{what} on {on}: the hidden layer must still drop");
                match input_dropout {
                    Some(_) => assert!(first < 1e-6, "{what} on {on}: the first layer read a dropped input ({first})"),
                    None => assert!(first > 1e-3, "{what} on {on}: the input must drop at the model's rate"),
                }
            }
        }
    }
}

#[test]
fn bad_input_dropout_rates_and_gat_are_refused() {
    for p in [-0.1, 1.0, f64::NAN] {
        let options = ArchOptions { input_dropout: Some(p), ..ArchOptions::default() };
        let err = ModelConfig::new(Arch::Mlp, 4, 8, 2, 3, 0.5).with_options(options).validate().unwrap_err();
        assert!(err.to_string().contains("input dropout must be in [0, 1)"), "{p}: {err}");
    }
    let options = ArchOptions { input_dropout: Some(0.0), ..ArchOptions::default() };
    let err = ModelConfig::new(Arch::Gat, 4, 8, 2, 3, 0.5).with_options(options).validate().unwrap_err();
    assert!(err.to_string().contains("not to GAT"), "{err}");
}
