//! The multi-agent teacher: the paper's construction (`cot_construct.py`).
//!
//! Planner → (Rewriter → search → Observer)×n: the Planner plans and asks a first sub-question;
//! the Rewriter turns the current step into at least three keyword queries (JSON, parsed
//! strictly, never evaluated); each query is searched and the result lists are merged
//! round-robin by rank, duplicates removed, cut at `merged_k`; the Observer reads the latest
//! results and answers, plans the next step or reflects. At most `max_rounds` searches.
//!
//! Fixed on the way: the original failed a whole trajectory when the Rewriter's JSON did not
//! parse; here the planned sub-question is searched instead ([`Note::RewriterFallback`]). The
//! original also let a fifth search run and then threw its answer away; here the budget ends
//! after the last allowed search's observation.

use std::time::Instant;

use chat::{ChatModel, ChatRequest, ChatResponse, Message};
use formats::{Note, Step, StepKind};
use search::Searcher;
use serde_json::Value;

use crate::{
    attempt::{Attempt, End},
    chatml::Round,
    information::information_block,
    prompts::{Prompts, fill},
    tags::{Action, parse_turn},
};

/// How the teacher runs.
#[derive(Debug, Clone)]
pub struct MultiAgentConfig {
    /// Searches allowed (the original's effective budget: 4).
    pub max_rounds: usize,
    /// Results asked for per rewritten query (the original's `num=10`).
    pub per_query_k: usize,
    /// Results kept after merging (the original's 10).
    pub merged_k: usize,
    /// Token limit of a Planner or Observer reply.
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

impl Default for MultiAgentConfig {
    fn default() -> Self {
        MultiAgentConfig {
            max_rounds: 4,
            per_query_k: 10,
            merged_k: 10,
            max_tokens: 768,
            temperature: Some(0.0),
        }
    }
}

/// Runs the agents on `query` (a question, or a masked passage with its instruction).
pub async fn run(
    model: &dyn ChatModel,
    searcher: &dyn Searcher,
    prompts: &Prompts,
    system: &str,
    query: &str,
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
    // The planned sub-question of each search round: the student transcript's `<search>`.
    let mut subqueries = Vec::new();
    agent.drive(query, &mut out, &mut subqueries).await;
    out.transcript = transcript(&out, &subqueries);
    out
}

impl Agent<'_> {
    /// The Planner / Rewriter / search / Observer loop; sets `out.end`.
    async fn drive(&self, query: &str, out: &mut Attempt, subqueries: &mut Vec<String>) {
        let planner = fill(&self.prompts.planner, &[("question", query)]);
        let Some(mut reply) = self.ask(StepKind::Planner, planner, out).await else {
            return;
        };
        // Every thought so far, each with the Rewriter's JSON appended, as the Observer sees them.
        let mut thoughts: Vec<String> = Vec::new();
        loop {
            let thought = read_thought(&reply);
            let subquery = match thought.action {
                Action::Answer(answer) => {
                    out.final_text = Some(thought.text);
                    out.end = End::Answered(answer);
                    return;
                }
                Action::Search(payload) => subquery(&payload),
                Action::Invalid => String::new(),
            };
            if out.rounds.len() == self.config.max_rounds {
                return;
            }
            let rewriter = fill(&self.prompts.rewriter, &[("thought", &thought.text)]);
            let Some(rewritten) = self.ask(StepKind::Rewriter, rewriter, out).await else {
                return;
            };
            let rewritten = rewritten.text;
            let (queries, note) = read_queries(&rewritten, &subquery);
            if let (Some(note), Some(step)) = (note, out.steps.last_mut()) {
                step.notes.push(note);
            }
            if queries.is_empty() {
                out.end = End::Malformed(
                    "neither the thought nor the Rewriter gave anything to search".to_string(),
                );
                return;
            }
            let information = match search_all(self.searcher, &queries, self.config, out).await {
                Ok(block) => block,
                Err(message) => {
                    out.end = End::SearchFailed(message);
                    return;
                }
            };
            let arguments = serde_json::json!({ "queries": queries }).to_string();
            thoughts.push(format!("Thought: {}\n{arguments}", thought.text));
            subqueries.push(if subquery.is_empty() {
                queries[0].clone()
            } else {
                subquery
            });
            out.rounds.push(Round::Search {
                thought: thought.text,
                queries,
                information: information.clone(),
            });
            let observer = fill(
                &self.prompts.observer,
                &[
                    ("question", query),
                    ("thoughts", &thoughts.join("\n")),
                    ("observation", information.trim()),
                ],
            );
            let Some(next) = self.ask(StepKind::Observer, observer, out).await else {
                return;
            };
            reply = next;
        }
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
/// `{` to the last `}`), trimmed and de-duplicated. No JSON list: the sub-question alone.
fn read_queries(reply: &str, subquery: &str) -> (Vec<String>, Option<Note>) {
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
        let fallback: Vec<String> = Some(subquery.trim().to_string())
            .filter(|q| !q.is_empty())
            .into_iter()
            .collect();
        return (fallback, Some(Note::RewriterFallback));
    };
    let mut queries: Vec<String> = Vec::new();
    for q in list.iter().filter_map(Value::as_str).map(str::trim) {
        if !q.is_empty() && !queries.iter().any(|have| have == q) {
            queries.push(q.to_string());
        }
    }
    if queries.is_empty() {
        return read_queries("", subquery);
    }
    let note = (queries.len() < 3).then_some(Note::FewQueries);
    (queries, note)
}

/// Searches every query, merges the lists, records the step; the information block.
async fn search_all(
    searcher: &dyn Searcher,
    queries: &[String],
    config: &MultiAgentConfig,
    out: &mut Attempt,
) -> Result<String, String> {
    let started = Instant::now();
    let lists = searcher
        .batch_search(queries, config.per_query_k)
        .await
        .map_err(|e| e.to_string())?;
    let merged = search::merge(&lists, config.merged_k);
    let hits: Vec<search::SearchHit> = merged.hits.iter().map(|m| m.hit.clone()).collect();
    let block = information_block(&hits);
    let mut step = Step::new(StepKind::Search);
    step.ms = started.elapsed().as_millis() as u64;
    step.queries = queries.to_vec();
    step.doc_ids = hits.iter().map(|h| h.passage.id.clone()).collect();
    step.duplicates_removed = merged.duplicates_removed() as u64;
    step.text = block.clone();
    if hits.is_empty() {
        step.notes.push(Note::NoResults);
    }
    out.search_step(step);
    Ok(block)
}

/// The student-format transcript of a multi-agent attempt: each round's thought with its
/// `<search>` holding the planned sub-question, the information the merged search returned,
/// then the final reply.
fn transcript(outcome: &Attempt, subqueries: &[String]) -> String {
    let mut out = String::new();
    for (round, subquery) in outcome.rounds.iter().zip(subqueries) {
        let Round::Search {
            thought,
            information,
            ..
        } = round
        else {
            continue;
        };
        let think = thought
            .find("<search>")
            .map_or(thought.as_str(), |at| &thought[..at]);
        out.push_str(think.trim_end());
        out.push_str(&format!("\n<search> {subquery} </search>"));
        out.push_str(information);
    }
    if let Some(text) = &outcome.final_text {
        out.push_str(text);
    }
    out
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
        };
        let t = read_thought(&reply);
        assert_eq!(
            t.text,
            "<think> plan </think>\n<search> [{\"query\": \"q\", \"intent\": 1}]</search>"
        );
        assert!(matches!(t.action, Action::Search(ref p) if subquery(p) == "q"));
    }
}
