//! End to end: ingest and index the real wiki-18 sample, query it from the CLI, and start the
//! real `/retrieve` server on a free port, checked with a real HTTP client.

use std::sync::OnceLock;

use crate::common::{Served, build_index, masksearch, testdata};
use serde_json::{Value, json};

/// One index of the 1,000 wiki-18 passages shared by every test of this file.
fn wiki18_index() -> &'static std::path::Path {
    static INDEX: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    let (_, index) = INDEX.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = build_index(&testdata("wiki18-sample-1000.jsonl"), dir.path());
        (dir, index)
    });
    index
}

#[test]
fn search_finds_pavia_cathedral_first() {
    let out = masksearch()
        .args([
            "search",
            "Pavia Cathedral dome",
            "-k",
            "5",
            "--json",
            "--index",
        ])
        .arg(wiki18_index())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!((1..=5).contains(&hits.len()), "{hits:?}");
    assert_eq!(hits[0]["title"], "Pavia Cathedral");
    let scores: Vec<f64> = hits
        .iter()
        .map(|h| h["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn search_prints_ranked_text() {
    let out = masksearch()
        .args(["search", "Pavia Cathedral dome", "-k", "2", "--index"])
        .arg(wiki18_index())
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.starts_with(" 1. "), "{text}");
    assert!(
        text.lines()
            .next()
            .expect("a line")
            .contains("Pavia Cathedral"),
        "{text}"
    );
    assert!(text.contains("\n 2. "), "{text}");
}

/// The titles `masksearch search` ranks for `query`, with `extra` flags.
fn search_titles(query: &str, extra: &[&str]) -> Result<Vec<String>, String> {
    let out = masksearch()
        .args(["search", query, "-k", "10", "--json", "--index"])
        .arg(wiki18_index())
        .args(extra)
        .output()
        .expect("runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let hit: Value = serde_json::from_str(l).expect("json line");
            hit["title"].as_str().expect("title").to_string()
        })
        .collect())
}

#[test]
fn query_syntax_is_an_opt_in_of_the_command_line() {
    // By default `-pavia` is one more word to look for; with the flag it excludes.
    let words = search_titles("cathedral -pavia", &[]).expect("answered");
    assert_eq!(words[0], "Pavia Cathedral", "{words:?}");
    let syntax = search_titles("cathedral -pavia", &["--query-syntax"]).expect("answered");
    assert!(!syntax.is_empty(), "cathedrals other than Pavia's");
    assert!(syntax.iter().all(|t| !t.contains("Pavia")), "{syntax:?}");
    // A query the parser cannot read is answered as words by default, refused with the flag.
    assert!(search_titles("((cathedral", &[]).is_ok());
    let refused = search_titles("((cathedral", &["--query-syntax"]).expect_err("refused");
    assert!(refused.contains("query"), "{refused}");
}

fn serve() -> Served {
    Served::start(&[
        "serve".as_ref(),
        "--index".as_ref(),
        wiki18_index().as_os_str(),
    ])
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(format!("{url}/retrieve"))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn retrieve_speaks_search_r1() {
    let served = serve();
    assert!(
        served.url.starts_with("http://127.0.0.1:"),
        "{}",
        served.url
    );
    let client = reqwest::Client::new();

    let health: Value = client
        .get(format!("{}/health", served.url))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");

    let (status, body) = post(
        &client,
        &served.url,
        json!({"queries": ["Pavia Cathedral dome", "Pavia Cathedral dome"], "topk": 3, "return_scores": true}),
    )
    .await;
    assert_eq!(status, 200);
    let result = body["result"].as_array().expect("result list");
    assert_eq!(result.len(), 2, "one list per query");
    assert_eq!(result[0], result[1], "same query, same answer");
    let hits = result[0].as_array().expect("hits");
    assert_eq!(hits.len(), 3);
    let top = &hits[0];
    assert!(top["score"].as_f64().expect("score") > 0.0);
    let doc = top["document"].as_object().expect("document");
    // The union of Search-R1's BM25-path document {title, text, contents} and its dense-path
    // corpus row {id, contents}: clients of either find what they read.
    let mut keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["contents", "id", "text", "title"], "{doc:?}");
    assert_eq!(doc["title"], "Pavia Cathedral");
    assert!(top["score"].is_f64(), "scores are JSON doubles: {top}");
    let contents = doc["contents"].as_str().expect("contents");
    assert!(contents.starts_with("\"Pavia Cathedral\"\n"), "{contents}");
    // wiki-18 ids are 0-based line numbers of the corpus file; clients index the corpus by them.
    let id: usize = doc["id"].as_str().expect("id").parse().expect("numeric id");
    let line = std::fs::read_to_string(testdata("wiki18-sample-1000.jsonl"))
        .expect("fixture")
        .lines()
        .nth(id)
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .expect("line exists");
    assert_eq!(line["id"], doc["id"]);
    assert_eq!(
        line["contents"], doc["contents"],
        "contents byte-identical to the corpus"
    );
}

/// Every hit's `contents` is the corpus line's own string, byte for byte, also for the wiki-18
/// lines whose title is not quoted (rebuilding `"Title"\ntext` would add quotes there).
#[tokio::test]
async fn retrieve_returns_contents_byte_identical_to_the_corpus() {
    let served = serve();
    let client = reqwest::Client::new();
    let corpus: Vec<Value> = std::fs::read_to_string(testdata("wiki18-sample-1000.jsonl"))
        .expect("fixture")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let unquoted: Vec<&Value> = corpus
        .iter()
        .filter(|l| !l["contents"].as_str().unwrap().starts_with('"'))
        .take(20)
        .collect();
    assert!(unquoted.len() >= 10, "the fixture has unquoted titles");
    // Query each by its own first words; check every hit of every answer.
    let queries: Vec<String> = unquoted
        .iter()
        .map(|l| {
            let text = l["contents"].as_str().unwrap().split_once('\n').unwrap().1;
            text.split_whitespace()
                .take(12)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let (status, body) = post(
        &client,
        &served.url,
        json!({"queries": queries, "topk": 5, "return_scores": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut found_unquoted = 0;
    for (hits, wanted) in body["result"].as_array().unwrap().iter().zip(&unquoted) {
        for hit in hits.as_array().unwrap() {
            let doc = &hit["document"];
            let id: usize = doc["id"].as_str().unwrap().parse().unwrap();
            assert_eq!(doc["contents"], corpus[id]["contents"], "id {id}");
            if doc["id"] == wanted["id"] {
                found_unquoted += 1;
            }
        }
    }
    assert!(
        found_unquoted >= 10,
        "{found_unquoted} of {}",
        unquoted.len()
    );
}

#[tokio::test]
async fn retrieve_defaults_and_plain_documents() {
    let served = serve();
    let client = reqwest::Client::new();
    // No topk, no return_scores: server default of 3, each hit the document alone.
    let (status, body) = post(&client, &served.url, json!({"queries": ["church"]})).await;
    assert_eq!(status, 200);
    let hits = body["result"][0].as_array().expect("hits");
    assert_eq!(hits.len(), 3);
    assert!(hits[0].get("score").is_none() && hits[0].get("document").is_none());
    assert!(
        hits[0]["contents"]
            .as_str()
            .expect("contents")
            .starts_with('"')
    );
    // topk 0 also means the default.
    let (_, body) = post(
        &client,
        &served.url,
        json!({"queries": ["church"], "topk": 0}),
    )
    .await;
    assert_eq!(body["result"][0].as_array().expect("hits").len(), 3);
    // Any query string is answered, syntax errors included.
    let odd = ["((", "title:", "\"", "", "AND", "-", "ü\u{0}🙂", "a:b:c (d"];
    let (status, body) = post(&client, &served.url, json!({"queries": odd, "topk": 2})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"].as_array().expect("result").len(), odd.len());
}

/// `--doc-fields id,contents` answers Search-R1's dense-path corpus row, what its and verl's
/// clients read; a name that is not a field is refused before the server starts.
#[tokio::test]
async fn serve_sends_the_document_fields_it_is_told() {
    let served = Served::start(&[
        "serve".as_ref(),
        "--doc-fields".as_ref(),
        "id,contents".as_ref(),
        "--index".as_ref(),
        wiki18_index().as_os_str(),
    ]);
    let client = reqwest::Client::new();
    for scores in [true, false] {
        let (status, body) = post(
            &client,
            &served.url,
            json!({"queries": ["Pavia Cathedral dome"], "topk": 3, "return_scores": scores}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        for hit in body["result"][0].as_array().expect("hits") {
            let doc = if scores { &hit["document"] } else { hit };
            let mut keys: Vec<&str> = doc
                .as_object()
                .expect("doc")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, ["contents", "id"], "{hit}");
        }
    }
    let out = masksearch()
        .args(["serve", "--doc-fields", "id,body", "--port", "0", "--index"])
        .arg(wiki18_index())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "bad usage");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains(r#"unknown document field "body"; the fields are id, title, text, contents"#),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_with_query_syntax_reads_operators_and_refuses_what_it_cannot_parse() {
    let served = Served::start(&[
        "serve".as_ref(),
        "--query-syntax".as_ref(),
        "--index".as_ref(),
        wiki18_index().as_os_str(),
    ]);
    let client = reqwest::Client::new();
    let (status, body) = post(
        &client,
        &served.url,
        json!({"queries": ["cathedral -pavia"], "topk": 10}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let titles: Vec<&str> = body["result"][0]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["title"].as_str().expect("title"))
        .collect();
    assert!(
        !titles.is_empty() && titles.iter().all(|t| !t.contains("Pavia")),
        "{titles:?}"
    );
    let (status, body) = post(&client, &served.url, json!({"queries": ["((cathedral"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn retrieve_rejects_bad_requests_with_json_errors() {
    let served = serve();
    let client = reqwest::Client::new();
    let cases = [
        json!({"queries": ["x"], "topk": 100000}),
        json!({"queries": "not a list"}),
        json!({"topk": 3}),
        json!({"queries": ["x".repeat(10_000)]}),
        json!({"queries": vec!["q"; 5000]}),
    ];
    for case in cases {
        let (status, body) = post(&client, &served.url, case.clone()).await;
        assert!((400..500).contains(&status), "{case}: {status}");
        let message = body["error"]["message"].as_str().expect("error message");
        assert!(!message.is_empty(), "{case}");
    }
    let response = client
        .post(format!("{}/retrieve", served.url))
        .header("content-type", "application/json")
        .body(vec![b'['; 9 * 1024 * 1024])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 413, "body over the cap");
}

/// Whatever a model writes, `/retrieve` answers 200 with one list per query (never 5xx).
#[test]
fn retrieve_never_answers_5xx() {
    use proptest::{prelude::*, test_runner::TestRunner};
    let served = serve();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let query = "(\\PC|[-+^~*:(){}\\[\\]\"'!?/\\\\]|AND |NOT |title:|text:\\*|/M.*a/){0,40}";
    let queries = proptest::collection::vec(query, 1..8);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(150));
    runner
        .run(&queries, |queries| {
            let (status, body) = runtime.block_on(post(
                &client,
                &served.url,
                json!({"queries": queries, "topk": 3, "return_scores": true}),
            ));
            prop_assert_eq!(status, 200, "{}", body);
            prop_assert_eq!(body["result"].as_array().unwrap().len(), queries.len());
            Ok(())
        })
        .expect("every query answered");
}

/// `POST /observation` answers a student's search as the runtime does: one query is its top k
/// from `/retrieve`, rendered as Search-R1's `<information>` block; several are merged by rank
/// with repeats removed; excluded ids never show; bad requests are JSON 400s.
#[tokio::test]
async fn observation_is_the_student_search_answered() {
    let served = serve();
    let client = reqwest::Client::new();
    let observe = |body: Value| {
        let client = client.clone();
        let url = format!("{}/observation", served.url);
        async move {
            let response = client.post(url).json(&body).send().await.expect("sent");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let hits = |query: &str, k: usize| {
        let client = client.clone();
        let url = served.url.clone();
        let query = query.to_string();
        async move {
            let (_, body) = post(
                &client,
                &url,
                json!({"queries": [query], "topk": k, "return_scores": true}),
            )
            .await;
            body["result"][0]
                .as_array()
                .expect("hits")
                .iter()
                .map(|h| {
                    serde_json::from_value::<search::RetrieveHit>(h.clone())
                        .expect("a hit")
                        .into_search_hit()
                })
                .collect::<Vec<_>>()
        }
    };
    let (status, one) = observe(json!({"queries": ["Pavia cathedral"]})).await;
    assert_eq!(status, 200, "{one}");
    let top3 = hits("Pavia cathedral", 3).await;
    assert_eq!(
        one["observation"],
        student::information_block(&top3).trim(),
        "one query: its top 3 from /retrieve, as the student reads them"
    );
    assert!(
        one["observation"]
            .as_str()
            .unwrap()
            .starts_with("<information>Doc 1(Title: ")
    );
    let (_, two) = observe(
        json!({"queries": ["Pavia cathedral", "Lombardy  church", "Pavia cathedral"], "topk": 4}),
    )
    .await;
    assert_eq!(
        two["queries"],
        json!(["Pavia cathedral", "Lombardy church"])
    );
    let lists = vec![
        hits("Pavia cathedral", 4).await,
        hits("Lombardy church", 4).await,
    ];
    let merged: Vec<String> = search::merge(&lists, 4)
        .hits
        .iter()
        .map(|m| m.hit.passage.id.clone())
        .collect();
    assert_eq!(two["ids"], json!(merged));
    // A query that many passages match: leaving one out still shows 3.
    let (_, many) = observe(json!({"queries": ["the city history"]})).await;
    let first = many["ids"][0].as_str().unwrap().to_string();
    let (_, without) = observe(json!({"queries": ["the city history"], "exclude": [first]})).await;
    assert_eq!(without["ids"].as_array().unwrap().len(), 3);
    assert_eq!(without["ids"][0], many["ids"][1]);
    assert!(!without["ids"].as_array().unwrap().contains(&json!(first)));
    for (bad, code) in [
        (json!({"queries": [" ", "<>"]}), 400),
        (json!({"queries": ["x"], "topk": 100000}), 400),
        (json!({"query": "x"}), 422),
    ] {
        let (status, body) = observe(bad.clone()).await;
        assert_eq!(status, code, "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}
