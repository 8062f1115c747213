//! Image readers against hand-made files (IDX and CSV, plain and gzip, broken in every way the
//! loaders promise to catch), the mnist:/digits: specs, and the real files when present.

#[path = "../../tests/support/data.rs"]
mod data;

use std::io::Write;
use std::path::{Path, PathBuf};

use gdistill_datasets::images::csv::read_pixel_csv;
use gdistill_datasets::images::idx::{read_idx_images, read_idx_labels};
use gdistill_datasets::images::{load_digits, load_mnist};
use gdistill_datasets::{is_image_spec, load, load_images, DatasetError, ImageSpec};

/// An IDX file: magic, big-endian dims, then `data`.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Three 2x3 images with pixels 0, 1, ..., 17 and labels 7, 0, 9.
fn three_images() -> (Vec<u8>, Vec<u8>) {
    (idx_bytes(0x803, &[3, 2, 3], &(0..18).collect::<Vec<u8>>()), idx_bytes(0x801, &[3], &[7, 0, 9]))
}

fn format_message(err: DatasetError) -> String {
    assert!(matches!(err, DatasetError::Format { .. }), "expected a format error, got {err}");
    err.to_string()
}

#[test]
fn idx_files_read_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = three_images();
    for (name, bytes) in [("plain", images.clone()), ("gz", gzip(&images))] {
        let read = read_idx_images(&write(dir.path(), name, &bytes)).unwrap();
        assert_eq!((read.count, read.height, read.width), (3, 2, 3));
        assert_eq!(read.pixels, (0..18).collect::<Vec<u8>>());
    }
    assert_eq!(read_idx_labels(&write(dir.path(), "l.gz", &gzip(&labels))).unwrap(), vec![7, 0, 9]);
}

#[test]
fn wrong_magic_numbers_say_what_the_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = three_images();
    let labels_path = write(dir.path(), "labels", &labels);
    let text = format_message(read_idx_images(&labels_path).unwrap_err());
    assert!(text.contains("labels") && text.contains("2049") && text.contains("2051"), "{text}");
    let text = format_message(read_idx_labels(&write(dir.path(), "images", &images)).unwrap_err());
    assert!(text.contains("an IDX images file"), "{text}");
    let text = format_message(read_idx_images(&write(dir.path(), "junk", b"PK\x03\x04 not idx at all")).unwrap_err());
    assert!(text.contains("not an IDX file"), "{text}");
}

#[test]
fn truncated_and_oversized_idx_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = three_images();
    let cut = &images[..images.len() - 5];
    for (name, bytes) in [("cut", cut.to_vec()), ("cut.gz", gzip(cut))] {
        let text = format_message(read_idx_images(&write(dir.path(), name, &bytes)).unwrap_err());
        assert!(text.contains("truncated") && text.contains("18 bytes"), "{name}: {text}");
    }
    // a gzip stream cut short is a truncated file, not an I/O error
    let zipped = gzip(&images);
    let text =
        format_message(read_idx_images(&write(dir.path(), "short.gz", &zipped[..zipped.len() / 2])).unwrap_err());
    assert!(text.contains("truncated") || text.contains("gzip"), "{text}");
    // inside the header
    let text = format_message(read_idx_images(&write(dir.path(), "head", &images[..9])).unwrap_err());
    assert!(text.contains("ends inside"), "{text}");
    // absurd sizes are refused from the header alone, and a big one in a small gzip is truncated
    let absurd = idx_bytes(0x803, &[u32::MAX, u32::MAX, u32::MAX], &[0; 4]);
    let text = format_message(read_idx_images(&write(dir.path(), "absurd", &absurd)).unwrap_err());
    assert!(text.contains("implausibly large"), "{text}");
    let big = gzip(&idx_bytes(0x803, &[1_000_000, 28, 28], &[0; 100]));
    let text = format_message(read_idx_images(&write(dir.path(), "big.gz", &big)).unwrap_err());
    assert!(text.contains("truncated") && text.contains("784000000"), "{text}");
    // trailing bytes mean the header and the data disagree
    let text =
        format_message(read_idx_labels(&write(dir.path(), "long", &idx_bytes(0x801, &[2], &[1, 2, 3]))).unwrap_err());
    assert!(text.contains("trailing"), "{text}");
}

/// An MNIST directory: `train` CSV text (or none), the three-image test IDX pair.
fn mnist_dir(train_csv: Option<&str>, test_labels: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = three_images();
    write(dir.path(), "t10k-images-idx3-ubyte.gz", &gzip(&images));
    let labels = idx_bytes(0x801, &[test_labels.len() as u32], test_labels);
    write(dir.path(), "t10k-labels-idx1-ubyte", &labels);
    if let Some(text) = train_csv {
        write(dir.path(), "mnist_5k.csv.gz", &gzip(text.as_bytes()));
    }
    dir
}

/// `n` training lines of 2x3 images: pixel value `10 * label`, label cycling 0..10.
fn train_csv(n: usize) -> String {
    (0..n).map(|i| format!("{},{}\n", vec![((i % 10) * 10).to_string(); 6].join(","), i % 10)).collect()
}

#[test]
fn mnist_directories_load_train_val_and_test() {
    let dir = mnist_dir(Some(&train_csv(100)), &[7, 0, 9]);
    let d = load_mnist(dir.path()).unwrap();
    assert_eq!((d.num_images(), d.height, d.width, d.num_classes), (103, 2, 3, 10));
    assert_eq!((d.train.len(), d.val.len(), &d.test[..]), (90, 10, &[100, 101, 102][..]));
    assert_eq!(d.image(101), &[6.0 / 255.0, 7.0 / 255.0, 8.0 / 255.0, 9.0 / 255.0, 10.0 / 255.0, 11.0 / 255.0]);
    assert_eq!(d.image(3)[0], 30.0 / 255.0);
    assert_eq!(d.labels[100..], [7, 0, 9]);
    let spec = format!("mnist:{}", dir.path().display());
    assert_eq!(load_images(&spec, Path::new("/nowhere")).unwrap().labels, d.labels);
}

#[test]
fn mnist_count_mismatches_bad_labels_and_missing_files_are_errors() {
    let dir = mnist_dir(Some(&train_csv(10)), &[7, 0]);
    let text = format_message(load_mnist(dir.path()).unwrap_err());
    assert!(text.contains("3 images") && text.contains("2 labels") && text.contains("t10k-labels"), "{text}");

    let dir = mnist_dir(Some(&train_csv(10)), &[7, 12, 1]);
    let text = format_message(load_mnist(dir.path()).unwrap_err());
    assert!(text.contains("label 1 is 12"), "{text}");

    let dir = mnist_dir(None, &[7, 0, 9]);
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }) && err.to_string().contains("mnist_5k.csv.gz"), "{err}");

    // training CSV whose images are not the test images' size
    let dir = mnist_dir(Some("1,2,3,4\n"), &[7, 0, 9]);
    let text = format_message(load_mnist(dir.path()).unwrap_err());
    assert!(text.contains("line 1") && text.contains("4 values where 7"), "{text}");

    // IDX training files win over the CSV, and must come in pairs
    let dir = mnist_dir(Some(&train_csv(10)), &[7, 0, 9]);
    write(dir.path(), "train-images-idx3-ubyte", &three_images().0);
    let err = load_mnist(dir.path()).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }) && err.to_string().contains("train-labels"), "{err}");
    write(dir.path(), "train-labels-idx1-ubyte.gz", &gzip(&three_images().1));
    let d = load_mnist(dir.path()).unwrap();
    assert_eq!((d.train.len() + d.val.len(), d.test.len()), (3, 3));
}

#[test]
fn csv_rows_are_checked_value_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str, text: &str| read_pixel_csv(&write(dir.path(), name, text.as_bytes()), 4, 16.0, 10);
    let table = read("ok.csv", "a,b,c,d,label\n\n0,1,2,16,9\r\n3,4,5,6,0\n").unwrap();
    assert_eq!((table.labels, table.pixels.len()), (vec![9, 0], 8));
    let cases = [
        ("short.csv", "0,1,2,16,9\n0,1,2\n", "line 2: 3 values where 5"),
        ("long.csv", "0,1,2,3,4,5\n", "6 values where 5"),
        ("nan.csv", "0,NaN,2,3,4\n", "not a finite number"),
        ("range.csv", "0,1,17,3,4\n", "pixel value 17 outside 0..=16"),
        ("negative.csv", "0,-1,2,3,4\n", "outside"),
        ("label.csv", "0,1,2,3,10\n", "label 10 is not a class"),
        ("fraction.csv", "0,1,2,3,2.5\n", "label 2.5"),
        ("text.csv", "0,1,2,3,4\n0,x,2,3,4\n", "line 2: column 2: 'x' is not a number"),
        ("empty.csv", "\n\n", "no images"),
    ];
    for (name, text, expected) in cases {
        let message = format_message(read(name, text).unwrap_err());
        assert!(message.contains(expected) && message.contains(name), "{name}: {message}");
    }
    let zipped = gzip(b"0,1,2,3,4\n5,6,7,8,9\n");
    let table = read_pixel_csv(&write(dir.path(), "z.csv.gz", &zipped), 4, 16.0, 10).unwrap();
    assert_eq!(table.labels, vec![4, 9]);
    let cut = format_message(
        read_pixel_csv(&write(dir.path(), "cut.gz", &zipped[..zipped.len() - 9]), 4, 16.0, 10).unwrap_err(),
    );
    assert!(cut.contains("gzip") || cut.contains("truncated"), "{cut}");
}

#[test]
fn digits_get_a_seeded_stratified_split() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..200).map(|i| format!("{},{}\n", vec![(i % 17).to_string(); 64].join(","), i % 10)).collect();
    let path = write(dir.path(), "digits.csv", text.as_bytes());
    let d = load_digits(&path).unwrap();
    assert_eq!((d.height, d.width, d.train.len(), d.val.len(), d.test.len()), (8, 8, 120, 20, 60));
    assert!(d.images.iter().all(|v| (0.0..=1.0).contains(v)) && d.images.contains(&1.0));
    let again = load_images(&format!("digits:{}", path.display()), Path::new(".")).unwrap();
    assert_eq!((again.train, again.test), (d.train, d.test));
}

#[test]
fn image_specs_are_told_apart_from_node_specs() {
    assert!(is_image_spec("mnist") && is_image_spec("MNIST:/x") && is_image_spec(" digits:f.csv"));
    assert!(!is_image_spec("cora") && !is_image_spec("npz:mnist.npz") && !is_image_spec("mnistlike"));
    assert_eq!("mnist".parse::<ImageSpec>().unwrap(), ImageSpec::Mnist("mnist".into()));
    assert_eq!("digits".parse::<ImageSpec>().unwrap(), ImageSpec::Digits("digits/digits.csv.gz".into()));
    let err = load("mnist:somewhere", Path::new(".")).unwrap_err();
    assert!(matches!(err, DatasetError::Spec { .. }) && err.to_string().contains("image dataset"), "{err}");
    let err = load_images("mnist:/definitely/not/here", Path::new(".")).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
}

#[test]
fn real_mnist_and_digits_load() {
    let Some(root) = data::data_dir("mnist").map(|d| d.parent().unwrap().to_path_buf()) else { return };
    let d = load_images("mnist", &root).unwrap();
    assert_eq!((d.num_images(), d.height, d.width), (15000, 28, 28));
    assert_eq!((d.train.len(), d.val.len(), d.test.len()), (4500, 500, 10000));
    let test_counts: Vec<usize> = (0..10).map(|c| d.test.iter().filter(|&&i| d.labels[i] == c).count()).collect();
    assert_eq!(test_counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert!(d.images.iter().any(|&v| v == 1.0));
    let Some(_) = data::data_dir("digits") else { return };
    let d = load_images("digits", &root).unwrap();
    assert_eq!(d.class_counts(), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert_eq!(d.train.len() + d.val.len() + d.test.len(), 1797);
}
