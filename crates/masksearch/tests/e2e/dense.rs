//! End to end: `index --dense` with the embedded MiniLM over 200 Wikipedia summaries, then
//! `search` and `serve` with `--retriever dense` and `hybrid`, checked with a real HTTP client.

use serde_json::{Value, json};

use crate::common::{Served, asset, build_index, head, masksearch, run_ok};

#[tokio::test(flavor = "multi_thread")]
async fn dense_vectors_built_beside_bm25_serve_dense_and_hybrid_retrieval() {
    let dir = tempfile::tempdir().unwrap();
    let pages = head(
        &asset("corpus/wiki-summaries.jsonl"),
        &dir.path().join("pages.jsonl"),
        200,
    );
    let index = build_index(&pages, dir.path());
    let refused = masksearch()
        .args(["search", "x", "--retriever", "dense", "--index"])
        .arg(&index)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("masksearch index --dense MODEL"),
        "{stderr}"
    );

    let model = asset("models/all-MiniLM-L6-v2");
    let (_, stderr) = run_ok(&[
        "index".as_ref(),
        "--out".as_ref(),
        index.as_os_str(),
        "--dense".as_ref(),
        model.as_os_str(),
    ]);
    // The 200 pages are 246 passages of about 100 words.
    assert!(stderr.contains("246 passages embedded"), "{stderr}");
    let question = "which skyscraper in Dubai is the tallest in the world";
    let (stdout, _) = run_ok(&[
        "search".as_ref(),
        question.as_ref(),
        "--retriever".as_ref(),
        "dense".as_ref(),
        "--json".as_ref(),
        "--index".as_ref(),
        index.as_os_str(),
    ]);
    let top: Value = serde_json::from_str(stdout.lines().next().expect("a hit")).unwrap();
    assert_eq!(top["id"], "Burj Khalifa#0", "{stdout}");

    let served = Served::start(&[
        "serve".as_ref(),
        "--index".as_ref(),
        index.as_os_str(),
        "--retriever".as_ref(),
        "hybrid".as_ref(),
    ]);
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/retrieve", served.url))
        .json(&json!({"queries": [question, "Kubrick's film about a voyage to Jupiter"], "topk": 3, "return_scores": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lists = answer["result"].as_array().expect("result");
    assert_eq!(lists.len(), 2, "{answer}");
    let first = |list: &Value| list[0]["document"]["id"].clone();
    assert_eq!(first(&lists[0]), "Burj Khalifa#0", "{answer}");
    assert_eq!(first(&lists[1]), "2001: A Space Odyssey#0", "{answer}");
    for list in lists {
        assert_eq!(list.as_array().unwrap().len(), 3);
        for hit in list.as_array().unwrap() {
            assert!(hit["score"].as_f64().unwrap() > 0.0, "{hit}");
            assert!(
                hit["document"]["contents"]
                    .as_str()
                    .unwrap()
                    .starts_with('"')
            );
        }
    }
}
