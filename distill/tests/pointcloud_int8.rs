//! int8 hidden activations of the point-cloud models: one grid per hidden activation of the
//! DGCNN and the PointNet, each the grid a hand calibration over the calibration clouds gives;
//! rounding moves each activation by at most half a step of its grid, and the int8 pass hands
//! the next layer values on that grid; the calibration reads at most `CALIBRATION_CLOUDS`
//! clouds for the hidden grids and every one for the input grid. CI-sized on synthetic clouds.

#[path = "support/clouds.rs"]
mod clouds;
use clouds::synthetic_clouds;

use gdistill_datasets::pointcloud::Augmentation;
use gdistill_distill::pointcloud::{
    calibration, int8_model, train_cloud_model, CloudData, CloudObjective, CloudTrainConfig, Int8CloudActivations,
    TrainedCloudModel, CALIBRATION_CLOUDS,
};
use gdistill_distill::quantize::ActivationQuant;
use gdistill_distill::quantize_store::HiddenRanges;
use gdistill_models::pointcloud::{CloudArch, CloudModel};
use rand::SeedableRng;
use tch::{nn, Device, Kind, Tensor};

fn trained(arch: &CloudArch, data: &CloudData) -> TrainedCloudModel {
    tch::manual_seed(3);
    let settings = CloudTrainConfig { epochs: 2, batch_size: 8, lr: 1e-2, ..CloudTrainConfig::default() };
    train_cloud_model(arch, data, &CloudObjective::labels(), &settings, &mut |_| {}).unwrap()
}

/// A second model on a copy of `trained`'s f32 variables.
fn float_copy(arch: &CloudArch, trained: &TrainedCloudModel, data: &CloudData) -> (nn::VarStore, Box<dyn CloudModel>) {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = arch.build(&vs.root(), data.shape).unwrap();
    vs.copy(&trained.vs).unwrap();
    (vs, model)
}

/// Every hidden activation of `model`'s float pass over `x`, in hook order.
fn float_activations(model: &dyn CloudModel, x: &Tensor) -> Vec<Tensor> {
    let seen = std::cell::RefCell::new(Vec::new());
    tch::no_grad(|| {
        model.forward_hooked(x, false, &|_, h| {
            seen.borrow_mut().push(h.copy());
            h.shallow_clone()
        })
    });
    seen.into_inner()
}

#[test]
fn each_hidden_activation_rounds_by_at_most_half_a_step_of_its_hand_calibrated_grid() {
    tch::set_num_threads(1);
    let dataset = synthetic_clouds(60, 32);
    let data = CloudData::new(&dataset, 24, Augmentation::none(), Device::Cpu);
    let clouds = calibration(&data).clouds;
    assert_eq!(clouds.size(), [dataset.train.len() as i64, 24, 2], "fewer than the bound: every training cloud");
    for (arch, points) in [
        // 2 EdgeConv outputs, the embedding, the pooled descriptor, 1 head layer.
        (CloudArch::Dgcnn { k: 4, widths: vec![8, 8], dynamic: true, embed: 16, head: vec![8], dropout: 0.0 }, 5),
        // 2 shared layers, the pooled maximum, 1 head layer.
        (CloudArch::PointNet { widths: vec![8, 16], head: vec![8], dropout: 0.0 }, 4),
    ] {
        let float = trained(&arch, &data);
        let hidden = float_activations(float.model.as_ref(), &clouds);
        assert_eq!(hidden.len(), points, "{arch:?}");
        let (_vs, copy) = float_copy(&arch, &float, &data);
        let int8 = Int8CloudActivations::calibrate(copy, &clouds);
        assert_eq!((int8.hidden.len(), int8.grid_bytes()), (points, 8 * points as i64), "{arch:?}");
        for (k, h) in hidden.iter().enumerate() {
            let (lo, hi) = (h.min().double_value(&[]), h.max().double_value(&[]));
            let grid = int8.hidden[k];
            assert_eq!(grid, ActivationQuant::calibrate(lo, hi), "{arch:?} point {k}: one batch, the exact range");
            let error = (grid.fake_quant(h) - h).abs().max().double_value(&[]);
            assert!(
                error <= grid.scale / 2.0 * (1.0 + 1e-5),
                "{arch:?} point {k}: {error} above half of {}",
                grid.scale
            );
            assert!(error > 0.0, "{arch:?} point {k}: something is rounded");
        }
        // The int8 pass hands the next layer the rounded values: each per-point stage is on its grid.
        let out = tch::no_grad(|| int8.forward_t(&clouds, false));
        for (k, f) in out.point_features.iter().enumerate() {
            let grid = int8.hidden[k];
            let steps = f / grid.scale + grid.zero_point as f64;
            let off_grid = (&steps - steps.round()).abs().max().double_value(&[]);
            assert!(off_grid < 1e-3, "{arch:?} point {k}: {off_grid} of a step off the grid");
        }
        let moved = (out.logits - float.model.forward_t(&clouds, false).logits).abs().max().double_value(&[]);
        assert!(moved > 0.0, "{arch:?}: the int8 pass rounds something");
    }
}

#[test]
fn hidden_ranges_cover_every_batch_and_survive_empty_ones() {
    let ranges = HiddenRanges::default();
    let a = Tensor::from_slice(&[-1.0f32, 2.0]);
    let b = Tensor::from_slice(&[0.5f32, 3.0]);
    assert!(ranges.record(1, &a).equal(&a), "the recording hook changes nothing");
    let _ = ranges.record(1, &b);
    let _ = ranges.record(1, &Tensor::zeros([0], (Kind::Float, Device::Cpu)));
    let grids = ranges.grids();
    // Point 0 was never recorded: the unit grid, not a NaN.
    assert_eq!(grids, [ActivationQuant::calibrate(0.0, 0.0), ActivationQuant::calibrate(-1.0, 3.0)]);
}

#[test]
fn the_int8_rows_bytes_count_every_hidden_grid_and_the_input_grid() {
    tch::set_num_threads(1);
    let dataset = synthetic_clouds(40, 32);
    let data = CloudData::new(&dataset, 16, Augmentation::none(), Device::Cpu);
    let arch = CloudArch::PointNet { widths: vec![4], head: vec![4], dropout: 0.0 };
    let float = trained(&arch, &data);
    let calibration = calibration(&data);
    let (_, bytes) = int8_model(&arch, std::slice::from_ref(&float), Default::default(), &data, &calibration).unwrap();
    // Weights [4, 2], [4, 4], [2, 4] in int8 with one f32 scale per output channel; biases and
    // batch-norm values in f32, as the store holds them; then the grids: 3 hidden points
    // (the shared layer, the pooled maximum, the head layer) and the input, 8 bytes each.
    let weights = 4 * 2 + 4 * 4 + 2 * 4 + 4 * (4 + 4 + 2);
    let rest: i64 = float.vs.variables().values().filter(|v| v.dim() < 2).map(|v| 4 * v.numel() as i64).sum::<i64>();
    assert_eq!(bytes, weights + rest + 8 * (3 + 1));
}

#[test]
fn hidden_grids_read_at_most_the_bound_evenly_spaced_and_the_input_grid_every_cloud() {
    // 1 200 training clouds: more than the bound.
    let dataset = synthetic_clouds(2000, 8);
    let data = CloudData::new(&dataset, 8, Augmentation::none(), Device::Cpu);
    let calibration = calibration(&data);
    assert_eq!(calibration.clouds.size(), [CALIBRATION_CLOUDS, 8, 2]);
    let all = data.cloud_set(&dataset.train, None, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).points;
    assert_eq!(calibration.input, ActivationQuant::calibrate_on(&all), "the input grid reads every cloud");
    // Cloud i of the subset is training cloud i * 1200 / 1024: the last one near the end.
    let n = dataset.train.len() as i64;
    for i in [0, 1, CALIBRATION_CLOUDS - 1] {
        let j = i * n / CALIBRATION_CLOUDS;
        assert!(calibration.clouds.get(i).equal(&all.get(j)), "subset cloud {i} is training cloud {j}");
    }
}
