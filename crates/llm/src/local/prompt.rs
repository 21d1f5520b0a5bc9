//! The prompt a request becomes: its messages through the GGUF's chat template, either opening
//! a new assistant turn or continuing the final assistant message. Tools, tool calls and tool
//! results are first written into plain system, user and assistant text
//! ([`crate::tool_format`]): llama.cpp's templates know no tools.

use chat::{ChatError, ChatRequest, InvalidRequest};
use llama_cpp_2::model::LlamaChatMessage;

use super::local_err;
use super::weights::Weights;
use crate::tool_format::plain_messages;

/// Stands in for the content of a message to be continued while the template is applied: plain
/// ASCII that no template trims, escapes or finds anywhere else in a conversation.
const CONTINUE_HERE: &str = "MASKSEARCH_CONTINUE_FINAL_MESSAGE_HERE";

/// The text the model sees. With `continue_final_message` the final (assistant) message is left
/// open: the template renders it with [`CONTINUE_HERE`] as its content, the text is cut where
/// that marker begins (before the message's end-of-turn marker) and the real content appended,
/// exactly as written. Otherwise the template adds the assistant turn opener.
pub(super) fn render(weights: &Weights, request: &ChatRequest) -> Result<String, ChatError> {
    let plain = plain_messages(request);
    let last = plain.len().saturating_sub(1);
    let continued = request
        .continue_final_message
        .then(|| plain.last())
        .flatten();
    let messages = plain
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let content = match continued {
                Some(_) if i == last => CONTINUE_HERE.to_string(),
                _ => m.content.clone(),
            };
            LlamaChatMessage::new(m.role.as_str().to_string(), content)
                .map_err(|_| ChatError::Invalid(InvalidRequest::NulInContent { index: m.index }))
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
    use std::path::PathBuf;

    use chat::Role;
    use chat::openai::CompletionRequest;
    use serde_json::Value;

    use super::*;
    use crate::LocalConfig;
    use crate::tool_format::read_calls;

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    fn json(path: &str) -> Value {
        let text = std::fs::read_to_string(repo(path)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The tools-style conversations of testdata/llamafactory/, given as OpenAI messages, must
    /// give the model, before each of its turns, exactly the text LLaMA-Factory's `smollm`
    /// template trains it on (tools_conversations.smollm.json, written by LLaMA-Factory's own
    /// code: see render_tools.py there); and each turn LLaMA-Factory trains it to write must
    /// read back as that assistant message (its text, its calls' names and arguments).
    /// Measured beyond this test: llama.cpp's token count of each of these prompts equals
    /// LLaMA-Factory's with the real SmolLM2 tokenizer (224, 726, 1189; 231, 406, 488, 570).
    #[test]
    fn tool_conversations_render_as_llamafactory_trains_on_them() {
        let path = repo("assets/models/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            path.is_file(),
            "{} is missing: run scripts/setup.sh first",
            path.display()
        );
        let weights = Weights::load(&LocalConfig::new(path)).unwrap();
        let input = json("testdata/llamafactory/tools_conversations.json");
        let golden = json("testdata/llamafactory/tools_conversations.smollm.json");
        let conversations = input["conversations"].as_array().unwrap();
        let rendered = golden["conversations"].as_array().unwrap();
        assert_eq!(conversations.len(), rendered.len());
        let mut checked = 0;
        for (conversation, lf) in conversations.iter().zip(rendered) {
            let id = &conversation["id"];
            assert_eq!(id, &lf["id"]);
            let wire: CompletionRequest =
                serde_json::from_value(conversation["openai"].clone()).unwrap();
            let full = wire.to_chat().unwrap();
            let assistant_at = full
                .messages
                .iter()
                .enumerate()
                .filter(|(_, m)| m.role == Role::Assistant)
                .map(|(i, _)| i);
            let turns = lf["turns"].as_array().unwrap();
            let mut before = String::new();
            for (at, turn) in assistant_at.zip(turns) {
                let (prompt, response) = (
                    turn["prompt"].as_str().unwrap(),
                    turn["response"].as_str().unwrap(),
                );
                before.push_str(prompt);
                let request = ChatRequest {
                    messages: full.messages[..at].to_vec(),
                    ..full.clone()
                };
                assert_eq!(
                    render(&weights, &request).unwrap(),
                    before,
                    "{id}, message {at}"
                );
                // The agent runtime sends each call's thought trimmed: the same prompt.
                let mut trimmed = request.clone();
                for m in trimmed
                    .messages
                    .iter_mut()
                    .filter(|m| !m.tool_calls.is_empty())
                {
                    m.content = m.content.trim().to_string();
                }
                assert_eq!(render(&weights, &trimmed).unwrap(), before, "{id}, trimmed");
                before.push_str(response);

                let written = response.strip_suffix("<|im_end|>\n").unwrap();
                let (text, calls) = read_calls(written.to_string());
                let expected = &full.messages[at];
                assert_eq!(text, expected.content, "{id}, message {at}");
                let shape = |name: &str, arguments: &str| {
                    (
                        name.to_string(),
                        serde_json::from_str::<Value>(arguments).unwrap(),
                    )
                };
                assert_eq!(
                    calls
                        .iter()
                        .map(|c| shape(&c.name, &c.arguments))
                        .collect::<Vec<_>>(),
                    expected
                        .tool_calls
                        .iter()
                        .map(|c| shape(&c.name, &c.arguments))
                        .collect::<Vec<_>>(),
                    "{id}, message {at}"
                );
                checked += 1;
            }
            let answers = full.messages.iter().filter(|m| m.role == Role::Assistant);
            assert_eq!(
                turns.len(),
                answers.count(),
                "{id}: one trained turn per answer"
            );
        }
        assert_eq!(checked, 7, "every turn of both conversations");
    }

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
