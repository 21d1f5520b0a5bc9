//! A scripted HTTP server on 127.0.0.1 for tests and benches (feature `stand-in`): a real socket
//! that answers each request as told — a body with a status and headers, perhaps late; a
//! dropped connection; silence; a reset halfway through the body — and remembers what it was
//! asked (but a `GET …/models`, answered 404 outside the script). The one stand-in for every
//! crate whose HTTP calls go through [`crate::call`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this JSON body.
    Json(u16, String),
    /// This status, these extra header lines (`Retry-After: 2`) and this body, after `delay`.
    Full {
        status: u16,
        headers: Vec<String>,
        body: String,
        delay: Duration,
    },
    /// Reads the request, then closes the connection without a word.
    Drop,
    /// Reads the request and says nothing for 30 s.
    Hang,
    /// Sends a 200 head and half of this body, then resets the connection (TCP RST).
    Reset(String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query string, as sent (`/search.json?engine=google&…`).
    pub target: String,
    /// The header lines, as sent.
    pub headers: Vec<String>,
    pub body: String,
}

impl Received {
    /// The decoded value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&format!("http://x{}", self.target)).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The value of header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

pub struct StandIn {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    script: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    received: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl StandIn {
    /// Answers with `script` in order, then with `fallback` forever.
    pub async fn start(script: Vec<Reply>, fallback: Reply) -> Arc<StandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let server = Arc::new(StandIn {
            url: format!("http://{}", listener.local_addr().expect("bound")),
            script: Mutex::new(script.into()),
            fallback,
            received: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&server);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = Arc::clone(&accepting);
                tokio::spawn(async move { server.handle(stream).await });
            }
        });
        server
    }

    /// Answers every request with 200 and `body`.
    pub async fn always(body: &str) -> Arc<StandIn> {
        StandIn::start(Vec::new(), Reply::Json(200, body.to_string())).await
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The most requests it was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    async fn handle(&self, mut stream: TcpStream) {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        // The OpenAI client asks an endpoint's `/models` how many requests it answers at once;
        // the stand-in is an endpoint that does not say, outside its script.
        if request.method == "GET" && request.target.ends_with("/models") {
            answer(&mut stream, Reply::Json(404, "{}".into())).await;
            return;
        }
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let reply = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone());
        answer(&mut stream, reply).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(stream: &mut TcpStream, reply: Reply) {
    let (status, headers, body) = match reply {
        Reply::Json(status, body) => (status, Vec::new(), body),
        Reply::Full {
            status,
            headers,
            body,
            delay,
        } => {
            tokio::time::sleep(delay).await;
            (status, headers, body)
        }
        Reply::Drop => return,
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Reply::Reset(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]).await;
            let _ = stream.flush().await;
            // A zero linger turns the close into a reset.
            let _ = stream.set_zero_linger();
            return;
        }
    };
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads a request head and its `content-length` body.
async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut lines = head.lines();
    let mut words = lines.next()?.split_whitespace();
    Some(Received {
        method: words.next()?.to_string(),
        target: words.next()?.to_string(),
        headers: lines
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
    })
}
