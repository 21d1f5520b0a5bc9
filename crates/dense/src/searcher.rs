//! The dense and hybrid [`Searcher`]s.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use index::Bm25Index;
use search::{SearchError, SearchHit, Searcher};

use crate::{DENSE_DIR, DenseError, DenseMeta, Encoder, Graph, Scored, Tuning, Vectors, graph};

/// An index's dense vectors, its encoder and its passages: searched by the rows nearest a
/// query's vector. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DenseIndex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    bm25: Bm25Index,
    meta: DenseMeta,
    vectors: Vectors,
    /// Searched instead of scanning every row when the build made it.
    graph: Option<Graph>,
    encoder: Encoder,
}

impl DenseIndex {
    /// The dense vectors of the index `bm25` opened from `dir`, their HNSW graph if they have
    /// one (searched as `tuning` says), and the encoder they were made with; refused when they
    /// are of another build of the index, or the graph is not theirs.
    pub fn open(dir: &Path, bm25: Bm25Index, tuning: Tuning) -> Result<DenseIndex, DenseError> {
        let dense = dir.join(DENSE_DIR);
        if !DenseMeta::path(&dense).exists() {
            return Err(DenseError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        let meta = DenseMeta::load(&dense)?;
        if meta.count != bm25.len() {
            return Err(DenseError::Stale {
                dir: dir.to_path_buf(),
                message: format!("{} rows, {} passages", meta.count, bm25.len()),
            });
        }
        let vectors = Vectors::open(&dense, meta.storage, meta.dim, meta.count)?;
        // A graph that is not the rows' is refused rather than scanned around: at wiki-18's
        // size the scan takes seconds a query, which a server should not slip into unseen.
        let graph = match meta.graph {
            Some(params) => {
                let params = tuning.apply(params, &dense.join(graph::GRAPH_FILE))?;
                Some(Graph::open(&dense, &params, &vectors)?)
            }
            None if tuning != Tuning::default() => {
                return Err(DenseError::Graph {
                    path: dense.join(graph::GRAPH_FILE),
                    message: "no graph to tune: the vectors are scanned whole".into(),
                });
            }
            None => None,
        };
        if !meta.model.is_dir() {
            return Err(DenseError::ModelMoved {
                meta: DenseMeta::path(&dense),
                model: meta.model,
            });
        }
        let encoder = Encoder::load(&meta.model)?;
        if encoder.dim() != meta.dim {
            return Err(DenseError::model(
                &meta.model,
                format!("makes {} values, the rows have {}", encoder.dim(), meta.dim),
            ));
        }
        Ok(DenseIndex {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                bm25,
                meta,
                vectors,
                graph,
                encoder,
            }),
        })
    }

    pub fn meta(&self) -> &DenseMeta {
        &self.inner.meta
    }

    /// The best `k` passages for each query: encoded on the rayon pool, then searched one by one
    /// on this thread (the scan itself on the rayon pool).
    pub fn query_batch(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let inner = &self.inner;
        let failed = |e: DenseError| SearchError::Backend {
            backend: self.name(),
            message: e.to_string(),
        };
        let texts: Vec<String> = queries
            .iter()
            .map(|q| format!("{}{q}", inner.meta.query_prefix))
            .collect();
        // As the index's passages were: shortest to longest, batches side by side.
        let vectors = inner.encoder.encode_sorted(&texts, 32).map_err(failed)?;
        let mut lists = Vec::with_capacity(queries.len());
        for vector in vectors {
            let nearest = self.nearest(&vector, k).map_err(failed)?;
            let positions: Vec<u64> = nearest.iter().map(|s| s.position).collect();
            let passages = inner.bm25.passages_at(&positions)?;
            lists.push(
                passages
                    .into_iter()
                    .zip(&nearest)
                    .map(|(passage, s)| SearchHit {
                        passage,
                        score: f64::from(s.score),
                    })
                    .collect(),
            );
        }
        Ok(lists)
    }

    /// The `k` rows nearest `vector`: those the graph finds, or the exact scan's.
    fn nearest(&self, vector: &[f32], k: usize) -> Result<Vec<Scored>, DenseError> {
        let inner = &self.inner;
        match &inner.graph {
            Some(graph) => graph.nearest(&inner.vectors, vector, k),
            None => Ok(inner.vectors.nearest(vector, k)),
        }
    }

    fn name(&self) -> String {
        format!("dense:{}", self.inner.dir.display())
    }
}

/// Runs `work` on a blocking thread while the async caller waits.
async fn off_runtime<T: Send + 'static>(
    name: String,
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SearchError::Backend {
            backend: name,
            message: format!("the search task stopped: {e}"),
        })?
}

#[async_trait::async_trait]
impl Searcher for DenseIndex {
    fn name(&self) -> String {
        DenseIndex::name(self)
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let (this, queries) = (self.clone(), queries.to_vec());
        off_runtime(self.name(), move || this.query_batch(&queries, k)).await
    }

    async fn passage(&self, id: &str) -> Result<Option<formats::Passage>, SearchError> {
        self.inner.bm25.passage(id)
    }
}

/// How the BM25 and the dense lists are fused: a passage scores `(1 − w) / (k + r_bm25) +
/// w / (k + r_dense)` by its ranks `r` (from 1) in the two lists, each `depth` long; a passage
/// missing from a list gets nothing from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    pub k: f64,
    /// The dense list's weight `w`, from 0 (BM25 alone) to 1 (dense alone).
    pub dense_weight: f64,
    /// How many of each list are fused (at least the hits asked for).
    pub depth: usize,
}

impl Default for Fusion {
    /// Reciprocal-rank fusion as Cormack et al. define it (k = 60), the two lists weighed alike.
    fn default() -> Self {
        Fusion {
            k: 60.0,
            dense_weight: 0.5,
            depth: 50,
        }
    }
}

impl Fusion {
    /// The fused list of the best `k` hits; ties keep the BM25 list's order, then the dense one's.
    pub fn fuse(&self, bm25: Vec<SearchHit>, dense: Vec<SearchHit>, k: usize) -> Vec<SearchHit> {
        let mut fused: Vec<(f64, usize, SearchHit)> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let lists = [(bm25, 1.0 - self.dense_weight), (dense, self.dense_weight)];
        for (list, weight) in lists {
            for (rank, hit) in list.into_iter().enumerate() {
                let score = weight / (self.k + rank as f64 + 1.0);
                match at.get(&hit.passage.id) {
                    Some(&i) => fused[i].0 += score,
                    None => {
                        at.insert(hit.passage.id.clone(), fused.len());
                        fused.push((score, fused.len(), hit));
                    }
                }
            }
        }
        fused.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        fused
            .into_iter()
            .take(k)
            .map(|(score, _, hit)| SearchHit { score, ..hit })
            .collect()
    }
}

/// BM25 and dense search of one index, fused by reciprocal rank.
#[derive(Clone, Debug)]
pub struct Hybrid {
    bm25: Bm25Index,
    dense: DenseIndex,
    fusion: Fusion,
}

impl Hybrid {
    pub fn new(bm25: Bm25Index, dense: DenseIndex, fusion: Fusion) -> Hybrid {
        Hybrid {
            bm25,
            dense,
            fusion,
        }
    }

    /// The fused best `k` for each query, searched on this thread.
    pub fn query_batch(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let depth = self.fusion.depth.max(k);
        let (bm25, dense) = rayon::join(
            || self.bm25.query_batch(queries, depth),
            || self.dense.query_batch(queries, depth),
        );
        Ok(bm25?
            .into_iter()
            .zip(dense?)
            .map(|(b, d)| self.fusion.fuse(b, d, k))
            .collect())
    }
}

#[async_trait::async_trait]
impl Searcher for Hybrid {
    fn name(&self) -> String {
        format!("hybrid:{}", self.dense.inner.dir.display())
    }

    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        let (this, queries) = (self.clone(), queries.to_vec());
        off_runtime(self.name(), move || this.query_batch(&queries, k)).await
    }

    async fn passage(&self, id: &str) -> Result<Option<formats::Passage>, SearchError> {
        self.bm25.passage(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::Passage;

    fn hits(ids: &[&str]) -> Vec<SearchHit> {
        ids.iter()
            .map(|id| SearchHit {
                passage: Passage {
                    id: id.to_string(),
                    title: String::new(),
                    text: String::new(),
                    anchors: Vec::new(),
                    original_contents: None,
                },
                score: 0.0,
            })
            .collect()
    }

    fn ids(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.passage.id.as_str()).collect()
    }

    #[test]
    fn a_passage_high_in_both_lists_wins_and_ties_keep_bm25_order() {
        let fusion = Fusion::default();
        let fused = fusion.fuse(hits(&["a", "b", "c"]), hits(&["c", "d", "a"]), 4);
        // a: 1/61 + 1/63, c: 1/63 + 1/61 (a tie, a first in BM25), b: 1/62, d: 1/62.
        assert_eq!(ids(&fused), ["a", "c", "b", "d"]);
        let expect = 0.5 / 61.0 + 0.5 / 63.0;
        assert!((fused[0].score - expect).abs() < 1e-12);
    }

    #[test]
    fn the_weight_runs_from_bm25_alone_to_dense_alone() {
        let only = |w: f64| Fusion {
            dense_weight: w,
            ..Fusion::default()
        };
        let (b, d) = (hits(&["a", "b"]), hits(&["b", "c"]));
        assert_eq!(ids(&only(0.0).fuse(b.clone(), d.clone(), 2)), ["a", "b"]);
        assert_eq!(ids(&only(1.0).fuse(b, d, 2)), ["b", "c"]);
    }
}
