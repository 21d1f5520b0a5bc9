//! Telling an input's format from its path and its first record.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
};

use crate::{
    CorpusError, Format,
    input::{self, BytesRead},
};

/// Detects the format of `path`: a directory is a page folder, `.xml[.bz2]` a dump, and
/// anything else is told by its first line (`<` for XML, else the first JSON record's keys).
pub(crate) fn detect(path: &Path) -> Result<Format, CorpusError> {
    let meta = std::fs::metadata(path).map_err(|e| CorpusError::io(path, e))?;
    if meta.is_dir() {
        return Ok(Format::Dir);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let inner = name.strip_suffix(".bz2").unwrap_or(&name);
    if inner.ends_with(".xml") {
        return Ok(Format::Xml);
    }
    let unknown = |why: &str| CorpusError::UnknownFormat {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let mut input = BufReader::new(input::open_bytes(path, &BytesRead::default())?);
    let mut line = String::new();
    loop {
        line.clear();
        let n = input
            .by_ref()
            .take(64 << 20)
            .read_line(&mut line)
            .map_err(|e| CorpusError::io(path, e))?;
        if n == 0 {
            return Err(unknown("the file is empty"));
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    if line.trim_start().starts_with('<') {
        return Ok(Format::Xml);
    }
    let record: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| unknown(&format!("the first line is neither XML nor JSON: {e}")))?;
    let Some(obj) = record.as_object() else {
        return Err(unknown("the first line is not a JSON object"));
    };
    let has = |k: &str| obj.contains_key(k);
    Ok(if has("contents") {
        Format::Contents
    } else if has("wikipedia_title") || obj.get("text").is_some_and(|t| t.is_array()) {
        Format::Kilt
    } else if has("title") && has("text") {
        let id_is_passage = obj
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|id| id.rsplit_once('#'))
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if has("anchors") || id_is_passage {
            Format::Passages
        } else {
            Format::Pages
        }
    } else {
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        return Err(unknown(&format!(
            "first record has keys {keys:?}; expected contents, title+text or wikipedia_title+text"
        )));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_line(name: &str, first: &str) -> Result<Format, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, first).unwrap();
        detect(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn formats_from_first_record() {
        let cases = [
            (
                "a.jsonl",
                "{\"id\": \"0\", \"contents\": \"\\\"T\\\"\\nx\"}\n",
                Format::Contents,
            ),
            (
                "a.jsonl",
                "\n{\"id\": \"T\", \"title\": \"T\", \"text\": \"x\"}\n",
                Format::Pages,
            ),
            (
                "a.jsonl",
                "{\"id\": \"T#3\", \"title\": \"T\", \"text\": \"x\"}",
                Format::Passages,
            ),
            (
                "a.jsonl",
                "{\"id\": \"1\", \"title\": \"T\", \"text\": \"x\", \"anchors\": []}",
                Format::Passages,
            ),
            (
                "a.jsonl",
                "{\"wikipedia_title\": \"A\", \"text\": [\"A\\n\"]}",
                Format::Kilt,
            ),
            ("dump.xml", "", Format::Xml),
            ("dump", "<mediawiki>", Format::Xml),
        ];
        for (name, first, want) in cases {
            assert_eq!(detect_line(name, first), Ok(want), "{first}");
        }
    }

    #[test]
    fn unknown_formats_say_why() {
        let err = detect_line("a.jsonl", "{\"q\": 1}").unwrap_err();
        assert!(
            err.contains("a.jsonl: cannot tell the input format") && err.contains("[\"q\"]"),
            "{err}"
        );
        assert!(detect_line("a.jsonl", "").unwrap_err().contains("empty"));
        assert!(
            detect_line("a.txt", "hello")
                .unwrap_err()
                .contains("neither XML nor JSON")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Format::Dir);
        let missing = detect(&dir.path().join("nope.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("nope.jsonl") && missing.contains("No such file"),
            "{missing}"
        );
    }
}
