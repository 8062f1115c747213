//! Synthetic clouds and a CI-sized comparison config shared by the point-cloud tests.
#![allow(dead_code)] // each test file uses its own subset

use gdistill_datasets::PointCloudDataset;
use gdistill_distill::pointcloud::CloudCompareConfig;
use gdistill_models::pointcloud::CloudArch;

/// Class 0: points on a circle; class 1: points on a segment; random sizes and positions.
pub fn synthetic_clouds(count: usize, points: usize) -> PointCloudDataset {
    let mut state = 99u64;
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let mut values = Vec::new();
    let labels: Vec<usize> = (0..count).map(|i| i % 2).collect();
    for &y in &labels {
        let (scale, cx, cy) = (0.5 + uniform(), uniform() - 0.5, uniform() - 0.5);
        for _ in 0..points {
            let t = uniform() * std::f32::consts::TAU;
            let (x, z) = if y == 0 { (t.cos(), t.sin()) } else { (t / 3.2 - 1.0, 0.1 * (uniform() - 0.5)) };
            values.extend([cx + scale * x, cy + scale * z]);
        }
    }
    let idx: Vec<usize> = (0..count).collect();
    let (train, rest) = idx.split_at(count * 6 / 10);
    let (val, test) = rest.split_at(rest.len() / 2);
    PointCloudDataset {
        name: "synthetic".into(),
        points: values,
        normals: None,
        points_per_cloud: points,
        dim: 2,
        labels,
        class_names: vec!["circle".into(), "segment".into()],
        train: train.to_vec(),
        val: val.to_vec(),
        test: test.to_vec(),
    }
}

pub fn ci_config(dataset: &PointCloudDataset) -> CloudCompareConfig {
    let mut config = CloudCompareConfig::for_dataset(dataset);
    config.seeds = 1;
    config.points = 24;
    config.teacher =
        CloudArch::Dgcnn { k: 6, widths: vec![16, 16], dynamic: true, embed: 32, head: vec![16], dropout: 0.0 };
    config.student = CloudArch::Dgcnn { k: 4, widths: vec![8], dynamic: false, embed: 16, head: vec![8], dropout: 0.0 };
    config.pointnet = CloudArch::PointNet { widths: vec![8, 16], head: vec![8], dropout: 0.0 };
    config.lsp.k = 4;
    for training in [&mut config.teacher_training, &mut config.student_training] {
        training.epochs = 4;
        training.batch_size = 8;
        training.lr = 1e-2;
    }
    config
}
