//! The live agent page: a question (typed, or a RAMP sample picked by file and line), a model
//! and a search backend, and the agent's turns, searches and answer streamed to the page as
//! server-sent events while it works, ending with the finished trajectory record (a RAMP
//! sample's record carries its masks and is scored against the original passage).
//!
//! The rollout runs in a spawned task owned by the event stream: when the page stops listening
//! (its stop button, a closed tab) the stream is dropped, the task is aborted at its next await
//! — an in-flight model call is cancelled — and no further model call is made.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use agent::{Attempt, End, RuntimeConfig, chatml, runtime::rollout_observed, verify};
use askama::Template;
use axum::{
    Json, Router,
    extract::{Query, State},
    response::{
        Html,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use chat::ChatModel;
use formats::{RampSample, Step, StepKind, Task, TaskKind, Teacher, Trajectory, Verdict};
use futures_util::{Stream, stream};
use search::Searcher;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{FileRef, Shared, error::PageError, files, form::empty_is_none, render};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/agent", get(page))
        .route("/agent/stream", get(live))
        .route("/agent/sample", get(sample))
        .route("/agent/running", get(running))
}

/// How many live runs are under way: each run's task holds one [`RunningGuard`], dropped when it
/// ends or is aborted, so a run the page stopped that went on would show here.
#[derive(Debug, Default)]
pub(crate) struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(&self) -> RunningGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        RunningGuard(Arc::clone(&self.0))
    }
}

struct RunningGuard(Arc<AtomicUsize>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `GET /agent/running`: `{"running": N}`, the live runs under way.
async fn running(State(state): State<Shared>) -> Json<Value> {
    Json(json!({ "running": state.running.0.load(Ordering::SeqCst) }))
}

/// The longest question accepted, in bytes (a RAMP passage with its instruction fits).
const MAX_QUESTION: usize = 8_000;
/// The most searches a page may ask for.
const MAX_TURNS: usize = 10;
/// The most documents per search a page may ask for.
const MAX_TOPK: usize = 20;

#[derive(Template)]
#[template(path = "agent.html")]
struct Page {
    models: Vec<String>,
    searchers: Vec<String>,
    ramp: Vec<FileRef>,
    turns: usize,
    topk: usize,
    max_turns: usize,
    max_topk: usize,
    max_question: usize,
}

async fn page(State(state): State<Shared>) -> Result<Html<String>, PageError> {
    let live = &state.live;
    render(&Page {
        models: live.models.iter().map(|(l, _)| l.clone()).collect(),
        searchers: live.searchers.iter().map(|(l, _)| l.clone()).collect(),
        ramp: FileRef::list(&state.ramp),
        turns: live.runtime.max_turns.min(MAX_TURNS),
        topk: live.runtime.topk.clamp(1, MAX_TOPK),
        max_turns: MAX_TURNS,
        max_topk: MAX_TOPK,
        max_question: MAX_QUESTION,
    })
}

/// `GET /agent/sample?file=i&line=n`: the RAMP sample on line `n` (from 0) of the `i`-th file.
#[derive(Deserialize)]
struct SampleAt {
    file: usize,
    line: usize,
}

async fn sample(
    State(state): State<Shared>,
    Query(at): Query<SampleAt>,
) -> Result<Json<Value>, PageError> {
    let sample = ramp_sample(&state, at.file, at.line)?;
    Ok(Json(
        json!({ "id": sample.id, "title": sample.ext.title, "query": sample.query }),
    ))
}

/// The RAMP sample on line `line` of the `n`-th file; 404 past the files or the lines.
fn ramp_sample(state: &crate::State, n: usize, line: usize) -> Result<RampSample, PageError> {
    files::record(&state.ramp, n, line, "a RAMP sample")
}

/// `GET /agent/stream`: what to run; models and backends by their position on the page.
#[derive(Deserialize)]
struct Ask {
    question: String,
    #[serde(default)]
    model: usize,
    #[serde(default)]
    search: usize,
    #[serde(default, deserialize_with = "empty_is_none")]
    turns: Option<usize>,
    #[serde(default, deserialize_with = "empty_is_none")]
    topk: Option<usize>,
    /// `few-shot` for [`student::Template::few_shot`] (small models); anything else keeps the
    /// configured template (the student instruction by default).
    #[serde(default)]
    prompt: String,
    /// The RAMP sample the question is, as `(file, line)`: its record then carries the masks.
    #[serde(default, deserialize_with = "empty_is_none")]
    sample_file: Option<usize>,
    #[serde(default, deserialize_with = "empty_is_none")]
    sample_line: Option<usize>,
}

/// One checked request, ready to run.
struct Run {
    /// The record's id.
    id: String,
    task: Task,
    model: Arc<dyn ChatModel>,
    searcher: Arc<dyn Searcher>,
    config: RuntimeConfig,
}

impl Run {
    fn new(state: &crate::State, ask: Ask) -> Result<Run, PageError> {
        let live = &state.live;
        let question = ask.question.trim();
        if question.is_empty() {
            return Err(PageError::BadRequest("the question is empty".into()));
        }
        if question.len() > MAX_QUESTION {
            return Err(PageError::BadRequest(format!(
                "the question has {} bytes; at most {MAX_QUESTION} are accepted",
                question.len()
            )));
        }
        let pick = |what: &str, n: usize, len: usize| {
            PageError::BadRequest(format!("no {what} {n}: the UI offers {len}"))
        };
        let (_, model) = live
            .models
            .get(ask.model)
            .ok_or_else(|| pick("model", ask.model, live.models.len()))?;
        let (_, searcher) = live
            .searchers
            .get(ask.search)
            .ok_or_else(|| pick("search backend", ask.search, live.searchers.len()))?;
        let config = RuntimeConfig {
            max_turns: ask.turns.unwrap_or(live.runtime.max_turns).min(MAX_TURNS),
            topk: ask.topk.unwrap_or(live.runtime.topk).clamp(1, MAX_TOPK),
            template: match ask.prompt.as_str() {
                "few-shot" => student::Template::few_shot(),
                _ => live.runtime.template.clone(),
            },
            ..live.runtime.clone()
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut id = format!("live-{}", now.as_millis());
        let mut task = Task {
            kind: TaskKind::Qa,
            query: question.to_string(),
            golds: Vec::new(),
            masks: Vec::new(),
        };
        if let (Some(n), Some(line)) = (ask.sample_file, ask.sample_line) {
            let sample = ramp_sample(state, n, line)?;
            if sample.query.trim() != question {
                return Err(PageError::BadRequest(format!(
                    "the question is not the query of RAMP sample {n}:{line}"
                )));
            }
            if !sample.id.is_empty() {
                id = format!("{id}-{}", sample.id);
            }
            task = Task {
                kind: TaskKind::Ramp,
                query: sample.query,
                golds: vec![sample.answer],
                masks: sample.ext.masks,
            };
        }
        Ok(Run {
            id,
            task,
            model: model.clone(),
            searcher: searcher.clone(),
            config,
        })
    }

    /// Runs the agent, sending a `step` event per step, an `error` event when a model call or a
    /// search failed, and a `done` event with the trajectory record.
    async fn go(self, events: mpsc::UnboundedSender<Event>) {
        let started = Instant::now();
        // A closed channel means the page left; the task is being aborted.
        let on_step = |step: &Step| {
            let _ = events.send(event("step", &LiveStep::of(step)));
        };
        let attempt = rollout_observed(
            self.model.as_ref(),
            self.searcher.as_ref(),
            agent::Ask::question(&self.task.query),
            &self.config,
            None,
            &on_step,
        )
        .await;
        if let End::ModelFailed(why) | End::SearchFailed(why) = &attempt.end {
            let _ = events.send(event("error", why));
        }
        let record = record(
            attempt,
            self.id,
            self.task,
            self.model.name(),
            started.elapsed().as_millis() as u64,
        );
        let _ = events.send(event("done", &record));
    }
}

/// Aborts the rollout when the event stream that owns it is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn live(
    State(state): State<Shared>,
    Query(ask): Query<Ask>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let run = Run::new(&state, ask)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let counted = state.running.start();
    let guard = AbortOnDrop(tokio::spawn(async move {
        let _counted = counted;
        run.go(tx).await
    }));
    let events = stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let event = rx.recv().await?;
        Some((Ok(event), (rx, guard)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// An event whose data is `data` as JSON (one line, whatever the text holds).
fn event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()))
}

/// One step as the page shows it.
#[derive(Serialize)]
struct LiveStep<'a> {
    /// `model`, `search`, or `answer` (the model turn that answered).
    kind: &'static str,
    /// A model turn's text split by its tags.
    parts: Vec<Part<'a>>,
    /// A search's documents.
    docs: Vec<LiveDoc<'a>>,
    step: &'a Step,
}

#[derive(Debug, PartialEq, Serialize)]
struct Part<'a> {
    /// `think`, `search`, `answer`, or `text` outside any tag.
    tag: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct LiveDoc<'a> {
    n: usize,
    id: &'a str,
    title: String,
    text: String,
}

impl<'a> LiveStep<'a> {
    fn of(step: &'a Step) -> Self {
        if step.kind == StepKind::Search {
            let docs = student::observation::shown_docs(&step.text)
                .into_iter()
                .map(|d| LiveDoc {
                    id: step.doc_ids.get(d.n - 1).map_or("", String::as_str),
                    n: d.n,
                    title: d.title,
                    text: d.text,
                })
                .collect();
            return LiveStep {
                kind: "search",
                parts: Vec::new(),
                docs,
                step,
            };
        }
        // The runtime cuts a turn after its first action: a closed answer is the action.
        let kind = if step.text.contains("</answer>") {
            "answer"
        } else {
            "model"
        };
        LiveStep {
            kind,
            parts: parts(&step.text),
            docs: Vec::new(),
            step,
        }
    }
}

/// `text` cut into its elements and the text between them (`student::tags::parts`), each
/// named by its tag, `text` outside any.
fn parts(text: &str) -> Vec<Part<'_>> {
    student::tags::parts(text)
        .into_iter()
        .map(|p| Part {
            tag: p.tag.map_or("text", student::tags::Tag::name),
            text: p.text,
        })
        .collect()
}

/// The finished attempt as a trajectory record of the agent teacher, in the shape
/// `masksearch trajectories --teacher agent` writes. A live run is not verified (no judge, no
/// accept policy): never accepted, rejected with a reason only when the attempt failed; the
/// answer to a RAMP sample is scored against it.
fn record(attempt: Attempt, id: String, task: Task, model: &str, ms: u64) -> Trajectory {
    let mut verdict = Verdict::default();
    let (answer, rejection, detail) = match attempt.end.answer() {
        Ok(answer) => {
            if !task.golds.is_empty() {
                verify::score(&task, answer, &mut verdict);
            }
            let why = "not verified: a live run has no judge";
            (Some(answer.to_string()), None, why.to_string())
        }
        Err((rejection, detail)) => (None, Some(rejection), detail),
    };
    let today = time::OffsetDateTime::now_utc().date();
    let chatml = chatml::record(
        &chatml::system_message(today, 0),
        &task.query,
        &attempt.rounds,
        attempt.final_text.as_deref(),
        &Value::Null,
        Value::Null,
    );
    Trajectory {
        id,
        teacher: Teacher::Agent,
        round: 0,
        model: model.to_string(),
        task,
        accepted: false,
        rejection,
        detail,
        answer,
        transcript: attempt.transcript,
        chatml,
        steps: attempt.steps,
        search: attempt.search,
        verdict,
        usage: attempt.usage,
        ms,
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Mutex, time::Duration};

    use async_trait::async_trait;
    use axum::{body::Body, http::Request};
    use chat::{
        ChatError, ChatRequest, ChatResponse,
        testing::{self, Scripted},
    };
    use formats::Passage;
    use futures_util::StreamExt;
    use tokio::sync::{Notify, oneshot};
    use tower::ServiceExt;

    use super::*;
    use crate::{LiveConfig, UiConfig, router, test_support::get};

    /// The scripted generations in order, then a model that is down with a message markup
    /// would swallow (the events carry it as is; the page escapes it).
    fn scripted(replies: &[&'static str]) -> Arc<Scripted> {
        let left = Mutex::new(replies.to_vec());
        Arc::new(Scripted::new("scripted", move |_| {
            let mut left = left.lock().unwrap();
            if left.is_empty() {
                return Err(testing::down("scripted", "the script <ran> out"));
            }
            Ok(testing::text(left.remove(0)))
        }))
    }

    /// The scripted generations in order; past them it blocks until cancelled, and then says
    /// so on `cancelled`.
    struct Hanging {
        script: Scripted,
        entered: Notify,
        cancelled: Mutex<Option<oneshot::Sender<()>>>,
    }

    /// Sends on its channel when dropped.
    struct Signal(Option<oneshot::Sender<()>>);

    impl Drop for Signal {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }

    #[async_trait]
    impl ChatModel for Hanging {
        fn name(&self) -> &str {
            "hanging"
        }
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
            if let Ok(reply) = self.script.chat(request).await {
                return Ok(reply);
            }
            let _signal = Signal(self.cancelled.lock().unwrap().take());
            self.entered.notify_one();
            std::future::pending().await
        }
    }

    /// Two passages, both returned for every query.
    fn memory() -> Arc<search::testing::Scripted> {
        Arc::new(search::testing::Scripted::fixed(vec![
            Passage::new("p1", "Mona Lisa", "A portrait by Leonardo da Vinci."),
            Passage::new("p2", "Louvre", "A museum in <Paris>."),
        ]))
    }

    fn app(model: Arc<dyn ChatModel>, ramp: Vec<std::path::PathBuf>) -> Router {
        router(UiConfig {
            ramp,
            live: LiveConfig {
                models: vec![("local <b>model</b>".into(), model)],
                searchers: vec![("memory".into(), memory())],
                runtime: RuntimeConfig::default(),
            },
            ..UiConfig::default()
        })
        .unwrap()
    }

    /// The `(event, data)` pairs of an SSE body.
    fn events(body: &str) -> Vec<(String, Value)> {
        body.split("\n\n")
            .filter_map(|block| {
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_string)
                };
                let data = serde_json::from_str(&field("data: ")?).unwrap();
                Some((field("event: ")?, data))
            })
            .collect()
    }

    const SEARCH: &str = "<think>who painted it?</think>\n<search> Mona Lisa ";
    const ANSWER: &str = "<think>found it</think>\n<answer> Leonardo ";

    #[tokio::test]
    async fn streams_each_step_in_order_then_the_record() {
        let app = app(scripted(&[SEARCH, ANSWER]), Vec::new());
        let (status, body) = get(
            &app,
            "/agent/stream?question=who+painted+the+Mona+Lisa&model=0&search=0&turns=2&topk=2",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let events = events(&body);
        let kinds: Vec<String> = events
            .iter()
            .map(|(name, data)| match name.as_str() {
                "step" => data["kind"].as_str().unwrap().to_string(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(kinds, ["model", "search", "answer", "done"]);
        let model = &events[0].1;
        assert_eq!(
            model["parts"],
            json!([{"tag": "think", "text": "who painted it?"}, {"tag": "search", "text": "Mona Lisa"}])
        );
        let search = &events[1].1;
        assert_eq!(search["step"]["queries"], json!(["Mona Lisa"]));
        assert_eq!(search["docs"][1]["title"], "Louvre");
        assert_eq!(search["docs"][1]["text"], "A museum in <Paris>.");
        assert_eq!(search["docs"][1]["id"], "p2");
        let record: Trajectory = serde_json::from_value(events[3].1.clone()).unwrap();
        assert_eq!(record.answer.as_deref(), Some("Leonardo"));
        assert_eq!(record.teacher, Teacher::Agent);
        assert_eq!(record.task.query, "who painted the Mona Lisa");
        assert_eq!(record.steps.len(), 3);
        assert!(record.transcript.ends_with("<answer> Leonardo </answer>"));
        assert_eq!(
            record.chatml.messages.last().unwrap().content,
            ANSWER.to_string() + "</answer>"
        );
    }

    #[tokio::test]
    async fn a_failed_model_call_is_an_error_event_before_the_record() {
        let app = app(scripted(&[]), Vec::new());
        let (status, body) = get(&app, "/agent/stream?question=q").await;
        assert_eq!(status, 200);
        let events = events(&body);
        assert_eq!(events.len(), 2, "{body}");
        assert_eq!(events[0].0, "error");
        assert!(
            events[0]
                .1
                .as_str()
                .unwrap()
                .contains("the script <ran> out")
        );
        assert_eq!(events[1].1["rejection"], "model_error");
    }

    #[tokio::test]
    async fn refuses_unknown_models_and_backends_and_long_questions() {
        let app = app(scripted(&[]), Vec::new());
        for uri in [
            "/agent/stream?question=q&model=1".to_string(),
            "/agent/stream?question=q&search=1".to_string(),
            "/agent/stream?question=+".to_string(),
            format!("/agent/stream?question={}", "a".repeat(MAX_QUESTION + 1)),
        ] {
            let (status, body) = get(&app, &uri).await;
            assert_eq!(status, 400, "{uri}: {body}");
        }
        let (status, _) = get(
            &app,
            &format!("/agent/stream?question={}", "a".repeat(MAX_QUESTION)),
        )
        .await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn bounds_turns_and_topk_and_picks_the_prompt() {
        let state = crate::State {
            searcher: None,
            ramp: Vec::new(),
            trajectories: Vec::new(),
            eval: Vec::new(),
            live: LiveConfig {
                models: vec![("m".into(), scripted(&[]))],
                searchers: vec![("s".into(), memory())],
                runtime: RuntimeConfig::default(),
            },
            running: Running::default(),
        };
        let ask = |turns, topk| Ask {
            question: "q".into(),
            model: 0,
            search: 0,
            turns,
            topk,
            prompt: String::new(),
            sample_file: None,
            sample_line: None,
        };
        let run = Run::new(&state, ask(Some(1000), Some(0))).unwrap();
        assert_eq!((run.config.max_turns, run.config.topk), (MAX_TURNS, 1));
        let run = Run::new(&state, ask(None, Some(1000))).unwrap();
        let default = RuntimeConfig::default();
        assert_eq!(
            (run.config.max_turns, run.config.topk),
            (default.max_turns, MAX_TOPK)
        );
        assert_eq!(run.config.template, default.template);
        let few = Run::new(
            &state,
            Ask {
                prompt: "few-shot".into(),
                ..ask(None, None)
            },
        )
        .unwrap();
        assert_eq!(few.config.template, student::Template::few_shot());
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_agent() {
        let (cancelled_tx, cancelled) = oneshot::channel();
        let model = Arc::new(Hanging {
            script: Scripted::queue("scripted", [testing::text(SEARCH)]),
            entered: Notify::new(),
            cancelled: Mutex::new(Some(cancelled_tx)),
        });
        let app = app(model.clone(), Vec::new());
        let running = || async { get(&app, "/agent/running").await.1 };
        assert_eq!(running().await, r#"{"running":0}"#);
        let response = app
            .clone()
            .oneshot(
                Request::get("/agent/stream?question=q")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let mut body = response.into_body().into_data_stream();
        let mut seen = String::new();
        while !seen.contains("\"kind\":\"search\"") {
            let chunk = body.next().await.expect("the stream ended early").unwrap();
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        // The second model call is in progress when the page goes away.
        model.entered.notified().await;
        assert_eq!(running().await, r#"{"running":1}"#);
        drop(body);
        tokio::time::timeout(Duration::from_secs(10), cancelled)
            .await
            .expect("the blocked model call was not cancelled")
            .unwrap();
        assert_eq!(model.script.calls(), 2);
        // The run's task is gone, not only its model call.
        tokio::time::timeout(Duration::from_secs(10), async {
            while running().await != r#"{"running":0}"# {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the run is still counted");
    }

    /// A RAMP file of two samples, `A is [mask].` and `B is [mask].`, the mask being `x`.
    fn ramp_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("ramp.jsonl");
        let line = |title: &str| {
            json!({"id": title, "query": format!("{title} is [mask].\n\nFill in."), "answer": format!("{title} is x."),
                   "ext": {"mask_num": 1, "masks": ["x"], "entities": ["x"], "source": "wiki", "title": title}})
            .to_string()
        };
        std::fs::write(&path, format!("{}\n{}\n", line("A"), line("B"))).unwrap();
        path
    }

    #[tokio::test]
    async fn a_ramp_samples_record_carries_its_masks_and_scores() {
        let dir = tempfile::tempdir().unwrap();
        let model = scripted(&["<think>t</think><answer> B is x. "]);
        let app = app(model, vec![ramp_file(&dir)]);
        let question = "question=B+is+%5Bmask%5D.%0A%0AFill+in.";
        let (status, body) = get(
            &app,
            &format!("/agent/stream?{question}&sample_file=0&sample_line=1"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (name, done) = events(&body).pop().unwrap();
        assert_eq!(name, "done");
        let record: Trajectory = serde_json::from_value(done).unwrap();
        assert_eq!(record.task.kind, TaskKind::Ramp);
        assert_eq!(record.task.masks, ["x"]);
        assert_eq!(record.verdict.masks_recovered, [true]);
        assert!(record.id.ends_with("-B"), "{}", record.id);
        let (status, _) = get(
            &app,
            &format!("/agent/stream?{question}&sample_file=0&sample_line=0"),
        )
        .await;
        assert_eq!(status, 400, "the question is not sample 0's query");
        let (status, _) = get(
            &app,
            &format!("/agent/stream?{question}&sample_file=0&sample_line=2"),
        )
        .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn the_page_offers_the_models_backends_and_samples() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(scripted(&[]), vec![ramp_file(&dir)]);
        let (status, page) = get(&app, "/agent").await;
        assert_eq!(status, 200);
        for id in [
            "id=\"question\"",
            "id=\"ramp-file\"",
            "id=\"ramp-line\"",
            "id=\"model\"",
            "id=\"search\"",
            "id=\"turns\"",
            "id=\"topk\"",
            "id=\"start\"",
            "id=\"stop\"",
            "id=\"save\"",
            "id=\"status\"",
            "id=\"live-log\"",
        ] {
            assert!(page.contains(id), "{id} missing");
        }
        assert!(
            page.contains("local &#60;b&#62;model&#60;/b&#62;"),
            "{page}"
        );
        assert!(!page.contains("<b>model"));

        let (status, body) = get(&app, "/agent/sample?file=0&line=1").await;
        assert_eq!(status, 200);
        let sample: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(sample["query"], "B is [mask].\n\nFill in.");
        for uri in ["/agent/sample?file=0&line=2", "/agent/sample?file=1&line=0"] {
            assert_eq!(get(&app, uri).await.0, 404, "{uri}");
        }
    }

    #[test]
    fn splits_a_turn_by_its_tags() {
        assert_eq!(
            parts("hm <think>a</think> then <search>q</search>"),
            [
                Part {
                    tag: "text",
                    text: "hm"
                },
                Part {
                    tag: "think",
                    text: "a"
                },
                Part {
                    tag: "text",
                    text: "then"
                },
                Part {
                    tag: "search",
                    text: "q"
                },
            ]
        );
        assert_eq!(
            parts("<answer> open"),
            [Part {
                tag: "answer",
                text: "open"
            }]
        );
        assert_eq!(
            parts("plain"),
            [Part {
                tag: "text",
                text: "plain"
            }]
        );
    }
}
