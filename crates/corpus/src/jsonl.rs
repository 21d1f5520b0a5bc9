//! JSONL readers: wiki-18 `{"id","contents"}` and this crate's own passages (kept as passages),
//! `{"id","title","text"}` pages, and KILT pages.

use std::path::{Path, PathBuf};

use formats::{FormatError, JsonlReader, Passage};
use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    CorpusError, Format, PageSkip,
    input::{self, BytesRead},
    page::{Page, Paragraph, Record, Records, is_boilerplate_section},
};

/// An id written as a JSON string or number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(i64),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct ContentsLine {
    id: Id,
    contents: String,
}

#[derive(Deserialize)]
struct PageLine {
    id: Option<Id>,
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct KiltLine {
    wikipedia_title: String,
    text: Vec<String>,
    wikipedia_id: Option<Id>,
    #[serde(rename = "_id")]
    id: Option<Id>,
}

pub(crate) fn open(
    path: &Path,
    format: Format,
    bytes_read: &BytesRead,
) -> Result<Records, CorpusError> {
    Ok(match format {
        Format::Contents => lines(path, bytes_read, |l: ContentsLine| {
            Record::Passage(Passage::from_contents(l.id.into_string(), &l.contents))
        })?,
        Format::Passages => lines(path, bytes_read, Record::Passage)?,
        Format::Pages => lines(path, bytes_read, |l: PageLine| {
            let paragraphs = l
                .text
                .split('\n')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(Paragraph::plain)
                .collect();
            Record::Page(Page {
                id: l.id.map_or_else(|| l.title.clone(), Id::into_string),
                title: l.title,
                paragraphs,
            })
        })?,
        _ => lines(path, bytes_read, |l: KiltLine| {
            Record::Page(Page {
                id: l
                    .wikipedia_id
                    .or(l.id)
                    .map_or_else(|| l.wikipedia_title.clone(), Id::into_string),
                paragraphs: kilt_paragraphs(&l.text),
                title: l.wikipedia_title,
            })
        })?,
    })
}

/// KILT paragraphs: the first is the title; `Section::::A.:B.` lines are headings (dropped,
/// and the reference-like sections after them too); `BULLET::::- x` is a list item `x`.
fn kilt_paragraphs(text: &[String]) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut skipping = false;
    for para in text.iter().skip(1) {
        let para = para.trim();
        if let Some(section) = para.strip_prefix("Section::::") {
            let top = section
                .split(".:")
                .next()
                .unwrap_or("")
                .trim_end_matches('.');
            skipping = is_boilerplate_section(top);
            continue;
        }
        let para = match para.strip_prefix("BULLET::::") {
            Some(item) => item.trim_start_matches(['-', ' ']),
            None => para,
        };
        if !skipping && !para.is_empty() {
            out.push(Paragraph::plain(para));
        }
    }
    out
}

fn lines<T, F>(path: &Path, bytes_read: &BytesRead, to_record: F) -> Result<Records, CorpusError>
where
    T: DeserializeOwned + 'static,
    F: Fn(T) -> Record + 'static,
{
    let input = input::open_bytes(path, bytes_read)?;
    let mut reader: JsonlReader<_, T> = JsonlReader::new(input, path.display().to_string());
    let path: PathBuf = path.to_path_buf();
    let mut records = 0u64;
    let mut done = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let item = reader.next()?;
        Some(Ok(match item {
            Ok(line) => {
                records += 1;
                to_record(line)
            }
            Err(FormatError::BadLine { line, message, .. }) => Record::Bad(
                PageSkip::Malformed,
                CorpusError::BadLine {
                    path: path.clone(),
                    line,
                    message,
                },
            ),
            Err(FormatError::Io { error: source, .. }) => {
                done = true;
                Record::Bad(
                    PageSkip::Truncated,
                    CorpusError::Truncated {
                        path: path.clone(),
                        place: format!("after line {}", reader.line()),
                        detail: format!(": {source}"),
                        complete: records,
                    },
                )
            }
            Err(other) => Record::Bad(
                PageSkip::Malformed,
                CorpusError::BadLine {
                    path: path.clone(),
                    line: reader.line(),
                    message: other.to_string(),
                },
            ),
        }))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kilt_headings_bullets_and_reference_sections() {
        let text: Vec<String> = [
            "A\n",
            "Intro.\n",
            "Section::::History.\n",
            "BULLET::::- an item;\n",
            "Section::::References.\n",
            "Ref one.\n",
            "Section::::Later.:Sub.\n",
            "Kept.\n",
        ]
        .map(String::from)
        .to_vec();
        let got: Vec<String> = kilt_paragraphs(&text).into_iter().map(|p| p.text).collect();
        assert_eq!(got, ["Intro.", "an item;", "Kept."]);
    }
}
