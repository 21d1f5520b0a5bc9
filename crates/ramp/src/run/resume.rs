//! Resuming: what an earlier run left in the output, and where this run goes on.

use std::{collections::VecDeque, path::Path};

use formats::{RampSample, RunLog, RunManifest};
use serde_json::Value;

use crate::{
    RampError,
    curriculum::Levels,
    lexicon::Lexicon,
    stats::{CommonWordsOf, Tally, counter},
};

/// A record already in the output that the manifest does not account for yet.
pub(super) struct Written {
    pub passage_id: String,
    pub mask_num: usize,
}

/// Where a run starts: the input it may skip and what the output already holds.
pub(super) struct ResumeState {
    /// Input records consumed by the batches the manifest counted.
    pub skip_input: u64,
    /// Records written after the last counted batch, in order.
    pub pending: VecDeque<Written>,
    pub tally: Tally,
    /// Records in the output.
    pub records: u64,
    pub levels: Levels,
}

/// Opens the output (a torn last line cut when resuming) and reads back what it holds.
pub(super) fn open(
    out: &Path,
    resume: bool,
    previous: Option<&RunManifest>,
    levels: Levels,
    lexicon: Option<&Lexicon>,
) -> Result<(RunLog, ResumeState), RampError> {
    let log = if resume {
        RunLog::resume(out)?
    } else {
        RunLog::create(out)?
    };
    let mut state = ResumeState {
        skip_input: 0,
        pending: VecDeque::new(),
        tally: Tally {
            common_words: lexicon.map(|l| CommonWordsOf::Corpus(l.documents())),
            ..Tally::default()
        },
        records: 0,
        levels,
    };
    let Some(previous) = previous else {
        return Ok((log, state));
    };
    let counted = previous
        .counts
        .get(counter::SAMPLES_WRITTEN)
        .copied()
        .unwrap_or(0);
    state.skip_input = previous
        .counts
        .get(counter::INPUT_RECORDS)
        .copied()
        .unwrap_or(0);
    state.tally.run = previous.counts.clone();
    for record in formats::read_jsonl::<Value>(out)? {
        let sample: RampSample =
            serde_json::from_value(record?).map_err(|e| RampError::NotASample {
                path: out.display().to_string(),
                record: state.records + 1,
                message: e.to_string(),
            })?;
        state.tally.add_sample(&sample, lexicon);
        if state.records < counted {
            state.levels.record(sample.ext.mask_num);
        } else {
            state.pending.push_back(Written {
                passage_id: sample.ext.passage_id,
                mask_num: sample.ext.mask_num,
            });
        }
        state.records += 1;
    }
    if state.records < counted {
        return Err(RampError::ChangedOutput {
            path: out.display().to_string(),
            records: state.records,
            counted,
        });
    }
    Ok((log, state))
}
