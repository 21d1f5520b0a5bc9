//! The rounds table: per round, the samples tried, accepted, the acceptance rate, mean turns and
//! tokens, and how large the merged data has grown — as JSON (`rounds.json`) and Markdown
//! (`rounds.md`).

use std::path::Path;

use formats::{Teacher, Trajectory};
use serde::{Deserialize, Serialize};

use crate::AgentError;

/// One round's line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRow {
    pub round: u32,
    pub teacher: Teacher,
    /// The model that acted (empty for the rule teacher).
    pub model: String,
    /// Samples the round's teacher attempted.
    pub tried: u64,
    pub accepted: u64,
    /// `accepted / tried` (0 when nothing was tried).
    pub acceptance: f64,
    /// Assistant turns per attempt (each search turn and the answer), over all attempts.
    pub mean_turns: f64,
    /// Prompt and completion tokens of every model call of the round, the judge's included.
    pub tokens: u64,
    /// Trajectories in the merged data after this round.
    pub merged: u64,
}

impl RoundRow {
    /// The row of a round from its attempts (accepted and rejected); `merged` is left 0.
    pub fn from_attempts<'a>(
        round: u32,
        teacher: Teacher,
        model: &str,
        attempts: impl IntoIterator<Item = &'a Trajectory>,
    ) -> RoundRow {
        let mut sums = Sums::default();
        attempts.into_iter().for_each(|t| sums.add(t));
        sums.row(round, teacher, model)
    }

    /// The row of a round from its output files, read as a stream.
    pub fn read(
        round: u32,
        teacher: Teacher,
        model: &str,
        files: &[&Path],
    ) -> Result<RoundRow, AgentError> {
        let mut sums = Sums::default();
        for path in files.iter().filter(|p| p.exists()) {
            for t in formats::read_jsonl::<Trajectory>(path)? {
                sums.add(&t?);
            }
        }
        Ok(sums.row(round, teacher, model))
    }
}

/// What a row is computed from.
#[derive(Default)]
struct Sums {
    tried: u64,
    accepted: u64,
    turns: u64,
    tokens: u64,
}

impl Sums {
    fn add(&mut self, t: &Trajectory) {
        self.tried += 1;
        self.accepted += u64::from(t.accepted);
        let assistant = t.chatml.messages.iter().filter(|m| m.role == "assistant");
        self.turns += assistant.count() as u64;
        self.tokens += t.usage.prompt_tokens + t.usage.completion_tokens;
    }

    fn row(self, round: u32, teacher: Teacher, model: &str) -> RoundRow {
        let per_try = |n: u64| {
            if self.tried == 0 {
                0.0
            } else {
                n as f64 / self.tried as f64
            }
        };
        RoundRow {
            round,
            teacher,
            model: model.to_string(),
            tried: self.tried,
            accepted: self.accepted,
            acceptance: per_try(self.accepted),
            mean_turns: per_try(self.turns),
            tokens: self.tokens,
            merged: 0,
        }
    }
}

/// The table as Markdown, one line per round.
pub fn markdown(rows: &[RoundRow]) -> String {
    let mut out = String::from(
        "| round | teacher | model | tried | accepted | rate | mean turns | tokens | merged |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let model = if r.model.is_empty() { "–" } else { &r.model };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1}% | {:.2} | {} | {} |\n",
            r.round,
            r.teacher.as_str(),
            model,
            r.tried,
            r.accepted,
            100.0 * r.acceptance,
            r.mean_turns,
            r.tokens,
            r.merged
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::{ChatmlMessage, ChatmlRecord, Task, TaskKind, TokenUse};

    fn attempt(accepted: bool, assistant_turns: usize, tokens: u64) -> Trajectory {
        let message = |role: &str| ChatmlMessage {
            role: role.into(),
            content: String::new(),
            name: None,
            function_call: None,
            finish_reason: None,
            response_role: None,
        };
        let mut messages = vec![message("system"), message("user")];
        for _ in 0..assistant_turns {
            messages.extend([message("assistant"), message("function")]);
        }
        Trajectory {
            id: "x".into(),
            teacher: Teacher::Agent,
            round: 1,
            model: "m".into(),
            task: Task {
                kind: TaskKind::Qa,
                query: "q".into(),
                golds: vec!["a".into()],
                masks: vec![],
            },
            accepted,
            rejection: None,
            detail: String::new(),
            answer: None,
            transcript: String::new(),
            chatml: ChatmlRecord {
                kind: "chatml".into(),
                messages,
                functions: vec![],
                ext: serde_json::Value::Null,
            },
            steps: vec![],
            search: Default::default(),
            verdict: Default::default(),
            usage: TokenUse {
                model_calls: 1,
                prompt_tokens: tokens,
                completion_tokens: 1,
            },
            ms: 0,
        }
    }

    #[test]
    fn a_row_counts_attempts_turns_and_tokens() {
        let attempts = [
            attempt(true, 2, 10),
            attempt(false, 1, 20),
            attempt(true, 3, 30),
        ];
        let row = RoundRow::from_attempts(1, Teacher::Agent, "student", &attempts);
        assert_eq!((row.tried, row.accepted, row.tokens), (3, 2, 63));
        assert!((row.acceptance - 2.0 / 3.0).abs() < 1e-9);
        assert!((row.mean_turns - 2.0).abs() < 1e-9);
    }

    #[test]
    fn an_empty_round_has_zero_rates() {
        let row = RoundRow::from_attempts(0, Teacher::Rule, "", &[]);
        assert_eq!((row.tried, row.acceptance, row.mean_turns), (0, 0.0, 0.0));
    }

    #[test]
    fn the_markdown_table_has_a_line_per_round() {
        let mut rows = vec![
            RoundRow::from_attempts(0, Teacher::Rule, "", &[attempt(true, 2, 0)]),
            RoundRow::from_attempts(1, Teacher::Agent, "student", &[attempt(false, 1, 5)]),
        ];
        rows[0].merged = 1;
        rows[1].merged = 1;
        assert_eq!(
            markdown(&rows),
            "| round | teacher | model | tried | accepted | rate | mean turns | tokens | merged |\n\
             |---:|---|---|---:|---:|---:|---:|---:|---:|\n\
             | 0 | rule | – | 1 | 1 | 100.0% | 2.00 | 1 | 1 |\n\
             | 1 | agent | student | 1 | 0 | 0.0% | 1.00 | 6 | 1 |\n"
        );
    }
}
