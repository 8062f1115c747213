//! Hinton, Vinyals & Dean's MNIST experiment through the library API, one seed: a 2x1200 MLP
//! teacher trained with dropout and jitter, then a 2x800 student from the labels alone and from
//! the teacher's soft targets at T = 20. The same runs as the `teacher`, `mlp-800` and
//! `mlp-800+kd` rows of `gdistill compare --dataset mnist:DIR` (same default settings).
//!
//! ```text
//! make bootstrap
//! cargo run --release --example mnist_distill -- ../shared/data/mnist
//! ```

use std::path::Path;

use gdistill_datasets::images::load_mnist;
use gdistill_distill::images::{
    predict_images, score_images, train_image_model, ImageCompareConfig, ImageData, ImageObjective,
};

fn main() -> anyhow::Result<()> {
    // First, before anything asks libtorch about CUDA: "auto" loads its CUDA backend (not linked).
    let device = gdistill_models::parse_device("auto")?;
    let dir = std::env::args().nth(1).unwrap_or_else(|| "../shared/data/mnist".into());

    // 5 000 training images (500 of them kept for validation), the official 10 000 test images.
    let mnist = load_mnist(Path::new(&dir))?;
    let data = ImageData::new(&mnist, device);
    let defaults = ImageCompareConfig::for_shape(data.shape);
    let report = |name: &str, model: &dyn gdistill_models::ImageModel, seconds: f64| {
        let score = score_images(model, &data, &data.test);
        println!(
            "{name:<11} {:>5} test errors of {} ({:.2}%), trained in {seconds:.0} s",
            score.errors,
            score.total,
            100.0 * score.accuracy
        );
    };

    // 1. The teacher: 784-1200-1200-10, dropout 20% on the input and 50% on the hidden units,
    //    every batch shifted by up to 2 pixels.
    let t = &defaults.teacher;
    let teacher = train_image_model(&t.model, &data, &ImageObjective::Labels, &t.training, &mut |_| {})?;
    report("teacher", teacher.model.as_ref(), teacher.train_seconds);

    // 2. Its logits on the (un-jittered) training images: the transfer set.
    let teacher_logits = predict_images(teacher.model.as_ref(), &data, &data.train);

    // 3. The 784-800-800-10 student, unregularised: from the labels, then from the teacher.
    let s = &defaults.mlp_800;
    let scratch = train_image_model(&s.model, &data, &ImageObjective::Labels, &s.training, &mut |_| {})?;
    report("mlp-800", scratch.model.as_ref(), scratch.train_seconds);
    let objective = ImageObjective::SoftTargets { teacher_logits, temperature: s.kd.temperature, alpha: s.kd.alpha };
    let distilled = train_image_model(&s.model, &data, &objective, &s.distill, &mut |_| {})?;
    report("mlp-800+kd", distilled.model.as_ref(), distilled.train_seconds);
    Ok(())
}
