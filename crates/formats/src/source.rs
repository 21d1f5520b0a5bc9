//! [`PassageSource`]: the seam between whatever stores passages (a JSONL file, an index) and the
//! runs that read them.

use std::path::PathBuf;

use crate::{FormatError, Passage};

/// Passages streamed from a source. A [`FormatError::BadLine`] is one bad record (the stream
/// goes on after it); any other error ends the stream.
pub type Passages<'a> = Box<dyn Iterator<Item = Result<Passage, FormatError>> + Send + 'a>;

/// A stream of passages that can be opened more than once (a first pass may collect titles).
pub trait PassageSource: Sync {
    /// What a run manifest records as the input.
    fn name(&self) -> String;
    fn open(&self) -> Result<Passages<'_>, FormatError>;
}

/// A passages JSONL file (as `masksearch ingest` writes it).
#[derive(Debug, Clone)]
pub struct JsonlPassages(pub PathBuf);

impl PassageSource for JsonlPassages {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn open(&self) -> Result<Passages<'_>, FormatError> {
        Ok(Box::new(crate::read_jsonl::<Passage>(&self.0)?))
    }
}
