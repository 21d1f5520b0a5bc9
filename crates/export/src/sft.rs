//! `export sft`: accepted trajectories → LLaMA-Factory sharegpt JSONL and the
//! `dataset_info.json` entries that let `dataset_dir=<out>` plus the dataset's name find them.
//!
//! Output, in the out folder: `<name>.train.jsonl`, `<name>.val.jsonl` (when the split holds
//! any), `dataset_info.json` (entries `<name>` and `<name>_val` added to what the file held),
//! `<name>.manifest.json` (inputs, style, filters, counts).

use std::path::{Path, PathBuf};

use formats::{RunManifest, Staged, StagedLines, Trajectory, commit_all};
use serde_json::{Map, Value, json};

use crate::{
    ExportError, Progress, Selection, Skip, Skips, Style, Template, held_out, input::lines,
    select::Seen, sharegpt::example,
};

/// What an SFT export writes and keeps.
#[derive(Debug, Clone)]
pub struct SftConfig {
    pub style: Style,
    /// The dataset's name in `dataset_info.json` and the prefix of its files.
    pub name: String,
    pub selection: Selection,
    /// Share of sample ids held out for validation.
    pub val_share: f64,
    pub seed: u64,
    /// The tags style's first user turn.
    pub template: Template,
}

impl SftConfig {
    /// `masksearch_<style>`, the default dataset name.
    pub fn default_name(style: Style) -> String {
        format!("masksearch_{}", style.as_str())
    }
}

/// What an SFT export did.
#[derive(Debug, Clone)]
pub struct SftReport {
    pub read: u64,
    pub train: u64,
    pub validation: u64,
    pub skips: Skips,
    /// The data files written, train first.
    pub files: Vec<PathBuf>,
    pub dataset_info: PathBuf,
}

/// Exports the trajectories of `inputs` (JSONL, read in the order given; of several records
/// with one sample id the first that passes the filters wins) into `out_dir`.
pub fn export_sft(
    inputs: &[PathBuf],
    out_dir: &Path,
    config: &SftConfig,
    progress: &dyn Fn(&Progress),
) -> Result<SftReport, ExportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    let train_file = out_dir.join(format!("{}.train.jsonl", config.name));
    let val_file = out_dir.join(format!("{}.val.jsonl", config.name));
    let mut train = StagedLines::create(&train_file)?;
    let mut val = StagedLines::create(&val_file)?;
    let mut skips = Skips::default();
    let mut seen = Seen::default();
    let mut tally = Progress::default();
    for input in inputs {
        for item in lines::<Trajectory>(input)? {
            let (line, record) = item?;
            tally.read += 1;
            let kept = record
                .map_err(|message| (Skip::Malformed, message))
                .and_then(|t| keep(&t, config, &mut seen).map(|e| (t.id, e)));
            match kept {
                Ok((id, example)) => {
                    let line = serde_json::to_string(&example).expect("an example serialises");
                    if held_out(config.seed, &id, config.val_share) {
                        val.write_line(&line)?;
                    } else {
                        train.write_line(&line)?;
                    }
                    tally.written += 1;
                }
                Err((skip, detail)) => {
                    skips.add(skip, input, line, &detail);
                    tally.skipped += 1;
                }
            }
            if tally.read.is_multiple_of(256) {
                progress(&tally);
            }
        }
    }
    progress(&tally);
    let (train_rows, val_rows) = (train.rows(), val.rows());
    if train_rows + val_rows == 0 {
        return Err(ExportError::Empty {
            read: tally.read,
            skips: skips.to_string(),
        });
    }
    // A split that got no line is not written.
    let mut staged: Vec<Staged> = Vec::new();
    for part in [train, val] {
        if part.rows() > 0 {
            staged.push(part.finish()?);
        }
    }
    let files: Vec<PathBuf> = staged.iter().map(|s| s.dest().to_path_buf()).collect();
    let dataset_info = out_dir.join("dataset_info.json");
    staged.push(dataset_info_staged(
        &dataset_info,
        config,
        train_rows > 0,
        val_rows > 0,
    )?);
    let manifest = RunManifest {
        command: "export sft".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        config: json!({
            "files": files,
            "style": config.style.as_str(),
            "name": config.name,
            "only_correct": config.selection.only_correct,
            "teachers": config.selection.teachers,
            "rounds": config.selection.rounds,
            "max_turns": config.selection.max_turns,
            "val_share": config.val_share,
            "seed": config.seed,
            "template": config.template.text(),
        }),
        counts: [
            ("read", tally.read),
            ("train", train_rows),
            ("val", val_rows),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .chain(skips.manifest_counts())
        .collect(),
        complete: false,
    };
    commit_all(
        staged,
        [train_file, val_file],
        manifest,
        &out_dir.join(format!("{}.manifest.json", config.name)),
    )?;
    Ok(SftReport {
        read: tally.read,
        train: train_rows,
        validation: val_rows,
        skips,
        files,
        dataset_info,
    })
}

/// The example `t` becomes, or why it is left out.
fn keep(
    t: &Trajectory,
    config: &SftConfig,
    seen: &mut Seen,
) -> Result<crate::Example, (Skip, String)> {
    if !t.accepted {
        return Err((Skip::NotAccepted, String::new()));
    }
    config
        .selection
        .check(t)
        .map_err(|skip| (skip, String::new()))?;
    let example = example(t, config.style, &config.template)?;
    if !seen.first(&t.id) {
        return Err((Skip::Duplicate, String::new()));
    }
    Ok(example)
}

/// `path` with the dataset entries of this export merged in (created when missing), staged:
/// the entries of other datasets are kept, this dataset's are replaced.
fn dataset_info_staged(
    path: &Path,
    config: &SftConfig,
    train: bool,
    val: bool,
) -> Result<Staged, ExportError> {
    let mut info: Map<String, Value> = match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(ExportError::NotADatasetInfo {
                    path: path.to_path_buf(),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(ExportError::io(path, e)),
    };
    let val_name = format!("{}_val", config.name);
    for (name, file, present) in [
        (
            config.name.clone(),
            format!("{}.train.jsonl", config.name),
            train,
        ),
        (val_name, format!("{}.val.jsonl", config.name), val),
    ] {
        if present {
            info.insert(name, dataset_entry(&file, config.style));
        } else {
            info.remove(&name);
        }
    }
    let text = serde_json::to_string_pretty(&Value::Object(info)).expect("JSON serialises") + "\n";
    Ok(Staged::with_contents(path, text.as_bytes())?)
}

/// One `dataset_info.json` entry: sharegpt, the column names, the role tags.
fn dataset_entry(file: &str, style: Style) -> Value {
    let mut columns = json!({"messages": "conversations", "system": "system"});
    if style == Style::Tools {
        columns["tools"] = json!("tools");
    }
    json!({
        "file_name": file,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system"
        }
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use formats::Teacher;

    use super::*;
    use crate::{Example, check_alignment, fixtures::trajectory};

    fn config(style: Style) -> SftConfig {
        SftConfig {
            style,
            name: SftConfig::default_name(style),
            selection: Selection::default(),
            val_share: 0.0,
            seed: 42,
            template: Template::search_r1(),
        }
    }

    fn write(path: &Path, lines: &[String]) -> PathBuf {
        fs::write(path, lines.join("\n") + "\n").unwrap();
        path.to_path_buf()
    }

    fn line(t: &Trajectory) -> String {
        serde_json::to_string(t).unwrap()
    }

    fn examples(path: &Path) -> Vec<Example> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn an_export_without_a_validation_split_removes_the_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (0..40)
            .map(|i| line(&trajectory(&format!("t{i}#0"), 1)))
            .collect();
        let input = write(&dir.path().join("t.jsonl"), &lines);
        let out = dir.path().join("sft");
        let split = SftConfig {
            val_share: 0.5,
            ..config(Style::Tags)
        };
        let first = export_sft(std::slice::from_ref(&input), &out, &split, &|_| {}).unwrap();
        assert_eq!(first.files.len(), 2, "train and validation");
        let second = export_sft(&[input], &out, &config(Style::Tags), &|_| {}).unwrap();
        assert_eq!(second.files, [out.join("masksearch_tags.train.jsonl")]);
        assert!(!out.join("masksearch_tags.val.jsonl").exists());
        crate::fixtures::assert_lists(&out.join("masksearch_tags.manifest.json"), &second.files);
    }

    #[test]
    fn filters_dedups_and_counts_bad_lines_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut no_answer = trajectory("c#0", 1);
        no_answer.answer = None;
        let mut rejected = trajectory("d#0", 1);
        rejected.accepted = false;
        let a = write(
            &dir.path().join("a.jsonl"),
            &[
                line(&trajectory("a#0", 1)),
                "{not json".into(),
                line(&trajectory("b#0", 3)),
                line(&no_answer),
                line(&rejected),
            ],
        );
        let mut other_teacher = trajectory("e#0", 1);
        other_teacher.teacher = Teacher::MultiAgent;
        let b = write(
            &dir.path().join("b.jsonl"),
            &[line(&trajectory("a#0", 2)), line(&other_teacher)],
        );
        let out = dir.path().join("out");
        let mut config = config(Style::Tools);
        config.selection.max_turns = Some(2);
        let report = export_sft(&[a, b], &out, &config, &|_| {}).unwrap();

        assert_eq!((report.read, report.train, report.validation), (7, 2, 0));
        for (skip, n) in [
            (Skip::Malformed, 1),
            (Skip::TooManyTurns, 1),
            (Skip::NoAnswer, 1),
            (Skip::NotAccepted, 1),
            (Skip::Duplicate, 1),
        ] {
            assert_eq!(report.skips.count(skip), n, "{skip:?}");
        }
        assert!(
            report.skips.examples()[0].contains("a.jsonl:2: malformed"),
            "{:?}",
            report.skips.examples()
        );
        assert!(report.skips.examples()[1].contains("a.jsonl:4: no_answer"));
        let written = examples(&out.join("masksearch_tools.train.jsonl"));
        let ids: Vec<&str> = written.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a#0", "e#0"], "the first a#0 (one search) wins");
        assert_eq!(written[0].conversations.len(), 4);
        for e in &written {
            check_alignment(&e.conversations).unwrap();
        }
        assert!(!out.join("masksearch_tools.val.jsonl").exists());

        let info: Value =
            serde_json::from_str(&fs::read_to_string(&report.dataset_info).unwrap()).unwrap();
        let entry = &info["masksearch_tools"];
        assert_eq!(entry["file_name"], "masksearch_tools.train.jsonl");
        assert_eq!(entry["formatting"], "sharegpt");
        assert_eq!(entry["columns"]["tools"], "tools");
        assert_eq!(entry["tags"]["function_tag"], "function_call");
        assert!(info.get("masksearch_tools_val").is_none());
        let manifest = RunManifest::load(&out.join("masksearch_tools.manifest.json"))
            .unwrap()
            .unwrap();
        assert_eq!(manifest.config["style"], "tools");
        assert_eq!(manifest.counts["skipped_duplicate"], 1);
    }

    #[test]
    fn the_validation_split_is_seeded_and_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..60).map(|i| format!("p{i}#0")).collect();
        let input = write(
            &dir.path().join("in.jsonl"),
            &ids.iter()
                .map(|id| line(&trajectory(id, 1)))
                .collect::<Vec<_>>(),
        );
        let mut config = config(Style::Tags);
        config.val_share = 0.3;
        let run = |out: &Path| {
            export_sft(std::slice::from_ref(&input), out, &config, &|_| {}).unwrap();
            (
                fs::read(out.join("masksearch_tags.train.jsonl")).unwrap(),
                fs::read(out.join("masksearch_tags.val.jsonl")).unwrap(),
            )
        };
        let first = run(&dir.path().join("one"));
        assert_eq!(first, run(&dir.path().join("two")), "same seed, same bytes");
        let val: Vec<String> = examples(&dir.path().join("one/masksearch_tags.val.jsonl"))
            .into_iter()
            .map(|e| e.id)
            .collect();
        let expected: Vec<&String> = ids.iter().filter(|id| held_out(42, id, 0.3)).collect();
        assert_eq!(val.iter().collect::<Vec<_>>(), expected);
        assert!(!val.is_empty() && val.len() < 60);
        let info: Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("one/dataset_info.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            info["masksearch_tags_val"]["file_name"],
            "masksearch_tags.val.jsonl"
        );
        assert!(info["masksearch_tags"]["columns"].get("tools").is_none());
    }

    #[test]
    fn dataset_info_keeps_other_datasets_and_refuses_a_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = write(&dir.path().join("in.jsonl"), &[line(&trajectory("a#0", 1))]);
        let out = dir.path().join("data");
        fs::create_dir_all(&out).unwrap();
        fs::write(
            out.join("dataset_info.json"),
            r#"{"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}"#,
        )
        .unwrap();
        export_sft(
            std::slice::from_ref(&input),
            &out,
            &config(Style::Tools),
            &|_| {},
        )
        .unwrap();
        export_sft(
            std::slice::from_ref(&input),
            &out,
            &config(Style::Tags),
            &|_| {},
        )
        .unwrap();
        let info: Value =
            serde_json::from_str(&fs::read_to_string(out.join("dataset_info.json")).unwrap())
                .unwrap();
        let mut names: Vec<&String> = info.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["alpaca_en_demo", "masksearch_tags", "masksearch_tools"]
        );

        let foreign = dir.path().join("foreign");
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join("dataset_info.json"), "[1, 2]").unwrap();
        let err = export_sft(&[input], &foreign, &config(Style::Tools), &|_| {}).unwrap_err();
        assert!(matches!(err, ExportError::NotADatasetInfo { .. }), "{err}");
    }

    #[test]
    fn a_failed_export_leaves_the_previous_files_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(&out).unwrap();
        let train = out.join("masksearch_tools.train.jsonl");
        fs::write(&train, "previous\n").unwrap();
        let good = write(&dir.path().join("in.jsonl"), &[line(&trajectory("a#0", 1))]);
        // A folder given as an input fails to read after the first file was exported.
        let err = export_sft(
            &[good, dir.path().to_path_buf()],
            &out,
            &config(Style::Tools),
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(err, ExportError::Format(_)), "{err}");
        assert_eq!(fs::read_to_string(&train).unwrap(), "previous\n");
        let left: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            ["masksearch_tools.train.jsonl"],
            "no partial file stays"
        );
    }

    #[test]
    fn nothing_kept_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let input = write(
            &dir.path().join("in.jsonl"),
            &["[]".into(), "".into(), "7".into()],
        );
        let out = dir.path().join("out");
        let err = export_sft(&[input], &out, &config(Style::Tools), &|_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nothing to export: none of the 2 records read was kept (malformed 2)"
        );
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
    }
}
