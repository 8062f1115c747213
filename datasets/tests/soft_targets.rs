//! The soft-targets HDF5 file: round trip, and refusal of files that cannot be soft targets.

use gdistill_datasets::{read_soft_targets, write_soft_targets, EnsembleOrigin, SoftTargets};

fn targets() -> SoftTargets {
    SoftTargets {
        logits: (0..12).map(|i| i as f32 * 0.5 - 2.0).collect(),
        nodes: 4,
        classes: 3,
        dataset: "toy".into(),
        ensemble: None,
    }
}

#[test]
fn an_ensembles_origin_and_temperature_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (combine, temperature) in [("soft-targets", Some(2.5)), ("logits", None)] {
        let path = dir.path().join(format!("{combine}.h5"));
        let origin = EnsembleOrigin { members: 5, combine: combine.into(), temperature };
        let written = SoftTargets { ensemble: Some(origin), ..targets() };
        write_soft_targets(&path, &written).unwrap();
        assert_eq!(read_soft_targets(&path).unwrap(), written);
    }
}

#[test]
fn an_ensemble_attribute_of_the_wrong_type_or_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.h5");
    let bad = |name: &str, write: &dyn Fn(&gdistill_datasets::h5graph::hdf5::File)| {
        write_soft_targets(&path, &targets()).unwrap();
        let file = gdistill_datasets::h5graph::hdf5::File::open_rw(&path).unwrap();
        write(&file);
        file.close().unwrap();
        let e = read_soft_targets(&path).unwrap_err().to_string();
        assert!(e.contains("t.h5") && e.contains(name), "{e}");
    };
    bad("ensemble_members", &|f| f.new_attr::<i64>().create("ensemble_members").unwrap().write_scalar(&0i64).unwrap());
    bad("ensemble_members", &|f| f.new_attr::<f64>().create("ensemble_members").unwrap().write_scalar(&2.0).unwrap());
    bad("temperature", &|f| {
        f.new_attr::<i64>().create("ensemble_members").unwrap().write_scalar(&3i64).unwrap();
        f.new_attr::<f64>().create("temperature").unwrap().write_scalar(&-1.0).unwrap();
    });
}

#[test]
fn soft_targets_round_trip_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.h5");
    write_soft_targets(&path, &targets()).unwrap();
    assert_eq!(read_soft_targets(&path).unwrap(), targets());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[test]
fn bad_soft_target_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = |path: &std::path::Path| read_soft_targets(path).unwrap_err().to_string();

    let missing = dir.path().join("absent.h5");
    assert!(err(&missing).contains("absent.h5"), "{}", err(&missing));

    let mut nan = targets();
    nan.logits[4] = f32::NAN;
    let e = write_soft_targets(&dir.path().join("nan.h5"), &nan).unwrap_err().to_string();
    assert!(e.contains("node 1, class 1 is NaN"), "{e}");
    assert!(!dir.path().join("nan.h5").exists());

    let text = dir.path().join("text.h5");
    std::fs::write(&text, b"not hdf5 at all").unwrap();
    assert!(err(&text).contains("text.h5"), "{}", err(&text));

    // a gdistill graph file, or any HDF5 file without the format attribute
    let other = dir.path().join("other.h5");
    let file = gdistill_datasets::h5file::create(&other).unwrap();
    file.new_dataset::<f32>().shape([4, 3]).create("logits").unwrap().write_raw(&[0f32; 12]).unwrap();
    file.close().unwrap();
    assert!(err(&other).contains("expected 'gdistill-soft-targets'"), "{}", err(&other));

    // the right format attribute, logits of rank 1 and of an integer type
    for (name, rank1) in [("rank1.h5", true), ("ints.h5", false)] {
        let path = dir.path().join(name);
        write_soft_targets(&path, &targets()).unwrap();
        let file = gdistill_datasets::h5file::open_rw(&path).unwrap();
        file.unlink("logits").unwrap();
        if rank1 {
            file.new_dataset::<f32>().shape([12]).create("logits").unwrap().write_raw(&[0f32; 12]).unwrap();
        } else {
            file.new_dataset::<i64>().shape([4, 3]).create("logits").unwrap().write_raw(&[0i64; 12]).unwrap();
        }
        file.close().unwrap();
        let e = err(&path);
        assert!(e.contains(name) && e.contains("'logits'"), "{e}");
    }
}
