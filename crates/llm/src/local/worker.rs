//! One llama.cpp context on one thread: generates chat answers token by token (stopping as
//! soon as nobody listens) and scores continuations.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use chat::{ChatError, ChatRequest, ChatResponse, FinishReason, InvalidRequest, LogProb, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::UnboundedSender;

use super::LocalTimings;
use super::prompt;
use super::weights::{Weights, backend};
use super::{Job, local_err};
use crate::stream::{HoldFrom, StopScanner, Utf8Decoder};
use crate::tool_format;

pub(super) struct Worker<'m> {
    ctx: LlamaContext<'m>,
    weights: &'m Weights,
}

/// How a generation ended.
enum Ended {
    Answered(ChatResponse, LocalTimings),
    /// Nobody listened any more; `Usage` says what was spent until then.
    Cancelled(Usage),
}

impl<'m> Worker<'m> {
    pub(super) fn new(weights: &'m Weights, params: LlamaContextParams) -> Result<Self, String> {
        let ctx = weights
            .llama
            .new_context(backend()?, params)
            .map_err(|e| format!("creating a llama.cpp context: {e}"))?;
        Ok(Worker { ctx, weights })
    }

    /// The tokens a request may use: the configured size, within what llama.cpp allocated.
    fn n_ctx(&self) -> usize {
        self.ctx.n_ctx().min(self.weights.context_size) as usize
    }

    /// Runs one job, calls `finished` (the worker is free again) and sends the answer (nobody
    /// may be waiting for it any more).
    pub(super) fn run(&mut self, job: Job, finished: impl FnOnce()) {
        match job {
            Job::Chat {
                request,
                pieces,
                reply,
                accounting,
            } => {
                let listening =
                    || !reply.is_closed() && pieces.as_ref().is_none_or(|p| !p.is_closed());
                let ended = guarded(|| self.generate(&request, pieces.as_ref(), &listening));
                let result = match ended {
                    Ok(Ended::Answered(response, timings)) => {
                        accounting.tokens(response.usage);
                        Ok((response, timings))
                    }
                    Ok(Ended::Cancelled(usage)) => {
                        accounting.tokens(usage);
                        accounting.cancelled_call();
                        tracing::debug!(
                            completion_tokens = usage.completion_tokens,
                            "generation stopped: nobody is listening"
                        );
                        Err(ChatError::Cancelled)
                    }
                    Err(e) => Err(e),
                };
                finished();
                let _ = reply.send(result);
            }
            Job::Score {
                context,
                continuation,
                reply,
            } => {
                let result = guarded(|| self.score(&context, &continuation));
                finished();
                let _ = reply.send(result);
            }
        }
    }

    fn generate(
        &mut self,
        request: &ChatRequest,
        pieces: Option<&UnboundedSender<String>>,
        listening: &dyn Fn() -> bool,
    ) -> Result<Ended, ChatError> {
        // A request whose caller left while it was queued costs nothing.
        if !listening() {
            return Ok(Ended::Cancelled(Usage::default()));
        }
        self.ctx.clear_kv_cache();
        let prompt = prompt::render(self.weights, request)?;
        let vocab = self.weights.llama.vocab();
        let prompt_tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        let n_ctx = self.n_ctx();
        if prompt_tokens.is_empty() || prompt_tokens.len() >= n_ctx {
            return Err(ChatError::Invalid(InvalidRequest::PromptTooLong {
                tokens: prompt_tokens.len(),
                context: n_ctx,
            }));
        }
        let max_tokens = request
            .max_tokens
            .unwrap_or(self.weights.default_max_tokens) as usize;
        // What the context holds after the prompt bounds every completion.
        let budget = max_tokens.min(n_ctx - prompt_tokens.len());

        let started = Instant::now();
        let last = prompt_tokens.len() - 1;
        decode_tokens(&mut self.ctx, &prompt_tokens, |pos| pos == last, |_, _| {})?;
        let prompt_secs = started.elapsed().as_secs_f64();
        // The prompt's last batch holds the logits of its last token at this index.
        let mut logits_index = (last % (self.ctx.n_batch() as usize).max(1)) as i32;

        let started = Instant::now();
        let mut sampler = sampler(request, self.weights.llama.n_vocab(), n_ctx);
        let mut stops = StopScanner::new(&request.stop);
        // With tools, a call's text is no content: it is not streamed until it fails to parse.
        let calling = !request.tools.is_empty();
        let mut hold = HoldFrom::new(calling.then_some(tool_format::CALL));
        let mut utf8 = Utf8Decoder::default();
        let mut batch = LlamaBatch::new(1, 1);
        let mut generated = 0;
        let mut finish = FinishReason::Length;
        let mut hit_stop_sequence = false;
        let usage = |generated: usize| Usage {
            prompt_tokens: prompt_tokens.len() as u64,
            completion_tokens: generated as u64,
        };
        let emit = |piece: String| {
            if let (Some(pieces), false) = (pieces, piece.is_empty()) {
                let _ = pieces.send(piece);
            }
        };
        while generated < budget {
            if !listening() {
                return Ok(Ended::Cancelled(usage(generated)));
            }
            let token = sampler.sample(&self.ctx, logits_index);
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            generated += 1;
            let text = utf8.push(&vocab.token_to_piece(token, false, None));
            let (safe, stopped) = stops.push(&text);
            emit(hold.push(&safe));
            if stopped {
                finish = FinishReason::Stop;
                hit_stop_sequence = true;
                break;
            }
            if generated == budget {
                break;
            }
            batch.clear();
            let pos = (prompt_tokens.len() + generated - 1) as i32;
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| local_err("batch")(e.to_string()))?;
            self.ctx
                .decode(&mut batch)
                .map_err(|e| local_err("decode")(e.to_string()))?;
            logits_index = 0;
        }
        if !hit_stop_sequence {
            let (safe, _) = stops.push(&utf8.finish());
            emit(hold.push(&safe));
        }
        emit(hold.push(&stops.flush()));
        let (text, tool_calls) = tool_format::answer(stops.into_text(), finish, calling);
        emit(hold.finish(&text));
        let timings = LocalTimings {
            prompt_tokens: prompt_tokens.len(),
            prompt_secs,
            generated_tokens: generated,
            generation_secs: started.elapsed().as_secs_f64(),
        };
        let response = ChatResponse {
            text,
            usage: usage(generated),
            finish_reason: finish,
            tool_calls,
        };
        Ok(Ended::Answered(response, timings))
    }

    fn score(&mut self, context: &str, continuation: &str) -> Result<LogProb, ChatError> {
        self.ctx.clear_kv_cache();
        let vocab = self.weights.llama.vocab();
        let head = context.trim_end();
        let tail = format!("{}{continuation}", &context[head.len()..]);
        let mut context_tokens = vocab.tokenize(head.as_bytes(), true, false);
        if context_tokens.is_empty() {
            context_tokens.push(vocab.bos());
        }
        let continuation_tokens = vocab.tokenize(tail.as_bytes(), false, false);
        if continuation_tokens.is_empty() {
            return Ok(LogProb::default());
        }
        let n_ctx = self.n_ctx();
        if continuation_tokens.len() >= n_ctx {
            return Err(ChatError::Invalid(InvalidRequest::ContinuationTooLong {
                tokens: continuation_tokens.len(),
                context: n_ctx,
            }));
        }
        let keep = n_ctx - continuation_tokens.len();
        if context_tokens.len() > keep {
            context_tokens.drain(..context_tokens.len() - keep);
        }
        let first = context_tokens.len() - 1;
        let all: Vec<LlamaToken> = context_tokens
            .into_iter()
            .chain(continuation_tokens)
            .collect();
        let mut total = 0.0;
        decode_tokens(
            &mut self.ctx,
            &all,
            |pos| pos >= first && pos + 1 < all.len(),
            |pos, logits| total += log_softmax_at(logits, all[pos + 1].0 as usize),
        )?;
        Ok(LogProb {
            sum: total,
            tokens: all.len() - 1 - first,
        })
    }
}

/// Turns a panic inside llama-cpp-2 into an error for that one request; the worker lives on
/// (its context is cleared before every job).
fn guarded<T>(f: impl FnOnce() -> Result<T, ChatError>) -> Result<T, ChatError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(local_err("llama.cpp worker panicked")(what))
    })
}

/// Feeds `tokens` (positions from 0) in batches; asks for logits where `want_logits(pos)` and
/// hands each such position and its logits to `on_logits` before the next batch overwrites them.
fn decode_tokens(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    want_logits: impl Fn(usize) -> bool,
    mut on_logits: impl FnMut(usize, &[f32]),
) -> Result<(), ChatError> {
    let n_batch = (ctx.n_batch() as usize).max(1);
    let mut batch = LlamaBatch::new(n_batch, 1);
    for (chunk_index, chunk) in tokens.chunks(n_batch).enumerate() {
        batch.clear();
        let start = chunk_index * n_batch;
        for (j, &token) in chunk.iter().enumerate() {
            batch
                .add(token, (start + j) as i32, &[0], want_logits(start + j))
                .map_err(|e| local_err("batch")(e.to_string()))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| local_err("decode")(e.to_string()))?;
        for j in 0..chunk.len() {
            if want_logits(start + j) {
                on_logits(start + j, ctx.get_logits_ith(j as i32));
            }
        }
    }
    Ok(())
}

/// The sampler chain of a request: OpenAI's penalties on what was generated so far, then greedy
/// choice, or temperature, `top_p` and a seeded draw.
fn sampler(request: &ChatRequest, n_vocab: i32, n_ctx: usize) -> LlamaSampler {
    let mut chain = Vec::new();
    let frequency = request.frequency_penalty.unwrap_or(0.0);
    let presence = request.presence_penalty.unwrap_or(0.0);
    if frequency != 0.0 || presence != 0.0 {
        let window = i32::try_from(n_ctx).unwrap_or(i32::MAX);
        chain.push(LlamaSampler::penalties(
            n_vocab, window, 1.0, frequency, presence,
        ));
    }
    match request.temperature {
        Some(t) if t > 0.0 => {
            let seed = request
                .seed
                .map_or_else(rand::random::<u32>, |s| (s ^ (s >> 32)) as u32);
            chain.push(LlamaSampler::temp(t));
            if let Some(p) = request.top_p.filter(|&p| p < 1.0) {
                chain.push(LlamaSampler::top_p(p, 1));
            }
            chain.push(LlamaSampler::dist(seed));
        }
        _ => chain.push(LlamaSampler::greedy()),
    }
    LlamaSampler::chain_simple(chain)
}

/// `ln p(index)` under the softmax of `logits`.
fn log_softmax_at(logits: &[f32], index: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    logits
        .get(index)
        .map_or(f64::NEG_INFINITY, |&l| l as f64 - max - sum.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_is_normalised() {
        let logits = [1.0f32, 2.0, 3.0];
        let total: f64 = (0..3).map(|i| log_softmax_at(&logits, i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(log_softmax_at(&logits, 2) > log_softmax_at(&logits, 0));
    }
}
