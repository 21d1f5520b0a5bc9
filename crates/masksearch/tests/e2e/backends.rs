//! End to end: the search backends against the real servers — `backends::Remote` reading the
//! real `masksearch serve` over the real wiki-18 index, and `backends::Simulated` writing
//! documents with the real local model behind `masksearch llm serve`.

use std::sync::Arc;

use crate::common::{Served, build_index, testdata};
use backends::{HttpConfig, Remote, RemoteConfig, Simulated, SimulatedConfig};
use llm::{ClientConfig, OpenAiClient};
use search::{SearchError, Searcher};

fn queries(qs: &[&str]) -> Vec<String> {
    qs.iter().map(|q| q.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_answers_what_the_served_index_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = build_index(&testdata("wiki18-sample-1000.jsonl"), dir.path());
    let served = Served::start(&["serve".as_ref(), "--index".as_ref(), index.as_os_str()]);
    // The base URL alone: `/retrieve` is implied.
    let remote = Remote::new(&RemoteConfig::new(&served.url)).expect("remote");
    assert_eq!(remote.name(), format!("remote:{}/retrieve", served.url));

    let asked = queries(&[
        "Pavia Cathedral dome",
        "Evan Morris lobbyist Genentech",
        "zzyzx",
    ]);
    let got = remote.batch_search(&asked, 4).await.expect("remote search");
    let local = ::index::Bm25Index::open(&index).expect("index opens");
    let want = local.batch_search(&asked, 4).await.expect("local search");
    // Same passages (ids, titles, texts, contents) and bit-identical scores, over HTTP.
    assert_eq!(got, want);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [3, 4, 0]);
    assert_eq!(got[0][0].passage.title, "Pavia Cathedral");
    assert_eq!(got[1][0].passage.title, "Evan Morris");

    // The server goes away: the search fails, after its retries, naming the server.
    let url = served.url.clone();
    drop(served);
    let remote = Remote::new(&RemoteConfig {
        url: url.clone(),
        http: HttpConfig {
            max_attempts: 2,
            initial_backoff_secs: 0.01,
            ..HttpConfig::default()
        },
    })
    .expect("remote");
    let err = remote.search("Pavia", 3).await.expect_err("server is down");
    assert!(
        matches!(&err, SearchError::Backend { backend, message }
            if backend == &format!("remote:{url}/retrieve") && message.contains("after 2 attempt(s)")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn simulated_search_writes_k_documents_with_the_local_model() {
    let served = Served::llm();
    let client = OpenAiClient::new(ClientConfig::new(served.v1(), "smollm2")).expect("client");
    let simulated = Simulated::new(Arc::new(client), SimulatedConfig::default());
    assert_eq!(simulated.name(), "simulated:smollm2");

    let asked = queries(&["Pavia Cathedral dome", "capital of Australia"]);
    let lists = simulated
        .batch_search(&asked, 3)
        .await
        .expect("simulated search");
    assert_eq!(lists.len(), 2);
    for (query, hits) in asked.iter().zip(&lists) {
        // A 135M model writes poorly: check the shape, not the wording.
        assert_eq!(hits.len(), 3, "{query}: {hits:?}");
        for hit in hits {
            assert!(!hit.passage.text.trim().is_empty(), "{hit:?}");
            assert!(hit.passage.id.starts_with("sim:"), "{hit:?}");
            assert!(!hit.passage.text.contains("Doc "), "{hit:?}");
        }
        let scores: Vec<f64> = hits.iter().map(|h| h.score).collect();
        assert_eq!(scores, [1.0, 0.5, 1.0 / 3.0]);
    }
}
