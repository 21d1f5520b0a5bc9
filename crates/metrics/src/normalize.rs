//! Answer normalisations, computed character for character as Python does: the one every peer
//! shares (SQuAD's) and R1-Searcher's variant of it.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::word_chars::WORD_RANGES;

/// Which normalisation answer scores compare under. Every score names the one it used, so a
/// figure is never mistaken for a peer's that normalises differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// The SQuAD / HotpotQA scripts' normalisation, shared by Search-R1, ZeroSearch and FlashRAG
    /// ([`normalize_answer`]).
    #[default]
    Squad,
    /// R1-Searcher's `evaluation/metric_calc_rule.py`: SQuAD's steps with punctuation turned into
    /// spaces rather than deleted, three more quote marks counted as punctuation, and a whole
    /// answer `True` / `False` read as `yes` / `no`. Scores under it also take precision and
    /// recall from the alias with the best F1, as that script does. See [`normalize`].
    R1Searcher,
}

impl Normalization {
    pub const ALL: [Normalization; 2] = [Normalization::Squad, Normalization::R1Searcher];

    /// The name on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Normalization::Squad => "squad",
            Normalization::R1Searcher => "r1-searcher",
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Normalization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Normalization::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| format!("unknown normalisation {s:?}; known: squad, r1-searcher"))
    }
}

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
    words(text, Punctuation::Deleted)
}

/// Normalises an answer under `how`. [`Normalization::Squad`] is [`normalize_answer`];
/// [`Normalization::R1Searcher`] is what R1-Searcher's `metric_calc_rule.py` applies to both
/// sides of every score (its `normalize_answer(bool_mapping(s))`), which differs from SQuAD's in
/// four ways:
///
/// 1. the whole answer `"True"` becomes `"yes"` and `"False"` becomes `"no"` — only those exact
///    strings, so `" False "` or `"true"` stay as they are (and normalise to `"false"`, `"true"`);
/// 2. every punctuation character becomes a space instead of vanishing: `"rock-'n'-roll"` is
///    `"rock n roll"`, `"U.S.A."` is `"u s"` (its `a` now an article);
/// 3. punctuation is `string.punctuation` plus `‘`, `’` and `´` (its list names `` ` `` too,
///    already ASCII punctuation): `"’"` splits `"o’neill"` where SQuAD keeps it;
/// 4. `_` becomes a space (a step of its own there, before lower-casing; `_` is ASCII
///    punctuation, so rule 2 alone has the same effect): `"the_end"` is `"end"`, its article a
///    word of its own, where SQuAD gives `"theend"`.
///
/// Lower-casing, the articles and the whitespace are SQuAD's, computed as there.
pub fn normalize(text: &str, how: Normalization) -> String {
    match how {
        Normalization::Squad => normalize_answer(text),
        Normalization::R1Searcher => {
            let mapped = match text {
                "True" => "yes",
                "False" => "no",
                other => other,
            };
            words(mapped, Punctuation::Spaced)
        }
    }
}

/// What a normalisation does with a punctuation character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Punctuation {
    /// SQuAD: the ASCII punctuation characters are deleted.
    Deleted,
    /// R1-Searcher: ASCII punctuation and `‘ ’ ´` become spaces.
    Spaced,
}

impl Punctuation {
    fn covers(self, c: char) -> bool {
        c.is_ascii_punctuation() || (self == Punctuation::Spaced && matches!(c, '‘' | '’' | '´'))
    }
}

/// Lower-cases, treats punctuation as `punctuation` says, drops the articles and joins the
/// tokens with single spaces.
fn words(text: &str, punctuation: Punctuation) -> String {
    let lowered = text.to_lowercase();
    let mut out = Tokens::with_capacity(lowered.len());
    // Punctuation is handled before word runs are found, so under SQuAD "a.b" is the one run
    // "ab": the run's characters are gathered aside rather than sliced from `lowered`. `_` is
    // both punctuation and a word character; as punctuation it never reaches a run.
    let mut run = String::new();
    for c in lowered.chars() {
        let punct = punctuation.covers(c);
        if punct && punctuation == Punctuation::Deleted {
            continue;
        }
        if !punct && is_word_char(c) {
            run.push(c);
            continue;
        }
        out.push_run(&run);
        run.clear();
        if punct || is_python_whitespace(c) {
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

    fn check_r1(input: &str, expect: &str) {
        assert_eq!(
            normalize(input, Normalization::R1Searcher),
            expect,
            "normalising {input:?} R1-Searcher's way"
        );
    }

    #[test]
    fn squad_is_normalize_answer() {
        for text in ["The U.S.A.", "‘Hey’ True", "the_end", ""] {
            assert_eq!(
                normalize(text, Normalization::Squad),
                normalize_answer(text)
            );
        }
    }

    #[test]
    fn r1_searcher_turns_punctuation_into_spaces() {
        check_r1("The Eiffel Tower.", "eiffel tower");
        // Each letter a word of its own: the last one an article.
        check_r1("U.S.A.", "u s");
        check_r1("rock-'n'-roll", "rock n roll");
        check_r1("O'Neill", "o neill");
        check_r1("1,000", "1 000");
        // "a.n" is the article "an" to SQuAD, the article "a" and a word "n" here.
        check_r1("a.n", "n");
        check_r1("t.h.e end", "t h e end");
        check_r1("the—end", "—end");
    }

    #[test]
    fn r1_searcher_counts_three_more_quote_marks_as_punctuation() {
        check_r1("‘Hey Jude’", "hey jude");
        check("‘Hey Jude’", "‘hey jude’");
        check_r1("o’neill", "o neill");
        check("o’neill", "o’neill");
        check_r1("´the´ end", "end");
        check("´the´ end", "´ ´ end");
        check_r1("`the` end", "end");
        // Other quote marks stay, as under SQuAD.
        check_r1("“The” Answer", "“ ” answer");
        check_r1("«the» end", "« » end");
    }

    #[test]
    fn r1_searcher_reads_a_whole_true_or_false_as_yes_or_no() {
        check_r1("True", "yes");
        check_r1("False", "no");
        check("True", "true");
        // Only those exact strings: R1-Searcher's own hotpotqa_qwen.jsonl has " False ".
        check_r1(" False ", "false");
        check_r1("true", "true");
        check_r1("FALSE", "false");
        check_r1("True.", "true");
        check_r1("True story", "true story");
    }

    #[test]
    fn r1_searcher_splits_on_underscores() {
        check_r1("the_end", "end");
        check("the_end", "theend");
        check_r1("snake_case_name", "snake case name");
        check_r1("__init__", "init");
    }

    #[test]
    fn r1_searcher_keeps_squads_lowercasing_articles_and_whitespace() {
        check_r1("  A  cat,\tan   ox and THE dog!  ", "cat ox and dog");
        check_r1("the\u{3000}Beatles", "beatles");
        check_r1("x\u{200b}y", "x\u{200b}y");
        check_r1("İstanbul", "i\u{307}stanbul");
        check_r1("a\u{93e} b", "\u{93e} b");
        check_r1("", "");
    }

    #[test]
    fn normalisations_have_names() {
        for n in Normalization::ALL {
            assert_eq!(n.as_str().parse::<Normalization>(), Ok(n));
            assert_eq!(serde_json::to_value(n).unwrap(), n.as_str());
        }
        assert!("SQuAD".parse::<Normalization>().is_err());
        assert_eq!(Normalization::default(), Normalization::Squad);
    }

    #[test]
    fn word_table_is_sorted_and_disjoint() {
        assert!(WORD_RANGES.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(WORD_RANGES.iter().all(|&(lo, hi)| lo <= hi));
    }
}
