//! The student prompt both exports put in the first user turn: Search-R1's instruction by
//! default, built by the agent runtime's own code, so SFT data, RL data and rollouts agree.

use agent::RuntimeConfig;

use crate::ExportError;

/// A prompt template with a `{question}` placeholder.
#[derive(Debug, Clone)]
pub struct Template {
    runtime: RuntimeConfig,
}

impl Template {
    /// Search-R1's instruction (`agent::runtime::SEARCH_R1_TEMPLATE`).
    pub fn search_r1() -> Template {
        Template {
            runtime: RuntimeConfig::default(),
        }
    }

    /// A template of the user's; it must contain `{question}`.
    pub fn new(text: &str) -> Result<Template, ExportError> {
        if !text.contains("{question}") {
            return Err(ExportError::TemplateWithoutQuestion);
        }
        Ok(Template {
            runtime: RuntimeConfig {
                template: text.to_string(),
                ..RuntimeConfig::default()
            },
        })
    }

    /// The template's text.
    pub fn text(&self) -> &str {
        &self.runtime.template
    }

    /// The user turn for `question` exactly as the runtime sends it (a one-line question gets
    /// Search-R1's trailing `?`; a RAMP query, several lines, is used as it is).
    pub fn prompt(&self, question: &str) -> String {
        self.runtime.prompt(question)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_like_the_runtime_and_refuses_a_template_without_the_question() {
        let t = Template::search_r1();
        let p = t.prompt("who wrote hamlet");
        assert!(p.starts_with("Answer the given question."), "{p}");
        assert!(p.ends_with("Question: who wrote hamlet?\n"), "{p}");
        assert_eq!(
            p,
            agent::RuntimeConfig::default().prompt("who wrote hamlet")
        );
        assert_eq!(
            Template::new("Q: {question}")
                .unwrap()
                .prompt("a [mask]\n\nFill"),
            "Q: a [mask]\n\nFill"
        );
        assert!(matches!(
            Template::new("no placeholder"),
            Err(ExportError::TemplateWithoutQuestion)
        ));
    }
}
