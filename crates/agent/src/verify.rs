//! Verification: the LLM judge (the paper's correct/incorrect prompt) and the string metrics
//! against the gold, combined by an accept policy.
//!
//! The original counted a judge reply as "correct" unless it contained "incorrect" — an empty
//! reply or a refusal passed. Here a reply must say one of the two words; anything else is an
//! unclear verdict ([`Note::UnclearVerdict`]) and is not accepted by the judge.

use std::{collections::BTreeMap, time::Instant};

use chat::{ChatModel, ChatRequest, Message};
use formats::{Note, Step, StepKind, Task, TaskKind, Verdict};

use crate::prompts::{Prompts, fill};

/// What must hold for a trajectory to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptPolicy {
    /// The LLM judge says correct (the paper's filter).
    #[default]
    Judge,
    /// The metric reaches the threshold: token recall for questions, the share of masks
    /// recovered for RAMP samples.
    Metric,
    /// Both.
    Both,
}

impl AcceptPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptPolicy::Judge => "judge",
            AcceptPolicy::Metric => "metric",
            AcceptPolicy::Both => "both",
        }
    }

    pub fn needs_judge(self) -> bool {
        self != AcceptPolicy::Metric
    }
}

impl std::str::FromStr for AcceptPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "judge" => Ok(AcceptPolicy::Judge),
            "metric" => Ok(AcceptPolicy::Metric),
            "both" => Ok(AcceptPolicy::Both),
            _ => Err(format!(
                "unknown accept policy {s:?}; expected judge, metric or both"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub policy: AcceptPolicy,
    /// The metric an answer must reach under [`AcceptPolicy::Metric`] / [`AcceptPolicy::Both`].
    pub threshold: f64,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            policy: AcceptPolicy::Judge,
            threshold: 1.0,
        }
    }
}

/// The string metrics of `answer` for `task`, filled into `verdict`; returns the accept metric
/// (token recall for questions, the share of masks recovered for RAMP samples).
pub fn score(task: &Task, answer: &str, verdict: &mut Verdict) -> f64 {
    let scores = metrics::score(answer, &task.golds);
    verdict.scores = BTreeMap::from([
        ("em".to_string(), scores.em),
        ("f1".to_string(), scores.f1),
        ("token_recall".to_string(), scores.token_recall),
        ("acc".to_string(), scores.acc),
        ("cover_em".to_string(), scores.cover_em),
    ]);
    match task.kind {
        TaskKind::Qa => scores.token_recall,
        TaskKind::Ramp => {
            let masks = metrics::score_masks_aligned(&task.masks, &task.query, answer);
            verdict.masks_recovered = masks.masks.iter().map(|m| m.recovered).collect();
            verdict
                .scores
                .insert("masks_recovered".to_string(), masks.recovered);
            masks.recovered
        }
    }
}

/// Reads a judge reply: `Some(true)` for "correct", `Some(false)` for "incorrect", `None` when
/// it says neither (or both).
pub fn read_verdict(reply: &str) -> Option<bool> {
    let words: Vec<String> = reply
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let incorrect = words.iter().any(|w| w == "incorrect");
    let correct = words.iter().any(|w| w == "correct");
    match (correct, incorrect) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Asks the judge whether `response` answers `task`; fills the verdict and returns the step.
pub async fn judge(
    model: &dyn ChatModel,
    prompts: &Prompts,
    task: &Task,
    response: &str,
    seed: Option<u64>,
    verdict: &mut Verdict,
) -> Result<Step, chat::ChatError> {
    let started = Instant::now();
    let gold = task.golds.join(" / ");
    let prompt = fill(
        &prompts.judge,
        &[
            ("question", &task.query),
            ("answer", &gold),
            ("response", response),
        ],
    );
    let request = ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(0.0),
        max_tokens: Some(8),
        seed,
        ..ChatRequest::default()
    };
    let reply = model.chat(&request).await?;
    let mut step = Step::new(StepKind::Judge);
    step.ms = started.elapsed().as_millis() as u64;
    step.text = reply.text.clone();
    step.prompt_tokens = reply.usage.prompt_tokens;
    step.completion_tokens = reply.usage.completion_tokens;
    verdict.judge = read_verdict(&reply.text);
    verdict.judge_reply = reply.text;
    if verdict.judge.is_none() {
        step.notes.push(Note::UnclearVerdict);
    }
    Ok(step)
}

/// Whether the verdict passes `config`, given the accept metric.
pub fn accepts(
    config: &VerifyConfig,
    verdict: &Verdict,
    metric: f64,
) -> Result<(), formats::Rejection> {
    let judged = verdict.judge == Some(true);
    let measured = metric >= config.threshold;
    match config.policy {
        AcceptPolicy::Judge if !judged => Err(formats::Rejection::Judge),
        AcceptPolicy::Metric if !measured => Err(formats::Rejection::Metric),
        AcceptPolicy::Both if !judged => Err(formats::Rejection::Judge),
        AcceptPolicy::Both if !measured => Err(formats::Rejection::Metric),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_must_say_one_word_or_the_other() {
        let cases = [
            ("correct", Some(true)),
            ("Correct.", Some(true)),
            (" incorrect", Some(false)),
            ("The response is INCORRECT", Some(false)),
            ("", None),
            ("I cannot judge this.", None),
            ("correct or incorrect", None),
            ("correctly", None),
        ];
        for (reply, expect) in cases {
            assert_eq!(read_verdict(reply), expect, "{reply:?}");
        }
    }

    fn ramp_task() -> Task {
        Task {
            kind: TaskKind::Ramp,
            query: "Andrew Barto received his [mask] with distinction in [mask] from the University of Michigan in 1970.\n\nFill in all the [mask] and output the whole paragraph without changing its format.".into(),
            golds: vec!["Andrew Barto received his B.S. with distinction in mathematics from the University of Michigan in 1970.".into()],
            masks: vec!["B.S.".into(), "mathematics".into()],
        }
    }

    #[test]
    fn ramp_answers_are_scored_mask_by_mask() {
        let mut v = Verdict::default();
        let m = score(
            &ramp_task(),
            "Andrew Barto received his B.S. with distinction in physics from the University of Michigan in 1970.",
            &mut v,
        );
        assert_eq!(v.masks_recovered, [true, false]);
        assert_eq!(m, 0.5);
        assert!(v.scores["f1"] > 0.8);
    }

    #[test]
    fn policies_combine_judge_and_metric() {
        let config = |policy| VerifyConfig {
            policy,
            threshold: 0.8,
        };
        let verdict = |judge| Verdict {
            judge,
            ..Verdict::default()
        };
        use AcceptPolicy::*;
        use formats::Rejection;
        assert_eq!(accepts(&config(Judge), &verdict(Some(true)), 0.0), Ok(()));
        assert_eq!(
            accepts(&config(Judge), &verdict(None), 1.0),
            Err(Rejection::Judge)
        );
        assert_eq!(accepts(&config(Metric), &verdict(None), 0.9), Ok(()));
        assert_eq!(
            accepts(&config(Metric), &verdict(Some(true)), 0.5),
            Err(Rejection::Metric)
        );
        assert_eq!(
            accepts(&config(Both), &verdict(Some(true)), 0.5),
            Err(Rejection::Metric)
        );
        assert_eq!(
            accepts(&config(Both), &verdict(Some(false)), 1.0),
            Err(Rejection::Judge)
        );
        assert_eq!(accepts(&config(Both), &verdict(Some(true)), 0.8), Ok(()));
    }
}
