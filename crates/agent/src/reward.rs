//! Rewards for RL rollouts with every preset, the LLM judge's included: the rule presets are
//! `metrics::reward`'s; `judge` asks the verifier's judge ([`crate::verify::judge`]) whether each
//! answer is correct, a bounded number of items at a time.

use std::fmt;
use std::io::{BufRead, Write};
use std::str::FromStr;

use chat::{ChatError, ChatModel};
use formats::{Task, TaskKind, Verdict};
use futures_util::{StreamExt, stream};
use metrics::reward::{ItemError, Means, Preset, Reward, RewardItem, UnknownPreset};

use crate::prompts::Prompts;

/// A reward preset: one of `metrics`' rule presets, or the LLM judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RewardPreset {
    Rule(Preset),
    /// 1 when the judge says the answer is correct, else 0 (incorrect, unclear, or no answer —
    /// the judge is not asked then). The other parts are `masksearch-hybrid`'s.
    Judge,
}

impl RewardPreset {
    pub fn as_str(self) -> &'static str {
        match self {
            RewardPreset::Rule(p) => p.as_str(),
            RewardPreset::Judge => "judge",
        }
    }
}

impl Default for RewardPreset {
    /// `masksearch-hybrid`, the paper's answer + format reward.
    fn default() -> Self {
        RewardPreset::Rule(Preset::Hybrid)
    }
}

impl fmt::Display for RewardPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RewardPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "judge" {
            return Ok(RewardPreset::Judge);
        }
        s.parse()
            .map(RewardPreset::Rule)
            .map_err(|e: UnknownPreset| format!("{e}, judge"))
    }
}

/// The LLM judge for the `judge` preset.
#[derive(Clone)]
pub struct RewardJudge<'a> {
    pub model: &'a dyn ChatModel,
    pub prompts: &'a Prompts,
    /// Judge calls in flight at once.
    pub concurrency: usize,
}

/// Why a batch could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    /// An item the preset cannot score (its index in the batch).
    #[error("item {index}: {error}")]
    Item { index: usize, error: ItemError },
    /// The judge preset was asked for without a judge model.
    #[error("the judge preset needs a model")]
    NoJudge,
    /// The judge model failed on an item (after its own retries).
    #[error("judging item {index}: {error}")]
    Judge { index: usize, error: ChatError },
    #[error("reading items: {0}")]
    Read(std::io::Error),
    #[error("writing scores: {0}")]
    Write(std::io::Error),
}

/// Scores a batch under `preset`, in order. Rule presets are computed on the calling thread;
/// `judge` computes the hybrid parts, then asks `judge` about every item that has an answer,
/// `judge.concurrency` at a time. The first failure stops the batch.
pub async fn score_batch(
    items: &[RewardItem],
    preset: RewardPreset,
    judge: Option<&RewardJudge<'_>>,
) -> Result<Vec<Reward>, RewardError> {
    score_each(items, preset, judge)
        .await?
        .into_iter()
        .enumerate()
        .map(|(index, r)| r.map_err(|error| RewardError::Item { index, error }))
        .collect()
}

/// Like [`score_batch`], but an item the preset cannot score fails alone: its slot holds the
/// reason. Only a judge failure (or a missing judge) fails the whole batch.
pub async fn score_each(
    items: &[RewardItem],
    preset: RewardPreset,
    judge: Option<&RewardJudge<'_>>,
) -> Result<Vec<Result<Reward, ItemError>>, RewardError> {
    let rule = match preset {
        RewardPreset::Rule(p) => p,
        RewardPreset::Judge => Preset::Hybrid,
    };
    let rewards = items.iter().map(|item| metrics::reward::score(item, rule));
    if preset != RewardPreset::Judge {
        return Ok(rewards.collect());
    }
    let judge = judge.ok_or(RewardError::NoJudge)?;
    // The futures are made up front: a lazily mapped stream of borrowing futures is not `Send`
    // for every lifetime (rust-lang/rust#64552), which an axum handler needs.
    let asks: Vec<_> = items
        .iter()
        .zip(rewards)
        .enumerate()
        .map(|(index, (item, reward))| ask(judge, index, item, reward))
        .collect();
    stream::iter(asks)
        .buffered(judge.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Lines scored per batch by [`score_lines`] (judge calls overlap within a batch).
const LINES_PER_BATCH: usize = 1024;

/// The counts of [`score_lines`], running and at the end.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Input lines read (blank lines included).
    pub lines: u64,
    /// Means over the items scored.
    pub means: Means,
    /// Lines skipped: not an item, or one the preset cannot score.
    pub skipped: u64,
    /// The first few skipped lines (1-based) and why.
    pub first_skips: Vec<(u64, String)>,
}

/// How many skipped lines [`Tally::first_skips`] keeps.
const SKIPS_KEPT: usize = 10;

/// Scores JSONL items from `input` into `output`, one line out per line in, in order: a
/// [`Reward`], or `{"line": N, "error": "..."}` for a line that is not an item (blank lines
/// included) or that the preset cannot score — counted in the summary, never a stop. `progress`
/// sees the running means after every batch.
pub async fn score_lines(
    input: impl BufRead,
    mut output: impl Write,
    preset: RewardPreset,
    judge: Option<&RewardJudge<'_>>,
    mut progress: impl FnMut(&Tally),
) -> Result<Tally, RewardError> {
    let mut tally = Tally::default();
    let mut lines = input.lines();
    loop {
        let mut batch = Vec::with_capacity(LINES_PER_BATCH);
        for line in lines.by_ref().take(LINES_PER_BATCH) {
            tally.lines += 1;
            batch.push((tally.lines, parse_line(&line.map_err(RewardError::Read)?)));
        }
        if batch.is_empty() {
            break;
        }
        // Items move out of the batch; each line keeps whether it had one.
        let mut items = Vec::with_capacity(batch.len());
        let lines_read: Vec<(u64, Option<String>)> = batch
            .into_iter()
            .map(|(line, parsed)| match parsed {
                Ok(item) => {
                    items.push(item);
                    (line, None)
                }
                Err(message) => (line, Some(message)),
            })
            .collect();
        let mut scored = score_each(&items, preset, judge).await?.into_iter();
        for (line, bad) in lines_read {
            let result = match bad {
                Some(message) => Err(message),
                None => scored.next().map_or_else(
                    || Err("not scored".to_string()),
                    |r| r.map_err(|e| e.to_string()),
                ),
            };
            let json = match result {
                Ok(reward) => {
                    tally.means.add(&reward);
                    serde_json::to_string(&reward)
                }
                Err(message) => {
                    tally.skipped += 1;
                    if tally.first_skips.len() < SKIPS_KEPT {
                        tally.first_skips.push((line, message.clone()));
                    }
                    serde_json::to_string(&serde_json::json!({"line": line, "error": message}))
                }
            };
            let json = json.map_err(|e| RewardError::Write(e.into()))?;
            writeln!(output, "{json}").map_err(RewardError::Write)?;
        }
        output.flush().map_err(RewardError::Write)?;
        progress(&tally);
    }
    Ok(tally)
}

fn parse_line(line: &str) -> Result<RewardItem, String> {
    if line.trim().is_empty() {
        return Err("blank line".to_string());
    }
    serde_json::from_str(line).map_err(|e| e.to_string())
}

/// One item's judged reward: the verdict decides the score. An item the rules refused stays
/// refused.
async fn ask(
    judge: &RewardJudge<'_>,
    index: usize,
    item: &RewardItem,
    reward: Result<Reward, ItemError>,
) -> Result<Result<Reward, ItemError>, RewardError> {
    let mut reward = match reward {
        Ok(reward) => reward,
        refused => return Ok(refused),
    };
    let Some(answer) = &reward.answer else {
        reward.score = 0.0;
        return Ok(Ok(reward));
    };
    let ramp = item.is_ramp();
    let task = Task {
        kind: if ramp { TaskKind::Ramp } else { TaskKind::Qa },
        query: item.extra_info.question.clone().unwrap_or_default(),
        golds: item.ground_truth.0.clone(),
        masks: if ramp {
            item.ground_truth.0.clone()
        } else {
            Vec::new()
        },
    };
    let mut verdict = Verdict::default();
    crate::verify::judge(
        judge.model,
        judge.prompts,
        &task,
        answer,
        None,
        &mut verdict,
    )
    .await
    .map_err(|error| RewardError::Judge { index, error })?;
    reward.judge = verdict.judge;
    reward.score = if verdict.judge == Some(true) {
        1.0
    } else {
        0.0
    };
    Ok(Ok(reward))
}

#[cfg(test)]
mod tests {
    use chat::testing::{self, Scripted};
    use metrics::reward::{ExtraInfo, GroundTruth};

    use super::*;

    /// Says "correct" when the prompt's response line holds the gold; down when `fail`.
    fn grader(fail: bool) -> Scripted {
        Scripted::texts("grader", move |request| {
            if fail {
                return Err(testing::down("grader", "down"));
            }
            let prompt = &request.messages[0].content;
            let field = |name: &str| {
                prompt
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_default()
                    .to_string()
            };
            let correct = field("Model response: ").contains(&field("Correct answer: "));
            Ok(if correct { "correct" } else { "Incorrect." }.into())
        })
    }

    fn item(response: &str, gold: &str) -> RewardItem {
        RewardItem {
            data_source: String::new(),
            solution_str: response.into(),
            ground_truth: GroundTruth(vec![gold.into()]),
            extra_info: ExtraInfo {
                mask_num: None,
                question: Some("Where is the Mona Lisa?".into()),
            },
        }
    }

    fn items() -> Vec<RewardItem> {
        vec![
            item("<think>t</think><answer>Louvre</answer>", "Louvre"),
            item("<answer>Orsay</answer>", "Louvre"),
            item("no answer at all", "Louvre"),
        ]
    }

    #[test]
    fn presets_parse_with_judge_among_them() {
        assert_eq!("judge".parse(), Ok(RewardPreset::Judge));
        assert_eq!("em".parse(), Ok(RewardPreset::Rule(Preset::Em)));
        assert_eq!(RewardPreset::default().as_str(), "masksearch-hybrid");
        let err = "bleu".parse::<RewardPreset>().unwrap_err();
        assert!(err.ends_with("format, judge"), "{err}");
    }

    #[tokio::test]
    async fn the_judge_decides_the_score_and_is_asked_only_about_answers() {
        let model = grader(false);
        let prompts = Prompts::default();
        let judge = RewardJudge {
            model: &model,
            prompts: &prompts,
            concurrency: 2,
        };
        let got = score_batch(&items(), RewardPreset::Judge, Some(&judge))
            .await
            .unwrap();
        let scores: Vec<(f64, Option<bool>)> = got.iter().map(|r| (r.score, r.judge)).collect();
        assert_eq!(scores, [(1.0, Some(true)), (0.0, Some(false)), (0.0, None)]);
        // The hybrid parts come along.
        assert_eq!(got[0].parts.format, 1.0);
        assert_eq!(got[1].parts.recall, Some(0.0));
        let asked: Vec<String> = model
            .seen()
            .into_iter()
            .map(|r| r.messages[0].content.clone())
            .collect();
        assert_eq!(asked.len(), 2);
        assert!(
            asked[0].contains("Task: Where is the Mona Lisa?"),
            "{}",
            asked[0]
        );
    }

    #[tokio::test]
    async fn rule_presets_need_no_model_and_judge_does() {
        let got = score_batch(&items(), RewardPreset::Rule(Preset::SearchR1), None)
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|r| r.score).collect::<Vec<_>>(),
            [1.0, 0.0, 0.0]
        );
        assert!(matches!(
            score_batch(&items(), RewardPreset::Judge, None).await,
            Err(RewardError::NoJudge)
        ));
    }

    #[tokio::test]
    async fn lines_score_in_order_and_bad_lines_are_counted_skips_in_place() {
        let input = [
            r#"{"solution_str": "<think>t</think><answer>Louvre</answer>", "ground_truth": {"target": ["Louvre"]}}"#,
            "not json",
            "",
            r#"{"solution_str": "<answer>x</answer>", "ground_truth": ["x"], "extra_info": {"mask_num": 1}}"#,
            r#"{"solution_str": "<answer>Orsay</answer>", "ground_truth": "Louvre"}"#,
        ]
        .join("\n");
        let mut out = Vec::new();
        let mut seen = 0;
        let summary = score_lines(
            input.as_bytes(),
            &mut out,
            RewardPreset::Rule(Preset::Em),
            None,
            |s| seen = s.lines,
        )
        .await
        .unwrap();
        assert_eq!((summary.lines, summary.skipped, seen), (5, 3, 5));
        assert_eq!(summary.means.items, 2);
        assert_eq!(summary.means.score(), 0.5);
        let skipped: Vec<u64> = summary.first_skips.iter().map(|(l, _)| *l).collect();
        assert_eq!(skipped, [2, 3, 4]);
        assert!(
            summary.first_skips[2].1.contains("RAMP sample"),
            "{:?}",
            summary.first_skips
        );
        let out: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(out.len(), 5);
        assert_eq!(out[0]["score"], 1.0);
        assert_eq!(out[1]["line"], 2);
        assert!(
            out[1]["error"].as_str().unwrap().contains("expected"),
            "{}",
            out[1]
        );
        assert_eq!(out[2]["error"], "blank line");
        assert_eq!(out[3]["line"], 4);
        assert_eq!(out[4]["score"], 0.0);
    }

    #[tokio::test]
    async fn failures_name_the_item() {
        let model = grader(true);
        let prompts = Prompts::default();
        let judge = RewardJudge {
            model: &model,
            prompts: &prompts,
            concurrency: 1,
        };
        let err = score_batch(&items(), RewardPreset::Judge, Some(&judge))
            .await
            .unwrap_err();
        assert!(matches!(err, RewardError::Judge { index: 0, .. }), "{err}");
        let model = grader(false);
        let judge = RewardJudge {
            model: &model,
            ..judge
        };
        let mut bad = items();
        bad[2].extra_info.mask_num = Some(2);
        let err = score_batch(&bad, RewardPreset::Judge, Some(&judge))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "item 2: extra_info.mask_num is 2 but ground_truth has 1 targets"
        );
    }
}
