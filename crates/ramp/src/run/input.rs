//! The run's input: the first pass over the whole corpus, then its passages in batches.

use std::{collections::HashSet, sync::Arc};

use formats::{FormatError, Passage, PassageSource};
use tokio::sync::mpsc;

use super::RampConfig;
use crate::{
    RampError,
    lexicon::LexiconBuilder,
    spans::{Gazetteer, OfflineSpans, SpanKind},
};

/// Passages per step of the first pass. Fixed (not the run's batch size), because the lexicon
/// of a corpus with very many distinct words depends on where batches end.
const FIRST_PASS_BATCH: usize = 4096;

/// The first pass: every page title of the corpus (for titles) and its lexicon (for word
/// sources), over all shards so that shards agree. Skipped when no source needs it.
pub(super) fn first_pass(
    config: &RampConfig,
    source: &dyn PassageSource,
) -> Result<OfflineSpans, RampError> {
    let wants_titles = config.spans.contains(SpanKind::Title);
    let wants_lexicon = config.spans.has_word_source();
    if !wants_titles && !wants_lexicon {
        return Ok(OfflineSpans::new(
            config.spans.clone(),
            config.lang,
            None,
            None,
        ));
    }
    let mut titles = HashSet::new();
    let mut lexicon = LexiconBuilder::default();
    let mut texts: Vec<String> = Vec::with_capacity(FIRST_PASS_BATCH);
    for passage in source.open()? {
        let passage = match passage {
            Ok(p) => p,
            Err(FormatError::BadLine { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if wants_titles && !titles.contains(&passage.title) {
            titles.insert(passage.title);
        }
        if wants_lexicon {
            texts.push(passage.text);
            if texts.len() == FIRST_PASS_BATCH {
                lexicon.add_batch(&texts);
                texts.clear();
            }
        }
    }
    lexicon.add_batch(&texts);
    let gazetteer = if wants_titles {
        let mut titles: Vec<String> = titles.into_iter().collect();
        titles.sort_unstable();
        Some(Gazetteer::new(titles)?)
    } else {
        None
    };
    let lexicon = wants_lexicon.then(|| lexicon.finish());
    Ok(OfflineSpans::new(
        config.spans.clone(),
        config.lang,
        gazetteer,
        lexicon,
    ))
}

/// One batch as read: passages and bad lines, in input order.
pub(super) type Batch = Vec<Result<Passage, FormatError>>;

/// Reads `source` after its first `skip` records in batches of `batch_size`, on the runtime's
/// blocking pool, a couple of batches ahead of the consumer. An error opening the source ends
/// the stream after being sent; dropping the receiver stops the reader.
pub(super) fn read_batches(
    source: Arc<dyn PassageSource + Send>,
    skip: u64,
    batch_size: usize,
) -> mpsc::Receiver<Result<Batch, FormatError>> {
    let (send, batches) = mpsc::channel(2);
    let batch_size = batch_size.max(1);
    tokio::task::spawn_blocking(move || {
        let input = match source.open() {
            Ok(input) => input,
            Err(e) => {
                let _ = send.blocking_send(Err(e));
                return;
            }
        };
        let mut input = input.skip(usize::try_from(skip).unwrap_or(usize::MAX));
        loop {
            let batch: Batch = input.by_ref().take(batch_size).collect();
            if batch.is_empty() || send.blocking_send(Ok(batch)).is_err() {
                return;
            }
        }
    });
    batches
}
