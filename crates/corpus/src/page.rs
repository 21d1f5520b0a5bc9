//! The page as every reader hands it over: an id, a title and paragraphs of plain text with
//! their links. Readers produce these, the chunker cuts them into passages; neither knows the
//! other.

use std::fmt;

use formats::Passage;

use crate::{CorpusError, PageSkip};

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

/// A record still to be made, by the thread that cuts it into passages: a dump's page, whose
/// wikitext conversion is most of an ingest's time, is made on every core this way.
pub(crate) struct Deferred(Box<dyn FnOnce() -> Record + Send>);

impl Deferred {
    pub(crate) fn new(make: impl FnOnce() -> Record + Send + 'static) -> Deferred {
        Deferred(Box::new(make))
    }

    pub(crate) fn make(self) -> Record {
        (self.0)()
    }
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred(..)")
    }
}

/// One input record, as read.
#[derive(Debug)]
pub(crate) enum Record {
    Page(Page),
    Deferred(Deferred),
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
