//! The trajectories pipeline's own cost: trajectories/s and CPU time per trajectory of the
//! multi-agent teacher at 1, 64 and 256 trajectories in flight, then that CPU time as a share of
//! the time the real local model needs for the same calls.
//!
//! `cargo bench -p masksearch --bench trajectories` (after `make setup`). The model is an
//! instant scripted endpoint: an axum server speaking OpenAI `/v1/chat/completions` on its own
//! thread of this process, answering at once in the formats the teacher expects (Planner
//! `<think>…</think> <search> [{"query": …}] </search>`, cut at the stop sequence as a real
//! server cuts it; Rewriter `{"queries": [three keyword queries]}`; Observer an answer after
//! one or two rounds; judge `correct`). It is reached through the real `llm::OpenAiClient`, so
//! HTTP, JSON, the client, the BM25 index over the demo corpus, verification and the fsynced
//! output writes are all measured. Inputs: the 500 HotpotQA questions in testdata/ and RAMP
//! samples made from the demo corpus by `ramp::run`, cycled with fresh ids
//! (`TRAJ_BENCH_RECORDS` records per run, default 1024).
//!
//! CPU time is read from /proc (user + system, clock ticks of 10 ms): the whole process, and
//! per thread, so the scripted server's own thread is shown apart from the pipeline's threads
//! (the thread driving `agent::run`, the tokio runtime's threads doing HTTP I/O, the rayon pool
//! doing BM25 searches). Afterwards a sample of the requests the teacher really sent is replayed
//! against the local model (SmolLM2, in process, `max_tokens` capped at 128) to time one call of
//! each kind. Prints tables; asserts nothing about speed.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};

use agent::{Prompts, RunOptions, Tally, TrajectoryConfig};
use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use chat::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, Usage,
    openai::{CompletionRequest, CompletionResponse},
};
use formats::{Passage, Shard, Teacher, Trajectory};
use serde_json::{Value, json};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The name every thread of the scripted server carries (its CPU is counted apart).
const SERVER_THREAD: &str = "scripted-llm";
/// The name of the pipeline runtime's threads (workers and blocking pool).
const RUNTIME_THREAD: &str = "pipeline-rt";
/// Requests of each kind kept for replaying against the local model.
const KEPT_PER_KIND: usize = 4;

// ---------------------------------------------------------------- the scripted endpoint

/// Which agent a request is for, told by the prompt it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Planner,
    Rewriter,
    Observer,
    Judge,
}

impl Kind {
    fn of(request: &ChatRequest, prompts: &Prompts) -> Kind {
        let prompt = user_prompt(request);
        let opens = |template: &str| prompt.starts_with(template.get(..40).unwrap_or(template));
        if opens(&prompts.judge) {
            Kind::Judge
        } else if opens(&prompts.rewriter) {
            Kind::Rewriter
        } else if opens(&prompts.observer) {
            Kind::Observer
        } else {
            Kind::Planner
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Planner => "planner",
            Kind::Rewriter => "rewriter",
            Kind::Observer => "observer",
            Kind::Judge => "judge",
        }
    }
}

struct Scripted {
    prompts: Prompts,
    /// The first requests of each kind, as the teacher sent them.
    kept: Mutex<BTreeMap<Kind, Vec<ChatRequest>>>,
}

fn user_prompt(request: &ChatRequest) -> &str {
    request.messages.last().map_or("", |m| m.content.as_str())
}

/// The text after the last `marker` up to the end of its line.
fn line_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let rest = text
        .rfind(marker)
        .map_or("", |at| &text[at + marker.len()..]);
    rest.lines().next().unwrap_or("").trim()
}

/// Up to `n` words of `text` worth searching for (no masks, no short words, no punctuation).
fn keywords(text: &str, n: usize) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| *w != agent::MASK)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() > 3)
        .take(n)
        .map(str::to_string)
        .collect()
}

fn search_reply(thought: &str, subquery: &str) -> String {
    let planned = json!([{ "query": subquery, "intent": 1 }]);
    format!("<think> {thought} </think>\n<search> {planned} </search>")
}

impl Scripted {
    fn answer(&self, request: &ChatRequest) -> ChatResponse {
        let kind = Kind::of(request, &self.prompts);
        if let Ok(mut kept) = self.kept.lock() {
            let list = kept.entry(kind).or_default();
            if list.len() < KEPT_PER_KIND {
                list.push(request.clone());
            }
        }
        let prompt = user_prompt(request);
        let full = match kind {
            Kind::Planner => {
                let question = line_after(prompt, "\nQuestion: ");
                search_reply(
                    "This needs one fact I must look up first.",
                    &keywords(question, 12).join(" "),
                )
            }
            Kind::Rewriter => {
                let planned = line_after(prompt, "\"query\": \"");
                let words = keywords(planned, 12);
                let queries = [
                    words.join(" "),
                    words.iter().take(4).cloned().collect::<Vec<_>>().join(" "),
                    words
                        .iter()
                        .rev()
                        .take(4)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                ];
                json!({ "queries": queries }).to_string()
            }
            Kind::Observer => observe(prompt),
            Kind::Judge => "correct".to_string(),
        };
        // As a real server: the text ends before the first stop sequence.
        let cut = request
            .stop
            .iter()
            .filter_map(|s| full.find(s.as_str()))
            .min()
            .unwrap_or(full.len());
        let text = full[..cut].to_string();
        let prompt_chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
        ChatResponse {
            usage: Usage {
                prompt_tokens: (prompt_chars / 4) as u64,
                completion_tokens: (text.len() / 4) as u64,
            },
            text,
            finish_reason: FinishReason::Stop,
            ..ChatResponse::default()
        }
    }
}

/// The Observer: answers with the first document's title after the first round for about half
/// of the questions, after the second round for the rest.
fn observe(prompt: &str) -> String {
    let task = prompt
        .rfind("Now the task.")
        .map_or(prompt, |at| &prompt[at..]);
    let question = line_after(task, "\nQuestion: ");
    let rounds = task.matches("\nThought: ").count();
    let doc = line_after(task, "Doc 1(Title: ");
    let title = doc
        .split_once(") ")
        .map_or(doc, |(t, _)| t)
        .trim_matches('"');
    if rounds < 2 && formats::stable_hash(question) % 2 == 1 {
        let next = format!("{title} {}", keywords(question, 6).join(" "));
        return search_reply("Doc 1 names a lead but does not settle it.", &next);
    }
    let answer = if question.contains(agent::MASK) {
        question.replace(agent::MASK, title)
    } else {
        title.to_string()
    };
    format!("<think> Doc 1 resolves the step: {title}. </think> <answer> {answer} </answer>")
}

async fn completions(
    State(scripted): State<Arc<Scripted>>,
    Json(request): Json<CompletionRequest>,
) -> Result<Json<CompletionResponse>, StatusCode> {
    let chat = request.to_chat().map_err(|_| StatusCode::BAD_REQUEST)?;
    let response = scripted.answer(&chat);
    let body = CompletionResponse::from_chat("chatcmpl-0".into(), 0, &request.model, &response);
    Ok(Json(body))
}

/// Starts the scripted endpoint on a thread of its own (one current-thread runtime), so its
/// CPU time can be told apart from the pipeline's.
fn serve_scripted(scripted: Arc<Scripted>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(SERVER_THREAD.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("address"))
                    .expect("report address");
                let app = Router::new()
                    .route("/v1/chat/completions", post(completions))
                    .with_state(scripted);
                axum::serve(listener, app).await.expect("serve");
            });
        })
        .expect("server thread");
    rx.recv().expect("server address")
}

// ---------------------------------------------------------------- CPU time from /proc

/// CPU time (user + system) of this process and of its live threads by group, in clock ticks.
#[derive(Debug, Clone, Default)]
struct Cpu {
    process: u64,
    /// Per live thread: (group, ticks).
    threads: BTreeMap<u32, (Group, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// The thread that drives `agent::run` (the main thread, in `block_on`).
    Driver,
    /// The pipeline runtime's workers and blocking threads (HTTP connections, the input reader).
    Runtime,
    /// The scripted endpoint.
    Server,
    /// Everything else: the rayon pool (BM25 searches).
    Other,
}

/// Linux's USER_HZ: /proc counts CPU time in 1/100 s on every mainstream architecture.
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of a `/proc/.../stat` line (fields 14 and 15; the name in parentheses may
/// hold spaces, so fields are counted after its closing parenthesis).
fn stat_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

impl Cpu {
    fn now() -> Cpu {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let pid = std::process::id();
        let mut cpu = Cpu {
            process: stat_ticks(&read(Path::new("/proc/self/stat"))).unwrap_or(0),
            threads: BTreeMap::new(),
        };
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return cpu;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let name = read(&task.path().join("comm"));
            let group = match name.trim() {
                _ if tid == pid => Group::Driver,
                SERVER_THREAD => Group::Server,
                RUNTIME_THREAD => Group::Runtime,
                _ => Group::Other,
            };
            if let Some(ticks) = stat_ticks(&read(&task.path().join("stat"))) {
                cpu.threads.insert(tid, (group, ticks));
            }
        }
        cpu
    }

    /// Seconds of CPU since `before`: the process, and per group over the threads alive now
    /// (a thread that ended in between falls into `Other` through the process total).
    fn since(&self, before: &Cpu) -> (f64, BTreeMap<Group, f64>) {
        let secs = |ticks: u64| ticks as f64 / TICKS_PER_SEC;
        let mut groups: BTreeMap<Group, f64> = BTreeMap::new();
        for (tid, (group, ticks)) in &self.threads {
            let earlier = before.threads.get(tid).map_or(0, |(_, t)| *t);
            *groups.entry(*group).or_default() += secs(ticks.saturating_sub(earlier));
        }
        let process = secs(self.process.saturating_sub(before.process));
        let named: f64 = groups
            .iter()
            .filter(|(g, _)| **g != Group::Other)
            .map(|(_, s)| s)
            .sum();
        groups.insert(Group::Other, (process - named).max(0.0));
        (process, groups)
    }
}

/// The load averages of the machine (`/proc/loadavg`'s first three fields).
fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How busy the machine was, to tell what other processes took while a phase ran.
struct Machine {
    started: Instant,
    /// Busy ticks of all cores (`/proc/stat`: user, nice, system, irq, softirq, steal).
    busy: u64,
    process: u64,
}

impl Machine {
    fn now() -> Machine {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|t| t.parse().ok())
            .collect();
        let field = |i: usize| ticks.get(i).copied().unwrap_or(0);
        Machine {
            started: Instant::now(),
            busy: [0, 1, 2, 5, 6, 7].into_iter().map(field).sum(),
            process: Cpu::now().process,
        }
    }

    /// Cores that other processes kept busy, on average, since `self`.
    fn others_since(&self) -> f64 {
        let now = Machine::now();
        let others = now.busy.saturating_sub(self.busy) as f64
            - now.process.saturating_sub(self.process) as f64;
        (others / TICKS_PER_SEC / self.started.elapsed().as_secs_f64()).max(0.0)
    }
}

// ---------------------------------------------------------------- inputs

/// The demo corpus, read as passages (each lead summary is about one passage long).
fn passages() -> Vec<Passage> {
    let path = repo("assets/corpus/wiki-summaries.jsonl");
    formats::read_jsonl::<Passage>(&path)
        .unwrap_or_else(|e| panic!("{e}: run `make setup` first"))
        .collect::<Result<_, _>>()
        .expect("valid summaries")
}

fn read_records(path: &Path) -> Vec<Value> {
    formats::read_jsonl::<Value>(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .expect("valid records")
}

/// RAMP samples made from the demo corpus by the real offline `ramp` run.
async fn ramp_samples(corpus: &Path, dir: &Path) -> Vec<Value> {
    let out = dir.join("ramp.jsonl");
    let config = ramp::RampConfig {
        spans: ramp::SpanSet::offline(),
        seed: 42,
        curriculum: ramp::LevelRule::default(),
        difficulty: ramp::Difficulty::None,
        lang: ramp::Lang::En,
        source: "wiki".into(),
        shard: Shard::ALL,
    };
    let options = ramp::RunOptions {
        out: out.clone(),
        resume: false,
        batch_size: 1024,
        model: None,
        scorer: None,
        llm_concurrency: 1,
        progress: &|_| {},
    };
    let source = Arc::new(formats::JsonlPassages(corpus.to_path_buf()));
    ramp::run(&config, source, &options).await.expect("ramp");
    read_records(&out)
}

/// `n` records cycled from `records`, each with an id of its own (so none is a duplicate).
fn write_input(path: &Path, records: &[Value], n: usize) {
    let mut text = String::new();
    for (i, record) in records.iter().cycle().take(n).enumerate() {
        let mut record = record.clone();
        record["id"] = json!(format!("bench-{i}"));
        text.push_str(&record.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("input written");
}

// ---------------------------------------------------------------- runs

fn config() -> TrajectoryConfig {
    TrajectoryConfig {
        teacher: Teacher::MultiAgent,
        runtime: agent::RuntimeConfig::default(),
        multi: agent::multi::MultiAgentConfig::default(),
        rule: agent::rule::RuleConfig::default(),
        verify: agent::VerifyConfig::default(),
        prompts: Prompts::default(),
        seed: 42,
        today: time::macros::date!(2025 - 06 - 01),
        exclude_source: false,
        round: 0,
        shard: Shard::ALL,
    }
}

/// What one measured run did.
struct Measured {
    trajectories: u64,
    accepted: u64,
    wall: f64,
    cpu: f64,
    groups: BTreeMap<Group, f64>,
    model_calls: u64,
    searches: u64,
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    url: String,
    searcher: Arc<dyn search::Searcher>,
    dir: PathBuf,
}

impl Bench {
    fn run(&self, input: &Path, concurrency: usize) -> Measured {
        let client = llm::OpenAiClient::new(llm::ClientConfig {
            max_concurrency: concurrency,
            ..llm::ClientConfig::new(self.url.clone(), "scripted")
        })
        .expect("client");
        let out = self.dir.join(format!("out-{concurrency}.jsonl"));
        let options = RunOptions {
            input: input.to_path_buf(),
            out: out.clone(),
            rejected: self.dir.join(format!("rejected-{concurrency}.jsonl")),
            resume: false,
            model: Some(Arc::new(client)),
            judge: None,
            searcher: Arc::clone(&self.searcher),
            concurrency,
            progress: &|_: &Tally| {},
        };
        let config = config();
        let (cpu_before, started) = (Cpu::now(), Instant::now());
        let report = self
            .runtime
            .block_on(agent::run(&config, &options))
            .expect("trajectories run");
        let wall = started.elapsed().as_secs_f64();
        let (cpu, groups) = Cpu::now().since(&cpu_before);
        let t = &report.tally;
        Measured {
            trajectories: t.accepted + t.rejected_total(),
            accepted: t.accepted,
            wall,
            cpu,
            groups,
            model_calls: t.usage.model_calls,
            searches: t.searches,
        }
    }
}

fn print_header() {
    println!(
        "{:<6} {:>9} {:>6} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>7} {:>7} {:>7} | {:>6} {:>6} {:>5}",
        "input",
        "in flight",
        "traj",
        "wall s",
        "traj/s",
        "process",
        "server",
        "pipeline",
        "driver",
        "runtime",
        "rayon+",
        "calls",
        "search",
        "acc %",
    );
}

fn print_row(input: &str, concurrency: usize, m: &Measured) {
    let n = m.trajectories.max(1) as f64;
    let ms = |secs: f64| secs * 1000.0 / n;
    let group = |g: Group| ms(m.groups.get(&g).copied().unwrap_or(0.0));
    let server = group(Group::Server);
    println!(
        "{input:<6} {concurrency:>9} {:>6} {:>8.2} {:>8.0} | {:>8.3} {:>8.3} {:>8.3} | {:>7.3} {:>7.3} {:>7.3} | {:>6.2} {:>6.2} {:>5.0}",
        m.trajectories,
        m.wall,
        n / m.wall,
        ms(m.cpu),
        server,
        ms(m.cpu) - server,
        group(Group::Driver),
        group(Group::Runtime),
        group(Group::Other),
        m.model_calls as f64 / n,
        m.searches as f64 / n,
        100.0 * m.accepted as f64 / n,
    );
}

// ---------------------------------------------------------------- the real model's time

/// Seconds per call of each kind on the local model, over the kept requests (`max_tokens`
/// capped at 128), with mean prompt and completion tokens.
fn time_local_model(
    runtime: &tokio::runtime::Runtime,
    kept: &BTreeMap<Kind, Vec<ChatRequest>>,
) -> Option<BTreeMap<Kind, (f64, f64, f64)>> {
    let path = repo("assets/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        println!("no local model at {}: run `make setup`", path.display());
        return None;
    }
    let model = llm::LocalModel::load(llm::LocalConfig::new(&path)).expect("local model");
    let machine = Machine::now();
    println!(
        "local model {} (1 worker, all cores, context {}), greedy, max_tokens ≤ 128:",
        model.name(),
        model.context_size()
    );
    let mut times = BTreeMap::new();
    for (kind, requests) in kept {
        let (mut secs, mut prompt, mut completion) = (0.0, 0.0, 0.0);
        for request in requests {
            let mut request = request.clone();
            request.max_tokens = Some(request.max_tokens.unwrap_or(128).min(128));
            let started = Instant::now();
            let reply = runtime.block_on(model.chat(&request)).expect("local chat");
            secs += started.elapsed().as_secs_f64();
            prompt += reply.usage.prompt_tokens as f64;
            completion += reply.usage.completion_tokens as f64;
        }
        let n = requests.len().max(1) as f64;
        let (secs, prompt, completion) = (secs / n, prompt / n, completion / n);
        println!(
            "  {:<8} {:>6.3} s/call  ({prompt:.0} prompt + {completion:.0} completion tokens, mean of {})",
            kind.as_str(),
            secs,
            requests.len()
        );
        times.insert(*kind, (secs, prompt, completion));
    }
    println!(
        "  (other processes kept {:.2} cores busy while the model ran)",
        machine.others_since()
    );
    Some(times)
}

/// Calls of each kind per trajectory, counted from the steps of a run's outputs.
fn calls_by_kind(dir: &Path, concurrency: usize) -> BTreeMap<Kind, f64> {
    let mut counts: BTreeMap<Kind, f64> = BTreeMap::new();
    let mut trajectories = 0.0;
    for name in [
        format!("out-{concurrency}.jsonl"),
        format!("rejected-{concurrency}.jsonl"),
    ] {
        let Ok(reader) = formats::read_jsonl::<Trajectory>(&dir.join(name)) else {
            continue;
        };
        for trajectory in reader.flatten() {
            trajectories += 1.0;
            for step in &trajectory.steps {
                let kind = match step.kind {
                    formats::StepKind::Planner => Kind::Planner,
                    formats::StepKind::Rewriter => Kind::Rewriter,
                    formats::StepKind::Observer => Kind::Observer,
                    formats::StepKind::Judge => Kind::Judge,
                    _ => continue,
                };
                *counts.entry(kind).or_default() += 1.0;
            }
        }
    }
    counts
        .values_mut()
        .for_each(|c| *c /= f64::max(trajectories, 1.0));
    counts
}

fn main() {
    let records: usize = std::env::var("TRAJ_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    let tmp = tempfile::tempdir().expect("temp dir");
    let corpus = repo("assets/corpus/wiki-summaries.jsonl");
    let passages = passages();
    let index_dir = tmp.path().join("index");
    index::build(
        &index_dir,
        passages.iter().cloned().map(Ok::<_, std::io::Error>),
        &index::BuildConfig::default(),
        |_| {},
    )
    .expect("index build");
    let index = index::Bm25Index::open(&index_dir).expect("open index");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(RUNTIME_THREAD)
        .enable_all()
        .build()
        .expect("runtime");
    let questions = read_records(&repo("testdata/hotpotqa_500.jsonl"));
    let samples = runtime.block_on(ramp_samples(&corpus, tmp.path()));
    let inputs = [("hotpot", &questions), ("ramp", &samples)].map(|(name, set)| {
        let path = tmp.path().join(format!("{name}.jsonl"));
        write_input(&path, set, records);
        (name, path)
    });

    let scripted = Arc::new(Scripted {
        prompts: Prompts::default(),
        kept: Mutex::default(),
    });
    let addr = serve_scripted(Arc::clone(&scripted));
    let bench = Bench {
        runtime,
        url: format!("http://{addr}/v1"),
        searcher: Arc::new(index),
        dir: tmp.path().to_path_buf(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "trajectories benchmark: multi-agent teacher, scripted instant endpoint over HTTP, BM25 over {} passages; \
         {records} records per run; {cores} cores; load average {} before",
        passages.len(),
        load()
    );
    println!(
        "CPU columns are ms per trajectory: process = every thread; server = the scripted endpoint's thread; \
         pipeline = process − server = driver (agent::run) + runtime (HTTP I/O) + rayon+ (BM25 search, ended threads)"
    );
    // Warm-up: connections, page cache, the index's readers.
    let warm = bench.dir.join("warm.jsonl");
    write_input(&warm, &questions, 64);
    bench.run(&warm, 8);

    print_header();
    let machine = Machine::now();
    let mut share_basis = None;
    for (name, path) in &inputs {
        for concurrency in [1, 64, 256] {
            let measured = bench.run(path, concurrency);
            print_row(name, concurrency, &measured);
            if *name == "hotpot" && concurrency == 64 {
                let n = measured.trajectories.max(1) as f64;
                let pipeline = measured.cpu - measured.groups.get(&Group::Server).unwrap_or(&0.0);
                share_basis = Some((pipeline / n, calls_by_kind(&bench.dir, 64)));
            }
        }
    }
    println!(
        "load average {} after; other processes kept {:.2} of {cores} cores busy during these runs",
        load(),
        machine.others_since()
    );

    let kept = scripted.kept.lock().map(|k| k.clone()).unwrap_or_default();
    let (Some(times), Some((pipeline_secs, calls))) =
        (time_local_model(&bench.runtime, &kept), share_basis)
    else {
        return;
    };
    let llm_secs: f64 = calls
        .iter()
        .map(|(kind, per)| per * times.get(kind).map_or(0.0, |t| t.0))
        .sum();
    let calls_total: f64 = calls.values().sum();
    let planner_observer: Vec<f64> = [Kind::Planner, Kind::Observer]
        .iter()
        .filter_map(|k| times.get(k).map(|t| t.0))
        .collect();
    let per_call = planner_observer.iter().sum::<f64>() / planner_observer.len().max(1) as f64;
    println!(
        "share (hotpot, 64 in flight): pipeline CPU {:.3} ms per trajectory; {calls_total:.2} calls per trajectory ({})",
        pipeline_secs * 1000.0,
        calls
            .iter()
            .map(|(k, c)| format!("{} {c:.2}", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  ÷ (Planner/Observer {per_call:.3} s/call × {calls_total:.2} calls = {:.2} s) = {:.4} %",
        per_call * calls_total,
        100.0 * pipeline_secs / (per_call * calls_total)
    );
    println!(
        "  ÷ (each kind at its own time: {llm_secs:.2} s of model time per trajectory) = {:.4} %",
        100.0 * pipeline_secs / llm_secs
    );
}
