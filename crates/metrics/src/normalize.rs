//! The answer normalisation every peer shares, computed character for character as Python does.

use crate::word_chars::WORD_RANGES;

/// Normalises an answer exactly as Search-R1, ZeroSearch, FlashRAG and the SQuAD / HotpotQA
/// scripts do in Python:
///
/// 1. `s.lower()` — full Unicode lower-casing (`"İ"` → `"i̇"`, a final `"Σ"` → `"ς"`);
/// 2. every character of `string.punctuation` removed — the 32 ASCII punctuation characters
///    only, so `"—"`, `"«"` or `"’"` stay;
/// 3. `re.sub(r"\b(a|an|the)\b", " ", s)` — a maximal run of word characters that is exactly
///    `a`, `an` or `the` becomes a space; word characters are Python's `\w` (general categories
///    L* and N*, and `_`), so `"thé"` keeps its article-like prefix but `"the\u{301}"` (a
///    combining accent, not a word character) loses it;
/// 4. `" ".join(s.split())` — split on Python's whitespace (Unicode White_Space plus the
///    separators U+001C..U+001F) and join with single spaces.
///
/// The word-character table comes from Python's `unicodedata` (see `scripts/word_chars.py`);
/// lower-casing uses Rust's tables, which agree with Python's for every character both know.
pub fn normalize_answer(text: &str) -> String {
    let lowered = text.to_lowercase();
    let mut out = Tokens::with_capacity(lowered.len());
    // Punctuation is dropped before word runs are found, so "a.b" is the one run "ab": the run's
    // characters are gathered aside rather than sliced from `lowered`.
    let mut run = String::new();
    for c in lowered.chars().filter(|c| !c.is_ascii_punctuation()) {
        if is_word_char(c) {
            run.push(c);
            continue;
        }
        out.push_run(&run);
        run.clear();
        if is_python_whitespace(c) {
            out.separate();
        } else {
            out.push_char(c);
        }
    }
    out.push_run(&run);
    out.text
}

/// The tokens of a normalised answer (Python's `normalized.split()`).
pub(crate) fn tokens(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.split(' ').filter(|t| !t.is_empty())
}

/// Python's `str.isspace()`: Unicode White_Space and the four information separators.
pub(crate) fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` in a `str` pattern.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let c = u32::from(c);
    WORD_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The output being built: tokens joined by single spaces.
struct Tokens {
    text: String,
    /// A separator was seen since the last character written.
    pending_space: bool,
}

impl Tokens {
    fn with_capacity(n: usize) -> Tokens {
        Tokens {
            text: String::with_capacity(n),
            pending_space: false,
        }
    }

    /// A finished run of word characters: an article separates tokens like whitespace does.
    fn push_run(&mut self, run: &str) {
        match run {
            "" => {}
            "a" | "an" | "the" => self.separate(),
            _ => {
                self.start_char();
                self.text.push_str(run);
            }
        }
    }

    fn push_char(&mut self, c: char) {
        self.start_char();
        self.text.push(c);
    }

    fn separate(&mut self) {
        self.pending_space = true;
    }

    fn start_char(&mut self) {
        if self.pending_space && !self.text.is_empty() {
            self.text.push(' ');
        }
        self.pending_space = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(normalize_answer(input), expect, "normalising {input:?}");
    }

    #[test]
    fn lowercases_drops_ascii_punctuation_articles_and_extra_whitespace() {
        check("The Eiffel Tower.", "eiffel tower");
        check("  A  cat,\tan   ox and THE dog!  ", "cat ox and dog");
        check("U.S.A.", "usa");
        check("rock-'n'-roll", "rocknroll");
        check("", "");
        check("the a an", "");
    }

    #[test]
    fn articles_are_whole_word_runs_only() {
        check("theater anthem", "theater anthem");
        check("a.n", "");
        check("t.h.e end", "end");
        check("the_end", "theend");
        check("«the» end", "« » end");
        check("the—end", "—end");
    }

    #[test]
    fn word_characters_follow_python_not_rust_alphanumeric() {
        // U+093E (Devanagari vowel sign, Mc) is alphabetic to Rust but not \w to Python.
        check("a\u{93e} b", "\u{93e} b");
        // A circled letter is alphabetic to Rust, a symbol (So) to Python.
        check("Ⓐthe", "ⓐ");
        // "½" is No (a number): a word character, so "the" is not a run of its own.
        check("the½", "the½");
        check("thé", "thé");
    }

    #[test]
    fn whitespace_is_pythons() {
        check("the\u{3000}Beatles", "beatles");
        check("x\u{1c}y\u{85}z", "x y z");
        check("x\u{200b}y", "x\u{200b}y");
    }

    #[test]
    fn unicode_lowercasing_is_full() {
        check("ΟΔΥΣΣΕΥΣ", "οδυσσευς");
        check("İstanbul", "i\u{307}stanbul");
        check("STRASSE Straße", "strasse straße");
    }

    #[test]
    fn word_table_is_sorted_and_disjoint() {
        assert!(WORD_RANGES.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(WORD_RANGES.iter().all(|&(lo, hi)| lo <= hi));
    }
}
