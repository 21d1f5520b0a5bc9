//! Wikitext → plain-text paragraphs with link anchors.
//!
//! Two passes over one page. [`strip`] removes what is never prose, respecting nesting:
//! comments, templates and parser functions `{{…}}` / parameters `{{{…}}}`, tables `{|…|}`,
//! `<ref>` and other non-prose tags with their content, file/image/category and interlanguage
//! links (a file caption's own links go with it); it also notices disambiguation templates.
//! [`render`] then works line by line: headings end a paragraph and are dropped (a heading is a
//! label, not a sentence; the reference-like sections after "References", "Tham khảo", … are
//! dropped whole), list items become paragraphs of their own, and inline markup is resolved:
//! `[[Target|shown]]` becomes `shown` with an anchor to `Target` (trailing lower-case letters
//! join the surface, as MediaWiki's link trail does), external links keep their label, bold and
//! italic quotes, magic words and HTML entities are resolved.

use memchr::{memchr, memchr3};

use crate::chunk::{Link, Paragraph};

/// Namespace names of a wiki, lower-cased, that decide what a `[[Prefix:…]]` link is.
#[derive(Debug, Clone)]
pub(crate) struct Namespaces {
    /// File namespace names and aliases: such links are images, dropped with their captions.
    file: Vec<String>,
    category: Vec<String>,
    /// Every other namespace: links there are shown as text but are not article anchors.
    other: Vec<String>,
}

impl Default for Namespaces {
    /// English canonical names and common aliases, plus the Vietnamese ones, so text converts
    /// sensibly even before (or without) a dump's `<siteinfo>`.
    fn default() -> Self {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Namespaces {
            file: names(&["file", "image", "media", "tập tin", "hình", "phương tiện"]),
            category: names(&["category", "thể loại"]),
            other: names(&[
                "talk",
                "user",
                "user talk",
                "wikipedia",
                "wp",
                "project",
                "template",
                "help",
                "portal",
                "special",
                "mediawiki",
                "module",
                "draft",
                "timedtext",
                "wiktionary",
                "thảo luận",
                "thành viên",
                "bản mẫu",
                "trợ giúp",
                "cổng thông tin",
                "đặc biệt",
                "mô đun",
            ]),
        }
    }
}

impl Namespaces {
    /// Adds a namespace declared in a dump's `<siteinfo>` (`key` 6 is files, 14 categories).
    pub(crate) fn declare(&mut self, key: i64, name: &str) {
        let name = name.trim().to_lowercase();
        if name.is_empty() || key == 0 {
            return;
        }
        let list = match key {
            6 | -2 => &mut self.file,
            14 => &mut self.category,
            _ => &mut self.other,
        };
        if !list.contains(&name) {
            list.push(name);
        }
    }

    fn kind(&self, prefix: &str) -> Option<NsKind> {
        let prefix = prefix.trim().replace('_', " ").to_lowercase();
        if self.file.contains(&prefix) {
            Some(NsKind::File)
        } else if self.category.contains(&prefix) {
            Some(NsKind::Category)
        } else if self.other.contains(&prefix) {
            Some(NsKind::Other)
        } else if is_interwiki(&prefix) {
            Some(NsKind::Interwiki)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsKind {
    File,
    Category,
    Other,
    Interwiki,
}

/// Language and interwiki prefixes look like `en`, `zh-yue`, `wikt`, `simple`: short, lower-case
/// ASCII. Article titles before a colon (`Star Wars: …`) are capitalised, so they never match.
fn is_interwiki(prefix: &str) -> bool {
    (2..=12).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && prefix.as_bytes()[0] != b'-'
}

/// A page's wikitext converted.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub paragraphs: Vec<Paragraph>,
    /// The page carries a disambiguation template or magic word.
    pub disambiguation: bool,
}

/// Converts one page's wikitext (already XML-unescaped) to paragraphs with link anchors.
pub(crate) fn convert(wikitext: &str, ns: &Namespaces) -> Converted {
    let mut disambiguation = false;
    let stripped = strip(wikitext, ns, &mut disambiguation);
    let paragraphs = render(&stripped, ns);
    Converted {
        paragraphs,
        disambiguation: disambiguation || stripped.contains("__DISAMBIG__"),
    }
}

/// Whether the wikitext is a redirect (`#REDIRECT [[…]]` and its localisations).
pub(crate) fn is_redirect(wikitext: &str) -> bool {
    let Some(rest) = wikitext.trim_start().strip_prefix('#') else {
        return false;
    };
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    const REDIRECT: &[&str] = &[
        "redirect",
        "đổi",
        "chuyển",
        "weiterleitung",
        "redirection",
        "redirección",
        "redirecionamento",
        "rinvia",
        "doorverwijzing",
        "перенаправление",
        "重定向",
        "転送",
        "przekieruj",
    ];
    REDIRECT.contains(&word.as_str())
}

/// Titles like `Foo (disambiguation)` / `Foo (định hướng)`.
pub(crate) fn is_disambiguation_title(title: &str) -> bool {
    let t = title.to_lowercase();
    t.ends_with("(disambiguation)") || t.ends_with("(định hướng)")
}

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
fn strip(src: &str, ns: &Namespaces, disambiguation: &mut bool) -> String {
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
        let inner = &src[i + 2..end.saturating_sub(2).max(i + 2)];
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

/// Section titles whose content is references, links or notes rather than prose.
pub(crate) const BOILERPLATE_SECTIONS: &[&str] = &[
    "references",
    "external links",
    "see also",
    "notes",
    "further reading",
    "bibliography",
    "sources",
    "footnotes",
    "citations",
    "notes and references",
    "references and notes",
    "tham khảo",
    "chú thích",
    "liên kết ngoài",
    "xem thêm",
    "đọc thêm",
    "ghi chú",
    "tài liệu tham khảo",
    "nguồn",
    "thư mục",
    "liên kết",
];

/// Pass 2: lines → paragraphs, inline markup → text and anchors.
fn render(text: &str, ns: &Namespaces) -> Vec<Paragraph> {
    let mut out = Out::default();
    // Level of the boilerplate section being skipped, if any.
    let mut skipping: Option<usize> = None;
    for line in text.split('\n') {
        let line = line.trim_end();
        if let Some((level, title)) = heading(line) {
            out.end_paragraph();
            let boilerplate = BOILERPLATE_SECTIONS.contains(&title.to_lowercase().as_str());
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
        let Some(close) = find(b, i + 2, b"]]") else {
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

/// Decodes the HTML entity at the start of `s`: `(Some(char) or None for a soft hyphen-like
/// invisible, byte length)`; `None` if `s` does not start with a known entity.
fn decode_entity(s: &str) -> Option<(Option<char>, usize)> {
    let semi = s.as_bytes().iter().take(12).position(|&c| c == b';')?;
    let name = &s[1..semi];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        Some(char::from_u32(code).filter(|&c| c != '\0')?)
    } else {
        match name {
            "nbsp" | "ensp" | "emsp" | "thinsp" | "numsp" => Some(' '),
            "shy" | "zwj" | "zwnj" | "lrm" | "rlm" => None,
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "ndash" => Some('–'),
            "mdash" => Some('—'),
            "minus" => Some('−'),
            "hellip" => Some('…'),
            "times" => Some('×'),
            "deg" => Some('°'),
            "middot" => Some('·'),
            "bull" => Some('•'),
            "laquo" => Some('«'),
            "raquo" => Some('»'),
            "lsquo" => Some('‘'),
            "rsquo" => Some('’'),
            "ldquo" => Some('“'),
            "rdquo" => Some('”'),
            "prime" => Some('′'),
            "Prime" => Some('″'),
            "frac12" => Some('½'),
            "copy" => Some('©'),
            "reg" => Some('®'),
            "euro" => Some('€'),
            "pound" => Some('£'),
            "sect" => Some('§'),
            "plusmn" => Some('±'),
            "larr" => Some('←'),
            "rarr" => Some('→'),
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::chunk;
    use crate::chunk::tests::markup;

    /// Converts `wikitext` and renders the paragraphs as `[surface](Target)` markup joined by
    /// ` ¶ `, checking every anchor's offsets on the way.
    fn check(wikitext: &str, expect: &str) {
        let converted = convert(wikitext, &Namespaces::default());
        let paras: Vec<String> = converted
            .paragraphs
            .iter()
            .map(|p| {
                let c = &chunk(std::slice::from_ref(p), None)[0];
                for a in &c.anchors {
                    assert!(a.surface(&c.text).is_some(), "{c:?}");
                }
                markup(&c.text, &c.anchors)
            })
            .collect();
        assert_eq!(paras.join(" ¶ "), expect, "wikitext: {wikitext:?}");
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
        check("[[#Section|below]] text", "below text");
        check("see [[Wikipedia:Policy|policy]]", "see policy");
        check("[[:Category:Cities|cities]] list", "cities list");
        check("[[wikt:word|word]] here", "word here");
        check("[[Foo|''bold'' name]]", "[bold name](Foo)");
        check("[[AT&amp;T]]", "[AT&T](AT&T)");
        check("đoạn [<nowiki/>[[0 (số)|0]], 1]", "đoạn [[0](0 (số)), 1]");
        check(
            "người[[Mohawk people| Mohawks]] đã",
            "người [Mohawks](Mohawk people) đã",
        );
    }

    #[test]
    fn files_categories_and_interlanguage_links_go() {
        check("A [[File:x.jpg|thumb|A [[nested]] caption]] B", "A B");
        check("A [[Tập tin:y.png|nhỏ|[[Binnenhof]] là nơi họp]] B", "A B");
        check("A [[Hình:z.svg]] B", "A B");
        check("A [[File:x.jpg|thumb|\n\nCaption [[Link|l]]\n]]B", "A B");
        check("Text.\n[[Thể loại:Hà Lan]]\n[[Category:X]]", "Text.");
        check("Text.\n[[en:Netherlands]]\n[[zh-yue:荷蘭]]", "Text.");
    }

    #[test]
    fn templates_refs_comments_and_tables_go() {
        check(
            "A{{cite|x={{nested|y}}|z}} B<ref name=\"a\">{{cite web|url=x}}</ref> C<ref name=b/>.",
            "A B C.",
        );
        check("X {{{1|default}}} Y {{foo|{{{2}}}}} Z", "X Y Z");
        check("A <!-- hidden [[Link]] --> B", "A B");
        check(
            "Before.\n{| class=\"wikitable\"\n|-\n| cell [[Link]]\n{|\n| inner\n|}\n|}\nAfter.",
            "Before. ¶ After.",
        );
        check(
            "'''Hà Lan''' ({{IPA-nl|ˈneːdərlɑnt}}) là một quốc gia.",
            "Hà Lan là một quốc gia.",
        );
        check(
            "Born ({{birth date|1990}}, Paris) here",
            "Born (Paris) here",
        );
        check(
            "Table:\n::{| border=1\n! Năm\n|-\n| 1923\n|}\nAfter.",
            "Table: ¶ After.",
        );
        check(
            "x<math>a^2</math> y <gallery>\nA.jpg\n</gallery> z",
            "x y z",
        );
        check(
            "{{lang|fr|la [[Seine]]}}, {{lang-de|Rhein}}, {{nowrap|5 tháng 4}}, {{convert|5|km|mi}}, \
             {{cvt|3|-|4|m}}, {{lang|en|text=x|Kept}}",
            "la [Seine](Seine), Rhein, 5 tháng 4, 5 km, 3–4 m, Kept",
        );
    }

    #[test]
    fn formatting_entities_and_magic_words() {
        check(
            "'''Bold''' and ''italic'' and '''''both'''''",
            "Bold and italic and both",
        );
        check("It's l'''arbre''' ''''' x'''''''''", "It's larbre x");
        check(
            "A&nbsp;B &amp; C&mdash;D &#91;1&#93; &#x41;",
            "A B & C—D [1] A",
        );
        check("__TOC__ Text __NOTOC__ here __KHÔNGMỤCLỤC__", "Text here");
        check("snake_case stays", "snake_case stays");
        check("a &bogus; b", "a &bogus; b");
        check(
            "x<br />y <small>small</small> <span style=\"a\">z</span>",
            "x y small z",
        );
        check("a < b and c > d", "a < b and c > d");
        check(
            "[https://example.org Example site] and [http://bare.org]",
            "Example site and",
        );
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
        check(
            "== Tham khảo ==\n{{tham khảo}}\n== Liên kết ngoài ==\n* [http://x.vn Trang]",
            "",
        );
    }

    #[test]
    fn redirects_and_disambiguation() {
        assert!(is_redirect("#REDIRECT [[Foo]]"));
        assert!(is_redirect("  #redirect[[Foo]]"));
        assert!(is_redirect("#đổi [[Alexandre de Rhodes]]"));
        assert!(is_redirect("#CHUYỂN [[X]]"));
        assert!(!is_redirect("# A numbered list item"));
        assert!(!is_redirect("Text"));
        let ns = Namespaces::default();
        for text in [
            "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}",
            "X\n{{Disambig|geo}}",
            "X\n{{hndis|Smith, John}}",
            "X\n{{Trang định hướng}}",
            "X\n{{định hướng}}",
            "X\n{{Place name disambiguation}}",
            "X __DISAMBIG__",
        ] {
            assert!(convert(text, &ns).disambiguation, "{text}");
        }
        assert!(!convert("Text {{Infobox disambiguation finder}} {{cite}}", &ns).disambiguation);
        assert!(is_disambiguation_title("Mercury (disambiguation)"));
        assert!(is_disambiguation_title("Huế (định hướng)"));
    }

    #[test]
    fn unbalanced_markup_does_not_eat_the_page() {
        check(
            "A {{broken template\n\nNext paragraph.",
            "A broken template ¶ Next paragraph.",
        );
        check("A [[broken link\n\nB.", "A [[broken link ¶ B.");
    }

    #[test]
    fn siteinfo_namespaces_extend_the_defaults() {
        let mut ns = Namespaces::default();
        ns.declare(6, "Fichier");
        ns.declare(14, "Catégorie");
        ns.declare(4, "Wikipédia");
        let c = convert(
            "[[Fichier:x.jpg|cap]] [[Catégorie:Y]] [[Wikipédia:Aide|aide]] fin",
            &ns,
        );
        assert_eq!(c.paragraphs[0].text, "aide fin");
        assert!(c.paragraphs[0].links.is_empty());
    }
}
