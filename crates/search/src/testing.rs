//! A scripted search backend for the tests of code that searches (feature `testing`): for the
//! caller's logic (merging, retries, ordering, what is asked); tests of retrieval itself use the
//! real index.

use std::sync::Mutex;

use formats::Passage;

use crate::{SearchError, SearchHit, Searcher};

type Answer = dyn Fn(&str, usize) -> Result<Vec<SearchHit>, SearchError> + Send + Sync;

/// A [`Searcher`] that answers each query with a function of it and `k`, keeps every query it
/// was asked with its `k`, and looks passages up by id among those it was given.
pub struct Scripted {
    name: String,
    answer: Box<Answer>,
    passages: Vec<Passage>,
    asked: Mutex<Vec<(String, usize)>>,
}

impl Scripted {
    /// Answers each query with `answer(query, k)`; a batch fails if one of its queries does.
    pub fn new(
        name: impl Into<String>,
        answer: impl Fn(&str, usize) -> Result<Vec<SearchHit>, SearchError> + Send + Sync + 'static,
    ) -> Scripted {
        Scripted {
            name: name.into(),
            answer: Box::new(answer),
            passages: Vec::new(),
            asked: Mutex::default(),
        }
    }

    /// Every query gets the first `k` of `passages`, scored 1, 1/2, 1/3, …
    pub fn fixed(passages: Vec<Passage>) -> Scripted {
        let all = passages.clone();
        Scripted {
            passages,
            ..Scripted::new("fixed", move |_, k| {
                Ok(all
                    .iter()
                    .take(k)
                    .enumerate()
                    .map(|(i, p)| hit(p.clone(), 1.0 / (i + 1) as f64))
                    .collect())
            })
        }
    }

    /// The passages holding most of the query's words (any case) first, scored by how many
    /// they hold; a passage that holds none is not found.
    pub fn ranked(name: impl Into<String>, passages: Vec<Passage>) -> Scripted {
        let all = passages.clone();
        Scripted {
            passages,
            ..Scripted::new(name, move |query, k| Ok(rank(&all, query, k)))
        }
    }

    /// Every query fails, as a backend that is down does.
    pub fn down(name: impl Into<String>, message: impl Into<String>) -> Scripted {
        let name = name.into();
        let (backend, message) = (name.clone(), message.into());
        Scripted::new(name, move |_, _| {
            Err(SearchError::Backend {
                backend: backend.clone(),
                message: message.clone(),
            })
        })
    }

    /// Every query so far with the `k` it was asked for, in the order they came.
    pub fn asked(&self) -> Vec<(String, usize)> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Searcher for Scripted {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let mut asked = self.asked.lock().unwrap();
        queries
            .iter()
            .map(|q| {
                asked.push((q.clone(), k));
                (self.answer)(q, k)
            })
            .collect()
    }

    async fn passage(&self, id: &str) -> Result<Option<Passage>, SearchError> {
        Ok(self.passages.iter().find(|p| p.id == id).cloned())
    }
}

/// `passage` found with `score`.
pub fn hit(passage: Passage, score: f64) -> SearchHit {
    SearchHit { passage, score }
}

/// The best `k` of `passages` for `query` as [`Scripted::ranked`] ranks them.
pub fn rank(passages: &[Passage], query: &str, k: usize) -> Vec<SearchHit> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut hits: Vec<SearchHit> = passages
        .iter()
        .map(|p| {
            let text = p.text.to_lowercase();
            let score = words.iter().filter(|w| text.contains(w.as_str())).count() as f64;
            hit(p.clone(), score)
        })
        .filter(|h| h.score > 0.0)
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(k);
    hits
}
