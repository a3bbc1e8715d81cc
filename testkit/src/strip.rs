//! A loopback HTTP/1.1 front that removes request headers a test server refuses and forwards
//! everything over TLS to a target: one TLS connection per client connection, bytes and
//! timing otherwise untouched.
//!
//! Why: upstream's azmount (the benchmark's baseline) sends `x-ms-encryption-algorithm:
//! AES256` without a key on every Put Page, which Azurite refuses (`FeatureNotSupported`),
//! so its writes cannot be measured against Azurite as they are. Put in front of the
//! [latency proxy](crate::proxy), the stripper lets azmount's requests through the same
//! proxy to the same Azurite as encfs's, its TLS connections paying the same round trips;
//! azmount itself then speaks plain HTTP to the stripper and is spared its own TLS work.
//!
//! Requests are parsed only as far as framing needs: the head up to the blank line, then a
//! `Content-Length` body. A chunked body, or a head over 64 KiB, switches the connection to
//! plain forwarding for the rest of its life.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;

/// Largest request head parsed.
const MAX_HEAD: usize = 64 * 1024;
/// Bytes read at a time.
const CHUNK: usize = 256 * 1024;

/// What the stripper does.
#[derive(Clone, Debug)]
pub struct StripConfig {
    /// Where to forward (over TLS).
    pub target: SocketAddr,
    /// TLS settings for the target (its roots).
    pub tls: Arc<rustls::ClientConfig>,
    /// The name the target's certificate must hold (an IP address or a DNS name).
    pub server_name: String,
    /// Request headers removed (names, any case).
    pub drop_headers: Vec<String>,
}

impl StripConfig {
    /// Forwarding to `target`, whose certificate for `server_name` is issued by `root`.
    pub fn trusting(
        target: SocketAddr,
        root: rustls::pki_types::CertificateDer<'static>,
        server_name: &str,
        drop_headers: &[&str],
    ) -> io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(root)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            target,
            tls: Arc::new(tls),
            server_name: server_name.to_string(),
            drop_headers: drop_headers.iter().map(|h| h.to_string()).collect(),
        })
    }
}

/// A running stripper; stops on drop.
#[derive(Debug)]
pub struct HeaderStripper {
    addr: SocketAddr,
    runtime: Option<Runtime>,
}

impl HeaderStripper {
    /// Starts on a free loopback port.
    pub fn start(config: StripConfig) -> io::Result<Self> {
        let name = ServerName::try_from(config.server_name.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("csc-testkit-strip")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let drop: Arc<[String]> = config
            .drop_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let connector = TlsConnector::from(config.tls.clone());
        let target = config.target;
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (connector, name, drop) = (connector.clone(), name.clone(), drop.clone());
                tokio::spawn(async move {
                    let _ = serve(client, target, connector, name, &drop).await;
                });
            }
        });
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }

    /// The address clients connect to (plain HTTP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for HeaderStripper {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(
    client: TcpStream,
    target: SocketAddr,
    connector: TlsConnector,
    name: ServerName<'static>,
    drop: &[String],
) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let tcp = TcpStream::connect(target).await?;
    let _ = tcp.set_nodelay(true);
    let server = connector.connect(name, tcp).await?;
    let (client_read, mut client_write) = client.into_split();
    let (server_read, server_write) = tokio::io::split(server);
    let up = requests(client_read, server_write, drop);
    let down = async move {
        let mut server_read = server_read;
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    let (_, ()) = tokio::join!(up, down);
    Ok(())
}

/// Where the parser is in the client's byte stream.
enum Framing {
    /// Reading a request head.
    Head,
    /// Forwarding this many more body bytes.
    Body(u64),
    /// Forwarding everything as it comes.
    Raw,
}

/// Forwards the client's requests without the dropped headers.
async fn requests(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    drop: &[String],
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let mut framing = Framing::Head;
    loop {
        // Forward as much of what arrived as its framing allows.
        loop {
            match framing {
                Framing::Raw => {
                    to.write_all(&pending).await?;
                    pending.clear();
                    break;
                }
                Framing::Body(_) if pending.is_empty() => break,
                Framing::Body(left) => {
                    let take = left.min(pending.len() as u64) as usize;
                    to.write_all(pending.get(..take).unwrap_or_default())
                        .await?;
                    pending.drain(..take);
                    framing = match left - take as u64 {
                        0 => Framing::Head,
                        more => Framing::Body(more),
                    };
                }
                Framing::Head => match head_end(&pending) {
                    Some(end) => {
                        let head: Vec<u8> = pending.drain(..end).collect();
                        let (rewritten, next) = rewrite(&head, drop);
                        to.write_all(&rewritten).await?;
                        framing = next;
                    }
                    None if pending.len() > MAX_HEAD => framing = Framing::Raw,
                    None => break,
                },
            }
        }
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    to.shutdown().await
}

/// The length of the head at the start of `b` (through the blank line), if complete.
fn head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The head without the dropped headers, and how the body that follows is framed.
fn rewrite(head: &[u8], drop: &[String]) -> (Vec<u8>, Framing) {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len());
    let mut length = 0u64;
    let mut chunked = false;
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0
            && let Some((name, value)) = line.split_once(':')
        {
            let name = name.trim().to_ascii_lowercase();
            if drop.contains(&name) {
                continue;
            }
            match name.as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked |= value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let framing = if chunked {
        Framing::Raw
    } else if length > 0 {
        Framing::Body(length)
    } else {
        Framing::Head
    };
    (out.into_bytes(), framing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_lose_only_the_dropped_headers() {
        let head = b"PUT /b?comp=page HTTP/1.1\r\nHost: x\r\nX-Ms-Encryption-Algorithm: AES256\r\nContent-Length: 12\r\n\r\n";
        let (out, framing) = rewrite(head, &["x-ms-encryption-algorithm".into()]);
        assert_eq!(
            out,
            b"PUT /b?comp=page HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"
        );
        assert!(matches!(framing, Framing::Body(12)));
        let (_, framing) = rewrite(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            &[],
        );
        assert!(matches!(framing, Framing::Raw));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
