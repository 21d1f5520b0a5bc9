//! The HTTP client against a misbehaving server on a real socket: each fault is retried within
//! limits and then fails that one request with an error naming the endpoint and the fault.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::{ChatModel, ChatRequest, Message};
use llm::{Accounting, CacheConfig, CachePolicy, CachedModel, ClientConfig, OpenAiClient};
use support::{FaultServer, Reply};

fn config(base_urls: Vec<String>) -> ClientConfig {
    ClientConfig {
        base_urls,
        model: "scripted".to_string(),
        max_attempts: 3,
        request_timeout_secs: 5.0,
        initial_backoff_secs: 0.01,
        max_backoff_secs: 2.0,
        ..ClientConfig::default()
    }
}

fn client(server: &FaultServer) -> OpenAiClient {
    OpenAiClient::new(config(vec![server.base_url.clone()])).unwrap()
}

fn request(prompt: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(0.0),
        ..ChatRequest::default()
    }
}

fn ok(text: &str) -> Reply {
    Reply::Ok(text.to_string())
}

#[tokio::test]
async fn server_error_then_success_is_retried() {
    let server = FaultServer::start(vec![Reply::Status(500, "boom".into())], ok("fine")).await;
    let client = client(&server);
    let response = client.chat(&request("hi")).await.unwrap();
    assert_eq!(response.text, "fine");
    assert_eq!(response.usage.prompt_tokens, 11);
    assert_eq!(server.requests(), 2);
    let stats = client.accounting().snapshot();
    assert_eq!(
        (stats.http_requests, stats.retries, stats.failed_calls),
        (2, 1, 0)
    );
    assert_eq!((stats.prompt_tokens, stats.completion_tokens), (11, 7));
}

#[tokio::test]
async fn a_connection_reset_mid_response_is_retried() {
    let server = FaultServer::start(vec![Reply::Reset], ok("fine")).await;
    let client = client(&server);
    assert_eq!(client.chat(&request("hi")).await.unwrap().text, "fine");
    assert_eq!(server.requests(), 2);
    assert_eq!(client.accounting().snapshot().retries, 1);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = FaultServer::start(
        vec![Reply::TooMany {
            retry_after_secs: 1,
        }],
        ok("fine"),
    )
    .await;
    let client = client(&server);
    let started = Instant::now();
    assert_eq!(client.chat(&request("hi")).await.unwrap().text, "fine");
    // The back-off alone would be ~10 ms; only Retry-After explains a wait of a second.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests(), 2);
}

/// Each persistent fault: exactly `max_attempts` requests, then an error that names the
/// endpoint and says what went wrong.
#[tokio::test]
async fn persistent_faults_fail_the_request_after_the_attempt_limit() {
    let cases = [
        (Reply::Status(503, "overloaded".into()), "HTTP 503"),
        (
            Reply::TooMany {
                retry_after_secs: 0,
            },
            "HTTP 429",
        ),
        (Reply::Malformed, "malformed JSON"),
        (Reply::Reset, "Connection reset by peer"),
        (Reply::EmptyChoices, "empty `choices`"),
    ];
    for (fault, expect) in cases {
        let server = FaultServer::start(vec![], fault.clone()).await;
        let client = client(&server);
        let err = client.chat(&request("hi")).await.unwrap_err().to_string();
        assert!(err.contains(expect), "{fault:?}: {err}");
        assert!(err.contains(&server.base_url), "{fault:?}: {err}");
        assert!(err.contains("3 attempt"), "{fault:?}: {err}");
        assert_eq!(server.requests(), 3, "{fault:?}");
        assert_eq!(client.accounting().snapshot().failed_calls, 1);
    }
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let server = FaultServer::start(vec![], Reply::Hang).await;
    let mut config = config(vec![server.base_url.clone()]);
    config.request_timeout_secs = 0.3;
    config.max_attempts = 2;
    let client = OpenAiClient::new(config).unwrap();
    let err = client.chat(&request("hi")).await.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FaultServer::start(vec![], Reply::Status(400, "bad model name".into())).await;
    let client = client(&server);
    let err = client.chat(&request("hi")).await.unwrap_err().to_string();
    assert!(
        err.contains("HTTP 400") && err.contains("bad model name"),
        "{err}"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_the_next_endpoint() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", listener.local_addr().unwrap())
    };
    let server = FaultServer::start(vec![], ok("fine")).await;
    let client = OpenAiClient::new(config(vec![closed.clone(), server.base_url.clone()])).unwrap();
    for _ in 0..3 {
        assert_eq!(client.chat(&request("hi")).await.unwrap().text, "fine");
    }
    assert_eq!(server.requests(), 3);
    let only_closed = OpenAiClient::new(config(vec![closed.clone()])).unwrap();
    let err = only_closed
        .chat(&request("hi"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connection failed") && err.contains(&closed),
        "{err}"
    );
}

#[tokio::test]
async fn endpoints_are_used_round_robin() {
    let a = FaultServer::start(vec![], ok("a")).await;
    let b = FaultServer::start(vec![], ok("b")).await;
    let client = OpenAiClient::new(config(vec![a.base_url.clone(), b.base_url.clone()])).unwrap();
    for _ in 0..4 {
        client.chat(&request("hi")).await.unwrap();
    }
    assert_eq!((a.requests(), b.requests()), (2, 2));
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let server = FaultServer::start(
        vec![],
        Reply::Slow(Duration::from_millis(150), "slow".into()),
    )
    .await;
    let mut config = config(vec![server.base_url.clone()]);
    config.max_concurrency = 2;
    let client = Arc::new(OpenAiClient::new(config).unwrap());
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.chat(&request(&format!("q{i}"))).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(server.requests(), 6);
    assert_eq!(server.max_in_flight(), 2);
}

#[tokio::test]
async fn the_api_key_is_sent_as_a_bearer_token_and_never_echoed_in_errors() {
    // PATH stands in for a key variable: always set, so no (unsafe) set_var is needed.
    let key = std::env::var("PATH").unwrap();
    let server = FaultServer::start(vec![], Reply::Status(401, "no".into())).await;
    let mut config = config(vec![server.base_url.clone()]);
    config.api_key_env = Some("PATH".to_string());
    let client = OpenAiClient::new(config).unwrap();
    let err = client.chat(&request("hi")).await.unwrap_err().to_string();
    assert!(!err.contains(&key), "{err}");
    assert_eq!(
        server.authorization_headers(),
        vec![format!("Bearer {key}")]
    );
}

/// A second identical run through the cache sends zero HTTP requests (counted server-side).
#[tokio::test]
async fn cached_rerun_sends_no_requests() {
    let server = FaultServer::start(vec![], ok("answer")).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheConfig {
        path: dir.path().join("cache.redb"),
        policy: CachePolicy::Deterministic,
        accounting: Default::default(),
    };
    let prompts = ["one", "two", "three"];
    let run = || async {
        let accounting = Arc::new(Accounting::default());
        let client = OpenAiClient::new(ClientConfig {
            accounting: Arc::clone(&accounting),
            ..config(vec![server.base_url.clone()])
        })
        .unwrap();
        let cache = CacheConfig {
            accounting: Arc::clone(&accounting),
            ..cache.clone()
        };
        let cached = CachedModel::open(Arc::new(client), &cache).unwrap();
        let mut texts = Vec::new();
        for p in prompts {
            texts.push(cached.chat(&request(p)).await.unwrap().text);
        }
        (texts, accounting.snapshot())
    };
    let (first, stats) = run().await;
    assert_eq!(server.requests(), 3);
    assert_eq!(
        (stats.http_requests, stats.cache_misses, stats.cache_hits),
        (3, 3, 0)
    );
    let (second, stats) = run().await;
    assert_eq!(
        server.requests(),
        3,
        "the second run must not reach the server"
    );
    assert_eq!((stats.http_requests, stats.cache_hits), (0, 3));
    assert_eq!(first, second);
}
