//! Dense vectors built beside a real BM25 index of Wikipedia summaries with the real MiniLM:
//! searched, fused, resumed after an interrupted build, refused when missing; an HNSW graph
//! added to finished vectors, its build stopped half-way.

use std::path::{Path, PathBuf};

use dense::{DenseBuild, DenseIndex, Fusion, GraphParams, Hybrid, Phase, Storage, Tuning};
use formats::Passage;
use index::Bm25Index;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// An index of the first 96 Wikipedia summaries the set-up fetched.
fn summaries_index(dir: &Path) -> PathBuf {
    let corpus = repo("assets/corpus/wiki-summaries.jsonl");
    let text = std::fs::read_to_string(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup` first", corpus.display()));
    let passages: Vec<Result<Passage, std::io::Error>> = text
        .lines()
        .take(96)
        .map(|l| Ok(serde_json::from_str(l).unwrap()))
        .collect();
    let out = dir.join("index");
    index::build(&out, passages, &index::BuildConfig::default(), |_| {}).unwrap();
    out
}

fn config(storage: Storage, batch: usize) -> DenseBuild {
    DenseBuild {
        model: repo("assets/models/all-MiniLM-L6-v2"),
        storage,
        query_prefix: String::new(),
        passage_prefix: String::new(),
        batch,
        shard: formats::Shard::ALL,
        graph: None,
    }
}

fn ids(hits: &[search::SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.passage.id.as_str()).collect()
}

#[test]
fn dense_and_hybrid_search_find_the_passage_a_question_is_about() {
    let dir = tempfile::tempdir().unwrap();
    let index = summaries_index(dir.path());
    let bm25 = Bm25Index::open(&index).unwrap();
    assert!(matches!(
        DenseIndex::open(&index, bm25.clone(), Tuning::default()),
        Err(dense::DenseError::Missing { .. })
    ));
    let report = dense::build(&index, &config(Storage::F32, 16), &mut |_, _, _| {}).unwrap();
    assert_eq!((report.rows, report.resumed, report.dim), (96, 0, 384));
    let dense = DenseIndex::open(&index, bm25.clone(), Tuning::default()).unwrap();
    // Words the passage does not use: only its meaning leads there.
    let question = "Which movie by Kubrick is about a voyage to Jupiter?".to_string();
    let hits = dense
        .query_batch(std::slice::from_ref(&question), 3)
        .unwrap();
    assert_eq!(
        ids(&hits[0])[0],
        "2001: A Space Odyssey",
        "{:?}",
        ids(&hits[0])
    );
    assert!(hits[0][0].score > hits[0][1].score);
    let hybrid = Hybrid::new(bm25, dense, Fusion::default());
    let fused = hybrid.query_batch(&[question], 3).unwrap();
    assert_eq!(
        ids(&fused[0])[0],
        "2001: A Space Odyssey",
        "{:?}",
        ids(&fused[0])
    );
}

#[test]
fn vectors_whose_encoder_moved_say_where_it_was_and_how_to_point_them_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let index = summaries_index(dir.path());
    dense::build(&index, &config(Storage::I8, 32), &mut |_, _, _| {}).unwrap();
    let bm25 = Bm25Index::open(&index).unwrap();
    let meta_path = index.join("dense/meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let moved = dir.path().join("models/all-MiniLM-L6-v2");
    meta["model"] = moved.display().to_string().into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let err = DenseIndex::open(&index, bm25.clone(), Tuning::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, dense::DenseError::ModelMoved { .. })
            && message.contains(&meta_path.display().to_string())
            && message.contains(&moved.display().to_string()),
        "{message}"
    );
    // Pointed at where the encoder is, as the message says, the vectors open again.
    meta["model"] = repo("assets/models/all-MiniLM-L6-v2")
        .display()
        .to_string()
        .into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    DenseIndex::open(&index, bm25, Tuning::default()).unwrap();
}

#[test]
fn an_interrupted_build_resumes_to_the_same_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let (index, whole) = index_and_whole_build(dir.path());
    // The build stops (here: a panic in its progress report) once 32 rows are written.
    let stopped = std::panic::catch_unwind(|| {
        let _ = dense::build(&index, &config(Storage::I8, 2), &mut |_, done, _| {
            assert!(done < 32, "stop");
        });
    });
    assert!(stopped.is_err());
    assert!(
        !index.join("dense").exists(),
        "nothing in place before the end"
    );
    let report = dense::build(&index, &config(Storage::I8, 2), &mut |_, _, _| {}).unwrap();
    assert_eq!((report.resumed, report.rows), (32, 96));
    same_vectors(&whole, &index);
    assert!(!index.join("dense.partial").exists());
}

/// Batches are encoded side by side on the rayon pool: the rows do not depend on how many
/// threads there are, nor on which batch finishes first.
#[test]
fn vectors_embedded_on_one_thread_and_on_four_are_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (index, other) = index_and_copy(dir.path(), "other");
    for (threads, index) in [(1, &index), (4, &other)] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        // 96 rows in batches of 8: twelve batches in one window.
        pool.install(|| dense::build(index, &config(Storage::F32, 8), &mut |_, _, _| {}))
            .unwrap();
    }
    let rows = |d: &Path| std::fs::read(d.join("dense/vectors.bin")).unwrap();
    assert!(rows(&index) == rows(&other));
}

/// A graph added to finished f16 vectors: stopped while linking, the previous vectors stay in
/// place and searchable; run again, it takes their rows (nothing embedded again), and the graph
/// finds what the exact scan found, scored alike.
#[test]
fn a_graph_build_stopped_half_way_keeps_the_previous_vectors_and_reuses_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let index = summaries_index(dir.path());
    let bm25 = Bm25Index::open(&index).unwrap();
    dense::build(&index, &config(Storage::F16, 16), &mut |_, _, _| {}).unwrap();
    let meta = || std::fs::read_to_string(index.join("dense/meta.json")).unwrap();
    let before = meta();
    let questions = [
        "Which movie by Kubrick is about a voyage to Jupiter?".to_string(),
        "a painter of water lilies".to_string(),
    ];
    let exact = DenseIndex::open(&index, bm25.clone(), Tuning::default())
        .unwrap()
        .query_batch(&questions, 5)
        .unwrap();
    let with_graph = DenseBuild {
        graph: Some(GraphParams::default()),
        ..config(Storage::F16, 16)
    };
    let stopped = std::panic::catch_unwind(|| {
        let _ = dense::build(&index, &with_graph, &mut |phase, _, _| {
            assert!(phase != Phase::Graph, "stop");
        });
    });
    assert!(stopped.is_err());
    assert_eq!(meta(), before, "the previous vectors stay in place");
    assert!(!index.join("dense/graph.usearch").exists());
    let unchanged = DenseIndex::open(&index, bm25.clone(), Tuning::default()).unwrap();
    assert_eq!(unchanged.query_batch(&questions, 5).unwrap(), exact);
    let mut linked = 0;
    let report = dense::build(&index, &with_graph, &mut |phase, done, _| {
        if phase == Phase::Graph {
            linked = done;
        }
    })
    .unwrap();
    assert_eq!((report.rows, report.resumed, linked), (96, 96, 96));
    let approximate = DenseIndex::open(&index, bm25, Tuning::default()).unwrap();
    assert_eq!(approximate.meta().graph, Some(GraphParams::default()));
    let found = approximate.query_batch(&questions, 5).unwrap();
    for (list, exact) in found.iter().zip(&exact) {
        assert_eq!(ids(list), ids(exact));
        for (hit, exact) in list.iter().zip(exact) {
            // The graph's cosine of the f16 values, the scan's dot product with them.
            assert!((hit.score - exact.score).abs() < 1e-3, "{hit:?} {exact:?}");
        }
    }
    assert!(!index.join("dense.partial").exists());
}

/// Shards 0/3 and 2/3 embedded apart (as Ray tasks on other machines would), then the build
/// without a shard: it takes their rows, embeds only shard 1's range, and its vectors are those
/// of a build that embedded everything (the shards' ranges fall on the same batch windows).
#[test]
fn a_build_takes_the_rows_of_finished_shards_and_embeds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (index, whole) = index_and_whole_build(dir.path());
    for shard in ["0/3", "2/3"] {
        let config = DenseBuild {
            shard: shard.parse().unwrap(),
            ..config(Storage::I8, 2)
        };
        let report = dense::build(&index, &config, &mut |_, _, _| {}).unwrap();
        assert_eq!((report.rows, report.resumed), (32, 0), "{shard}");
        // Run again (a retried task): the finished shard is kept, nothing embedded.
        let again = dense::build(&index, &config, &mut |_, _, _| {}).unwrap();
        assert_eq!((again.rows, again.resumed), (32, 32), "{shard}");
    }
    assert!(
        !index.join("dense").exists(),
        "shards alone put nothing in place"
    );
    let mut embedded = 0;
    let report = dense::build(&index, &config(Storage::I8, 2), &mut |_, done, _| {
        embedded = done
    })
    .unwrap();
    assert_eq!((report.rows, report.from_shards, embedded), (96, 64, 96));
    same_vectors(&whole, &index);
    assert!(!index.join("dense.shards").exists());
}

/// The summaries' index, and a copy of it (`whole`) with its vectors built in one go: i8 rows,
/// 2 passages a batch, so windows of 32.
/// [`summaries_index`] in `dir`, and a copy of it in `dir/name`.
fn index_and_copy(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let index = summaries_index(dir);
    let copy = dir.join(name);
    copy_dir(&index, &copy);
    (index, copy)
}

fn index_and_whole_build(dir: &Path) -> (PathBuf, PathBuf) {
    let (index, whole) = index_and_copy(dir, "whole");
    dense::build(&whole, &config(Storage::I8, 2), &mut |_, _, _| {}).unwrap();
    (index, whole)
}

fn same_vectors(a: &Path, b: &Path) {
    for file in ["vectors.bin", "scales.bin", "meta.json"] {
        let read = |d: &Path| std::fs::read(d.join("dense").join(file)).unwrap();
        assert!(read(a) == read(b), "{file} differs");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// Search-R1's way: faiss-cpu (PyPI, in the set-up's .venv) writes a flat inner-product index of
/// the passages' vectors; imported, it gives the same rows as embedding them here.
#[test]
fn a_flat_index_written_by_faiss_imports_to_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (index, other) = index_and_copy(dir.path(), "other");
    dense::build(&index, &config(Storage::F32, 16), &mut |_, _, _| {}).unwrap();
    let flat = dir.path().join("e5_Flat.index");
    let python = repo(".venv/bin/python");
    let written = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys, faiss, numpy as np\n\
             rows = np.fromfile(sys.argv[1], dtype='<f4').reshape(-1, 384)\n\
             flat = faiss.IndexFlatIP(384)\n\
             flat.add(rows)\n\
             faiss.write_index(flat, sys.argv[2])",
        ])
        .arg(index.join("dense/vectors.bin"))
        .arg(&flat)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup` first", python.display()));
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let report =
        dense::import(&other, &flat, &config(Storage::F32, 16), &mut |_, _, _| {}).unwrap();
    assert_eq!((report.rows, report.dim), (96, 384));
    let rows = |d: &Path| std::fs::read(d.join("dense/vectors.bin")).unwrap();
    assert!(rows(&index) == rows(&other));
    let imported =
        DenseIndex::open(&other, Bm25Index::open(&other).unwrap(), Tuning::default()).unwrap();
    assert_eq!(imported.meta().source.as_deref(), Some(flat.as_path()));
    let question = "Which movie by Kubrick is about a voyage to Jupiter?".to_string();
    let hits = imported.query_batch(&[question], 1).unwrap();
    assert_eq!(ids(&hits[0]), ["2001: A Space Odyssey"]);
    // An index of other passages is refused by its length.
    let few = dir.path().join("few");
    let passages: Vec<Result<Passage, std::io::Error>> = vec![Ok(serde_json::from_str(
        r#"{"id": "x", "title": "X", "text": "x"}"#,
    )
    .unwrap())];
    index::build(&few, passages, &index::BuildConfig::default(), |_| {}).unwrap();
    let e = dense::import(&few, &flat, &config(Storage::F32, 16), &mut |_, _, _| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains("96 rows of 384 values, for an index of 1 passages"),
        "{e}"
    );
}
