//! A loopback HTTP/1.1 server that misbehaves on purpose.
//!
//! Each connection carries one request; a script (a closure of the request
//! and its 0-based index) says how to answer it: a canned response, a
//! redirect, a body dripped a byte at a time, silence, a huge body, or a
//! connection reset part-way. Every request is recorded with its headers
//! and body, so a test can prove what reached the server (or a redirect
//! target: a second `Hostile` that only records).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line and headers, as sent.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// The request path (with query).
    pub fn path(&self) -> String {
        self.head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response with a `Content-Length`.
    Send {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A redirect to `location`.
    Redirect { status: u16, location: String },
    /// The head, then one body byte every `every`, `total` bytes in all.
    Drip {
        headers: Vec<(String, String)>,
        every: Duration,
        total: usize,
    },
    /// Reads the request, then says nothing and holds the connection.
    Silence,
    /// `size` bytes of body without a `Content-Length` (the end is the
    /// close), streamed in 64 KiB chunks.
    Huge {
        status: u16,
        headers: Vec<(String, String)>,
        size: usize,
    },
    /// A head announcing `announced` bytes, `sent` of them, then a reset.
    Reset {
        headers: Vec<(String, String)>,
        announced: usize,
        sent: usize,
    },
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Send {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into().into_bytes(),
        }
    }

    /// Atlas's 401 Digest challenge (MD5, `qop="auth"`, nonce `N1`), the
    /// answer to a request without an `Authorization` header.
    #[allow(dead_code)] // not every test that includes this file needs it
    pub fn atlas_digest_challenge() -> Reply {
        Reply::Send {
            status: 401,
            headers: vec![(
                "www-authenticate".into(),
                r#"Digest realm="MMS Public API", nonce="N1", algorithm=MD5, qop="auth""#.into(),
            )],
            body: Vec::new(),
        }
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running hostile server. It stops when dropped.
pub struct Hostile {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    written: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Starts a server answering with `script`.
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = seen.clone();
        let written: Arc<AtomicUsize> = Arc::default();
        let counter = written.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, script, counter) = (log.clone(), script.clone(), counter.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, log, script, counter).await;
                });
            }
        });
        Hostile {
            port,
            seen,
            written,
            task,
        }
    }

    /// A server that answers every request `200 {}` and records it: a
    /// redirect target.
    pub async fn recorder() -> Hostile {
        Hostile::start(|_, _| Reply::json(200, "{}")).await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Body bytes of [`Reply::Huge`] answers the clients accepted so far.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Script>,
    written: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut seen = Seen {
        head,
        body: buf[head_end..].to_vec(),
    };
    let length = seen
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while seen.body.len() < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        seen.body.extend_from_slice(&chunk[..n]);
    }
    let index = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let head_of = |status: u16, headers: &[(String, String)], length: Option<usize>| {
        let mut h = format!("HTTP/1.1 {status} Hostile\r\nconnection: close\r\n");
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(n) = length {
            h.push_str(&format!("content-length: {n}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    };
    match script(&seen, index) {
        Reply::Send {
            status,
            headers,
            body,
        } => {
            socket
                .write_all(&head_of(status, &headers, Some(body.len())))
                .await?;
            socket.write_all(&body).await?;
        }
        Reply::Redirect { status, location } => {
            let headers = vec![("location".to_string(), location)];
            socket
                .write_all(&head_of(status, &headers, Some(0)))
                .await?;
        }
        Reply::Drip {
            headers,
            every,
            total,
        } => {
            socket
                .write_all(&head_of(200, &headers, Some(total)))
                .await?;
            for byte in filler(&headers, total) {
                tokio::time::sleep(every).await;
                socket.write_all(&[byte]).await?;
            }
        }
        Reply::Silence => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Reply::Huge {
            status,
            headers,
            size,
        } => {
            socket.write_all(&head_of(status, &headers, None)).await?;
            let block = vec![b'x'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(block.len());
                socket.write_all(&block[..n]).await?;
                written.fetch_add(n, Ordering::SeqCst);
                left -= n;
            }
        }
        Reply::Reset {
            headers,
            announced,
            sent,
        } => {
            socket
                .write_all(&head_of(200, &headers, Some(announced)))
                .await?;
            socket
                .write_all(&filler(&headers, announced)[..sent])
                .await?;
            socket.flush().await?;
            // Let the bytes arrive before the reset discards what is unsent.
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Linger 0: the close is a reset, not an orderly end.
            #[allow(deprecated)]
            socket.set_linger(Some(Duration::ZERO))?;
            drop(socket);
            return Ok(());
        }
    }
    socket.shutdown().await?;
    Ok(())
}

/// `len` bytes of body: `x`s, or for a gzip content type a valid (stored,
/// uncompressed) gzip stream of `x`s, so that a client checking the bytes
/// gets as far as the transport fault under test.
fn filler(headers: &[(String, String)], len: usize) -> Vec<u8> {
    let gzip = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.contains("gzip"));
    if !gzip {
        return vec![b'x'; len];
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut e, &vec![b'x'; len]).expect("in memory");
    let mut out = e.finish().expect("in memory");
    out.truncate(len);
    out
}
