//! Point-cloud distillation: the per-point LSP against a brute-force oracle, a CI-sized
//! comparison on synthetic clouds (every row, seeded), and a short run on the real
//! chair/monitor set.

#[path = "support/clouds.rs"]
mod clouds;
#[path = "../../tests/support/data.rs"]
mod data;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;
use clouds::{ci_config, synthetic_clouds};

use gdistill_datasets::pointcloud::{load_modelnet_dir, Augmentation};
use gdistill_distill::lsp::LspKernel;
use gdistill_distill::pointcloud::{
    compare_clouds, point_lsp_loss, train_cloud_model, CloudData, CloudObjective, CloudTrainConfig, CLOUD_ROWS,
};
use gdistill_models::pointcloud::CloudArch;
use tch::{Device, Kind, Tensor};

/// Brute force: per point, the union of its `k` nearest others in either feature space, the
/// softmax over it of the kernel `SIM = exp(-|z_i - z_j|^2 / 2 sigma^2)` for each network (LSP's
/// `LS_ij = exp(SIM_ij) / sum_k exp(SIM_ik)`), KL(teacher || student); the mean over points.
fn lsp_oracle(student: &[Vec<f64>], teacher: &[Vec<f64>], k: usize, sigma: f64) -> f64 {
    let n = student.len();
    let d2 = |z: &[Vec<f64>], i: usize, j: usize| z[i].iter().zip(&z[j]).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
    let nearest = |z: &[Vec<f64>], i: usize| {
        let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        others.sort_by(|&a, &b| d2(z, i, a).total_cmp(&d2(z, i, b)));
        others.truncate(k);
        others
    };
    let mut total = 0.0;
    for i in 0..n {
        let mut union = nearest(student, i);
        union.extend(nearest(teacher, i));
        union.sort_unstable();
        union.dedup();
        let dist = |z: &[Vec<f64>]| {
            let w: Vec<f64> = union.iter().map(|&j| (-d2(z, i, j) / (2.0 * sigma * sigma)).exp().exp()).collect();
            let s: f64 = w.iter().sum();
            w.into_iter().map(|v| v / s).collect::<Vec<f64>>()
        };
        let (p, q) = (dist(teacher), dist(student));
        total += p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
    }
    total / n as f64
}

#[test]
fn point_lsp_matches_a_brute_force_oracle_on_the_union_of_neighbour_sets() {
    tch::manual_seed(4);
    let student = Tensor::randn([2, 9, 3], (Kind::Double, Device::Cpu));
    let teacher = Tensor::randn([2, 9, 5], (Kind::Double, Device::Cpu));
    let loss = point_lsp_loss(&student, &teacher, LspKernel::Rbf { sigma: 1.5 }, 3).double_value(&[]);
    let rows = |t: &Tensor, b: i64| -> Vec<Vec<f64>> {
        (0..9).map(|i| Vec::<f64>::try_from(t.get(b).get(i)).unwrap()).collect()
    };
    // clouds are separate: the batch loss is the mean over both clouds' points
    let expected = (lsp_oracle(&rows(&student, 0), &rows(&teacher, 0), 3, 1.5)
        + lsp_oracle(&rows(&student, 1), &rows(&teacher, 1), 3, 1.5))
        / 2.0;
    assert!((loss - expected).abs() < 1e-9, "{loss} vs {expected}");
    let same = point_lsp_loss(&teacher, &teacher, LspKernel::Rbf { sigma: 1.5 }, 3).double_value(&[]);
    assert!(same.abs() < 1e-12 && loss > 1e-3);
}

#[test]
fn ci_sized_comparison_runs_every_row_and_a_seed_fixes_it() {
    let _rng = torch_rng::torch_rng();
    tch::set_num_threads(1);
    let dataset = synthetic_clouds(60, 32);
    let config = ci_config(&dataset);
    let run = || compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let report = run();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, CLOUD_ROWS);
    let teacher = &report.rows[0];
    assert!(teacher.mean >= 0.9, "the teacher separates circles from segments: {}", teacher.mean);
    for row in &report.rows {
        assert!(row.params > 0 && row.infer_ms_per_cloud > 0.0 && (0.0..=1.0).contains(&row.mean), "{row:?}");
        assert_eq!(
            row.gap_closed.is_some(),
            row.name.contains('+')
                && teacher.mean != report.rows[if row.name.starts_with("pointnet") { 5 } else { 1 }].mean
        );
    }
    assert!(report.rows[0].params > report.rows[1].params && report.rows[1].params > 0);
    let again = run();
    for (a, b) in report.rows.iter().zip(&again.rows) {
        assert_eq!(a.test_acc, b.test_acc, "{}: same seed, same accuracies", a.name);
    }
}

#[test]
fn a_distilled_student_needs_its_teacher_and_bad_settings_are_refused() {
    let _rng = torch_rng::torch_rng();
    let dataset = synthetic_clouds(20, 16);
    let data = CloudData::new(&dataset, 16, Augmentation::none(), Device::Cpu);
    let arch = CloudArch::PointNet { widths: vec![4], head: vec![4], dropout: 0.0 };
    let mut kd = CloudObjective::labels();
    kd.kd = Some(gdistill_distill::pointcloud::CloudKd { temperature: 2.0, alpha: 0.5 });
    let err = train_cloud_model(&arch, &data, &kd, &CloudTrainConfig::default(), &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("need a teacher"), "{err}");
    let one = CloudTrainConfig { batch_size: 1, ..CloudTrainConfig::default() };
    assert!(train_cloud_model(&arch, &data, &CloudObjective::labels(), &one, &mut |_| {}).is_err());
    let mut config = ci_config(&dataset);
    config.rows.push("mystery".into());
    let err = compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("unknown row 'mystery'"), "{err}");
}

#[test]
fn real_chair_monitor_pointnet_learns_in_a_few_epochs() {
    let _rng = torch_rng::torch_rng();
    let Some(dir) = data::data_dir("pointclouds/modelnet10_chair_monitor_hdf5_2048") else { return };
    tch::set_num_threads(1);
    let dataset = load_modelnet_dir(&dir).unwrap();
    let data = CloudData::new(&dataset, 64, Augmentation::dgcnn(), Device::Cpu);
    let arch = CloudArch::PointNet { widths: vec![16, 32], head: vec![16], dropout: 0.0 };
    let settings = CloudTrainConfig { epochs: 5, lr: 3e-3, ..CloudTrainConfig::default() };
    let trained = train_cloud_model(&arch, &data, &CloudObjective::labels(), &settings, &mut |_| {}).unwrap();
    let (acc, _) = gdistill_distill::pointcloud::timed_accuracy(trained.model.as_ref(), &data.test, 2);
    assert!(acc >= 0.85, "chairs and monitors are easy to tell apart: {acc}");
}
