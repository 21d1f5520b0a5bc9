//! Test trajectories built the way the teachers build them (`agent::chatml::record`, the
//! student transcript of the same rounds).

use agent::chatml::{Round, record};
use formats::{SearchUse, Task, TaskKind, Teacher, TokenUse, Trajectory, Verdict};
use serde_json::json;

/// A correct, accepted rule-teacher trajectory for a one-mask RAMP sample with `searches`
/// search rounds.
pub(crate) fn trajectory(id: &str, searches: usize) -> Trajectory {
    let query = "Ada [mask] was a mathematician.\n\nFill in all the [mask] and output the whole paragraph without changing its format.";
    let rounds: Vec<Round> = (1..=searches)
        .map(|i| Round::Search {
            thought: format!("<think>Mask 1, try {i}.</think>\n<search> Ada mathematician {i} </search>"),
            queries: vec![format!("Ada mathematician {i}")],
            information: format!(
                "\n\n<information>Doc 1(Title: \"Ada Lovelace\") Ada Lovelace was a mathematician ({i}).</information>\n\n"
            ),
        })
        .collect();
    let final_text =
        "<think>Doc 1 names her.</think>\n<answer> Ada Lovelace was a mathematician. </answer>";
    let mut transcript = String::new();
    for round in &rounds {
        if let Round::Search {
            thought,
            information,
            ..
        } = round
        {
            transcript.push_str(thought);
            transcript.push_str(information);
        }
    }
    transcript.push_str(final_text);
    Trajectory {
        id: id.into(),
        teacher: Teacher::Rule,
        round: 0,
        model: String::new(),
        task: Task {
            kind: TaskKind::Ramp,
            query: query.into(),
            golds: vec!["Ada Lovelace was a mathematician.".into()],
            masks: vec!["Lovelace".into()],
        },
        accepted: true,
        rejection: None,
        detail: String::new(),
        answer: Some("Ada Lovelace was a mathematician.".into()),
        transcript,
        chatml: record(
            "You are a helpful assistant.\n\nCurrent time: Friday, 27 November 2026",
            query,
            &rounds,
            Some(final_text),
            &json!({"mask_num": 1, "masks": ["Lovelace"]}),
            json!(true),
        ),
        steps: vec![],
        search: SearchUse::default(),
        verdict: Verdict {
            masks_recovered: vec![true],
            ..Verdict::default()
        },
        usage: TokenUse::default(),
        ms: 0,
    }
}

/// Checks that the manifest at `path` lists exactly `files`, as the export reported them.
pub(crate) fn assert_lists(path: &std::path::Path, files: &[std::path::PathBuf]) {
    let manifest = formats::RunManifest::load(path).unwrap().unwrap();
    assert_eq!(manifest.config["files"], json!(files), "{}", path.display());
}
