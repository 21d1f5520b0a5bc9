//! `Prediction`: one method's answer to one question with everything needed to score it again
//! and to see why it scored what it did — one line of the predictions JSONL.

use agent::Prompts;
use chat::ChatModel;
use formats::{Task, TaskKind, Verdict};
use metrics::{Normalization, Scores};
use serde::{Deserialize, Serialize};

/// One line of the predictions file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// `direct`, `rag-pe`, `agent-pe`, `agent`, `multi-agent`, or a label given to another
    /// tool's predictions.
    pub method: String,
    pub dataset: String,
    pub id: String,
    pub question: String,
    /// Every accepted answer.
    pub golds: Vec<String>,
    /// The final answer; "" when the method gave none.
    pub prediction: String,
    /// What the model wrote and read.
    #[serde(default)]
    pub transcript: String,
    /// Model calls.
    #[serde(default)]
    pub turns: u64,
    #[serde(default)]
    pub searches: u64,
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    /// Wall time of the question, judge excluded.
    #[serde(default)]
    pub ms: u64,
    /// How the method ended (`answered`, `max_turns`, `malformed`, `model_failed`, …).
    #[serde(default)]
    pub end: String,
    /// Why the question could not be run; a failed question scores 0 and is counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    #[serde(default)]
    pub scores: Scores,
    /// The LLM judge's verdict (ACC_L), when one was asked and said correct or incorrect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<bool>,
    /// FreshQA: the question rests on a false premise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub false_premise: bool,
    /// The model that answered (or the tool that wrote a rescored file).
    #[serde(default)]
    pub model: String,
}

impl Prediction {
    /// An answer given elsewhere (another tool's file, a test): `prediction` to `question`
    /// against `golds`, with nothing counted (no turns, searches, tokens or time), scored
    /// under SQuAD's normalisation.
    pub fn answer(
        method: &str,
        dataset: &str,
        id: &str,
        question: &str,
        golds: Vec<String>,
        prediction: &str,
    ) -> Prediction {
        let mut p = Prediction {
            method: method.to_string(),
            dataset: dataset.to_string(),
            id: id.to_string(),
            question: question.to_string(),
            golds,
            prediction: prediction.to_string(),
            transcript: String::new(),
            turns: 0,
            searches: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            ms: 0,
            end: String::new(),
            failed: None,
            scores: Default::default(),
            judge: None,
            false_premise: false,
            model: String::new(),
        };
        p.score();
        p
    }

    /// Fills `scores` from the prediction and the golds, under SQuAD's normalisation.
    pub fn score(&mut self) {
        self.score_with(Normalization::Squad);
    }

    /// Fills `scores` from the prediction and the golds, under `how`.
    pub fn score_with(&mut self, how: Normalization) {
        self.scores = metrics::score_with(&self.prediction, &self.golds, how);
    }

    /// The record's key in a run: one answer per method, dataset and question.
    pub fn key(&self) -> (String, String, String) {
        (self.method.clone(), self.dataset.clone(), self.id.clone())
    }

    /// Asks `judge` whether the prediction answers the question (the verifier's prompt). An
    /// empty prediction is incorrect without asking; a judge that cannot be reached or gives
    /// no clear verdict leaves `judge` unset. Returns the tokens the judge used.
    pub async fn ask_judge(&mut self, judge: &dyn ChatModel, prompts: &Prompts, seed: u64) -> u64 {
        if self.prediction.trim().is_empty() {
            self.judge = Some(false);
            return 0;
        }
        let task = Task {
            kind: TaskKind::Qa,
            query: self.question.clone(),
            golds: self.golds.clone(),
            masks: Vec::new(),
        };
        let mut verdict = Verdict::default();
        match agent::verify::judge(
            judge,
            prompts,
            &task,
            &self.prediction,
            Some(seed),
            &mut verdict,
        )
        .await
        {
            Ok(step) => {
                self.judge = verdict.judge;
                step.prompt_tokens + step.completion_tokens
            }
            Err(_) => {
                self.judge = None;
                0
            }
        }
    }
}
