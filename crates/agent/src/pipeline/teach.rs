//! One task through the configured teacher, then verified: the trajectory record.

use std::time::Instant;

use formats::{Rejection, TaskKind, Teacher, Trajectory};

use super::{RunOptions, TrajectoryConfig, input::Job, verdict::verdict};
use crate::{chatml, multi, rule, runtime};

/// One task through the configured teacher and the verifier.
pub(super) async fn attempt(
    config: &TrajectoryConfig,
    options: &RunOptions<'_>,
    job: &Job,
) -> Trajectory {
    let started = Instant::now();
    let sample_seed = formats::seed_for(config.seed, &job.id);
    let system = chatml::system_message(config.today, sample_seed);
    let searcher = options.searcher.as_ref();
    let model = options.model.as_deref();
    let seed = Some(sample_seed);
    let exclude = match (config.exclude_source, job.task.kind) {
        (true, TaskKind::Ramp) => vec![job.source_id.clone()],
        _ => Vec::new(),
    };
    let ask = runtime::Ask {
        question: &job.task.query,
        exclude: &exclude,
    };
    let produced = match (config.teacher, model) {
        (Teacher::MultiAgent, Some(model)) => {
            let prompts = &config.prompts;
            multi::run(model, searcher, prompts, &system, ask, &config.multi, seed).await
        }
        (Teacher::Agent, Some(model)) => {
            runtime::rollout(model, searcher, ask, &config.runtime, seed).await
        }
        (Teacher::Rule, _) | (_, None) => {
            rule::run(searcher, &job.task, &job.title, &exclude, &config.rule).await
        }
    };
    let mut judged = verdict(config, options, job, &produced, sample_seed).await;
    let chatml = chatml::record(
        &system,
        &job.task.query,
        &produced.rounds,
        produced.final_text.as_deref(),
        &job.ext,
        judged.response_acc,
    );
    if judged.rejection.is_none() {
        // The original's check of its record (multi-agent), then the student format's grammar
        // on the transcript a student will be trained on (every teacher).
        let check = match config.teacher {
            Teacher::MultiAgent => chatml::format_check(&chatml),
            Teacher::Agent | Teacher::Rule => Ok(()),
        }
        .and_then(|()| {
            metrics::check_format(&produced.transcript)
                .map_err(|e| format!("student transcript: {e}"))
        });
        if let Err(why) = check {
            judged.rejection = Some(Rejection::Format);
            judged.detail = why;
        }
    }
    let mut usage = produced.usage;
    if let Some(step) = &judged.step {
        usage.model_calls += 1;
        usage.prompt_tokens += step.prompt_tokens;
        usage.completion_tokens += step.completion_tokens;
    }
    let mut steps = produced.steps;
    steps.extend(judged.step);
    Trajectory {
        id: job.id.clone(),
        teacher: config.teacher,
        round: config.round,
        model: model.map_or_else(String::new, |m| m.name().to_string()),
        task: job.task.clone(),
        accepted: judged.rejection.is_none(),
        rejection: judged.rejection,
        detail: judged.detail,
        answer: judged.answer,
        transcript: produced.transcript,
        chatml,
        steps,
        search: produced.search,
        verdict: judged.verdict,
        usage,
        ms: started.elapsed().as_millis() as u64,
    }
}
