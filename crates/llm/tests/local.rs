//! The local llama.cpp model on the real GGUF: chat, streaming, stop sequences, limits and
//! continuation scoring. Asserts structure, never wording.
#![cfg(feature = "local")]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chat::{ChatModel, ChatRequest, Message, TokenScorer};
use llm::{LocalConfig, LocalModel};

/// One model for the whole test binary (llama.cpp's backend is process-wide anyway).
fn model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/models/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            path.is_file(),
            "{} is missing: run scripts/setup.sh first",
            path.display()
        );
        let config = LocalConfig {
            threads: Some(2),
            context_size: 1024,
            workers: 2,
            ..LocalConfig::new(path)
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
