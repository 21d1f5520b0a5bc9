//! Pass 1 of the wikitext conversion: removes what is never prose, respecting nesting —
//! comments, templates and parser functions `{{…}}` / parameters `{{{…}}}`, tables `{|…|}`,
//! `<ref>` and other non-prose tags with their content, file/image/category and interlanguage
//! links (a file caption's own links go with it). A few inline templates leave their text
//! (`lang`, `nowrap`, `convert`); disambiguation templates are noticed on the way.

use memchr::{memchr, memchr3};

use super::namespaces::{Namespaces, NsKind};

/// Whether a template name marks a disambiguation page (`{{disambiguation}}`, `{{hndis}}`,
/// `{{trang định hướng}}`, `{{… disambiguation}}`).
fn is_disambiguation_template(name: &str) -> bool {
    let name = name.trim().replace('_', " ").to_lowercase();
    let name = name
        .strip_prefix("template:")
        .or_else(|| name.strip_prefix("bản mẫu:"))
        .unwrap_or(&name)
        .trim();
    const NAMES: &[&str] = &[
        "disambiguation",
        "disambig",
        "disamb",
        "dab",
        "dp",
        "hndis",
        "geodis",
        "numberdis",
        "trang định hướng",
        "định hướng",
        "tlnd",
    ];
    NAMES.contains(&name)
        || name.ends_with(" disambiguation")
        || name.starts_with("disambiguation ")
        || name.starts_with("disambig-")
}

/// Tags whose content is never prose; removed with everything inside them.
const DROP_WITH_CONTENT: &[&str] = &[
    "ref",
    "references",
    "math",
    "chem",
    "ce",
    "gallery",
    "timeline",
    "score",
    "syntaxhighlight",
    "source",
    "imagemap",
    "mapframe",
    "maplink",
    "graph",
    "hiero",
    "templatestyles",
    "templatedata",
    "inputbox",
    "categorytree",
    "charinsert",
    "indicator",
    "includeonly",
    "table",
    "style",
    "script",
];

/// Formatting tags: the tag goes, its content stays.
const KEEP_CONTENT: &[&str] = &[
    "b",
    "i",
    "u",
    "s",
    "em",
    "strong",
    "small",
    "big",
    "sup",
    "sub",
    "span",
    "div",
    "p",
    "center",
    "font",
    "code",
    "tt",
    "kbd",
    "var",
    "blockquote",
    "poem",
    "cite",
    "abbr",
    "q",
    "dfn",
    "del",
    "ins",
    "strike",
    "mark",
    "bdi",
    "wbr",
    "time",
    "data",
    "ruby",
    "rt",
    "rp",
    "rb",
    "nowiki",
    "noinclude",
    "onlyinclude",
    "pre",
    "section",
    "hr",
    "br",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "caption",
    "tr",
    "td",
    "th",
    "tbody",
    "thead",
];

/// Pass 1: removes comments, templates, tables, non-prose tags and file/category/interlanguage
/// links. Everything else is copied unchanged.
pub(super) fn strip(src: &str, ns: &Namespaces, disambiguation: &mut bool) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let Some(k) = memchr3(b'{', b'<', b'[', &b[i..]) else {
            out.push_str(&src[i..]);
            break;
        };
        out.push_str(&src[i..i + k]);
        i += k;
        i = match b[i] {
            b'{' => strip_brace(src, i, &mut out, ns, disambiguation),
            b'<' => strip_angle(src, i, &mut out),
            _ => strip_bracket(src, i, &mut out, ns),
        };
    }
    out
}

fn strip_brace(
    src: &str,
    i: usize,
    out: &mut String,
    ns: &Namespaces,
    disambiguation: &mut bool,
) -> usize {
    let b = src.as_bytes();
    if b.get(i + 1) == Some(&b'{') {
        let Some(end) = skip_braces(b, i) else {
            return i + 2;
        };
        // The braces that closed it (two, or one where a `{{{…}}}` parameter's third brace
        // ended it); what is before them is a character boundary, being `}`.
        let closing = b[..end]
            .iter()
            .rev()
            .take_while(|&&c| c == b'}')
            .count()
            .min(2);
        let inner = &src[i + 2..(end - closing).max(i + 2)];
        let name_end = inner.find(['|', '}', '\n']).unwrap_or(inner.len());
        if is_disambiguation_template(&inner[..name_end]) {
            *disambiguation = true;
        }
        if let Some(text) = inline_template_text(inner) {
            out.push_str(&strip(&text, ns, disambiguation));
        }
        return end;
    }
    if b.get(i + 1) == Some(&b'|') && at_line_start(b, i) {
        return skip_table(b, i);
    }
    out.push('{');
    i + 1
}

fn strip_angle(src: &str, i: usize, out: &mut String) -> usize {
    let b = src.as_bytes();
    if b[i..].starts_with(b"<!--") {
        return find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
    }
    let Some(tag) = parse_tag(src, i) else {
        out.push('<');
        return i + 1;
    };
    if DROP_WITH_CONTENT.contains(&tag.name.as_str()) {
        if tag.closing {
            return tag.end;
        }
        if tag.self_closing {
            return tag.end;
        }
        return find_closing(src, tag.end, &tag.name).unwrap_or(tag.end);
    }
    if KEEP_CONTENT.contains(&tag.name.as_str()) {
        if tag.name == "br" {
            out.push(' ');
        }
        return tag.end;
    }
    out.push('<');
    i + 1
}

fn strip_bracket(src: &str, i: usize, out: &mut String, ns: &Namespaces) -> usize {
    let b = src.as_bytes();
    // In `[[[x]]`, the link is the last `[[`; the first `[` is text.
    if b.get(i + 1) != Some(&b'[') || b.get(i + 2) == Some(&b'[') {
        out.push('[');
        return i + 1;
    }
    let head_len = b[i + 2..]
        .iter()
        .position(|c| matches!(c, b':' | b'|' | b']' | b'[' | b'\n'))
        .unwrap_or(0);
    let kind = match b.get(i + 2 + head_len) {
        Some(b':') => ns.kind(&src[i + 2..i + 2 + head_len]),
        _ => None,
    };
    // An image caption may hold blank lines; an ordinary link never does.
    let media = matches!(kind, Some(NsKind::File | NsKind::Category));
    let Some(end) = skip_brackets(b, i, media) else {
        out.push_str("[[");
        return i + 2;
    };
    // `[[en:Foo]]` is an interlanguage link (shown in the sidebar, not the text);
    // `[[:en:Foo]]` and `[[wikt:foo|foo]]` are shown inline and handled by `render`.
    let interlanguage = kind == Some(NsKind::Interwiki) && !src[i..end].contains('|');
    if media || interlanguage {
        return end;
    }
    // Keep the link; its label may hold templates or refs, so scan on inside it.
    out.push_str("[[");
    i + 2
}

/// The prose a few inline templates stand for (all others are dropped): `{{lang|fr|texte}}`
/// and `{{lang-fr|texte}}` → `texte`, `{{nowrap|x}}` → `x`, `{{convert|5|km}}` → `5 km`.
fn inline_template_text(inner: &str) -> Option<String> {
    let args = split_args(inner);
    let name = args.first()?.trim().to_lowercase();
    let positional: Vec<&str> = args[1..]
        .iter()
        .map(|a| a.trim())
        .filter(|a| {
            a.split_once('=')
                .is_none_or(|(k, _)| k.contains(['[', '{', '<']))
        })
        .collect();
    let arg = |k: usize| positional.get(k).map(|s| s.to_string());
    match name.as_str() {
        "lang" => arg(1),
        "nowrap" | "nobr" | "small" | "smaller" | "big" | "larger" | "transl" => {
            arg(positional.len().checked_sub(1)?)
        }
        "convert" | "cvt" => {
            let (first, second) = (arg(0)?, arg(1).unwrap_or_default());
            Some(match second.as_str() {
                "-" | "–" | "to" | "and" => {
                    format!(
                        "{first}–{} {}",
                        arg(2).unwrap_or_default(),
                        arg(3).unwrap_or_default()
                    )
                }
                _ => format!("{first} {second}"),
            })
        }
        n if n.starts_with("lang-") => arg(0),
        _ => None,
    }
}

/// Splits template content at the `|` that are not inside nested templates or links.
fn split_args(inner: &str) -> Vec<&str> {
    let b = inner.as_bytes();
    let (mut depth, mut start, mut j) = (0usize, 0, 0);
    let mut args = Vec::new();
    while j < b.len() {
        match (b[j], b.get(j + 1)) {
            (b'{', Some(b'{')) | (b'[', Some(b'[')) => {
                depth += 1;
                j += 2;
            }
            (b'}', Some(b'}')) | (b']', Some(b']')) => {
                depth = depth.saturating_sub(1);
                j += 2;
            }
            (b'|', _) if depth == 0 => {
                args.push(&inner[start..j]);
                start = j + 1;
                j += 1;
            }
            _ => j += 1,
        }
    }
    args.push(&inner[start..]);
    args
}

/// End (exclusive) of a `{{…}}` / `{{{…}}}` starting at `i`, matching brace runs the way
/// MediaWiki's preprocessor does; `None` if unbalanced.
fn skip_braces(b: &[u8], i: usize) -> Option<usize> {
    let mut stack: Vec<usize> = Vec::new();
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'{' => {
                let run = b[j..].iter().take_while(|&&c| c == b'{').count();
                let mut n = run;
                while n >= 2 {
                    let take = if n == 3 || n >= 5 { 3 } else { 2 };
                    stack.push(take);
                    n -= take;
                }
                j += run;
            }
            b'}' => {
                let run = b[j..].iter().take_while(|&&c| c == b'}').count();
                let mut n = run;
                while n >= 2 {
                    let Some(top) = stack.pop() else { break };
                    let used = top.min(n);
                    n -= used;
                    if used < top {
                        stack.push(top - used);
                        break;
                    }
                }
                if stack.is_empty() {
                    return Some(j + run - n);
                }
                j += run;
            }
            b'<' if b[j..].starts_with(b"<!--") => {
                j = find(b, j + 4, b"-->").map_or(b.len(), |e| e + 3);
            }
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of a `[[…]]` starting at `i`, nested links included; `None` if unbalanced
/// (or, unless `across_paragraphs`, if a blank line comes first).
fn skip_brackets(b: &[u8], i: usize, across_paragraphs: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'[', b'[') => {
                depth += 1;
                j += 2;
            }
            (b']', b']') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return Some(j);
                }
            }
            // A link never spans a paragraph break: stop looking.
            (b'\n', b'\n') if !across_paragraphs => return None,
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of a `{|…|}` table starting at `i` (nested tables counted); the end of the
/// text if it is never closed, as MediaWiki closes it there.
fn skip_table(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut line = i;
    loop {
        let line_end = memchr(b'\n', &b[line..]).map_or(b.len(), |k| line + k);
        let trimmed = trim_indent(&b[line..line_end]);
        if trimmed.starts_with(b"{|") {
            depth += 1;
        } else if trimmed.starts_with(b"|}") {
            depth -= 1;
            if depth == 0 {
                return line_end - trimmed.len() + 2;
            }
        }
        if line_end >= b.len() {
            return b.len();
        }
        line = line_end + 1;
    }
}

/// Drops the indentation (spaces, tabs, `:`) before a table.
fn trim_indent(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b':'))
        .count();
    &b[n..]
}

fn at_line_start(b: &[u8], i: usize) -> bool {
    b[..i]
        .iter()
        .rev()
        .find(|&&c| !matches!(c, b' ' | b'\t' | b':'))
        .is_none_or(|&c| c == b'\n')
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(&b[from.min(b.len())..], needle).map(|k| from + k)
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    /// Byte after the closing `>`.
    end: usize,
}

/// Parses an HTML-like tag at `i` (`<name …>`, `</name>`, `<name/>`); `None` if it is not one.
fn parse_tag(src: &str, i: usize) -> Option<Tag> {
    let b = src.as_bytes();
    let closing = b.get(i + 1) == Some(&b'/');
    let name_start = i + 1 + usize::from(closing);
    let name_len = b[name_start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if name_len == 0 || !b[name_start].is_ascii_alphabetic() {
        return None;
    }
    let after = name_start + name_len;
    if !matches!(b.get(after), Some(b'>' | b'/' | b' ' | b'\t' | b'\n')) {
        return None;
    }
    let close = memchr(b'>', &b[after..])? + after;
    if b[after..close].contains(&b'<') {
        return None;
    }
    Some(Tag {
        name: src[name_start..after].to_ascii_lowercase(),
        closing,
        self_closing: b[close - 1] == b'/',
        end: close + 1,
    })
}

/// Byte after `</name…>` searched from `from` (ASCII case-insensitive).
fn find_closing(src: &str, from: usize, name: &str) -> Option<usize> {
    let b = src.as_bytes();
    let mut j = from;
    while let Some(k) = find(b, j, b"</") {
        let start = k + 2;
        let end = start + name.len();
        if end <= b.len()
            && b[start..end].eq_ignore_ascii_case(name.as_bytes())
            && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return Some(memchr(b'>', &b[end..]).map_or(b.len(), |e| end + e + 1));
        }
        j = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strips `wikitext` and compares the text left for the render pass, byte for byte.
    fn check(wikitext: &str, expect: &str) {
        let mut disambiguation = false;
        let got = strip(wikitext, &Namespaces::default(), &mut disambiguation);
        assert_eq!(got, expect, "wikitext: {wikitext:?}");
    }

    #[test]
    fn templates_parameters_and_comments_go() {
        check(
            "A{{cite|x={{nested|y}}|z}} B<ref name=\"a\">{{cite web|url=x}}</ref> C<ref name=b/>.",
            "A B C.",
        );
        check("X {{{1|default}}} Y {{foo|{{{2}}}}} Z", "X  Y  Z");
        check("A <!-- hidden [[Link]] --> B", "A  B");
        check("A <!-- never closed", "A ");
        check("{{a|{{b}}}}}}x", "}}x");
        // Closed by the third brace of a parameter, before a character wider than a byte
        // (found by the property test: the inner text was cut inside the character).
        check("{{{-->}}𐖗}}", "}");
    }

    #[test]
    fn inline_templates_leave_their_text() {
        check(
            "{{lang|fr|la [[Seine]]}}, {{lang-de|Rhein}}, {{nowrap|5 tháng 4}}, {{convert|5|km|mi}}, \
             {{cvt|3|-|4|m}}, {{lang|en|text=x|Kept}}",
            "la [[Seine]], Rhein, 5 tháng 4, 5 km, 3–4 m, Kept",
        );
        check("{{nowrap|{{lang|vi|Huế}}}}", "Huế");
    }

    #[test]
    fn tables_go_nested_and_indented() {
        check(
            "Before.\n{| class=\"wikitable\"\n|-\n| cell [[Link]]\n{|\n| inner\n|}\n|}\nAfter.",
            "Before.\n\nAfter.",
        );
        check(
            "Table:\n::{| border=1\n! Năm\n|-\n| 1923\n|}\nAfter.",
            "Table:\n::\nAfter.",
        );
        check("Never closed:\n{|\n| cell", "Never closed:\n");
        check("Not a table {| here", "Not a table {| here");
    }

    #[test]
    fn non_prose_tags_go_with_their_content() {
        check(
            "x<math>a^2</math> y <gallery>\nA.jpg\n</gallery> z",
            "x y  z",
        );
        check(
            "x<br />y <small>small</small> <span style=\"a\">z</span>",
            "x y small z",
        );
        check("a < b and c > d <3", "a < b and c > d <3");
        check("<REF>x</Ref>kept <ref>never closed", "kept never closed");
    }

    #[test]
    fn file_category_and_interlanguage_links_go() {
        check("A [[File:x.jpg|thumb|A [[nested]] caption]] B", "A  B");
        check("A [[Tập tin:y.png|nhỏ|[[Binnenhof]] là nơi họp]] B", "A  B");
        check("A [[Hình:z.svg]] B", "A  B");
        check("A [[File:x.jpg|thumb|\n\nCaption [[Link|l]]\n]]B", "A B");
        check("Text.\n[[Thể loại:Hà Lan]]\n[[Category:X]]", "Text.\n\n");
        check("Text.\n[[en:Netherlands]]\n[[zh-yue:荷蘭]]", "Text.\n\n");
    }

    #[test]
    fn article_links_are_left_for_render() {
        for kept in [
            "[[Hà Nội]] là",
            "[[wikt:word|word]] here",
            "[[:en:Foo]] shown",
            "[[[x]]",
            "A [[broken link\n\nB.",
        ] {
            check(kept, kept);
        }
        check("[[Foo|a {{tpl}} b<ref>r</ref>]]", "[[Foo|a  b]]");
        check("A {{broken template\n\nNext.", "A broken template\n\nNext.");
    }

    #[test]
    fn disambiguation_templates_are_noticed() {
        let ns = Namespaces::default();
        let noticed = |text: &str| {
            let mut disambiguation = false;
            strip(text, &ns, &mut disambiguation);
            disambiguation
        };
        for text in [
            "{{disambiguation}}",
            "{{Disambig|geo}}",
            "{{hndis|Smith, John}}",
            "{{Template:Dab}}",
            "{{Bản mẫu:Trang định hướng}}",
            "{{Place name disambiguation}}",
            "{{disambiguation cleanup}}",
            "{{disambig-plant}}",
            "{{nowrap|{{dab}}}}",
        ] {
            assert!(noticed(text), "{text}");
        }
        for text in [
            "{{Infobox disambiguation finder}}",
            "{{cite}}",
            "disambiguation",
        ] {
            assert!(!noticed(text), "{text}");
        }
    }
}
