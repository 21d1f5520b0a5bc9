//! `POST /reward`: scores a batch of RL rollouts with `masksearch reward`'s presets.
//!
//! Request: `{"items": [{"data_source", "solution_str", "ground_truth", "extra_info"}, ...],
//! "preset": "masksearch-hybrid"}` — each item shaped like the arguments of verl's custom reward
//! function; `preset` may be left out for the server's default. Response: `{"preset": NAME,
//! "scores": [{"score", "answer", "parts", "recovered"?, "judge"?}, ...]}`, one per item, in
//! order. An unknown preset, a malformed item or one the preset cannot score is a 400 naming it
//! (`items[3]: ...`); the `judge` preset is a 400 unless the server was started with a judge
//! model.

use std::sync::Arc;

use agent::Prompts;
use agent::reward::{RewardError, RewardJudge, RewardPreset};
use axum::{
    Json, Router,
    extract::{State, rejection::JsonRejection},
    routing::post,
};
use chat::ChatModel;
use metrics::reward::{Reward, RewardItem};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ApiError;

/// What `/reward` serves with.
#[derive(Clone)]
pub struct RewardConfig {
    /// The preset of requests that name none.
    pub default_preset: RewardPreset,
    /// Items accepted in one request.
    pub max_items: usize,
    /// The judge model, for the `judge` preset.
    pub judge: Option<Arc<dyn ChatModel>>,
    pub prompts: Prompts,
    /// Judge calls in flight at once, per request.
    pub judge_concurrency: usize,
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig {
            default_preset: RewardPreset::default(),
            max_items: 16_384,
            judge: None,
            prompts: Prompts::default(),
            judge_concurrency: 8,
        }
    }
}

/// The request body. Items are read one by one after the envelope, so a bad one is named.
#[derive(Debug, Deserialize)]
pub struct RewardRequest {
    pub items: Vec<Box<RawValue>>,
    #[serde(default)]
    pub preset: Option<String>,
}

/// The response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct RewardResponse {
    pub preset: String,
    pub scores: Vec<Reward>,
}

/// The `/reward` route.
pub fn router(config: RewardConfig) -> Router {
    Router::new()
        .route("/reward", post(reward))
        .with_state(Arc::new(config))
}

async fn reward(
    State(config): State<Arc<RewardConfig>>,
    body: Result<Json<RewardRequest>, JsonRejection>,
) -> Result<Json<RewardResponse>, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    let preset = match &request.preset {
        None => config.default_preset,
        Some(name) => name.parse().map_err(ApiError::bad_request)?,
    };
    if request.items.len() > config.max_items {
        return Err(ApiError::bad_request(format!(
            "{} items in one request; this server accepts at most {}",
            request.items.len(),
            config.max_items
        )));
    }
    let judge = match (preset, &config.judge) {
        (RewardPreset::Judge, None) => {
            return Err(ApiError::bad_request(
                "the judge preset needs a judge model, and this server was started without one",
            ));
        }
        (RewardPreset::Judge, Some(model)) => Some(RewardJudge {
            model: model.as_ref(),
            prompts: &config.prompts,
            concurrency: config.judge_concurrency,
        }),
        _ => None,
    };
    let items = parse_items(&request.items)?;
    let scores = agent::reward::score_batch(&items, preset, judge.as_ref())
        .await
        .map_err(|e| match e {
            RewardError::Item { index, error } => {
                ApiError::bad_request(format!("items[{index}]: {error}"))
            }
            RewardError::Judge { error, .. } => error.into(),
            other => ApiError::internal(other),
        })?;
    Ok(Json(RewardResponse {
        preset: preset.to_string(),
        scores,
    }))
}

fn parse_items(raw: &[Box<RawValue>]) -> Result<Vec<RewardItem>, ApiError> {
    raw.iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_str(item.get())
                .map_err(|e| ApiError::bad_request(format!("items[{i}]: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chat::testing::Scripted;
    use serde_json::{Value, json};

    use super::*;

    /// Says "correct" to every question.
    fn yes() -> Scripted {
        Scripted::texts("yes", |_| Ok("correct".into()))
    }

    async fn serve(config: RewardConfig, body_limit: usize) -> String {
        let app = crate::app([router(config)], body_limit);
        let (listener, addr) = crate::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn post(base: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{base}/reward"))
            .json(&body)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    fn item(response: &str, gold: Value) -> Value {
        json!({"data_source": "nq", "solution_str": response, "ground_truth": gold,
               "extra_info": {"split": "train", "index": 0}})
    }

    fn batch() -> Vec<Value> {
        vec![
            item(
                "<think>t</think><answer>Paris</answer>",
                json!({"target": ["Paris"]}),
            ),
            item("<answer>Lyon</answer>", json!(["Paris", "Paname"])),
            item("<think>t</think><answer>the Paris</answer>", json!("paris")),
        ]
    }

    fn scores(body: &Value) -> Vec<f64> {
        body["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .map(|s| s["score"].as_f64().expect("a score"))
            .collect()
    }

    #[tokio::test]
    async fn scores_a_batch_in_order_with_the_named_or_default_preset() {
        let base = serve(RewardConfig::default(), crate::DEFAULT_BODY_LIMIT).await;
        let (status, body) = post(&base, json!({"items": batch(), "preset": "search-r1"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["preset"], "search-r1");
        assert_eq!(scores(&body), [1.0, 0.0, 1.0]);
        assert_eq!(body["scores"][0]["answer"], "Paris");
        assert_eq!(body["scores"][1]["parts"]["format"], 0.0);
        let (status, body) = post(&base, json!({"items": batch()})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["preset"], "masksearch-hybrid");
        assert_eq!(scores(&body), [1.0, 0.0, 1.0]);
        let (_, body) = post(&base, json!({"items": []})).await;
        assert_eq!(body["scores"], json!([]));
    }

    #[tokio::test]
    async fn ramp_items_score_per_mask() {
        let base = serve(RewardConfig::default(), crate::DEFAULT_BODY_LIMIT).await;
        let ramp = json!({"solution_str": "<answer>B.S. in physics</answer>",
                          "ground_truth": {"target": ["B.S.", "mathematics"]},
                          "extra_info": {"mask_num": 2}});
        let (status, body) = post(&base, json!({"items": [ramp], "preset": "masks"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scores"][0]["recovered"], json!([true, false]));
        assert_eq!(scores(&body), [0.5]);
    }

    #[tokio::test]
    async fn bad_requests_are_400s_that_say_why() {
        let base = serve(RewardConfig::default(), crate::DEFAULT_BODY_LIMIT).await;
        let mut items = batch();
        items[2] = json!({"solution_str": "x", "ground_truth": 42});
        let cases = [
            (
                json!({"items": batch(), "preset": "bleu"}),
                "unknown reward preset \"bleu\"",
            ),
            (json!({"items": items}), "items[2]: "),
            (
                json!({"items": [{"ground_truth": "x"}]}),
                "items[0]: missing field `solution_str`",
            ),
            (
                json!({"items": [item("<answer>x</answer>", json!(["x"]))], "preset": "masks"}),
                "items[0]: preset masks scores RAMP samples",
            ),
            (
                json!({"items": batch(), "preset": "judge"}),
                "started without one",
            ),
        ];
        for (request, says) in cases {
            let (status, body) = post(&base, request.clone()).await;
            assert_eq!(status, 400, "{request}: {body}");
            assert_eq!(body["error"]["type"], "invalid_request_error");
            let message = body["error"]["message"].as_str().expect("a message");
            assert!(message.contains(says), "{request}: {message}");
        }
        let (status, body) = post(&base, json!({"preset": "em"})).await;
        assert_eq!(status, 422, "{body}");
    }

    #[tokio::test]
    async fn limits_hold() {
        let config = RewardConfig {
            max_items: 2,
            ..RewardConfig::default()
        };
        let base = serve(config, 4096).await;
        let (status, body) = post(&base, json!({"items": batch()})).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 2"),
            "{body}"
        );
        let long = "x".repeat(5000);
        let (status, _) = post(&base, json!({"items": [item(&long, json!("x"))]})).await;
        assert_eq!(status, 413);
    }

    #[tokio::test]
    async fn the_judge_preset_asks_the_model() {
        let config = RewardConfig {
            judge: Some(Arc::new(yes())),
            ..RewardConfig::default()
        };
        let base = serve(config, crate::DEFAULT_BODY_LIMIT).await;
        let mut items = batch();
        items.push(item("no answer", json!("Paris")));
        let (status, body) = post(&base, json!({"items": items, "preset": "judge"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(scores(&body), [1.0, 1.0, 1.0, 0.0]);
        assert_eq!(body["scores"][1]["judge"], true);
        assert!(body["scores"][3].get("judge").is_none(), "{body}");
    }
}
