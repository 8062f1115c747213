//! The download logic against a local server (test_server.rs): what lands, what stays behind.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::test_server::{Reply, Server};
use super::*;

fn sha(bytes: &[u8]) -> &'static str {
    Box::leak(download::hex(&Sha256::digest(bytes)).into_boxed_str())
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// A one-file entry pinned (or not) to `bytes`' hash, in `DATA_DIR/toy/`.
fn entry(name: &'static str, pin: Option<&'static str>) -> Entry {
    let files = Box::leak(Box::new([RemoteFile { name, sha256: pin, bytes: None }]));
    Entry {
        name: "toy",
        about: "a test entry",
        base_url: "http://127.0.0.1:9",
        files,
        layout: Layout::Files { dir: "toy" },
        spec: "npz:DIR/toy/x",
    }
}

fn options(data_dir: &Path, server: &Server) -> FetchOptions {
    FetchOptions {
        base_url: Some(server.base_url.clone()),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(1),
        ..FetchOptions::new(data_dir)
    }
}

fn run(entry: &Entry, options: &FetchOptions) -> Result<Vec<FileReport>, FetchError> {
    fetch(entry, options, &mut |_| {})
}

#[test]
fn a_download_lands_whole_and_a_second_fetch_downloads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(200_000);
    let server = Server::start(vec![("f.bin", vec![Reply::File(bytes.clone())])], 1, Duration::from_secs(10));
    let toy = entry("f.bin", Some(sha(&bytes)));
    let opts = options(dir.path(), &server);
    let report = run(&toy, &opts).unwrap();
    let path = dir.path().join("toy/f.bin");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let expected = Outcome::Downloaded { bytes: 200_000, sha256: sha(&bytes).into(), resumed_from: 0, pinned: true };
    assert_eq!(report, vec![FileReport { path: path.clone(), outcome: expected }]);
    assert!(!download::partial_path(&path).exists());
    let again = run(&toy, &opts).unwrap();
    assert_eq!(again[0].outcome, Outcome::Present { checked: true });
    assert_eq!(server.finish().len(), 1, "the second fetch asked the server");
}

#[test]
fn a_broken_connection_keeps_the_partial_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(100_000);
    let replies = vec![Reply::Truncated(bytes.clone(), 30_000), Reply::File(bytes.clone())];
    let server = Server::start(vec![("f.bin", replies)], 2, Duration::from_secs(20));
    let toy = entry("f.bin", Some(sha(&bytes)));
    let opts = options(dir.path(), &server);
    let path = dir.path().join("toy/f.bin");
    let err = run(&toy, &opts).unwrap_err();
    assert!(matches!(err, FetchError::Broken { got: 30_000, expected: Some(100_000), .. }), "{err}");
    assert!(err.to_string().contains("run the same command again to resume"), "{err}");
    assert!(!path.exists());
    assert_eq!(std::fs::read(download::partial_path(&path)).unwrap(), &bytes[..30_000]);
    let report = run(&toy, &opts).unwrap();
    assert!(matches!(report[0].outcome, Outcome::Downloaded { resumed_from: 30_000, .. }), "{report:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let seen = server.finish();
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=30000-"));
}

#[test]
fn a_resume_keeps_its_range_across_a_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(50_000);
    let script = vec![
        ("f.bin", vec![Reply::Redirect("/content/f.bin".into())]),
        ("content/f.bin", vec![Reply::Truncated(bytes.clone(), 20_000), Reply::File(bytes.clone())]),
    ];
    let server = Server::start(script, 4, Duration::from_secs(20));
    let toy = entry("f.bin", Some(sha(&bytes)));
    let opts = options(dir.path(), &server);
    assert!(matches!(run(&toy, &opts).unwrap_err(), FetchError::Broken { got: 20_000, .. }));
    let report = run(&toy, &opts).unwrap();
    assert!(matches!(report[0].outcome, Outcome::Downloaded { resumed_from: 20_000, .. }), "{report:?}");
    assert_eq!(std::fs::read(dir.path().join("toy/f.bin")).unwrap(), bytes);
    let seen = server.finish();
    let ranges: Vec<_> = seen.iter().map(|s| (s.path.as_str(), s.range.as_deref())).collect();
    let resumed = Some("bytes=20000-");
    assert_eq!(ranges[2..], [("/f.bin", resumed), ("/content/f.bin", resumed)], "{ranges:?}");
}

#[test]
fn a_server_that_ignores_the_range_is_downloaded_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(5_000);
    let server = Server::start(vec![("f.bin", vec![Reply::IgnoreRange(bytes.clone())])], 1, Duration::from_secs(10));
    let toy = entry("f.bin", Some(sha(&bytes)));
    let path = dir.path().join("toy/f.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(download::partial_path(&path), b"stale bytes of another file").unwrap();
    let report = run(&toy, &options(dir.path(), &server)).unwrap();
    assert!(matches!(report[0].outcome, Outcome::Downloaded { resumed_from: 0, bytes: 5_000, .. }));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(server.finish()[0].range.is_some());
}

#[test]
fn a_wrong_hash_installs_nothing_and_names_both_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(1_000);
    let server = Server::start(vec![("f.bin", vec![Reply::File(bytes.clone())])], 1, Duration::from_secs(10));
    let pin = sha(b"the file we expected");
    let err = run(&entry("f.bin", Some(pin)), &options(dir.path(), &server)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(pin) && text.contains(sha(&bytes)) && text.contains("/f.bin"), "{text}");
    let path = dir.path().join("toy/f.bin");
    assert!(!path.exists() && !download::partial_path(&path).exists());
    server.finish();
}

#[test]
fn a_stalled_server_ends_in_an_error_within_the_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![("f.bin", vec![Reply::Stall(Duration::from_secs(8))])], 1, Duration::from_secs(10));
    let started = Instant::now();
    let err = run(&entry("f.bin", Some(sha(b"x"))), &options(dir.path(), &server)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(err, FetchError::Network { .. }) && err.to_string().contains("timed out"), "{err}");
    assert!(!dir.path().join("toy/f.bin").exists());
    drop(server); // it stops by itself once its stall ends
}

#[test]
fn unpinned_files_need_permission_and_report_their_hash() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = body(2_000);
    let server = Server::start(vec![("f.bin", vec![Reply::File(bytes.clone())])], 1, Duration::from_secs(10));
    let toy = entry("f.bin", None);
    let mut opts = options(dir.path(), &server);
    let err = run(&toy, &opts).unwrap_err();
    assert!(matches!(err, FetchError::Unpinned { .. }) && err.to_string().contains("--allow-unpinned"), "{err}");
    opts.allow_unpinned = true;
    let report = run(&toy, &opts).unwrap();
    let expected = Outcome::Downloaded { bytes: 2_000, sha256: sha(&bytes).into(), resumed_from: 0, pinned: false };
    assert_eq!(report[0].outcome, expected);
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn a_refused_connection_says_where_to_put_the_files_by_hand() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let opts = FetchOptions { base_url: Some(format!("http://127.0.0.1:{port}")), ..FetchOptions::new(dir.path()) };
    let err = run(&entry("f.bin", Some(sha(b"x"))), &opts).unwrap_err();
    let text = err.to_string();
    let place = dir.path().join("toy/f.bin");
    assert!(text.contains(&format!("http://127.0.0.1:{port}/f.bin")), "{text}");
    assert!(text.contains("refused") && text.contains(&place.display().to_string()), "{text}");
    assert!(!place.exists() && !download::partial_path(&place).exists(), "nothing to resume is left behind");
}

#[test]
fn a_file_already_there_with_another_hash_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy/f.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"the user's own file").unwrap();
    let opts = FetchOptions { base_url: Some("http://127.0.0.1:9".into()), ..FetchOptions::new(dir.path()) };
    let err = run(&entry("f.bin", Some(sha(b"x"))), &opts).unwrap_err();
    assert!(matches!(err, FetchError::PresentMismatch { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the user's own file");
}

#[test]
fn an_archive_put_in_place_by_hand_is_unpacked_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.path().join("arxiv.zip")).unwrap());
    zip.start_file("arxiv/raw/edge.csv.gz", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut zip, b"edges").unwrap();
    zip.finish().unwrap();
    let arxiv = find("ogbn-arxiv").unwrap();
    // A closed port: any request would fail the test.
    let opts = FetchOptions { base_url: Some("http://127.0.0.1:9".into()), ..FetchOptions::new(dir.path()) };
    let report = run(arxiv, &opts).unwrap();
    assert_eq!(report[0].outcome, Outcome::Present { checked: false });
    assert_eq!(report[1], FileReport { path: dir.path().join("ogbn_arxiv"), outcome: Outcome::Unpacked });
    assert_eq!(std::fs::read(dir.path().join("ogbn_arxiv/raw/edge.csv.gz")).unwrap(), b"edges");
    assert_eq!(run(arxiv, &opts).unwrap()[0].outcome, Outcome::Present { checked: false });
}
