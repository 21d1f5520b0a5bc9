//! Every route that reads a body answers any body with a 200 or a JSON 4xx: never a 5xx, a
//! panic or a hang (each request has 10 s). Bodies are built from each route's own fields with
//! values of every JSON type, bodies of the route's own shape with likely values, broken JSON and
//! arbitrary bytes, sent mostly with a JSON content type. The check is `server::invariants`,
//! which the fuzz target runs too. `PROPTEST_CASES` raises the number of cases (256 by default).

use proptest::prelude::*;
use serde_json::Value;
use server::invariants::any_body;

/// A JSON value of any type, nested a little.
fn value() -> impl Strategy<Value = Value> {
    let number = any::<f64>()
        .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
    let text = prop_oneof![Just(String::new()), "[a-z <>/]{0,12}", any::<String>()];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        number,
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text as models and users write it: tags, a few words, anything.
fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z <>/]{0,20}",
        Just("<search> Milan </search>".to_owned()),
        Just("<answer> Milan </answer>".to_owned()),
        any::<String>(),
    ]
}

/// Bodies of the route's own shape, their values drawn from small, likely ranges.
fn shaped(route: &'static str) -> BoxedStrategy<Value> {
    match route {
        "retrieve" => (
            prop::collection::vec(words(), 0..5),
            -2i64..60,
            any::<bool>(),
        )
            .prop_map(|(queries, topk, scores)| {
                serde_json::json!({"queries": queries, "topk": topk, "return_scores": scores})
            })
            .boxed(),
        "observation" => (
            prop::collection::vec(words(), 0..5),
            -2i64..60,
            prop::collection::vec(prop::sample::select(vec!["1", "2", "3"]), 0..3),
        )
            .prop_map(|(queries, topk, exclude)| {
                serde_json::json!({"queries": queries, "topk": topk, "exclude": exclude})
            })
            .boxed(),
        "reward" => (
            prop::collection::vec((words(), prop::collection::vec(words(), 0..3)), 0..4),
            prop::sample::select(vec!["search-r1", "masks", "hybrid", "judge", "nonsense"]),
        )
            .prop_map(|(items, preset)| {
                let items: Vec<Value> = items
                    .into_iter()
                    .map(|(response, gold)| {
                        serde_json::json!({"solution_str": response, "ground_truth": {"target": gold}})
                    })
                    .collect();
                serde_json::json!({"items": items, "preset": preset})
            })
            .boxed(),
        _ => (
            prop::collection::vec(
                (prop::sample::select(vec!["system", "user", "assistant", "tool", "x"]), words()),
                0..4,
            ),
            0i64..40,
            any::<bool>(),
        )
            .prop_map(|(messages, max_tokens, stream)| {
                let messages: Vec<Value> = messages
                    .into_iter()
                    .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
                    .collect();
                serde_json::json!({"messages": messages, "max_tokens": max_tokens, "stream": stream})
            })
            .boxed(),
    }
}

/// A body of the route's shape, an object holding some of `fields` with any value, or something
/// that is not one.
fn body(route: &'static str, fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let pairs = prop::collection::vec((prop::sample::select(fields), value()), 0..fields.len() + 1);
    let object = pairs.prop_map(|pairs| {
        let map: serde_json::Map<String, Value> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        serde_json::to_vec(&map).unwrap()
    });
    prop_oneof![
        4 => shaped(route).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        4 => object,
        1 => value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => "\\{\"[a-z]{0,8}\": ?\\[?\"?[a-z0-9]{0,6}".prop_map(String::into_bytes),
    ]
}

const RETRIEVE: &[&str] = &["queries", "topk", "return_scores", "query", "k"];
const OBSERVATION: &[&str] = &["queries", "topk", "exclude", "k"];
const REWARD: &[&str] = &[
    "items",
    "preset",
    "solution_str",
    "ground_truth",
    "data_source",
    "extra_info",
];
const CHAT: &[&str] = &[
    "messages",
    "model",
    "max_tokens",
    "temperature",
    "stop",
    "stream",
    "tools",
    "n",
    "seed",
    "top_p",
];

proptest! {
    #[test]
    fn retrieve_answers_any_body_with_a_200_or_a_json_4xx(body in body("retrieve", RETRIEVE), json in prop::bool::weighted(0.85)) {
        any_body("/retrieve", body, json);
    }

    #[test]
    fn observation_answers_any_body_with_a_200_or_a_json_4xx(body in body("observation", OBSERVATION), json in prop::bool::weighted(0.85)) {
        any_body("/observation", body, json);
    }

    #[test]
    fn reward_answers_any_body_with_a_200_or_a_json_4xx(body in body("reward", REWARD), json in prop::bool::weighted(0.85)) {
        any_body("/reward", body, json);
    }

    #[test]
    fn chat_completions_answer_any_body_with_a_200_or_a_json_4xx(body in body("chat", CHAT), json in prop::bool::weighted(0.85)) {
        any_body("/v1/chat/completions", body, json);
    }
}
