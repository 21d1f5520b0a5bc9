//! The multi-agent teacher: the paper's construction (`cot_construct.py`).
//!
//! Planner → (Rewriter → search → Observer)×n: the Planner plans and asks a first sub-question;
//! the Rewriter turns the current step into at least three keyword queries (JSON, parsed
//! strictly, never evaluated); the queries are searched and merged by `student::observe` — the
//! round-robin merge of the original, cut at the student's `topk`, so the student turn this round
//! becomes (`<search>` holding the rewritten queries, one per line) reads in training exactly
//! what its runtime answers; the Observer reads the latest results and answers, plans the next
//! step or reflects. At most `max_rounds` Observer turns.
//!
//! Fixed on the way (each in `docs/fidelity.md`):
//! - the original failed a whole trajectory when the Rewriter's JSON did not parse; here the
//!   planned sub-question is searched instead ([`Note::RewriterFallback`]);
//! - the original let a fifth search run and then threw its answer away; here the budget ends
//!   after the last allowed Observer turn;
//! - a repeated search (the same sub-question, or the same rewritten queries, as an earlier
//!   round) is not searched again: the Observer is told so and asked to reflect, the original's
//!   step (c) ([`Note::RepeatedSearch`]); the repeat is left out of the student transcript;
//! - the Observer is shown the sub-questions searched so far and, for a RAMP passage, how many
//!   masks it has, so it does not lose track of a multi-mask sample;
//! - the Planner must search first: an answer without any search is a format rejection unless
//!   [`MultiAgentConfig::planner_may_answer`] (the original allowed it).

use std::time::Instant;

use chat::{ChatModel, ChatRequest, ChatResponse, Message};
use formats::{Note, Step, StepKind};
use search::Searcher;
use serde_json::Value;
use student::{Action, parse_turn, search_element, turn::clean_queries};

use crate::{
    attempt::{Attempt, End},
    chatml::Round,
    prompts::{Prompts, fill},
    runtime::{Ask, search_step},
};

/// How the teacher runs.
#[derive(Debug, Clone)]
pub struct MultiAgentConfig {
    /// Observer turns allowed (the original's effective budget: 4), each after a search or a
    /// repeated search's reflection.
    pub max_rounds: usize,
    /// Documents shown per search, after merging the rewritten queries' lists: the student's
    /// `topk` (the original merged to 10; `--topk 10` restores it, and the student's runtime must
    /// then be given the same).
    pub topk: usize,
    /// Token limit of a Planner or Observer reply.
    pub max_tokens: u32,
    /// Sampling of every agent call. The original set none, so DashScope's defaults for its
    /// qwen-max applied: temperature 0.7, top_p 0.8. Greedy (0) is an option.
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Accept a Planner that answers without searching, as the original did.
    pub planner_may_answer: bool,
}

/// The original's effective sampling: DashScope's defaults for qwen-max.
pub const ORIGINAL_TEMPERATURE: f32 = 0.7;
pub const ORIGINAL_TOP_P: f32 = 0.8;

impl Default for MultiAgentConfig {
    fn default() -> Self {
        MultiAgentConfig {
            max_rounds: 4,
            topk: student::DEFAULT_TOPK,
            max_tokens: 768,
            temperature: Some(ORIGINAL_TEMPERATURE),
            top_p: Some(ORIGINAL_TOP_P),
            planner_may_answer: false,
        }
    }
}

/// Runs the agents on `ask.question` (a question, or a masked passage with its instruction); no
/// search shows a passage of `ask.exclude`.
pub async fn run(
    model: &dyn ChatModel,
    searcher: &dyn Searcher,
    prompts: &Prompts,
    system: &str,
    ask: Ask<'_>,
    config: &MultiAgentConfig,
    seed: Option<u64>,
) -> Attempt {
    let agent = Agent {
        model,
        searcher,
        prompts,
        system,
        config,
        seed,
    };
    let mut out = Attempt::new(searcher);
    agent.drive(ask.question, ask.exclude, &mut out).await;
    out
}

/// The Planner's `{answer_rule}` by default: search first.
const MUST_SEARCH: &str = "Always search before you answer, even for a fact you believe you know.";

/// The Planner's `{answer_rule}` under `planner_may_answer` (the original's Planner may answer
/// at once).
const MAY_ANSWER: &str = "If you can already give the complete answer without searching, write <think> your reasoning </think> <answer> the answer </answer> instead.";

/// What the Observer is reminded of: the sub-questions searched so far and the masks to fill.
fn progress(query: &str, searched: &[String]) -> String {
    let mut lines = Vec::new();
    let masks = query.matches(crate::MASK).count();
    if masks > 0 {
        lines.push(format!(
            "The passage has {masks} [mask] to fill; the answer must fill every one."
        ));
    }
    if !searched.is_empty() {
        let asked: Vec<String> = searched
            .iter()
            .enumerate()
            .map(|(i, q)| format!("({}) {q}", i + 1))
            .collect();
        lines.push(format!(
            "Sub-questions searched so far: {}",
            asked.join(" ")
        ));
    }
    lines.join("\n")
}

/// The Observer's input when the last step asked for a search already made.
fn repeated(round: usize) -> String {
    format!(
        "<information>No new search: this sub-question was already searched in step {round}, and its results are above. Reflect on why they did not resolve the step and ask a different sub-question, or answer.</information>"
    )
}

impl Agent<'_> {
    /// The Planner / Rewriter / search / Observer loop; sets `out.end`.
    async fn drive(&self, query: &str, exclude: &[String], out: &mut Attempt) {
        let rule = if self.config.planner_may_answer {
            MAY_ANSWER
        } else {
            MUST_SEARCH
        };
        let planner = fill(
            &self.prompts.planner,
            &[("question", query), ("answer_rule", rule)],
        );
        let Some(mut reply) = self.ask(StepKind::Planner, planner, out).await else {
            return;
        };
        // Every thought so far, each with the Rewriter's JSON appended, as the Observer sees them.
        let mut thoughts: Vec<String> = Vec::new();
        // Each search round's sub-question and queries, to catch a repeat.
        let mut searched: Vec<(String, Vec<String>)> = Vec::new();
        let mut observer_turns = 0;
        loop {
            let thought = read_thought(&reply);
            let subquery = match thought.action {
                Action::Answer(answer) => {
                    if searched.is_empty() && !self.config.planner_may_answer {
                        note(out, Note::AnsweredWithoutSearch);
                        out.end = End::Malformed(
                            "the Planner answered without searching (allow it with planner_may_answer)"
                                .to_string(),
                        );
                        return;
                    }
                    out.transcript.push_str(&thought.text);
                    out.final_text = Some(thought.text);
                    out.end = End::Answered(answer);
                    return;
                }
                Action::Search(payload) => subquery(&payload.join("\n")),
                Action::Invalid => String::new(),
            };
            if observer_turns == self.config.max_rounds {
                return;
            }
            let observation = match repeat_of(&searched, &subquery, None) {
                Some(round) => {
                    note(out, Note::RepeatedSearch);
                    repeated(round)
                }
                None => {
                    match self
                        .search_round(&thought.text, &subquery, exclude, out, &mut searched)
                        .await
                    {
                        Some(Ok((queries, information))) => {
                            let arguments = serde_json::json!({ "queries": queries }).to_string();
                            thoughts.push(format!("Thought: {}\n{arguments}", thought.text));
                            information.trim().to_string()
                        }
                        Some(Err(round)) => {
                            note(out, Note::RepeatedSearch);
                            repeated(round)
                        }
                        None => return,
                    }
                }
            };
            let asked: Vec<String> = searched.iter().map(|(q, _)| q.clone()).collect();
            let observer = fill(
                &self.prompts.observer,
                &[
                    ("question", query),
                    ("thoughts", &thoughts.join("\n")),
                    ("progress", &progress(query, &asked)),
                    ("observation", &observation),
                ],
            );
            let Some(next) = self.ask(StepKind::Observer, observer, out).await else {
                return;
            };
            observer_turns += 1;
            reply = next;
        }
    }

    /// Rewrites the step, searches, and records the round: `Ok` with the queries and the
    /// information; `Err(round)` when the rewritten queries repeat round `round`; `None` (with
    /// `out.end` set) when the round failed.
    async fn search_round(
        &self,
        thought: &str,
        subquery: &str,
        exclude: &[String],
        out: &mut Attempt,
        searched: &mut Vec<(String, Vec<String>)>,
    ) -> Option<Result<(Vec<String>, String), usize>> {
        let rewriter = fill(&self.prompts.rewriter, &[("thought", thought)]);
        let rewritten = self.ask(StepKind::Rewriter, rewriter, out).await?.text;
        let (queries, note_) = read_queries(&rewritten, subquery);
        if let Some(n) = note_ {
            note(out, n);
        }
        if queries.is_empty() {
            out.end = End::Malformed(
                "neither the thought nor the Rewriter gave anything to search".to_string(),
            );
            return None;
        }
        if let Some(round) = repeat_of(searched, "", Some(&queries)) {
            return Some(Err(round));
        }
        let started = Instant::now();
        let seen = match student::observe(self.searcher, &queries, self.config.topk, exclude).await
        {
            Ok(seen) => seen,
            Err(e) => {
                out.end = End::SearchFailed(e.to_string());
                return None;
            }
        };
        out.search_step(search_step(&queries, &seen, started));
        // The student's turn: the thinking, then the rewritten queries as one search.
        let think = thought
            .find("<search>")
            .map_or(thought, |at| &thought[..at])
            .trim_end();
        let element = search_element(&queries).unwrap_or_default();
        out.transcript.push_str(&format!("{think}\n{element}"));
        out.transcript.push_str(&seen.block);
        let subquery = if subquery.is_empty() {
            queries[0].clone()
        } else {
            subquery.to_string()
        };
        searched.push((subquery, queries.clone()));
        out.rounds.push(Round::Search {
            thought: thought.to_string(),
            queries: queries.clone(),
            information: seen.block.clone(),
        });
        Some(Ok((queries, seen.block)))
    }
}

/// The 1-based round whose sub-question (compared without case and spacing) or whose set of
/// queries this step repeats.
fn repeat_of(
    searched: &[(String, Vec<String>)],
    subquery: &str,
    queries: Option<&[String]>,
) -> Option<usize> {
    let key = |q: &str| {
        q.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let set = |qs: &[String]| {
        let mut keys: Vec<String> = qs.iter().map(|q| key(q)).collect();
        keys.sort();
        keys
    };
    searched
        .iter()
        .position(|(asked, done)| match queries {
            Some(queries) => set(done) == set(queries),
            None => !subquery.is_empty() && key(asked) == key(subquery),
        })
        .map(|i| i + 1)
}

/// Adds `n` to the last step's notes.
fn note(out: &mut Attempt, n: Note) {
    if let Some(step) = out.steps.last_mut() {
        step.notes.push(n);
    }
}

/// One model, one system message, used for every role.
struct Agent<'a> {
    model: &'a dyn ChatModel,
    searcher: &'a dyn Searcher,
    prompts: &'a Prompts,
    system: &'a str,
    config: &'a MultiAgentConfig,
    seed: Option<u64>,
}

impl Agent<'_> {
    /// Sends one prompt and records the step; `None` (with `out.end` set) when the call failed.
    async fn ask(&self, kind: StepKind, prompt: String, out: &mut Attempt) -> Option<ChatResponse> {
        let started = Instant::now();
        // A few-shot prompt invites the model to write the next example: stop it there.
        let mut stop = vec!["\nQuestion:".to_string(), "\nExample".to_string()];
        match kind {
            StepKind::Rewriter => stop.push("\nThought:".to_string()),
            _ => stop.extend(["</search>".to_string(), "</answer>".to_string()]),
        }
        let request = ChatRequest {
            messages: vec![Message::system(self.system), Message::user(prompt)],
            temperature: self.config.temperature,
            top_p: self
                .config
                .top_p
                .filter(|_| self.config.temperature != Some(0.0)),
            max_tokens: Some(match kind {
                StepKind::Rewriter => 200,
                _ => self.config.max_tokens,
            }),
            stop,
            seed: self.seed,
            ..ChatRequest::default()
        };
        let reply = match self.model.chat(&request).await {
            Ok(reply) => reply,
            Err(e) => {
                out.end = End::ModelFailed(e.to_string());
                return None;
            }
        };
        let mut step = Step::new(kind);
        step.ms = started.elapsed().as_millis() as u64;
        step.text = reply.text.clone();
        out.model_step(step, &reply);
        Some(reply)
    }
}

/// A Planner or Observer reply, read.
struct Thought {
    /// The reply without the `Thought:` / `Reply:` label, cut after its first action.
    text: String,
    action: Action,
}

fn read_thought(reply: &ChatResponse) -> Thought {
    let text = reply.text.trim();
    let text = ["Thought:", "Reply:"]
        .iter()
        .find_map(|label| text.find(label).map(|at| &text[at + label.len()..]))
        .unwrap_or(text)
        .trim();
    let turn = parse_turn(text, reply.finish_reason, true);
    Thought {
        text: turn.text.trim().to_string(),
        action: turn.action,
    }
}

/// The sub-question inside `<search>`: the first `query` of its JSON list (the planned form),
/// else the text itself.
fn subquery(payload: &str) -> String {
    let from_json = serde_json::from_str::<Value>(payload).ok().and_then(|v| {
        let first = match &v {
            Value::Array(items) => items.first()?.clone(),
            object @ Value::Object(_) => object.clone(),
            _ => return None,
        };
        Some(first.get("query")?.as_str()?.trim().to_string())
    });
    from_json.unwrap_or_else(|| payload.trim().to_string())
}

/// The Rewriter's queries: the `queries` list of the JSON object in its reply (from the first
/// `{` to the last `}`), cleaned as the student format carries them. No JSON list: the
/// sub-question alone.
pub(crate) fn read_queries(reply: &str, subquery: &str) -> (Vec<String>, Option<Note>) {
    let parsed = reply
        .find('{')
        .zip(reply.rfind('}'))
        .filter(|(a, b)| a < b)
        .and_then(|(a, b)| serde_json::from_str::<Value>(&reply[a..=b]).ok())
        .and_then(|v| {
            let list = v.get("queries")?.as_array()?.clone();
            Some(list)
        });
    let Some(list) = parsed else {
        return (clean_queries(&[subquery]), Some(Note::RewriterFallback));
    };
    let strings: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    let queries = clean_queries(&strings);
    if queries.is_empty() {
        return read_queries("", subquery);
    }
    let note = (queries.len() < 3).then_some(Note::FewQueries);
    (queries, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat::FinishReason;

    #[test]
    fn subqueries_come_from_the_planned_json_or_the_text() {
        assert_eq!(
            subquery(r#"[{"query": "Who directed it?", "intent": 1}]"#),
            "Who directed it?"
        );
        assert_eq!(subquery(r#"{"query": "x"}"#), "x");
        assert_eq!(subquery(" plain words "), "plain words");
    }

    #[test]
    fn rewriter_answers_are_parsed_strictly() {
        let check = |reply: &str, expect: (&[&str], Option<Note>)| {
            let (q, note) = read_queries(reply, "the sub-question");
            assert_eq!(
                (
                    q.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
                    note
                ),
                expect,
                "{reply}"
            );
        };
        check(
            r#"Queries: {"queries": ["a b", "c", "a b", " d "]} done"#,
            (&["a b", "c", "d"], None),
        );
        check(
            r#"{"queries": ["only one"]}"#,
            (&["only one"], Some(Note::FewQueries)),
        );
        check(
            "['a', 'b', 'c']",
            (&["the sub-question"], Some(Note::RewriterFallback)),
        );
        check(
            r#"{"queries": "not a list"}"#,
            (&["the sub-question"], Some(Note::RewriterFallback)),
        );
        check(
            r#"{"queries": [1, 2]}"#,
            (&["the sub-question"], Some(Note::RewriterFallback)),
        );
        // Code is never run: this is just text that does not parse.
        check(
            r#"{"queries": __import__('os').system('x')}"#,
            (&["the sub-question"], Some(Note::RewriterFallback)),
        );
    }

    #[test]
    fn thoughts_lose_their_label_and_close_cut_tags() {
        let reply = ChatResponse {
            text: "Thought: <think> plan </think>\n<search> [{\"query\": \"q\", \"intent\": 1}] "
                .into(),
            usage: chat::Usage::default(),
            finish_reason: FinishReason::Stop,
            ..ChatResponse::default()
        };
        let t = read_thought(&reply);
        assert_eq!(
            t.text,
            "<think> plan </think>\n<search> [{\"query\": \"q\", \"intent\": 1}]</search>"
        );
        assert!(matches!(t.action, Action::Search(ref p) if subquery(&p.join("\n")) == "q"));
    }
}

#[cfg(test)]
mod properties {
    //! The Rewriter's reply reader on any text: never a panic, always clean queries, and a fixed
    //! point: its queries written back as the JSON it asks for read the same. `PROPTEST_CASES`
    //! raises the case count.

    use proptest::prelude::*;

    use super::*;

    /// Replies as models write them: JSON objects with a `queries` list of anything, prose
    /// around them, broken JSON, stray braces and tags, arbitrary text.
    fn reply() -> impl Strategy<Value = String> {
        let query = prop_oneof![
            "[a-z <>]{0,12}".prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
        ];
        let object = prop::collection::vec(query, 0..5)
            .prop_map(|queries| serde_json::json!({ "queries": queries }).to_string());
        let piece = prop_oneof![
            object,
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("\"queries\": [".to_owned()),
            Just("<search>".to_owned()),
            "[a-z ]{0,10}",
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn queries_are_clean_and_read_back_the_same(reply in reply(), subquery in any::<String>()) {
            crate::invariants::rewriter_reply(&reply, &subquery);
        }
    }
}
