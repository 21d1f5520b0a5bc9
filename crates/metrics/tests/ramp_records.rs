//! Real RAMP records: each record's own `answer` (the original passage) recovers every mask of
//! its `query`, masks glued to their neighbours included (`[mask]'s`, `“[mask]”`, `([mask])`,
//! a final mask whose words the query's instruction also has).
//!
//! `ramp/records.jsonl` is 48 records of `masksearch ramp` (defaults, seed 42) over the
//! Wikipedia summaries in `assets/corpus` (CC BY-SA, see `ramp/README.md`), picked with:
//!
//! ```text
//! target/debug/masksearch ingest assets/corpus/wiki-summaries.jsonl --out /tmp/w/p.jsonl
//! target/debug/masksearch ramp --passages /tmp/w/p.jsonl --out /tmp/x.jsonl --overwrite
//! python3 - /tmp/x.jsonl > crates/metrics/tests/ramp/records.jsonl <<'EOF'
//! import json, re, sys
//! lines = open(sys.argv[1], encoding="utf-8").readlines()
//! def body(line): return json.loads(line)["query"].split("\n\nFill in all")[0]
//! def last(line): return json.loads(line)["ext"]["masks"][-1]
//! apostrophe = [l for l in lines if re.search(r"\[mask\]['’]", body(l))][::6]
//! quoted = [l for l in lines if re.search(r"[“‘\"(]\[mask\][”’\")]", body(l))][::60]
//! final = [l for l in lines if re.search(r"(?i)\b(and|all)\b", last(l)) and body(l).endswith("[mask].")]
//! sys.stdout.writelines(apostrophe + quoted + final)
//! EOF
//! ```
//!
//! (Another ramp version may mask other spans; that only changes which records are picked.)

use serde_json::Value;

const RECORDS: &str = include_str!("ramp/records.jsonl");

/// The instruction a RAMP query ends with; the passage is what precedes it.
const INSTRUCTION: &str = "\n\nFill in all the [mask]";

struct Record {
    id: String,
    query: String,
    answer: String,
    masks: Vec<String>,
}

fn records() -> Vec<Record> {
    let records: Vec<Record> = RECORDS
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("records are JSON");
            let text = |key: &Value| key.as_str().expect("a string").to_owned();
            Record {
                id: text(&v["id"]),
                query: text(&v["query"]),
                answer: text(&v["answer"]),
                masks: v["ext"]["masks"]
                    .as_array()
                    .expect("ext.masks")
                    .iter()
                    .map(text)
                    .collect(),
            }
        })
        .collect();
    assert!(records.len() >= 45, "only {} records", records.len());
    records
}

/// The record's passage with its `[mask]`s filled by `fillers`, in order.
fn fill(record: &Record, fillers: &[&str]) -> String {
    let (passage, _) = record.query.rsplit_once(INSTRUCTION).expect("a RAMP query");
    let mut pieces = passage.split("[mask]");
    let mut filled = pieces.next().unwrap_or_default().to_owned();
    for (piece, filler) in pieces.zip(fillers) {
        filled.push_str(filler);
        filled.push_str(piece);
    }
    filled
}

#[test]
fn each_records_answer_recovers_every_mask() {
    let failures: Vec<String> = records()
        .iter()
        .filter_map(|r| {
            let scores = metrics::score_masks_aligned(&r.masks, &r.query, &r.answer);
            (scores.recovered != 1.0).then(|| format!("{}: {:?}", r.id, scores.masks))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_first_filler_loses_only_the_first_mask() {
    for r in records() {
        let mut fillers: Vec<&str> = r.masks.iter().map(String::as_str).collect();
        assert_eq!(
            fill(&r, &fillers),
            r.answer,
            "{}: the masks restore the answer",
            r.id
        );
        fillers[0] = "Quux";
        let scores = metrics::score_masks_aligned(&r.masks, &r.query, &fill(&r, &fillers));
        let recovered: Vec<bool> = scores.masks.iter().map(|m| m.recovered).collect();
        let mut expect = vec![true; r.masks.len()];
        expect[0] = false;
        assert_eq!(recovered, expect, "{}: {:?}", r.id, scores.masks);
    }
}
