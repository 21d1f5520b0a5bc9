//! The local llama.cpp model on the real GGUF: chat, streaming, stop sequences, limits,
//! sampling parameters, continuation, the bounded queue, cancellation, continuation scoring
//! and tools. Asserts structure, never wording.
#![cfg(feature = "local")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chat::{ChatError, ChatModel, ChatRequest, FinishReason, Message, TokenScorer};
use llm::{LocalConfig, LocalModel};

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

/// One model for most tests (llama.cpp's backend is process-wide anyway). Every model here
/// computes on one thread: the harness runs two tests at once, and llama.cpp's threads spin at
/// barriers, so more threads than cores crawl (two 2-thread models on 2 cores: 15× slower).
fn model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        let config = LocalConfig {
            threads: Some(1),
            context_size: 1024,
            workers: 2,
            ..LocalConfig::new(model_path())
        };
        Arc::new(LocalModel::load(config).unwrap())
    }))
}

fn greedy(prompt: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(0.0),
        max_tokens: Some(max_tokens),
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn streamed_pieces_add_up_to_the_reply() {
    let model = model();
    let pieces = std::sync::Mutex::new(Vec::new());
    let sink = |p: &str| {
        pieces.lock().unwrap().push(p.to_string());
        true
    };
    let response = model
        .chat_stream(&greedy("Tell me about the sea.", 24), &sink)
        .await
        .unwrap();
    let pieces = pieces.into_inner().unwrap();
    assert!(pieces.len() > 1, "{pieces:?}");
    assert_eq!(pieces.concat(), response.text);
    assert_eq!(
        model
            .chat(&greedy("Tell me about the sea.", 24))
            .await
            .unwrap(),
        response,
        "greedy is deterministic"
    );
}

#[tokio::test]
async fn seeded_sampling_is_reproducible() {
    let model = model();
    let mut request = greedy("Invent a name for a cat.", 12);
    request.temperature = Some(0.9);
    request.seed = Some(42);
    let a = model.chat(&request).await.unwrap();
    let b = model.chat(&request).await.unwrap();
    assert_eq!(a.text, b.text);
}

#[tokio::test]
async fn prompts_longer_than_the_context_are_rejected() {
    let err = model()
        .chat(&greedy(&"word ".repeat(3000), 4))
        .await
        .unwrap_err();
    assert!(matches!(err, chat::ChatError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn the_completion_never_overflows_the_context() {
    let reply = model()
        .chat(&greedy(&"word ".repeat(900), 500))
        .await
        .unwrap();
    let used = reply.usage.prompt_tokens + reply.usage.completion_tokens;
    assert!(used <= 1024, "{:?}", reply.usage);
}

#[test]
fn continuation_logprob_scores_tokens() {
    let model = model();
    let score = |context: &str, continuation: &str| {
        let lp = model.continuation_logprob(context, continuation).unwrap();
        (lp.sum, lp.tokens)
    };
    let (paris, n) = score("The capital of France is", " Paris");
    assert!(n >= 1 && paris < 0.0, "{paris} over {n}");
    let (odd, _) = score("The capital of France is", " xylophone");
    assert!(paris > odd, "Paris {paris} vs xylophone {odd}");
    // Trailing space of the context belongs to the continuation: same tokens, same score.
    let (moved, m) = score("The capital of France is ", "Paris");
    assert_eq!((moved, m), (paris, n));
    let (longer, k) = score("The capital of France is", " Paris, a city on the Seine.");
    assert!(k > n && longer < paris);
    assert_eq!(score("abc", ""), (0.0, 0));
    let (from_nothing, j) = score("", "Hello world");
    assert!(j >= 2 && from_nothing < 0.0);
}

/// A request the model never ends on its own: temperature 2 makes it babble, and the context
/// (not `max_tokens`) is the limit.
fn endless() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user("Write a very long poem.")],
        temperature: Some(2.0),
        seed: Some(7),
        max_tokens: Some(100_000_000),
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn max_tokens_beyond_the_context_ends_at_the_context_with_length() {
    let small = LocalModel::load(LocalConfig {
        threads: Some(1),
        context_size: 96,
        ..LocalConfig::new(model_path())
    })
    .unwrap();
    let reply = small.chat(&endless()).await.unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Length, "{reply:?}");
    assert_eq!(
        reply.usage.prompt_tokens + reply.usage.completion_tokens,
        96,
        "{:?}",
        reply.usage
    );
}

/// One worker and no waiting room: a second request while the first generates is turned away;
/// a request whose caller leaves (streaming or not) stops generating at once, which the
/// accounting shows (few tokens, one more cancelled call) and the next request can use the
/// worker.
#[tokio::test]
async fn one_busy_worker_turns_requests_away_and_stops_for_callers_that_leave() {
    let model = LocalModel::load(LocalConfig {
        threads: Some(1),
        context_size: 2048,
        workers: 1,
        max_waiting: Some(0),
        ..LocalConfig::new(model_path())
    })
    .unwrap();
    let accounting = Arc::clone(model.accounting());
    let cancelled_after = |calls: u64| {
        let accounting = Arc::clone(&accounting);
        async move {
            // Bounded only as a safety net: the worker notices within a token.
            for _ in 0..600 {
                let stats = accounting.snapshot();
                if stats.cancelled_calls == calls {
                    return stats;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the worker never stopped: {:?}", accounting.snapshot());
        }
    };

    // Streaming: leave after the first piece.
    let pieces = AtomicUsize::new(0);
    let first_piece = tokio::sync::Notify::new();
    let sink = |_: &str| {
        pieces.fetch_add(1, Ordering::SeqCst);
        first_piece.notify_one();
        true
    };
    let request = endless();
    {
        let generating = model.chat_stream(&request, &sink);
        tokio::pin!(generating);
        tokio::select! {
            result = &mut generating => panic!("ended by itself: {result:?}"),
            () = first_piece.notified() => {}
        }
        let turned_away = model.chat(&greedy("Say hi.", 4)).await.unwrap_err();
        assert!(
            matches!(turned_away, ChatError::Busy { retry_after_secs, .. } if retry_after_secs > 0),
            "{turned_away}"
        );
    }
    let stats = cancelled_after(1).await;
    // The context would allow ~2,000 tokens; leaving stopped it within a few.
    assert!(stats.completion_tokens < 200, "{stats:?}");
    let reply = model.chat(&greedy("Say hi.", 4)).await.unwrap();
    let before = model.accounting().snapshot().completion_tokens;
    assert_eq!(
        before,
        stats.completion_tokens + reply.usage.completion_tokens
    );

    // Not streaming: give up after a second.
    let gave_up = tokio::time::timeout(Duration::from_secs(1), model.chat(&endless())).await;
    assert!(gave_up.is_err(), "ended by itself: {gave_up:?}");
    let stats = cancelled_after(2).await;
    assert!(stats.completion_tokens - before < 200, "{stats:?}");
    assert!(model.chat(&greedy("Say hi.", 4)).await.is_ok());
}

/// Same seed, several prompts: sampling at temperature 1.5 must differ from greedy decoding for
/// at least one of them (it would not if the temperature were ignored) and reproduce itself.
#[tokio::test]
async fn temperature_changes_the_answer_and_a_seed_reproduces_it() {
    let model = model();
    let prompts = [
        "Invent a name for a cat.",
        "Describe the sea in one sentence.",
        "Name a colour.",
    ];
    let mut differs = 0;
    for prompt in prompts {
        let greedy = model.chat(&greedy(prompt, 12)).await.unwrap();
        let mut hot = greedy_request_with_seed(prompt, 12, 42);
        hot.temperature = Some(1.5);
        let first = model.chat(&hot).await.unwrap();
        let again = model.chat(&hot).await.unwrap();
        assert_eq!(first.text, again.text, "{prompt}");
        differs += usize::from(first.text != greedy.text);
    }
    assert!(
        differs > 0,
        "temperature 1.5 gave the greedy answer every time"
    );
}

fn greedy_request_with_seed(prompt: &str, max_tokens: u32, seed: u64) -> ChatRequest {
    ChatRequest {
        seed: Some(seed),
        ..greedy(prompt, max_tokens)
    }
}

/// `top_p` near 0 leaves only the most likely token, so even a hot sample is the greedy
/// answer; a strong presence penalty changes a greedy answer that repeats itself.
#[tokio::test]
async fn top_p_and_penalties_reach_the_sampler() {
    let model = model();
    let prompt = "List the numbers from one to twenty in words.";
    let greedy_reply = model.chat(&greedy(prompt, 24)).await.unwrap();
    let mut narrow = greedy_request_with_seed(prompt, 24, 3);
    narrow.temperature = Some(1.5);
    narrow.top_p = Some(1e-6);
    assert_eq!(model.chat(&narrow).await.unwrap().text, greedy_reply.text);
    let mut wide = narrow.clone();
    wide.top_p = Some(1.0);
    assert_ne!(model.chat(&wide).await.unwrap().text, greedy_reply.text);
    let mut penalised = greedy(prompt, 24);
    penalised.presence_penalty = Some(2.0);
    assert_ne!(
        model.chat(&penalised).await.unwrap().text,
        greedy_reply.text
    );
}

#[tokio::test]
async fn out_of_range_parameters_are_invalid() {
    let mut request = greedy("hi", 4);
    request.temperature = Some(-5.0);
    let err = model().chat(&request).await.unwrap_err();
    assert!(matches!(err, ChatError::Invalid(_)), "{err}");
}

/// Continuing the final assistant message: the prompt is the rendered conversation cut right
/// after that message's text, so continuing the first 5 greedy tokens of an answer costs exactly
/// 5 more prompt tokens than asking afresh, and greedily yields the rest of that answer.
#[tokio::test]
async fn continuing_the_final_message_picks_up_where_it_stops() {
    let model = model();
    let question = "Write a short story about a lighthouse keeper.";
    let full = model.chat(&greedy(question, 16)).await.unwrap();
    let head = model.chat(&greedy(question, 5)).await.unwrap();
    assert!(full.text.starts_with(&head.text));
    let mut continued = greedy(question, 11);
    continued
        .messages
        .push(Message::assistant(head.text.clone()));
    continued.continue_final_message = true;
    let rest = model.chat(&continued).await.unwrap();
    assert_eq!(
        rest.usage.prompt_tokens,
        head.usage.prompt_tokens + 5,
        "{rest:?}"
    );
    assert_eq!(format!("{}{}", head.text, rest.text), full.text);

    // A reasoning prefix: the answer goes on inside it, no new turn is opened.
    let mut thinking = greedy(question, 8);
    thinking
        .messages
        .push(Message::assistant("<think>The keeper"));
    thinking.continue_final_message = true;
    let reply = model.chat(&thinking).await.unwrap();
    let fresh = model.chat(&greedy(question, 8)).await.unwrap();
    assert!(reply.usage.prompt_tokens > fresh.usage.prompt_tokens);
    assert!(!reply.text.contains("assistant"), "{:?}", reply.text);
    assert!(!reply.text.starts_with("<think>"), "{:?}", reply.text);
}

/// The first tools-style conversation of testdata/llamafactory/ (an OpenAI request offering
/// `web_search`) cut before its assistant message number `answer`.
fn tools_conversation(answer: usize) -> ChatRequest {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/llamafactory/tools_conversations.json");
    let input: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let wire: chat::openai::CompletionRequest =
        serde_json::from_value(input["conversations"][0]["openai"].clone()).unwrap();
    let mut request = wire.to_chat().unwrap();
    let at = request
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == chat::Role::Assistant)
        .nth(answer)
        .unwrap()
        .0;
    request.messages.truncate(at);
    request.temperature = Some(0.0);
    request.max_tokens = Some(96);
    request
}

/// Offered tools, the model answers with text, calls or both, whatever it decides: streamed
/// pieces add up to the answer's text (a call's text is never streamed), calls have fresh ids
/// and JSON object arguments, only a turn that ended by itself calls, and the tools cost prompt
/// tokens. The cases: the conversation's next turn, a request to repeat a call's text (which
/// the greedy model does: a real call), and the same cut by `max_tokens` inside the call.
#[tokio::test]
async fn offered_tools_the_answer_is_text_and_calls_and_streams_its_text_only() {
    let model = model();
    let repeat = |max_tokens| {
        let mut request = tools_conversation(0);
        request.messages.truncate(1);
        request.messages.push(Message::user(
            "Repeat after me, exactly:\nAction: web_search\nAction Input: {\"queries\": [\"Ciudad Juárez\"]}",
        ));
        request.max_tokens = Some(max_tokens);
        request
    };
    for request in [tools_conversation(1), repeat(96), repeat(12)] {
        let pieces = std::sync::Mutex::new(Vec::new());
        let sink = |p: &str| {
            pieces.lock().unwrap().push(p.to_string());
            true
        };
        let streamed = model.chat_stream(&request, &sink).await.unwrap();
        assert_eq!(pieces.into_inner().unwrap().concat(), streamed.text);
        let whole = model.chat(&request).await.unwrap();
        assert_eq!(whole.text, streamed.text);
        let shape = |r: &chat::ChatResponse| {
            let calls: Vec<_> = r
                .tool_calls
                .iter()
                .map(|c| (&c.name, &c.arguments))
                .collect();
            format!("{calls:?}")
        };
        assert_eq!(shape(&whole), shape(&streamed));
        for call in &whole.tool_calls {
            assert!(call.id.starts_with("call_"), "{call:?}");
            let arguments: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
            assert!(arguments.is_object(), "{call:?}");
        }
        if whole.finish_reason == FinishReason::Length {
            assert!(whole.tool_calls.is_empty(), "{whole:?}");
        }
        let mut without = request.clone();
        without.tools.clear();
        let plain = model.chat(&without).await.unwrap();
        assert!(whole.usage.prompt_tokens > plain.usage.prompt_tokens + 100);
    }
}
