//! End to end: the real `masksearch llm serve` binary running the real GGUF model on a free
//! port, driven by the real HTTP client and by `masksearch llm chat`. Greedy decoding of the
//! small model is deterministic, but the tests assert structure, never wording.

mod common;

use std::sync::Arc;

use chat::{ChatModel, ChatRequest, Message};
use common::{Served, masksearch, model};
use llm::{ClientConfig, OpenAiClient};

/// A client of the served model at `base_url`, with no retries.
fn client(base_url: &str) -> OpenAiClient {
    let mut config = ClientConfig::new(base_url.to_string(), "smollm2");
    config.max_attempts = 1;
    OpenAiClient::new(config).unwrap()
}

fn greedy(prompt: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("You are a helpful assistant."),
            Message::user(prompt),
        ],
        temperature: Some(0.0),
        max_tokens: Some(max_tokens),
        ..ChatRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_drives_the_served_local_model() {
    let served = Served::llm();
    let base_url = served.v1();
    let client = Arc::new(client(&base_url));
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    let full = client
        .chat(&greedy("Write a long story about a lighthouse keeper.", 40))
        .await
        .unwrap();
    assert!(!full.text.trim().is_empty());
    assert!(full.usage.prompt_tokens > 10, "{:?}", full.usage);
    assert!(
        full.usage.completion_tokens > 0 && full.usage.completion_tokens <= 40,
        "{:?}",
        full.usage
    );

    // max_tokens cuts the reply and says so.
    let cut = client
        .chat(&greedy("Write a long story about a lighthouse keeper.", 5))
        .await
        .unwrap();
    assert_eq!(cut.usage.completion_tokens, 5);
    assert_eq!(cut.finish_reason, chat::FinishReason::Length);
    assert!(
        full.text.starts_with(&cut.text),
        "greedy prefix: {:?} vs {:?}",
        cut.text,
        full.text
    );

    // A stop sequence taken from the middle of the greedy reply ends the reply right before it.
    let words: Vec<&str> = full.text.split_whitespace().collect();
    assert!(words.len() > 4, "{:?}", full.text);
    let stop = format!(" {}", words[3]);
    let at = full.text.find(&stop).unwrap();
    let mut request = greedy("Write a long story about a lighthouse keeper.", 40);
    request.stop = vec![stop.clone()];
    let stopped = client.chat(&request).await.unwrap();
    assert_eq!(stopped.text, full.text[..at], "stop {stop:?}");
    assert_eq!(stopped.finish_reason, chat::FinishReason::Stop);

    // Several requests at once all get answers.
    let calls: Vec<_> = ["Name a colour.", "Name a fruit.", "Name an animal."]
        .into_iter()
        .map(|q| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.chat(&greedy(q, 8)).await })
        })
        .collect();
    for call in calls {
        let reply = call.await.unwrap().unwrap();
        assert!(reply.usage.completion_tokens > 0);
    }
    assert_eq!(client.accounting().snapshot().failed_calls, 0);
}

#[test]
fn chat_answers_offline_with_the_local_model() {
    let out = masksearch()
        .args([
            "llm",
            "chat",
            "What is the capital of France?",
            "--max-tokens",
            "12",
            "--no-cache",
            "--model",
        ])
        .arg(model())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.trim().is_empty(), "{stderr}");
    assert!(stderr.contains("completion tokens"), "{stderr}");
    assert!(
        !stderr.contains("llama_model_loader"),
        "llama.cpp log spam leaked: {stderr}"
    );
}

#[test]
fn chat_through_an_endpoint_replays_from_the_cache() {
    let served = Served::llm();
    let base_url = served.v1();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("responses.redb");
    let run = || {
        let out = masksearch()
            .args([
                "llm",
                "chat",
                "Say hello.",
                "--max-tokens",
                "8",
                "--model-name",
                "smollm2",
            ])
            .args(["--base-url", &base_url])
            .arg("--cache")
            .arg(&cache)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    };
    let (first, stderr) = run();
    assert!(!first.trim().is_empty());
    assert!(!stderr.contains("from cache"), "{stderr}");
    let (second, stderr) = run();
    assert_eq!(first, second);
    assert!(stderr.contains("from cache"), "{stderr}");
}

#[test]
fn a_missing_default_model_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = masksearch()
        .current_dir(dir.path())
        .args(["llm", "chat", "hi", "--no-cache"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("scripts/setup.sh"), "{stderr}");
}

#[test]
fn bad_usage_exits_2() {
    let out = masksearch().args(["llm", "chat"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = masksearch()
        .args([
            "llm",
            "chat",
            "hi",
            "--model",
            "x.gguf",
            "--base-url",
            "http://h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
