//! A small HTTP/1.1 server for the fetch tests, on 127.0.0.1 at an ephemeral port only. It
//! answers from a script, records each request's path and `Range` header, and stops by itself
//! after a given number of requests or a given time, whichever comes first. Shared by the unit
//! tests (datasets/src/fetch/tests.rs) and tests/cli_fetch.rs (by `#[path]`), not part of the
//! library.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The file, honouring `Range: bytes=N-` with a 206.
    File(Vec<u8>),
    /// The whole file with a 200, whatever the `Range`.
    IgnoreRange(Vec<u8>),
    /// A `Content-Length` of the whole file, then only its first `sent` bytes, then close.
    Truncated(Vec<u8>, usize),
    /// Accept, read the request, send nothing for this long, then close.
    Stall(Duration),
    /// An empty answer with this status.
    Status(u16),
    /// A 302 to this path (as GitHub sends `/raw/` requests to its content host).
    Redirect(String),
}

/// A request the server saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The request path, e.g. `/ind.cora.x`.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    handle: JoinHandle<Vec<Seen>>,
}

impl Server {
    /// Starts a server that answers requests for `/NAME` from `script[NAME]`, one reply per
    /// request in order, the last one repeated; unknown paths get 404.
    pub fn start(script: Vec<(&str, Vec<Reply>)>, max_requests: usize, max_time: Duration) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let mut script: HashMap<String, Vec<Reply>> =
            script.into_iter().map(|(name, replies)| (format!("/{name}"), replies)).collect();
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + max_time;
            let mut seen = Vec::new();
            while seen.len() < max_requests && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(request) = answer(stream, &mut script, deadline) {
                            seen.push(request);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            seen
        });
        Server { base_url, handle }
    }

    /// Waits for the server to stop (its request count or time reached) and returns what it saw.
    pub fn finish(self) -> Vec<Seen> {
        self.handle.join().expect("the test server panicked")
    }
}

fn answer(stream: TcpStream, script: &mut HashMap<String, Vec<Reply>>, deadline: Instant) -> Option<Seen> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_owned());
            }
        }
    }
    let reply = match script.get_mut(&path) {
        Some(replies) if replies.len() > 1 => replies.remove(0),
        Some(replies) => replies[0].clone(),
        None => Reply::Status(404),
    };
    let mut stream = stream;
    let start = range.as_deref().and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse::<usize>().ok());
    let _ = match reply {
        Reply::File(bytes) => match start {
            Some(n) if n < bytes.len() => {
                let head = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {n}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len() - 1,
                    bytes.len(),
                    bytes.len() - n
                );
                stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&bytes[n..]))
            }
            Some(_) => stream
                .write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            None => send_whole(&mut stream, &bytes, bytes.len()),
        },
        Reply::IgnoreRange(bytes) => send_whole(&mut stream, &bytes, bytes.len()),
        Reply::Truncated(bytes, sent) => send_whole(&mut stream, &bytes, sent),
        Reply::Stall(time) => {
            std::thread::sleep(time.min(deadline.saturating_duration_since(Instant::now())));
            Ok(())
        }
        Reply::Redirect(to) => stream.write_all(
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Reply::Status(code) => stream
            .write_all(format!("HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()),
    };
    let _ = stream.flush();
    Some(Seen { path, range })
}

/// A 200 with the whole file's `Content-Length`, but only its first `sent` bytes.
fn send_whole(stream: &mut TcpStream, bytes: &[u8], sent: usize) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", bytes.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(&bytes[..sent.min(bytes.len())])
}
