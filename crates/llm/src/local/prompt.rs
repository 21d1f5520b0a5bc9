//! The prompt a request becomes: its messages through the GGUF's chat template, either opening
//! a new assistant turn or continuing the final assistant message.

use chat::{ChatError, ChatRequest, InvalidRequest};
use llama_cpp_2::model::LlamaChatMessage;

use super::weights::Weights;
use super::worker::local_err;

/// Stands in for the content of a message to be continued while the template is applied: plain
/// ASCII that no template trims, escapes or finds anywhere else in a conversation.
const CONTINUE_HERE: &str = "MASKSEARCH_CONTINUE_FINAL_MESSAGE_HERE";

/// The text the model sees. With `continue_final_message` the final (assistant) message is left
/// open: the template renders it with [`CONTINUE_HERE`] as its content, the text is cut where
/// that marker begins (before the message's end-of-turn marker) and the real content appended,
/// exactly as written. Otherwise the template adds the assistant turn opener.
pub(super) fn render(weights: &Weights, request: &ChatRequest) -> Result<String, ChatError> {
    let last = request.messages.len().saturating_sub(1);
    let continued = request
        .continue_final_message
        .then(|| request.messages.last())
        .flatten();
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let content = match continued {
                Some(_) if index == last => CONTINUE_HERE.to_string(),
                _ => m.content.clone(),
            };
            LlamaChatMessage::new(m.role.as_str().to_string(), content)
                .map_err(|_| ChatError::Invalid(InvalidRequest::NulInContent { index }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rendered = weights
        .llama
        .apply_chat_template(&weights.template, &messages, continued.is_none())
        .map_err(|e| local_err("applying the chat template")(e.to_string()))?;
    match continued {
        None => Ok(rendered),
        Some(message) => open_final_message(&rendered, &message.content).ok_or_else(|| {
            local_err("continuing the final message")(
                "the chat template dropped the final message".to_string(),
            )
        }),
    }
}

/// `rendered` cut where the last [`CONTINUE_HERE`] begins, followed by `content`.
fn open_final_message(rendered: &str, content: &str) -> Option<String> {
    let at = rendered.rfind(CONTINUE_HERE)?;
    Some(format!("{}{content}", &rendered[..at]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_message_is_left_open() {
        let chatml = format!(
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n{CONTINUE_HERE}<|im_end|>\n"
        );
        assert_eq!(
            open_final_message(&chatml, "<think>I ").as_deref(),
            Some("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>I ")
        );
        assert_eq!(
            open_final_message(&chatml, "").as_deref(),
            Some("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n")
        );
        assert_eq!(open_final_message("no marker", "x"), None);
    }
}
