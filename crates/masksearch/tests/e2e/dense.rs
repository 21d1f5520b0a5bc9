//! End to end: `index --dense` with the embedded MiniLM over 200 Wikipedia summaries, then
//! `search` and `serve` with `--retriever dense` and `hybrid`, checked with a real HTTP client;
//! an HNSW graph added to the vectors (`index --dense --hnsw`) answers the same, and so does one
//! of their principal components (`--hnsw-dims`).

use serde_json::{Value, json};

use crate::common::{Served, asset, build_index, head, masksearch, run_ok};

/// Passages the builds here encode at once.
const BATCH: &str = "8";

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
    let embed = |more: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "index".as_ref(),
            "--out".as_ref(),
            index.as_os_str(),
            "--dense".as_ref(),
            model.as_os_str(),
            "--dense-batch".as_ref(),
            BATCH.as_ref(),
        ];
        args.extend(more.iter().map(std::ffi::OsStr::new));
        run_ok(&args).1
    };
    let stderr = embed(&[]);
    // The 200 pages are 246 passages of about 100 words.
    assert!(stderr.contains("246 passages embedded"), "{stderr}");
    // What the binary sets up for the encoder (`dense::prepare_process`: candle's pool, glibc's
    // thresholds) changes its speed, not its vectors: its rows are, byte for byte, those this
    // test process encodes without that set-up, a build window at a time.
    let texts: Vec<String> = std::fs::read_to_string(dir.path().join("passages.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let p: Value = serde_json::from_str(l).unwrap();
            dense::passage_text(
                "",
                p["title"].as_str().unwrap(),
                p["text"].as_str().unwrap(),
            )
        })
        .collect();
    let encoder = dense::Encoder::load(&model).unwrap();
    let batch: usize = BATCH.parse().unwrap();
    let rows: Vec<u8> = texts
        .chunks(batch * dense::WINDOW_BATCHES)
        .flat_map(|window| encoder.encode_sorted(window, batch).unwrap())
        .flatten()
        .flat_map(f32::to_le_bytes)
        .collect();
    assert!(
        std::fs::read(index.join("dense/vectors.bin")).unwrap() == rows,
        "the binary's vectors differ from the library's"
    );
    let question = "which skyscraper in Dubai is the tallest in the world";
    let search = || {
        run_ok(&[
            "search".as_ref(),
            question.as_ref(),
            "--retriever".as_ref(),
            "dense".as_ref(),
            "--json".as_ref(),
            "--index".as_ref(),
            index.as_os_str(),
        ])
        .0
    };
    let stdout = search();
    let top: Value = serde_json::from_str(stdout.lines().next().expect("a hit")).unwrap();
    assert_eq!(top["id"], "Burj Khalifa#0", "{stdout}");

    // A graph added to the finished vectors: nothing embedded again, the same hits (the graph of
    // 246 rows finds them all) with the same cosines up to rounding.
    let stderr = embed(&["--hnsw"]);
    assert!(
        stderr.contains("0 passages embedded") && stderr.contains("HNSW graph of 246 rows"),
        "{stderr}"
    );
    assert!(index.join("dense/graph.usearch").exists());
    let hits = |out: &str| -> Vec<(String, f64)> {
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|h| {
                (
                    h["id"].as_str().unwrap().to_string(),
                    h["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (exact, approximate) = (hits(&stdout), hits(&search()));
    assert_eq!(exact.len(), approximate.len());
    for ((id, score), (graph_id, graph_score)) in exact.iter().zip(&approximate) {
        assert_eq!(id, graph_id, "{stdout}");
        assert!((score - graph_score).abs() < 1e-5, "{score} {graph_score}");
    }
    // Candidates to rerank are a reduced graph's: asked of this one, refused by name.
    let refused = masksearch()
        .args([
            "search",
            question,
            "--retriever",
            "dense",
            "--hnsw-rerank",
            "20",
            "--index",
        ])
        .arg(&index)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("a reduced graph's (`index --hnsw-dims`)"),
        "{stderr}"
    );
    // A reduced graph (96 principal components) in its place: its candidates are ordered by the
    // rows' own values, so the hits and their scores are the scan's exactly.
    let stderr = embed(&["--hnsw", "--hnsw-dims", "96", "--hnsw-rerank", "40"]);
    assert!(stderr.contains("0 passages embedded"), "{stderr}");
    assert!(index.join("dense/projection.bin").exists());
    assert_eq!(hits(&search()), exact, "{stdout}");

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
