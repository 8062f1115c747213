//! Distil a GCN teacher into a graph-less MLP and into a GCN a tenth of its size, on Cora,
//! through the library API: the same experiment as `gdistill compare --dataset cora`, one seed,
//! written out step by step.
//!
//! ```text
//! make bootstrap
//! cargo run --release --example distill_cora              # Cora from the repository's data/
//! cargo run --release --example distill_cora -- ../shared/data
//! ```

use std::path::PathBuf;

use gdistill_distill::{accuracy, predict, train, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_models::{Arch, ModelConfig};

fn main() -> anyhow::Result<()> {
    // First, before anything asks libtorch about CUDA: "auto" loads its CUDA backend (not linked).
    let device = gdistill_models::parse_device("auto")?;
    let data_dir: PathBuf = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("GDISTILL_DATA_DIR").ok())
        .unwrap_or_else(|| "data".into())
        .into();

    // Cora with the GCN recipe's preprocessing, moved once onto the device.
    let mut cora = gdistill_datasets::load("cora", &data_dir)?;
    cora.row_normalize_features();
    let data = GraphData::new(&cora, device, FeatureLayout::Auto)?;
    let (features, classes) = (data.num_features(), data.num_classes);
    let test_accuracy =
        |model: &dyn gdistill_models::NodeModel| accuracy(&predict(model, &data), &data.labels, &data.test);

    // 1. The teacher: Kipf & Welling's GCN at 64 hidden units, trained on the 140 labelled nodes.
    let teacher_config = ModelConfig::new(Arch::Gcn, features, 64, 2, classes, 0.5);
    let teacher = train(&teacher_config, &data, &Objective::labels(), &TrainConfig::default(), &mut |_| {})?;
    println!(
        "teacher    GCN-64  {:>6} params  test {:.3}",
        teacher_config.num_params(),
        test_accuracy(teacher.model.as_ref())
    );

    // 2. Its soft targets on every node, labelled or not: the transfer set.
    let soft_targets = |teacher_logits| Objective::soft_targets(teacher_logits, 2.0, 0.0);
    let distill_settings = TrainConfig { weight_decay: 0.0, epochs: 400, ..TrainConfig::default() };
    let student_settings = TrainConfig { decay_all_layers: true, ..TrainConfig::default() };

    // 3. Each student twice: from the labels alone, then from the teacher.
    for (name, config) in [
        ("mlp       MLP-64 ", ModelConfig::new(Arch::Mlp, features, 64, 2, classes, 0.5)),
        ("gcn-small GCN-6  ", ModelConfig::new(Arch::Gcn, features, 6, 2, classes, 0.5)),
    ] {
        let scratch = train(&config, &data, &Objective::labels(), &student_settings, &mut |_| {})?;
        let objective = soft_targets(predict(teacher.model.as_ref(), &data));
        let distilled = train(&config, &data, &objective, &distill_settings, &mut |_| {})?;
        println!(
            "{name} {:>6} params  test {:.3} from labels, {:.3} distilled",
            config.num_params(),
            test_accuracy(scratch.model.as_ref()),
            test_accuracy(distilled.model.as_ref())
        );
    }
    Ok(())
}
