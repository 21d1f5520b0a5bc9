//! The masksearch HTTP API: Search-R1-compatible `/retrieve`, `/reward` for RL trainers, an
//! OpenAI-compatible chat endpoint for the local model, and health checks.
//!
//! `server` sees search and models only through the `search::Searcher` and `chat::ChatModel`
//! traits and scores rewards with `agent::reward`; it never opens an index or loads weights
//! itself.

mod ascii_json;
pub mod chat;
mod error;
#[cfg(feature = "invariants")]
pub mod invariants;
pub mod retrieve;
pub mod reward;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Request},
    middleware::{self, Next},
    response::IntoResponse,
    routing::get,
};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use error::ApiError;
pub use retrieve::RetrieveConfig;
pub use reward::RewardConfig;

/// Default cap on request bodies: a batch of 4096 long queries fits, a runaway client does not.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Joins route groups into one app with `GET /health`, a body-size cap and request tracing.
pub fn app(routes: impl IntoIterator<Item = Router>, body_limit: usize) -> Router {
    let mut app = Router::new().route("/health", get(health));
    for r in routes {
        app = app.merge(r);
    }
    app.layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Caps `app` at `max` requests in flight: one more is answered at once with a 503 and
/// `Retry-After: 1` (a JSON error, as every refusal here), so a server pushed past what it can
/// serve sheds load cleanly instead of letting every answer slow down. `GET /health` is never
/// refused. Wrap after [`app`].
pub fn cap_in_flight(app: Router, max: usize) -> Router {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let permits = Arc::clone(&permits);
        async move {
            if request.uri().path() == "/health" {
                return next.run(request).await;
            }
            match permits.try_acquire_owned() {
                Ok(_permit) => next.run(request).await,
                Err(_) => ApiError::busy(
                    format!("the server is at its cap of {max} requests in flight"),
                    1,
                )
                .into_response(),
            }
        }
    }))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Serves `app` on `listener` until Ctrl-C / SIGTERM.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Binds `addr` (port 0 picks a free port) and returns the listener and its real address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::post;
    use serde_json::Value;

    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn past_the_cap_requests_get_a_json_503_and_health_is_always_answered() {
        let slow = Router::new().route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let app = cap_in_flight(app([slow], 1024), 2);
        let (listener, addr) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let (client, url) = (client.clone(), format!("http://{addr}/slow"));
                tokio::spawn(async move { client.post(url).send().await.unwrap() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let health = client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status().as_u16(), 200, "health while full");
        let mut statuses = Vec::new();
        for call in calls {
            let response = call.await.unwrap();
            let status = response.status().as_u16();
            if status == 503 {
                assert_eq!(response.headers()["retry-after"], "1");
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["type"], "overloaded_error");
            }
            statuses.push(status);
        }
        statuses.sort();
        assert_eq!(statuses, [200, 200, 503, 503, 503, 503]);
        let again = client
            .post(format!("http://{addr}/slow"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 200, "the permits came back");
    }
}
