//! A seed fixes a training run on the CPU.
//!
//! Fixed up to the last bit of a logit, not bit for bit: about one process in 300 (once in CI on
//! 2026-12-06, once in 360 runs here) gives two same-seed runs whose logits differ by 2^-19 in
//! one place (a logit near 16 moved by one unit in its last place), though 400 same-seed runs in
//! one process and 5 000 evaluations of one model matched exactly. The source is inside
//! libtorch's threaded CPU kernels (not found; MKL's results are documented to depend on memory
//! alignment unless its reproducibility mode is set). A different seed moves logits by far
//! more than the tolerance below, and the predicted classes must match exactly.
//!
//! libtorch's random generator is global to the process, so this test lives alone in its own
//! test binary: tests in one binary run on parallel threads and would draw from it in between.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::load;
use gdistill_distill::{predict, train, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::{Arch, ModelConfig};
use tch::Device;

/// Far above a last-place difference (2^-19 at 16), far below what another seed does.
const SAME_SEED_TOLERANCE: f64 = 1e-4;

#[test]
fn training_is_reproducible_for_a_seed_on_cpu() {
    let Some(dir) = data::data_dir("cora") else { return };
    let mut cora = load("cora", dir.parent().unwrap()).expect("cora loads");
    cora.row_normalize_features();
    let data = GraphData::new(&cora, Device::Cpu, FeatureLayout::Auto).unwrap();
    let cfg = ModelConfig::new(Arch::Gcn, 1433, 16, 2, 7, 0.5);
    let settings = TrainConfig { epochs: 30, patience: None, seed: 11, ..TrainConfig::default() };
    let run =
        || predict(train(&cfg, &data, &Objective::labels(), &settings, &mut |_| {}).unwrap().model.as_ref(), &data);
    let (a, b) = (run(), run());
    let same_seed = (&a - &b).abs().max().double_value(&[]);
    assert!(same_seed <= SAME_SEED_TOLERANCE, "the same seed moved a logit by {same_seed}");
    assert!(a.argmax(1, false).equal(&b.argmax(1, false)), "the same seed changed a prediction");
    let other = TrainConfig { seed: 12, ..settings.clone() };
    let c = predict(train(&cfg, &data, &Objective::labels(), &other, &mut |_| {}).unwrap().model.as_ref(), &data);
    let other_seed = (&a - &c).abs().max().double_value(&[]);
    assert!(other_seed > 100.0 * SAME_SEED_TOLERANCE, "another seed moved logits by only {other_seed}");
}
