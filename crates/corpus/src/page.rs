//! The page as every reader hands it over: an id, a title and paragraphs of plain text with
//! their links. Readers produce these, the chunker cuts them into passages; neither knows the
//! other.

use std::sync::Arc;

use formats::Passage;

use crate::{
    CorpusError, PageSkip,
    wikitext::{self, Namespaces},
};

/// A link inside a paragraph: `text[start..end]` (bytes) links to page `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub start: usize,
    pub end: usize,
    pub target: String,
}

/// A block of plain text (paragraph or list item) with its links, sorted and non-overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Paragraph {
    pub text: String,
    pub links: Vec<Link>,
}

impl Paragraph {
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        Paragraph {
            text: text.into(),
            links: Vec::new(),
        }
    }
}

/// A page as the readers hand it over: id, title and converted paragraphs.
#[derive(Debug)]
pub(crate) struct Page {
    pub id: String,
    pub title: String,
    pub paragraphs: Vec<Paragraph>,
}

/// An article page of a dump, its wikitext not yet converted: the dump reader hands these over
/// and [`crate::CorpusReader`] converts them on every core, most of an ingest's time.
#[derive(Debug)]
pub(crate) struct WikiPage {
    pub id: String,
    pub title: String,
    /// XML-unescaped wikitext.
    pub text: String,
    /// The dump's namespace names, as learnt from its `<siteinfo>`.
    pub namespaces: Arc<Namespaces>,
}

impl WikiPage {
    /// The page's paragraphs, or a skip if it is a disambiguation page.
    pub(crate) fn convert(self) -> Record {
        let converted = wikitext::convert(&self.text, &self.namespaces);
        if converted.disambiguation || wikitext::is_disambiguation_title(&self.title) {
            return Record::Skipped(PageSkip::Disambiguation);
        }
        Record::Page(Page {
            id: self.id,
            title: self.title,
            paragraphs: converted.paragraphs,
        })
    }
}

/// One input record, as read.
#[derive(Debug)]
pub(crate) enum Record {
    Page(Page),
    Wikitext(WikiPage),
    /// Already a passage (wiki-18 style): kept whole unless split is forced.
    Passage(Passage),
    /// Read fine but holds no article text (redirect, other namespace, …).
    Skipped(PageSkip),
    /// Bad input: skipped and counted with `skip_bad`, else reported.
    Bad(PageSkip, CorpusError),
}

/// What the readers yield: `Err` is an error that ends the input (it cannot go on).
pub(crate) type Records = Box<dyn Iterator<Item = Result<Record, CorpusError>>>;

/// Section titles whose content is references, links or notes rather than prose (lower-case;
/// English and Vietnamese). Wikitext and KILT pages drop these sections whole.
const BOILERPLATE_SECTIONS: &[&str] = &[
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

/// Whether a section titled `title` holds references, links or notes rather than prose.
pub(crate) fn is_boilerplate_section(title: &str) -> bool {
    BOILERPLATE_SECTIONS.contains(&title.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boilerplate_sections_by_title() {
        for title in ["References", " See also ", "Tham khảo", "LIÊN KẾT NGOÀI"] {
            assert!(is_boilerplate_section(title), "{title}");
        }
        for title in ["History", "Referenced works", "Career"] {
            assert!(!is_boilerplate_section(title), "{title}");
        }
    }
}
