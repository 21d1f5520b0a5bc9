//! The run over real passages (the wiki-18 sample in testdata): determinism, resume from any
//! crash point, shards, and the LLM and difficulty plumbing with scripted models.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chat::{
    ChatError, ChatModel, ChatRequest, ChatResponse, FinishReason, LogProb, TokenScorer, Usage,
};
use formats::{JsonlPassages, Passage, RampSample, RunManifest, Shard};
use ramp::{Lang, LevelMix, RampConfig, RampStats, RunOptions, SpanSet, fill_masks};

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
        let (title, text) = Passage::split_contents(v["contents"].as_str().unwrap());
        let p = Passage {
            id: v["id"].as_str().unwrap().to_string(),
            title: title.to_string(),
            text: text.to_string(),
            anchors: vec![],
            original_contents: None,
        };
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
        levels: LevelMix::uniform(),
        difficulty: false,
        lang: Lang::En,
        source: "wiki".into(),
        shard: Shard::ALL,
    }
}

fn options(out: PathBuf, chunk_size: usize) -> RunOptions<'static> {
    RunOptions {
        out,
        resume: true,
        chunk_size,
        model: None,
        scorer: None,
        llm_concurrency: 4,
        progress: &|_| {},
    }
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

#[test]
fn every_sample_obeys_the_rules_and_chunking_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let report = ramp::run(
        &config(),
        &JsonlPassages(passages.clone()),
        &options(a.clone(), 1024),
    )
    .unwrap();
    ramp::run(&config(), &JsonlPassages(passages), &options(b.clone(), 37)).unwrap();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    let all = samples(&a);
    assert!(
        all.len() > 900,
        "only {} samples from 1000 passages",
        all.len()
    );
    for s in &all {
        check_rules(s);
    }
    // The default curriculum: equal shares of 1..4 masks when passages allow.
    let stats = report.stats;
    for k in 1..=4 {
        let n = stats.masks.get(&k).copied().unwrap_or(0) as f64;
        assert!(
            (n / all.len() as f64 - 0.25).abs() < 0.05,
            "{:?}",
            stats.masks
        );
    }
    assert_eq!(stats.restorable, all.len() as u64);
}

#[test]
fn resume_from_any_crash_point_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let full = dir.path().join("full.jsonl");
    let snapshots: Mutex<Vec<(Vec<u8>, u64)>> = Mutex::new(Vec::new());
    let manifest = RunManifest::path_for(&full);
    let record = |_: &RampStats| {
        let m = fs::read(&manifest).unwrap();
        let len = fs::metadata(&full).unwrap().len();
        snapshots.lock().unwrap().push((m, len));
    };
    let opts = RunOptions {
        progress: &record,
        ..options(full.clone(), 100)
    };
    ramp::run(&config(), &JsonlPassages(passages.clone()), &opts).unwrap();
    let expected = fs::read(&full).unwrap();
    let snapshots = snapshots.into_inner().unwrap();
    assert_eq!(snapshots.len(), 10);
    // A crash leaves the manifest of some chunk and an output at least that long, possibly
    // with later records and a torn line.
    let cuts = [(0, 0), (2, 17), (3, 0), (5, 12_345), (8, 999), (9, 0)];
    for (chunk, extra) in cuts {
        let (manifest_bytes, len) = &snapshots[chunk];
        let cut = (*len as usize + extra).min(expected.len());
        let crashed = dir.path().join(format!("crash{chunk}-{extra}.jsonl"));
        fs::write(&crashed, &expected[..cut]).unwrap();
        let mut m: RunManifest = serde_json::from_slice(manifest_bytes).unwrap();
        m.inputs = vec![passages.display().to_string()];
        m.save(&RunManifest::path_for(&crashed)).unwrap();
        let report = ramp::run(
            &config(),
            &JsonlPassages(passages.clone()),
            &options(crashed.clone(), 64),
        )
        .unwrap();
        assert_eq!(
            fs::read(&crashed).unwrap(),
            expected,
            "crash after chunk {chunk} + {extra} bytes"
        );
        let fresh = ramp::run(
            &config(),
            &JsonlPassages(passages.clone()),
            &options(full.clone(), 100),
        )
        .unwrap();
        assert_eq!(report.stats.samples, fresh.stats.samples);
        assert_eq!(report.stats.run, fresh.stats.run, "counters after resume");
    }
}

#[test]
fn changed_settings_refuse_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("out.jsonl");
    ramp::run(
        &config(),
        &JsonlPassages(passages.clone()),
        &options(out.clone(), 500),
    )
    .unwrap();
    let other = RampConfig {
        seed: 8,
        ..config()
    };
    let err = ramp::run(&other, &JsonlPassages(passages), &options(out, 500)).unwrap_err();
    assert!(err.to_string().contains("seed: was 7, now 8"), "{err}");
}

#[test]
fn shards_split_the_passages() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let mut ids = Vec::new();
    for index in 0..3 {
        let out = dir.path().join(format!("s{index}.jsonl"));
        let c = RampConfig {
            shard: Shard { index, count: 3 },
            ..config()
        };
        ramp::run(
            &c,
            &JsonlPassages(passages.clone()),
            &options(out.clone(), 100),
        )
        .unwrap();
        ids.extend(samples(&out).into_iter().map(|s| s.ext.passage_id));
    }
    let whole = dir.path().join("whole.jsonl");
    ramp::run(
        &config(),
        &JsonlPassages(passages),
        &options(whole.clone(), 100),
    )
    .unwrap();
    let mut expected: Vec<String> = samples(&whole)
        .into_iter()
        .map(|s| s.ext.passage_id)
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}

/// Answers by passage (its length mod 4): a JSON list of its names, the same list with single
/// quotes, prose, or a list of entities that are not in the passage.
struct Scripted;

#[async_trait]
impl ChatModel for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
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
        Ok(ChatResponse {
            text,
            usage: Usage::default(),
            finish_reason: FinishReason::Stop,
        })
    }
}

#[test]
fn llm_answers_are_validated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("llm.jsonl");
    let c = RampConfig {
        spans: "llm".parse().unwrap(),
        ..config()
    };
    let opts = RunOptions {
        model: Some(Arc::new(Scripted)),
        ..options(out.clone(), 200)
    };
    let report = ramp::run(&c, &JsonlPassages(passages), &opts).unwrap();
    let run = &report.stats.run;
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
}

/// Scores a continuation by its length: longer spans are "harder".
struct ByLength;

impl TokenScorer for ByLength {
    fn name(&self) -> &str {
        "by-length"
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

#[test]
fn difficulty_scores_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let passages = wiki18_passages(dir.path());
    let out = dir.path().join("ppl.jsonl");
    let c = RampConfig {
        difficulty: true,
        ..config()
    };
    let opts = RunOptions {
        scorer: Some(Arc::new(ByLength)),
        ..options(out.clone(), 200)
    };
    ramp::run(&c, &JsonlPassages(passages), &opts).unwrap();
    let all = samples(&out);
    assert!(all.len() > 900);
    for s in &all {
        check_rules(s);
        assert_eq!(s.ext.mask_difficulty.len(), s.ext.mask_num);
        let mean = s.ext.mask_difficulty.iter().sum::<f64>() / s.ext.mask_num as f64;
        assert!((s.ext.difficulty.unwrap() - mean).abs() < 1e-9);
        assert!(s.ext.strategy.ends_with("+ppl"));
    }
}
