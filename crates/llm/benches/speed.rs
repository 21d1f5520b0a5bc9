//! Throughput numbers for the README: local llama.cpp prompt evaluation and generation in
//! tokens/s, and the HTTP client's overhead per request against a server on 127.0.0.1.
//!
//! `cargo bench -p llm --features local --bench speed` (add `--profile dev` to reuse a test
//! build; dependencies are optimised in both). `MASKSEARCH_MODEL` overrides the GGUF path.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::{ChatModel, ChatRequest, Message};
use llm::{ClientConfig, OpenAiClient};
use support::{FaultServer, Reply};

const CLIENT_REQUESTS: usize = 300;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    #[cfg(feature = "local")]
    runtime.block_on(local::run());
    runtime.block_on(client_overhead());
}

fn request(prompt: String, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(0.0),
        max_tokens: Some(max_tokens),
        ..ChatRequest::default()
    }
}

/// Mean latency of the full client (serialise, semaphore, send, parse) against an instant
/// local server, next to a bare reqwest POST of the same body; and concurrent throughput.
async fn client_overhead() {
    let server = FaultServer::start(vec![], Reply::Ok("ok".to_string())).await;
    let mut config = ClientConfig::new(server.base_url.clone(), "bench");
    config.max_concurrency = 8;
    let client = Arc::new(OpenAiClient::new(config).expect("client"));
    let req = request("How tall is K2?".to_string(), 16);

    let bare = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url);
    let body = serde_json::to_vec(&chat::openai::CompletionRequest::from_chat("bench", &req))
        .expect("json");
    // Warm both paths up (connection setup, allocator) before timing either.
    for _ in 0..50 {
        bare_post(&bare, &url, &body).await;
        client.chat(&req).await.expect("chat");
    }
    let started = Instant::now();
    for _ in 0..CLIENT_REQUESTS {
        bare_post(&bare, &url, &body).await;
    }
    let bare_us = per_request_us(started.elapsed());

    let started = Instant::now();
    for _ in 0..CLIENT_REQUESTS {
        client.chat(&req).await.expect("chat");
    }
    let client_us = per_request_us(started.elapsed());

    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENT_REQUESTS)
        .map(|_| {
            let (client, req) = (Arc::clone(&client), req.clone());
            tokio::spawn(async move { client.chat(&req).await.expect("chat") })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let concurrent_rps = CLIENT_REQUESTS as f64 / started.elapsed().as_secs_f64();

    println!(
        "client: bare reqwest POST          {bare_us:8.0} µs/request (sequential, new connection each)"
    );
    println!("client: OpenAiClient::chat         {client_us:8.0} µs/request (sequential)");
    println!(
        "client: overhead over bare reqwest {:8.0} µs/request",
        client_us - bare_us
    );
    println!("client: 8 in flight                {concurrent_rps:8.0} requests/s");
}

fn per_request_us(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e6 / CLIENT_REQUESTS as f64
}

#[cfg(feature = "local")]
mod local {
    use std::path::PathBuf;

    use llm::{LocalConfig, LocalModel, LocalTimings};

    use super::request;

    const RUNS: usize = 3;

    fn model_path() -> PathBuf {
        std::env::var_os("MASKSEARCH_MODEL")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../assets/models/SmolLM2-135M-Instruct.Q4_1.gguf")
            })
    }

    /// About 900 tokens of encyclopaedic text, like a prompt with several retrieved passages.
    fn long_prompt() -> String {
        let passage = "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. \
            It is named after the engineer Gustave Eiffel, whose company designed and built the tower \
            from 1887 to 1889. Locally nicknamed \"La dame de fer\", it was constructed as the \
            centrepiece of the 1889 World's Fair and to crown the centennial anniversary of the French \
            Revolution. ";
        format!("{}\nQuestion: who designed the tower?", passage.repeat(11))
    }

    fn sum(timings: &[LocalTimings]) -> LocalTimings {
        timings
            .iter()
            .fold(LocalTimings::default(), |a, t| LocalTimings {
                prompt_tokens: a.prompt_tokens + t.prompt_tokens,
                prompt_secs: a.prompt_secs + t.prompt_secs,
                generated_tokens: a.generated_tokens + t.generated_tokens,
                generation_secs: a.generation_secs + t.generation_secs,
            })
    }

    async fn measure(model: &LocalModel, prompt: &str, max_tokens: u32) -> LocalTimings {
        let mut all = Vec::new();
        for _ in 0..RUNS {
            let (_, timings) = model
                .chat_timed(&request(prompt.to_string(), max_tokens))
                .await
                .expect("generation");
            all.push(timings);
        }
        sum(&all)
    }

    pub async fn run() {
        let path = model_path();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let started = std::time::Instant::now();
        let model = LocalModel::load(LocalConfig::new(&path))
            .expect("load the model (run scripts/setup.sh)");
        println!(
            "local: {} loaded in {:.2}s, {threads} threads",
            path.display(),
            started.elapsed().as_secs_f64()
        );
        measure(&model, "Hello", 8).await; // warm-up

        let long = measure(&model, &long_prompt(), 64).await;
        let short = measure(
            &model,
            "Write a short story about a lighthouse keeper.",
            128,
        )
        .await;
        println!(
            "local: prompt eval        {:7.1} tokens/s ({} tokens in {:.2}s over {RUNS} runs)",
            long.prompt_tokens as f64 / long.prompt_secs,
            long.prompt_tokens,
            long.prompt_secs
        );
        println!(
            "local: generation (short) {:7.1} tokens/s ({} tokens in {:.2}s)",
            short.generated_tokens as f64 / short.generation_secs,
            short.generated_tokens,
            short.generation_secs
        );
        println!(
            "local: generation after a {}-token prompt {:7.1} tokens/s ({} tokens)",
            long.prompt_tokens / RUNS,
            long.generated_tokens as f64 / long.generation_secs,
            long.generated_tokens
        );
    }
}

/// One chat completion POST with a plain reqwest client: the baseline the client is compared to.
async fn bare_post(bare: &reqwest::Client, url: &str, body: &[u8]) {
    let r = bare
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("send");
    r.bytes().await.expect("body");
}
