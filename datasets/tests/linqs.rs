//! The LINQS loader on small hand-written files: ids, class order, unknown citations, bad lines.

use std::path::{Path, PathBuf};

use gdistill_datasets::{load_linqs, load_with_report, DatasetError, LinqsOptions};

fn write(dir: &Path, content: &str, cites: &str) -> PathBuf {
    let prefix = dir.join("toy");
    std::fs::write(dir.join("toy.content"), content).unwrap();
    std::fs::write(dir.join("toy.cites"), cites).unwrap();
    prefix
}

const CONTENT: &str = "p10\t1\t0\t0\tZeta\np2\t0\t1\t1\tAlpha\nx-3\t0\t0\t0\tZeta\np4\t1\t1\t0\tMid\n";

#[test]
fn ids_follow_content_order_and_classes_sort_alphabetically() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = write(dir.path(), CONTENT, "p2\tp10\np10\tp2\nx-3\tp4\np4\tp4\n");
    let (d, report) = load_linqs(&prefix, &LinqsOptions::default()).unwrap();
    assert_eq!(d.name, "toy");
    assert_eq!(d.class_names, vec!["Alpha", "Mid", "Zeta"]);
    assert_eq!(d.labels, vec![2, 0, 2, 1]);
    assert_eq!(d.graph.undirected_edges(), vec![(0, 1), (2, 3)]);
    assert_eq!(d.dense_features(), vec![1., 0., 0., 0., 1., 1., 0., 0., 0., 1., 1., 0.]);
    assert_eq!(
        (report.citations, report.unknown_citations, report.self_citations, report.merged_citations),
        (4, 0, 1, 1)
    );
}

#[test]
fn unknown_citations_are_reported_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = write(dir.path(), CONTENT, "p2\tp10\nghost\tp2\np4\tnobody\n");
    let (d, report) = load_linqs(&prefix, &LinqsOptions::default()).unwrap();
    assert_eq!(d.graph.num_undirected_edges(), 1);
    assert_eq!(report.unknown_citations, 2);
    assert_eq!((report.examples[0].line, report.examples[0].cited.as_str()), (2, "ghost"));
    assert_eq!(report.examples[1].citing, "nobody");
    let strict = LinqsOptions { strict: true, ..Default::default() };
    let err = load_linqs(&prefix, &strict).unwrap_err();
    assert!(err.to_string().contains("line 2: paper 'ghost' is not in"), "{err}");
    // through the spec loader, the report comes back as a printable note
    let (_, report) = load_with_report("linqs:toy", dir.path()).unwrap();
    assert!(report.notes[0].contains("2 of 3 citations"), "{:?}", report.notes);
    assert!(load_with_report("linqs-strict:toy", dir.path()).is_err());
}

#[test]
fn bad_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("p1\t1\t0\tA\np2\t1\tA\n", "", "toy.content", "line 2: 3 fields, but the first line has 4"),
        ("p1\t1\t0\tA\np1\t1\t0\tB\n", "", "toy.content", "paper id 'p1' appears twice"),
        ("p1\t1\tx\tA\n", "", "toy.content", "feature 1 is 'x'"),
        ("p1\t1\tinf\tA\n", "", "toy.content", "must be finite"),
        ("p1\n", "", "toy.content", "expected '<paper id>"),
        ("", "", "toy.content", "no papers"),
        ("p1\t1\t0\tA\n", "p1 p1 p1\n", "toy.cites", "line 1: expected '<cited id> <citing id>'"),
    ];
    for (content, cites, file, expect) in cases {
        let prefix = write(dir.path(), content, cites);
        match load_linqs(&prefix, &LinqsOptions::default()) {
            Err(DatasetError::Format { path, message }) => {
                assert!(path.ends_with(file), "{path:?}");
                assert!(message.contains(expect), "'{message}' lacks '{expect}'");
            }
            other => panic!("expected a Format error containing '{expect}', got {other:?}"),
        }
    }
    let err = load_linqs(&dir.path().join("absent"), &LinqsOptions::default()).unwrap_err();
    assert!(matches!(&err, DatasetError::Missing { path, .. } if path.ends_with("absent.content")), "{err}");
}
