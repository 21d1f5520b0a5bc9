//! End to end: the real `masksearch llm serve` binary running the real GGUF model on a free
//! port, driven by the real HTTP client and by `masksearch llm chat`. Greedy decoding of the
//! small model is deterministic, but the tests assert structure, never wording (nor whether
//! it calls a tool).

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Served, masksearch, model, testdata, venv_python};
use chat::{ChatModel, ChatRequest, Message};
use llm::{ClientConfig, OpenAiClient};
use serde_json::{Value, json};

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

/// The workers share the cores unless `--threads` or `MASKSEARCH_THREADS` says otherwise, and
/// the startup line says how they were shared.
#[test]
fn workers_share_the_cores_unless_told_otherwise() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = |env: Option<&str>, extra: &[&str]| {
        let mut cmd = masksearch();
        match env {
            Some(threads) => cmd.env("MASKSEARCH_THREADS", threads),
            None => cmd.env_remove("MASKSEARCH_THREADS"),
        };
        cmd.args(["llm", "serve", "--context-size", "256", "--model"])
            .arg(model())
            .args(extra);
        Served::spawn(cmd).stderr_line()
    };
    let shared = (cores / 2).max(1);
    let threads = if shared == 1 {
        "1 thread"
    } else {
        &format!("{shared} threads")
    };
    let line = started(None, &["--workers", "2"]);
    assert!(line.contains(&format!("2 workers × {threads}")), "{line}");
    // The wait queue is bounded by default: 8 requests per worker.
    assert!(line.contains("up to 16 requests wait"), "{line}");
    let line = started(Some("3"), &[]);
    assert!(
        line.contains("1 worker × 3 threads, 256-token context"),
        "{line}"
    );
    let line = started(Some("3"), &["--threads", "1", "--max-waiting", "4"]);
    assert!(
        line.contains("1 worker × 1 thread, 256-token context; up to 4 requests wait"),
        "{line}"
    );
}

/// `masksearch llm serve` on the local model with `extra` flags.
fn serve_with(extra: &[&str]) -> Served {
    let model = model();
    let mut args: Vec<&std::ffi::OsStr> = ["llm", "serve"]
        .iter()
        .chain(extra)
        .map(|a| a.as_ref())
        .collect();
    args.extend(["--model".as_ref(), model.as_os_str()]);
    Served::start(&args)
}

/// The wire body of a greedy request.
fn greedy_body(prompt: &str, max_tokens: u32) -> Value {
    json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
        "max_tokens": max_tokens,
    })
}

/// A request the model never ends on its own (temperature 2 babbles; `max_tokens` is far
/// beyond any context), so only the context or a departed client stops it.
fn endless_body() -> Value {
    json!({
        "messages": [{"role": "user", "content": "Write a very long poem."}],
        "temperature": 2.0,
        "seed": 7,
        "max_tokens": 100_000_000,
    })
}

fn completions_url(served: &Served) -> String {
    format!("{}/chat/completions", served.v1())
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The JSON `data:` payloads of a server-sent event stream, and whether it ended with `[DONE]`.
fn sse_chunks(text: &str) -> (Vec<Value>, bool) {
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    let done = data.last() == Some(&"[DONE]");
    let chunks = data
        .iter()
        .filter(|d| **d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (chunks, done)
}

/// Starts a streamed request and returns its response once the first content piece arrived:
/// from then on the request holds a worker.
async fn streaming_started(url: &str, mut body: Value) -> reqwest::Response {
    body["stream"] = json!(true);
    let mut response = post(url, &body).await;
    assert_eq!(response.status().as_u16(), 200);
    let mut seen = String::new();
    let has_piece = |text: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .any(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|p| !p.is_empty())
            })
    };
    while !has_piece(&seen) {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream ended early");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    response
}

fn assert_json_error(json: &Value, case: &str) {
    let error = &json["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {json}"
    );
    assert!(
        error["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{case}: {json}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn models_lists_the_served_gguf() {
    let served = Served::llm();
    let models: Value = reqwest::get(format!("{}/models", served.v1()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(models["data"][0]["object"], "model");
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_chunks_add_up_to_the_greedy_answer() {
    let served = Served::llm();
    let url = completions_url(&served);
    let body = greedy_body("Tell me about the sea.", 24);
    let whole: Value = post(&url, &body).await.json().await.unwrap();
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let response = post(&url, &streamed).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (chunks, done) = sse_chunks(&response.text().await.unwrap());
    assert!(done, "no [DONE]: {chunks:?}");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert!(chunks.len() > 4, "one piece per token or so: {chunks:?}");
    let n = chunks.len();
    assert_eq!(
        chunks[n - 2]["choices"][0]["finish_reason"],
        whole["choices"][0]["finish_reason"]
    );
    assert_eq!(chunks[n - 1]["usage"], whole["usage"]);
}

/// Every 4xx (and 413) on the chat routes is `{"error": {"message", "type"}}`.
#[tokio::test(flavor = "multi_thread")]
async fn every_bad_request_is_a_json_4xx() {
    let served = Served::llm();
    let url = completions_url(&served);
    let hi = |extra: Value| {
        let mut body = greedy_body("hi", 4);
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (hi(json!({"temperature": -5})), 400),
        (hi(json!({"temperature": 2.1})), 400),
        (hi(json!({"top_p": 0})), 400),
        (hi(json!({"top_p": 1.01})), 400),
        (hi(json!({"max_tokens": 0})), 400),
        (hi(json!({"n": 2})), 400),
        (hi(json!({"frequency_penalty": -2.5})), 400),
        (hi(json!({"presence_penalty": 9})), 400),
        (
            hi(json!({"messages": [{"role": "tool", "content": "x"}]})),
            400,
        ),
        (hi(json!({"messages": []})), 400),
        (hi(json!({"continue_final_message": true})), 400),
        (hi(json!({"max_tokens": -3})), 422),
        (hi(json!({"messages": "hi"})), 422),
        // Longer than the 2,048-token context.
        (
            hi(json!({"messages": [{"role": "user", "content": "word ".repeat(3000)}]})),
            400,
        ),
        (
            hi(
                json!({"stream": true, "messages": [{"role": "user", "content": "word ".repeat(3000)}]}),
            ),
            400,
        ),
        // Over the 4 MiB body cap.
        (
            hi(json!({"messages": [{"role": "user", "content": "x".repeat(5 << 20)}]})),
            413,
        ),
    ];
    for (body, status) in cases {
        let case: String = body.to_string().chars().take(90).collect();
        let response = post(&url, &body).await;
        assert_eq!(response.status().as_u16(), status, "{case}");
        assert_json_error(&response.json().await.unwrap(), &case);
    }
    let client = reqwest::Client::new();
    let raw = [
        (
            client
                .post(&url)
                .body("{not json")
                .header("content-type", "application/json"),
            400,
        ),
        (
            client.post(&url).body(greedy_body("hi", 4).to_string()),
            415,
        ),
        (client.get(&url), 405),
        (client.post(format!("{}/models", served.v1())), 405),
    ];
    for (request, status) in raw {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert_json_error(&response.json().await.unwrap(), &status.to_string());
    }
}

/// Through the client (which sends `continue_final_message` and `add_generation_prompt`):
/// continuing the first 5 greedy tokens of an answer adds exactly those 5 prompt tokens and
/// greedily yields the rest of the same answer.
#[tokio::test(flavor = "multi_thread")]
async fn continue_final_message_goes_on_with_the_answer() {
    let served = Served::llm();
    let client = client(&served.v1());
    let question = "Write a long story about a lighthouse keeper.";
    let full = client.chat(&greedy(question, 16)).await.unwrap();
    let head = client.chat(&greedy(question, 5)).await.unwrap();
    let mut continued = greedy(question, 11);
    continued
        .messages
        .push(Message::assistant(head.text.clone()));
    continued.continue_final_message = true;
    let rest = client.chat(&continued).await.unwrap();
    assert_eq!(rest.usage.prompt_tokens, head.usage.prompt_tokens + 5);
    assert_eq!(format!("{}{}", head.text, rest.text), full.text);

    let mut thinking = greedy(question, 8);
    thinking
        .messages
        .push(Message::assistant("<think>The keeper"));
    thinking.continue_final_message = true;
    let reply = client.chat(&thinking).await.unwrap();
    assert!(reply.usage.prompt_tokens > full.usage.prompt_tokens);
    assert!(!reply.text.contains("assistant"), "{:?}", reply.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_tokens_beyond_the_context_stops_at_the_context() {
    let served = serve_with(&["--context-size", "64"]);
    let response = post(&completions_url(&served), &endless_body()).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length", "{body}");
    assert_eq!(body["usage"]["total_tokens"], 64, "{body}");
}

/// One worker, one waiting place: while a request generates and another waits, a third is
/// turned away with 503, `Retry-After` and a JSON error; the waiting one is served once the
/// first client hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503_with_retry_after() {
    let served = serve_with(&["--workers", "1", "--max-waiting", "1"]);
    let url = completions_url(&served);
    let running = streaming_started(&url, endless_body()).await;
    let ask =
        |url: String| tokio::spawn(async move { post(&url, &greedy_body("Say hi.", 4)).await });
    let (mut b, mut c) = (ask(url.clone()), ask(url.clone()));
    let (turned_away, waiting) = tokio::select! {
        r = &mut b => (r.unwrap(), c),
        r = &mut c => (r.unwrap(), b),
    };
    assert_eq!(turned_away.status().as_u16(), 503);
    let retry_after: u64 = turned_away.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let json: Value = turned_away.json().await.unwrap();
    assert_json_error(&json, "busy");
    assert_eq!(json["error"]["type"], "overloaded_error");
    drop(running);
    let served_later = waiting.await.unwrap();
    assert_eq!(served_later.status().as_u16(), 200);
}

/// One worker and no waiting place: a client that hangs up (streaming or not) must free the
/// worker within a token or two. The endless request would hold it for thousands of tokens
/// (a 4,096-token context); the follow-up is turned away with 503 for as long as it does, and
/// gives up after 30 tries one `Retry-After` (1 s) apart.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_hangs_up_frees_the_worker() {
    let served = serve_with(&[
        "--workers",
        "1",
        "--max-waiting",
        "0",
        "--context-size",
        "4096",
    ]);
    let url = completions_url(&served);
    let mut config = ClientConfig::new(served.v1(), "smollm2");
    config.max_attempts = 30;
    let follow_up = OpenAiClient::new(config).unwrap();

    let streaming = streaming_started(&url, endless_body()).await;
    drop(streaming);
    let reply = follow_up.chat(&greedy("Say hi.", 4)).await.unwrap();
    assert!(reply.usage.completion_tokens > 0);

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let gave_up = impatient.post(&url).json(&endless_body()).send().await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    let reply = follow_up.chat(&greedy("Say hi.", 4)).await.unwrap();
    assert!(reply.usage.completion_tokens > 0);
    assert_eq!(follow_up.accounting().snapshot().failed_calls, 0);
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The prompt the model saw held LLaMA-Factory's rendering of the `web_search` tool: a request
/// offering the tool (testdata/student/web_search_tool.json) costs exactly as many prompt
/// tokens as the same request without `tools` whose system message spells out the text
/// LLaMA-Factory's `smollm` template trains on (testdata/llamafactory/, first checked here
/// against LLaMA-Factory's own code in `.venv`). Whatever the 135M model then writes, the
/// answer has OpenAI's shape, streamed or not, and both say the same.
#[tokio::test(flavor = "multi_thread")]
async fn the_served_model_is_offered_tools_and_answers_in_openai_shape() {
    venv_python(&[
        testdata("llamafactory/render_tools.py").as_os_str(),
        "check".as_ref(),
    ]);

    let tool = read_json(&testdata("student/web_search_tool.json"));
    let input = read_json(&testdata("llamafactory/tools_conversations.json"));
    let golden = read_json(&testdata("llamafactory/tools_conversations.smollm.json"));
    let conversation = &input["conversations"][0]["openai"];
    assert_eq!(
        conversation["tools"],
        json!([tool]),
        "the golden conversation offers this tool"
    );
    let (system, question) = (&conversation["messages"][0], &conversation["messages"][1]);
    assert_eq!(
        (&system["role"], &question["role"]),
        (&json!("system"), &json!("user"))
    );
    let first_prompt = golden["conversations"][0]["turns"][0]["prompt"]
        .as_str()
        .unwrap();
    let spelled_out = first_prompt
        .strip_prefix("<|im_start|>system\n")
        .and_then(|rest| rest.split_once("<|im_end|>"))
        .map(|(system, _)| system)
        .unwrap();
    assert!(
        spelled_out.contains("> Tool Name: web_search"),
        "{spelled_out}"
    );

    let served = Served::llm();
    let url = completions_url(&served);
    let offered = json!({
        "model": "smollm2",
        "messages": [system, question],
        "tools": [tool],
        "temperature": 0,
        "max_tokens": 48,
    });
    let prompt_tokens = |body: Value| {
        let url = url.clone();
        async move {
            let answer: Value = post(&url, &body).await.json().await.unwrap();
            answer["usage"]["prompt_tokens"].as_u64().unwrap()
        }
    };
    let mut plain = offered.clone();
    plain.as_object_mut().unwrap().remove("tools");
    let mut spelled = plain.clone();
    spelled["messages"][0]["content"] = json!(spelled_out);
    let with_tools = prompt_tokens(offered.clone()).await;
    assert_eq!(with_tools, prompt_tokens(spelled).await);
    assert!(
        with_tools > prompt_tokens(plain).await + 100,
        "{with_tools}"
    );

    // The conversation's question, and a request to repeat a call's text (which the greedy
    // model does, so calls come back in practice): either way, the shape holds.
    let mut repeat = offered.clone();
    repeat["messages"][1]["content"] = json!(
        "Repeat after me, exactly:\nAction: web_search\nAction Input: {\"queries\": [\"Ciudad Juárez\"]}"
    );
    for body in [&offered, &repeat] {
        assert_answers_in_openai_shape(&url, body).await;
    }
}

/// A request offering tools gets an OpenAI answer, whole or streamed, that says the same:
/// text, or calls with ids, names and JSON object arguments and `finish_reason: tool_calls`.
async fn assert_answers_in_openai_shape(url: &str, body: &Value) {
    let whole: Value = post(url, body).await.json().await.unwrap();
    let message = &whole["choices"][0]["message"];
    let finish = whole["choices"][0]["finish_reason"].as_str().unwrap();
    assert_eq!(message["role"], "assistant");
    let calls = message["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if calls.is_empty() {
        assert!(["stop", "length"].contains(&finish), "{whole}");
        assert!(message["content"].is_string(), "{whole}");
    } else {
        assert_eq!(finish, "tool_calls", "{whole}");
        assert!(message["content"].is_string() || message["content"].is_null());
    }
    for call in &calls {
        assert!(call["id"].as_str().unwrap().starts_with("call_"), "{call}");
        assert_eq!(call["type"], "function");
        assert!(
            !call["function"]["name"].as_str().unwrap().is_empty(),
            "{call}"
        );
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(arguments.is_object(), "{call}");
    }

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let response = post(url, &streamed).await;
    assert_eq!(response.status().as_u16(), 200);
    let (chunks, done) = sse_chunks(&response.text().await.unwrap());
    assert!(done, "no [DONE]: {chunks:?}");
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    let text: String = deltas
        .iter()
        .filter_map(|d| d["content"].as_str())
        .collect();
    assert_eq!(text, message["content"].as_str().unwrap_or_default());
    let streamed_calls: Vec<(Value, Value, Value)> = deltas
        .iter()
        .filter_map(|d| d["tool_calls"].as_array())
        .flatten()
        .map(|c| {
            (
                c["index"].clone(),
                c["function"]["name"].clone(),
                c["function"]["arguments"].clone(),
            )
        })
        .collect();
    let whole_calls: Vec<(Value, Value, Value)> = (0..)
        .zip(&calls)
        .map(|(i, c): (u64, _)| {
            (
                json!(i),
                c["function"]["name"].clone(),
                c["function"]["arguments"].clone(),
            )
        })
        .collect();
    assert_eq!(streamed_calls, whole_calls);
    let last = &chunks.last().unwrap()["choices"][0];
    assert_eq!(last["finish_reason"], finish);
}

#[test]
fn a_request_timeout_shorter_than_the_model_fails_the_call_and_a_longer_one_waits() {
    let served = Served::llm();
    let base_url = served.v1();
    let chat = |timeout: &str, max_tokens: &str| {
        masksearch()
            .args(["llm", "chat", "Tell a long story about a cat."])
            .args(["--base-url", &base_url, "--model-name", "smollm2"])
            .args(["--max-tokens", max_tokens, "--request-timeout", timeout])
            .output()
            .unwrap()
    };
    // 200 tokens take the local model on 2 cores far longer than 50 ms.
    let short = chat("0.05", "200");
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success(), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    let long = chat("600", "8");
    assert!(
        long.status.success(),
        "{}",
        String::from_utf8_lossy(&long.stderr)
    );
    assert!(!String::from_utf8_lossy(&long.stdout).trim().is_empty());
    let refused = masksearch()
        .args(["llm", "chat", "hi", "--request-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "a usage error");
}

/// Eval asks sixteen questions at once of `llm serve` with one worker and a timeout that one
/// answer fits in but not a queue of them: the server says it has one worker, so the client
/// sends one request at a time and the others wait on its side with their clocks not started.
/// Every answer comes, none timed out, nothing was retried.
#[test]
fn requests_waiting_for_the_one_worker_do_not_time_out() {
    let served = serve_with(&["--workers", "1", "--max-waiting", "64"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval");
    let benchmark = crate::common::testdata("hotpotqa_500.jsonl");
    let (_, stderr) = crate::common::run_ok(&[
        "eval".as_ref(),
        "--methods".as_ref(),
        "direct".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--base-url".as_ref(),
        served.v1().as_ref(),
        "--model-name".as_ref(),
        "smollm2".as_ref(),
        "--limit".as_ref(),
        "16".as_ref(),
        "--max-tokens".as_ref(),
        "32".as_ref(),
        "--concurrency".as_ref(),
        "16".as_ref(),
        // An answer takes the local model well under a second; sixteen in a row, several.
        "--request-timeout".as_ref(),
        "3".as_ref(),
        benchmark.as_ref(),
    ]);
    assert!(
        stderr.contains("16 answers (0 failed)")
            && stderr.contains("endpoints: 16 requests, 0 retries, 0 of 16 calls failed"),
        "{stderr}"
    );
}

/// Many clients at once on one worker, half of them hanging up mid-answer (streamed, after the
/// first piece) or mid-wait: no worker stays stuck, the queue drains, and every answer that
/// completes equals the model's answer to the same request with nobody else asking.
/// `MASKSEARCH_LOAD_CLIENTS` clients (16 by default; 64 for the long run in the README).
#[tokio::test(flavor = "multi_thread")]
async fn clients_that_hang_up_under_load_leave_every_other_answer_as_it_is_alone() {
    let clients: usize = std::env::var("MASKSEARCH_LOAD_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let served = serve_with(&["--workers", "1", "--max-waiting", "1024"]);
    let url = completions_url(&served);
    let body = greedy_body("Name three rivers of Europe.", 24);
    let alone = |response: Value| response["choices"][0]["message"]["content"].clone();
    let expected = alone(post(&url, &body).await.json().await.unwrap());
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (url, body) = (url.clone(), body.clone());
            tokio::spawn(async move {
                match i % 4 {
                    // Hangs up once the first piece arrived.
                    1 => {
                        drop(streaming_started(&url, body).await);
                        None
                    }
                    // Hangs up while waiting in the queue (or early in its answer).
                    3 => {
                        let impatient = reqwest::Client::builder()
                            .timeout(Duration::from_millis(50))
                            .build()
                            .unwrap();
                        let _ = impatient.post(&url).json(&body).send().await;
                        None
                    }
                    _ => Some(post(&url, &body).await.json::<Value>().await.unwrap()),
                }
            })
        })
        .collect();
    let mut completed = 0;
    for task in tasks {
        if let Some(response) = task.await.unwrap() {
            assert_eq!(alone(response), expected);
            completed += 1;
        }
    }
    assert_eq!(completed, clients.div_ceil(2), "the clients that stay");
    // The queue drained and the worker is free: the next request is answered at once.
    let after = std::time::Instant::now();
    let last = alone(post(&url, &body).await.json().await.unwrap());
    assert_eq!(last, expected);
    eprintln!(
        "{clients} clients ({completed} completed) in {:.1} s; a lone request after them in {:.1} s",
        started.elapsed().as_secs_f64(),
        after.elapsed().as_secs_f64()
    );
}
