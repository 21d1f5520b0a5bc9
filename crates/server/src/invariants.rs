//! What every route that reads a body promises, as a check that panics when broken: any body is
//! answered with a 200 or a JSON 4xx, never a 5xx, a panic or a hang. The property tests
//! (`tests/bodies.rs`) send it generated bodies and the fuzz target (`fuzz/`) what libFuzzer
//! makes, through the whole app in-process, so the promise is written once.
//!
//! Behind the `invariants` feature (which brings the seams' scripted stand-ins); never served.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, header},
};
use chat::testing::Scripted as Model;
use search::testing::Scripted as Searcher;
use serde_json::Value;
use tower::ServiceExt;

use crate::{RetrieveConfig, RewardConfig};

/// The paths of the routes that read a body.
pub const PATHS: [&str; 4] = [
    "/retrieve",
    "/observation",
    "/reward",
    "/v1/chat/completions",
];

/// The app as `serve` joins it, over two passages and a model that always answers "Milan"
/// (the judge of `/reward` too). Made anew for each request: the scripted searcher keeps every
/// query it is asked, which over a fuzzing run's millions would fill the memory.
fn app() -> Router {
    // Passages as a passages file holds them: `formats` stays out of this crate's dependencies.
    let passages = serde_json::from_value(serde_json::json!([
        {"id": "1", "title": "Milan", "text": "Milan is a city in Italy."},
        {"id": "2", "title": "Pavia", "text": "Pavia lies south of Milan."},
    ]))
    .expect("passages");
    let searcher = Arc::new(Searcher::fixed(passages));
    let model = Arc::new(Model::texts("m", |_| Ok("<answer> Milan </answer>".into())));
    let config = RetrieveConfig {
        max_topk: 50,
        max_queries: 64,
        ..RetrieveConfig::default()
    };
    crate::app(
        [
            crate::retrieve::router(searcher, config),
            crate::reward::router(RewardConfig {
                judge: Some(model.clone()),
                ..RewardConfig::default()
            }),
            crate::chat::router(model, None),
        ],
        64 * 1024,
    )
}

/// `POST path` with `body` (with a JSON content type if `json`) is answered within 10 s with a
/// 200, or a 4xx whose body is JSON.
pub fn any_body(path: &str, body: Vec<u8>, json: bool) {
    let shown = String::from_utf8_lossy(&body).into_owned();
    let (status, answer) = post(app(), path, body, json);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        status == 200 || (400..500).contains(&status),
        "{path} {status} for {shown:?}: {text}"
    );
    if status != 200 {
        let error: Result<Value, _> = serde_json::from_slice(&answer);
        assert!(
            error.is_ok(),
            "{path} {status} answered {text:?} for {shown:?}"
        );
    }
}

/// The status and body of `POST path`, with or without a JSON content type.
fn post(app: Router, path: &str, body: Vec<u8>, json: bool) -> (u16, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut request = Request::post(path);
        if json {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let call = app.oneshot(request.body(Body::from(body)).expect("a request"));
        let response = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .unwrap_or_else(|_| panic!("{path} did not answer within 10 s"))
            .expect("routers do not fail");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body is read");
        (status, bytes.to_vec())
    })
}
