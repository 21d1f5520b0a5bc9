//! `masksearch ui` in a real browser: headless Chromium driven over WebDriver (Debian's
//! `chromedriver`, installed by scripts/setup.sh) against the real binary serving the demo
//! corpus's index, RAMP samples, rule-teacher trajectories, eval predictions and the local model.
//! Each test keeps a screenshot of its page under target/tmp/ui-*.png.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

use fantoccini::Locator;

use crate::common::{
    Browser, Served, asset, head, index_and_samples, masksearch, model, run_ok, testdata,
};

/// The demo corpus indexed, 200 of its RAMP samples, the rule teacher's trajectories of them and
/// a rescored predictions file.
struct Data {
    _dir: tempfile::TempDir,
    index: PathBuf,
    ramp: PathBuf,
    accepted: PathBuf,
    rejected: PathBuf,
    eval: PathBuf,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let (index, all) = index_and_samples(&asset("corpus/wiki-summaries.jsonl"), dir.path());
        let ramp = head(&all, &dir.path().join("ramp.jsonl"), 200);
        let accepted = dir.path().join("trajectories.jsonl");
        run_ok(&[
            "trajectories".as_ref(),
            "--teacher".as_ref(),
            "rule".as_ref(),
            "--input".as_ref(),
            ramp.as_os_str(),
            "--index".as_ref(),
            index.as_os_str(),
            "--out".as_ref(),
            accepted.as_os_str(),
        ]);
        let out = dir.path().join("eval");
        run_ok(&[
            "eval".as_ref(),
            "--rescore".as_ref(),
            testdata("predictions/hotpotqa/intermediate_data.json").as_os_str(),
            testdata("predictions/musique_500-qwen-7b_temp0.0.jsonl").as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        Data {
            rejected: dir.path().join("trajectories.rejected.jsonl"),
            eval: out.join("predictions.jsonl"),
            _dir: dir,
            index,
            ramp,
            accepted,
        }
    })
}

/// `masksearch ui` over [`data`], the live agent on the local model.
fn ui() -> Served {
    let d = data();
    let model = model();
    Served::start(&[
        "ui".as_ref(),
        "--index".as_ref(),
        d.index.as_os_str(),
        "--ramp".as_ref(),
        d.ramp.as_os_str(),
        "--trajectories".as_ref(),
        d.accepted.as_os_str(),
        "--trajectories".as_ref(),
        d.rejected.as_os_str(),
        "--eval".as_ref(),
        d.eval.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--context-size".as_ref(),
        "4096".as_ref(),
    ])
}

/// Like every server of masksearch, the UI listens on loopback unless `--host` says otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn the_ui_binds_loopback_by_default() {
    // An empty working directory: no demo outputs to show, no model to load.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = masksearch();
    cmd.current_dir(dir.path()).args(["ui", "--no-agent"]);
    let mut served = Served::spawn(cmd);
    assert!(
        served.url.starts_with("http://127.0.0.1:"),
        "{}",
        served.url
    );
    assert!(
        served.stderr_line().contains("no index · 0 RAMP"),
        "started on nothing"
    );
    let home = reqwest::get(&served.url).await.expect("home page");
    assert_eq!(home.status(), 200);
}

/// Typing a query into the search box of `serve --ui` returns the ranked passages its own
/// `/retrieve` gives, with the query's words marked; a hit's passage page shows its page.
#[tokio::test(flavor = "multi_thread")]
async fn search_returns_marked_hits_and_their_pages() {
    let model = model();
    let served = Served::start(&[
        "serve".as_ref(),
        "--ui".as_ref(),
        "--index".as_ref(),
        data().index.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
    ]);
    let b = Browser::start().await;
    b.goto(&format!("{}/search", served.url)).await;
    b.type_into("#q", "who painted the Mona Lisa").await;
    b.click("#search-form button").await;
    let titles = b.wait_for(".hit .title", 10).await;
    assert_eq!(titles.len(), 10, "{titles:?}");
    assert_eq!(titles[0], "Mona Lisa");
    let marked = b.texts(".hit mark").await;
    assert!(marked.iter().any(|m| m == "Lisa"), "{marked:?}");
    let mut ids = Vec::new();
    for e in b.client.find_all(Locator::Css(".hit")).await.expect("hits") {
        ids.push(e.attr("data-id").await.expect("attr").expect("data-id"));
    }
    b.screenshot("search").await;
    b.click(".hit .title").await;
    let id = b.wait_for("#passage-id", 10).await;
    assert_eq!(id, [ids[0].clone()]);
    assert!(!b.texts("#page tbody tr").await.is_empty());
    b.stop().await;
    let body = reqwest::Client::new()
        .post(format!("{}/retrieve", served.url))
        .json(&serde_json::json!({"queries": ["who painted the Mona Lisa"], "topk": 10, "return_scores": true}))
        .send()
        .await
        .expect("retrieve")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let retrieved: Vec<String> = body["result"][0]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["document"]["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids, retrieved);
}

/// A RAMP page shows the masked and original passage with numbered, highlighted masks; the
/// list filters by mask count; the statistics page draws its charts.
#[tokio::test(flavor = "multi_thread")]
async fn ramp_pages_show_highlighted_masks() {
    let ui = ui();
    let b = Browser::start().await;
    b.goto(&format!("{}/ramp/0?masks=2", ui.url)).await;
    let rows = b.wait_for("#samples tr.sample", 10).await;
    assert!(!rows.is_empty());
    let counts = b.texts("#samples tr.sample td:nth-child(3)").await;
    assert!(counts.iter().all(|c| c == "2"), "{counts:?}");
    b.screenshot("ramp-list").await;
    b.click("#samples tr.sample a").await;
    let masked = b.wait_for("#masked mark.mask", 10).await;
    assert_eq!(masked, ["1[mask]", "2[mask]"]);
    let original = b.texts("#original mark.mask").await;
    assert_eq!(original.len(), 2);
    assert!(
        original.iter().all(|o| !o.contains("[mask]")),
        "{original:?}"
    );
    b.screenshot("ramp").await;
    b.goto(&format!("{}/ramp/0/stats", ui.url)).await;
    assert_eq!(b.wait_for("svg.chart", 20).await.len(), 2);
    b.stop().await;
}

/// A trajectory page shows the timeline and verdict; clicking a document expands it; a file the
/// UI was not given cannot be reached; the eval page frames the report and lists the questions.
#[tokio::test(flavor = "multi_thread")]
async fn a_trajectory_page_expands_a_document_and_the_eval_page_drills_down() {
    let ui = ui();
    let b = Browser::start().await;
    b.goto(&format!("{}/trajectories/0/0", ui.url)).await;
    b.wait_for("#verdict", 10).await;
    assert!(
        b.texts("#verdict .pill.ok")
            .await
            .contains(&"accepted".to_string())
    );
    let doc = b
        .client
        .find(Locator::Css("details.doc"))
        .await
        .expect("a document");
    assert_eq!(
        doc.attr("open").await.expect("attr"),
        None,
        "collapsed at first"
    );
    // The title, not the summary's centre: that may be the passage link beside it.
    doc.find(Locator::Css("summary strong"))
        .await
        .expect("summary title")
        .click()
        .await
        .expect("expand");
    assert!(doc.attr("open").await.expect("attr").is_some(), "expanded");
    assert!(
        !doc.find(Locator::Css("p"))
            .await
            .expect("text")
            .text()
            .await
            .expect("text")
            .is_empty()
    );
    b.screenshot("trajectory").await;
    b.goto(&format!("{}/trajectories/1?status=rejected", ui.url))
        .await;
    b.wait_for("#trajectories", 10).await;
    b.goto(&format!("{}/trajectories/2/0", ui.url)).await;
    assert_eq!(b.wait_for("h1", 10).await, ["Error 404"]);
    b.goto(&format!("{}/eval/0", ui.url)).await;
    assert!(
        !b.wait_for("#question-table tr.question", 10)
            .await
            .is_empty()
    );
    b.client.enter_frame(0).await.expect("the report frame");
    assert_eq!(b.wait_for("svg.chart", 10).await.len(), 3);
    b.client.enter_parent_frame().await.expect("back");
    b.screenshot("eval").await;
    b.stop().await;
}

/// The live agent on the local model: typed question, one worked example as the prompt, the
/// local index; at least one search round streams in (the model's search, then its documents)
/// and the run finishes with a record the page can save.
#[tokio::test(flavor = "multi_thread")]
async fn the_live_agent_streams_a_search_round_from_the_local_model() {
    let ui = ui();
    let b = Browser::start().await;
    b.goto(&format!("{}/agent", ui.url)).await;
    b.type_into("#question", "Which river flows through Paris?")
        .await;
    b.click("#prompt option[value=few-shot]").await;
    b.click("#start").await;
    b.client
        .wait()
        .at_most(Duration::from_secs(240))
        .for_element(Locator::Css("#status[data-state=finished]"))
        .await
        .unwrap_or_else(|e| panic!("the run did not finish: {e}"));
    let searches = b.texts("#live-log .step.search").await;
    assert!(!searches.is_empty(), "no search round streamed");
    assert!(
        !b.client
            .find_all(Locator::Css("#live-log .step.search details.doc"))
            .await
            .expect("documents")
            .is_empty(),
        "the search's documents"
    );
    let models = b
        .texts("#live-log .step.model, #live-log .step.answer")
        .await;
    assert!(
        models.len() >= 2,
        "a model turn before and after the search: {models:?}"
    );
    let save = b.client.find(Locator::Id("save")).await.expect("save");
    assert_eq!(
        save.attr("disabled").await.expect("attr"),
        None,
        "the record can be saved"
    );
    b.screenshot("agent").await;
    b.stop().await;
}

/// The stop button ends a run mid-way: the page says so, has no record to save and offers Start
/// again. (That the server then aborts the agent, an in-flight model call included, is the `ui`
/// crate's `dropping_the_stream_stops_the_agent`.)
#[tokio::test(flavor = "multi_thread")]
async fn the_live_agents_stop_button_ends_the_run() {
    let ui = ui();
    let b = Browser::start().await;
    b.goto(&format!("{}/agent", ui.url)).await;
    b.type_into("#question", "Which river flows through Paris?")
        .await;
    b.click("#start").await;
    // The local model takes seconds to read the prompt: the run is still going.
    b.wait_for("#status[data-state=running]", 10).await;
    b.click("#stop").await;
    assert_eq!(
        b.wait_for("#status[data-state=stopped]", 10).await,
        ["stopped"]
    );
    for (id, disabled) in [("start", false), ("stop", true), ("save", true)] {
        let attr = b
            .client
            .find(Locator::Id(id))
            .await
            .expect(id)
            .attr("disabled")
            .await
            .expect("attr");
        assert_eq!(attr.is_some(), disabled, "#{id} disabled: {attr:?}");
    }
    b.stop().await;
}

/// The compare page in the browser: reached from a trajectory page's link, it lays the sample's
/// trajectories from two files out side by side (two columns of one row, each with its verdict
/// and timeline), the rule teacher's accepted one beside the same sample rejected when its own
/// passage is excluded from the search.
#[tokio::test(flavor = "multi_thread")]
async fn the_compare_page_lays_out_one_sample_from_two_files_side_by_side() {
    let d = data();
    let other = tempfile::tempdir().expect("temp dir");
    let excluded = other.path().join("excluded.jsonl");
    run_ok(&[
        "trajectories".as_ref(),
        "--teacher".as_ref(),
        "rule".as_ref(),
        "--exclude-source".as_ref(),
        "--input".as_ref(),
        d.ramp.as_os_str(),
        "--index".as_ref(),
        d.index.as_os_str(),
        "--out".as_ref(),
        excluded.as_os_str(),
    ]);
    let served = Served::start(&[
        "ui".as_ref(),
        "--no-agent".as_ref(),
        "--trajectories".as_ref(),
        d.accepted.as_os_str(),
        "--trajectories".as_ref(),
        other.path().join("excluded.rejected.jsonl").as_os_str(),
        "--trajectories".as_ref(),
        excluded.as_os_str(),
    ]);
    // A sample accepted by the rule teacher and rejected once its own passage is excluded.
    let ids = |path: &Path| -> Vec<String> {
        fs::read_to_string(path)
            .expect("trajectories")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].to_string())
            .collect()
    };
    let rejected = ids(&other.path().join("excluded.rejected.jsonl"));
    let line = ids(&d.accepted)
        .iter()
        .position(|id| rejected.contains(id))
        .expect("a sample rejected without its own passage");
    let b = Browser::start().await;
    b.goto(&format!("{}/trajectories/0/{line}", served.url))
        .await;
    b.wait_for("#verdict", 10).await;
    b.click("#compare").await;
    let headings = b.wait_for(".side > div > h2", 10).await;
    assert!(headings.len() >= 2, "{headings:?}");
    let verdicts = b.texts(".side > div .verdict .pill:first-child").await;
    assert!(verdicts.iter().any(|v| v == "accepted"), "{verdicts:?}");
    assert!(
        verdicts.iter().any(|v| v.starts_with("rejected")),
        "{verdicts:?}"
    );
    // Laid out as the reader sees it: the columns share a row, one beside the other, each
    // as wide as the other and holding a drawn timeline.
    let boxes = b
        .client
        .execute(
            "return [...document.querySelectorAll('.side > div')].map(d => { \
               const r = d.getBoundingClientRect(); \
               const t = d.querySelector('.timeline').getBoundingClientRect(); \
               return [r.left, r.top, r.width, t.height]; })",
            vec![],
        )
        .await
        .expect("layout");
    let boxes: Vec<Vec<f64>> = serde_json::from_value(boxes).expect("numbers");
    let (first, second) = (&boxes[0], &boxes[1]);
    assert_eq!(first[1], second[1], "one row: {boxes:?}");
    assert!(second[0] >= first[0] + first[2], "side by side: {boxes:?}");
    assert!(
        (first[2] - second[2]).abs() < 1.0 && first[2] > 200.0,
        "{boxes:?}"
    );
    assert!(
        first[3] > 0.0 && second[3] > 0.0,
        "timelines drawn: {boxes:?}"
    );
    b.screenshot("compare").await;
    b.stop().await;
}

/// CPU time the process `pid` has used, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command's name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Live runs on the local model started and stopped at points drawn at random (seeded, as the
/// kill trials; `MASKSEARCH_UI_RUNS` runs, 10 by default): the page going away ends each run, so
/// afterwards none is counted as running, the server burns no CPU (no model call goes on), and
/// a new run still finishes.
#[tokio::test(flavor = "multi_thread")]
async fn live_runs_started_and_stopped_leave_nothing_running() {
    let runs: u64 = std::env::var("MASKSEARCH_UI_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let ui = ui();
    let client = reqwest::Client::new();
    let stream = |question: &str| {
        client
            .get(format!("{}/agent/stream", ui.url))
            .query(&[("question", question), ("prompt", "few-shot")])
            .send()
    };
    let questions = [
        "Which river flows through Paris?",
        "Who wrote Hamlet?",
        "What is the capital of Australia?",
    ];
    let mut points = crate::kills::Points::new(9);
    let mut stopped = 0;
    for i in 0..runs {
        let mut response = stream(questions[i as usize % questions.len()])
            .await
            .expect("stream");
        assert_eq!(response.status(), 200);
        let stop = tokio::time::sleep(points.next(Duration::from_secs(3)));
        tokio::pin!(stop);
        let mut seen = String::new();
        loop {
            tokio::select! {
                _ = &mut stop => { stopped += 1; break; }
                chunk = response.chunk() => match chunk.expect("chunk") {
                    Some(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                    None => break,
                },
            }
        }
        // The page goes away: the connection is closed.
        drop(response);
    }
    let running = || async {
        let body: serde_json::Value = client
            .get(format!("{}/agent/running", ui.url))
            .send()
            .await
            .expect("running")
            .json()
            .await
            .expect("json");
        body["running"].as_u64().expect("count")
    };
    let waited = std::time::Instant::now();
    while running().await != 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "runs still going after the pages left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The model call a run was in is cancelled at its next token (a prompt being read is read
    // to the end of its batch first): within seconds the server is idle, and stays so.
    let waited = std::time::Instant::now();
    loop {
        let before = cpu_ticks(ui.pid());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let used = cpu_ticks(ui.pid()) - before;
        if used <= 10 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "{used} ticks of CPU in 2 s with no run going"
        );
    }
    let finished = stream("Who wrote Hamlet?")
        .await
        .expect("stream")
        .text()
        .await
        .expect("a whole run");
    assert!(finished.contains("event: done"), "{finished}");
    eprintln!("{runs} runs, {stopped} stopped mid-way; none left running, the server idle");
}
