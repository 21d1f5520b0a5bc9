//! A scripted HTTP server on 127.0.0.1 for the unit tests: a real socket that answers each
//! request as told (a recorded body, an error status, a dropped connection, silence) and
//! remembers what it was asked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this JSON body.
    Json(u16, String),
    /// Reads the request, then closes the connection without a word.
    Drop,
    /// Reads the request and says nothing for 30 s.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query string, as sent (`/search.json?engine=google&…`).
    pub target: String,
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
}

pub struct StandIn {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    script: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    received: Mutex<Vec<Received>>,
}

impl StandIn {
    /// Answers with `script` in order, then with `fallback` forever.
    pub async fn start(script: Vec<Reply>, fallback: Reply) -> Arc<StandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Arc::new(StandIn {
            url: format!("http://{}", listener.local_addr().unwrap()),
            script: Mutex::new(script.into()),
            fallback,
            received: Mutex::default(),
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

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn handle(&self, mut stream: TcpStream) {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        self.received.lock().unwrap().push(request);
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone());
        let (status, body) = match reply {
            Reply::Json(status, body) => (status, body),
            Reply::Drop => return,
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
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
    let mut words = head.split_whitespace();
    Some(Received {
        method: words.next()?.to_string(),
        target: words.next()?.to_string(),
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
    })
}
