//! The eval run: every question of every benchmark through every method, scored, written in
//! order to one predictions JSONL, resumable.
//!
//! Questions run `concurrency` at a time and are written in a fixed order (benchmark, question,
//! method) as they complete, each committed before the next, so a run killed at any point holds
//! a prefix of the work. A resumed run reads the (method, dataset, id) keys already written and
//! skips them: nothing is lost or written twice. A question whose model call or search fails
//! is written as failed, with its reason, and counted. A shard i/n run answers the questions
//! whose [`question_key`] hashes to shard i; `formats::Shards` puts the shards back together.

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use agent::RuntimeConfig;
use chat::ChatModel;
use formats::{Run, RunLog, RunManifest};
use futures_util::{StreamExt, stream};
use search::Searcher;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    EvalConfig, EvalError, answer,
    bench::{self, Benchmark},
    method::Method,
    prediction::Prediction,
};

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
    /// Questions left to the other shards.
    pub other_shards: u64,
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
        let mut counts = BTreeMap::from([
            ("total".to_string(), self.total),
            ("written".to_string(), self.written),
            ("failed".to_string(), self.failed),
            ("bad_records".to_string(), self.bad_records),
            ("duplicates".to_string(), self.duplicates),
            ("searches".to_string(), self.searches),
            ("model_calls".to_string(), self.model_calls),
            ("tokens".to_string(), self.tokens),
            ("judge_tokens".to_string(), self.judge_tokens),
        ]);
        // Only a sharded run has it (the shards put together have none).
        if self.other_shards > 0 {
            counts.insert("other_shards".into(), self.other_shards);
        }
        counts
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct EvalReport {
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
pub async fn run(config: &EvalConfig, options: &EvalOptions<'_>) -> Result<EvalReport, EvalError> {
    let started = Instant::now();
    if options.searcher.is_none()
        && let Some(m) = config.methods.iter().find(|m| m.searches())
    {
        return Err(EvalError::NoSearcher { method: m.as_str() });
    }
    let manifest = RunManifest::new(
        "eval",
        options
            .benchmarks
            .iter()
            .map(|b| format!("{}={}", b.name, b.path.display()))
            .collect(),
        manifest_config(config, options),
    );
    let (mut run, _) = Run::open(manifest, &options.out, options.resume)?;
    let mut tally = Tally::default();
    let mut done = HashSet::new();
    let mut log = if options.resume {
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
            if !config.shard.contains(&question_key(&b.name, &q.id)) {
                tally.other_shards += 1;
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
    run.save(tally.counts())?;
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
        run.checkpoint(tally.written, || tally.counts())?;
        (options.progress)(&tally);
    }
    let manifest = run.finish(tally.counts())?;
    Ok(EvalReport {
        tally,
        manifest,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// The id a question is sharded by: its benchmark and its id there (ids repeat across
/// benchmarks).
pub fn question_key(dataset: &str, id: &str) -> String {
    format!("{dataset}/{id}")
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
    let seed = formats::seed_for(config.seed, &question_key(job.dataset, &q.id));
    let outcome = answer::answer(
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
            "mode": r.mode.as_str(),
            "style": r.style.as_str(),
            "template": formats::stable_hash(r.template.text()),
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
        "multi_agent": {
            "max_rounds": config.multi.max_rounds,
            "topk": config.multi.topk,
            "max_tokens": config.multi.max_tokens,
            "sampling": [config.multi.temperature, config.multi.top_p],
            "planner_may_answer": config.multi.planner_may_answer,
        },
        "rag_topk": config.rag_topk,
        "answer_max_tokens": config.answer_max_tokens,
        "prompts": config.prompts.fingerprint(),
        "seed": config.seed,
        "today": config.today.to_string(),
        "shard": config.shard.to_string(),
    })
}

/// Every prediction of a predictions file (a torn last line is skipped).
pub fn read_predictions(path: &std::path::Path) -> Result<Vec<Prediction>, EvalError> {
    Ok(formats::read_jsonl::<Prediction>(path)?.flatten().collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::{path::Path, time::Duration};

    use agent::{Prompts, multi::MultiAgentConfig, runtime::Mode};
    use chat::{
        ChatRequest, ChatResponse, Role, Usage,
        testing::{self, Scripted},
    };
    use formats::{Passage, QaExample};

    use super::*;
    use crate::summary::Summary;

    /// A scripted model that answers by what it is asked, and records every request. It fails
    /// when the last message mentions "down"; judges ([`prompts`]) by whether the normalised
    /// response holds the gold; plays the multi-agent roles; says it does not know a "riddle";
    /// searches on a runtime's first turn and answers Paris once it has read the information;
    /// answers Paris from documents and London from its own knowledge.
    pub(crate) fn echo() -> Arc<Scripted> {
        Arc::new(Scripted::new("echo", |request| {
            // Every call takes a moment, so every answer has a latency to measure.
            std::thread::sleep(Duration::from_millis(1));
            let last = request.messages.last().unwrap().content.as_str();
            if last.contains("down") {
                return Err(testing::down("echo", "down"));
            }
            let text = if let Some(judged) = last.strip_prefix("JUDGE ") {
                let (response, gold) = judged.split_once(" | ").unwrap();
                let norm = metrics::normalize_answer;
                if norm(response).contains(&norm(gold)) {
                    "correct"
                } else {
                    "incorrect"
                }
            } else if last.starts_with("PLAN") {
                "<think>I need the capital</think>\n<search> [{\"query\": \"capital of France\", \"intent\": 1}] "
            } else if last.starts_with("REWRITE") {
                r#"{"queries": ["capital of France", "France capital", "French capital city"]}"#
            } else if last.starts_with("OBSERVE") {
                "<think>Doc 1 says Paris</think> <answer> Paris "
            } else if last.contains("riddle") {
                "I do not know."
            } else if request.messages.len() == 1 {
                "<think>look</think><search> capital of France "
            } else if request.continue_final_message || last.starts_with("<information>") {
                "<think>found</think><answer> Paris "
            } else if request.messages[0].content.contains("given documents") {
                "Paris"
            } else {
                "London"
            };
            Ok(ChatResponse {
                usage: Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2,
                },
                ..testing::text(text)
            })
        }))
    }

    /// Multi-agent and judge prompts [`echo`] knows by their first word.
    pub(crate) fn prompts() -> Prompts {
        Prompts {
            planner: "PLAN {question}".into(),
            rewriter: "REWRITE {thought}".into(),
            observer: "OBSERVE {observation}".into(),
            judge: "JUDGE {response} | {answer}".into(),
        }
    }

    fn config() -> EvalConfig {
        EvalConfig {
            methods: vec![Method::Direct, Method::RagPe, Method::AgentPe],
            runtime: RuntimeConfig::default(),
            agent_runtime: RuntimeConfig::default(),
            multi: MultiAgentConfig::default(),
            prompts: prompts(),
            rag_topk: 3,
            answer_max_tokens: 32,
            judge: false,
            seed: 1,
            today: time::macros::date!(2026 - 11 - 27),
            shard: formats::Shard::ALL,
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

    /// `questions` answered by `model`, searching one document about Paris, resuming `out`.
    fn options(
        out: &Path,
        questions: &[(&str, &str)],
        model: Arc<Scripted>,
    ) -> EvalOptions<'static> {
        EvalOptions {
            benchmarks: vec![bench(questions)],
            out: out.to_path_buf(),
            resume: true,
            model,
            judge: None,
            searcher: Some(Arc::new(search::testing::Scripted::fixed(vec![
                Passage::new("p", "Paris", "Paris is the capital of France."),
            ]))),
            concurrency: 4,
            progress: &|_| {},
        }
    }

    async fn eval(out: &Path, questions: &[(&str, &str)], resume: bool) -> EvalReport {
        let options = EvalOptions {
            resume,
            ..options(out, questions, echo())
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
        // Failed under every method, and no turn counted: a failed call answered nothing.
        assert!(
            got[3..]
                .iter()
                .all(|p| p.failed.as_deref() == Some("echo: down") && p.turns == 0),
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
        // Predictions with no manifest beside them: nothing says how they were made.
        std::fs::remove_file(RunManifest::path_for(&out)).unwrap();
        let options = EvalOptions {
            resume: true,
            ..options(&out, &[("2", "capital of France")], echo())
        };
        let err = run(&config(), &options).await.unwrap_err();
        assert!(
            matches!(
                err,
                EvalError::Format(formats::FormatError::NoManifest { .. })
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_trained_agent_runs_in_its_own_mode_with_its_own_prompt_and_turn_budget() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let model = echo();
        let mut config = config();
        config.methods = vec![Method::AgentPe, Method::Agent];
        config.agent_runtime = RuntimeConfig {
            mode: Mode::Turns,
            template: student::Template::new("Trained. Question: {question}\n").unwrap(),
            max_turns: 2,
            ..RuntimeConfig::default()
        };
        let questions = [("1", "capital of France"), ("2", "riddle")];
        run(&config, &options(&out, &questions, model.clone()))
            .await
            .unwrap();
        let got = read_predictions(&out).unwrap();
        let agent = &got[1];
        assert_eq!(
            (
                agent.method.as_str(),
                agent.prediction.as_str(),
                agent.end.as_str()
            ),
            ("agent", "Paris", "answered")
        );
        assert_eq!(
            (agent.searches, agent.turns, agent.scores.token_recall),
            (1, 2, 1.0)
        );
        assert_eq!(
            agent.transcript,
            "<think>look</think><search> capital of France </search>\n\n<information>Doc 1(Title: \"Paris\") Paris is the capital of France.</information>\n\n<think>found</think><answer> Paris </answer>"
        );
        // An agent that never answers is not a failure: no answer, score 0, its own budget used.
        let stuck = &got[3];
        assert_eq!(
            (
                stuck.method.as_str(),
                stuck.prediction.as_str(),
                stuck.end.as_str()
            ),
            ("agent", "", "max_turns")
        );
        assert_eq!(
            (
                stuck.failed.as_deref(),
                stuck.turns,
                stuck.scores.token_recall
            ),
            (None, 3, 0.0)
        );
        let seen = model.seen();
        let trained: Vec<&ChatRequest> = seen
            .iter()
            .filter(|r| r.messages[0].content == "Trained. Question: capital of France?\n")
            .collect();
        // Turns mode: the information comes back as a user turn, never as a continued message.
        let roles: Vec<Vec<Role>> = trained
            .iter()
            .map(|r| r.messages.iter().map(|m| m.role).collect())
            .collect();
        assert_eq!(
            roles,
            [
                vec![Role::User],
                vec![Role::User, Role::Assistant, Role::User]
            ]
        );
        assert!(trained.iter().all(|r| !r.continue_final_message));
        // Agent-PE speaks the same turns by default.
        assert!(seen.iter().all(|r| !r.continue_final_message));
    }

    #[tokio::test]
    async fn the_multi_agent_system_plans_rewrites_searches_observes_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let mut config = config();
        config.methods = vec![Method::MultiAgent];
        let questions = [("1", "capital of France"), ("2", "down")];
        run(&config, &options(&out, &questions, echo()))
            .await
            .unwrap();
        let got = read_predictions(&out).unwrap();
        let answered = &got[0];
        assert_eq!(
            (
                answered.prediction.as_str(),
                answered.end.as_str(),
                answered.failed.as_deref(),
                answered.scores.token_recall
            ),
            ("Paris", "answered", None, 1.0)
        );
        // Planner, Rewriter and Observer calls; the three rewritten queries are one search.
        assert_eq!(
            (
                answered.turns,
                answered.searches,
                answered.prompt_tokens,
                answered.completion_tokens
            ),
            (3, 1, 9, 6)
        );
        // In the student format, the rewritten queries as one search.
        assert_eq!(
            answered.transcript,
            "<think>I need the capital</think>\n<search>\ncapital of France\nFrance capital\nFrench capital city\n</search>\n\n<information>Doc 1(Title: \"Paris\") Paris is the capital of France.</information>\n\n<think>Doc 1 says Paris</think> <answer> Paris</answer>"
        );
        let failed = &got[1];
        assert_eq!(
            (
                failed.failed.as_deref(),
                failed.end.as_str(),
                failed.prediction.as_str()
            ),
            (Some("echo: down"), "model_failed", "")
        );
    }

    #[tokio::test]
    async fn the_judge_model_grades_every_answer_that_ran_and_cells_carry_its_score() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let (model, judge) = (echo(), echo());
        let mut config = config();
        config.methods = vec![Method::Direct, Method::RagPe];
        config.judge = true;
        let options = EvalOptions {
            judge: Some(judge.clone()),
            ..options(
                &out,
                &[("1", "capital of France"), ("2", "down")],
                model.clone(),
            )
        };
        let report = run(&config, &options).await.unwrap();
        let got = read_predictions(&out).unwrap();
        let verdicts: Vec<Option<bool>> = got.iter().map(|p| p.judge).collect();
        // Direct says London, RAG-PE Paris; the failed answers are not judged.
        assert_eq!(verdicts, [Some(false), Some(true), None, None]);
        assert_eq!(judge.calls(), 2);
        assert!(
            model
                .seen()
                .iter()
                .all(|r| !r.messages[0].content.starts_with("JUDGE"))
        );
        assert_eq!(report.tally.judge_tokens, 10);
        let s = Summary::of(&got);
        let acc_l = |m: &str| {
            let c = s.cell(m, "HotpotQA").unwrap();
            (c.judge, c.judged)
        };
        assert_eq!(
            (acc_l("direct"), acc_l("rag-pe")),
            ((Some(0.0), 1), (Some(100.0), 1))
        );
    }

    #[tokio::test]
    async fn cells_carry_the_mean_searches_turns_and_tokens_of_the_run_and_its_latency() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let report = eval(
            &out,
            &[("1", "capital of France"), ("2", "capital of Paris")],
            true,
        )
        .await;
        let got = read_predictions(&out).unwrap();
        let s = Summary::of(&got);
        let cost = |m: &str| {
            let c = s.cell(m, "HotpotQA").unwrap();
            assert!(c.seconds > 0.0, "{m}: {c:?}");
            (c.searches, c.turns, c.tokens)
        };
        assert_eq!(
            [cost("direct"), cost("rag-pe"), cost("agent-pe")],
            [(0.0, 1.0, 5.0), (1.0, 1.0, 5.0), (1.0, 2.0, 10.0)]
        );
        assert_eq!(
            (
                report.tally.searches,
                report.tally.model_calls,
                report.tally.tokens
            ),
            (4, 8, 40)
        );
    }

    #[tokio::test]
    async fn a_searching_method_without_a_search_backend_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.jsonl");
        let mut config = config();
        config.methods = vec![Method::Direct, Method::MultiAgent];
        let options = EvalOptions {
            searcher: None,
            ..options(&out, &[("1", "capital of France")], echo())
        };
        let refused = run(&config, &options).await;
        assert!(
            matches!(
                refused,
                Err(EvalError::NoSearcher {
                    method: "multi-agent"
                })
            ),
            "{refused:?}"
        );
        assert!(!out.exists());
        config.methods = vec![Method::Direct];
        let report = run(&config, &options).await.unwrap();
        assert_eq!((report.tally.written, report.tally.searches), (1, 0));
    }
}
