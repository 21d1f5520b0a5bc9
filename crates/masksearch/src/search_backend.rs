//! The search backend flags (`--search bm25|remote|web|simulated` and their settings) and the
//! `Searcher` they name.

use std::{path::PathBuf, sync::Arc};

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
    /// Search backend: bm25 (the local --index), remote (a Search-R1 /retrieve server at
    /// --search-url), web (Google through SerpAPI; key in --search-key-env) or simulated (the
    /// model writes the documents, ZeroSearch-style; recorded as simulated).
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
            SearchKind::Bm25 => Arc::new(
                ::index::Bm25Index::open(&self.index)
                    .with_context(|| format!("opening index {}", self.index.display()))?,
            ),
        })
    }
}
