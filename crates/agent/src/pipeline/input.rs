//! The input, read ahead of the work: each line a job, or the reason it is not one.

use std::collections::HashSet;

use formats::{RampSample, Shard, Task, TaskKind, Teacher};
use serde_json::{Value, json};

/// One input record, ready to run.
pub(crate) struct Job {
    pub(crate) id: String,
    pub(super) task: Task,
    /// The input's `ext` (kept in the chatml record).
    pub(super) ext: Value,
    /// RAMP: the page title (the rule teacher searches with it).
    pub(super) title: String,
    /// RAMP: the id of the passage the sample was cut from.
    pub(super) source_id: String,
}

/// A record read from the input: a job, or why it is not one.
pub(super) enum Item {
    Job(Box<Job>),
    Bad,
    Duplicate,
    OtherShard,
    /// Already in the outputs.
    Done,
    /// A question given to the rule teacher, which fills masks only.
    NotRamp(u64),
    /// The input cannot be read on (an I/O error): the run stops.
    Unreadable(formats::FormatError),
}

/// What the `record`-th line of the input is.
pub(super) fn classify(
    line: Result<Value, formats::FormatError>,
    record: u64,
    teacher: Teacher,
    shard: Shard,
    done: &HashSet<String>,
    seen: &mut HashSet<String>,
) -> Item {
    let value = match line {
        Ok(value) => value,
        Err(formats::FormatError::BadLine { .. }) => return Item::Bad,
        Err(e) => return Item::Unreadable(e),
    };
    let Some(job) = job(&value, record) else {
        return Item::Bad;
    };
    if teacher == Teacher::Rule && job.task.kind != TaskKind::Ramp {
        return Item::NotRamp(record);
    }
    if done.contains(&job.id) {
        return Item::Done;
    }
    if !seen.insert(job.id.clone()) {
        return Item::Duplicate;
    }
    if !shard.contains(&job.id) {
        return Item::OtherShard;
    }
    Item::Job(Box::new(job))
}

/// The ids of the input file's records in input order, as a run reads them (lines that are not
/// a record skipped): the order `formats::Shards` merges a sharded run's outputs in.
pub fn input_ids(
    path: &std::path::Path,
) -> Result<impl Iterator<Item = Result<String, formats::FormatError>> + use<>, formats::FormatError>
{
    let reader = formats::read_jsonl::<Value>(path)?;
    Ok(reader.enumerate().filter_map(|(n, line)| match line {
        Ok(value) => job(&value, n as u64 + 1).map(|job| Ok(job.id)),
        Err(formats::FormatError::BadLine { .. }) => None,
        Err(e) => Some(Err(e)),
    }))
}

/// The task in a record: a RAMP sample (`query`, `answer`, `ext.masks`) or a question in any
/// shape [`formats::QaExample`] reads. `record` is the 1-based record number, the id of a
/// record without one.
pub(crate) fn job(value: &Value, record: u64) -> Option<Job> {
    let is_ramp =
        value.get("query").is_some() && value.get("ext").and_then(|e| e.get("masks")).is_some();
    if is_ramp {
        let sample: RampSample = serde_json::from_value(value.clone()).ok()?;
        let id = if sample.id.is_empty() {
            record.to_string()
        } else {
            sample.id.clone()
        };
        let ext = value.get("ext").cloned().unwrap_or(Value::Null);
        let source_id = if sample.ext.passage_id.is_empty() {
            id.clone()
        } else {
            sample.ext.passage_id.clone()
        };
        return Some(Job {
            id,
            source_id,
            title: sample.ext.title.clone(),
            task: Task {
                kind: TaskKind::Ramp,
                query: sample.query,
                golds: vec![sample.answer],
                masks: sample.ext.masks,
            },
            ext,
        });
    }
    let qa = formats::QaExample::from_record(value, record)?;
    Some(Job {
        ext: json!({ "golden_answer": qa.golden_answers[0], "golden_answers": qa.golden_answers }),
        id: qa.id,
        title: String::new(),
        source_id: String::new(),
        task: Task {
            kind: TaskKind::Qa,
            query: qa.question,
            golds: qa.golden_answers,
            masks: Vec::new(),
        },
    })
}
