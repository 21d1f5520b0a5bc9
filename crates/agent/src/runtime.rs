//! The search-agent runtime: one model in the student format (`student`, Search-R1
//! compatible).
//!
//! The model reasons in `<think>`, searches with `<search>` (one query, or several one per
//! line), reads the `<information>` the runtime answers with, and ends with `<answer>`. Up to
//! `max_turns` searches, then — as Search-R1 rolls out — one last generation in which searching
//! is disabled. Searches are answered by `student::observe`, the same function the teachers'
//! searches went through, so a student trained on their trajectories reads here exactly what it
//! read in training.
//!
//! Two ways to talk to a model in the tags style:
//! - [`Mode::Turns`] (the default): each generation is an assistant turn and each information
//!   block a user turn, as the SFT export writes them (sharegpt `gpt` / `human` turns) and as
//!   verl's agent loop rolls out;
//! - [`Mode::Continuation`]: one assistant message grows by each generation and information
//!   block and the model continues it (`continue_final_message`), as Search-R1 rolls out.
//!
//! And one in the tools style ([`Style::Tools`], for a student trained on the tools-style
//! export): the original record's system message and the task as the user turn, the
//! `web_search` tool offered over the OpenAI `tools` API; a call's queries are answered by the
//! same `student::observe` as a tool message, and the answer is an `<answer>` in plain text. The
//! transcript writes each call as the `<search>` it stands for, so both styles record alike.

use std::time::Instant;

use chat::{ChatModel, ChatRequest, ChatResponse, Message, Tool, ToolCall};
use formats::{Note, Step, StepKind};
use search::Searcher;
use student::{
    Action, INVALID_ACTION_OBSERVATION, STOPS, Style, Template, Turn, observe, parse_turn,
    search_element,
};

use crate::{
    attempt::{Attempt, End},
    chatml::{self, Round},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Turns,
    Continuation,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Turns => "turns",
            Mode::Continuation => "continuation",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "turns" => Ok(Mode::Turns),
            "continuation" => Ok(Mode::Continuation),
            _ => Err(format!(
                "unknown mode {s:?}; expected turns or continuation"
            )),
        }
    }
}

/// How the runtime drives a model.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Searches allowed before the final, search-disabled turn.
    pub max_turns: usize,
    /// Documents per search (`student::observe`).
    pub topk: usize,
    /// Token limit of one generation.
    pub max_tokens_per_turn: u32,
    /// Where a generation stops (the closing action tags by default).
    pub stops: Vec<String>,
    /// The instruction of the one user prompt (tags style).
    pub template: Template,
    pub mode: Mode,
    /// The student format the model was trained on.
    pub style: Style,
    /// Tools style: the day the system message's "current time" counts back from, as the
    /// teacher's record does [default: today].
    pub today: Option<time::Date>,
    pub temperature: Option<f32>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_turns: 4,
            topk: student::DEFAULT_TOPK,
            max_tokens_per_turn: student::MAX_TOKENS_PER_TURN,
            stops: STOPS.iter().map(|s| s.to_string()).collect(),
            template: Template::default(),
            mode: Mode::Turns,
            style: Style::Tags,
            today: None,
            temperature: Some(0.0),
        }
    }
}

impl RuntimeConfig {
    /// The user prompt for `question`.
    pub fn prompt(&self, question: &str) -> String {
        self.template.prompt(question)
    }
}

/// What the runtime is asked: the question, and the passages its searches must never show (a
/// RAMP sample's own passage, when the run leaves it out).
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub question: &'a str,
    pub exclude: &'a [String],
}

impl<'a> Ask<'a> {
    pub fn question(question: &'a str) -> Self {
        Ask {
            question,
            exclude: &[],
        }
    }
}

/// Runs `model` on `ask` with `searcher` until it answers or the turns run out.
pub async fn rollout(
    model: &dyn ChatModel,
    searcher: &dyn Searcher,
    ask: Ask<'_>,
    config: &RuntimeConfig,
    seed: Option<u64>,
) -> Attempt {
    rollout_observed(model, searcher, ask, config, seed, &|_| {}).await
}

/// [`rollout`], calling `on_step` with each step as soon as it is recorded (a model turn, then
/// its search), for a caller that shows the agent at work.
pub async fn rollout_observed(
    model: &dyn ChatModel,
    searcher: &dyn Searcher,
    ask: Ask<'_>,
    config: &RuntimeConfig,
    seed: Option<u64>,
    on_step: &(dyn Fn(&Step) + Send + Sync),
) -> Attempt {
    let observe_step = |r: &Attempt| {
        if let Some(step) = r.steps.last() {
            on_step(step);
        }
    };
    let opening = opening(ask.question, config, seed);
    let tools_style = config.style == Style::Tools;
    let mut r = Attempt::new(searcher);
    let mut thought = false;
    // Every turn but the last may search; the last only answers.
    for turn_index in 0..=config.max_turns {
        let can_search = turn_index < config.max_turns;
        let started = Instant::now();
        let request = ChatRequest {
            messages: messages(&opening, &r, config),
            temperature: config.temperature,
            max_tokens: Some(config.max_tokens_per_turn),
            stop: config.stops.clone(),
            seed,
            continue_final_message: config.mode == Mode::Continuation
                && !tools_style
                && !r.transcript.is_empty(),
            tools: if tools_style {
                vec![web_search_tool()]
            } else {
                Vec::new()
            },
            ..ChatRequest::default()
        };
        let response = match model.chat(&request).await {
            Ok(response) => response,
            Err(e) => {
                r.end = End::ModelFailed(e.to_string());
                return r;
            }
        };
        let (turn, said) = read_turn(&response, config.style, thought);
        thought |= turn.text.contains("<think>");
        let mut step = Step::new(StepKind::Model);
        step.ms = started.elapsed().as_millis() as u64;
        step.text = turn.text.clone();
        step.notes = turn.notes.clone();
        r.transcript.push_str(&turn.text);
        match turn.action {
            Action::Answer(answer) => {
                r.model_step(step, &response);
                observe_step(&r);
                r.final_text = Some(turn.text);
                r.end = End::Answered(answer);
                return r;
            }
            Action::Search(queries) if can_search => {
                r.model_step(step, &response);
                observe_step(&r);
                let started = Instant::now();
                let seen = match observe(searcher, &queries, config.topk, ask.exclude).await {
                    Ok(seen) => seen,
                    Err(e) => {
                        r.end = End::SearchFailed(e.to_string());
                        return r;
                    }
                };
                r.search_step(search_step(&queries, &seen, started));
                observe_step(&r);
                r.transcript.push_str(&seen.block);
                r.rounds.push(Round::Search {
                    thought: said,
                    queries,
                    information: seen.block,
                });
            }
            action => {
                if matches!(action, Action::Search(_)) {
                    step.notes.push(Note::SearchDisabled);
                }
                r.model_step(step, &response);
                observe_step(&r);
                r.transcript.push_str(INVALID_ACTION_OBSERVATION);
                r.rounds.push(Round::Invalid {
                    text: said,
                    correction: INVALID_ACTION_OBSERVATION.to_string(),
                });
            }
        }
    }
    r
}

/// The step recording what answered `queries`.
pub(crate) fn search_step(
    queries: &[String],
    seen: &student::Observation,
    started: Instant,
) -> Step {
    let mut step = Step::new(StepKind::Search);
    step.ms = started.elapsed().as_millis() as u64;
    step.queries = queries.to_vec();
    step.doc_ids = seen.hits.iter().map(|h| h.passage.id.clone()).collect();
    step.duplicates_removed = seen.duplicates_removed as u64;
    step.text = seen.block.clone();
    if seen.hits.is_empty() {
        step.notes.push(Note::NoResults);
    }
    step
}

/// The messages every request starts with: the instruction and the question (tags style); the
/// original record's system message and the task (tools style).
fn opening(question: &str, config: &RuntimeConfig, seed: Option<u64>) -> Vec<Message> {
    match config.style {
        Style::Tags => vec![Message::user(config.prompt(question))],
        Style::Tools => {
            let today = config
                .today
                .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
            let system = chatml::system_message(today, seed.unwrap_or(0));
            vec![Message::system(system), Message::user(question)]
        }
    }
}

/// The `web_search` tool as a chat request offers it.
fn web_search_tool() -> Tool {
    Tool {
        name: student::tools::NAME.to_string(),
        description: student::tools::DESCRIPTION.to_string(),
        parameters: student::tools::parameters(),
    }
}

/// Reads one reply: the turn as the transcript records it (a tools-style call written as the
/// `<search>` it stands for), and what the model said in its own style (the round's thought).
fn read_turn(response: &ChatResponse, style: Style, thought_before: bool) -> (Turn, String) {
    let turn = parse_turn(&response.text, response.finish_reason, thought_before);
    if style == Style::Tags {
        let said = turn.text.clone();
        return (turn, said);
    }
    let call = response
        .tool_calls
        .iter()
        .find(|c| c.name == student::tools::NAME)
        .and_then(|c| student::tools::queries_of(&serde_json::Value::String(c.arguments.clone())));
    let Some(queries) = call else {
        // No usable call: the text itself is the turn (an answer, or nothing to act on).
        let action = match turn.action {
            Action::Answer(answer) => Action::Answer(answer),
            _ => Action::Invalid,
        };
        let said = response.text.clone();
        return (Turn { action, ..turn }, said);
    };
    let said = response.text.trim().to_string();
    let element = search_element(&queries).unwrap_or_default();
    let text = if said.is_empty() {
        element
    } else {
        format!("{said}\n{element}")
    };
    let turn = Turn {
        text,
        action: Action::Search(queries),
        notes: Vec::new(),
    };
    (turn, said)
}

/// The conversation so far, as the style and mode present it. In turns mode each assistant
/// turn and each observation is trimmed, as the SFT export writes them; in the tools style each
/// search is a call answered by a tool message.
fn messages(opening: &[Message], r: &Attempt, config: &RuntimeConfig) -> Vec<Message> {
    let mut messages = opening.to_vec();
    if config.mode == Mode::Continuation && config.style == Style::Tags {
        if !r.transcript.is_empty() {
            messages.push(Message::assistant(r.transcript.clone()));
        }
        return messages;
    }
    for (i, round) in r.rounds.iter().enumerate() {
        match round {
            Round::Search {
                thought,
                queries,
                information,
            } if config.style == Style::Tools => {
                let id = format!("call_{i}");
                let call = ToolCall {
                    id: id.clone(),
                    name: student::tools::NAME.to_string(),
                    arguments: student::tools::arguments(queries),
                };
                messages.push(Message::assistant_calls(thought.trim(), vec![call]));
                messages.push(Message::tool(id, information.trim()));
            }
            Round::Search {
                thought,
                information,
                ..
            } => {
                messages.push(Message::assistant(thought.trim()));
                messages.push(Message::user(information.trim()));
            }
            Round::Invalid { text, correction } => {
                messages.push(Message::assistant(text.trim()));
                messages.push(Message::user(correction.trim()));
            }
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chat::{
        ChatResponse, FinishReason,
        testing::{self, Scripted},
    };
    use formats::Passage;
    use search::SearchError;

    use super::*;

    /// Answers with the scripted generations in order and records the requests.
    fn scripted(replies: Vec<(&'static str, FinishReason)>) -> Scripted {
        Scripted::queue(
            "scripted",
            replies.into_iter().map(|(t, finish_reason)| ChatResponse {
                finish_reason,
                ..testing::text(t)
            }),
        )
    }

    /// One document per query, titled by the query; fails on "down".
    fn echo() -> search::testing::Scripted {
        search::testing::Scripted::new("echo", |q, k| {
            if q == "down" {
                return Err(SearchError::Backend {
                    backend: "echo".into(),
                    message: "down".into(),
                });
            }
            Ok((0..k.min(1))
                .map(|i| {
                    let doc = Passage::new(format!("{q}#{i}"), q, format!("About {q}."));
                    search::testing::hit(doc, 1.0)
                })
                .collect())
        })
    }

    use FinishReason::{Length, Stop};

    #[tokio::test]
    async fn searches_then_answers_in_one_growing_message() {
        let model = scripted(vec![
            ("<think>need it</think>\n<search> Mona Lisa ", Stop),
            ("<think>found</think>\n<answer> Leonardo ", Stop),
        ]);
        let r = rollout(
            &model,
            &echo(),
            Ask::question("who painted the Mona Lisa"),
            &RuntimeConfig {
                mode: Mode::Continuation,
                ..RuntimeConfig::default()
            },
            Some(1),
        )
        .await;
        assert_eq!(r.end, End::Answered("Leonardo".into()));
        assert_eq!(
            r.transcript,
            "<think>need it</think>\n<search> Mona Lisa </search>\n\n<information>Doc 1(Title: \"Mona Lisa\") About Mona Lisa.</information>\n\n<think>found</think>\n<answer> Leonardo </answer>"
        );
        let seen = model.seen();
        assert!(
            seen[0].messages[0]
                .content
                .ends_with("Question: who painted the Mona Lisa?\n")
        );
        assert_eq!(seen[0].messages.len(), 1);
        assert!(!seen[0].continue_final_message);
        assert_eq!(
            seen[1].messages.len(),
            2,
            "user + the growing assistant message"
        );
        assert!(seen[1].continue_final_message);
        assert_eq!(
            seen[1].messages[1].content,
            r.transcript[..r.transcript.find("<think>found").unwrap()]
        );
        assert_eq!((r.usage.model_calls, r.search.calls), (2, 1));
        let kinds: Vec<StepKind> = r.steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StepKind::Model, StepKind::Search, StepKind::Model]);
        assert_eq!(r.steps[1].doc_ids, ["Mona Lisa#0"]);
    }

    #[tokio::test]
    async fn stops_token_limit_template_and_topk_reach_every_request_and_search() {
        let model = scripted(vec![
            ("<think>a</think><search>q", Stop),
            ("<think>b</think><answer>x", Stop),
        ]);
        let searcher = echo();
        let config = RuntimeConfig {
            topk: 7,
            max_tokens_per_turn: 64,
            stops: vec!["</search>".into(), "</answer>".into(), "\nUser:".into()],
            template: Template::new("Q: {question} A:").unwrap(),
            ..RuntimeConfig::default()
        };
        let r = rollout(&model, &searcher, Ask::question("who"), &config, None).await;
        assert_eq!(r.end, End::Answered("x".into()));
        assert_eq!(
            searcher.asked().iter().map(|(_, k)| *k).collect::<Vec<_>>(),
            [7]
        );
        let seen = model.seen();
        assert_eq!(seen.len(), 2);
        for request in seen.iter() {
            assert_eq!(request.messages[0].content, "Q: who? A:");
            assert_eq!(request.max_tokens, Some(64));
            assert_eq!(request.stop, config.stops);
        }
    }

    #[tokio::test]
    async fn the_observer_sees_every_step_as_it_is_recorded() {
        let model = scripted(vec![
            ("no tags", Stop),
            ("<think>a</think><search>q", Stop),
            ("<think>b</think><answer>x", Stop),
        ]);
        let seen = Mutex::new(Vec::new());
        let on_step = |step: &Step| seen.lock().unwrap().push(step.clone());
        let r = rollout_observed(
            &model,
            &echo(),
            Ask::question("q"),
            &RuntimeConfig::default(),
            None,
            &on_step,
        )
        .await;
        assert_eq!(r.end, End::Answered("x".into()));
        assert_eq!(*seen.lock().unwrap(), r.steps);
        assert_eq!(r.steps.len(), 4);
    }

    #[tokio::test]
    async fn turns_mode_sends_information_as_a_user_turn() {
        let model = scripted(vec![
            ("<think>a</think><search>q", Stop),
            ("<think>b</think><answer>x", Stop),
        ]);
        let config = RuntimeConfig {
            mode: Mode::Turns,
            ..RuntimeConfig::default()
        };
        let r = rollout(&model, &echo(), Ask::question("q"), &config, None).await;
        assert_eq!(r.end, End::Answered("x".into()));
        let seen = model.seen();
        let roles: Vec<&str> = seen[1].messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert!(
            seen[1].messages[2]
                .content
                .starts_with("<information>Doc 1")
        );
        assert!(!seen[1].continue_final_message);
    }

    /// Calls `web_search` first, then answers.
    fn caller() -> Scripted {
        Scripted::new("caller", |request| {
            let first = request.messages.len() == 2;
            Ok(ChatResponse {
                text: if first {
                    "<think>need it</think>".into()
                } else {
                    "<think>found</think>\n<answer> Leonardo </answer>".into()
                },
                tool_calls: if first {
                    vec![chat::ToolCall {
                        id: "abc".into(),
                        name: "web_search".into(),
                        arguments: r#"{"queries": ["Mona Lisa", " painter "]}"#.into(),
                    }]
                } else {
                    Vec::new()
                },
                ..ChatResponse::default()
            })
        })
    }

    #[tokio::test]
    async fn the_tools_style_offers_web_search_and_answers_a_call_with_a_tool_message() {
        let model = caller();
        let config = RuntimeConfig {
            style: Style::Tools,
            today: Some(time::macros::date!(2026 - 11 - 27)),
            ..RuntimeConfig::default()
        };
        let question = "Who painted the Mona Lisa?";
        let r = rollout(&model, &echo(), Ask::question(question), &config, Some(0)).await;
        assert_eq!(r.end, End::Answered("Leonardo".into()));
        let seen = model.seen();
        assert_eq!(seen[0].tools[0].name, "web_search");
        assert_eq!(
            seen[0].tools[0].parameters,
            student::tools::openai_tool()["function"]["parameters"]
        );
        let roles = |r: &ChatRequest| r.messages.iter().map(|m| m.role).collect::<Vec<_>>();
        use chat::Role::*;
        assert_eq!(roles(&seen[0]), [System, User]);
        assert_eq!(
            seen[0].messages[0].content,
            crate::chatml::system_message(time::macros::date!(2026 - 11 - 27), 0)
        );
        assert_eq!(
            seen[0].messages[1].content, question,
            "the task, as the record has it"
        );
        assert_eq!(roles(&seen[1]), [System, User, Assistant, Tool]);
        let call = &seen[1].messages[2].tool_calls[0];
        assert_eq!(call.arguments, r#"{"queries":["Mona Lisa","painter"]}"#);
        assert_eq!(seen[1].messages[2].content, "<think>need it</think>");
        assert_eq!(seen[1].messages[3].tool_call_id.as_ref(), Some(&call.id));
        assert_eq!(
            seen[1].messages[3].content,
            "<information>Doc 1(Title: \"Mona Lisa\") About Mona Lisa.\nDoc 2(Title: \"painter\") About painter.</information>"
        );
        assert_eq!(r.steps[1].queries, ["Mona Lisa", "painter"]);
        assert!(
            r.transcript.starts_with(
                "<think>need it</think>\n<search>\nMona Lisa\npainter\n</search>\n\n<information>"
            ),
            "{}",
            r.transcript
        );
        assert!(
            metrics::check_format(&r.transcript).is_ok(),
            "{}",
            r.transcript
        );
    }

    #[tokio::test]
    async fn the_last_turn_cannot_search_and_invalid_turns_get_the_fixed_observation() {
        let model = scripted(vec![
            ("I do not know the tags.", Stop),
            ("<think>a</think><search>q1", Stop),
            ("<think>b</think><search>q2", Stop),
        ]);
        let config = RuntimeConfig {
            max_turns: 2,
            ..RuntimeConfig::default()
        };
        let r = rollout(&model, &echo(), Ask::question("q"), &config, None).await;
        assert_eq!(r.end, End::MaxTurns);
        assert_eq!(r.search.calls, 1);
        assert!(r.transcript.contains(INVALID_ACTION_OBSERVATION));
        assert_eq!(r.steps[0].notes, [Note::InvalidAction]);
        assert_eq!(r.steps.last().unwrap().notes, [Note::SearchDisabled]);
    }

    #[tokio::test]
    async fn failures_end_the_rollout_with_their_reason() {
        let (echo, config) = (echo(), RuntimeConfig::default());
        let model = scripted(vec![("<think>a</think><search>down", Stop)]);
        let r = rollout(&model, &echo, Ask::question("q"), &config, None).await;
        assert!(
            matches!(r.end, End::SearchFailed(ref m) if m.contains("down")),
            "{:?}",
            r.end
        );
        let model = scripted(vec![("<think>a</think><search>truncated", Length)]);
        let r = rollout(&model, &echo, Ask::question("q"), &config, None).await;
        assert!(matches!(r.end, End::ModelFailed(_)), "{:?}", r.end);
        assert_eq!(r.steps[0].notes, [Note::UnclosedTag, Note::InvalidAction]);
    }
}
