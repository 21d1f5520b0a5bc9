//! Marks the words of a query in a text, for the search page: the same words the index
//! matched, compared case-insensitively and with common English endings removed.

use std::collections::HashSet;

/// A run of text, marked or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    pub text: String,
    pub mark: bool,
}

/// Words too common to be worth marking.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on",
    "or", "that", "the", "to", "was", "what", "which", "who", "with",
];

/// The words of `query` worth marking, as [`key`]s.
pub(crate) fn query_words(query: &str) -> HashSet<String> {
    words(query)
        .map(|(_, w)| w.to_lowercase())
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| key(&w))
        .collect()
}

/// `text` cut into pieces, the words whose [`key`] is in `marked` marked.
pub(crate) fn pieces(text: &str, marked: &HashSet<String>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut push = |s: &str, mark: bool| match out.last_mut() {
        Some(last) if last.mark == mark => last.text.push_str(s),
        _ => out.push(Piece {
            text: s.to_string(),
            mark,
        }),
    };
    let mut at = 0;
    for (start, word) in words(text) {
        push(&text[at..start], false);
        push(word, marked.contains(&key(&word.to_lowercase())));
        at = start + word.len();
    }
    push(&text[at..], false);
    out.retain(|p| !p.text.is_empty());
    out
}

/// Runs of letters and digits with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = rest.by_ref().find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// A lower-case word without a common English ending, so "paintings" marks "painting".
fn key(word: &str) -> String {
    for suffix in ["ings", "ing", "ies", "es", "ed", "s"] {
        if let Some(stem) = word.strip_suffix(suffix)
            && stem.chars().count() >= 3
        {
            return stem.to_string();
        }
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, query: &str) -> Vec<String> {
        pieces(text, &query_words(query))
            .into_iter()
            .filter(|p| p.mark)
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn marks_query_words_case_insensitively_and_keeps_every_byte() {
        let text = "Leonardo painted the Mona Lisa; paintings by Leonardo da Vinci.";
        assert_eq!(
            marked(text, "who painted the mona lisa"),
            ["painted", "Mona", "Lisa", "paintings"].map(String::from),
            "stop words are not marked; endings are ignored"
        );
        let joined: String = pieces(text, &query_words("mona"))
            .into_iter()
            .map(|p| p.text)
            .collect();
        assert_eq!(joined, text);
        assert!(marked("Ünïcode café", "CAFÉ").contains(&"café".to_string()));
        assert!(marked("nothing here", "").is_empty());
    }
}
