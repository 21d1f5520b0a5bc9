//! A misbehaving OpenAI-compatible server on 127.0.0.1: a real socket, answers scripted per
//! request, counts what it receives.
// Each test binary and the bench use a different subset of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a valid completion whose text is given.
    Ok(String),
    /// Any status with a plain body.
    Status(u16, String),
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after_secs: u64 },
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with `"choices": []`.
    EmptyChoices,
    /// Reads the request and never answers (for 30 s, then drops the connection).
    Hang,
    /// Like `Ok`, after a delay.
    Slow(Duration, String),
    /// Sends the head and half of a valid body, then resets the connection (TCP RST).
    Reset,
}

pub struct FaultServer {
    pub base_url: String,
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Used once the script is exhausted.
    fallback: Reply,
    requests: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    authorization: Arc<Mutex<Vec<String>>>,
}

impl FaultServer {
    /// Serves `script` in order, then `fallback` forever.
    pub async fn start(script: Vec<Reply>, fallback: Reply) -> Arc<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Arc::new(FaultServer {
            base_url: format!("http://{addr}/v1"),
            script: Arc::new(Mutex::new(script.into())),
            fallback,
            requests: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            authorization: Arc::default(),
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

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn authorization_headers(&self) -> Vec<String> {
        self.authorization.lock().unwrap().clone()
    }

    async fn handle(&self, mut stream: TcpStream) {
        let Some(head) = read_request(&mut stream).await else {
            return;
        };
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(auth) = head.lines().find_map(|l| {
            l.strip_prefix("authorization: ")
                .or_else(|| l.strip_prefix("Authorization: "))
        }) {
            self.authorization
                .lock()
                .unwrap()
                .push(auth.trim().to_string());
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone());
        let (status, extra, body) = match reply {
            Reply::Ok(text) => (200, String::new(), completion(&text)),
            Reply::Slow(delay, text) => {
                tokio::time::sleep(delay).await;
                (200, String::new(), completion(&text))
            }
            Reply::Status(code, body) => (code, String::new(), body),
            Reply::TooMany { retry_after_secs } => (
                429,
                format!("Retry-After: {retry_after_secs}\r\n"),
                "rate limited".to_string(),
            ),
            Reply::Malformed => (200, String::new(), "{\"choices\": [".to_string()),
            Reply::EmptyChoices => (200, String::new(), r#"{"id":"x","choices":[]}"#.to_string()),
            Reply::Reset => {
                let body = completion("cut short");
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]).await;
                let _ = stream.flush().await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                // A zero linger turns the close into a reset.
                let _ = stream.set_zero_linger();
                return;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// A completion body with usage counts, as a real server sends it.
pub fn completion(text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    })
    .to_string()
}

/// Reads the request head and its `content-length` body; returns the head.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
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
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(head)
}
