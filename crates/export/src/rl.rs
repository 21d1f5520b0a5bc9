//! `export rl`: RAMP samples and questions → verl parquet in Search-R1's schema.
//!
//! A RAMP sample's ground truth is its masked spans in order (`reward_model.ground_truth.
//! target`), with the original passage and the mask count in `extra_info`; a question's is its
//! gold answers (FlashRAG `golden_answers`, HotpotQA / R1-Searcher `answer`). The prompt is the
//! template filled with the sample's query or the question. Each record goes to `train` or
//! `test` by a seeded hash of its id (Search-R1's `extra_info.split`); `index` counts rows
//! within each file, as Search-R1's does within each split.
//!
//! Output, in the out folder: `train.parquet` (or, with [`Curriculum::Buckets`],
//! `train.mask<k>.parquet` per mask count k), `test.parquet` (in input order), `manifest.json`.
//! A file is written only when it holds rows.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write as _},
    path::{Path, PathBuf},
};

use formats::{QaExample, RampSample, RunManifest, Staged, commit_all};
use serde_json::{Value, json};

use crate::{
    ExportError, Progress, Skip, Skips, Template, held_out,
    input::lines,
    verl::{ParquetSink, Row},
};

/// The paper's curriculum over mask counts, for the train split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Curriculum {
    /// Input order, one file.
    #[default]
    Mixed,
    /// One file, 1-mask samples first, then 2, … (input order within a count). verl shuffles
    /// unless told not to (`data.shuffle=False`).
    EasyToHard,
    /// One file per mask count, to train on in turn.
    Buckets,
}

impl Curriculum {
    pub const ALL: [Curriculum; 3] = [
        Curriculum::Mixed,
        Curriculum::EasyToHard,
        Curriculum::Buckets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Curriculum::Mixed => "none",
            Curriculum::EasyToHard => "easy-to-hard",
            Curriculum::Buckets => "buckets",
        }
    }
}

impl std::str::FromStr for Curriculum {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Curriculum::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown curriculum {s:?}; expected none, easy-to-hard or buckets")
            })
    }
}

/// What an RL export writes.
#[derive(Debug, Clone)]
pub struct RlConfig {
    pub template: Template,
    /// Share of ids held out as `test`.
    pub test_share: f64,
    pub seed: u64,
    pub curriculum: Curriculum,
    /// `data_source` of every row [default: `ramp` for RAMP samples, `qa` for questions].
    pub data_source: Option<String>,
}

/// What an RL export did.
#[derive(Debug, Clone)]
pub struct RlReport {
    pub read: u64,
    /// Rows made from RAMP samples and from questions.
    pub ramp: u64,
    pub questions: u64,
    pub train: u64,
    pub test: u64,
    /// Train rows per mask count (RAMP samples).
    pub train_by_masks: BTreeMap<i64, u64>,
    pub skips: Skips,
    /// The parquet files written.
    pub files: Vec<PathBuf>,
}

/// Ability of every row, as Search-R1 writes it.
const ABILITY: &str = "fact-reasoning";

/// Exports the RAMP samples and questions of `inputs` (JSONL, any mix) into `out_dir`.
pub fn export_rl(
    inputs: &[PathBuf],
    out_dir: &Path,
    config: &RlConfig,
    progress: &dyn Fn(&Progress),
) -> Result<RlReport, ExportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    let mut train = Train::new(config.curriculum, out_dir);
    let mut test: Option<ParquetSink> = None;
    let mut report = RlReport {
        read: 0,
        ramp: 0,
        questions: 0,
        train: 0,
        test: 0,
        train_by_masks: BTreeMap::new(),
        skips: Skips::default(),
        files: Vec::new(),
    };
    let mut tally = Progress::default();
    for input in inputs {
        for item in lines::<Value>(input)? {
            let (line, record) = item?;
            tally.read += 1;
            match record
                .map_err(|message| (Skip::Malformed, message))
                .and_then(|value| row(&value, line, config))
            {
                Ok(row) => {
                    if row.mask_num.is_some() {
                        report.ramp += 1;
                    } else {
                        report.questions += 1;
                        if config.curriculum != Curriculum::Mixed {
                            return Err(ExportError::CurriculumNeedsMasks {
                                path: input.display().to_string(),
                                line,
                            });
                        }
                    }
                    if held_out(config.seed, &row.id, config.test_share) {
                        open(&mut test, &out_dir.join("test.parquet"), "test")?.push(row)?;
                    } else {
                        if let Some(k) = row.mask_num {
                            *report.train_by_masks.entry(k).or_default() += 1;
                        }
                        train.push(row)?;
                    }
                    tally.written += 1;
                }
                Err((skip, detail)) => {
                    report.skips.add(skip, input, line, &detail);
                    tally.skipped += 1;
                }
            }
            if tally.read.is_multiple_of(256) {
                progress(&tally);
            }
        }
    }
    progress(&tally);
    report.read = tally.read;
    if tally.written == 0 {
        return Err(ExportError::Empty {
            read: tally.read,
            skips: report.skips.to_string(),
        });
    }
    let mut staged = train.finish()?;
    report.train = report.ramp + report.questions;
    if let Some(sink) = test {
        report.test = sink.rows();
        report.train -= report.test;
        staged.push(sink.finish()?);
    }
    report.files = staged.iter().map(|s| s.dest().to_path_buf()).collect();
    let manifest = RunManifest {
        command: "export rl".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        config: json!({
            "curriculum": config.curriculum.as_str(),
            "test_share": config.test_share,
            "seed": config.seed,
            "data_source": config.data_source,
            "template": config.template.text(),
            "files": report.files,
        }),
        counts: [
            ("read", report.read),
            ("ramp", report.ramp),
            ("questions", report.questions),
            ("train", report.train),
            ("test", report.test),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .chain(
            report
                .train_by_masks
                .iter()
                .map(|(k, n)| (format!("train_mask{k}"), *n)),
        )
        .chain(report.skips.manifest_counts())
        .collect(),
        complete: false,
    };
    commit_all(
        staged,
        earlier_files(out_dir)?,
        manifest,
        &out_dir.join("manifest.json"),
    )?;
    Ok(report)
}

/// The data files an RL export may have left in `out_dir`: `train.parquet`, `test.parquet` and
/// any `train.mask<k>.parquet`.
fn earlier_files(out_dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let entries = std::fs::read_dir(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ExportError::io(out_dir, e))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let bucket = name
            .strip_prefix("train.mask")
            .and_then(|rest| rest.strip_suffix(".parquet"))
            .is_some_and(|k| k.parse::<u64>().is_ok());
        if bucket || name == "train.parquet" || name == "test.parquet" {
            files.push(path);
        }
    }
    Ok(files)
}

/// The row a record makes: a RAMP sample (it has `query` and `ext`) or a question.
fn row(record: &Value, line: u64, config: &RlConfig) -> Result<Row, (Skip, String)> {
    let Some(object) = record.as_object() else {
        return Err((Skip::Malformed, "not a JSON object".into()));
    };
    let source = |default: &str| config.data_source.clone().unwrap_or_else(|| default.into());
    if object.contains_key("query") && object.contains_key("ext") {
        let sample: RampSample = serde_json::from_value(record.clone())
            .map_err(|e| (Skip::Malformed, format!("not a RAMP sample: {e}")))?;
        if sample.ext.masks.is_empty() {
            return Err((
                Skip::NoMasks,
                format!("sample {:?} has no masks", sample.id),
            ));
        }
        let mask_num = match sample.ext.mask_num {
            0 => sample.ext.masks.len(),
            n => n,
        };
        let id = if sample.id.is_empty() {
            line.to_string()
        } else {
            sample.id
        };
        return Ok(Row {
            data_source: source("ramp"),
            prompt: config.template.prompt(&sample.query),
            ability: ABILITY.into(),
            target: sample.ext.masks,
            id,
            question: sample.query,
            mask_num: Some(mask_num as i64),
            passage: Some(sample.answer),
        });
    }
    let q = QaExample::from_record(record, line)
        .ok_or_else(|| (Skip::Malformed, "no question or no answer".to_string()))?;
    Ok(Row {
        data_source: source("qa"),
        prompt: config.template.prompt(&q.question),
        ability: ABILITY.into(),
        target: q.golden_answers,
        id: q.id,
        question: q.question,
        mask_num: None,
        passage: None,
    })
}

/// The sink in `slot`, created at `path` on first use.
fn open<'a>(
    slot: &'a mut Option<ParquetSink>,
    path: &Path,
    split: &'static str,
) -> Result<&'a mut ParquetSink, ExportError> {
    if slot.is_none() {
        *slot = Some(ParquetSink::create(path, split)?);
    }
    Ok(slot.as_mut().expect("just created"))
}

/// Where train rows go under each curriculum.
struct Train {
    dir: PathBuf,
    curriculum: Curriculum,
    /// `train.parquet` ([`Curriculum::Mixed`]).
    mixed: Option<ParquetSink>,
    /// `train.mask<k>.parquet` ([`Curriculum::Buckets`]).
    buckets: BTreeMap<i64, ParquetSink>,
    /// Rows set aside per mask count ([`Curriculum::EasyToHard`]), written in count order at
    /// the end.
    spools: BTreeMap<i64, Spool>,
}

impl Train {
    fn new(curriculum: Curriculum, dir: &Path) -> Train {
        Train {
            dir: dir.to_path_buf(),
            curriculum,
            mixed: None,
            buckets: BTreeMap::new(),
            spools: BTreeMap::new(),
        }
    }

    /// Takes a row; under a curriculum it must have a mask count.
    fn push(&mut self, row: Row) -> Result<(), ExportError> {
        let k = row.mask_num.unwrap_or(0);
        match self.curriculum {
            Curriculum::Mixed => {
                open(&mut self.mixed, &self.dir.join("train.parquet"), "train")?.push(row)
            }
            Curriculum::Buckets => {
                if !self.buckets.contains_key(&k) {
                    let path = self.dir.join(format!("train.mask{k}.parquet"));
                    self.buckets.insert(k, ParquetSink::create(&path, "train")?);
                }
                self.buckets.get_mut(&k).expect("just inserted").push(row)
            }
            Curriculum::EasyToHard => {
                if !self.spools.contains_key(&k) {
                    self.spools.insert(k, Spool::new(&self.dir)?);
                }
                self.spools.get_mut(&k).expect("just inserted").push(&row)
            }
        }
    }

    /// The finished train files, staged.
    fn finish(self) -> Result<Vec<Staged>, ExportError> {
        let mut staged = Vec::new();
        if let Some(sink) = self.mixed {
            staged.push(sink.finish()?);
        }
        for sink in self.buckets.into_values() {
            staged.push(sink.finish()?);
        }
        if !self.spools.is_empty() {
            let mut sink = ParquetSink::create(&self.dir.join("train.parquet"), "train")?;
            for spool in self.spools.into_values() {
                for row in spool.into_rows()? {
                    sink.push(row?)?;
                }
            }
            staged.push(sink.finish()?);
        }
        Ok(staged)
    }
}

/// Rows spooled as JSONL to an unnamed temporary file in the out folder (the system removes it
/// however the process ends).
struct Spool {
    dir: PathBuf,
    out: BufWriter<File>,
}

impl Spool {
    fn new(dir: &Path) -> Result<Spool, ExportError> {
        let file = tempfile::tempfile_in(dir).map_err(|e| ExportError::io(dir, e))?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
        })
    }

    fn push(&mut self, row: &Row) -> Result<(), ExportError> {
        serde_json::to_writer(&mut self.out, row)
            .map_err(std::io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| ExportError::io(&self.dir, e))
    }

    /// The spooled rows, in the order pushed.
    fn into_rows(self) -> Result<impl Iterator<Item = Result<Row, ExportError>>, ExportError> {
        let dir = self.dir;
        let io = |e| ExportError::io(&dir, e);
        let mut file = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(BufReader::new(file).lines().map(move |line| {
            line.and_then(|l| serde_json::from_str(&l).map_err(std::io::Error::other))
                .map_err(|e| ExportError::io(&dir, e))
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::verl::tests::{extra, read};

    fn config(curriculum: Curriculum, test_share: f64) -> RlConfig {
        RlConfig {
            template: Template::search_r1(),
            test_share,
            seed: 1,
            curriculum,
            data_source: None,
        }
    }

    fn sample(id: &str, masks: usize) -> String {
        let spans: Vec<String> = (1..=masks).map(|i| format!("span{i}")).collect();
        json!({
            "id": id,
            "query": format!("{id}: {}\n\nFill in all the [mask] and output the whole paragraph without changing its format.", vec!["[mask]"; masks].join(" and ")),
            "answer": format!("{id}: {}", spans.join(" and ")),
            "ext": {"mask_num": masks, "masks": spans, "entities": [], "source": "wiki", "title": id}
        })
        .to_string()
    }

    fn write(dir: &Path, lines: &[String]) -> PathBuf {
        let path = dir.join("in.jsonl");
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn targets(path: &Path) -> Vec<Vec<String>> {
        read(path)
            .iter()
            .flat_map(crate::verl::tests::targets)
            .collect()
    }

    #[test]
    fn samples_and_questions_become_rows_and_bad_records_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let input = write(
            dir.path(),
            &[
                sample("Ada#0", 2),
                json!({"id": "test_0", "question": "who got the first nobel prize in physics", "golden_answers": ["Wilhelm Conrad Röntgen"], "metadata": {}}).to_string(),
                json!({"_id": "5a8b", "question": "Which stadium?", "answer": "Kauffman Stadium"}).to_string(),
                sample("Empty#0", 0),
                "not json".into(),
                json!({"question": "no answer"}).to_string(),
            ],
        );
        let out = dir.path().join("rl");
        let report = export_rl(&[input], &out, &config(Curriculum::Mixed, 0.0), &|_| {}).unwrap();
        assert_eq!((report.read, report.ramp, report.questions), (6, 1, 2));
        assert_eq!((report.train, report.test), (3, 0));
        assert_eq!(report.skips.count(Skip::NoMasks), 1);
        assert_eq!(report.skips.count(Skip::Malformed), 2);
        assert!(
            report.skips.examples()[0]
                .ends_with("in.jsonl:4: no_masks: sample \"Empty#0\" has no masks")
        );
        assert_eq!(names(&out), ["manifest.json", "train.parquet"]);

        let train = out.join("train.parquet");
        assert_eq!(
            targets(&train),
            [
                vec!["span1", "span2"],
                vec!["Wilhelm Conrad Röntgen"],
                vec!["Kauffman Stadium"]
            ]
        );
        assert_eq!(extra(&train, "id"), ["Ada#0", "test_0", "5a8b"]);
        assert_eq!(extra(&train, "mask_num"), ["2", "null", "null"]);
        assert_eq!(
            extra(&train, "passage"),
            ["Ada#0: span1 and span2", "null", "null"]
        );
        assert_eq!(extra(&train, "index"), ["0", "1", "2"]);
        assert_eq!(
            extra(&train, "question")[1],
            "who got the first nobel prize in physics"
        );

        use arrow_array::{Array, cast::AsArray};
        let batch = &read(&train)[0];
        let prompts = batch
            .column_by_name("prompt")
            .unwrap()
            .as_list::<i32>()
            .clone();
        let content = |i: usize| {
            prompts
                .value(i)
                .as_struct()
                .column_by_name("content")
                .unwrap()
                .as_string::<i32>()
                .value(0)
                .to_string()
        };
        let template = Template::search_r1();
        assert!(content(0).ends_with("Question: Ada#0: [mask] and [mask]\n\nFill in all the [mask] and output the whole paragraph without changing its format.\n"));
        assert_eq!(
            content(1),
            template.prompt("who got the first nobel prize in physics")
        );
        let sources = batch
            .column_by_name("data_source")
            .unwrap()
            .as_string::<i32>();
        assert_eq!((sources.value(0), sources.value(1)), ("ramp", "qa"));
        assert_eq!(
            batch
                .column_by_name("ability")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "fact-reasoning"
        );
        assert!(prompts.nulls().is_none());
    }

    #[test]
    fn easy_to_hard_orders_the_train_file_by_mask_count() {
        let dir = tempfile::tempdir().unwrap();
        let counts = [3, 1, 2, 1, 4, 2];
        let lines: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(i, &k)| sample(&format!("s{i}"), k))
            .collect();
        let out = dir.path().join("rl");
        let report = export_rl(
            &[write(dir.path(), &lines)],
            &out,
            &config(Curriculum::EasyToHard, 0.0),
            &|_| {},
        )
        .unwrap();
        let train = out.join("train.parquet");
        assert_eq!(extra(&train, "mask_num"), ["1", "1", "2", "2", "3", "4"]);
        assert_eq!(
            extra(&train, "id"),
            ["s1", "s3", "s2", "s5", "s0", "s4"],
            "input order within a count"
        );
        assert_eq!(extra(&train, "index"), ["0", "1", "2", "3", "4", "5"]);
        assert_eq!(
            report.train_by_masks,
            BTreeMap::from([(1, 2), (2, 2), (3, 1), (4, 1)])
        );
        assert_eq!(
            names(&out),
            ["manifest.json", "train.parquet"],
            "no spool left behind"
        );
    }

    #[test]
    fn buckets_write_one_train_file_per_mask_count_and_one_test_file() {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = (0..40)
            .map(|i| sample(&format!("s{i}"), 1 + i % 3))
            .collect();
        let out = dir.path().join("rl");
        let report = export_rl(
            &[write(dir.path(), &lines)],
            &out,
            &config(Curriculum::Buckets, 0.25),
            &|_| {},
        )
        .unwrap();
        assert_eq!(
            names(&out),
            [
                "manifest.json",
                "test.parquet",
                "train.mask1.parquet",
                "train.mask2.parquet",
                "train.mask3.parquet"
            ]
        );
        for k in 1..=3 {
            let file = out.join(format!("train.mask{k}.parquet"));
            assert!(extra(&file, "mask_num").iter().all(|m| *m == k.to_string()));
            assert!(extra(&file, "split").iter().all(|s| s == "train"));
            assert_eq!(
                extra(&file, "index")[0],
                "0",
                "indexes count within each file"
            );
        }
        let test_ids = extra(&out.join("test.parquet"), "id");
        let expected: Vec<String> = (0..40)
            .map(|i| format!("s{i}"))
            .filter(|id| held_out(1, id, 0.25))
            .collect();
        assert_eq!(test_ids, expected);
        assert!(
            extra(&out.join("test.parquet"), "split")
                .iter()
                .all(|s| s == "test")
        );
        assert_eq!(report.test as usize, expected.len());
        assert_eq!(report.train + report.test, 40);
    }
    #[test]
    fn a_new_export_leaves_exactly_its_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let input = write(
            dir.path(),
            &(0..40)
                .map(|i| sample(&format!("s{i}"), 1 + i % 3))
                .collect::<Vec<_>>(),
        );
        let out = dir.path().join("rl");
        export_rl(
            std::slice::from_ref(&input),
            &out,
            &config(Curriculum::Buckets, 0.25),
            &|_| {},
        )
        .unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let report = export_rl(
            &[input],
            &out,
            &config(Curriculum::EasyToHard, 0.0),
            &|_| {},
        )
        .unwrap();
        assert_eq!(
            names(&out),
            ["manifest.json", "notes.txt", "train.parquet"],
            "the buckets and the test split of the earlier export are gone, other files stay"
        );
        crate::fixtures::assert_lists(&out.join("manifest.json"), &report.files);
    }

    #[test]
    fn a_curriculum_refuses_questions_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            sample("s0", 1),
            json!({"question": "q", "answer": "a"}).to_string(),
        ];
        let out = dir.path().join("rl");
        let err = export_rl(
            &[write(dir.path(), &lines)],
            &out,
            &config(Curriculum::EasyToHard, 0.0),
            &|_| {},
        )
        .unwrap_err();
        assert!(
            matches!(&err, ExportError::CurriculumNeedsMasks { line: 2, .. }),
            "{err}"
        );
        assert!(names(&out).is_empty(), "{:?}", names(&out));
    }
}
