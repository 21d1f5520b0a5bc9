//! The files the UI was started with, as pages name them: by position in each list, never by
//! path. The list page every section shares, and a file or one of its records by position.

use askama::Template;

use crate::{FileRef, error::PageError, lines::LineFile};

#[derive(Template)]
#[template(path = "files.html")]
pub(crate) struct Files {
    pub what: &'static str,
    pub base: &'static str,
    pub files: Vec<FileRef>,
    pub flag: &'static str,
}

/// The file a request names by position; 404 past the list.
pub(crate) fn file(files: &[LineFile], n: usize) -> Result<&LineFile, PageError> {
    files.get(n).ok_or_else(|| {
        PageError::NotFound(format!(
            "no file {n}: the UI was started with {}",
            files.len()
        ))
    })
}

/// The record on line `line` of the `n`-th file, read as `what`: 404 past the files or the
/// lines, 400 when the line is not one.
pub(crate) fn record<T: serde::de::DeserializeOwned>(
    files: &[LineFile],
    n: usize,
    line: usize,
    what: &str,
) -> Result<T, PageError> {
    let f = file(files, n)?;
    let text = f
        .line(line)?
        .ok_or_else(|| PageError::NotFound(format!("{} has no line {line}", f.path().display())))?;
    serde_json::from_str(&text)
        .map_err(|e| PageError::BadRequest(format!("line {line} is not {what}: {e}")))
}
