//! [`ingest`]: the whole pipeline from corpus files to one passages JSONL file with its run
//! manifest — what `masksearch ingest` runs.

use std::path::{Path, PathBuf};

use formats::{Run, RunLog, RunManifest};

use crate::{Config, CorpusError, CorpusReader, Tally};

/// How far an [`ingest`] has got; reported after opening, every few hundred passages and at
/// the end of each input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestProgress {
    /// Input bytes read so far over all inputs (compressed bytes for `.bz2`).
    pub bytes_read: u64,
    /// Size of all inputs together.
    pub total_bytes: u64,
    /// Passages written so far.
    pub passages: u64,
}

/// What a complete [`ingest`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Counts over all inputs: pages read, kept and skipped by reason, passages written.
    pub tally: Tally,
    /// Where the run manifest was written (beside the output).
    pub manifest: PathBuf,
}

/// Passages between two progress reports.
const PROGRESS_EVERY: u64 = 256;

/// Reads every input in order and writes its passages to `out` (replaced if it exists), with a
/// run manifest beside it ([`RunManifest::path_for`]).
///
/// Every input is opened before `out` is touched, so a missing file or an input whose format
/// cannot be told fails with `out` as it was. A bad record (without [`Config::skip_bad`]) or
/// an input that cannot go on stops the run with [`CorpusError::Stopped`]: the passages before
/// it stay in `out`, and the manifest records the counts and that the run is incomplete.
pub fn ingest(
    inputs: &[PathBuf],
    out: &Path,
    config: &Config,
    progress: &dyn Fn(&IngestProgress),
) -> Result<IngestReport, CorpusError> {
    let readers = inputs
        .iter()
        .map(|path| crate::open(path, config))
        .collect::<Result<Vec<CorpusReader>, _>>()?;
    let (mut run, _) = Run::open(run_manifest(inputs, config), out, false)?;
    let mut log = RunLog::create(out)?;
    // Saved as the output starts over: a run killed midway leaves a manifest that says it did
    // not finish, never the last run's.
    run.save(Tally::default().counts())?;
    let mut state = IngestProgress {
        total_bytes: readers.iter().map(CorpusReader::total_bytes).sum(),
        ..IngestProgress::default()
    };
    progress(&state);
    let mut tally = Tally::default();
    let mut stopped_by = None;
    for mut reader in readers {
        let bytes_before = state.bytes_read;
        while let Some(item) = reader.next() {
            match item {
                Ok(passage) => log.append(&passage)?,
                Err(e) => {
                    stopped_by = Some(e);
                    break;
                }
            }
            state.passages += 1;
            if state.passages.is_multiple_of(PROGRESS_EVERY) {
                state.bytes_read = bytes_before + reader.bytes_read();
                progress(&state);
            }
        }
        tally.merge(reader.tally());
        if stopped_by.is_some() {
            state.bytes_read = bytes_before + reader.bytes_read();
            progress(&state);
            break;
        }
        // A finished input counts whole, even where the decompressor left a few bytes unread.
        state.bytes_read = bytes_before + reader.total_bytes();
        progress(&state);
    }
    log.commit()?;
    match stopped_by {
        None => {
            let manifest = run.finish(tally.counts())?;
            Ok(IngestReport { tally, manifest })
        }
        Some(error) => {
            run.save(tally.counts())?;
            Err(CorpusError::Stopped {
                error: Box::new(error),
                tally,
                out: out.to_path_buf(),
            })
        }
    }
}

fn run_manifest(inputs: &[PathBuf], config: &Config) -> RunManifest {
    RunManifest::new(
        "ingest",
        inputs.iter().map(|p| p.display().to_string()).collect(),
        serde_json::to_value(config).expect("a Config is plain data and always serialises"),
    )
}
