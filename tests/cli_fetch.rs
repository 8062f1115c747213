//! `gdistill data fetch` end to end, against a local HTTP server on 127.0.0.1 (no other address
//! is ever contacted: every run points GDISTILL_FETCH_BASE_URL at it, or at a closed port).
//! The Planetoid cases serve the real Cora files from the shared data, so they also check that
//! the catalogue's pins are those files' hashes.

#[path = "support/data.rs"]
mod data;

#[path = "support/cli.rs"]
mod cli;

#[path = "../datasets/src/fetch/test_server.rs"]
mod test_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cli::{assert_fails_with, stderr, stdout};
use sha2::Digest;
use test_server::{Reply, Server};

const CORA: [&str; 8] = ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"];

/// Runs `gdistill data fetch ARGS --data-dir DIR` with downloads from `base_url`.
fn fetch(args: &[&str], data_dir: &Path, base_url: &str, timeout_s: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gdistill"));
    command.args(["data", "fetch"]).args(args).arg("--data-dir").arg(data_dir);
    command.env("GDISTILL_FETCH_BASE_URL", base_url).env("GDISTILL_FETCH_TIMEOUT_S", timeout_s);
    for proxy in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        command.env_remove(proxy); // the server is local: nothing may route it elsewhere
    }
    command.output().expect("the gdistill binary runs")
}

/// The real Cora Planetoid files, by name, or `None` (test skipped) without the shared data.
fn cora_files() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = data::data_dir("cora")?;
    Some(
        CORA.iter()
            .map(|s| format!("ind.cora.{s}"))
            .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
            .collect(),
    )
}

fn serve_cora(files: &[(String, Vec<u8>)], first_x: Option<Reply>, max_requests: usize) -> Server {
    let script = files
        .iter()
        .map(|(name, bytes)| {
            let mut replies = vec![Reply::File(bytes.clone())];
            if let Some(first) = first_x.clone().filter(|_| name == "ind.cora.x") {
                replies.insert(0, first);
            }
            (name.as_str(), replies)
        })
        .collect();
    Server::start(script, max_requests, Duration::from_secs(60))
}

fn partial(dir: &Path, name: &str) -> PathBuf {
    dir.join("cora").join(format!("{name}.partial"))
}

#[test]
fn cora_lands_with_the_pinned_bytes_and_a_second_fetch_downloads_nothing() {
    let Some(files) = cora_files() else { return };
    let server = serve_cora(&files, None, 8);
    let dir = tempfile::tempdir().unwrap();
    let first = fetch(&["cora"], dir.path(), &server.base_url, "10");
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).matches("downloaded").count(), 8, "{}", stdout(&first));
    assert_eq!(stdout(&first).matches("sha256 verified").count(), 8, "{}", stdout(&first));
    for (name, bytes) in &files {
        assert_eq!(&std::fs::read(dir.path().join("cora").join(name)).unwrap(), bytes, "{name}");
    }
    let second = fetch(&["cora"], dir.path(), &server.base_url, "10");
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second).matches("already there, sha256 verified").count(), 8, "{}", stdout(&second));
    assert_eq!(server.finish().len(), 8, "the second fetch asked the server");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("cora")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 8, "only the eight files: {left:?}");
}

#[test]
fn a_wrong_file_is_refused_naming_the_url_and_both_hashes() {
    let Some(files) = cora_files() else { return };
    let server =
        Server::start(vec![("ind.cora.x", vec![Reply::File(b"not cora".to_vec())])], 1, Duration::from_secs(30));
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(&["cora"], dir.path(), &server.base_url, "10");
    let url = format!("{}/ind.cora.x", server.base_url);
    let pinned = "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab";
    let got: String = sha2::Sha256::digest(b"not cora").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(files[0].0, "ind.cora.x");
    assert_fails_with(&out, &[&url, pinned, &got, "nothing was installed"]);
    assert!(!dir.path().join("cora/ind.cora.x").exists() && !partial(dir.path(), "ind.cora.x").exists());
    server.finish();
}

#[test]
fn a_truncated_download_keeps_its_partial_and_the_next_run_resumes_with_a_range() {
    let Some(files) = cora_files() else { return };
    let x = files[0].1.clone();
    let server = serve_cora(&files, Some(Reply::Truncated(x.clone(), 10_000)), 9);
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(&["cora"], dir.path(), &server.base_url, "10");
    assert_fails_with(&out, &["/ind.cora.x", "10000 of 22119 bytes", "run the same command again to resume"]);
    assert_eq!(std::fs::read(partial(dir.path(), "ind.cora.x")).unwrap(), &x[..10_000]);
    assert!(!dir.path().join("cora/ind.cora.x").exists());
    let again = fetch(&["cora"], dir.path(), &server.base_url, "10");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("resumed after 10000 bytes"), "{}", stdout(&again));
    assert_eq!(std::fs::read(dir.path().join("cora/ind.cora.x")).unwrap(), x);
    let seen = server.finish();
    let x_requests: Vec<_> = seen.iter().filter(|s| s.path == "/ind.cora.x").map(|s| s.range.clone()).collect();
    assert_eq!(x_requests, vec![None, Some("bytes=10000-".to_owned())]);
}

#[test]
fn a_stalled_server_ends_in_an_error_within_the_timeout() {
    let server =
        Server::start(vec![("ind.cora.x", vec![Reply::Stall(Duration::from_secs(20))])], 1, Duration::from_secs(25));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = fetch(&["cora"], dir.path(), &server.base_url, "1");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_fails_with(&out, &["/ind.cora.x", "timed out", "GDISTILL_FETCH_TIMEOUT_S"]);
    assert!(!dir.path().join("cora/ind.cora.x").exists());
}

#[test]
fn no_network_says_where_to_put_the_files_by_hand() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(&["cora"], dir.path(), &format!("http://127.0.0.1:{port}"), "5");
    let place = dir.path().join("cora/ind.cora.test.index").display().to_string();
    assert_fails_with(&out, &[&format!("http://127.0.0.1:{port}/ind.cora.x"), "refused", "by hand", &place]);
    assert!(!dir.path().join("cora").exists(), "something was left behind");
}

#[test]
fn unknown_names_and_bad_settings_are_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = fetch(&["corra"], dir.path(), "http://127.0.0.1:9", "5");
    assert_fails_with(&out, &["unknown dataset 'corra'", "cora, citeseer, pubmed", "ogbn-arxiv"]);
    let out = fetch(&["cora"], dir.path(), "http://127.0.0.1:9", "soon");
    assert_fails_with(&out, &["GDISTILL_FETCH_TIMEOUT_S=soon"]);
    assert!(!dir.path().join("cora").exists());
}

#[test]
fn the_list_shows_every_entry_its_pinning_and_its_folder() {
    let out = fetch(&["--list"], Path::new("/nonexistent/data"), "http://127.0.0.1:9", "5");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["cora", "559.0 KiB", "7 of 8 pinned", "amazon-photo", "not pinned", "DATA_DIR/ogbn_arxiv/"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn unpinned_files_need_permission_then_report_their_hash_and_ogb_zips_unpack() {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["arxiv/raw/edge.csv.gz", "arxiv/raw/node-feat.csv.gz", "arxiv/split/time/train.csv.gz"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, name.as_bytes()).unwrap();
    }
    let archive = zip.finish().unwrap().into_inner();
    let server = Server::start(vec![("arxiv.zip", vec![Reply::File(archive)])], 1, Duration::from_secs(30));
    let dir = tempfile::tempdir().unwrap();
    let refused = fetch(&["ogbn-arxiv"], dir.path(), &server.base_url, "10");
    assert_fails_with(&refused, &["arxiv.zip has no pinned sha256", "--allow-unpinned"]);
    let out = fetch(&["ogbn-arxiv", "--allow-unpinned"], dir.path(), &server.base_url, "10");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("not pinned") && stdout(&out).contains("unpacked"), "{}", stdout(&out));
    let root = dir.path().join("ogbn_arxiv");
    assert_eq!(std::fs::read(root.join("raw/edge.csv.gz")).unwrap(), b"arxiv/raw/edge.csv.gz");
    assert!(root.join("split/time/train.csv.gz").is_file() && !dir.path().join("arxiv.zip").exists());
    let again = fetch(&["ogbn-arxiv"], dir.path(), &server.base_url, "10");
    assert!(again.status.success() && stdout(&again).contains("already there"), "{}", stderr(&again));
    assert_eq!(server.finish().len(), 1);
}
