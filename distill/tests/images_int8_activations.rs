//! int8 hidden activations of the image MLP and CNN: the hook leaves the float pass unchanged,
//! each hidden activation's grid is the one a hand calibration gives and rounds by at most half
//! a step, and the int8 model's logits stay near the float model's on the digits.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::load_images;
use gdistill_distill::images::{
    int8_image_model, predict_images, score_images, train_image_model, ImageData, ImageObjective, ImageTrainConfig,
    Int8Activations, TrainedImageModel,
};
use gdistill_distill::quantize::ActivationQuant;
use gdistill_models::{ImageArch, ImageModel};
use tch::{nn, Device, Kind};

fn digits() -> Option<ImageData> {
    let dir = data::data_dir("digits")?;
    Some(ImageData::new(&load_images("digits", dir.parent().unwrap()).unwrap(), Device::Cpu))
}

fn trained(arch: &ImageArch, data: &ImageData) -> TrainedImageModel {
    let settings = ImageTrainConfig { epochs: 3, patience: None, ..Default::default() };
    train_image_model(arch, data, &ImageObjective::Labels, &settings, &mut |_| {}).unwrap()
}

/// A second model on a copy of `trained`'s f32 weights.
fn float_copy(arch: &ImageArch, trained: &TrainedImageModel, data: &ImageData) -> (nn::VarStore, Box<dyn ImageModel>) {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = arch.build(&vs.root(), data.shape).unwrap();
    vs.copy(&trained.vs).unwrap();
    (vs, model)
}

#[test]
fn the_hook_changes_nothing_when_it_returns_its_input() {
    let Some(data) = digits() else { return };
    let images = data.images.narrow(0, 0, 50);
    // The MLP's two hidden layers; the CNN's two pooled stages and its fully connected layer.
    for (arch, hook_points) in [
        (ImageArch::Mlp { hidden: vec![16, 8], input_dropout: 0.0, dropout: 0.0 }, 2),
        (ImageArch::Cnn { channels: vec![4, 8], fc: 16, dropout: 0.0 }, 3),
    ] {
        let vs = nn::VarStore::new(Device::Cpu);
        let model = arch.build(&vs.root(), data.shape).unwrap();
        let plain = model.forward_t(&images, false);
        let points = std::cell::Cell::new(0);
        let hooked = model
            .forward_hooked(&images, false, &|k, h| {
                points.set(points.get().max(k + 1));
                h.shallow_clone()
            })
            .unwrap();
        assert!(plain.logits.equal(&hooked.logits), "{arch:?}");
        assert_eq!(points.get(), hook_points, "{arch:?}");
    }
    let grid = ImageArch::GridGcn { hidden: 8, layers: 1, neighborhood: 4, coordinates: false, dropout: 0.0, pool: 1 };
    let vs = nn::VarStore::new(Device::Cpu);
    let model = grid.build(&vs.root(), data.shape).unwrap();
    assert!(model.forward_hooked(&images, false, &|_, h| h.shallow_clone()).is_none(), "grid GCN: input only");
}

#[test]
fn each_hidden_activation_rounds_by_at_most_half_a_step_of_its_hand_calibrated_grid() {
    let Some(data) = digits() else { return };
    let arch = ImageArch::Mlp { hidden: vec![32, 16], input_dropout: 0.0, dropout: 0.0 };
    let teacher = trained(&arch, &data);
    let train_images = data.images.index_select(0, &data.train);
    let float = tch::no_grad(|| teacher.model.forward_t(&train_images, false));
    let (_vs, copy) = float_copy(&arch, &teacher, &data);
    let int8 = Int8Activations::calibrate(copy, &train_images);
    assert_eq!(int8.hidden.len(), 2);
    let max_pixel = train_images.max().double_value(&[]);
    assert_eq!(int8.input, ActivationQuant::calibrate(0.0, max_pixel), "pixels from 0");
    for (k, h) in float.hidden.iter().enumerate() {
        // ReLU outputs: the grid is [0, max] in 255 steps, zero exact.
        let max = h.max().double_value(&[]);
        let grid = int8.hidden[k];
        assert_eq!(grid.zero_point, 0, "layer {k}");
        // (calibrated in batches of 1 000: the maximum may differ in its last bits)
        let hand = max / 255.0;
        assert!((grid.scale - hand).abs() <= 1e-5 * hand, "layer {k}: scale {} against {hand}", grid.scale);
        let error = (grid.fake_quant(h) - h).abs().max().double_value(&[]);
        assert!(error <= grid.scale / 2.0 * (1.0 + 1e-5), "layer {k}: error {error} above half of {}", grid.scale);
        assert!(error > 0.0, "layer {k}: something is rounded");
    }
    // The int8 pass hands the next layer the rounded values: every hidden value is on its grid.
    let out = tch::no_grad(|| int8.forward_t(&train_images, false));
    for (k, h) in out.hidden.iter().enumerate() {
        let steps = h / int8.hidden[k].scale;
        let off_grid = (&steps - steps.round()).abs().max().double_value(&[]);
        assert!(off_grid < 1e-3, "layer {k}: {off_grid} of a step off the grid");
    }
}

#[test]
fn the_int8_mlp_and_cnn_stay_near_their_float_logits_on_the_digits() {
    let Some(data) = digits() else { return };
    for arch in [
        ImageArch::Mlp { hidden: vec![64, 64], input_dropout: 0.0, dropout: 0.0 },
        ImageArch::Cnn { channels: vec![8, 16], fc: 32, dropout: 0.0 },
    ] {
        let float = trained(&arch, &data);
        let (int8, bytes) = int8_image_model(&arch, &float, None, &data).unwrap();
        let (f, q) = (
            predict_images(float.model.as_ref(), &data, &data.test),
            predict_images(int8.model.as_ref(), &data, &data.test),
        );
        let scale = f.abs().max().double_value(&[]);
        let worst = (&f - &q).abs().max().double_value(&[]);
        let mean = (&f - &q).abs().mean(Kind::Float).double_value(&[]);
        assert!(
            worst <= 0.05 * scale && mean <= 0.01 * scale,
            "{arch:?}: logits moved {worst} (mean {mean}) of {scale}"
        );
        let (fs, qs) = (
            score_images(float.model.as_ref(), &data, &data.test),
            score_images(int8.model.as_ref(), &data, &data.test),
        );
        assert!((fs.errors - qs.errors).abs() <= 5, "{arch:?}: {} errors against {}", qs.errors, fs.errors);
        let f32_bytes: i64 = 4 * float.vs.variables().values().map(|v| v.numel() as i64).sum::<i64>();
        assert!(bytes < f32_bytes / 3, "{arch:?}: {bytes} int8 bytes against {f32_bytes}");
    }
}
