//! The masksearch HTTP API: Search-R1-compatible `/retrieve`, `/reward` for RL trainers, an
//! OpenAI-compatible chat endpoint for the local model, and health checks.
//!
//! `server` sees search and models only through the `search::Searcher` and `chat::ChatModel`
//! traits and scores rewards with `agent::reward`; it never opens an index or loads weights
//! itself.

pub mod chat;
mod error;
pub mod retrieve;
pub mod reward;

use std::net::SocketAddr;

use axum::{Json, Router, extract::DefaultBodyLimit, routing::get};
use serde_json::json;
use tokio::net::TcpListener;

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
