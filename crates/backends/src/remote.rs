//! [`Remote`]: a Search-R1-compatible `POST /retrieve` server (ours, or Search-R1's own BM25
//! or dense retriever) as a [`Searcher`].

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use search::{RetrieveRequest, RetrieveResponse, SearchError, SearchHit, Searcher};

use retry::snippet;

use crate::http::{Http, HttpConfig};
use crate::{BackendError, http_url};

/// Where the server is and how to wait for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// The retrieve URL (`http://127.0.0.1:8000/retrieve`); a URL without a path gets
    /// `/retrieve`.
    pub url: String,
    #[serde(default)]
    pub http: HttpConfig,
}

impl RemoteConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RemoteConfig {
            url: url.into(),
            http: HttpConfig::default(),
        }
    }
}

/// A remote `/retrieve` server: one HTTP call per batch, asking for scores
/// (`{"queries", "topk", "return_scores": true}`, the form every Search-R1 client sends), and
/// reading either document shape Search-R1 answers (see [`search::RetrieveDocument`]).
pub struct Remote {
    url: String,
    http: Http,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

impl Remote {
    pub fn new(config: &RemoteConfig) -> Result<Self, BackendError> {
        let mut url = http_url(&config.url)?;
        if url.path() == "/" {
            url.set_path("/retrieve");
        }
        let url = url.to_string();
        Ok(Remote {
            http: Http::new(&config.http, format!("remote:{url}"))?,
            url,
        })
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, message: String) -> SearchError {
        SearchError::Backend {
            backend: self.name(),
            message,
        }
    }
}

#[async_trait]
impl Searcher for Remote {
    fn name(&self) -> String {
        format!("remote:{}", self.url)
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        // Search-R1 servers read `topk: 0` as "the server's default": ask for nothing instead.
        if queries.is_empty() || k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let request = RetrieveRequest {
            queries: queries.to_vec(),
            topk: Some(k),
            return_scores: true,
        };
        let body = self
            .http
            .fetch(|client| client.post(&self.url).json(&request))
            .await
            .map_err(|e| self.error(e))?;
        let response: RetrieveResponse = serde_json::from_slice(&body).map_err(|e| {
            self.error(format!(
                "not a /retrieve response ({e}): {}",
                snippet(&body)
            ))
        })?;
        if response.result.len() != queries.len() {
            return Err(self.error(format!(
                "answered {} result lists for {} queries",
                response.result.len(),
                queries.len()
            )));
        }
        Ok(response
            .result
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .take(k)
                    .map(|h| h.into_search_hit())
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use retry::stand_in::{Reply, StandIn};

    /// What Search-R1's BM25 path answers (pyserini with raw documents stored): documents
    /// `{"title", "text", "contents"}`, no id.
    const SEARCH_R1_BM25: &str = include_str!("../testdata/search-r1-bm25.json");
    /// What its dense path answers: the corpus row `{"id", "contents"}`.
    const SEARCH_R1_DENSE: &str = include_str!("../testdata/search-r1-dense.json");

    fn fast() -> HttpConfig {
        HttpConfig {
            request_timeout_secs: 0.5,
            max_attempts: 3,
            initial_backoff_secs: 0.01,
            max_backoff_secs: 0.05,
        }
    }

    fn remote(server: &StandIn) -> Remote {
        Remote::new(&RemoteConfig {
            url: format!("{}/retrieve", server.url),
            http: fast(),
        })
        .unwrap()
    }

    fn queries(qs: &[&str]) -> Vec<String> {
        qs.iter().map(|q| q.to_string()).collect()
    }

    /// Serves the recorded `body` and checks what two queries read from it: one line per hit,
    /// `id|title|text start|score`, and the first hit's `contents` byte for byte.
    async fn check_recorded(body: &str, expect: [&[&str]; 2]) {
        let server = StandIn::always(body).await;
        let got = remote(&server)
            .batch_search(&queries(&["Pavia Cathedral", "Evan Morris lobbyist"]), 2)
            .await
            .unwrap();
        let shown: Vec<Vec<String>> = got
            .iter()
            .map(|list| {
                list.iter()
                    .map(|h| {
                        let p = &h.passage;
                        let start: String = p.text.chars().take(24).collect();
                        format!("{}|{}|{start}|{}", p.id, p.title, h.score)
                    })
                    .collect()
            })
            .collect();
        assert_eq!(shown, expect);
        let recorded: serde_json::Value = serde_json::from_str(body).unwrap();
        let contents = &recorded["result"][0][0]["document"]["contents"];
        assert_eq!(got[0][0].passage.contents(), contents.as_str().unwrap());
    }

    #[tokio::test]
    async fn sends_the_search_r1_request_with_scores() {
        let server = StandIn::always(SEARCH_R1_BM25).await;
        remote(&server)
            .batch_search(&queries(&["Pavia Cathedral", "Evan Morris lobbyist"]), 2)
            .await
            .unwrap();
        let received = server.received();
        assert_eq!(received.len(), 1, "one HTTP call per batch");
        assert_eq!(received[0].method, "POST");
        assert_eq!(received[0].target, "/retrieve");
        let body: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "queries": ["Pavia Cathedral", "Evan Morris lobbyist"],
                "topk": 2,
                "return_scores": true
            })
        );
    }

    #[tokio::test]
    async fn reads_both_search_r1_document_shapes() {
        check_recorded(
            SEARCH_R1_BM25,
            [
                &[
                    "|Pavia Cathedral|following century was th|15.213399887084961",
                    "|Pavia Cathedral|on March 17, 1989. The c|9.881099700927734",
                ],
                &["|Evan Morris|Evan Morris Evan L. Morr|17.040000915527344"],
            ],
        )
        .await;
        check_recorded(
            SEARCH_R1_DENSE,
            [
                &[
                    "5|Pavia Cathedral|following century was th|0.8514125943183899",
                    "4|Pavia Cathedral|on March 17, 1989. The c|0.8217312097549438",
                ],
                &["0|Evan Morris|Evan Morris Evan L. Morr|0.8843259215354919"],
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn reads_our_union_documents_and_hits_without_scores() {
        let body = r#"{"result": [[
            {"document": {"id": "7", "title": "Pavia", "text": "A town.", "contents": "\"Pavia\"\nA town."}, "score": 3.5},
            {"id": "8", "title": "Po", "text": "A river.", "contents": "\"Po\"\nA river."}
        ], []]}"#;
        check_recorded(body, [&["7|Pavia|A town.|3.5", "8|Po|A river.|0"], &[]]).await;
    }

    #[tokio::test]
    async fn a_server_that_ignores_topk_is_cut_at_k() {
        let server = StandIn::always(SEARCH_R1_DENSE).await;
        let got = remote(&server)
            .batch_search(&queries(&["a", "b"]), 1)
            .await
            .unwrap();
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
    }

    #[tokio::test]
    async fn nothing_to_ask_sends_nothing() {
        let server = StandIn::always(SEARCH_R1_DENSE).await;
        let remote = remote(&server);
        assert!(remote.batch_search(&[], 3).await.unwrap().is_empty());
        assert_eq!(
            remote.batch_search(&queries(&["a", "b"]), 0).await.unwrap(),
            [vec![], vec![]]
        );
        assert!(server.received().is_empty());
    }

    /// Serves `script`, then the dense body; returns the outcome and the number of requests.
    async fn run(script: Vec<Reply>) -> (Result<Vec<Vec<SearchHit>>, SearchError>, usize) {
        let server = StandIn::start(script, Reply::Json(200, SEARCH_R1_DENSE.into())).await;
        let outcome = remote(&server).batch_search(&queries(&["a", "b"]), 2).await;
        (outcome, server.received().len())
    }

    #[tokio::test]
    async fn transient_failures_are_retried() {
        for fault in [
            Reply::Json(500, "boom".into()),
            Reply::Json(503, "".into()),
            Reply::Json(429, "slow down".into()),
            Reply::Drop,
            Reply::Hang,
        ] {
            let (outcome, requests) = run(vec![fault.clone()]).await;
            assert!(outcome.is_ok(), "{fault:?}: {outcome:?}");
            assert_eq!(requests, 2, "{fault:?}");
        }
    }

    #[tokio::test]
    async fn persistent_failures_stop_after_max_attempts_naming_the_url() {
        for (fault, says) in [
            (Reply::Json(500, "index exploded".into()), "HTTP 500"),
            (Reply::Drop, "request failed"),
            (Reply::Hang, "timed out"),
        ] {
            let server = StandIn::start(Vec::new(), fault.clone()).await;
            let err = remote(&server)
                .batch_search(&queries(&["a"]), 2)
                .await
                .unwrap_err()
                .to_string();
            assert_eq!(server.received().len(), 3, "{fault:?}");
            assert!(err.contains(&format!("{}/retrieve", server.url)), "{err}");
            assert!(err.contains("after 3 attempt(s)"), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }

    #[tokio::test]
    async fn a_refused_request_is_not_retried() {
        let (outcome, requests) = run(vec![Reply::Json(
            400,
            r#"{"error": {"message": "topk 5000 is above this server's limit of 1000"}}"#.into(),
        )])
        .await;
        let err = outcome.unwrap_err().to_string();
        assert_eq!(requests, 1);
        assert!(
            err.contains("HTTP 400") && err.contains("above this server's limit"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn wrong_answers_are_errors() {
        for (body, says) in [
            (
                r#"{"result": [[]]}"#,
                "answered 1 result lists for 2 queries",
            ),
            (
                r#"{"result": [[], [], []]}"#,
                "answered 3 result lists for 2 queries",
            ),
            (
                r#"[{"text": "ZeroSearch's wiki shape"}]"#,
                "not a /retrieve response",
            ),
            ("<html>", "not a /retrieve response"),
        ] {
            let (outcome, _) = run(vec![Reply::Json(200, body.into())]).await;
            let err = outcome.unwrap_err();
            assert!(
                matches!(&err, SearchError::Backend { backend, message }
                    if backend.starts_with("remote:http://127.0.0.1:") && message.contains(says)),
                "{body}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_naming_it() {
        // Bind then drop a listener: nothing answers on that port any more.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let remote = Remote::new(&RemoteConfig {
            url: format!("http://127.0.0.1:{port}"),
            http: fast(),
        })
        .unwrap();
        let err = remote.search("a", 3).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("http://127.0.0.1:{port}/retrieve")),
            "{err}"
        );
        assert!(err.contains("connection failed"), "{err}");
    }

    #[test]
    fn urls_get_retrieve_when_they_have_no_path() {
        let check = |url: &str, expect: &str| {
            assert_eq!(Remote::new(&RemoteConfig::new(url)).unwrap().url(), expect)
        };
        check("http://127.0.0.1:8000", "http://127.0.0.1:8000/retrieve");
        check("http://127.0.0.1:8000/", "http://127.0.0.1:8000/retrieve");
        check("http://h:8000/retrieve", "http://h:8000/retrieve");
        check("https://h/api/retrieve", "https://h/api/retrieve");
        for bad in ["ftp://h/retrieve", "127.0.0.1:8000", ""] {
            assert!(
                matches!(
                    Remote::new(&RemoteConfig::new(bad)),
                    Err(BackendError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn name_says_remote_and_the_url() {
        let remote = Remote::new(&RemoteConfig::new("http://h:8000")).unwrap();
        assert_eq!(remote.name(), "remote:http://h:8000/retrieve");
        let _: Arc<dyn Searcher> = Arc::new(remote);
    }
}
