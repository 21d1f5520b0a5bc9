//! R1-Searcher's published eval outputs (`data/eval_results/*.jsonl`, see `testdata/README.md`)
//! rescored under its normalisation give exactly the figures its own script
//! (`evaluation/metric_calc_rule.py`) gives on them; under SQuAD's, cover-EM is a different
//! number, which is why reports call it ACC_R only in the first case.
//!
//! The expected figures come from running that script (Python 3.11, `ujson==5.10.0`,
//! `jsonlines==4.0.0`) on these files. It prints EM, Cover-EM (`cover_em_1`), F1 and the number
//! of covered answers; `cover_em_2`, precision and recall it computes but does not print (its
//! "Cover-EM_2" line repeats `cover_em_1`), so those were read from its `update_answer` sums,
//! divided by the number of records as its `eval` does. The Cover-EM figures are the ACC_R of
//! R1-Searcher's paper table (0.654, 0.636, 0.528 for Qwen; 0.648, 0.504 for LLaMA).

use std::path::{Path, PathBuf};

use eval::{FieldMap, Prediction, Summary, report, rescore};
use metrics::Normalization;

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/predictions/r1-searcher")
        .join(name)
}

fn rescored(name: &str, how: Normalization) -> Vec<Prediction> {
    let (ps, skipped) = rescore(&file(name), &FieldMap::default(), how).expect("rescores");
    assert_eq!(skipped, 0, "{name}");
    ps
}

/// What R1-Searcher's script gives on one file.
struct Theirs {
    /// Its printed line: EM, Cover-EM, F1 (×100, one decimal) and the number of covered answers.
    printed: (&'static str, &'static str, &'static str, u64),
    /// `cover_em_2` ×100 to one decimal, as it would print it.
    cover_em_2: &'static str,
    /// Its means before rounding: em, f1, prec, recall, cover_em_1, cover_em_2.
    means: [f64; 6],
    /// Our cover-EM under SQuAD's normalisation, ×100.
    squad_cover_em: &'static str,
}

fn check(name: &str, dataset: &str, n: usize, theirs: Theirs) {
    let ps = rescored(name, Normalization::R1Searcher);
    assert_eq!(ps.len(), n, "{name}");
    // Summed in file order and divided once, as the script does, so the floats agree exactly.
    let mean = |f: fn(&Prediction) -> f64| ps.iter().map(f).sum::<f64>() / n as f64;
    let ours = [
        mean(|p| p.scores.em),
        mean(|p| p.scores.f1),
        mean(|p| p.scores.precision),
        mean(|p| p.scores.recall),
        mean(|p| p.scores.cover_em),
        mean(|p| p.scores.acc),
    ];
    assert_eq!(
        ours, theirs.means,
        "{name}: em, f1, prec, recall, cover 1, cover 2"
    );
    let summary = Summary::of(&ps);
    let method = name.trim_end_matches(".jsonl");
    let cell = summary.cell(method, dataset).expect("one cell per file");
    let covered = ps.iter().filter(|p| p.scores.cover_em == 1.0).count() as u64;
    assert_eq!(
        (
            format!("{:.1}", cell.em).as_str(),
            format!("{:.1}", cell.cover_em).as_str(),
            format!("{:.1}", cell.f1).as_str(),
            covered,
        ),
        theirs.printed,
        "{name}: EM, Cover-EM, F1, Acc_Num"
    );
    assert_eq!(format!("{:.1}", cell.sub_em), theirs.cover_em_2, "{name}");

    let squad = Summary::of(&rescored(name, Normalization::Squad));
    let squad_cover = squad.cell(method, dataset).expect("a cell").cover_em;
    assert_eq!(format!("{squad_cover:.1}"), theirs.squad_cover_em, "{name}");
    assert_ne!(format!("{squad_cover:.1}"), theirs.printed.1, "{name}");
}

#[test]
fn hotpotqa_qwen() {
    check(
        "hotpotqa_qwen.jsonl",
        "HotpotQA",
        500,
        Theirs {
            printed: ("58.0", "65.4", "71.9", 327),
            cover_em_2: "65.4",
            means: [
                0.58,
                0.7186601065601068,
                0.7387499999999999,
                0.7285420634920633,
                0.654,
                0.654,
            ],
            squad_cover_em: "64.8",
        },
    );
}

#[test]
fn twowiki_qwen() {
    check(
        "2wiki_qwen.jsonl",
        "2Wiki",
        500,
        Theirs {
            printed: ("55.4", "63.6", "63.7", 318),
            cover_em_2: "64.0",
            means: [
                0.554,
                0.6373032967032968,
                0.6315142857142854,
                0.6642666666666664,
                0.636,
                0.64,
            ],
            squad_cover_em: "62.6",
        },
    );
}

#[test]
fn bamboogle_qwen() {
    check(
        "bamboogle_qwen.jsonl",
        "Bamboogle",
        125,
        Theirs {
            printed: ("45.6", "52.8", "57.7", 66),
            cover_em_2: "48.8",
            means: [
                0.456,
                0.5769047619047618,
                0.5808666666666665,
                0.5869999999999999,
                0.528,
                0.488,
            ],
            squad_cover_em: "52.0",
        },
    );
}

#[test]
fn hotpotqa_llama() {
    check(
        "hotpotqa_llama.jsonl",
        "HotpotQA",
        500,
        Theirs {
            printed: ("58.4", "64.8", "70.6", 324),
            cover_em_2: "63.6",
            means: [
                0.584,
                0.7058504384504386,
                0.7320261904761903,
                0.7136785714285714,
                0.648,
                0.636,
            ],
            squad_cover_em: "64.4",
        },
    );
}

#[test]
fn bamboogle_llama() {
    check(
        "bamboogle_llama.jsonl",
        "Bamboogle",
        125,
        Theirs {
            printed: ("44.0", "50.4", "57.1", 63),
            cover_em_2: "47.2",
            means: [
                0.44,
                0.5706190476190477,
                0.5763333333333334,
                0.5763333333333334,
                0.504,
                0.472,
            ],
            squad_cover_em: "49.6",
        },
    );
}

/// Record 233 of `hotpotqa_qwen.jsonl` answers `" False "` (spaces kept from between its
/// `<answer>` tags) to a question whose gold is `no`: the script's True/False mapping needs the
/// bare word, so it scores 0 there, and so must the rescore — trimming first would give 1.
#[test]
fn a_padded_false_is_not_read_as_no() {
    let ps = rescored("hotpotqa_qwen.jsonl", Normalization::R1Searcher);
    let p = &ps[232];
    assert_eq!(
        (p.prediction.as_str(), p.golds.as_slice()),
        (" False ", &["no".to_string()][..])
    );
    assert_eq!((p.scores.em, p.scores.cover_em), (0.0, 0.0));
    assert_eq!(
        metrics::score_with("False", &p.golds, Normalization::R1Searcher).em,
        1.0
    );
}

/// The report names the cover columns after R1-Searcher only when they are its figures.
#[test]
fn reports_call_cover_em_acc_r_only_under_r1_searchers_normalisation() {
    let options = report::ReportOptions::default();
    let theirs = report::markdown(
        &rescored("hotpotqa_qwen.jsonl", Normalization::R1Searcher),
        &options,
    );
    assert!(
        theirs.contains("| Method | n | failed | Recall | EM | F1 | ACC_R | Cover-EM 2 | ACC_L |"),
        "{theirs}"
    );
    assert!(
        theirs.contains("| 58.00 | 71.87 | 65.40 | 65.40 |"),
        "{theirs}"
    );
    assert!(theirs.contains("R1-Searcher's evaluation/metric_calc_rule.py"));

    let ours = report::markdown(
        &rescored("hotpotqa_qwen.jsonl", Normalization::Squad),
        &options,
    );
    assert!(
        ours.contains("| Method | n | failed | Recall | EM | F1 | Cover-EM | Sub-EM | ACC_L |"),
        "{ours}"
    );
    assert!(
        !ours.contains("ACC_R:") && ours.contains("not its ACC_R"),
        "{ours}"
    );
    assert!(ours.contains("| 64.80 |"), "{ours}");
}
