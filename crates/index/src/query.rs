//! Querying an index: BM25 over title and text. A query is a bag of words unless the index was
//! opened with [`QueryMode::Syntax`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use formats::{FormatError, Passage, PassageSource, Passages};
use rayon::prelude::*;
use search::{SearchError, SearchHit, Searcher};
use tantivy::{
    DocAddress, Index, IndexReader, ReloadPolicy, Term,
    collector::TopDocs,
    query::{BooleanQuery, EmptyQuery, Occur, Query, QueryParser, TermQuery},
    schema::{
        Field, IndexRecordOption,
        document::{DeserializeError, DocumentDeserialize, DocumentDeserializer},
    },
    tokenizer::TextAnalyzer,
};

use crate::{
    IndexError, directory::QueryDirectory, impact::Impacts, meta::IndexMeta, schema::Fields,
};

/// How query strings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryMode {
    /// Every analysed word of the query, OR-ed over title and text: what pyserini's BM25 does
    /// with Search-R1 queries. No character is an operator, so a query written by a model can
    /// neither fail nor pick an expensive plan.
    #[default]
    Words,
    /// tantivy's query syntax (`"phrases"`, `title:x`, `+must`, `-not`, `/regex/`): for people
    /// who type queries. A query that does not parse is an [`SearchError::InvalidQuery`].
    Syntax,
}

/// An open BM25 index. Cheap to clone and share: searches run concurrently on one instance.
///
/// [`Bm25Index::query`] and [`Bm25Index::query_batch`] search on the calling thread; through
/// [`Searcher`] the work runs on the rayon pool while the async caller waits.
#[derive(Clone)]
pub struct Bm25Index {
    inner: Arc<Inner>,
    mode: QueryMode,
}

struct Inner {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    meta: IndexMeta,
    /// Built once; each query analyses with a clone (its stop-word set is shared).
    analyzer: TextAnalyzer,
    /// Bag-of-words queries are scored from these (absent only in a large index built before
    /// impact files).
    impacts: Option<Impacts>,
    /// Small enough that a query takes tens of microseconds.
    small: bool,
}

impl Bm25Index {
    /// Opens the index in `dir`, reading queries as bags of words.
    pub fn open(dir: &Path) -> Result<Bm25Index, IndexError> {
        let meta = IndexMeta::load(dir)?;
        let directory = QueryDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
        let index = Index::open(directory)?;
        meta.analyzer.register(&index);
        let fields = Fields::of(&index.schema())?;
        let small = docs_in(&index)? <= u64::from(crate::impact::MAX_DOCS);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            // A small index keeps its whole document store decompressed in memory.
            .doc_store_cache_num_blocks(if small { SMALL_STORE_CACHE_BLOCKS } else { 100 })
            .try_into()?;
        let parser = QueryParser::for_index(&index, vec![fields.title, fields.text]);
        let searcher = reader.searcher();
        let impacts = match Impacts::open(dir, &searcher)? {
            Some(impacts) => Some(impacts),
            // An index built before impact files: computed now if that is quick.
            None if small => Some(Impacts::compute(&searcher, [fields.title, fields.text])?),
            None => None,
        };
        let inner = Inner {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields,
            parser,
            analyzer: meta.analyzer.analyzer(),
            meta,
            impacts,
            small,
        };
        Ok(Bm25Index {
            inner: Arc::new(inner),
            mode: QueryMode::Words,
        })
    }

    /// Reads queries as `mode` says.
    pub fn with_query_mode(self, mode: QueryMode) -> Self {
        Bm25Index { mode, ..self }
    }

    pub fn meta(&self) -> &IndexMeta {
        &self.inner.meta
    }

    /// The best `k` hits for `query`, searched on this thread.
    pub fn query(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError> {
        self.inner.run(query, self.mode, k, true)
    }

    /// One hit list per query, in query order, searched in parallel on the rayon pool (this
    /// thread waits).
    pub fn query_batch(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        queries
            .par_iter()
            .map(|q| self.inner.run(q, self.mode, k, queries.len() == 1))
            .collect()
    }

    /// The passage stored under `id` (an exact match of the passage id), searched on this thread.
    pub fn passage(&self, id: &str) -> Result<Option<Passage>, SearchError> {
        let inner = &self.inner;
        let query = TermQuery::new(
            Term::from_field_text(inner.fields.id, id),
            IndexRecordOption::Basic,
        );
        let searcher = inner.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .map_err(|e| inner.backend_error(e))?;
        top.first()
            .map(|&(_, address)| {
                read_passage(&searcher, address, inner.fields).map_err(|e| inner.backend_error(e))
            })
            .transpose()
    }

    /// Whether bag-of-words queries are answered by the impact engine, as on every index this
    /// version builds. An index of more than 250k passages built before impact files is searched
    /// by tantivy's block-WAND instead, several times slower at a million passages (README,
    /// Performance), until it is built again.
    pub fn has_impacts(&self) -> bool {
        self.inner.impacts.is_some()
    }

    /// How many passages the index holds: positions run from 0 to this.
    pub fn len(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// Whether the index holds no passage.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The passages at `positions` (the order of [`Bm25Index::passages`], which a build makes
    /// the input's), read on this thread; an error names a position past the end.
    pub fn passages_at(&self, positions: &[u64]) -> Result<Vec<Passage>, SearchError> {
        let inner = &self.inner;
        let searcher = inner.reader.searcher();
        let sizes: Vec<u64> = searcher
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.max_doc()))
            .collect();
        positions
            .iter()
            .map(|&position| {
                let mut rest = position;
                let (segment, doc) = sizes
                    .iter()
                    .position(|&size| {
                        let here = rest < size;
                        if !here {
                            rest -= size;
                        }
                        here
                    })
                    .map(|segment| (segment as u32, rest as u32))
                    .ok_or_else(|| inner.backend_error(format!("no passage at {position}")))?;
                read_passage(&searcher, DocAddress::new(segment, doc), inner.fields)
                    .map_err(|e| inner.backend_error(e))
            })
            .collect()
    }

    /// Every passage stored in the index, segment by segment, streamed (anchors are not stored,
    /// so they come back empty). The order is the index's, not the original input's.
    pub fn passages(&self) -> impl Iterator<Item = Result<Passage, IndexError>> + Send + 'static {
        let searcher = self.inner.reader.searcher();
        let fields = self.inner.fields;
        let segments: Vec<(u32, u32)> = (0u32..)
            .zip(searcher.segment_readers())
            .map(|(ord, segment)| (ord, segment.max_doc()))
            .collect();
        segments.into_iter().flat_map(move |(ord, max_doc)| {
            let searcher = searcher.clone();
            (0..max_doc).filter_map(move |doc| {
                if searcher.segment_reader(ord).is_deleted(doc) {
                    return None;
                }
                let stored = read_passage(&searcher, DocAddress::new(ord, doc), fields);
                Some(stored.map_err(IndexError::from))
            })
        })
    }
}

impl Inner {
    fn query(&self, text: &str, mode: QueryMode) -> Result<Box<dyn Query>, SearchError> {
        match mode {
            QueryMode::Words => Ok(self.words(text)),
            QueryMode::Syntax => self
                .parser
                .parse_query(text)
                .map_err(|e| SearchError::InvalidQuery(e.to_string())),
        }
    }

    /// The analysed words of `text`, in order, repeats kept.
    fn terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }

    /// Every analysed term of `text`, OR-ed, over both fields.
    fn words(&self, text: &str) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in self.terms(text) {
            for field in [self.fields.title, self.fields.text] {
                let term = Term::from_field_text(field, &word);
                clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                ));
            }
        }
        if clauses.is_empty() {
            Box::new(EmptyQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        }
    }

    fn backend_error(&self, e: impl std::fmt::Display) -> SearchError {
        SearchError::Backend {
            backend: self.dir.display().to_string(),
            message: e.to_string(),
        }
    }

    /// A query searched `alone` (no other query of a batch beside it) may use every core.
    fn run(
        &self,
        text: &str,
        mode: QueryMode,
        k: usize,
        alone: bool,
    ) -> Result<Vec<SearchHit>, SearchError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        self.top(&searcher, text, mode, k, alone)?
            .into_iter()
            .map(|(score, address)| {
                Ok(SearchHit {
                    passage: read_passage(&searcher, address, self.fields)
                        .map_err(|e| self.backend_error(e))?,
                    score: f64::from(score),
                })
            })
            .collect()
    }

    /// The best `k` documents: from the precomputed impacts for words, else through tantivy.
    fn top(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
        mode: QueryMode,
        k: usize,
        alone: bool,
    ) -> Result<Vec<(f32, DocAddress)>, SearchError> {
        match (&self.impacts, mode) {
            (Some(impacts), QueryMode::Words) => {
                let terms = self.terms(text);
                Ok(impacts.top(terms.iter().map(|t| t.as_bytes()), k, alone))
            }
            _ => self.collect(searcher, &*self.query(text, mode)?, k),
        }
    }

    fn collect(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        k: usize,
    ) -> Result<Vec<(f32, DocAddress)>, SearchError> {
        searcher
            .search(query, &TopDocs::with_limit(k).order_by_score())
            .map_err(|e| self.backend_error(e))
    }
}

/// Decompressed store blocks kept when the index is small: 16 KiB each, so at most 64 MiB — the
/// whole store of ~90,000 Wikipedia-sized passages, the most recently read blocks beyond.
const SMALL_STORE_CACHE_BLOCKS: usize = 4096;

/// Documents in the index's segments, deleted ones included.
fn docs_in(index: &Index) -> tantivy::Result<u64> {
    Ok(index
        .searchable_segment_metas()?
        .iter()
        .map(|s| u64::from(s.max_doc()))
        .sum())
}

/// The stored document at `address` as a passage.
fn read_passage(
    searcher: &tantivy::Searcher,
    address: DocAddress,
    fields: Fields,
) -> tantivy::Result<Passage> {
    let StoredFields(mut stored) = searcher.doc(address)?;
    let mut take = |field| {
        stored
            .iter_mut()
            .find(|(f, _)| *f == field)
            .map(|(_, value)| std::mem::take(value))
    };
    let mut passage = Passage::new(
        take(fields.id).unwrap_or_default(),
        take(fields.title).unwrap_or_default(),
        take(fields.text).unwrap_or_default(),
    );
    passage.original_contents = fields.contents.and_then(take);
    Ok(passage)
}

/// A stored document's fields, read straight into strings that become the passage's: a
/// `TantivyDocument` would be built first and its strings copied out (every stored field of
/// this schema is text).
struct StoredFields(Vec<(Field, String)>);

impl DocumentDeserialize for StoredFields {
    fn deserialize<'de, D: DocumentDeserializer<'de>>(
        mut document: D,
    ) -> Result<Self, DeserializeError> {
        let mut fields = Vec::with_capacity(document.size_hint());
        while let Some(field) = document.next_field::<String>()? {
            fields.push(field);
        }
        Ok(StoredFields(fields))
    }
}

/// At most this many queries on an eager-scored index are searched without leaving the
/// caller's thread.
const INLINE_QUERIES: usize = 4;

#[async_trait::async_trait]
impl Searcher for Bm25Index {
    fn name(&self) -> String {
        format!("bm25:{}", self.inner.dir.display())
    }

    /// Searches on the rayon pool; the async caller only awaits the answer. A few queries on
    /// an eager-scored index (tens of microseconds each) are answered on the caller's thread:
    /// handing them to the pool and back would take longer than the search.
    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        if self.inner.small && self.inner.impacts.is_some() && queries.len() <= INLINE_QUERIES {
            return queries
                .iter()
                .map(|q| self.inner.run(q, self.mode, k, false))
                .collect();
        }
        let (this, queries) = (self.clone(), queries.to_vec());
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            let _ = tx.send(this.query_batch(&queries, k));
        });
        rx.await
            .map_err(|_| self.inner.backend_error("the search task stopped"))?
    }

    async fn passage(&self, id: &str) -> Result<Option<Passage>, SearchError> {
        Bm25Index::passage(self, id)
    }
}

/// An index as a RAMP (or any) passage input.
impl PassageSource for Bm25Index {
    fn name(&self) -> String {
        self.inner.dir.display().to_string()
    }

    fn open(&self) -> Result<Passages<'_>, FormatError> {
        let store = PassageSource::name(self);
        Ok(Box::new(self.passages().map(move |p| {
            p.map_err(|e| FormatError::Store {
                store: store.clone(),
                error: Box::new(e),
            })
        })))
    }
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Bm25Index")
            .field("dir", &inner.dir)
            .field("meta", &inner.meta)
            .field("mode", &self.mode)
            .field(
                "impact_postings",
                &inner.impacts.as_ref().map(Impacts::postings),
            )
            .field(
                "segments",
                &inner.index.searchable_segment_ids().map(|s| s.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        BuildConfig, build,
        fixtures::{passage, small_index, wiki18_sample},
    };

    /// The eager-scored engine ranks as tantivy's `BooleanQuery` does: same documents, same
    /// order, scores equal but for the order in which floats were added.
    #[test]
    fn impacts_rank_as_tantivy_does() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        let passages = wiki18_sample();
        build(
            &dir,
            passages.iter().cloned().map(Ok::<_, std::io::Error>),
            // Two indexing threads write two segments, merged at the end.
            &BuildConfig {
                threads: 2,
                ..BuildConfig::default()
            },
            |_| {},
        )
        .unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        let inner = &index.inner;
        assert!(
            inner
                .impacts
                .as_ref()
                .is_some_and(|i| i.postings() > 10_000)
        );
        let searcher = inner.reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1, "a build ends merged");
        let (mut compared, mut swapped) = (0, 0);
        for p in passages.iter().step_by(7) {
            // A title and the first words of the text: repeated words, stop words, rare words.
            let words: Vec<&str> = p
                .title
                .split_whitespace()
                .chain(p.text.split_whitespace())
                .take(12)
                .collect();
            let query = words.join(" ");
            let ours = inner
                .top(&searcher, &query, QueryMode::Words, 10, false)
                .unwrap();
            let theirs = inner.collect(&searcher, &*inner.words(&query), 10).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{query}");
            for (a, b) in ours.iter().zip(&theirs) {
                // A document out of place is one whose score ties within float rounding.
                assert!(
                    (a.0 - b.0).abs() <= 1e-5 * b.0,
                    "{query}: {ours:?} vs {theirs:?}"
                );
                swapped += usize::from(a.1 != b.1);
            }
            compared += 1;
        }
        assert!(
            swapped * 50 < compared * 10,
            "{swapped} of {compared} lists"
        );
        assert!(compared > 100);
    }

    /// The impact file is trusted only when it belongs to the index beside it: missing (an index
    /// built before the file) or made from other segments, it is computed at open and the
    /// answers are the same; damaged, opening fails naming it.
    #[test]
    fn an_impact_file_is_used_only_when_it_belongs_to_its_index() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, other) = (tmp.path().join("idx"), tmp.path().join("other"));
        let passages = wiki18_sample();
        let config = BuildConfig::default();
        let ok = |p: &Passage| Ok::<_, std::io::Error>(p.clone());
        build(&dir, passages[..500].iter().map(ok), &config, |_| {}).unwrap();
        build(&other, passages[500..].iter().map(ok), &config, |_| {}).unwrap();
        let queries: Vec<String> = passages[..500]
            .iter()
            .step_by(25)
            .map(|p| {
                p.text
                    .split_whitespace()
                    .take(10)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let answers = |index: &Bm25Index| -> Vec<Vec<(String, f64)>> {
            let hits = index.query_batch(&queries, 5).unwrap();
            hits.into_iter()
                .map(|h| h.into_iter().map(|h| (h.passage.id, h.score)).collect())
                .collect()
        };
        let expected = answers(&Bm25Index::open(&dir).unwrap());
        assert!(expected.iter().all(|hits| hits.len() == 5));

        let file = dir.join(crate::impact::FILE);
        std::fs::remove_file(&file).unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        assert!(index.inner.impacts.is_some(), "computed at open");
        assert_eq!(answers(&index), expected, "without the file");

        std::fs::copy(other.join(crate::impact::FILE), &file).unwrap();
        let searcher = index.inner.reader.searcher();
        assert!(
            Impacts::open(&dir, &searcher).unwrap().is_none(),
            "another index's file is not used"
        );
        assert_eq!(
            answers(&Bm25Index::open(&dir).unwrap()),
            expected,
            "beside another's file"
        );

        std::fs::write(&file, b"not an impact file").unwrap();
        let error = Bm25Index::open(&dir).unwrap_err().to_string();
        assert!(error.contains("impacts.bin"), "{error}");
    }

    /// Above the small size, an index without its impact file (built before the file existed)
    /// opens and answers through tantivy, and says that it does so; built with it, it does not.
    #[test]
    fn a_large_index_without_its_impact_file_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        let words = ["nave", "dome", "apse", "choir", "crypt", "spire", "aisle"];
        let passages = (0..=crate::impact::MAX_DOCS as usize).map(|i| {
            let text = format!("{} {}", words[i % 7], words[i / 7 % 7]);
            Ok::<_, std::io::Error>(Passage::new(i.to_string(), String::new(), text))
        });
        build(&dir, passages, &BuildConfig::default(), |_| {}).unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        assert!(index.has_impacts());
        let expected = index.query("crypt spire", 3).unwrap();

        std::fs::remove_file(dir.join(crate::impact::FILE)).unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        assert!(!index.has_impacts(), "too large to compute at open");
        let hits = index.query("crypt spire", 3).unwrap();
        let ids = |hits: &[SearchHit]| {
            hits.iter()
                .map(|h| h.passage.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&hits), ids(&expected), "same answers through tantivy");
    }

    /// Equal scores, more of them than k: the lowest document addresses win, in order, at every
    /// k — as tantivy's `TopDocs` decides.
    #[test]
    fn ties_go_to_the_lower_document_as_in_tantivy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        // "alpha beta" reaches the second passage first, then ties the first with it.
        let crossed = [
            passage("b", "Pair", "beta gamma"),
            passage("a", "Pair", "alpha gamma"),
        ];
        let twins = (0..6).map(|i| passage(&i.to_string(), "Dome", "A dome over a nave."));
        let other = passage(
            "6",
            "Nave",
            "The nave of a church, and a dome above the nave.",
        );
        let passages = crossed.into_iter().chain(twins).chain([other]);
        build(&dir, passages, &BuildConfig::default(), |_| {}).unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        let inner = &index.inner;
        assert!(inner.impacts.is_some());
        let searcher = inner.reader.searcher();
        for k in 1..=7 {
            // The last query reaches every document, then some again.
            for query in ["dome", "nave dome", "alpha beta", "pair dome gamma nave"] {
                let ours = inner
                    .top(&searcher, query, QueryMode::Words, k, false)
                    .unwrap();
                let theirs = inner.collect(&searcher, &*inner.words(query), k).unwrap();
                let addresses =
                    |top: &[(f32, DocAddress)]| top.iter().map(|t| t.1).collect::<Vec<_>>();
                assert_eq!(addresses(&ours), addresses(&theirs), "{query:?}, k = {k}");
            }
        }
    }

    #[test]
    fn looks_passages_up_by_exact_id() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        assert_eq!(index.passage("1").unwrap().unwrap().title, "Milan");
        assert_eq!(index.passage("3").unwrap(), None);
        assert_eq!(
            index.passage("milan").unwrap(),
            None,
            "ids are not analysed"
        );
    }

    #[test]
    fn ranks_the_matching_passage_first() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        let hits = index.query("Pavia cathedral dome", 3).unwrap();
        assert_eq!(hits[0].passage.id, "0");
        assert_eq!(hits[0].passage.title, "Pavia Cathedral");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(index.meta().passages, 3);
    }

    fn ids(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.passage.id.as_str()).collect()
    }

    #[test]
    fn queries_are_bags_of_words_by_default() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        for q in [
            "",
            "title:",
            "((Milan",
            "\"unclosed",
            "AND OR NOT",
            "+-^~*:",
            "\u{0}\u{fffd}",
        ] {
            let hits = index.query(q, 5).unwrap_or_else(|e| panic!("{q:?}: {e}"));
            assert!(hits.len() <= 3, "{q:?}");
        }
        let check = |q: &str, expect: &[&str]| {
            let hits = index.query(q, 5).unwrap();
            assert_eq!(ids(&hits), expect, "{q:?}");
        };
        check("((Milan", &["1"]);
        // Operators are words here: `-`, `NOT`, quotes and `title:` exclude or restrict nothing.
        check("Milan -Lombardy", &["1"]);
        check("dome AND NOT Pavia", &["0", "2"]);
        check("title:Dome", &["2", "0"]);
        check("\"Milan\"", &["1"]);
        // `*` and a regex are not wildcards: nothing is indexed as "*".
        check("*", &[]);
        check("title:/M.*a/", &[]);
        check("the of a", &[]);
    }

    #[test]
    fn query_syntax_is_an_opt_in() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx")).with_query_mode(QueryMode::Syntax);
        assert_eq!(ids(&index.query("title:milan", 5).unwrap()), ["1"]);
        assert_eq!(ids(&index.query("dome -pavia", 5).unwrap()), ["2"]);
        let err = index.query("((Milan", 5).unwrap_err();
        assert!(matches!(err, SearchError::InvalidQuery(_)), "{err}");
    }

    #[test]
    fn original_contents_are_stored_and_returned() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        let passages = [
            Ok::<_, std::io::Error>(Passage::from_contents("0", "Unquoted\nA body about domes.")),
            Ok(Passage::from_contents(
                "1",
                "\"Quoted\"\nA body about arches.",
            )),
        ];
        build(&dir, passages, &BuildConfig::default(), |_| {}).unwrap();
        let index = Bm25Index::open(&dir).unwrap();
        let hit = &index.query("domes", 1).unwrap()[0];
        assert_eq!(hit.passage.contents(), "Unquoted\nA body about domes.");
        let hit = &index.query("arches", 1).unwrap()[0];
        assert_eq!(hit.passage.original_contents, None);
        assert_eq!(hit.passage.contents(), "\"Quoted\"\nA body about arches.");
    }

    #[test]
    fn passages_reads_back_every_stored_passage() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        let mut back: Vec<Passage> = index.passages().collect::<Result<_, _>>().unwrap();
        back.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<&str> = back.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "2"]);
        assert_eq!(back[1].title, "Milan");
        assert_eq!(
            back[1].text,
            "Milan is a city in northern Italy, capital of Lombardy."
        );
    }

    #[test]
    fn batch_keeps_query_order_and_k() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        let queries = vec![
            "Milan Lombardy".to_string(),
            "sphere".to_string(),
            "zzz".to_string(),
        ];
        let results = index.query_batch(&queries, 1).unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0][0].passage.id, "1");
        assert_eq!(results[1][0].passage.id, "2");
        assert!(results[2].is_empty());
        assert!(index.query("Milan", 0).unwrap().is_empty());
    }

    /// A few queries are answered on the caller's thread, more on the rayon pool: either way
    /// what `query_batch` answers.
    #[tokio::test]
    async fn batch_search_answers_alike_inline_and_on_the_pool() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        let queries = [
            "dome",
            "Milan capital",
            "cathedral of Pavia",
            "sphere",
            "Italy",
        ]
        .map(String::from);
        let ranked = |lists: Vec<Vec<SearchHit>>| {
            lists
                .into_iter()
                .map(|hits| {
                    hits.into_iter()
                        .map(|h| (h.passage.id, h.score))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        assert!(queries.len() > INLINE_QUERIES);
        for n in [1, INLINE_QUERIES, queries.len()] {
            let asked = &queries[..n];
            let searched = Searcher::batch_search(&index, asked, 2).await.unwrap();
            assert_eq!(
                ranked(searched),
                ranked(index.query_batch(asked, 2).unwrap())
            );
        }
    }

    #[test]
    fn open_rejects_a_directory_that_is_not_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Bm25Index::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a masksearch index"), "{err}");
    }
}
