//! The MediaWiki XML dump reader: streams `<page>` elements one at a time (memory stays flat
//! whatever the dump's size), learns namespace names from `<siteinfo>`, and hands each article
//! page over to be converted into paragraphs with anchors where the pages are cut into passages,
//! on every core ([`Deferred`]).
//!
//! A dump that stops inside a page (a cut download, a damaged `.bz2`, XML the parser cannot
//! read past) yields every complete page, then one [`PageSkip::Truncated`] record naming the
//! page it stopped in, and the cause when there is one.

use std::{
    io::{BufReader, Read},
    path::{Path, PathBuf},
    sync::Arc,
};

use quick_xml::events::{BytesStart, Event};

use crate::{
    CorpusError, PageSkip,
    input::{self, BytesRead},
    page::{Deferred, Page, Record},
    wikitext::{self, Namespaces},
};

/// Errors in a row after which the reader gives up on the file.
const MAX_ERRORS_IN_A_ROW: u32 = 100;

pub(crate) struct DumpReader {
    xml: quick_xml::Reader<BufReader<Box<dyn Read>>>,
    buf: Vec<u8>,
    path: PathBuf,
    /// Shared with every page read after the `<siteinfo>` that declared them.
    namespaces: Arc<Namespaces>,
    page: Option<PageState>,
    /// Names of the open elements, checked here (not by quick-xml) so that a page with a
    /// mismatched end tag is reported and reading resumes at the next page.
    open: Vec<String>,
    /// Inside `<siteinfo><namespaces><namespace key=…>`: the key being read.
    namespace_key: Option<i64>,
    namespace_name: String,
    /// Pages read to their `</page>`.
    complete: u64,
    last_title: Option<String>,
    saw_root: bool,
    saw_end: bool,
    errors_in_a_row: u32,
    /// The XML error quick-xml stopped at, if it gave up before the end of the input: what
    /// follows is never read, and the end of the dump says why rather than blame a cut.
    stopped_by: Option<String>,
    done: bool,
}

#[derive(Default)]
struct PageState {
    title: String,
    ns: String,
    id: String,
    redirect: bool,
    text: String,
    /// Length of the open-element stack with `<page>` on it.
    base: usize,
    field: Field,
    error: Option<String>,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Field {
    #[default]
    None,
    Title,
    Ns,
    Id,
    Text,
}

impl PageState {
    fn target(&mut self) -> Option<&mut String> {
        match self.field {
            Field::None => None,
            Field::Title => Some(&mut self.title),
            Field::Ns => Some(&mut self.ns),
            Field::Id => Some(&mut self.id),
            Field::Text => Some(&mut self.text),
        }
    }
}

impl DumpReader {
    pub(crate) fn open(path: &Path, bytes_read: &BytesRead) -> Result<DumpReader, CorpusError> {
        let input = input::open_bytes(path, bytes_read)?;
        let mut xml = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, input));
        xml.config_mut().trim_text(false);
        xml.config_mut().check_end_names = false;
        // quick-xml's own stack of open elements, one short after a stray end tag, would then
        // refuse `</mediawiki>` and make a whole dump look cut; `open` does the matching.
        xml.config_mut().allow_unmatched_ends = true;
        Ok(DumpReader {
            xml,
            buf: Vec::with_capacity(1 << 16),
            path: path.to_path_buf(),
            namespaces: Arc::default(),
            page: None,
            open: Vec::new(),
            namespace_key: None,
            namespace_name: String::new(),
            complete: 0,
            last_title: None,
            saw_root: false,
            saw_end: false,
            errors_in_a_row: 0,
            stopped_by: None,
            done: false,
        })
    }

    /// Turns a complete page into a record.
    fn finish(&mut self, page: PageState) -> Record {
        self.complete += 1;
        self.last_title = Some(page.title.clone());
        if let Some(message) = page.error {
            return Record::Bad(
                PageSkip::Invalid,
                CorpusError::BadPage {
                    path: self.path.clone(),
                    title: page.title,
                    message,
                },
            );
        }
        let ns = page.ns.trim();
        if !(ns.is_empty() || ns == "0") {
            return Record::Skipped(PageSkip::Namespace);
        }
        if page.redirect || wikitext::is_redirect(&page.text) {
            return Record::Skipped(PageSkip::Redirect);
        }
        let id = if page.id.trim().is_empty() {
            page.title.clone()
        } else {
            page.id.trim().to_string()
        };
        let (title, text, namespaces) = (page.title, page.text, Arc::clone(&self.namespaces));
        Record::Deferred(Deferred::new(move || {
            convert(id, title, &text, &namespaces)
        }))
    }

    /// The record for a dump that ends early: inside a page, or after the last page.
    fn truncated(&mut self, detail: String) -> Record {
        self.done = true;
        let place = match (&self.page, &self.last_title) {
            (Some(p), _) if !p.title.is_empty() => format!("inside page '{}'", p.title),
            (Some(_), Some(last)) => format!("inside the page after '{last}'"),
            (Some(_), None) => "inside the first page".to_string(),
            (None, Some(last)) => format!("after page '{last}', before </mediawiki>"),
            (None, None) => "before the first page".to_string(),
        };
        Record::Bad(
            PageSkip::Truncated,
            CorpusError::Truncated {
                path: self.path.clone(),
                place,
                detail,
                complete: self.complete,
            },
        )
    }

    fn bad_xml(&mut self, error: &quick_xml::Error) -> Option<Result<Record, CorpusError>> {
        self.errors_in_a_row += 1;
        // quick-xml places ill-formed markup, but not bytes that are not UTF-8: those end the
        // text it was reading, where it now stands.
        let at = match error {
            quick_xml::Error::Encoding(_) => self.xml.buffer_position(),
            _ => self.xml.error_position(),
        };
        let message = format!("invalid XML near byte {at}: {error}");
        // After any error but ill-formed markup, quick-xml reads nothing more.
        if !matches!(error, quick_xml::Error::IllFormed(_)) {
            self.stopped_by = Some(message.clone());
        }
        if self.errors_in_a_row > MAX_ERRORS_IN_A_ROW {
            self.done = true;
            return Some(Err(CorpusError::BadPage {
                path: self.path.clone(),
                title: self
                    .page
                    .as_ref()
                    .map(|p| p.title.clone())
                    .unwrap_or_default(),
                message: format!(
                    "{message} (giving up after {MAX_ERRORS_IN_A_ROW} errors in a row)"
                ),
            }));
        }
        match &mut self.page {
            Some(page) => {
                page.error.get_or_insert(message);
                None
            }
            None => Some(Ok(Record::Bad(
                PageSkip::Invalid,
                CorpusError::BadPage {
                    path: self.path.clone(),
                    title: format!(
                        "(between pages, after '{}')",
                        self.last_title.as_deref().unwrap_or("")
                    ),
                    message,
                },
            ))),
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Option<Record> {
        let name = e.local_name();
        let name = name.as_ref();
        if name == "mediawiki" {
            self.saw_root = true;
        }
        if !empty {
            self.open.push(name.to_string());
        }
        if name == "page" {
            let broken = self.page.take();
            if !empty {
                self.page = Some(PageState {
                    base: self.open.len(),
                    ..PageState::default()
                });
            }
            // A `<page>` inside a page: the one before never closed.
            return broken.map(|mut p| {
                p.error
                    .get_or_insert_with(|| "no </page> before the next <page>".into());
                self.finish(p)
            });
        }
        if let Some(page) = &mut self.page {
            if name == "redirect" {
                page.redirect = true;
            }
            if empty {
                return None;
            }
            let child = self.open.len() == page.base + 1;
            page.field = match (child, name) {
                (true, "title") => Field::Title,
                (true, "ns") => Field::Ns,
                (true, "id") => Field::Id,
                (_, "text") => Field::Text,
                _ => Field::None,
            };
            return None;
        }
        if name == "namespace" && !empty {
            self.namespace_key = e
                .try_get_attribute("key")
                .ok()
                .flatten()
                .and_then(|a| a.value.trim().parse().ok());
            self.namespace_name.clear();
        }
        None
    }

    fn end(&mut self, name: &str) -> Option<Record> {
        match self.open.iter().rposition(|open| open == name) {
            Some(i) if i + 1 == self.open.len() => {}
            Some(i) => {
                let expected = self.open.last().cloned().unwrap_or_default();
                self.page_error(format!(
                    "invalid XML: expected </{expected}>, found </{name}>"
                ));
                self.open.truncate(i + 1);
            }
            None => {
                self.page_error(format!("invalid XML: </{name}> closes no open element"));
                return None;
            }
        }
        self.open.pop();
        match name {
            "mediawiki" => self.saw_end = true,
            "namespace" => {
                if let Some(key) = self.namespace_key.take() {
                    Arc::make_mut(&mut self.namespaces).declare(key, &self.namespace_name);
                }
            }
            "page" => {
                let page = self.page.take()?;
                return Some(self.finish(page));
            }
            _ => {
                if let Some(page) = &mut self.page {
                    page.field = Field::None;
                }
            }
        }
        None
    }

    fn text(&mut self, s: &str) {
        if let Some(target) = self.page.as_mut().and_then(PageState::target) {
            target.push_str(s);
        } else if self.namespace_key.is_some() {
            self.namespace_name.push_str(s);
        }
    }

    /// `&lt;`, `&#233;`: the XML entities between text pieces.
    fn entity(&mut self, name: &str, resolved: Result<Option<char>, String>) {
        let mut tmp = [0u8; 4];
        let s = match resolved {
            Ok(Some(c)) => c.encode_utf8(&mut tmp),
            Ok(None) => match quick_xml::escape::resolve_predefined_entity(name) {
                Some(s) => s,
                None => return self.page_error(format!("unknown XML entity &{name};")),
            },
            Err(e) => return self.page_error(e),
        };
        let s = s.to_string();
        self.text(&s);
    }

    fn page_error(&mut self, message: String) {
        if let Some(page) = &mut self.page {
            page.error.get_or_insert(message);
        }
    }
}

/// An article page's record: its paragraphs, or a skip if it is a disambiguation page.
fn convert(id: String, title: String, text: &str, namespaces: &Namespaces) -> Record {
    let converted = wikitext::convert(text, namespaces);
    if converted.disambiguation || wikitext::is_disambiguation_title(&title) {
        return Record::Skipped(PageSkip::Disambiguation);
    }
    Record::Page(Page {
        id,
        title,
        paragraphs: converted.paragraphs,
    })
}

impl Iterator for DumpReader {
    type Item = Result<Record, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        // The event borrows the buffer, so the buffer is lent out while `self` is updated.
        let mut buf = std::mem::take(&mut self.buf);
        let item = self.next_record(&mut buf);
        self.buf = buf;
        item
    }
}

impl DumpReader {
    fn next_record(&mut self, buf: &mut Vec<u8>) -> Option<Result<Record, CorpusError>> {
        while !self.done {
            buf.clear();
            let event = match self.xml.read_event_into(buf) {
                Ok(event) => event,
                Err(quick_xml::Error::Io(e)) => return Some(Ok(self.truncated(format!(": {e}")))),
                Err(e) => {
                    if let Some(item) = self.bad_xml(&e) {
                        return Some(item);
                    }
                    continue;
                }
            };
            self.errors_in_a_row = 0;
            let record = match event {
                Event::Start(e) => self.start(&e, false),
                Event::Empty(e) => self.start(&e, true),
                Event::End(e) => self.end(e.local_name().as_ref()),
                Event::Text(t) => {
                    self.text(&t.xml10_content());
                    None
                }
                Event::CData(t) => {
                    self.text(&t.xml10_content());
                    None
                }
                Event::GeneralRef(r) => {
                    let resolved = r.resolve_char_ref().map_err(|e| e.to_string());
                    self.entity(&r, resolved);
                    None
                }
                Event::Eof => return self.eof(),
                _ => None,
            };
            if let Some(record) = record {
                return Some(Ok(record));
            }
        }
        None
    }

    fn eof(&mut self) -> Option<Result<Record, CorpusError>> {
        if self.page.is_some() || (self.saw_root && !self.saw_end) {
            let detail = self
                .stopped_by
                .take()
                .map_or_else(String::new, |why| format!(": {why}"));
            return Some(Ok(self.truncated(detail)));
        }
        self.done = true;
        if !self.saw_root {
            return Some(Err(CorpusError::UnknownFormat {
                path: self.path.clone(),
                why: "no <mediawiki> element: not a MediaWiki XML dump".into(),
            }));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{chunk, tests::markup};

    /// Reads a dump from a string: one line per record, pages as `id|title|text markup`.
    fn read(xml: impl AsRef<[u8]>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.xml");
        std::fs::write(&path, xml).unwrap();
        DumpReader::open(&path, &BytesRead::default())
            .unwrap()
            .map(|r| {
                match r.map(|r| match r {
                    Record::Deferred(record) => record.make(),
                    r => r,
                }) {
                    Ok(Record::Page(p)) => {
                        let c = chunk(&p.paragraphs, None);
                        let text = c.first().map(|c| markup(&c.text, &c.anchors));
                        format!("{}|{}|{}", p.id, p.title, text.unwrap_or_default())
                    }
                    Ok(Record::Skipped(s)) => format!("skip {}", s),
                    Ok(Record::Bad(s, e)) => format!("bad {}: {e}", s),
                    Ok(Record::Passage(p)) => format!("passage {}", p.id),
                    Ok(Record::Deferred(_)) => unreachable!("made above"),
                    Err(e) => format!("error: {e}"),
                }
            })
            .map(|s| s.replace(&dir.path().display().to_string(), "DIR"))
            .collect()
    }

    fn page(id: u32, ns: u32, title: &str, extra: &str, text: &str) -> String {
        format!(
            "<page><title>{title}</title><ns>{ns}</ns><id>{id}</id>{extra}<revision><id>9{id}</id>\
             <text bytes=\"1\" xml:space=\"preserve\">{text}</text></revision></page>\n"
        )
    }

    const HEAD: &str = "<mediawiki><siteinfo><namespaces>\
        <namespace key=\"0\" case=\"first-letter\" />\
        <namespace key=\"6\" case=\"first-letter\">Fichier</namespace>\
        </namespaces></siteinfo>\n";

    #[test]
    fn pages_redirects_namespaces_and_entities() {
        let xml = [
            HEAD,
            &page(1, 0, "Redirect", "<redirect title=\"X\" />", "#REDIRECT [[X]]"),
            &page(2, 0, "Hà Nội", "", "'''Hà Nội''' &amp;nbsp;là [[Việt Nam|VN]].&lt;ref&gt;x&lt;/ref&gt; [[Fichier:a.png|b]]"),
            &page(3, 10, "Bản mẫu:X", "", "template"),
            &page(4, 0, "Huế (định hướng)", "", "list"),
            &page(5, 0, "Dab", "", "x {{hndis}}"),
            &page(6, 0, "Empty", "", "{{stub}}"),
            "</mediawiki>\n",
        ]
        .concat();
        assert_eq!(
            read(&xml),
            [
                "skip redirect",
                "2|Hà Nội|Hà Nội là [VN](Việt Nam).",
                "skip namespace",
                "skip disambiguation",
                "skip disambiguation",
                "6|Empty|",
            ]
        );
    }

    #[test]
    fn cut_inside_a_page_keeps_complete_pages_and_names_the_cut() {
        let xml = [
            HEAD,
            &page(1, 0, "A", "", "Alpha."),
            "<page><title>B</title><ns>0</ns><revision><text>Be",
        ]
        .concat();
        assert_eq!(
            read(&xml),
            [
                "1|A|Alpha.",
                "bad truncated: DIR/d.xml: input ends inside page 'B' (truncated download?); 1 complete pages before it",
            ]
        );
        let between = [HEAD, &page(1, 0, "A", "", "Alpha.")].concat();
        assert_eq!(
            read(&between)[1],
            "bad truncated: DIR/d.xml: input ends after page 'A', before </mediawiki> (truncated download?); 1 complete pages before it"
        );
    }

    #[test]
    fn invalid_page_is_reported_and_reading_goes_on() {
        let xml = [
            HEAD,
            &page(1, 0, "Bad", "", "x &bogus; y"),
            &page(2, 0, "Good", "", "Fine."),
            "</mediawiki>",
        ]
        .concat();
        assert_eq!(
            read(&xml),
            [
                "bad invalid: DIR/d.xml: page 'Bad': unknown XML entity &bogus;",
                "2|Good|Fine.",
            ]
        );
        let mismatched = [
            HEAD,
            "<page><title>M</title><ns>0</ns><revision><text>x</revision></page>\n",
            "<page><title>N</title></oops></page>\n",
            &page(3, 0, "Good", "", "Fine."),
            "</mediawiki>",
        ]
        .concat();
        assert_eq!(
            read(&mismatched),
            [
                "bad invalid: DIR/d.xml: page 'M': invalid XML: expected </text>, found </revision>",
                "bad invalid: DIR/d.xml: page 'N': invalid XML: </oops> closes no open element",
                "3|Good|Fine.",
            ]
        );
    }

    #[test]
    fn a_stray_end_tag_spoils_its_own_page_only() {
        // quick-xml's own stack of open elements came out one short after `</oops>`, refused
        // the last `</mediawiki>`, and the whole dump was reported cut.
        let xml = [
            HEAD,
            "<page><title>A</title><ns>0</ns><revision><text>x </oops>y</text></revision></page>\n",
            &page(2, 0, "Good", "", "Fine."),
            "</mediawiki>",
        ]
        .concat();
        assert_eq!(
            read(&xml),
            [
                "bad invalid: DIR/d.xml: page 'A': invalid XML: </oops> closes no open element",
                "2|Good|Fine.",
            ]
        );
    }

    #[test]
    fn xml_that_cannot_be_read_past_ends_the_dump_with_its_cause() {
        // quick-xml reads nothing after bytes that are not UTF-8. The end of the dump was then
        // reported as a cut download, without the cause.
        let xml = [
            HEAD.as_bytes(),
            page(1, 0, "A", "", "Alpha.").as_bytes(),
            b"<page><title>B</title><ns>0</ns><revision><text>Be\xffta</text></revision></page>\n",
            page(3, 0, "C", "", "Gamma.").as_bytes(),
            b"</mediawiki>",
        ]
        .concat();
        assert_eq!(
            read(&xml),
            [
                "1|A|Alpha.",
                "bad truncated: DIR/d.xml: input ends inside page 'B' (truncated download?): \
                 invalid XML near byte 342: cannot decode input using UTF-8: invalid utf-8 \
                 sequence of 1 bytes from index 2; 1 complete pages before it",
            ]
        );
    }

    #[test]
    fn not_a_dump() {
        assert_eq!(
            read("<html></html>"),
            [
                "error: DIR/d.xml: cannot tell the input format (no <mediawiki> element: not a MediaWiki XML dump)"
            ]
        );
    }
}
