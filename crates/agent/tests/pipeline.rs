//! The trajectories pipeline's own logic — order, resume, duplicates, shards, rejections — with
//! the deterministic rule teacher over an in-memory searcher, and a scripted model for the
//! model teachers. (The real index and the real model are exercised end to end by the
//! `masksearch trajectories` tests.) The self-evolving rounds over the same pieces at the end.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use agent::{RunOptions, Tally, TrajectoryConfig};
use async_trait::async_trait;
use chat::{ChatError, ChatModel, ChatRequest};
use formats::{Passage, Rejection, Shard, Teacher, Trajectory};
use search::{SearchError, SearchHit, Searcher, testing::Scripted};
use serde_json::json;

const FACTS: [(&str, &str, &str); 6] = [
    (
        "Canberra",
        "Canberra is the capital city of Australia, founded in 1913.",
        "1913",
    ),
    (
        "Mona Lisa",
        "The Mona Lisa is a portrait painted by Leonardo da Vinci in Florence.",
        "Leonardo da Vinci",
    ),
    (
        "Oslo",
        "Oslo is the capital of Norway and lies at the head of the Oslofjord.",
        "Oslofjord",
    ),
    (
        "Danube",
        "The Danube flows through ten countries into the Black Sea.",
        "Black Sea",
    ),
    (
        "Everest",
        "Mount Everest rises 8,849 metres above sea level on the Nepal border.",
        "8,849",
    ),
    (
        "Kyoto",
        "Kyoto was the imperial capital of Japan for more than a millennium.",
        "millennium",
    ),
];

fn corpus() -> Arc<dyn Searcher> {
    corpus_named("memory")
}

/// The facts, searched by a backend called `name`.
fn corpus_named(name: &'static str) -> Arc<dyn Searcher> {
    Arc::new(Scripted::ranked(name, passages()))
}

/// The facts as passages, one each.
fn passages() -> Vec<Passage> {
    FACTS
        .iter()
        .map(|(t, text, _)| Passage::new(format!("{t}#0"), *t, *text))
        .collect()
}

/// RAMP records of the facts (one mask each), then one whose mask is in no document, one
/// duplicate id and one broken line.
fn input(dir: &Path) -> PathBuf {
    let mut lines: Vec<String> = FACTS
        .iter()
        .map(|(title, text, span)| {
            let masked = text.replacen(span, "[mask]", 1);
            json!({"id": format!("{title}#0"), "query": format!("{masked}\n\nFill in all the [mask] and output the whole paragraph without changing its format."),
                   "answer": text, "ext": {"mask_num": 1, "masks": [span], "entities": [span], "source": "wiki", "title": title}})
            .to_string()
        })
        .collect();
    lines.push(
        json!({"id": "Nowhere#0", "query": "The river Zyx is [mask] long.\n\nFill in all the [mask] and output the whole paragraph without changing its format.",
               "answer": "The river Zyx is 12 km long.", "ext": {"mask_num": 1, "masks": ["12 km"], "entities": [], "source": "wiki", "title": "Zyx"}})
        .to_string(),
    );
    lines.insert(3, lines[1].clone());
    lines.insert(5, "{not json".to_string());
    let path = dir.join("ramp.jsonl");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn config(teacher: Teacher) -> TrajectoryConfig {
    TrajectoryConfig {
        teacher,
        runtime: Default::default(),
        multi: Default::default(),
        rule: Default::default(),
        verify: Default::default(),
        prompts: Default::default(),
        seed: 7,
        today: time::macros::date!(2026 - 11 - 27),
        exclude_source: false,
        round: 0,
        shard: Shard::ALL,
    }
}

fn no_progress(_: &Tally) {}

fn options(dir: &Path, input: PathBuf, out: &str, resume: bool) -> RunOptions<'static> {
    RunOptions {
        input,
        out: dir.join(out),
        rejected: dir.join(format!("{out}.rejected")),
        resume,
        model: None,
        judge: None,
        searcher: corpus(),
        concurrency: 3,
        progress: &no_progress,
    }
}

fn read(path: &Path) -> Vec<Trajectory> {
    if !path.exists() {
        return Vec::new();
    }
    formats::read_jsonl(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn ids(path: &Path) -> Vec<String> {
    read(path).into_iter().map(|t| t.id).collect()
}

#[tokio::test]
async fn rule_teacher_writes_grounded_records_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), input(dir.path()), "traj.jsonl", false);
    let report = agent::run(&config(Teacher::Rule), &opts).await.unwrap();
    let t = &report.tally;
    assert_eq!(
        (t.accepted, t.rejected_total(), t.duplicates, t.bad_records),
        (6, 1, 1, 1),
        "{t:?}"
    );
    assert_eq!(t.rejected[&Rejection::NotGrounded], 1);
    let accepted = read(&opts.out);
    let want: Vec<String> = FACTS.iter().map(|(t, _, _)| format!("{t}#0")).collect();
    assert_eq!(
        accepted.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        want
    );
    for t in &accepted {
        assert!(t.accepted && t.rejection.is_none());
        assert_eq!(t.verdict.masks_recovered, [true]);
        assert_eq!(t.answer.as_deref(), Some(t.task.golds[0].as_str()));
        assert!(
            metrics::check_format(&t.transcript).is_ok(),
            "{}",
            t.transcript
        );
        assert_eq!(t.chatml.ext["response_acc"], true);
        assert_eq!(
            t.chatml.messages[2].function_call.as_ref().unwrap()["name"],
            "web_search"
        );
        // Grounded: the filled span is quoted from a retrieved document.
        let span = &t.task.masks[0];
        assert!(
            t.transcript.contains(&format!("so mask 1 is \"{span}\"")),
            "{}",
            t.transcript
        );
    }
    let rejected = read(&opts.rejected);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].rejection, Some(Rejection::NotGrounded));
    assert!(
        rejected[0].detail.contains("12 km"),
        "{}",
        rejected[0].detail
    );
}

#[tokio::test]
async fn a_resumed_run_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let whole = options(dir.path(), input.clone(), "whole.jsonl", false);
    agent::run(&config(Teacher::Rule), &whole).await.unwrap();

    let part = options(dir.path(), input.clone(), "part.jsonl", true);
    agent::run(&config(Teacher::Rule), &part).await.unwrap();
    // As if killed while writing the fourth record: three complete lines and a torn one.
    let text = fs::read_to_string(&part.out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(
        &part.out,
        format!("{}\n{}", lines[..3].join("\n"), &lines[3][..40]),
    )
    .unwrap();
    fs::remove_file(&part.rejected).unwrap();
    let report = agent::run(&config(Teacher::Rule), &part).await.unwrap();
    assert_eq!(report.tally.resumed, 3);
    assert_eq!(ids(&part.out), ids(&whole.out));
    assert_eq!(ids(&part.rejected), ids(&whole.rejected));
    let strip = |t: Trajectory| Trajectory {
        ms: 0,
        steps: vec![],
        ..t
    };
    let a: Vec<Trajectory> = read(&part.out).into_iter().map(strip).collect();
    let b: Vec<Trajectory> = read(&whole.out).into_iter().map(strip).collect();
    assert_eq!(a, b);
    // A resume with other settings is refused.
    let mut seed = config(Teacher::Rule);
    seed.seed = 8;
    let mut stops = config(Teacher::Rule);
    stops.runtime.stops.push("\nUser:".into());
    let mut template = config(Teacher::Rule);
    template.runtime.template = student::Template::new("Q: {question}").unwrap();
    for (other, field) in [(seed, "seed"), (stops, "stops"), (template, "template")] {
        let err = agent::run(&other, &part).await.unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[tokio::test]
async fn shards_put_together_equal_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = input(dir.path());
    let whole = options(dir.path(), input.clone(), "whole.jsonl", false);
    agent::run(&config(Teacher::Rule), &whole).await.unwrap();
    let mut union = Vec::new();
    for index in 0..3 {
        let mut c = config(Teacher::Rule);
        c.shard = Shard { index, count: 3 };
        let o = options(
            dir.path(),
            input.clone(),
            &format!("shard{index}.jsonl"),
            false,
        );
        agent::run(&c, &o).await.unwrap();
        union.extend(ids(&o.out));
    }
    let mut whole_ids = ids(&whole.out);
    union.sort();
    whole_ids.sort();
    assert_eq!(union, whole_ids);
}

/// Answers every prompt from a script keyed by the first words of the last message.
fn scripted(
    reply: fn(&ChatRequest) -> Result<&'static str, ChatError>,
) -> Arc<chat::testing::Scripted> {
    Arc::new(chat::testing::Scripted::texts("scripted", move |r| {
        reply(r).map(String::from)
    }))
}

/// The Planner's first step towards the capital of Australia.
const PLAN: &str = "Thought: <think> I need the capital. </think>\n<search> [{\"query\": \"What is the capital of Australia?\", \"intent\": 1}] ";
/// The Rewriter's queries for it (their results overlap).
const REWRITE: &str =
    "{\"queries\": [\"capital Australia\", \"Canberra capital\", \"Australia capital city\"]}";
/// The Observer's answer.
const ANSWER: &str =
    "<think> Doc 1 says Canberra is the capital of Australia. </think> <answer> Canberra ";

/// The multi-agent teacher's reply to `r` by the role its prompt is for (the built-in prompts'
/// first words); the judge calls an answer correct when the gold is Canberra.
fn by_role(
    r: &ChatRequest,
    planner: &'static str,
    rewriter: &'static str,
    observer: &'static str,
) -> &'static str {
    let prompt = &r.messages.last().unwrap().content;
    if prompt.starts_with("You plan") {
        planner
    } else if prompt.starts_with("You turn") {
        rewriter
    } else if prompt.starts_with("You check") {
        observer
    } else if prompt.contains("Correct answer: Canberra") {
        "correct"
    } else {
        "incorrect"
    }
}

/// Both the accepted and the rejected trajectories of a run with `opts`.
fn written(opts: &RunOptions<'_>) -> Vec<Trajectory> {
    read(&opts.out)
        .into_iter()
        .chain(read(&opts.rejected))
        .collect()
}

fn qa_input(dir: &Path) -> PathBuf {
    let path = dir.join("qa.jsonl");
    let lines = [
        json!({"id": "q1", "question": "Which city is the capital of Australia", "golden_answers": ["Canberra"]}),
        json!({"idx": 2, "question": "Who painted the Mona Lisa", "answer": "Leonardo da Vinci"}),
    ];
    fs::write(&path, lines.map(|l| l.to_string()).join("\n")).unwrap();
    path
}

#[tokio::test]
async fn the_multi_agent_teacher_searches_observes_and_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        Ok(by_role(r, PLAN, REWRITE, ANSWER))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "multi.jsonl", false);
    opts.model = Some(scripted(reply));
    let report = agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    assert_eq!(
        (report.tally.accepted, report.tally.rejected_total()),
        (1, 1),
        "{:?}",
        report.tally
    );
    let t = &read(&opts.out)[0];
    assert_eq!(t.id, "q1");
    assert_eq!(t.answer.as_deref(), Some("Canberra"));
    assert_eq!(t.verdict.judge, Some(true));
    assert_eq!(t.chatml.ext["response_acc"], true);
    let kinds: Vec<_> = t.steps.iter().map(|s| s.kind).collect();
    use formats::StepKind::*;
    assert_eq!(kinds, [Planner, Rewriter, Search, Observer, Judge]);
    assert_eq!(t.steps[2].queries.len(), 3);
    // Every query finds the same passages: the merge keeps each once and stops at the student's
    // topk (3), having passed over four repeats on the way.
    assert_eq!(t.steps[2].doc_ids.len(), 3, "{:?}", t.steps[2].doc_ids);
    assert_eq!(t.steps[2].duplicates_removed, 4);
    assert_eq!(t.usage.model_calls, 4);
    assert_eq!(t.usage.prompt_tokens, 40);
    // The student's turn searches the rewritten queries, one per line.
    assert!(t.transcript.starts_with("<think> I need the capital. </think>\n<search>\ncapital Australia\nCanberra capital\nAustralia capital city\n</search>\n\n<information>Doc 1"), "{}", t.transcript);
    assert!(
        t.transcript.ends_with("<answer> Canberra</answer>"),
        "{}",
        t.transcript
    );
    let wrong = &read(&opts.rejected)[0];
    assert_eq!(
        (wrong.id.as_str(), wrong.rejection),
        ("2", Some(Rejection::Judge))
    );
    assert_eq!(wrong.chatml.ext["response_acc"], false);
    assert_eq!(wrong.chatml.ext["golden_answer"], "Leonardo da Vinci");
}

#[tokio::test]
async fn model_failures_reject_one_trajectory_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        let prompt = &r.messages[0].content;
        if prompt.contains("Mona Lisa") {
            return Err(ChatError::Unavailable {
                backend: "scripted".into(),
                message: "503 after 4 attempts".into(),
            });
        }
        Ok(match r.messages.len() {
            1 => "<think>look it up</think><search> capital Australia",
            _ => "<think>Doc 1 says Canberra.</think><answer> Canberra",
        })
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "agent.jsonl", false);
    opts.model = Some(scripted(reply));
    let mut c = config(Teacher::Agent);
    c.verify.policy = agent::AcceptPolicy::Metric;
    let report = agent::run(&c, &opts).await.unwrap();
    assert_eq!(report.tally.accepted, 1, "{:?}", report.tally);
    assert_eq!(report.tally.rejected[&Rejection::ModelError], 1);
    let failed = &read(&opts.rejected)[0];
    assert!(
        failed.detail.contains("503 after 4 attempts"),
        "{}",
        failed.detail
    );
    let ok = &read(&opts.out)[0];
    assert!(ok.transcript.starts_with("<think>look it up</think><search> capital Australia</search>\n\n<information>Doc 1(Title: \"Canberra\") Canberra is the capital city of Australia, founded in 1913.\nDoc 2"), "{}", ok.transcript);
    assert!(ok.transcript.ends_with("Doc 3(Title: \"Kyoto\") Kyoto was the imperial capital of Japan for more than a millennium.</information>\n\n<think>Doc 1 says Canberra.</think><answer> Canberra</answer>"), "{}", ok.transcript);
}

#[tokio::test]
async fn the_rule_teacher_refuses_questions() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), qa_input(dir.path()), "rule.jsonl", false);
    let err = agent::run(&config(Teacher::Rule), &opts).await.unwrap_err();
    assert!(
        matches!(err, agent::AgentError::NotRamp { record: 1, .. }),
        "{err}"
    );
}

/// The facts, but down for queries about Oslo.
fn flaky() -> Arc<dyn Searcher> {
    let all = passages();
    Arc::new(Scripted::new("flaky", move |q, k| {
        if q.starts_with("Oslo") {
            return Err(SearchError::Backend {
                backend: "flaky".into(),
                message: "connection refused".into(),
            });
        }
        Ok(search::testing::rank(&all, q, k))
    }))
}

#[tokio::test]
async fn a_search_backend_going_down_rejects_that_trajectory_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), input(dir.path()), "flaky.jsonl", false);
    opts.searcher = flaky();
    let report = agent::run(&config(Teacher::Rule), &opts).await.unwrap();
    assert_eq!(
        report.tally.rejected[&Rejection::SearchFailure],
        1,
        "{:?}",
        report.tally
    );
    assert_eq!(report.tally.accepted, 5);
    let failed = read(&opts.rejected)
        .into_iter()
        .find(|t| t.rejection == Some(Rejection::SearchFailure))
        .unwrap();
    assert_eq!(failed.id, "Oslo#0");
    assert!(
        failed.detail.contains("connection refused"),
        "{}",
        failed.detail
    );
}

#[tokio::test]
async fn excluding_the_source_passage_leaves_masks_only_other_passages_hold() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), input(dir.path()), "x.jsonl", false);
    let mut c = config(Teacher::Rule);
    c.exclude_source = true;
    let report = agent::run(&c, &opts).await.unwrap();
    // Every fact is in its own passage only: nothing is grounded elsewhere.
    assert_eq!(report.tally.accepted, 0, "{:?}", report.tally);
    assert_eq!(report.tally.rejected[&Rejection::NotGrounded], 7);
    for t in read(&opts.rejected) {
        let own = t.id.clone();
        assert!(
            t.steps.iter().all(|s| !s.doc_ids.contains(&own)),
            "{}",
            t.id
        );
    }
}

/// Searches `inner`, the slower the earlier the searched fact comes in the input, and counts
/// the searches in flight.
struct Slow {
    inner: Arc<dyn Searcher>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[async_trait]
impl Searcher for Slow {
    fn name(&self) -> String {
        "slow".into()
    }
    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let later = FACTS
            .iter()
            .position(|(title, ..)| queries.iter().any(|q| q.contains(title)))
            .map_or(0, |i| FACTS.len() - i);
        tokio::time::sleep(Duration::from_millis(20 * later as u64)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.inner.batch_search(queries, k).await
    }
}

#[tokio::test]
async fn records_finishing_out_of_order_are_written_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Arc::new(Slow {
        inner: corpus(),
        in_flight: AtomicUsize::new(0),
        most_in_flight: AtomicUsize::new(0),
    });
    let mut opts = options(dir.path(), input(dir.path()), "slow.jsonl", false);
    opts.searcher = slow.clone();
    let report = agent::run(&config(Teacher::Rule), &opts).await.unwrap();
    assert_eq!(report.tally.accepted, 6, "{:?}", report.tally);
    let want: Vec<String> = FACTS.iter().map(|(t, _, _)| format!("{t}#0")).collect();
    assert_eq!(ids(&opts.out), want);
    assert_eq!(ids(&opts.rejected), ["Nowhere#0"]);
    let most = slow.most_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=opts.concurrency).contains(&most),
        "{most} searches in flight at most"
    );
}

#[tokio::test]
async fn every_trajectory_of_a_simulated_search_backend_says_it_was_simulated() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        Ok(by_role(r, PLAN, REWRITE, ANSWER))
    }
    let runs = [
        (Teacher::Rule, input(dir.path())),
        (Teacher::MultiAgent, qa_input(dir.path())),
    ];
    for (teacher, input) in runs {
        let out = format!("{}.jsonl", teacher.as_str());
        let mut opts = options(dir.path(), input, &out, false);
        opts.searcher = corpus_named("simulated:scripted");
        opts.model = Some(scripted(reply));
        agent::run(&config(teacher), &opts).await.unwrap();
        let all = written(&opts);
        assert!(!all.is_empty());
        for t in &all {
            assert!(t.search.simulated, "{}", t.id);
            assert_eq!(t.search.backend, "simulated:scripted");
        }
    }
    let opts = options(dir.path(), input(dir.path()), "real.jsonl", false);
    agent::run(&config(Teacher::Rule), &opts).await.unwrap();
    assert!(written(&opts).iter().all(|t| !t.search.simulated));
}

#[tokio::test]
async fn the_observer_can_ask_for_another_search_round() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        let prompt = &r.messages.last().unwrap().content;
        let seen_first_round = prompt.contains("founding year");
        let observer = if seen_first_round {
            ANSWER
        } else {
            "<think> Canberra is the capital; now I need its founding year. </think> <search> When was Canberra founded? "
        };
        let rewriter = if prompt.contains("founding year") {
            "{\"queries\": [\"Canberra founded\", \"Canberra founding year\", \"Canberra 1913\"]}"
        } else {
            REWRITE
        };
        Ok(by_role(r, PLAN, rewriter, observer))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "two.jsonl", false);
    opts.model = Some(scripted(reply));
    agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    let t = &read(&opts.out)[0];
    use formats::StepKind::*;
    let kinds: Vec<_> = t.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            Planner, Rewriter, Search, Observer, Rewriter, Search, Observer, Judge
        ]
    );
    assert_eq!(t.search.calls, 2);
    assert_eq!(t.answer.as_deref(), Some("Canberra"));
    assert!(
        t.transcript.contains(
            "its founding year. </think>\n<search>\nCanberra founded\nCanberra founding year\nCanberra 1913\n</search>\n\n<information>Doc 1"
        ),
        "{}",
        t.transcript
    );
    let searches = t.chatml.messages.iter().filter(|m| {
        m.function_call
            .as_ref()
            .is_some_and(|c| c["name"] == "web_search")
    });
    assert_eq!(searches.count(), 2);
}

#[tokio::test]
async fn an_observer_that_never_answers_is_stopped_by_the_round_budget() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        // Each Observer turn asks something new (so nothing is a repeat) and never answers.
        let prompt = &r.messages.last().unwrap().content;
        let observer = if prompt.contains("(2)") {
            "<think> Still not sure. </think> <search> Which city is the seat of government of Australia? "
        } else {
            "<think> Not sure yet. </think> <search> Which city hosts the Parliament of Australia? "
        };
        let rewriter = if prompt.contains("Still") {
            "{\"queries\": [\"Australia seat of government\", \"Australian government city\", \"Australia capital\"]}"
        } else if prompt.contains("Not sure") {
            "{\"queries\": [\"Parliament of Australia city\", \"Parliament House Canberra\", \"Australian parliament\"]}"
        } else {
            REWRITE
        };
        Ok(by_role(r, PLAN, rewriter, observer))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "budget.jsonl", false);
    opts.model = Some(scripted(reply));
    let mut c = config(Teacher::MultiAgent);
    c.multi.max_rounds = 2;
    let report = agent::run(&c, &opts).await.unwrap();
    assert_eq!(report.tally.rejected[&Rejection::MaxTurns], 2);
    for t in read(&opts.rejected) {
        assert_eq!(t.rejection, Some(Rejection::MaxTurns));
        assert_eq!(t.chatml.ext["response_acc"], "Max_turn");
        assert_eq!(t.search.calls, 2);
        assert_eq!(t.answer, None);
        use formats::StepKind::*;
        let kinds: Vec<_> = t.steps.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                Planner, Rewriter, Search, Observer, Rewriter, Search, Observer
            ],
            "no judge without an answer"
        );
    }
}

#[tokio::test]
async fn a_repeated_sub_question_is_answered_by_reflecting_not_by_searching() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        let prompt = &r.messages.last().unwrap().content;
        let observer = if prompt.contains("No new search") {
            ANSWER
        } else {
            // The Planner's own sub-question again.
            "<think> Let me check again. </think> <search> [{\"query\": \"What is the capital of  australia?\", \"intent\": 1}] "
        };
        Ok(by_role(r, PLAN, REWRITE, observer))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "repeat.jsonl", false);
    opts.model = Some(scripted(reply));
    agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    let t = &read(&opts.out)[0];
    use formats::StepKind::*;
    let kinds: Vec<_> = t.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [Planner, Rewriter, Search, Observer, Observer, Judge],
        "the repeat is neither rewritten nor searched"
    );
    assert_eq!(t.steps[3].notes, [formats::Note::RepeatedSearch]);
    assert_eq!(t.search.calls, 1);
    assert!(
        !t.transcript.contains("check again"),
        "the repeat stays out of the student transcript: {}",
        t.transcript
    );
    assert_eq!(t.answer.as_deref(), Some("Canberra"));
}

#[tokio::test]
async fn repeated_queries_from_the_rewriter_are_not_searched_again() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        let prompt = &r.messages.last().unwrap().content;
        let observer = if prompt.contains("No new search") {
            ANSWER
        } else {
            "<think> Another angle. </think> <search> Which Australian city is the capital? "
        };
        // The Rewriter writes the first round's queries again, in another order.
        let rewriter = if prompt.contains("Another angle") {
            "{\"queries\": [\"Australia capital city\", \"capital Australia\", \"Canberra capital\"]}"
        } else {
            REWRITE
        };
        Ok(by_role(r, PLAN, rewriter, observer))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "requery.jsonl", false);
    opts.model = Some(scripted(reply));
    agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    let t = &read(&opts.out)[0];
    use formats::StepKind::*;
    let kinds: Vec<_> = t.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            Planner, Rewriter, Search, Observer, Rewriter, Observer, Judge
        ]
    );
    assert_eq!(t.steps[4].notes, [formats::Note::RepeatedSearch]);
    assert_eq!(t.search.calls, 1);
}

#[tokio::test]
async fn the_planner_must_search_unless_allowed_to_answer_at_once() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        let prompt = &r.messages.last().unwrap().content;
        assert!(
            !prompt.starts_with("You plan")
                || prompt.contains("Always search before you answer")
                    != prompt.contains("If you can already give the complete answer"),
            "exactly one rule for answering at once"
        );
        Ok(by_role(
            r,
            "<think> I know this. </think> <answer> Canberra ",
            REWRITE,
            ANSWER,
        ))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "plan.jsonl", false);
    opts.model = Some(scripted(reply));
    let report = agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    assert_eq!(report.tally.rejected[&Rejection::Format], 2);
    for t in read(&opts.rejected) {
        assert_eq!(t.steps[0].notes, [formats::Note::AnsweredWithoutSearch]);
        assert!(t.detail.contains("without searching"), "{}", t.detail);
    }
    let mut c = config(Teacher::MultiAgent);
    c.multi.planner_may_answer = true;
    let opts = options(dir.path(), qa_input(dir.path()), "may.jsonl", false);
    let opts = RunOptions {
        model: Some(scripted(reply)),
        ..opts
    };
    let report = agent::run(&c, &opts).await.unwrap();
    assert_eq!(report.tally.accepted, 1, "{:?}", report.tally);
    assert_eq!(read(&opts.out)[0].search.calls, 0);
}

#[tokio::test]
async fn a_plan_without_an_action_or_queries_is_a_format_rejection() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        Ok(by_role(r, "I am not sure.", "no idea", ANSWER))
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "format.jsonl", false);
    opts.model = Some(scripted(reply));
    let report = agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    assert_eq!(report.tally.rejected[&Rejection::Format], 2);
    for t in read(&opts.rejected) {
        assert!(t.detail.contains("gave anything to search"), "{}", t.detail);
        assert_eq!(t.search.calls, 0);
        assert_eq!(t.steps[1].notes, [formats::Note::RewriterFallback]);
    }
}

#[tokio::test]
async fn a_judge_that_fails_rejects_as_a_model_error() {
    let dir = tempfile::tempdir().unwrap();
    fn reply(r: &ChatRequest) -> Result<&'static str, ChatError> {
        Ok(by_role(r, PLAN, REWRITE, ANSWER))
    }
    fn down(_: &ChatRequest) -> Result<&'static str, ChatError> {
        Err(ChatError::Unavailable {
            backend: "judge".into(),
            message: "connection refused".into(),
        })
    }
    let mut opts = options(dir.path(), qa_input(dir.path()), "judge.jsonl", false);
    opts.model = Some(scripted(reply));
    opts.judge = Some(scripted(down));
    let report = agent::run(&config(Teacher::MultiAgent), &opts)
        .await
        .unwrap();
    assert_eq!(report.tally.rejected[&Rejection::ModelError], 2);
    for t in read(&opts.rejected) {
        assert!(
            t.detail.starts_with("judge: ") && t.detail.contains("connection refused"),
            "{}",
            t.detail
        );
        assert_eq!(t.answer.as_deref(), Some("Canberra"));
        assert!(t.steps.iter().all(|s| s.kind != formats::StepKind::Judge));
    }
}

/// Self-evolving rounds over the facts: the rule teacher in round 0, a scripted student (it
/// always answers, and a zero threshold accepts every answer) in later rounds.
mod evolve {
    use super::*;
    use agent::evolve::{self, Event, EvolveConfig, EvolveOptions, StudentSource};

    fn student_reply(_: &ChatRequest) -> Result<&'static str, ChatError> {
        Ok("<think> I recall it. </think>\n<answer> a guess </answer>")
    }

    fn sample_ids(path: &Path) -> Vec<String> {
        formats::read_jsonl::<serde_json::Value>(path)
            .unwrap()
            .map(|v| v.unwrap()["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn settings(rounds: u32) -> EvolveConfig {
        let mut trajectory = config(Teacher::Rule);
        trajectory.verify.policy = agent::AcceptPolicy::Metric;
        trajectory.verify.threshold = 0.0;
        EvolveConfig {
            trajectory,
            today_given: false,
            round0: Teacher::Rule,
            rounds,
            batch: 3,
            student: StudentSource::Endpoint {
                base_url: "http://student-{round}/v1".into(),
                model: "s{round}".into(),
            },
        }
    }

    /// Runs `config`; returns the report (or error) and the students it connected to.
    async fn run(
        config: &EvolveConfig,
        input: &Path,
        out: &Path,
    ) -> (
        Result<evolve::EvolveReport, agent::AgentError>,
        Vec<(String, PathBuf)>,
    ) {
        let connected = Mutex::new(Vec::new());
        let connect = |e: &evolve::Endpoint, dir: &Path| {
            connected
                .lock()
                .unwrap()
                .push((format!("{} {}", e.base_url, e.model), dir.to_path_buf()));
            Ok(scripted(student_reply) as Arc<dyn ChatModel>)
        };
        let progress = |_: Event<'_>| {};
        let options = EvolveOptions {
            input: input.to_path_buf(),
            out: out.to_path_buf(),
            overwrite: false,
            model: None,
            searcher: corpus(),
            concurrency: 2,
            student_concurrency: 2,
            connect: &connect,
            progress: &progress,
        };
        let report = evolve::run(config, &options).await;
        (report, connected.into_inner().unwrap())
    }

    #[tokio::test]
    async fn rounds_merge_their_accepted_data_and_more_rounds_can_be_added() {
        let dir = tempfile::tempdir().unwrap();
        let (input, out) = (input(dir.path()), dir.path().join("evolve"));
        let (report, connected) = run(&settings(2), &input, &out).await;
        let report = report.unwrap();
        assert_eq!(
            connected,
            [("http://student-1/v1 s1".into(), out.join("round-1"))]
        );
        let rows = &report.rows;
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].tried, rows[1].accepted), (3, 3));
        assert_eq!(rows[1].model, "scripted");
        assert_eq!(rows[1].merged, rows[0].accepted + 3);
        let merged1 = ids(&out.join("round-1/merged.jsonl"));
        assert_eq!(merged1.len() as u64, rows[1].merged);
        assert_eq!(
            ids(&out.join("round-0/merged.jsonl")),
            merged1[..rows[0].merged as usize]
        );

        // More rounds on another day: rounds 0 and 1 are kept (no student started for them),
        // round 2 takes the one sample left, the day the run started is kept.
        let mut more = settings(3);
        more.trajectory.today = time::macros::date!(2026 - 12 - 01);
        let (report, connected) = run(&more, &input, &out).await;
        let report = report.unwrap();
        assert_eq!(connected.len(), 1, "{connected:?}");
        assert_eq!(connected[0].0, "http://student-2/v1 s2");
        assert_eq!(report.rows[..2], rows[..]);
        assert_eq!(report.rows[2].tried, 1);
        assert!(
            read(&out.join("round-2/trajectories.jsonl"))
                .iter()
                .all(|t| t.round == 2)
        );
        let all: Vec<String> = (0..3)
            .flat_map(|r| sample_ids(&out.join(format!("round-{r}/samples.jsonl"))))
            .collect();
        let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!((all.len(), distinct.len()), (7, 7), "every sample once");

        // Nothing is left for a fourth round; another day given explicitly is refused.
        let (err, _) = run(&settings(4), &input, &out).await;
        let err = err.unwrap_err();
        assert!(
            matches!(err, agent::AgentError::TooFewSamples { round: 3, .. }),
            "{err}"
        );
        let mut other_day = settings(3);
        other_day.today_given = true;
        other_day.trajectory.today = time::macros::date!(2026 - 12 - 01);
        let err = run(&other_day, &input, &out)
            .await
            .0
            .unwrap_err()
            .to_string();
        assert!(err.contains("today"), "{err}");
    }

    #[tokio::test]
    async fn a_round_killed_after_its_attempts_only_merges() {
        let dir = tempfile::tempdir().unwrap();
        let (input, out) = (input(dir.path()), dir.path().join("evolve"));
        run(&settings(2), &input, &out).await.0.unwrap();
        let merged = fs::read(out.join("round-1/merged.jsonl")).unwrap();
        // As if killed after round 1's last attempt, before its merge and its row.
        fs::remove_file(out.join("round-1/merged.jsonl")).unwrap();
        fs::remove_file(out.join("round-1/round.json")).unwrap();
        let (report, connected) = run(&settings(2), &input, &out).await;
        assert!(connected.is_empty(), "the student is not started again");
        assert_eq!(fs::read(out.join("round-1/merged.jsonl")).unwrap(), merged);
        assert_eq!(report.unwrap().rows[1].model, "scripted");
    }

    #[tokio::test]
    async fn student_rounds_need_a_student() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = settings(2);
        config.student = StudentSource::None;
        let (err, _) = run(&config, &input(dir.path()), &dir.path().join("e")).await;
        assert!(matches!(
            err,
            Err(agent::AgentError::NoStudent { round: 1 })
        ));
        config.rounds = 1;
        let (report, _) = run(&config, &input(dir.path()), &dir.path().join("e")).await;
        assert_eq!(report.unwrap().rows.len(), 1);
    }
}
