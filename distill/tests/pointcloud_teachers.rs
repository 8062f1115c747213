//! Ensemble teachers and pseudo-data transfer sets in the point-cloud comparison, CI-sized on
//! synthetic clouds: pseudo clouds stay in the data's range and are labelled by the teacher
//! only; the ensemble row reports its members and their summed parameters.

#[path = "support/clouds.rs"]
mod clouds;
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;
use clouds::{ci_config, synthetic_clouds};

use gdistill_datasets::pointcloud::Augmentation;
use gdistill_distill::ensemble::{EnsembleCombine, EnsembleConfig};
use gdistill_distill::pointcloud::{
    compare_clouds, label_pseudo_clouds, pseudo_clouds, train_cloud_model, CloudData, CloudObjective, CloudTrainConfig,
};
use gdistill_distill::transfer_set::TransferSet;
use gdistill_models::pointcloud::CloudArch;
use rand::SeedableRng;
use tch::{Device, Kind, Tensor};

#[test]
fn pseudo_clouds_stay_in_range_and_take_the_teachers_labels_only() {
    let dataset = synthetic_clouds(40, 32);
    let data = CloudData::new(&dataset, 16, Augmentation::none(), Device::Cpu);
    let train = dataset.train.len();
    for set in [TransferSet::Munge { size: 50, p: 0.5 }, TransferSet::Mixup { size: 50 }] {
        let pseudo = pseudo_clouds(&data, set, 1).expect("pseudo clouds");
        assert_eq!(pseudo.len(), 50 * 16 * 2, "{set}");
        // Built from clouds normalised to the unit disc: MUNGE clips to each coordinate's range
        // there, mixup interpolates; neither leaves it.
        assert!(pseudo.iter().all(|v| (-1.0..=1.0).contains(v)), "{set}");
        let extended = data.with_pseudo(pseudo);
        let ids = extended.train_ids();
        assert_eq!(ids.len(), train + 50);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let batch = extended.train_batch(&ids, &mut rng);
        let labels = Vec::<i64>::try_from(&batch.labels).unwrap();
        // No pseudo cloud carries a label; the real ones keep theirs.
        assert!(labels[train..].iter().all(|&l| l == -1), "{set}");
        let truth: Vec<i64> = dataset.train.iter().map(|&i| dataset.labels[i] as i64).collect();
        assert_eq!(labels[..train], truth[..]);
        // A "teacher" that always says class 1 labels every pseudo cloud 1, whatever it was made from.
        let says_one = Tensor::zeros([ids.len() as i64, 2], (Kind::Float, Device::Cpu)).index_fill(
            1,
            &Tensor::from_slice(&[1i64]),
            1.0,
        );
        let labelled = Vec::<i64>::try_from(&label_pseudo_clouds(&batch.labels, &says_one)).unwrap();
        assert!(labelled[train..].iter().all(|&l| l == 1), "{set}");
        assert_eq!(labelled[..train], truth[..]);
    }
    assert!(pseudo_clouds(&data, TransferSet::Train, 1).is_none());
    let augmented = pseudo_clouds(&data, TransferSet::Augmented { size: 7 }, 1).unwrap();
    assert_eq!(augmented.len(), 7 * 16 * 2);
}

#[test]
fn pseudo_clouds_without_a_teacher_are_refused() {
    let dataset = synthetic_clouds(20, 16);
    let data = CloudData::new(&dataset, 16, Augmentation::none(), Device::Cpu);
    let data = data.with_pseudo(pseudo_clouds(&data, TransferSet::Mixup { size: 4 }, 0).unwrap());
    let arch = CloudArch::PointNet { widths: vec![4], head: vec![4], dropout: 0.0 };
    let settings = CloudTrainConfig { epochs: 1, ..CloudTrainConfig::default() };
    let err = train_cloud_model(&arch, &data, &CloudObjective::labels(), &settings, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("pseudo clouds have no labels"), "{err}");
}

#[test]
fn an_ensemble_teacher_with_a_munge_transfer_set_reports_its_members() {
    let _rng = torch_rng::torch_rng();
    tch::set_num_threads(1);
    let dataset = synthetic_clouds(40, 32);
    let mut config = ci_config(&dataset);
    config.rows = vec!["teacher".into(), "student+kd".into()];
    config.teacher_ensemble = Some(EnsembleConfig::of_size(2, EnsembleCombine::SoftTargets));
    config.transfer_set = TransferSet::Munge { size: 20, p: 0.5 };
    let report = compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let shape = gdistill_models::pointcloud::CloudShape { dim: 2, classes: 2 };
    let teacher = &report.rows[0];
    assert_eq!(teacher.params, 2 * config.teacher.num_params(shape), "an ensemble's parameters are its members'");
    let members = teacher.ensemble.as_ref().expect("the ensemble's members");
    assert_eq!((members.members, members.member_acc.len(), members.member_acc[0].len()), (2, 2, 1));
    assert!(report.rows[1].ensemble.is_none());
    let set = report.transfer_set.as_ref().expect("the transfer set");
    assert_eq!((set.kind.as_str(), set.pseudo, set.size), ("munge:20,0.5", 20, 20 + dataset.train.len()));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["config"]["teacher_ensemble"], serde_json::json!({"members": 2, "combine": "soft-targets"}));
    assert_eq!(json["config"]["transfer_set"], "munge:20,0.5");

    // Without the options the report has none of their keys (old reports unchanged).
    config.teacher_ensemble = None;
    config.transfer_set = TransferSet::Train;
    config.rows = vec!["teacher".into()];
    let json = serde_json::to_value(compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap()).unwrap();
    for absent in [&json["transfer_set"], &json["config"]["teacher_ensemble"], &json["config"]["transfer_set"]] {
        assert!(absent.is_null(), "{json}");
    }
    assert!(json["rows"][0].get("ensemble").is_none());
}

#[test]
fn int8_rows_keep_the_float_accuracy_at_about_a_quarter_of_the_bytes() {
    let _rng = torch_rng::torch_rng();
    tch::set_num_threads(1);
    let dataset = synthetic_clouds(200, 32);
    let mut config = ci_config(&dataset);
    config.rows = vec!["teacher".into(), "student".into(), "student+kd".into()];
    config.int8_rows = true;
    let report = compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["teacher", "student", "student+kd", "teacher-int8", "student+kd-int8"]);
    let row = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap();
    for (f32_row, int8_row) in [("teacher", "teacher-int8"), ("student+kd", "student+kd-int8")] {
        let (f, q) = (row(f32_row), row(int8_row));
        // 40 test clouds: at most two may change their class.
        assert!((f.mean - q.mean).abs() <= 0.05 + 1e-9, "{f32_row}: {} against {}", f.mean, q.mean);
        let (fb, qb) = (f.weight_bytes.unwrap(), q.weight_bytes.unwrap());
        // Weights shrink fourfold; these tiny models' biases and batch-norm values, a large
        // share of them, stay f32 (the exact count: ensemble_quantize.rs).
        assert!(qb < fb && qb * 4 > fb, "{f32_row}: {qb} int8 bytes against {fb}");
        assert_eq!(f.params, q.params);
    }
    assert!(report.rows.iter().all(|r| r.weight_bytes.is_some()));

    config.rows = vec!["student".into(), "pointnet".into()];
    let err = compare_clouds(&dataset, &config, Device::Cpu, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("int8 rows quantize the rows teacher and student+kd"), "{err}");
}
