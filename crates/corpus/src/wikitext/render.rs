//! Pass 2 of the wikitext conversion, line by line: headings end a paragraph and are dropped
//! (with the reference-like sections after "References", "Tham khảo", …), list items become
//! paragraphs of their own, and inline markup is resolved — `[[Target|shown]]` becomes `shown`
//! with a link to `Target` (trailing lower-case letters join the surface, as MediaWiki's link
//! trail does), external links keep their label, bold and italic quotes and magic words go,
//! HTML entities are decoded.

use super::{entities::decode_entity, namespaces::Namespaces};
use crate::page::{Link, Paragraph, is_boilerplate_section};

/// Pass 2: lines → paragraphs, inline markup → text and anchors.
pub(super) fn render(text: &str, ns: &Namespaces) -> Vec<Paragraph> {
    let mut out = Out::default();
    // Level of the boilerplate section being skipped, if any.
    let mut skipping: Option<usize> = None;
    for line in text.split('\n') {
        let line = line.trim_end();
        if let Some((level, title)) = heading(line) {
            out.end_paragraph();
            let boilerplate = is_boilerplate_section(title);
            skipping = match skipping {
                Some(l) if level > l => Some(l),
                _ => boilerplate.then_some(level),
            };
            continue;
        }
        if skipping.is_some() {
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("----") {
            out.end_paragraph();
            continue;
        }
        // Leftovers of tables and templates that were not balanced.
        if trimmed.starts_with(['|', '!']) || trimmed.starts_with("{|") {
            continue;
        }
        if let Some(item) = list_item(trimmed) {
            out.end_paragraph();
            out.inline(item, ns);
            out.end_paragraph();
            continue;
        }
        out.space();
        out.inline(trimmed, ns);
    }
    out.end_paragraph();
    out.paragraphs
}

/// `== Title ==` → (2, "Title").
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&c| c == b'=').count();
    let closing = line.bytes().rev().take_while(|&c| c == b'=').count();
    if level == 0 || closing == 0 || line.len() < level + closing + 1 {
        return None;
    }
    let level = level.min(closing);
    Some((
        level,
        line[level..line.len() - level].trim_matches(['=', ' ']),
    ))
}

/// `* item`, `# item`, `: indented`, `; term` → the item text.
fn list_item(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(['*', '#', ':', ';']);
    (rest.len() != line.len()).then(|| rest.trim_start())
}

/// The paragraph being built: collapses white space, drops spaces before closing punctuation
/// and the `()` / `(, ` left behind when a template inside brackets is removed.
#[derive(Default)]
struct Out {
    paragraphs: Vec<Paragraph>,
    cur: Paragraph,
    pending_space: bool,
}

impl Out {
    fn space(&mut self) {
        let text = &self.cur.text;
        self.pending_space = !text.is_empty() && !text.ends_with([' ', '(', '[', '“', '«']);
    }

    /// Writes a pending space now, so that what follows starts at the current length.
    fn flush_space(&mut self) {
        if self.pending_space {
            self.cur.text.push(' ');
            self.pending_space = false;
        }
    }

    fn end_paragraph(&mut self) {
        let para = std::mem::take(&mut self.cur);
        self.pending_space = false;
        if !para.text.trim().is_empty() {
            self.paragraphs.push(para);
        }
    }

    fn push_char(&mut self, c: char) {
        if c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}') {
            self.space();
            return;
        }
        let text = &mut self.cur.text;
        let frozen = self.cur.links.last().map_or(0, |l| l.end);
        if matches!(c, ')' | ',' | ';') && text.ends_with('(') && text.len() > frozen {
            if c == ')' {
                text.pop();
                if text.ends_with(' ') && text.len() > frozen {
                    text.pop();
                }
                self.space();
            }
            // `(, born 1990)` → `(born 1990)`: the comma had nothing before it.
            return;
        }
        if self.pending_space && !matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | ')' | '%') {
            text.push(' ');
        }
        self.pending_space = false;
        text.push(c);
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }

    /// Renders inline markup of `s` into the paragraph.
    fn inline(&mut self, s: &str, ns: &Namespaces) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let next = b[i..]
                .iter()
                .position(|c| matches!(c, b'[' | b'\'' | b'&' | b'_'))
                .map_or(b.len(), |k| i + k);
            self.push_str(&s[i..next]);
            i = next;
            if i >= b.len() {
                break;
            }
            i = match b[i] {
                b'[' => self.link(s, i, ns),
                b'\'' => self.quotes(s, i),
                b'&' => self.entity(s, i),
                _ => self.magic_word(s, i),
            };
        }
    }

    fn link(&mut self, s: &str, i: usize, ns: &Namespaces) -> usize {
        let b = s.as_bytes();
        if b.get(i + 1) != Some(&b'[') {
            return self.external_link(s, i, ns);
        }
        if b.get(i + 2) == Some(&b'[') {
            self.push_char('[');
            return i + 1;
        }
        let Some(close) = s[i + 2..].find("]]").map(|k| i + 2 + k) else {
            self.push_str("[[");
            return i + 2;
        };
        let inner = &s[i + 2..close];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let visible = target.trim_start().strip_prefix(':').unwrap_or(target);
        let article = match visible.split_once(':') {
            Some((prefix, _)) => ns.kind(prefix).is_none(),
            None => true,
        };
        let shown = match label {
            Some(l) if !l.trim().is_empty() => l.to_string(),
            // The pipe trick: `[[Foo (bar)|]]` shows `Foo`.
            Some(_) => pipe_trick(visible),
            None => visible.to_string(),
        };
        let trail_len: usize = s[close + 2..]
            .chars()
            .take_while(|c| c.is_alphabetic() && c.is_lowercase())
            .map(char::len_utf8)
            .sum();
        let end = close + 2 + trail_len;
        let target = if article {
            normalise_target(visible)
        } else {
            String::new()
        };
        self.flush_space();
        let start = self.cur.text.len();
        let links_before = self.cur.links.len();
        self.inline(&shown, ns);
        self.cur.links.truncate(links_before);
        self.push_str(&s[close + 2..end]);
        // A label with leading space (`word[[X| label]]`) keeps the space outside the anchor.
        let start = start + usize::from(self.cur.text[start..].starts_with(' '));
        let stop = self.cur.text.len();
        if !target.is_empty() && stop > start {
            self.cur.links.push(Link {
                start,
                end: stop,
                target,
            });
        }
        end
    }

    /// `[http://x label]` → `label`; without a label the link is dropped.
    fn external_link(&mut self, s: &str, i: usize, ns: &Namespaces) -> usize {
        let rest = &s[i + 1..];
        let is_url = ["http://", "https://", "//", "ftp://", "mailto:"]
            .iter()
            .any(|p| {
                rest.as_bytes()
                    .get(..p.len())
                    .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
            });
        let close = rest.find(']');
        let (true, Some(close)) = (is_url, close) else {
            self.push_char('[');
            return i + 1;
        };
        if let Some((_, label)) = rest[..close].split_once(' ') {
            self.inline(label, ns);
        }
        i + 1 + close + 1
    }

    /// `''italic''`, `'''bold'''`, `'''''both'''''`: the quotes go; a lone `'` stays, and so
    /// does one of four (an apostrophe, then bold). Longer runs are broken markup and go.
    fn quotes(&mut self, s: &str, i: usize) -> usize {
        let run = s.as_bytes()[i..]
            .iter()
            .take_while(|&&c| c == b'\'')
            .count();
        if run == 1 || run == 4 {
            self.push_char('\'');
        }
        i + run
    }

    fn entity(&mut self, s: &str, i: usize) -> usize {
        match decode_entity(&s[i..]) {
            Some((c, len)) => {
                if let Some(c) = c {
                    self.push_char(c);
                }
                i + len
            }
            None => {
                self.push_char('&');
                i + 1
            }
        }
    }

    /// `__TOC__`, `__NOTOC__`, `__KHÔNGMỤCLỤC__` are dropped; other underscores stay.
    fn magic_word(&mut self, s: &str, i: usize) -> usize {
        let rest = &s[i..];
        if let Some(body) = rest.strip_prefix("__") {
            let word_len: usize = body
                .chars()
                .take_while(|c| c.is_uppercase())
                .map(char::len_utf8)
                .sum();
            if word_len > 0 && body[word_len..].starts_with("__") {
                return i + 2 + word_len + 2;
            }
        }
        self.push_char('_');
        i + 1
    }
}

fn pipe_trick(target: &str) -> String {
    let t = target.split_once(':').map_or(target, |(_, t)| t);
    let t = match t.rfind(" (") {
        Some(k) if t.ends_with(')') => &t[..k],
        _ => t,
    };
    t.split_once(", ")
        .map_or(t, |(head, _)| head)
        .trim()
        .to_string()
}

/// `hà_Nội#Lịch sử` → `Hà Nội`: the page a link points to, as MediaWiki names it.
fn normalise_target(target: &str) -> String {
    let page = target.split_once('#').map_or(target, |(p, _)| p);
    let mut decoded = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(k) = rest.find('&') {
        decoded.push_str(&rest[..k]);
        match decode_entity(&rest[k..]) {
            Some((c, len)) => {
                decoded.extend(c);
                rest = &rest[k + len..];
            }
            None => {
                decoded.push('&');
                rest = &rest[k + 1..];
            }
        }
    }
    decoded.push_str(rest);
    let words: Vec<&str> = decoded
        .split(|c: char| c == '_' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wikitext::tests::shown;

    /// Renders already-stripped wikitext and compares the paragraphs shown as markup.
    fn check(stripped: &str, expect: &str) {
        let got = shown(&render(stripped, &Namespaces::default()));
        assert_eq!(got, expect, "input: {stripped:?}");
    }

    #[test]
    fn links_become_anchors() {
        check("[[Hà Nội]] là thủ đô.", "[Hà Nội](Hà Nội) là thủ đô.");
        check(
            "the [[United States|U.S.]] army",
            "the [U.S.](United States) army",
        );
        check("many [[cat]]s here", "many [cats](Cat) here");
        check("[[Paris#History|old Paris]]", "[old Paris](Paris)");
        check("[[hà_Nội]]", "[hà_Nội](Hà Nội)");
        check("[[Foo (band)|]] rocks", "[Foo](Foo (band)) rocks");
        check("[[Smith, John|]] said", "[Smith](Smith, John) said");
        check("[[#Section|below]] text", "below text");
        check("see [[Wikipedia:Policy|policy]]", "see policy");
        check("[[:Category:Cities|cities]] list", "cities list");
        check("[[wikt:word|word]] here", "word here");
        check("[[Foo|''bold'' name]]", "[bold name](Foo)");
        check("[[AT&amp;T]]", "[AT&T](AT&T)");
        check(
            "người[[Mohawk people| Mohawks]] đã",
            "người [Mohawks](Mohawk people) đã",
        );
        check("[[[x]] y", "[[x](X) y");
        check("[[never closed", "[[never closed");
    }

    #[test]
    fn quotes_entities_and_magic_words() {
        check(
            "'''Bold''' and ''italic'' and '''''both'''''",
            "Bold and italic and both",
        );
        check("It's l'''arbre''' ''''' x'''''''''", "It's larbre x");
        check(
            "A&nbsp;B &amp; C&mdash;D &#91;1&#93; &#x41;",
            "A B & C—D [1] A",
        );
        check("a &bogus; b", "a &bogus; b");
        check("__TOC__ Text __NOTOC__ here __KHÔNGMỤCLỤC__", "Text here");
        check("snake_case stays __ too", "snake_case stays __ too");
    }

    #[test]
    fn external_links_keep_their_label() {
        check(
            "[https://example.org Example site] and [http://bare.org]",
            "Example site and",
        );
        check("[//example.org ''x'' y] z", "x y z");
        check("[thu] nộp [ộ]", "[thu] nộp [ộ]");
    }

    #[test]
    fn lines_headings_and_lists() {
        check(
            "Intro line one\nline two.\n\n== History ==\nOld times.\n=== Early ===\nEarlier.",
            "Intro line one line two. ¶ Old times. ¶ Earlier.",
        );
        check(
            "Fruits:\n* [[Apple]]s\n* Pear\n# One\n: indented\n; term",
            "Fruits: ¶ [Apples](Apple) ¶ Pear ¶ One ¶ indented ¶ term",
        );
        check(
            "Prose.\n== References ==\n* a ref\n=== Sub ===\nmore refs\n== Career ==\nKept.",
            "Prose. ¶ Kept.",
        );
        check("A\n----\nB\n| leftover cell\n! header\n{| x\nC", "A ¶ B C");
        check("= Not a heading", "= Not a heading");
    }

    #[test]
    fn brackets_left_by_removed_templates_go() {
        check("Hà Lan () là một quốc gia.", "Hà Lan là một quốc gia.");
        check("Born (, Paris) here", "Born (Paris) here");
        check("A ( x ) b , c .", "A (x) b, c.");
        check("[[Foo|(]]) kept", "[(](Foo)) kept");
    }
}
