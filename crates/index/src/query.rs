//! Querying an index: BM25 over title and text, any query string accepted.

use std::path::Path;

use formats::Passage;
use rayon::prelude::*;
use search::{SearchError, SearchHit, Searcher};
use tantivy::{
    DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument, Term,
    collector::TopDocs,
    query::{BooleanQuery, EmptyQuery, Occur, Query, QueryParser, TermQuery},
    schema::{IndexRecordOption, Value},
};

use crate::{
    IndexError,
    build::{Fields, schema},
    meta::IndexMeta,
};

/// An open BM25 index. Cheap to share: searches run concurrently on one instance.
pub struct Bm25Index {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    meta: IndexMeta,
}

impl Bm25Index {
    pub fn open(dir: &Path) -> Result<Bm25Index, IndexError> {
        let meta = IndexMeta::load(dir)?;
        let index = Index::open_in_dir(dir)?;
        meta.language.register(&index);
        let (_, fields) = schema(meta.language);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let parser = QueryParser::for_index(&index, vec![fields.title, fields.text]);
        Ok(Bm25Index {
            index,
            reader,
            fields,
            parser,
            meta,
        })
    }

    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    /// The query for `text`: tantivy query syntax when it parses (phrases, `title:`, `+must`),
    /// otherwise every analysed term of the text, OR-ed, over both fields.
    fn query(&self, text: &str) -> Box<dyn Query> {
        self.parser
            .parse_query(text)
            .unwrap_or_else(|_| self.plain_terms(text))
    }

    fn plain_terms(&self, text: &str) -> Box<dyn Query> {
        let mut analyzer = self.meta.language.analyzer();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            for field in [self.fields.title, self.fields.text] {
                let term = Term::from_field_text(field, &token.text);
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

    fn run(&self, text: &str, k: usize) -> tantivy::Result<Vec<SearchHit>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&*self.query(text), &TopDocs::with_limit(k).order_by_score())?;
        top.into_iter()
            .map(|(score, address)| {
                let p = stored_passage(&searcher.doc(address)?, self.fields);
                Ok(SearchHit {
                    id: p.id,
                    title: p.title,
                    text: p.text,
                    score,
                })
            })
            .collect()
    }

    /// Every passage stored in the index, segment by segment, streamed (anchors are not stored,
    /// so they come back empty). The order is the index's, not the original input's.
    pub fn passages(&self) -> impl Iterator<Item = Result<Passage, IndexError>> + Send + 'static {
        let searcher = self.reader.searcher();
        let fields = self.fields;
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
                let stored = searcher.doc::<TantivyDocument>(DocAddress::new(ord, doc));
                Some(
                    stored
                        .map(|d| stored_passage(&d, fields))
                        .map_err(IndexError::from),
                )
            })
        })
    }
}

/// The stored fields of a document as a passage.
fn stored_passage(doc: &TantivyDocument, fields: Fields) -> Passage {
    let field = |f| {
        doc.get_first(f)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Passage {
        id: field(fields.id),
        title: field(fields.title),
        text: field(fields.text),
        anchors: Vec::new(),
    }
}

impl Searcher for Bm25Index {
    fn search(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError> {
        self.run(query, k)
            .map_err(|e| SearchError::Backend(e.to_string()))
    }

    /// Searches the queries in parallel on the rayon pool.
    fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        queries.par_iter().map(|q| self.search(q, k)).collect()
    }
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("meta", &self.meta)
            .field(
                "segments",
                &self.index.searchable_segment_ids().map(|s| s.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuildConfig, Language, build};

    fn passage(id: &str, title: &str, text: &str) -> Passage {
        Passage {
            id: id.into(),
            title: title.into(),
            text: text.into(),
            anchors: vec![],
        }
    }

    fn small_index(dir: &Path) -> Bm25Index {
        let passages = vec![
            passage(
                "0",
                "Pavia Cathedral",
                "The cathedral of Pavia has one of the largest domes in Italy.",
            ),
            passage(
                "1",
                "Milan",
                "Milan is a city in northern Italy, capital of Lombardy.",
            ),
            passage(
                "2",
                "Dome",
                "A dome is an architectural element resembling the upper half of a sphere.",
            ),
        ];
        build(dir, passages.into_iter(), &BuildConfig::default(), |_| {}).unwrap();
        Bm25Index::open(dir).unwrap()
    }

    #[test]
    fn ranks_the_matching_passage_first() {
        let tmp = tempfile::tempdir().unwrap();
        let index = small_index(&tmp.path().join("idx"));
        let hits = index.search("Pavia cathedral dome", 3).unwrap();
        assert_eq!(hits[0].id, "0");
        assert_eq!(hits[0].title, "Pavia Cathedral");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(index.meta().passages, 3);
    }

    #[test]
    fn any_query_string_is_answered() {
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
            "city -",
        ] {
            let hits = index.search(q, 5).unwrap_or_else(|e| panic!("{q:?}: {e}"));
            assert!(hits.len() <= 3, "{q:?}");
        }
        let hits = index.search("((Milan", 5).unwrap();
        assert_eq!(hits[0].id, "1", "syntax error falls back to plain terms");
        assert!(
            index.search("the of a", 5).unwrap().is_empty(),
            "stop words only"
        );
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
        let results = index.batch_search(&queries, 1).unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0][0].id, "1");
        assert_eq!(results[1][0].id, "2");
        assert!(results[2].is_empty());
        assert!(index.search("Milan", 0).unwrap().is_empty());
    }

    #[test]
    fn refuses_to_overwrite_unless_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        small_index(&dir);
        let again = build(&dir, std::iter::empty(), &BuildConfig::default(), |_| {});
        assert!(again.unwrap_err().to_string().contains("--overwrite"));
        let config = BuildConfig {
            overwrite: true,
            language: Language::Plain,
            ..BuildConfig::default()
        };
        let report = build(
            &dir,
            std::iter::once(passage("x", "Hà Nội", "thủ đô")),
            &config,
            |_| {},
        )
        .unwrap();
        assert_eq!(report.passages, 1);
        let index = Bm25Index::open(&dir).unwrap();
        assert_eq!(index.search("hà nội", 1).unwrap()[0].id, "x");
    }

    #[test]
    fn open_rejects_a_directory_that_is_not_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Bm25Index::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a masksearch index"), "{err}");
    }
}
