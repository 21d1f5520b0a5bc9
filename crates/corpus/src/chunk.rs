//! Cutting pages into ~100-word passages on sentence boundaries, with link anchors re-based to
//! each passage and converted to character offsets.
//!
//! Rules: a passage is a run of whole sentences of about `words` words (up to 1.5×, so a short
//! run is not cut off just before a long sentence); a sentence is only cut when it alone is
//! longer than 1.5× the target, and then between words and never inside a link; a short tail is
//! merged into the passage before it. Paragraphs are joined with a single space.

use std::ops::Range;

use formats::Anchor;

use crate::page::{Link, Paragraph};

/// One passage's text and anchors (character offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub text: String,
    pub anchors: Vec<Anchor>,
}

/// A piece of one paragraph that goes into a passage whole.
struct Unit<'a> {
    para: &'a Paragraph,
    range: Range<usize>,
    words: usize,
}

/// Cuts `paragraphs` into passages of about `words` words; `None` keeps them in one passage.
pub(crate) fn chunk(paragraphs: &[Paragraph], words: Option<usize>) -> Vec<Chunk> {
    let Some(target) = words.map(|w| w.max(1)) else {
        let units: Vec<Unit> = paragraphs
            .iter()
            .filter_map(|p| unit(p, 0..p.text.len()))
            .collect();
        return if units.is_empty() {
            Vec::new()
        } else {
            vec![render(&units)]
        };
    };
    let max = target + target / 2;
    let mut units = Vec::new();
    for para in paragraphs {
        for sentence in sentences(&para.text, &para.links) {
            let Some(u) = unit(para, sentence) else {
                continue;
            };
            if u.words <= max {
                units.push(u);
            } else {
                units.extend(
                    cut_long(para, u.range, u.words, target)
                        .into_iter()
                        .filter_map(|r| unit(para, r)),
                );
            }
        }
    }
    pack(units, target, max)
        .iter()
        .map(|units| render(units))
        .collect()
}

fn unit(para: &Paragraph, range: Range<usize>) -> Option<Unit<'_>> {
    let words = para.text[range.clone()].split_whitespace().count();
    (words > 0).then_some(Unit { para, range, words })
}

/// Greedy packing of sentences into passages; see the module doc for the rules.
fn pack(units: Vec<Unit<'_>>, target: usize, max: usize) -> Vec<Vec<Unit<'_>>> {
    let mut chunks: Vec<(Vec<Unit>, usize)> = Vec::new();
    let mut cur: Vec<Unit> = Vec::new();
    let mut cur_words = 0;
    for u in units {
        let total = cur_words + u.words;
        let fits = total <= target || (cur_words < target / 2 && total <= max);
        if !cur.is_empty() && !fits {
            chunks.push((std::mem::take(&mut cur), cur_words));
            cur_words = 0;
        }
        cur_words += u.words;
        cur.push(u);
    }
    if !cur.is_empty() {
        match chunks.last_mut() {
            Some((last, last_words))
                if cur_words < target / 4 && *last_words + cur_words <= max =>
            {
                last.extend(cur);
            }
            _ => chunks.push((cur, cur_words)),
        }
    }
    chunks.into_iter().map(|(units, _)| units).collect()
}

/// Joins units with single spaces, keeping the links that lie inside them.
fn render(units: &[Unit<'_>]) -> Chunk {
    let mut text = String::new();
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    for u in units {
        if !text.is_empty() {
            text.push(' ');
        }
        let base = text.len();
        text.push_str(&u.para.text[u.range.clone()]);
        let links = &u.para.links;
        let first = links.partition_point(|l| l.start < u.range.start);
        for l in links[first..].iter().take_while(|l| l.end <= u.range.end) {
            let start = base + l.start - u.range.start;
            spans.push((start, start + l.end - l.start, &l.target));
        }
    }
    let anchors = char_offsets(&text, &spans);
    Chunk { text, anchors }
}

/// Byte spans (sorted, non-overlapping) → character-offset anchors, in one pass over `text`.
fn char_offsets(text: &str, spans: &[(usize, usize, &str)]) -> Vec<Anchor> {
    let mut chars = 0;
    let mut at = 0;
    let mut advance = |to: usize| {
        chars += text[at..to].chars().count();
        at = to;
        chars
    };
    spans
        .iter()
        .map(|&(start, end, target)| Anchor {
            start: advance(start),
            end: advance(end),
            target: target.to_string(),
        })
        .collect()
}

/// Splits an over-long sentence into pieces of about `target` words, between words and never
/// inside a link.
fn cut_long(
    para: &Paragraph,
    range: Range<usize>,
    words: usize,
    target: usize,
) -> Vec<Range<usize>> {
    let per = words.div_ceil(words.div_ceil(target));
    let inside_link = |at: usize| para.links.iter().any(|l| l.start < at && at < l.end);
    let mut pieces = Vec::new();
    let (mut piece_start, mut count, mut in_word, mut want_start) = (range.start, 0, false, false);
    for (i, c) in para.text[range.clone()].char_indices() {
        let at = range.start + i;
        if c.is_whitespace() {
            if in_word {
                in_word = false;
                count += 1;
                if count >= per && !inside_link(at) {
                    pieces.push(piece_start..at);
                    count = 0;
                    want_start = true;
                }
            }
        } else if !in_word {
            in_word = true;
            if want_start {
                piece_start = at;
                want_start = false;
            }
        }
    }
    if !want_start {
        pieces.push(piece_start..range.end);
    }
    pieces
}

/// Byte ranges of the sentences of `text`, trimmed; a boundary never falls inside a link.
///
/// A sentence ends at `.`, `!`, `?`, `…` (or CJK `。！？`), plus closing quotes and brackets,
/// followed by white space and a character that can start a sentence (not a lower-case
/// letter). A `.` after an abbreviation (`U.S.`, `e.g.`, `Dr.`, an initial `J.`, `TP.`) is not
/// an end.
pub(crate) fn sentences(text: &str, links: &[Link]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let end_of_text = text.trim_end().len();
    let mut start = text.len() - text.trim_start().len();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_terminator(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if !(is_terminator(d) || is_closer(d)) {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        let rest = &text[end..];
        let next_start = end + (rest.len() - rest.trim_start().len());
        let Some(next) = text[next_start..].chars().next() else {
            break;
        };
        let spaced = next_start > end || matches!(c, '。' | '！' | '？');
        let inside_link = {
            let k = links.partition_point(|l| l.end <= end);
            k < links.len() && links[k].start < end
        };
        if !spaced
            || !starts_sentence(next)
            || (c == '.' && is_abbreviation(&text[start..i]))
            || inside_link
        {
            continue;
        }
        out.push(start..end);
        start = next_start;
    }
    if start < end_of_text {
        out.push(start..end_of_text);
    }
    out
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？' | '।')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»' | '」' | '』')
}

fn starts_sentence(c: char) -> bool {
    !c.is_lowercase()
        && (c.is_alphanumeric()
            || matches!(c, '"' | '“' | '‘' | '\'' | '(' | '«' | '[' | '¿' | '¡'))
}

/// Words after which a `.` does not end a sentence (lower-cased, without the dot). English
/// titles, months and Latin, plus Vietnamese `TP.` (thành phố), `TS.`, `ThS.`, `GS.`, `PGS.`.
const ABBREVIATIONS: &[&str] = &[
    "al", "approx", "apr", "aug", "bros", "ca", "capt", "cf", "cmdr", "co", "col", "corp", "dec",
    "dept", "dr", "ed", "eds", "est", "etc", "feb", "fig", "figs", "ft", "gen", "gov", "gs", "hon",
    "inc", "jan", "jr", "jul", "jun", "lt", "ltd", "mar", "mr", "mrs", "ms", "mt", "no", "nos",
    "nov", "oct", "op", "pgs", "pp", "pres", "prof", "rep", "rev", "sen", "sep", "sept", "sgt",
    "sr", "st", "ths", "tp", "ts", "univ", "vol", "vols", "vs",
];

/// Whether the last word of `before` (the text up to a `.`) is an abbreviation.
fn is_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(['(', '[', '"', '\'', '“', '‘', '«']);
    if word.contains('.') {
        return true;
    }
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (None, _) => false,
        (Some(c), None) => c.is_alphabetic(),
        _ => ABBREVIATIONS.contains(&word.to_lowercase().as_str()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses `[surface](Target)` markup into a paragraph with links.
    pub(crate) fn marked(input: &str) -> Paragraph {
        let mut para = Paragraph::default();
        let mut rest = input;
        while let Some(open) = rest.find('[') {
            let Some(mid) = rest[open..].find("](").map(|m| open + m) else {
                break;
            };
            let close = mid + rest[mid..].find(')').expect("closing )");
            para.text.push_str(&rest[..open]);
            let start = para.text.len();
            para.text.push_str(&rest[open + 1..mid]);
            para.links.push(Link {
                start,
                end: para.text.len(),
                target: rest[mid + 2..close].to_string(),
            });
            rest = &rest[close + 1..];
        }
        para.text.push_str(rest);
        para
    }

    /// Renders a chunk back to `[surface](Target)` markup using its character offsets.
    pub(crate) fn markup(text: &str, anchors: &[Anchor]) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        for a in anchors {
            out.extend(&chars[at..a.start]);
            out.push('[');
            out.extend(&chars[a.start..a.end]);
            out.push_str(&format!("]({})", a.target));
            at = a.end;
        }
        out.extend(&chars[at..]);
        out
    }

    fn check_sentences(input: &str, expect: &[&str]) {
        let para = marked(input);
        let got: Vec<&str> = sentences(&para.text, &para.links)
            .into_iter()
            .map(|r| &para.text[r])
            .collect();
        assert_eq!(got, expect, "input: {input}");
    }

    #[test]
    fn sentence_boundaries() {
        check_sentences(
            "One two. Three four! Five? ",
            &["One two.", "Three four!", "Five?"],
        );
        check_sentences(
            "He moved to the U.S. in 1990. It rained.",
            &["He moved to the U.S. in 1990.", "It rained."],
        );
        check_sentences(
            "Many fruits, e.g. apples, grow here. Dr. Smith agrees.",
            &["Many fruits, e.g. apples, grow here.", "Dr. Smith agrees."],
        );
        check_sentences(
            "J. R. R. Tolkien wrote it. Yes.",
            &["J. R. R. Tolkien wrote it.", "Yes."],
        );
        check_sentences("Pi is 3.14 roughly. OK", &["Pi is 3.14 roughly.", "OK"]);
        check_sentences(
            "He said \"stop.\" Then he left.",
            &["He said \"stop.\"", "Then he left."],
        );
        check_sentences(
            "Lower case. continues here.",
            &["Lower case. continues here."],
        );
    }

    #[test]
    fn vietnamese_sentences() {
        check_sentences(
            "Hà Nội là thủ đô của Việt Nam. Đây là thành phố lớn thứ hai. Ở TP. Hồ Chí Minh thì khác.",
            &[
                "Hà Nội là thủ đô của Việt Nam.",
                "Đây là thành phố lớn thứ hai.",
                "Ở TP. Hồ Chí Minh thì khác.",
            ],
        );
        check_sentences(
            "東京は首都です。大阪は都市です。",
            &["東京は首都です。", "大阪は都市です。"],
        );
    }

    #[test]
    fn no_boundary_inside_a_link() {
        check_sentences(
            "He served in [the Army. Reserve](Army Reserve) later. Done.",
            &["He served in the Army. Reserve later.", "Done."],
        );
    }

    fn check(paragraphs: &[&str], words: Option<usize>, expect: &[&str]) {
        let paras: Vec<Paragraph> = paragraphs.iter().map(|p| marked(p)).collect();
        let got: Vec<String> = chunk(&paras, words)
            .iter()
            .map(|c| {
                for a in &c.anchors {
                    assert!(a.surface(&c.text).is_some(), "anchor out of range in {c:?}");
                }
                markup(&c.text, &c.anchors)
            })
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn packs_whole_sentences() {
        check(
            &["Aa bb cc. Dd ee ff. Gg hh ii.", "Jj kk ll. Mm nn oo."],
            Some(6),
            &["Aa bb cc. Dd ee ff.", "Gg hh ii. Jj kk ll.", "Mm nn oo."],
        );
        // A short tail joins the passage before it.
        check(
            &["Aa bb cc dd. Ee ff gg hh. Ii."],
            Some(8),
            &["Aa bb cc dd. Ee ff gg hh. Ii."],
        );
        // A short start takes a longer next sentence rather than standing alone.
        check(
            &["Aa bb. Cc dd ee ff gg hh ii."],
            Some(6),
            &["Aa bb. Cc dd ee ff gg hh ii."],
        );
        check(&["", "  "], Some(100), &[]);
    }

    #[test]
    fn anchors_are_rebased_per_passage_in_characters() {
        check(
            &["Ở [Hà Nội](Hà Nội) trời mưa. Tại [Huế](Huế) trời nắng."],
            Some(4),
            &["Ở [Hà Nội](Hà Nội) trời mưa.", "Tại [Huế](Huế) trời nắng."],
        );
    }

    #[test]
    fn long_sentence_cut_between_words_not_in_links() {
        check(
            &["a b c d e f g h i [j k](JK) l"],
            Some(4),
            &["a b c d", "e f g h", "i [j k](JK) l"],
        );
        check(
            &["a b [c d](CD) e f"],
            Some(2),
            &["a b", "[c d](CD)", "e f"],
        );
    }

    #[test]
    fn never_split_keeps_one_passage() {
        check(
            &["One [two](Two). Three.", "Four five."],
            None,
            &["One [two](Two). Three. Four five."],
        );
    }
}
