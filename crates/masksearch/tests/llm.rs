//! End to end: the real `masksearch llm serve` binary running the real GGUF model on a free
//! port, driven by the real HTTP client and by `masksearch llm chat`. Greedy decoding of the
//! small model is deterministic, but the tests assert structure, never wording.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use assert_cmd::cargo::CommandCargoExt;
use llm::{ChatModel, ChatRequest, ClientConfig, Message, OpenAiClient};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup.sh first",
        path.display()
    );
    path
}

fn masksearch() -> Command {
    let mut cmd = Command::cargo_bin("masksearch").unwrap();
    cmd.env_remove("MASKSEARCH_LOG");
    cmd
}

/// A running `masksearch llm serve`; killed on drop.
struct Served {
    child: Child,
    base_url: String,
}

impl Served {
    fn start() -> Served {
        let mut child = masksearch()
            .args([
                "llm",
                "serve",
                "--port",
                "0",
                "--threads",
                "2",
                "--context-size",
                "2048",
                "--model",
            ])
            .arg(model_path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let Some(addr) = first.trim().strip_prefix("listening on ") else {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("server did not start: stdout {first:?}, stderr {stderr}");
        };
        Served {
            base_url: format!("{addr}/v1"),
            child,
        }
    }

    fn client(&self) -> OpenAiClient {
        let mut config = ClientConfig::new(self.base_url.clone(), "smollm2");
        config.max_attempts = 1;
        OpenAiClient::new(config).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let served = Served::start();
    let client = Arc::new(served.client());
    assert!(
        served.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        served.base_url
    );

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
    assert_eq!(cut.finish_reason, "length");
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
    assert_eq!(stopped.finish_reason, "stop");

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
        .arg(model_path())
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
    let served = Served::start();
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
            .args(["--base-url", &served.base_url])
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
