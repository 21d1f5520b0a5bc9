//! Request and token accounting: counters any backend or wrapper adds to, one snapshot per run.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use chat::Usage;

/// Live counters, shared as `Arc<Accounting>` between a cache and the backend behind it so one
/// snapshot tells what a run cost.
#[derive(Debug, Default)]
pub struct Accounting {
    http_requests: AtomicU64,
    retries: AtomicU64,
    failed_calls: AtomicU64,
    cancelled_calls: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

/// Two accountings are equal when their counts are (configurations holding a fresh one compare
/// by their settings).
impl PartialEq for Accounting {
    fn eq(&self, other: &Self) -> bool {
        self.snapshot() == other.snapshot()
    }
}

/// A point-in-time copy of [`Accounting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountingSnapshot {
    /// HTTP attempts sent, retries included.
    pub http_requests: u64,
    /// Attempts that were retries of an earlier failed attempt.
    pub retries: u64,
    /// Calls that failed after every attempt.
    pub failed_calls: u64,
    /// Calls whose caller stopped waiting before the answer was complete (a local model stops
    /// generating for them).
    pub cancelled_calls: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Tokens of fresh (not cached) responses, as reported by the backend; a local model also
    /// counts what it spent on cancelled calls.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Accounting {
    pub fn snapshot(&self) -> AccountingSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AccountingSnapshot {
            http_requests: get(&self.http_requests),
            retries: get(&self.retries),
            failed_calls: get(&self.failed_calls),
            cancelled_calls: get(&self.cancelled_calls),
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
        }
    }

    pub(crate) fn http_request(&self, is_retry: bool) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        if is_retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub(crate) fn failed_call(&self) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
    }
    #[cfg_attr(not(feature = "local"), allow(dead_code))]
    pub(crate) fn cancelled_call(&self) {
        self.cancelled_calls.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn tokens(&self, usage: Usage) {
        self.prompt_tokens
            .fetch_add(usage.prompt_tokens, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(usage.completion_tokens, Ordering::Relaxed);
    }
}
