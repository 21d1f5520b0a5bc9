//! What an earlier run left in the outputs, and the settings a resume must match.

use std::{collections::HashSet, path::Path};

use formats::Trajectory;
use serde_json::{Value, json};

use super::{RunOptions, Tally, TrajectoryConfig};
use crate::AgentError;

/// Adds the ids and outcomes of an output written earlier.
pub(super) fn read_done(
    path: &Path,
    seen: &mut HashSet<String>,
    tally: &mut Tally,
) -> Result<(), AgentError> {
    if !path.exists() {
        return Ok(());
    }
    // A torn last line (a kill mid-write) is cut off when the log is reopened; skip it here.
    for trajectory in formats::read_jsonl::<Trajectory>(path)?.flatten() {
        seen.insert(trajectory.id.clone());
        tally.add(&trajectory);
    }
    Ok(())
}

pub(super) fn manifest_config(config: &TrajectoryConfig, options: &RunOptions<'_>) -> Value {
    let model = options.model.as_ref().map(|m| m.name().to_string());
    let judge = options
        .judge
        .as_ref()
        .or(options.model.as_ref())
        .map(|m| m.name().to_string());
    let mut settings = settings(config);
    settings.extend([
        ("teacher".into(), json!(config.teacher.as_str())),
        ("model".into(), json!(model)),
        ("judge".into(), json!(judge)),
        ("search".into(), json!(options.searcher.name())),
        ("round".into(), json!(config.round)),
        ("shard".into(), json!(config.shard.to_string())),
        (
            "rejected".into(),
            json!(options.rejected.display().to_string()),
        ),
    ]);
    Value::Object(settings)
}

/// The settings of `config` that shape every attempt whatever its teacher, round or shard (a
/// resume must match them).
pub(crate) fn settings(config: &TrajectoryConfig) -> serde_json::Map<String, Value> {
    let runtime = &config.runtime;
    [
        ("seed", json!(config.seed)),
        ("today", json!(config.today.to_string())),
        ("accept", json!(config.verify.policy.as_str())),
        ("threshold", json!(config.verify.threshold)),
        ("prompts", json!(config.prompts.fingerprint())),
        ("max_turns", json!(runtime.max_turns)),
        ("topk", json!(runtime.topk)),
        ("mode", json!(runtime.mode.as_str())),
        ("student_style", json!(runtime.style.as_str())),
        ("stops", json!(runtime.stops)),
        (
            "template",
            json!(format!(
                "{:016x}",
                formats::stable_hash(runtime.template.text())
            )),
        ),
        ("max_rounds", json!(config.multi.max_rounds)),
        ("teacher_topk", json!([config.multi.topk, config.rule.topk])),
        ("exclude_source", json!(config.exclude_source)),
        ("temperature", json!(runtime.temperature)),
        (
            "teacher_sampling",
            json!([config.multi.temperature, config.multi.top_p]),
        ),
        ("planner_may_answer", json!(config.multi.planner_may_answer)),
        (
            "max_tokens",
            json!([config.multi.max_tokens, runtime.max_tokens_per_turn]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
