//! Checks every case of `golden/cases.jsonl` (written by `golden/reference.py`, plain Python)
//! against the crate: normalisation, all answer scores, answer extraction and the format check.

use serde_json::Value;

const CASES: &str = include_str!("golden/cases.jsonl");

fn cases(kind: &str) -> Vec<Value> {
    CASES
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("golden lines are JSON"))
        .filter(|case| case["kind"] == kind)
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn normalisation_and_answer_scores_match_python() {
    let cases = cases("answer");
    assert!(cases.len() > 300, "only {} answer cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let prediction = case["prediction"].as_str().expect("prediction");
        let golds = strings(&case["golds"]);
        let normalized: Vec<String> = golds.iter().map(|g| metrics::normalize_answer(g)).collect();
        if metrics::normalize_answer(prediction) != case["normalized_prediction"]
            || normalized != strings(&case["normalized_golds"])
        {
            failures.push(format!("normalising {prediction:?} / {golds:?}"));
            continue;
        }
        let got =
            serde_json::to_value(metrics::score(prediction, &golds)).expect("scores serialise");
        for (name, value) in got.as_object().expect("an object") {
            let (got, want) = (
                value.as_f64().unwrap_or(f64::NAN),
                case[name].as_f64().unwrap_or(f64::NAN),
            );
            if (got - want).abs() > 1e-12 {
                failures.push(format!(
                    "{name} of {prediction:?} vs {golds:?}: {got}, Python {want}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn answer_extraction_and_format_check_match_python() {
    let cases = cases("tags");
    assert!(cases.len() > 300, "only {} tag cases", cases.len());
    let valid = cases.iter().filter(|c| c["valid"] == true).count();
    assert!(
        valid > 50 && valid < cases.len() - 50,
        "the cases should mix valid and invalid: {valid}"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let response = case["response"].as_str().expect("response");
        let answer = metrics::extract_answer(response);
        if answer != case["answer"].as_str() {
            failures.push(format!(
                "answer of {response:?}: {answer:?}, Python {}",
                case["answer"]
            ));
        }
        let verdict = metrics::check_format(response);
        if verdict.is_ok() != case["valid"] {
            failures.push(format!(
                "format of {response:?}: {verdict:?}, Python {}",
                case["valid"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
