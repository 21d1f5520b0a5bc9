//! The eval run: every question of every benchmark through every method, scored, written in
//! order to one predictions JSONL, resumable.
//!
//! Questions run `concurrency` at a time and are written in a fixed order (benchmark, question,
//! method) as they complete, each committed before the next, so a run killed at any point holds
//! a prefix of the work. A resumed run reads the (method, dataset, id) keys already written and
//! skips them: nothing is lost or written twice. A question whose model call or search fails
//! is written as failed, with its reason, and counted.

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use agent::{Prompts, RuntimeConfig, multi::MultiAgentConfig};
use chat::ChatModel;
use formats::{RunLog, RunManifest};
use futures_util::{StreamExt, stream};
use search::Searcher;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    EvalError,
    bench::{self, Benchmark},
    method::{self, Method},
    prediction::Prediction,
};

/// The settings that decide the predictions (recorded in the manifest; a resume must match).
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Agent-PE: the runtime driving the prompted model.
    pub runtime: RuntimeConfig,
    /// `agent`: the runtime driving a trained model (its mode, its prompt).
    pub agent_runtime: RuntimeConfig,
    pub multi: MultiAgentConfig,
    /// The multi-agent prompts and the judge's.
    pub prompts: Prompts,
    /// Documents RAG-PE retrieves.
    pub rag_topk: usize,
    /// Token limit of a direct or RAG-PE answer.
    pub answer_max_tokens: u32,
    /// Ask the LLM judge about every answer (ACC_L).
    pub judge: bool,
    pub seed: u64,
    /// The day the multi-agent system messages' "current time" counts back from.
    pub today: time::Date,
}

/// Where to read and write, with what, and how to report progress.
pub struct EvalOptions<'a> {
    pub benchmarks: Vec<Benchmark>,
    pub out: PathBuf,
    /// Go on from what `out` holds (the default); `false` starts over.
    pub resume: bool,
    pub model: Arc<dyn ChatModel>,
    /// The judge; the answering model when `None`.
    pub judge: Option<Arc<dyn ChatModel>>,
    /// Needed by every method but `direct`.
    pub searcher: Option<Arc<dyn Searcher>>,
    /// Questions in flight at once.
    pub concurrency: usize,
    /// Called after every question with the counts so far.
    pub progress: &'a (dyn Fn(&Tally) + Sync),
}

/// Counts of a run (the resumed part included).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Answers to write in all (questions × methods).
    pub total: u64,
    /// Answers written, failed ones included.
    pub written: u64,
    pub failed: u64,
    /// Answers already in the output when the run started.
    pub resumed: u64,
    /// Benchmark records with no question or no answer.
    pub bad_records: u64,
    /// Questions whose id came earlier in the same benchmark.
    pub duplicates: u64,
    pub searches: u64,
    pub model_calls: u64,
    pub tokens: u64,
    pub judge_tokens: u64,
}

impl Tally {
    fn add(&mut self, p: &Prediction) {
        self.written += 1;
        self.failed += u64::from(p.failed.is_some());
        self.searches += p.searches;
        self.model_calls += p.turns;
        self.tokens += p.prompt_tokens + p.completion_tokens;
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("total".to_string(), self.total),
            ("written".to_string(), self.written),
            ("failed".to_string(), self.failed),
            ("bad_records".to_string(), self.bad_records),
            ("duplicates".to_string(), self.duplicates),
            ("searches".to_string(), self.searches),
            ("model_calls".to_string(), self.model_calls),
            ("tokens".to_string(), self.tokens),
            ("judge_tokens".to_string(), self.judge_tokens),
        ])
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub tally: Tally,
    pub manifest: PathBuf,
    pub elapsed_secs: f64,
}

/// One answer to produce.
struct Job<'b> {
    method: Method,
    dataset: &'b str,
    question: &'b formats::QaExample,
}

/// Runs every method of `config` on every question of `options.benchmarks`.
pub async fn run(config: &EvalConfig, options: &EvalOptions<'_>) -> Result<Report, EvalError> {
    let started = Instant::now();
    if options.searcher.is_none()
        && let Some(m) = config.methods.iter().find(|m| m.searches())
    {
        return Err(EvalError::NoSearcher { method: m.as_str() });
    }
    let manifest_path = RunManifest::path_for(&options.out);
    let mut manifest = RunManifest {
        command: "eval".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: options
            .benchmarks
            .iter()
            .map(|b| format!("{}={}", b.name, b.path.display()))
            .collect(),
        config: manifest_config(config, options),
        counts: BTreeMap::new(),
        complete: false,
    };
    let mut tally = Tally::default();
    let mut done = HashSet::new();
    let mut log = if options.resume {
        if let Some(previous) = RunManifest::load(&manifest_path)? {
            manifest.check_resumable(&previous, &options.out)?;
        }
        if options.out.exists() {
            // A torn last line (a kill mid-write) is cut when the log is reopened; skip it here.
            for p in formats::read_jsonl::<Prediction>(&options.out)?.flatten() {
                if done.insert(p.key()) {
                    tally.add(&p);
                }
            }
        }
        RunLog::resume(&options.out)?
    } else {
        RunLog::create(&options.out)?
    };
    tally.resumed = tally.written;

    let mut jobs = Vec::new();
    for b in &options.benchmarks {
        tally.bad_records += b.bad_records;
        let mut seen = HashSet::new();
        for q in &b.questions {
            if !seen.insert(q.id.as_str()) {
                tally.duplicates += 1;
                continue;
            }
            for &method in &config.methods {
                tally.total += 1;
                let key = (method.as_str().to_string(), b.name.clone(), q.id.clone());
                if !done.contains(&key) {
                    jobs.push(Job {
                        method,
                        dataset: &b.name,
                        question: q,
                    });
                }
            }
        }
    }
    manifest.counts = tally.counts();
    manifest.save(&manifest_path)?;
    (options.progress)(&tally);

    let judge = options.judge.as_ref().unwrap_or(&options.model);
    let mut results = std::pin::pin!(
        stream::iter(jobs)
            .map(|job| answer(config, options, judge.as_ref(), job))
            .buffered(options.concurrency.max(1))
    );
    while let Some((prediction, judge_tokens)) = results.next().await {
        log.append(&prediction)?;
        log.commit()?;
        tally.add(&prediction);
        tally.judge_tokens += judge_tokens;
        if tally.written.is_multiple_of(16) {
            manifest.counts = tally.counts();
            manifest.save(&manifest_path)?;
        }
        (options.progress)(&tally);
    }
    manifest.counts = tally.counts();
    manifest.complete = true;
    manifest.save(&manifest_path)?;
    Ok(Report {
        tally,
        manifest: manifest_path,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// One method on one question, scored (and judged when asked); with the judge's tokens.
async fn answer(
    config: &EvalConfig,
    options: &EvalOptions<'_>,
    judge: &dyn ChatModel,
    job: Job<'_>,
) -> (Prediction, u64) {
    let started = Instant::now();
    let q = job.question;
    let seed = formats::seed_for(config.seed, &format!("{}/{}", job.dataset, q.id));
    let outcome = method::answer(
        job.method,
        config,
        options.model.as_ref(),
        options.searcher.as_deref(),
        &q.question,
        seed,
    )
    .await;
    let mut prediction = Prediction {
        method: job.method.as_str().to_string(),
        dataset: job.dataset.to_string(),
        id: q.id.clone(),
        question: q.question.clone(),
        golds: q.golden_answers.clone(),
        prediction: outcome.prediction,
        transcript: outcome.transcript,
        turns: outcome.turns,
        searches: outcome.searches,
        prompt_tokens: outcome.prompt_tokens,
        completion_tokens: outcome.completion_tokens,
        ms: started.elapsed().as_millis() as u64,
        end: outcome.end,
        failed: outcome.failed,
        scores: Default::default(),
        judge: None,
        false_premise: bench::false_premise(q),
        model: options.model.name().to_string(),
    };
    prediction.score();
    let mut judge_tokens = 0;
    if config.judge && prediction.failed.is_none() {
        judge_tokens = prediction.ask_judge(judge, &config.prompts, seed).await;
    }
    (prediction, judge_tokens)
}

fn manifest_config(config: &EvalConfig, options: &EvalOptions<'_>) -> Value {
    let runtime = |r: &RuntimeConfig| {
        json!({
            "max_turns": r.max_turns,
            "topk": r.topk,
            "max_tokens": r.max_tokens_per_turn,
            "mode": format!("{:?}", r.mode).to_lowercase(),
            "template": formats::stable_hash(&r.template),
            "temperature": r.temperature,
        })
    };
    json!({
        "methods": config.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "model": options.model.name(),
        "judge": config.judge.then(|| options.judge.as_ref().unwrap_or(&options.model).name().to_string()),
        "search": options.searcher.as_ref().map(|s| s.name()),
        "agent_pe": runtime(&config.runtime),
        "agent": runtime(&config.agent_runtime),
        "multi_agent": [config.multi.max_rounds, config.multi.merged_k, config.multi.max_tokens as usize],
        "rag_topk": config.rag_topk,
        "answer_max_tokens": config.answer_max_tokens,
        "prompts": config.prompts.fingerprint(),
        "seed": config.seed,
        "today": config.today.to_string(),
    })
}

/// Every prediction of a predictions file (a torn last line is skipped).
pub fn read_predictions(path: &std::path::Path) -> Result<Vec<Prediction>, EvalError> {
    Ok(formats::read_jsonl::<Prediction>(path)?.flatten().collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chat::{ChatError, ChatRequest, ChatResponse, FinishReason, Usage};
    use formats::{Passage, QaExample};
    use search::{SearchError, SearchHit};

    use super::*;

    /// Replies with the question's last word, fails on "down", answers Search-R1 prompts with
    /// one search then an answer.
    struct Echo {
        calls: Mutex<u64>,
    }

    #[async_trait]
    impl ChatModel for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
            *self.calls.lock().unwrap() += 1;
            let last = request.messages.last().unwrap().content.clone();
            if last.contains("down") {
                return Err(ChatError::Unavailable {
                    backend: "echo".into(),
                    message: "down".into(),
                });
            }
            let text = if request.continue_final_message {
                "<think>found</think><answer> Paris ".to_string()
            } else if last.contains("Answer the given question") {
                "<think>look</think><search> capital of France ".to_string()
            } else if request.messages[0].content.contains("given documents") {
                "Paris".to_string()
            } else {
                "London".to_string()
            };
            Ok(ChatResponse {
                text,
                usage: Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2,
                },
                finish_reason: FinishReason::Stop,
            })
        }
    }

    struct OneDoc;

    #[async_trait]
    impl Searcher for OneDoc {
        fn name(&self) -> String {
            "one".into()
        }
        async fn batch_search(
            &self,
            queries: &[String],
            _k: usize,
        ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
            Ok(queries
                .iter()
                .map(|_| {
                    vec![SearchHit {
                        passage: Passage::new("p", "Paris", "Paris is the capital of France."),
                        score: 1.0,
                    }]
                })
                .collect())
        }
    }

    fn config() -> EvalConfig {
        EvalConfig {
            methods: vec![Method::Direct, Method::RagPe, Method::AgentPe],
            runtime: RuntimeConfig::default(),
            agent_runtime: RuntimeConfig::default(),
            multi: MultiAgentConfig::default(),
            prompts: Prompts::default(),
            rag_topk: 3,
            answer_max_tokens: 32,
            judge: false,
            seed: 1,
            today: time::macros::date!(2026 - 11 - 27),
        }
    }

    fn bench(questions: &[(&str, &str)]) -> Benchmark {
        Benchmark {
            name: "HotpotQA".into(),
            path: "hotpot.jsonl".into(),
            questions: questions
                .iter()
                .map(|(id, q)| QaExample {
                    id: id.to_string(),
                    question: q.to_string(),
                    golden_answers: vec!["Paris".into()],
                    metadata: Value::Null,
                })
                .collect(),
            bad_records: 0,
        }
    }

    async fn eval(out: &std::path::Path, questions: &[(&str, &str)], resume: bool) -> Report {
        let model = Arc::new(Echo {
            calls: Mutex::new(0),
        });
        let options = EvalOptions {
            benchmarks: vec![bench(questions)],
            out: out.to_path_buf(),
            resume,
            model,
            judge: None,
            searcher: Some(Arc::new(OneDoc)),
            concurrency: 4,
            progress: &|_| {},
        };
        run(&config(), &options).await.unwrap()
    }

    #[tokio::test]
    async fn every_method_answers_every_question_in_order_and_failures_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let report = eval(
            &out,
            &[("1", "capital of France"), ("2", "down"), ("1", "dup")],
            true,
        )
        .await;
        let got = read_predictions(&out).unwrap();
        let keys: Vec<(String, String)> = got
            .iter()
            .map(|p| (p.id.clone(), p.method.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                ("1", "direct"),
                ("1", "rag-pe"),
                ("1", "agent-pe"),
                ("2", "direct"),
                ("2", "rag-pe"),
                ("2", "agent-pe"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let score = |i: usize| got[i].scores.token_recall;
        assert_eq!((score(0), score(1), score(2)), (0.0, 1.0, 1.0));
        assert_eq!((got[1].searches, got[2].searches, got[2].turns), (1, 1, 2));
        assert!(got[2].transcript.contains("<information>Doc 1"));
        assert!(
            got[3..]
                .iter()
                .all(|p| p.failed.as_deref() == Some("echo: down")),
            "{:?}",
            &got[3..]
        );
        assert_eq!(report.tally.failed, 3);
        assert_eq!(report.tally.duplicates, 1);
        assert_eq!((report.tally.total, report.tally.written), (6, 6));
    }

    #[tokio::test]
    async fn a_resumed_run_adds_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        eval(&out, &[("1", "capital of France")], true).await;
        // A torn last line, as a kill mid-write leaves it.
        let mut text = std::fs::read_to_string(&out).unwrap();
        text.push_str("{\"method\": \"dire");
        std::fs::write(&out, text).unwrap();
        let report = eval(
            &out,
            &[("1", "capital of France"), ("2", "capital of France")],
            true,
        )
        .await;
        assert_eq!((report.tally.resumed, report.tally.written), (3, 6));
        let got = read_predictions(&out).unwrap();
        let keys: HashSet<_> = got.iter().map(Prediction::key).collect();
        assert_eq!((got.len(), keys.len()), (6, 6));
        let fresh = eval(&out, &[("2", "capital of France")], false).await;
        assert_eq!(
            (fresh.tally.resumed, read_predictions(&out).unwrap().len()),
            (0, 3)
        );
    }
}
