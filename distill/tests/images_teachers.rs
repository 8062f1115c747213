//! Ensemble teachers and pseudo-data transfer sets in the image comparison, CI-sized on the 8x8
//! digits: the rows report what they claim, and pseudo images are labelled by the teacher only.

#[path = "../../tests/support/data.rs"]
mod data;

use gdistill_datasets::load_images;
use gdistill_distill::ensemble::EnsembleConfig;
use gdistill_distill::images::{
    compare_images, nearest_neighbours_tensor, pseudo_images, with_pseudo_images, ImageCompareConfig, ImageData,
};
use gdistill_distill::transfer_set::{nearest_neighbours, TransferSet};
use tch::{Device, Kind, Tensor};

#[test]
fn pseudo_images_stay_in_range_and_take_the_teachers_labels() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let n_images = data.images.size()[0];
    for set in [
        TransferSet::Munge { size: 500, p: 0.5 },
        TransferSet::Mixup { size: 500 },
        TransferSet::Augmented { size: 500 },
    ] {
        let pseudo = pseudo_images(&data, set, 1).expect("pseudo images");
        assert_eq!(pseudo.size(), [500, 8, 8], "{set}");
        let (lo, hi) = (pseudo.min().double_value(&[]), pseudo.max().double_value(&[]));
        assert!(lo >= 0.0 && hi <= 1.0, "{set}: pixels in [{lo}, {hi}]");
        // A "teacher" that always says class 3: every pseudo image is labelled 3, whatever it
        // was made from; the real images keep their labels.
        let says_three = |_: &ImageData, index: &Tensor| {
            Tensor::zeros([index.size()[0], 10], (Kind::Float, Device::Cpu)).index_fill(
                1,
                &Tensor::from_slice(&[3i64]),
                1.0,
            )
        };
        let extended = with_pseudo_images(&data, &pseudo, &says_three);
        assert_eq!(extended.train.size()[0], data.train.size()[0] + 500);
        let added = extended.labels.narrow(0, n_images, 500);
        assert!(bool::try_from(added.eq(3).all()).unwrap(), "{set}");
        assert!(extended.labels.narrow(0, 0, n_images).equal(&data.labels));
    }
    assert!(pseudo_images(&data, TransferSet::Train, 1).is_none());
}

#[test]
fn nearest_neighbours_on_the_device_match_the_host_ones() {
    tch::manual_seed(5);
    let x = Tensor::rand([60, 7], (Kind::Float, Device::Cpu));
    let host = Vec::<f32>::try_from(x.reshape([-1])).unwrap();
    assert_eq!(nearest_neighbours_tensor(&x), nearest_neighbours(&host, 7));
}

#[test]
fn an_ensemble_teacher_with_a_munge_transfer_set_on_digits() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let mut config = ImageCompareConfig::for_shape(data.shape);
    config.seeds = 1;
    config.rows = vec!["teacher".into(), "mlp-30+kd".into()];
    for t in config.trainings_mut() {
        t.epochs = 3;
    }
    config.teacher_ensemble = Some(EnsembleConfig::of_size(3, Default::default()));
    config.transfer_set = TransferSet::Munge { size: 400, p: 0.5 };
    let report = compare_images(&digits, &config, Device::Cpu, &mut |_| {}).unwrap();
    let teacher = &report.rows[0];
    let single = config.teacher.model.num_params(data.shape);
    assert_eq!(teacher.params, 3 * single);
    let members = teacher.ensemble.as_ref().expect("members");
    assert_eq!(members.member_acc.len(), 3);
    assert!(teacher.mean > 0.5 && report.rows[1].mean > 0.2, "{} {}", teacher.mean, report.rows[1].mean);
    let set = report.transfer_set.as_ref().expect("the transfer set is reported");
    assert_eq!((set.kind.as_str(), set.pseudo, set.size), ("munge:400,0.5", 400, 400 + digits.train.len()));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["config"]["transfer_set"], "munge:400,0.5");
    assert_eq!(json["config"]["teacher_ensemble"]["members"], 3);
}

#[test]
fn int8_rows_on_digits_keep_the_float_accuracy_at_a_quarter_of_the_bytes() {
    let Some(dir) = data::data_dir("digits") else { return };
    let digits = load_images("digits", dir.parent().unwrap()).unwrap();
    let data = ImageData::new(&digits, Device::Cpu);
    let mut config = ImageCompareConfig::for_shape(data.shape);
    config.seeds = 1;
    config.rows = vec!["teacher".into(), "mlp-800+kd".into()];
    for t in config.trainings_mut() {
        t.epochs = 1;
    }
    config.teacher_ensemble = Some(EnsembleConfig::of_size(2, Default::default()));
    config.int8_rows = true;
    let report = compare_images(&digits, &config, Device::Cpu, &mut |_| {}).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["teacher", "mlp-800+kd", "teacher-int8", "mlp-800+kd-int8"]);
    for (f, q) in [(0, 2), (1, 3)] {
        let (f, q) = (&report.rows[f], &report.rows[q]);
        let test = f.test_images as f64;
        // At most 1% of the test images may change their class.
        assert!((f.mean - q.mean).abs() * test <= 0.01 * test + 1e-9, "{}: {} against {}", f.name, f.mean, q.mean);
        let (fb, qb) = (f.weight_bytes.unwrap() as f64, q.weight_bytes.unwrap() as f64);
        assert!(fb / qb > 3.9 && fb / qb < 4.0, "{}: {qb} int8 bytes against {fb}", f.name);
        assert_eq!(f.params, q.params, "{}", f.name);
    }
    assert_eq!(report.rows[2].params, 2 * config.teacher.model.num_params(data.shape), "both members quantized");
    assert!(report.rows[2].ensemble.is_none());
    config.rows = vec!["mlp-30".into()];
    assert!(config.validate().unwrap_err().contains("int8 rows quantize the rows teacher and mlp-800+kd"));
}
