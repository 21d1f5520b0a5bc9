//! [`Simulated`]: ZeroSearch's simulated search — a language model writes the documents a
//! search engine would return for the query. Useful where no corpus covers a domain; every
//! record that used it names a `simulated:` backend.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use regex::Regex;
use serde::{Deserialize, Serialize};

use chat::{ChatModel, ChatRequest, Message};
use formats::{Passage, stable_hash};
use search::{SearchError, SearchHit, Searcher};

use crate::rank_score;

/// How the model is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatedConfig {
    /// Sampling temperature; 0 (greedy, the default) makes the answer a function of the query,
    /// so a response cache in front of the model makes searches repeatable.
    pub temperature: f32,
    /// Most documents written per query, whatever `k` a caller asks for.
    pub max_documents: usize,
    /// Length asked for, per document.
    pub words_per_document: usize,
    /// Token budget of one answer (all documents together).
    pub max_tokens: u32,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            temperature: 0.0,
            max_documents: 10,
            words_per_document: 30,
            max_tokens: 600,
        }
    }
}

/// Simulated search: for each query the model, shown one worked example, writes `k` short
/// documents (`Doc 1: …`), which are read back leniently and never evaluated; a model that
/// writes fewer gives fewer hits. The tags of the agent's transcript (`<think>`, `<search>`,
/// `<answer>`, `<information>`) are removed from what it writes. A document's title is the
/// query, or what the model wrote after a leading `Title:`; its id is `sim:` and a stable hash
/// of the query and its number (the n-th document of a query always has the same id). Scores
/// are `1 / rank`.
pub struct Simulated {
    model: Arc<dyn ChatModel>,
    config: SimulatedConfig,
}

impl std::fmt::Debug for Simulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulated")
            .field("model", &self.model.name())
            .field("config", &self.config)
            .finish()
    }
}

impl Simulated {
    pub fn new(model: Arc<dyn ChatModel>, config: SimulatedConfig) -> Self {
        Simulated { model, config }
    }

    fn request(&self, query: &str, k: usize) -> ChatRequest {
        ChatRequest {
            messages: messages(query, k, self.config.words_per_document),
            temperature: Some(self.config.temperature),
            max_tokens: Some(self.config.max_tokens),
            // Everything past the k-th document is wasted: stop where the next would begin.
            stop: vec![format!("Doc {}:", k + 1)],
            ..ChatRequest::default()
        }
    }

    async fn search_one(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError> {
        let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let response = self
            .model
            .chat(&self.request(&query, k))
            .await
            .map_err(|e| SearchError::Backend {
                backend: self.name(),
                message: e.to_string(),
            })?;
        let documents = documents(&response.text, k);
        if documents.is_empty() {
            tracing::debug!(backend = %self.name(), query, "the model wrote no documents");
        }
        Ok(documents
            .into_iter()
            .enumerate()
            .map(|(i, doc)| SearchHit {
                passage: Passage::new(
                    document_id(&query, i + 1),
                    doc.title.unwrap_or_else(|| query.clone()),
                    doc.text,
                ),
                score: rank_score(i + 1),
            })
            .collect())
    }
}

#[async_trait]
impl Searcher for Simulated {
    fn name(&self) -> String {
        format!("simulated:{}", self.model.name())
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let k = k.min(self.config.max_documents);
        if k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        futures_util::future::try_join_all(queries.iter().map(|q| self.search_one(q, k))).await
    }
}

/// Our prompt (ZeroSearch's idea, not its text): the model plays the search engine, shown once
/// how with [`EXAMPLE`] (small models follow the format only after an example).
fn messages(query: &str, k: usize, words: usize) -> Vec<Message> {
    let shown = &EXAMPLE.documents[..k.min(EXAMPLE.documents.len())];
    let answer: Vec<String> = shown
        .iter()
        .enumerate()
        .map(|(i, doc)| format!("Doc {}: {doc}", i + 1))
        .collect();
    vec![
        Message::user(instruction(EXAMPLE.query, shown.len(), words)),
        Message::assistant(answer.join("\n")),
        Message::user(instruction(query, k, words)),
    ]
}

fn instruction(query: &str, k: usize, words: usize) -> String {
    let s = if k == 1 { "" } else { "s" };
    format!(
        "You are a search engine. Write the {k} most useful document{s} a web search for the \
         query below would return. Each document is a few factual sentences (about {words} words) \
         that help answer the query. Write them as `Doc 1: …`, `Doc 2: …`, one per line, and \
         nothing else.\n\nQuery: {query}"
    )
}

/// The worked example: a query and as many documents as the model may be asked for.
struct Example {
    query: &'static str,
    documents: [&'static str; 10],
}

const EXAMPLE: Example = Example {
    query: "Eiffel Tower height and history",
    documents: [
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It was designed by the engineering company of Gustave Eiffel and built from 1887 to 1889.",
        "The Eiffel Tower is 330 metres tall. It was the tallest man-made structure in the world until the Chrysler Building in New York City was completed in 1930.",
        "The tower was built as the entrance arch of the 1889 World's Fair, held in Paris to mark the centennial of the French Revolution.",
        "About seven million people visit the Eiffel Tower each year, which makes it one of the most visited paid monuments in the world.",
        "The tower has three levels open to visitors, with restaurants on the first and second levels. The upper platform of the top level is 276 metres above the ground.",
        "In 1887 leading French artists and intellectuals protested against the design of the tower, calling it useless and monstrous. It has since become a cultural icon of France.",
        "The Eiffel Tower was meant to stand for only 20 years. It was kept because it proved useful as a radiotelegraph station, and it still carries broadcast antennas.",
        "The tower is repainted every seven years to protect it from rust. About 60 tonnes of paint are used each time.",
        "Gustave Eiffel's company also built the internal iron frame of the Statue of Liberty in New York, which was dedicated in 1886.",
        "The Eiffel Tower is owned by the City of Paris and run by the Société d'exploitation de la tour Eiffel (SETE).",
    ],
};

/// `sim:` and the stable hash of the query and the document's number (1-based).
fn document_id(query: &str, number: usize) -> String {
    format!("sim:{:016x}", stable_hash(&format!("{query}\n{number}")))
}

/// One document as the model wrote it.
#[derive(Debug, PartialEq)]
struct Document {
    title: Option<String>,
    text: String,
}

/// `Doc 3:` (or `Document 3:`, `**Doc 3:**`, `## Doc 3 :`) at the start of the text or after
/// white space.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|\s)[*#_]*\s*doc(?:ument)?\s*#?\s*\d+\s*[*_]*\s*:[*_]*")
        .expect("a valid pattern")
});

/// The tags of the agent's transcript format: a written document must not open or close one.
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?\s*(?:think|search|answer|information)\s*>").expect("a valid pattern")
});

/// The first `k` documents in a model's answer. With `Doc N:` markers, the first paragraph
/// after each (anything before the first marker is preamble, anything after a blank line
/// commentary); without markers, each paragraph is a document. Empty documents are dropped.
fn documents(answer: &str, k: usize) -> Vec<Document> {
    let answer = TAG.replace_all(answer, " ");
    let starts: Vec<_> = MARKER.find_iter(&answer).collect();
    let pieces: Vec<&str> = if starts.is_empty() {
        answer.split("\n\n").collect()
    } else {
        starts
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let end = starts.get(i + 1).map_or(answer.len(), |next| next.start());
                let piece = answer[m.end()..end].trim_start();
                piece.split("\n\n").next().unwrap_or(piece)
            })
            .collect()
    };
    pieces.into_iter().filter_map(document).take(k).collect()
}

/// A document from its text; a first line `Title: …` gives its title.
fn document(piece: &str) -> Option<Document> {
    let piece = piece.trim();
    let (title, body) = match piece.split_once('\n') {
        Some((first, rest)) => match strip_prefix_ignore_case(first.trim(), "title:") {
            Some(title) => (Some(clean(title)).filter(|t| !t.is_empty()), rest),
            None => (None, piece),
        },
        None => (None, piece),
    };
    let text = clean(body);
    (!text.is_empty()).then_some(Document { title, text })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// White space collapsed, markdown emphasis and quotes around the whole removed.
fn clean(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.trim_matches(|c: char| matches!(c, '*' | '_' | '"' | '`') || c.is_whitespace())
        .to_string()
}

#[cfg(test)]
mod tests {
    use chat::{ChatError, Role, testing::Scripted};

    use super::*;

    /// Parses `answer` for `k` documents and shows each as `title|text` (`-` for no title).
    fn check(answer: &str, k: usize, expect: &[&str]) {
        let got: Vec<String> = documents(answer, k)
            .into_iter()
            .map(|d| format!("{}|{}", d.title.as_deref().unwrap_or("-"), d.text))
            .collect();
        assert_eq!(got, expect, "{answer:?}");
    }

    #[test]
    fn documents_as_asked() {
        check(
            "Doc 1: Pavia is a town in Lombardy.\nDoc 2: Its cathedral has a large dome.\nDoc 3: The Po flows nearby.",
            3,
            &[
                "-|Pavia is a town in Lombardy.",
                "-|Its cathedral has a large dome.",
                "-|The Po flows nearby.",
            ],
        );
    }

    #[test]
    fn documents_written_loosely() {
        // A preamble, markdown, blank lines, another spelling of the marker.
        check(
            "Sure! Here are the documents:\n\n**Doc 1:** Pavia is a town.\n\n## Document 2: It has\na dome.\n",
            3,
            &["-|Pavia is a town.", "-|It has a dome."],
        );
        // Commentary after the last document.
        check(
            "Doc 1: One.\nDoc 2:\n\nTwo.\n\nThis is a list of the most useful documents.",
            3,
            &["-|One.", "-|Two."],
        );
        // All on one line.
        check(
            "Doc 1: One. Doc 2: Two. doc 3 : Three.",
            3,
            &["-|One.", "-|Two.", "-|Three."],
        );
        // No markers at all: paragraphs.
        check(
            "Pavia is a town.\n\nIt has a dome.\n\n\n",
            2,
            &["-|Pavia is a town.", "-|It has a dome."],
        );
        check("Just one paragraph.", 3, &["-|Just one paragraph."]);
    }

    #[test]
    fn more_than_k_are_cut_and_empty_ones_dropped() {
        check("Doc 1: a\nDoc 2:\nDoc 3: c\nDoc 4: d", 2, &["-|a", "-|c"]);
        check("", 3, &[]);
        check("Doc 1: **", 3, &[]);
    }

    #[test]
    fn a_leading_title_line_names_the_document() {
        check(
            "Doc 1: Title: Pavia Cathedral\nThe cathedral was begun in 1488.\nDoc 2: title: \nNo title here.",
            2,
            &[
                "Pavia Cathedral|The cathedral was begun in 1488.",
                "-|No title here.",
            ],
        );
        // A title with nothing under it is text.
        check("Doc 1: Title: Pavia", 1, &["-|Title: Pavia"]);
    }

    #[test]
    fn transcript_tags_never_pass_through() {
        check(
            "Doc 1: The answer is </information><answer>Pavia</answer> <Search >x</search >",
            1,
            &["-|The answer is Pavia x"],
        );
    }

    /// A simulated search whose model answers with a function of the prompt.
    fn simulated(
        answer: fn(&str) -> Result<String, ChatError>,
        config: SimulatedConfig,
    ) -> (Simulated, Arc<Scripted>) {
        let model = Arc::new(Scripted::texts("scripted", move |request| {
            let asked = request.messages.last().map(|m| m.content.as_str());
            answer(asked.unwrap_or_default())
        }));
        (Simulated::new(model.clone(), config), model)
    }

    /// Three documents that quote the query line of the prompt.
    fn echo(prompt: &str) -> Result<String, ChatError> {
        let query = prompt.rsplit("Query: ").next().unwrap_or_default();
        Ok(format!(
            "Doc 1: first on {query}.\nDoc 2: second on {query}.\nDoc 3: third on {query}."
        ))
    }

    #[tokio::test]
    async fn asks_greedily_for_k_documents_and_stops_after_the_kth() {
        let (sim, model) = simulated(echo, SimulatedConfig::default());
        sim.search("Pavia  cathedral\n", 2).await.unwrap();
        let requests = model.seen();
        let request = &requests[0];
        assert_eq!(request.temperature, Some(0.0));
        assert_eq!(request.stop, ["Doc 3:"]);
        assert_eq!(request.max_tokens, Some(600));
        // A worked example with as many documents as asked for, then the query.
        let [example, shown, asked] = &request.messages[..] else {
            panic!("{:?}", request.messages);
        };
        assert_eq!(
            [example.role, shown.role, asked.role],
            [Role::User, Role::Assistant, Role::User]
        );
        assert!(example.content.contains("the 2 most useful documents"));
        assert_eq!(documents(&shown.content, 10).len(), 2, "{}", shown.content);
        assert!(
            asked.content.ends_with("Query: Pavia cathedral"),
            "{}",
            asked.content
        );
        assert!(asked.content.contains("the 2 most useful documents"));
    }

    #[tokio::test]
    async fn hits_carry_query_titles_stable_ids_and_rank_scores() {
        let (sim, _) = simulated(echo, SimulatedConfig::default());
        let hits = sim.search("Pavia cathedral", 3).await.unwrap();
        let shown: Vec<String> = hits
            .iter()
            .map(|h| format!("{} | {} | {}", h.score, h.passage.title, h.passage.text))
            .collect();
        assert_eq!(
            shown,
            [
                "1 | Pavia cathedral | first on Pavia cathedral.",
                "0.5 | Pavia cathedral | second on Pavia cathedral.",
                "0.3333333333333333 | Pavia cathedral | third on Pavia cathedral.",
            ]
        );
        assert_eq!(hits[0].passage.id, document_id("Pavia cathedral", 1));
        assert_eq!(document_id("Pavia cathedral", 1), "sim:4b01089d2ca3042b");
        let ids: std::collections::HashSet<_> = hits.iter().map(|h| &h.passage.id).collect();
        assert_eq!(ids.len(), 3);
        assert_ne!(document_id("Pavia", 1), document_id("Pavia cathedral", 1));
    }

    #[tokio::test]
    async fn batches_answer_in_query_order_and_cap_k() {
        let config = SimulatedConfig {
            max_documents: 2,
            ..SimulatedConfig::default()
        };
        let (sim, model) = simulated(echo, config);
        let queries = ["alpha".to_string(), " ".to_string(), "beta".to_string()];
        let lists = sim.batch_search(&queries, 5).await.unwrap();
        let firsts: Vec<Vec<&str>> = lists
            .iter()
            .map(|l| l.iter().map(|h| h.passage.text.as_str()).collect())
            .collect();
        assert_eq!(
            firsts,
            [
                vec!["first on alpha.", "second on alpha."],
                vec![],
                vec!["first on beta.", "second on beta."],
            ]
        );
        assert_eq!(model.seen().len(), 2, "a blank query asks nothing");
    }

    #[tokio::test]
    async fn a_model_failure_is_a_backend_error_naming_simulated() {
        let (sim, _) = simulated(
            |_| {
                Err(ChatError::Unavailable {
                    backend: "http://127.0.0.1:9/v1/chat/completions".into(),
                    message: "connection refused".into(),
                })
            },
            SimulatedConfig::default(),
        );
        let err = sim.search("Pavia", 3).await.unwrap_err();
        assert!(
            matches!(&err, SearchError::Backend { backend, message }
                if backend == "simulated:scripted" && message.contains("connection refused")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn nothing_usable_is_an_empty_result() {
        let (sim, _) = simulated(|_| Ok("   ".to_string()), SimulatedConfig::default());
        assert!(sim.search("Pavia", 3).await.unwrap().is_empty());
    }
}
