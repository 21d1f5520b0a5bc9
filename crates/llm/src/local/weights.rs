//! The GGUF file loaded once and shared read-only by every worker: weights, vocabulary, chat
//! template, and the limits each request gets. Also the process-wide llama.cpp backend.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

use super::LocalConfig;

pub(super) struct Weights {
    pub llama: LlamaModel,
    pub template: LlamaChatTemplate,
    pub default_max_tokens: u32,
    /// Tokens a request may use, prompt and completion together. llama.cpp may give a context
    /// more room (it rounds up); this is what is promised.
    pub context_size: u32,
}

/// llama.cpp's backend may be initialised once per process.
pub(super) fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs every tensor at load; route it through `tracing` (target
            // `llama.cpp` / `ggml`) so it is quiet unless a filter asks for it.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| format!("initialising llama.cpp: {e}"))
}

impl Weights {
    /// Loads `config.model_path`; a GGUF without a chat template gets ChatML. The context is
    /// capped at the model's training context.
    pub(super) fn load(config: &LocalConfig) -> Result<Self, String> {
        let llama = LlamaModel::load_from_file(
            backend()?,
            &config.model_path,
            &LlamaModelParams::default(),
        )
        .map_err(|e| e.to_string())?;
        let template = match llama.chat_template(None) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(model = %config.model_path.display(), "no chat template in the GGUF ({e}); using ChatML");
                LlamaChatTemplate::new("chatml").map_err(|e| e.to_string())?
            }
        };
        Ok(Weights {
            context_size: config.context_size.min(llama.n_ctx_train()).max(16),
            llama,
            template,
            default_max_tokens: config.default_max_tokens,
        })
    }
}
