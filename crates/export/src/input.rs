//! Reading JSONL inputs record by record, with the line each came from.

use std::path::Path;

use formats::{FormatError, read_jsonl};
use serde::de::DeserializeOwned;

use crate::ExportError;

/// A record and the 1-based line it was on; `Err` holds why the line is not a record.
pub(crate) type Numbered<T> = (u64, Result<T, String>);

/// The records of a JSONL file with their 1-based line numbers. A line that is not a `T` is
/// `Ok((line, Err(reason)))` (a counted skip); a failing read is `Err`, and the last item.
pub(crate) fn lines<T: DeserializeOwned>(
    path: &Path,
) -> Result<impl Iterator<Item = Result<Numbered<T>, ExportError>>, ExportError> {
    let mut reader = read_jsonl::<T>(path)?;
    Ok(std::iter::from_fn(move || {
        Some(match reader.next()? {
            Ok(record) => Ok((reader.line(), Ok(record))),
            Err(FormatError::BadLine { line, message, .. }) => Ok((line, Err(message))),
            Err(error) => Err(error.into()),
        })
    }))
}
