//! The original MaskSearch layout: a folder with one plain-text file per page, the file name
//! being the title (a `.txt` extension is dropped), one paragraph a line. Files are read in
//! name order so ids and output are deterministic; hidden files are ignored.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
};

use crate::{
    CorpusError, PageSkip,
    input::BytesRead,
    page::{Page, Paragraph, Record},
};

pub(crate) struct PageDir {
    files: std::vec::IntoIter<PathBuf>,
    bytes_read: BytesRead,
}

impl PageDir {
    pub(crate) fn open(dir: &Path, bytes_read: &BytesRead) -> Result<PageDir, CorpusError> {
        let entries = fs::read_dir(dir).map_err(|e| CorpusError::io(dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CorpusError::io(dir, e))?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(PageDir {
            files: files.into_iter(),
            bytes_read: BytesRead::clone(bytes_read),
        })
    }
}

fn title_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".txt") {
        Some(t) => t.to_string(),
        None => name,
    }
}

impl Iterator for PageDir {
    type Item = Result<Record, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.files.next()?;
        let title = title_of(&path);
        let bad = |message: String| {
            Record::Bad(
                PageSkip::Invalid,
                CorpusError::BadPage {
                    path: path.clone(),
                    title: title.clone(),
                    message,
                },
            )
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => return Some(Ok(bad(format!("cannot read: {e}")))),
        };
        self.bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let Ok(text) = String::from_utf8(bytes) else {
            return Some(Ok(bad("not valid UTF-8".into())));
        };
        let paragraphs = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(Paragraph::plain)
            .collect();
        Some(Ok(Record::Page(Page {
            id: title.clone(),
            title,
            paragraphs,
        })))
    }
}
