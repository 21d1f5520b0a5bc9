//! The verification of an attempt: scored, judged when the policy asks, accepted or rejected.

use formats::{Rejection, Teacher, Verdict};
use serde_json::{Value, json};

use super::{RunOptions, TrajectoryConfig, input::Job};
use crate::verify::{self, VerifyConfig};

/// The verification of one attempt.
pub(super) struct Judged {
    pub(super) rejection: Option<Rejection>,
    pub(super) detail: String,
    /// The original's `ext.response_acc`: the judge's verdict, `"Max_turn"`, or whether the
    /// metric passed when no judge was asked.
    pub(super) response_acc: Value,
    pub(super) answer: Option<String>,
    pub(super) verdict: Verdict,
    /// The judge's step, when it was asked.
    pub(super) step: Option<formats::Step>,
}

/// Scores and judges an attempt by how it ended.
pub(super) async fn verdict(
    config: &TrajectoryConfig,
    options: &RunOptions<'_>,
    job: &Job,
    produced: &crate::Attempt,
    seed: u64,
) -> Judged {
    let end = &produced.end;
    let mut judged = Judged {
        rejection: None,
        detail: String::new(),
        response_acc: json!(false),
        answer: None,
        verdict: Verdict::default(),
        step: None,
    };
    let answer = match end.answer() {
        Ok(answer) => answer.to_string(),
        Err((rejection, detail)) => {
            if rejection == Rejection::MaxTurns {
                judged.response_acc = json!("Max_turn");
            }
            judged.rejection = Some(rejection);
            judged.detail = detail;
            return judged;
        }
    };
    let metric = verify::score(&job.task, &answer, &mut judged.verdict);
    judged.answer = Some(answer.clone());
    // The rule teacher has no model to judge with: its answers are grounded by construction.
    let judge_model = options.judge.as_deref().or(options.model.as_deref());
    let policy = match (config.teacher, judge_model) {
        (Teacher::Rule, _) | (_, None) => verify::AcceptPolicy::Metric,
        _ => config.verify.policy,
    };
    if let (true, Some(judge)) = (policy.needs_judge(), judge_model) {
        // The judge reads the final reply, thinking included, as the original's does.
        let response = produced.final_text.as_deref().unwrap_or(&answer);
        let asked = verify::judge(
            judge,
            &config.prompts,
            &job.task,
            response,
            Some(seed),
            &mut judged.verdict,
        )
        .await;
        match asked {
            Ok(step) => judged.step = Some(step),
            Err(e) => {
                judged.rejection = Some(Rejection::ModelError);
                judged.detail = format!("judge: {e}");
                return judged;
            }
        }
    }
    let effective = VerifyConfig {
        policy,
        ..config.verify.clone()
    };
    judged.response_acc = match judged.verdict.judge {
        Some(correct) => json!(correct),
        None => json!(metric >= effective.threshold),
    };
    if let Err(rejection) = verify::accepts(&effective, &judged.verdict, metric) {
        judged.detail = match rejection {
            Rejection::Judge => format!("judge: {:?}", judged.verdict.judge_reply.trim()),
            _ => format!("metric {metric:.3} below {}", effective.threshold),
        };
        judged.rejection = Some(rejection);
    }
    judged
}
