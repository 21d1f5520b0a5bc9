//! The run over real passages (the wiki-18 sample in testdata): determinism, resume from any
//! crash point, shards, the models recorded in the manifest, and the LLM and difficulty plumbing
//! with scripted models. The tests are async, most on a current-thread runtime: the run takes
//! the caller's runtime, whatever its flavour.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use chat::{ChatError, LogProb, TokenScorer, testing::Scripted};
use formats::{FormatError, JsonlPassages, Passage, RampSample, RunManifest, Shard};
use ramp::{
    Difficulty, Lang, LevelRule, RampConfig, RampError, RampReport, RunOptions, SpanSet, Tally,
    fill_masks,
};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// The wiki-18 sample (`{"id","contents"}`) as passages JSONL.
fn wiki18_passages(dir: &Path) -> PathBuf {
    let path = dir.join("passages.jsonl");
    let mut out = String::new();
    for line in fs::read_to_string(testdata("wiki18-sample-1000.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let p = Passage::from_contents(v["id"].as_str().unwrap(), v["contents"].as_str().unwrap());
        out.push_str(&serde_json::to_string(&p).unwrap());
        out.push('\n');
    }
    fs::write(&path, out).unwrap();
    path
}

fn config() -> RampConfig {
    RampConfig {
        spans: SpanSet::offline(),
        seed: 7,
        curriculum: LevelRule::default(),
        difficulty: Difficulty::None,
        lang: Lang::En,
        source: "wiki".into(),
        shard: Shard::ALL,
    }
}

fn options(out: PathBuf, batch_size: usize) -> RunOptions<'static> {
    RunOptions {
        out,
        resume: true,
        batch_size,
        model: None,
        scorer: None,
        llm_concurrency: 4,
        progress: &|_| {},
    }
}

async fn generate(
    config: &RampConfig,
    passages: &Path,
    options: &RunOptions<'_>,
) -> Result<RampReport, RampError> {
    ramp::run(
        config,
        Arc::new(JsonlPassages(passages.to_path_buf())),
        options,
    )
    .await
}

fn samples(path: &Path) -> Vec<RampSample> {
    formats::read_jsonl::<RampSample>(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn check_rules(s: &RampSample) {
    assert_eq!(
        fill_masks(&s.query, &s.ext.masks).as_deref(),
        Some(s.answer.as_str()),
        "{}",
        s.id
    );
    let masked = s.query.strip_suffix(formats::RAMP_INSTRUCTION_EN).unwrap();
    let masked = masked.strip_suffix("\n\n").unwrap();
    assert_eq!(masked.matches("[mask]").count(), s.ext.mask_num);
    assert!((1..=4).contains(&s.ext.mask_num));
    assert_eq!(s.ext.masks.len(), s.ext.mask_num);
    assert_eq!(s.ext.mask_kinds.len(), s.ext.mask_num);
    assert!(!masked.trim_start().starts_with("[mask]"), "{}", s.id);
    // Each mask is tidy where it stands in the answer.
    let mut at = 0;
    for (part, (m, kind)) in masked
        .split("[mask]")
        .zip(s.ext.masks.iter().zip(&s.ext.mask_kinds))
    {
        at += part.len();
        let span = ramp::Span {
            start: at,
            end: at + m.len(),
            kind: kind.parse().unwrap(),
        };
        assert_eq!(
            ramp::spans::tidy(&s.answer, span),
            Some(span),
            "{m:?} in {}",
            s.id
        );
        at += m.len();
    }
    for m in &s.ext.masks {
        // Spans occurring more than once are never masked.
        assert_eq!(
            ramp::spans::word_occurrences(&s.answer, m).len(),
            1,
            "{m:?} in {}",
            s.id
        );
        assert_ne!(m, &s.ext.title);
        assert!(s.ext.entities.contains(m));
    }
}

#[tokio::test]
async fn every_sample_obeys_the_rules_and_batching_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let report = generate(&config(), &passages, &options(a.clone(), 1024))
        .await
        .unwrap();
    generate(&config(), &passages, &options(b.clone(), 37))
        .await
        .unwrap();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    let all = samples(&a);
    assert!(
        all.len() > 850,
        "only {} samples from 1000 passages",
        all.len()
    );
    for s in &all {
        check_rules(s);
    }
    // The default curriculum: equal shares of 1..4 masks when passages allow.
    let stats = report.tally;
    for k in 1..=4 {
        let n = stats.masks.get(&k).copied().unwrap_or(0) as f64;
        assert!(
            (n / all.len() as f64 - 0.25).abs() < 0.05,
            "{:?}",
            stats.masks
        );
    }
    assert_eq!(stats.restorable, all.len() as u64);
    let masks: u64 = stats.mask_kinds.values().sum();
    assert!(
        stats.common_word_masks * 20 < masks,
        "{} of {masks} masks are common words",
        stats.common_word_masks
    );
}

#[tokio::test]
async fn resume_from_any_crash_point_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let full = dir.path().join("full.jsonl");
    let snapshots: Mutex<Vec<(Vec<u8>, u64)>> = Mutex::new(Vec::new());
    let manifest = RunManifest::path_for(&full);
    let record = |_: &Tally| {
        let m = fs::read(&manifest).unwrap();
        let len = fs::metadata(&full).unwrap().len();
        snapshots.lock().unwrap().push((m, len));
    };
    let opts = RunOptions {
        progress: &record,
        ..options(full.clone(), 100)
    };
    generate(&config(), &passages, &opts).await.unwrap();
    let expected = fs::read(&full).unwrap();
    let snapshots = snapshots.into_inner().unwrap();
    assert_eq!(snapshots.len(), 10);
    // A crash leaves the manifest of some batch and an output at least that long, possibly
    // with later records and a torn line.
    let cuts = [(0, 0), (2, 17), (3, 0), (5, 12_345), (8, 999), (9, 0)];
    for (batch, extra) in cuts {
        let (manifest_bytes, len) = &snapshots[batch];
        let cut = (*len as usize + extra).min(expected.len());
        let crashed = dir.path().join(format!("crash{batch}-{extra}.jsonl"));
        fs::write(&crashed, &expected[..cut]).unwrap();
        let mut m: RunManifest = serde_json::from_slice(manifest_bytes).unwrap();
        m.inputs = vec![passages.display().to_string()];
        m.save(&RunManifest::path_for(&crashed)).unwrap();
        let report = generate(&config(), &passages, &options(crashed.clone(), 64))
            .await
            .unwrap();
        assert_eq!(
            fs::read(&crashed).unwrap(),
            expected,
            "crash after batch {batch} + {extra} bytes"
        );
        let fresh = generate(&config(), &passages, &options(full.clone(), 100))
            .await
            .unwrap();
        assert_eq!(report.tally, fresh.tally, "stats after resume");
    }
}

#[tokio::test]
async fn changed_settings_refuse_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("out.jsonl");
    generate(&config(), &passages, &options(out.clone(), 500))
        .await
        .unwrap();
    let other = RampConfig {
        seed: 8,
        ..config()
    };
    let err = generate(&other, &passages, &options(out.clone(), 500))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("seed: was 7, now 8"), "{err}");
    let other = RampConfig {
        curriculum: LevelRule::Original,
        ..config()
    };
    let err = generate(&other, &passages, &options(out, 500))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("curriculum: was \"1:0.25,2:0.25,3:0.25,4:0.25\", now \"original\""),
        "{err}"
    );
}

/// The passages of shard `index` of 3, written by `curriculum`.
async fn shard(passages: &Path, dir: &Path, index: u32, curriculum: &LevelRule) -> PathBuf {
    let out = dir.join(format!("{curriculum}-{index}.jsonl"));
    let c = RampConfig {
        shard: Shard { index, count: 3 },
        curriculum: curriculum.clone(),
        ..config()
    };
    generate(&c, passages, &options(out.clone(), 100))
        .await
        .unwrap();
    out
}

/// With a curriculum whose levels depend on each passage alone, the shards hold exactly the
/// records of the whole run: merged in input order, they are its bytes. With the balanced mix
/// they hold the same passages, each shard balanced on its own.
#[tokio::test]
async fn shards_split_the_passages() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let order: Vec<String> = formats::read_jsonl::<Passage>(&passages)
        .unwrap()
        .map(|p| p.unwrap().id)
        .collect();
    for curriculum in [LevelRule::Original, LevelRule::default()] {
        let mut lines: Vec<(usize, String)> = Vec::new();
        for index in 0..3 {
            let out = shard(&passages, dir.path(), index, &curriculum).await;
            let text = fs::read_to_string(&out).unwrap();
            let records = samples(&out);
            if curriculum != LevelRule::Original {
                let mut counts = [0usize; 4];
                for s in &records {
                    counts[s.ext.mask_num - 1] += 1;
                }
                let share = |c: usize| c as f64 / records.len() as f64;
                assert!(
                    counts.iter().all(|&c| (share(c) - 0.25).abs() < 0.05),
                    "{counts:?}"
                );
            }
            for (line, s) in text.lines().zip(records) {
                let position = order.iter().position(|id| *id == s.id).unwrap();
                lines.push((position, line.to_string()));
            }
        }
        lines.sort();
        let merged: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
        let whole = dir.path().join(format!("whole-{curriculum}.jsonl"));
        let c = RampConfig {
            curriculum: curriculum.clone(),
            ..config()
        };
        generate(&c, &passages, &options(whole.clone(), 100))
            .await
            .unwrap();
        if curriculum == LevelRule::Original {
            assert_eq!(merged, fs::read_to_string(&whole).unwrap());
        } else {
            let ids = |text: &str| -> Vec<String> {
                text.lines()
                    .map(|l| serde_json::from_str::<RampSample>(l).unwrap().id)
                    .collect()
            };
            assert_eq!(ids(&merged), ids(&fs::read_to_string(&whole).unwrap()));
        }
    }
}

/// Answers by passage (its length mod 4): a JSON list of its names, the same list with single
/// quotes, prose, or a list of entities that are not in the passage.
fn scripted(name: &'static str) -> Scripted {
    Scripted::texts(name, |request| {
        let prompt = &request.messages[1].content;
        let paragraph = prompt.rsplit("Paragraph: ").next().unwrap();
        let paragraph = paragraph.strip_suffix("\nEntities:").unwrap();
        let names: Vec<String> = ramp::spans::names(paragraph)
            .iter()
            .map(|s| paragraph[s.start..s.end].to_string())
            .filter(|n| !n.contains('\''))
            .collect();
        let n = paragraph.len();
        let text = match n % 4 {
            0 => serde_json::to_string(&names).unwrap(),
            1 => format!("Entities: {:?}", names).replace('"', "'"),
            2 => "I think the entities are people and places.".to_string(),
            _ => r#"["Atlantis", "Ruritania"]"#.to_string(),
        };
        Ok(text)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_answers_are_validated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("llm.jsonl");
    let c = RampConfig {
        spans: "llm".parse().unwrap(),
        ..config()
    };
    let opts = RunOptions {
        model: Some(Arc::new(scripted("scripted"))),
        ..options(out.clone(), 200)
    };
    let report = generate(&c, &passages, &opts).await.unwrap();
    let run = &report.tally.run;
    assert_eq!(run["llm.answers"], 1000);
    let prose = run["skipped.llm_not_a_list"];
    assert_eq!(run["llm.valid_lists"] + prose, 1000);
    assert!((150..350).contains(&prose), "{run:?}");
    assert!(run["llm.rejected.not_verbatim"] >= 300, "{run:?}");
    assert!(run["llm.entities_accepted"] > 500, "{run:?}");
    let all = samples(&out);
    assert!(all.len() > 300, "{}", all.len());
    for s in &all {
        check_rules(s);
        assert!(s.ext.mask_kinds.iter().all(|k| k == "llm"));
        assert_eq!(s.ext.strategy, "llm");
    }
    // Another model may not go on with this output.
    let opts = RunOptions {
        model: Some(Arc::new(scripted("scripted-v2"))),
        ..options(out, 200)
    };
    let err = generate(&c, &passages, &opts).await.unwrap_err();
    assert!(
        matches!(&err, RampError::Format(FormatError::ManifestMismatch { field, .. }) if field == "llm_model"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("was \"scripted\", now \"scripted-v2\""),
        "{err}"
    );
}

/// Scores a continuation by its length: longer spans are "harder".
struct ByLength(&'static str);

impl TokenScorer for ByLength {
    fn name(&self) -> &str {
        self.0
    }

    fn continuation_logprob(
        &self,
        _context: &str,
        continuation: &str,
    ) -> Result<LogProb, ChatError> {
        if continuation.contains("Fail") {
            return Err(ChatError::Failed {
                backend: "by-length".into(),
                message: "scripted failure".into(),
            });
        }
        Ok(LogProb {
            sum: -(continuation.len() as f64),
            tokens: continuation.split_whitespace().count().max(1),
        })
    }
}

#[tokio::test]
async fn difficulty_scores_are_recorded_and_the_scorer_is_part_of_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("ppl.jsonl");
    let c = RampConfig {
        difficulty: Difficulty::Ppl,
        ..config()
    };
    let opts = RunOptions {
        scorer: Some(Arc::new(ByLength("by-length"))),
        ..options(out.clone(), 200)
    };
    generate(&c, &passages, &opts).await.unwrap();
    let all = samples(&out);
    assert!(all.len() > 850);
    for s in &all {
        check_rules(s);
        assert_eq!(s.ext.mask_difficulty.len(), s.ext.mask_num);
        let mean = s.ext.mask_difficulty.iter().sum::<f64>() / s.ext.mask_num as f64;
        assert!((s.ext.difficulty.unwrap() - mean).abs() < 1e-9);
        assert!(s.ext.strategy.ends_with("+ppl"));
    }
    let manifest = RunManifest::load(&RunManifest::path_for(&out))
        .unwrap()
        .unwrap();
    assert_eq!(manifest.config["difficulty_model"], "by-length");
    // Scores from another model would mix two difficulty scales in one file.
    let opts = RunOptions {
        scorer: Some(Arc::new(ByLength("by-length-2"))),
        ..options(out, 200)
    };
    let err = generate(&c, &passages, &opts).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "different settings (difficulty_model: was \"by-length\", now \"by-length-2\")"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn missing_models_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("out.jsonl");
    let llm = RampConfig {
        spans: "llm,date".parse().unwrap(),
        ..config()
    };
    let err = generate(&llm, &passages, &options(out.clone(), 100))
        .await
        .unwrap_err();
    assert!(matches!(err, RampError::MissingModel), "{err}");
    let ppl = RampConfig {
        difficulty: Difficulty::Ppl,
        ..config()
    };
    let err = generate(&ppl, &passages, &options(out.clone(), 100))
        .await
        .unwrap_err();
    assert!(matches!(err, RampError::MissingScorer), "{err}");
    assert!(
        !out.exists(),
        "nothing is written before the models are checked"
    );
}
