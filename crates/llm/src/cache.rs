//! A persistent response cache in front of any [`ChatModel`]: re-running a pipeline replays
//! stored answers instead of calling the model again.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chat::{ChatError, ChatModel, ChatRequest, ChatResponse, PieceSink};
use redb::{Database, TableDefinition};
use sha2::{Digest, Sha256};

use crate::{Accounting, CacheConfig, CachePolicy, LlmError};

/// Key: sha256 of (format version, model name, request); value: the `ChatResponse` as JSON.
const RESPONSES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("responses_v1");

/// Bumped when the key derivation or the stored value changes, so old entries are never misread.
const KEY_VERSION: &[u8] = b"masksearch-llm-cache-v1\0";

/// A [`ChatModel`] that answers from a redb file when it has seen the same model name, messages
/// and parameters before, and otherwise asks the inner model and stores its answer.
///
/// Which requests are cached follows [`CachePolicy`]; failures are never stored.
pub struct CachedModel {
    inner: Arc<dyn ChatModel>,
    db: Arc<Database>,
    path: PathBuf,
    policy: CachePolicy,
    accounting: Arc<Accounting>,
}

impl fmt::Debug for CachedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedModel")
            .field("inner", &self.inner.name())
            .field("path", &self.path)
            .field("policy", &self.policy)
            .finish()
    }
}

impl CachedModel {
    /// Opens (or creates) the cache file. Only one process can hold a given file at a time.
    pub fn open(inner: Arc<dyn ChatModel>, config: &CacheConfig) -> Result<Self, LlmError> {
        let path = config.path.clone();
        let cache_err = |message: String| LlmError::Cache {
            path: path.clone(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| cache_err(format!("creating directory: {e}")))?;
        }
        if !path.exists() {
            // Made beside it and renamed into place once whole: a new file that the disk had no
            // room for would otherwise stay behind, half a database, and fail every later run.
            let staged = formats::Staged::create(&path).map_err(|e| cache_err(e.to_string()))?;
            let file = staged.writer().map_err(|e| cache_err(e.to_string()))?;
            drop(
                redb::Builder::new()
                    .create_file(file)
                    .map_err(|e| cache_err(e.to_string()))?,
            );
            staged.commit().map_err(|e| cache_err(e.to_string()))?;
        }
        let db = Database::create(&path).map_err(|e| cache_err(e.to_string()))?;
        Ok(CachedModel {
            inner,
            db: Arc::new(db),
            path,
            policy: config.policy,
            accounting: Arc::clone(&config.accounting),
        })
    }

    pub fn accounting(&self) -> &Arc<Accounting> {
        &self.accounting
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cacheable(&self, request: &ChatRequest) -> bool {
        match self.policy {
            CachePolicy::Off => false,
            CachePolicy::All => true,
            CachePolicy::Deterministic => {
                request.temperature == Some(0.0) || request.seed.is_some()
            }
        }
    }

    fn error(&self, message: impl fmt::Display) -> ChatError {
        ChatError::Failed {
            backend: format!("response cache {}", self.path.display()),
            message: message.to_string(),
        }
    }

    async fn lookup(&self, key: [u8; 32]) -> Result<Option<ChatResponse>, ChatError> {
        let db = Arc::clone(&self.db);
        let found = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, String> {
            let txn = db.begin_read().map_err(|e| e.to_string())?;
            let table = match txn.open_table(RESPONSES) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let value = table.get(key.as_slice()).map_err(|e| e.to_string())?;
            Ok(value.map(|v| v.value().to_vec()))
        })
        .await
        .map_err(|e| self.error(e))?
        .map_err(|e| self.error(e))?;
        let Some(bytes) = found else { return Ok(None) };
        // An entry that no longer parses is treated as a miss and overwritten.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    async fn store(&self, key: [u8; 32], response: &ChatResponse) -> Result<(), ChatError> {
        let value = serde_json::to_vec(response).map_err(|e| self.error(e))?;
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let txn = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut table = txn.open_table(RESPONSES).map_err(|e| e.to_string())?;
                table
                    .insert(key.as_slice(), value.as_slice())
                    .map_err(|e| e.to_string())?;
            }
            txn.commit().map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| self.error(e))?
        .map_err(|e| self.error(e))
    }

    async fn cached_or(
        &self,
        request: &ChatRequest,
        sink: Option<PieceSink<'_>>,
    ) -> Result<ChatResponse, ChatError> {
        let key = cache_key(self.inner.name(), request);
        let cacheable = self.cacheable(request);
        if cacheable {
            if let Some(hit) = self.lookup(key).await? {
                self.accounting.cache_hit();
                if sink.is_some_and(|sink| !sink(&hit.text)) {
                    return Err(ChatError::Cancelled);
                }
                return Ok(hit);
            }
            self.accounting.cache_miss();
        }
        let response = match sink {
            Some(sink) => self.inner.chat_stream(request, sink).await?,
            None => self.inner.chat(request).await?,
        };
        if cacheable {
            self.store(key, &response).await?;
        }
        Ok(response)
    }
}

/// The cache key of `request` sent to the model called `model`.
pub fn cache_key(model: &str, request: &ChatRequest) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(KEY_VERSION);
    hasher.update((model.len() as u64).to_le_bytes());
    hasher.update(model.as_bytes());
    // serde_json writes struct fields in declaration order, so this is canonical.
    hasher.update(serde_json::to_vec(request).unwrap_or_default());
    hasher.finalize().into()
}

#[async_trait]
impl ChatModel for CachedModel {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
        self.cached_or(request, None).await
    }

    async fn chat_stream(
        &self,
        request: &ChatRequest,
        sink: PieceSink<'_>,
    ) -> Result<ChatResponse, ChatError> {
        self.cached_or(request, Some(sink)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use chat::{Message, testing::Scripted};

    /// Answers with the call number, so a replay is visible.
    fn counting() -> Scripted {
        let calls = AtomicU64::new(0);
        Scripted::texts("counting", move |_| {
            Ok(format!("call {}", calls.fetch_add(1, Ordering::SeqCst) + 1))
        })
    }

    fn request(temperature: Option<f32>) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user("hi")],
            temperature,
            ..ChatRequest::default()
        }
    }

    fn open(dir: &Path, policy: CachePolicy) -> (Arc<Scripted>, CachedModel) {
        let inner = Arc::new(counting());
        let config = CacheConfig {
            path: dir.join("sub/cache.redb"),
            policy,
            accounting: Default::default(),
        };
        let cached = CachedModel::open(inner.clone(), &config).unwrap();
        (inner, cached)
    }

    #[tokio::test]
    async fn greedy_requests_are_replayed_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (inner, cached) = open(dir.path(), CachePolicy::Deterministic);
            assert_eq!(
                cached.chat(&request(Some(0.0))).await.unwrap().text,
                "call 1"
            );
            assert_eq!(
                cached.chat(&request(Some(0.0))).await.unwrap().text,
                "call 1"
            );
            assert_eq!(inner.calls(), 1);
            let snap = cached.accounting().snapshot();
            assert_eq!((snap.cache_hits, snap.cache_misses), (1, 1));
        }
        let (inner, cached) = open(dir.path(), CachePolicy::Deterministic);
        assert_eq!(
            cached.chat(&request(Some(0.0))).await.unwrap().text,
            "call 1"
        );
        assert_eq!(inner.calls(), 0);
    }

    #[tokio::test]
    async fn policy_decides_what_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let (inner, cached) = open(dir.path(), CachePolicy::Deterministic);
        cached.chat(&request(Some(0.7))).await.unwrap();
        cached.chat(&request(Some(0.7))).await.unwrap();
        cached.chat(&request(None)).await.unwrap();
        assert_eq!(
            inner.calls(),
            3,
            "unseeded sampled requests are not cached by default"
        );
        let seeded = |seed| ChatRequest {
            seed: Some(seed),
            ..request(Some(0.7))
        };
        cached.chat(&seeded(1)).await.unwrap();
        cached.chat(&seeded(1)).await.unwrap();
        cached.chat(&seeded(2)).await.unwrap();
        assert_eq!(
            inner.calls(),
            5,
            "a seeded sample is replayed for its seed only"
        );
        drop(cached);
        let (inner, cached) = open(dir.path(), CachePolicy::All);
        cached.chat(&request(Some(0.7))).await.unwrap();
        cached.chat(&request(Some(0.7))).await.unwrap();
        assert_eq!(inner.calls(), 1);
        drop(cached);
        let (inner, cached) = open(dir.path(), CachePolicy::Off);
        cached.chat(&request(Some(0.0))).await.unwrap();
        cached.chat(&request(Some(0.0))).await.unwrap();
        assert_eq!(inner.calls(), 2);
    }

    #[test]
    fn key_depends_on_model_and_every_parameter() {
        let base = request(Some(0.0));
        let k = cache_key("m", &base);
        assert_eq!(k, cache_key("m", &base.clone()));
        assert_ne!(k, cache_key("other", &base));
        let variants = [
            ChatRequest {
                max_tokens: Some(5),
                ..base.clone()
            },
            ChatRequest {
                stop: vec!["x".into()],
                ..base.clone()
            },
            ChatRequest {
                seed: Some(1),
                ..base.clone()
            },
            ChatRequest {
                temperature: None,
                ..base.clone()
            },
            ChatRequest {
                messages: vec![Message::system("hi")],
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(k, cache_key("m", &v), "{v:?}");
        }
    }
}
