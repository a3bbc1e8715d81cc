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

/// The binary under test: this build's, or `SKR_UNDER_TEST` (to run the same tests against
/// another build, e.g. the one before a fix).
pub fn exe() -> String {
    std::env::var("SKR_UNDER_TEST").unwrap_or_else(|_| env!("CARGO_BIN_EXE_skr").to_string())
}

impl Skr {
    /// Starts `skr -simulate -port 0 -loglevel info` plus `extra`, and waits until it listens.
    pub fn start(extra: &[&str]) -> Skr {
        Self::spawn(extra, &[], None)
    }

    /// As [`Skr::start`], with further environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Skr {
        Self::spawn(extra, env, None)
    }

    /// As [`Skr::start`], with the open-file limit (soft and hard) set to `nofile` first.
    pub fn start_limited(extra: &[&str], nofile: Option<u32>) -> Skr {
        Self::spawn(extra, &[], nofile)
    }

    fn spawn(extra: &[&str], env: &[(&str, &str)], nofile: Option<u32>) -> Skr {
        let mut cmd = match nofile {
            // `exec` keeps the pid: the child is skr itself.
            Some(n) => {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("ulimit -n {n} && exec \"$0\" \"$@\""),
                    &exe(),
                ]);
                c
            }
            None => Command::new(exe()),
        };
        let mut child = cmd
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

    /// A field of `/proc/<pid>/status` in kB (`VmRSS:`, `VmHWM:`).
    pub fn status_kb(&self, field: &str) -> u64 {
        proc_status_kb(self.child.id(), field)
    }

    /// CPU time used so far (user + system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name, from `state`; utime and stime are
        // fields 14 and 15 of the line, so 11 and 12 here.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        let ticks = field(11) + field(12);
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }

    /// Standard-error lines received so far.
    pub fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

/// A field of `/proc/<pid>/status` in kB.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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
        Self::try_open(addr).expect("connect")
    }

    /// As [`Conn::open`]; `None` if the connection cannot be made within 2 s.
    pub fn try_open(addr: SocketAddr) -> Option<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        Some(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Sends raw bytes as the request body of `method path` and reads one answer.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// As [`Conn::request`], with failures as errors instead of panics.
    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes())?;
        // The server may answer (413) and close before an oversized body is sent in full.
        let _ = s.write_all(body);
        self.try_read_answer()
    }

    pub fn read_answer(&mut self) -> (u16, String) {
        self.try_read_answer()
            .unwrap_or_else(|e| panic!("reading an answer: {e}"))
    }

    /// Reads one answer (status and body).
    pub fn try_read_answer(&mut self) -> std::io::Result<(u16, String)> {
        let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line)?;
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("not HTTP: {status_line:?}")))?;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.stream.read_line(&mut h)?;
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("content-length {v:?}")))?;
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// One request on a fresh connection.
pub fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    Conn::open(addr).request(method, path, body)
}

pub fn b64(bytes: &[u8]) -> String {
    csc_core::base64::Base64(bytes, csc_core::base64::Alphabet::Standard).to_string()
}

/// A loopback TCP server that answers every connection with a line that is not TLS, for a
/// minute: a TLS client to it fails its handshake. Returns its `host:port`.
pub fn dead_tls_endpoint() -> (String, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    l.set_nonblocking(true).expect("nonblocking");
    let h = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(b"this is not TLS\r\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (format!("127.0.0.1:{port}"), h)
}
