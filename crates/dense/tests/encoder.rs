//! The encoder against sentence-transformers: the embeddings of `testdata/dense/minilm-reference.json`
//! (made by `scripts/dense-reference.py` with sentence-transformers 6.2 on the same model) are
//! reproduced, batched or alone, to 1e-4.

use std::path::PathBuf;

use dense::Encoder;
use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn model() -> PathBuf {
    let dir = repo("assets/models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run `make setup` (scripts/setup.sh) first",
        dir.display()
    );
    dir
}

#[test]
fn minilm_embeddings_equal_sentence_transformers_ones() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("testdata/dense/minilm-reference.json")).unwrap(),
    )
    .unwrap();
    let encoder = Encoder::load(&model()).unwrap();
    assert_eq!(encoder.dim(), 384);
    let texts = reference["texts"].as_array().unwrap();
    let strings: Vec<&str> = texts.iter().map(|t| t["text"].as_str().unwrap()).collect();
    // All in one batch (padded to the longest) and each alone: the same vectors.
    let together = encoder.encode(&strings).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = encoder.encode(&strings[i..=i]).unwrap().remove(0);
        let expected: Vec<f32> = t["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        for got in [&together[i], &alone] {
            let worst = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "text {i}: off by {worst}: {}", strings[i]);
        }
    }
    // The figures the reference gives: the question is near its answer, far from the tower.
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let eiffel = reference["cosine"]["question_0_vs_eiffel_passage"]
        .as_f64()
        .unwrap() as f32;
    let curie = reference["cosine"]["question_0_vs_curie_passage"]
        .as_f64()
        .unwrap() as f32;
    assert!((cos(&together[0], &together[4]) - eiffel).abs() < 1e-4);
    assert!((cos(&together[0], &together[5]) - curie).abs() < 1e-4);
}
