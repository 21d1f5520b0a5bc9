//! The student's instruction: the first (and only) prompt of a tags-style trajectory, written by
//! both exports and sent by the runtime, built by [`Template::prompt`] alone.

/// Search-R1's instruction (`infer.py` / its training data), `{question}` the question.
pub const SEARCH_R1_TEMPLATE: &str = "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new information. After reasoning, if you find you lack some knowledge, you can call a search engine by <search> query </search> and it will return the top searched results between <information> and </information>. You can search as many times as your want. If you find no further external knowledge needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. Question: {question}\n";

/// The default instruction: Search-R1's, word for word, with one sentence added after the search
/// syntax saying that one search may hold several queries, one per line (the teacher's
/// rewritten queries; see [`crate::turn::search_element`]).
pub const STUDENT_TEMPLATE: &str = "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new information. After reasoning, if you find you lack some knowledge, you can call a search engine by <search> query </search> and it will return the top searched results between <information> and </information>. To search several phrasings at once, write one query per line between <search> and </search>. You can search as many times as your want. If you find no further external knowledge needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. Question: {question}\n";

/// The grammar taught by one worked example, for small prompted models that ignore the bare
/// instruction (SmolLM2-135M answers at once under [`SEARCH_R1_TEMPLATE`]; after this example it
/// writes `<search>` for some questions, e.g. "Which river flows through Paris?"). The
/// example's question is not from any benchmark.
pub const FEW_SHOT_TEMPLATE: &str = "Answer questions by searching first. Always write a search as <search> query </search>, read the results, then answer as <answer> answer </answer>.\n\nExample:\nQuestion: Where was Marie Curie born?\n<search> Marie Curie birthplace </search>\n<information>Doc 1(Title: \"Marie Curie\") Marie Curie was born in Warsaw.</information>\n<answer> Warsaw </answer>\n\nQuestion: {question}\n";

/// A template without `{question}`.
#[derive(Debug, thiserror::Error)]
#[error("the template has no {{question}} placeholder")]
pub struct TemplateError;

/// An instruction with a `{question}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    text: String,
}

impl Default for Template {
    /// [`STUDENT_TEMPLATE`].
    fn default() -> Self {
        Template {
            text: STUDENT_TEMPLATE.to_string(),
        }
    }
}

impl Template {
    /// [`SEARCH_R1_TEMPLATE`].
    pub fn search_r1() -> Template {
        Template {
            text: SEARCH_R1_TEMPLATE.to_string(),
        }
    }

    /// [`FEW_SHOT_TEMPLATE`].
    pub fn few_shot() -> Template {
        Template {
            text: FEW_SHOT_TEMPLATE.to_string(),
        }
    }

    /// A template of the user's; it must contain `{question}`.
    pub fn new(text: &str) -> Result<Template, TemplateError> {
        if !text.contains("{question}") {
            return Err(TemplateError);
        }
        Ok(Template {
            text: text.to_string(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The user turn for `question`: a one-line question gets Search-R1's trailing `?` when it
    /// has none; a RAMP query (several lines) is used as it is.
    pub fn prompt(&self, question: &str) -> String {
        let mut q = question.trim().to_string();
        if !q.ends_with('?') && !q.contains('\n') {
            q.push('?');
        }
        self.text.replace("{question}", &q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_end_with_the_question_and_refuse_a_template_without_it() {
        let p = Template::default().prompt("who wrote hamlet");
        assert!(p.starts_with("Answer the given question."), "{p}");
        assert!(p.ends_with("Question: who wrote hamlet?\n"), "{p}");
        assert!(p.contains("one query per line"), "{p}");
        assert_eq!(
            Template::new("Q: {question}")
                .unwrap()
                .prompt("a [mask]\n\nFill"),
            "Q: a [mask]\n\nFill"
        );
        assert!(Template::new("no placeholder").is_err());
    }

    #[test]
    fn the_default_is_search_r1s_instruction_plus_one_sentence() {
        let added = "To search several phrasings at once, write one query per line between <search> and </search>. ";
        assert_eq!(STUDENT_TEMPLATE.replace(added, ""), SEARCH_R1_TEMPLATE);
    }
}
