//! [`Web`]: Google results through SerpAPI, as MaskSearch's teacher searches
//! (`GET /search.json?engine=google&q=…&num=10&api_key=…`, title and snippet of each organic
//! result).

use async_trait::async_trait;
use formats::Passage;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;

use search::{SearchError, SearchHit, Searcher};

use retry::{ApiKey, snippet};

use crate::http::{Http, HttpConfig};
use crate::{BackendError, http_url, rank_score};

/// Where SerpAPI is, which environment variable holds the key, and how to wait for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// SerpAPI's address; requests go to `{base_url}/search.json`.
    pub base_url: String,
    /// The *name* of the environment variable holding the SerpAPI key.
    pub api_key_env: String,
    /// Results asked for per query (SerpAPI's `num`); a search returns at most this many.
    pub num: usize,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    pub http: HttpConfig,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            base_url: "https://serpapi.com".to_string(),
            api_key_env: "SERPAPI_API_KEY".to_string(),
            num: 10,
            max_concurrency: 4,
            http: HttpConfig::default(),
        }
    }
}

/// Web search through SerpAPI's Google engine: one request per query. Each organic result
/// becomes a passage with the result's title, its snippet as text and its link as id, scored
/// `1 / rank`; a result without a snippet is skipped.
///
/// The key is read once from the environment and shows in no log line, `Debug` print or error,
/// even when a server echoes it back.
pub struct Web {
    endpoint: String,
    api_key_env: String,
    key: ApiKey,
    num: String,
    http: Http,
    permits: Semaphore,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("endpoint", &self.endpoint)
            .field("api_key_env", &self.api_key_env)
            .field("api_key", &self.key)
            .finish()
    }
}

/// SerpAPI's `error` when Google found nothing: an empty result, not a failure.
const NO_RESULTS: &str = "hasn't returned any results";

impl Web {
    /// Validates the config and reads the key from the environment variable it names.
    pub fn new(config: &WebConfig) -> Result<Self, BackendError> {
        Web::with_key(config, ApiKey::from_env(&config.api_key_env)?)
    }

    fn with_key(config: &WebConfig, key: ApiKey) -> Result<Self, BackendError> {
        let mut url = http_url(&config.base_url)?;
        let path = format!("{}/search.json", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let endpoint = url.to_string();
        let http = Http::new(&config.http, format!("web:google:{endpoint}"))?.hiding(key.clone());
        Ok(Web {
            endpoint,
            api_key_env: config.api_key_env.clone(),
            key,
            num: config.num.to_string(),
            http,
            permits: Semaphore::new(config.max_concurrency.max(1)),
        })
    }

    fn error(&self, message: &str) -> SearchError {
        SearchError::Backend {
            backend: self.name(),
            message: self.key.hide(message),
        }
    }

    async fn search_one(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError> {
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let body = {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| self.error("shutting down"))?;
            self.http
                .fetch(|client| {
                    client.get(&self.endpoint).query(&[
                        ("engine", "google"),
                        ("q", query),
                        ("num", &self.num),
                        ("api_key", self.key.expose()),
                    ])
                })
                .await
                .map_err(|e| self.error(&e))?
        };
        let response: Value = serde_json::from_slice(&body).map_err(|e| {
            self.error(&format!("not a SerpAPI response ({e}): {}", snippet(&body)))
        })?;
        organic_hits(&response, k).map_err(|e| self.error(&e))
    }
}

/// The first `k` organic results that have a snippet, as hits scored by their rank on the page.
fn organic_hits(response: &Value, k: usize) -> Result<Vec<SearchHit>, String> {
    let Some(results) = response.get("organic_results").and_then(Value::as_array) else {
        return match response.get("error").and_then(Value::as_str) {
            Some(error) if !error.contains(NO_RESULTS) => Err(format!("SerpAPI: {error}")),
            _ => Ok(Vec::new()),
        };
    };
    let text = |result: &Value, field: &str| {
        result
            .get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    Ok(results
        .iter()
        .enumerate()
        .filter_map(|(i, result)| {
            let snippet = text(result, "snippet");
            (!snippet.is_empty()).then(|| SearchHit {
                passage: Passage::new(text(result, "link"), text(result, "title"), snippet),
                score: rank_score(i + 1),
            })
        })
        .take(k)
        .collect())
}

#[async_trait]
impl Searcher for Web {
    fn name(&self) -> String {
        format!("web:google:{}", self.endpoint)
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        if k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        futures_util::future::try_join_all(queries.iter().map(|q| self.search_one(q, k))).await
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;
    use retry::stand_in::{Reply, StandIn};

    /// A SerpAPI Google answer in the service's documented shape, with one result that has no
    /// snippet (the third).
    const SERPAPI_GOOGLE: &str = include_str!("../testdata/serpapi-google.json");
    const KEY: &str = "d3adb33f-serpapi-test-key-0042";

    fn config(server: &StandIn) -> WebConfig {
        WebConfig {
            base_url: server.url.clone(),
            http: HttpConfig {
                request_timeout_secs: 0.5,
                max_attempts: 3,
                initial_backoff_secs: 0.01,
                max_backoff_secs: 0.05,
            },
            ..WebConfig::default()
        }
    }

    fn web(server: &StandIn) -> Web {
        Web::with_key(&config(server), ApiKey::new(KEY)).unwrap()
    }

    fn queries(qs: &[&str]) -> Vec<String> {
        qs.iter().map(|q| q.to_string()).collect()
    }

    #[tokio::test]
    async fn asks_google_for_ten_results_with_the_key() {
        let server = StandIn::always(SERPAPI_GOOGLE).await;
        web(&server)
            .search("Pavia Cathedral dome architect", 3)
            .await
            .unwrap();
        let received = server.received();
        assert_eq!(received.len(), 1);
        let request = &received[0];
        assert_eq!(request.method, "GET");
        assert!(
            request.target.starts_with("/search.json?"),
            "{}",
            request.target
        );
        let param = |name| request.param(name).unwrap_or_default();
        assert_eq!(param("engine"), "google");
        assert_eq!(param("q"), "Pavia Cathedral dome architect");
        assert_eq!(param("num"), "10");
        assert_eq!(param("api_key"), KEY);
    }

    #[tokio::test]
    async fn organic_results_become_passages_and_results_without_snippet_are_skipped() {
        let server = StandIn::always(SERPAPI_GOOGLE).await;
        let hits = web(&server).search("Pavia Cathedral", 10).await.unwrap();
        let shown: Vec<String> = hits
            .iter()
            .map(|h| format!("{} | {} | {}", h.score, h.passage.id, h.passage.title))
            .collect();
        assert_eq!(
            shown,
            [
                "1 | https://en.wikipedia.org/wiki/Pavia_Cathedral | Pavia Cathedral - Wikipedia",
                "0.5 | https://www.visitpavia.com/en/duomo-di-pavia | Duomo di Pavia | Visit Pavia",
                "0.25 | https://en.wikipedia.org/wiki/Giovanni_Antonio_Amadeo | Giovanni Antonio Amadeo - Wikipedia",
                "0.2 | https://www.example-history.it/pavia-dome-1885 | The collapse of the dome of Pavia Cathedral (1885)",
            ]
        );
        assert!(
            hits[0]
                .passage
                .text
                .starts_with("The dome was designed by Carlo Maciachini")
        );
        let cut = web(&server).search("Pavia Cathedral", 2).await.unwrap();
        assert_eq!(cut, hits[..2]);
    }

    #[tokio::test]
    async fn one_request_per_query_answers_in_query_order() {
        let server = StandIn::start(
            vec![
                Reply::Json(200, SERPAPI_GOOGLE.into()),
                Reply::Json(200, r#"{"organic_results": []}"#.into()),
            ],
            Reply::Json(200, SERPAPI_GOOGLE.into()),
        )
        .await;
        let mut config = config(&server);
        // One at a time, so the script's order is the queries' order.
        config.max_concurrency = 1;
        let web = Web::with_key(&config, ApiKey::new(KEY)).unwrap();
        let lists = web
            .batch_search(&queries(&["first", "second", "  "]), 3)
            .await
            .unwrap();
        assert_eq!(lists.iter().map(Vec::len).collect::<Vec<_>>(), [3, 0, 0]);
        let asked: Vec<String> = server
            .received()
            .iter()
            .map(|r| r.param("q").unwrap_or_default())
            .collect();
        assert_eq!(asked, ["first", "second"], "a blank query is not sent");
    }

    #[test]
    fn serpapi_answers_read_as_data() {
        let check = |body: &str, expect: Result<usize, &str>| {
            let got = organic_hits(&serde_json::from_str(body).unwrap(), 10);
            match (got, expect) {
                (Ok(hits), Ok(n)) => assert_eq!(hits.len(), n, "{body}"),
                (Err(e), Err(says)) => assert!(e.contains(says), "{body}: {e}"),
                (got, _) => panic!("{body}: {got:?}"),
            }
        };
        check(
            r#"{"search_information": {"organic_results_state": "Fully empty"}, "error": "Google hasn't returned any results for this query."}"#,
            Ok(0),
        );
        check(r#"{"search_metadata": {"status": "Success"}}"#, Ok(0));
        check(
            r#"{"error": "Your account has run out of searches."}"#,
            Err("SerpAPI: Your account has run out of searches."),
        );
        check(
            r#"{"organic_results": [{"title": 3, "snippet": "s"}, {"snippet": "  "}, "junk"]}"#,
            Ok(1),
        );
    }

    #[tokio::test]
    async fn transient_failures_are_retried() {
        for fault in [Reply::Json(503, "".into()), Reply::Drop, Reply::Hang] {
            let server =
                StandIn::start(vec![fault.clone()], Reply::Json(200, SERPAPI_GOOGLE.into())).await;
            let hits = web(&server).search("Pavia", 10).await;
            assert_eq!(hits.map(|h| h.len()).ok(), Some(4), "{fault:?}");
            assert_eq!(server.received().len(), 2, "{fault:?}");
        }
    }

    /// Log lines written while a test runs on this thread.
    fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(Arc::clone(&logs));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test]
    async fn the_key_shows_in_no_error_debug_print_or_log_line() {
        let (logs, _guard) = capture_logs();
        // A server that echoes the key in its error bodies.
        let echo = format!(r#"{{"error": "Invalid API key {KEY}."}}"#);
        let faults = [
            Reply::Json(401, echo.clone()),
            Reply::Json(500, echo.clone()),
            Reply::Json(200, echo),
            Reply::Json(200, format!("not json {KEY}")),
            Reply::Drop,
            Reply::Hang,
        ];
        let mut seen = Vec::new();
        for fault in faults {
            let server = StandIn::start(Vec::new(), fault).await;
            let web = web(&server);
            seen.push(format!("{web:?}"));
            let err = web.search("Pavia", 10).await.unwrap_err();
            seen.push(err.to_string());
            seen.push(format!("{err:?}"));
        }
        let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        assert!(logs.contains("search request failed"), "{logs}");
        seen.push(logs);
        for text in &seen {
            assert!(!text.contains(KEY), "{text}");
            // No request URL either (its query string holds the key).
            assert!(!text.contains("api_key="), "{text}");
        }
        assert!(
            seen.iter()
                .any(|t| t.contains("Invalid API key <redacted>")),
            "{seen:?}"
        );
        assert!(seen.iter().any(|t| t.contains("timed out")), "{seen:?}");
    }

    #[tokio::test]
    async fn a_refused_key_fails_at_once() {
        let server = StandIn::start(
            Vec::new(),
            Reply::Json(401, r#"{"error": "Invalid API key."}"#.into()),
        )
        .await;
        let err = web(&server)
            .search("Pavia", 10)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(server.received().len(), 1);
        assert!(
            err.contains("HTTP 401") && err.contains("Invalid API key."),
            "{err}"
        );
        assert!(
            err.contains(&format!("{}/search.json", server.url)),
            "{err}"
        );
    }

    #[tokio::test]
    async fn new_reads_the_key_from_the_named_variable() {
        // PATH stands in for a key: it is set everywhere and needs no (unsafe) set_var.
        let server = StandIn::always(SERPAPI_GOOGLE).await;
        let config = WebConfig {
            api_key_env: "PATH".to_string(),
            ..config(&server)
        };
        Web::new(&config).unwrap().search("Pavia", 1).await.unwrap();
        let sent = server.received()[0].param("api_key");
        assert_eq!(sent.as_deref(), Some(std::env::var("PATH").unwrap().trim()));

        let config = WebConfig {
            api_key_env: "MASKSEARCH_TEST_SERPAPI_KEY_SURELY_UNSET".to_string(),
            ..config
        };
        let err = Web::new(&config).unwrap_err();
        assert!(
            matches!(&err, BackendError::MissingApiKey { var } if var == "MASKSEARCH_TEST_SERPAPI_KEY_SURELY_UNSET"),
            "{err}"
        );
    }

    #[test]
    fn defaults_and_names() {
        let config = WebConfig::default();
        assert_eq!(
            (
                config.base_url.as_str(),
                config.api_key_env.as_str(),
                config.num
            ),
            ("https://serpapi.com", "SERPAPI_API_KEY", 10)
        );
        let web = Web::with_key(&config, ApiKey::new(KEY)).unwrap();
        assert_eq!(web.name(), "web:google:https://serpapi.com/search.json");
        let with_path = WebConfig {
            base_url: "http://127.0.0.1:9/serp/".to_string(),
            ..WebConfig::default()
        };
        let web = Web::with_key(&with_path, ApiKey::new(KEY)).unwrap();
        assert_eq!(web.endpoint, "http://127.0.0.1:9/serp/search.json");
    }
}
