//! The search backend flags (`--search bm25|remote|web|simulated` and their settings) and the
//! `Searcher` they name.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context as _, bail};
use search::Searcher;

/// Where searches go.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// The local --index.
    Bm25,
    /// A Search-R1 /retrieve server at --search-url.
    Remote,
    /// Google through SerpAPI; key in --search-key-env.
    Web,
    /// The model writes the documents, ZeroSearch-style; recorded as simulated.
    Simulated,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// Search backend: bm25 (the local --index, ranked as --retriever says), remote (a
    /// Search-R1 /retrieve server at --search-url), web (Google through SerpAPI; key in
    /// --search-key-env) or simulated (the model writes the documents, ZeroSearch-style;
    /// recorded as simulated).
    #[arg(long, value_enum, default_value_t = SearchKind::Bm25)]
    pub search: SearchKind,
    /// The local index searched by `--search bm25`.
    #[arg(long, default_value = "work/index")]
    pub index: PathBuf,
    /// `--search remote`: the server's URL (e.g. http://127.0.0.1:8000/retrieve);
    /// `--search web`: SerpAPI's base URL [default: https://serpapi.com].
    #[arg(long, value_name = "URL")]
    pub search_url: Option<String>,
    /// `--search web`: the environment variable holding the SerpAPI key.
    #[arg(long, value_name = "VAR", default_value = "SERPAPI_API_KEY")]
    pub search_key_env: String,
    #[command(flatten)]
    pub retriever: RetrieverArgs,
}

/// How the local index ranks passages.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retriever {
    /// BM25 over the words.
    Bm25,
    /// The passages nearest the query's vector (`index --dense` built them).
    Dense,
    /// BM25 and dense fused by reciprocal rank.
    Hybrid,
}

/// The local index's ranking: `--retriever` and the fusion's settings.
#[derive(clap::Args, Debug, Clone)]
pub struct RetrieverArgs {
    /// How the local index ranks: bm25, dense (needs `index --dense`) or hybrid (both, fused
    /// by reciprocal rank).
    #[arg(long, value_enum, default_value_t = Retriever::Bm25)]
    pub retriever: Retriever,
    /// Hybrid: the k of reciprocal-rank fusion, 1 / (k + rank).
    #[arg(long, default_value_t = dense::Fusion::default().k)]
    pub fusion_k: f64,
    /// Hybrid: the dense list's weight, from 0 (BM25 alone) to 1 (dense alone).
    #[arg(long, default_value_t = dense::Fusion::default().dense_weight)]
    pub dense_weight: f64,
    /// Hybrid: how many hits of each list are fused (at least the hits asked for).
    #[arg(long, default_value_t = dense::Fusion::default().depth)]
    pub fusion_depth: usize,
    /// Dense and hybrid over an HNSW graph: the candidates it keeps while searching (HNSW's
    /// ef), instead of the build's; more find more of the exact top k, slower.
    #[arg(long, value_name = "N")]
    pub hnsw_ef: Option<usize>,
    /// Dense and hybrid over a reduced graph (`index --hnsw-dims`): the candidates the vectors'
    /// own values order, instead of the build's.
    #[arg(long, value_name = "N")]
    pub hnsw_rerank: Option<usize>,
}

impl RetrieverArgs {
    /// The index in `dir`, ranked as `--retriever` says; `mode` reads BM25's queries.
    pub fn open(&self, dir: &Path, mode: ::index::QueryMode) -> anyhow::Result<Arc<dyn Searcher>> {
        let bm25 = ::index::Bm25Index::open(dir)
            .with_context(|| format!("opening index {}", dir.display()))?
            .with_query_mode(mode);
        if !bm25.has_impacts() {
            let meta = bm25.meta();
            tracing::warn!(
                "{dir}: built before impact files, so its {} passages are searched by tantivy's \
                 block-WAND, several times slower; `masksearch index --passages {} --out {dir} \
                 --overwrite` builds it again with them",
                meta.passages,
                meta.origin,
                dir = dir.display(),
            );
        }
        if self.retriever == Retriever::Bm25 {
            return Ok(Arc::new(bm25));
        }
        let tuning = dense::Tuning {
            ef_search: self.hnsw_ef,
            rerank: self.hnsw_rerank,
        };
        let dense = dense::DenseIndex::open(dir, bm25.clone(), tuning)?;
        Ok(match self.retriever {
            Retriever::Hybrid => Arc::new(dense::Hybrid::new(
                bm25,
                dense,
                dense::Fusion {
                    k: self.fusion_k,
                    dense_weight: self.dense_weight,
                    depth: self.fusion_depth,
                },
            )),
            _ => Arc::new(dense),
        })
    }
}

impl SearchArgs {
    /// The backend `--search` names; `model` writes the documents of simulated search.
    pub fn open(
        &self,
        model: Option<&Arc<dyn chat::ChatModel>>,
    ) -> anyhow::Result<Arc<dyn Searcher>> {
        Ok(match self.search {
            SearchKind::Remote => {
                let Some(url) = &self.search_url else {
                    bail!(
                        "--search remote needs --search-url URL (a Search-R1 /retrieve endpoint)"
                    );
                };
                Arc::new(::backends::Remote::new(&::backends::RemoteConfig::new(
                    url.clone(),
                ))?)
            }
            SearchKind::Web => {
                let mut config = ::backends::WebConfig {
                    api_key_env: self.search_key_env.clone(),
                    ..Default::default()
                };
                if let Some(url) = &self.search_url {
                    config.base_url = url.clone();
                }
                Arc::new(::backends::Web::new(&config)?)
            }
            SearchKind::Simulated => {
                let model = model.context("simulated search needs a model")?;
                Arc::new(::backends::Simulated::new(
                    Arc::clone(model),
                    ::backends::SimulatedConfig::default(),
                ))
            }
            SearchKind::Bm25 => self
                .retriever
                .open(&self.index, ::index::QueryMode::Words)?,
        })
    }
}
