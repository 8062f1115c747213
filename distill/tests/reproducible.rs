//! A seed fixes a training run on the CPU.
//!
//! libtorch's random generator is global to the process, so this test lives alone in its own
//! test binary: tests in one binary run on parallel threads and would draw from it in between.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::load;
use gdistill_distill::{predict, train, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::{Arch, ModelConfig};
use tch::Device;

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
    assert_eq!((&a - &b).abs().max().double_value(&[]), 0.0);
    let other = TrainConfig { seed: 12, ..settings.clone() };
    let c = predict(train(&cfg, &data, &Objective::labels(), &other, &mut |_| {}).unwrap().model.as_ref(), &data);
    assert!((&a - &c).abs().max().double_value(&[]) > 0.0, "another seed gives another model");
}
