//! stub
use crate::Shared;
use axum::Router;
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
}
pub(crate) struct Predictions {
    pub path: std::path::PathBuf,
    pub records: Vec<eval::Prediction>,
}
impl Predictions {
    pub fn load(p: &std::path::Path) -> Result<Self, crate::UiError> {
        Ok(Predictions {
            path: p.to_path_buf(),
            records: formats::read_jsonl(p)?.collect::<Result<_, _>>()?,
        })
    }
}
