//! Starts the real `skr` binary on a loopback port and talks to it over raw HTTP/1.1 (shared by
//! the end-to-end tests and the benchmark).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `skr`; killed when dropped.
pub struct Skr {
    pub child: Child,
    pub addr: SocketAddr,
    /// The `-simulate` line: endpoints, key names, the RSA key's public JWK.
    pub sim: serde_json::Value,
    /// Further standard-error lines.
    pub lines: mpsc::Receiver<String>,
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_skr")
}

impl Skr {
    /// Starts `skr -simulate -port 0 -loglevel info` plus `extra`, and waits until it listens.
    pub fn start(extra: &[&str]) -> Skr {
        Self::start_with_env(extra, &[])
    }

    /// As [`Skr::start`], with further environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Skr {
        let mut child = Command::new(exe())
            .args(["-simulate", "-port", "0", "-loglevel", "info"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn skr");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut sim = serde_json::Value::Null;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("skr did not start (status {:?})", child.try_wait());
                }
            };
            if line.starts_with('{')
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            {
                sim = v;
            }
            if let Some(rest) = line.split("server listening on ").nth(1) {
                break rest.trim().parse().expect("listen address");
            }
        };
        Skr {
            child,
            addr,
            sim,
            lines: rx,
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    }

    /// Waits for the process to end.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn maa(&self) -> &str {
        self.sim["maa_endpoint"].as_str().expect("maa_endpoint")
    }
    pub fn akv(&self) -> &str {
        self.sim["akv_endpoint"].as_str().expect("akv_endpoint")
    }
    pub fn kid(&self, which: &str) -> &str {
        self.sim["keys"][which].as_str().expect("kid")
    }
}

impl Drop for Skr {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        Conn {
            stream: BufReader::new(s),
        }
    }

    /// Sends raw bytes as the request body of `method path` and reads one answer.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes()).expect("write");
        // The server may answer (413) and close before an oversized body is sent in full.
        let _ = s.write_all(body);
        self.read_answer()
    }

    pub fn read_answer(&mut self) -> (u16, String) {
        let mut status_line = String::new();
        self.stream
            .read_line(&mut status_line)
            .expect("status line");
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not HTTP: {status_line:?}"));
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.stream.read_line(&mut h).expect("header");
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// One request on a fresh connection.
pub fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    Conn::open(addr).request(method, path, body)
}

pub fn b64(bytes: &[u8]) -> String {
    csc_core::base64::Base64(bytes, csc_core::base64::Alphabet::Standard).to_string()
}
