//! The approximate index over the rows: an HNSW graph (usearch) of the rows' own stored values,
//! saved as `graph.usearch` beside them and memory-mapped, so that a query visits a few thousand
//! rows instead of all. A hit's score is the cosine the graph computes with the row's stored
//! values: the exact scan's, up to the storage's rounding.
//!
//! The graph keeps its own copy of the vectors, in the rows' storage type, so that a query reads
//! the graph alone: a server holds the graph in memory, not the rows as well. It is given the
//! rows' stored values (not f32 for it to quantise again): its i8 keep the rows' per-row scale,
//! where usearch's own f32 → i8 cast scales by the vector's norm and leaves a unit vector of 384
//! values about 13 levels of 255.
//!
//! A reduced graph ([`Reduced`]) holds instead the rows' leading principal components in f16
//! ([`Projection`]): e5's rows of wiki-18 take 13.9 GB as 256 components with their links, where
//! the rows' own i8 values and links take 19.3 GB. It proposes candidates, and the rows' own
//! values, mapped from `vectors.bin`, score and order them: a hit's score is then the exact
//! scan's. A server holds the graph in memory and reads a few rows a query from the rows' file.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::{
    DenseError, Phase, Scored, Storage, Vectors,
    projection::{PROJECTION_FILE, Projection},
};

/// The graph's file in a dense folder.
pub(crate) const GRAPH_FILE: &str = "graph.usearch";

/// How a graph is built and searched; `dense/meta.json` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GraphParams {
    /// Links a node keeps per layer (HNSW's M; twice as many in the bottom layer).
    pub connectivity: usize,
    /// Candidates kept while linking a new node (HNSW's efConstruction).
    pub ef_construction: usize,
    /// Candidates kept while searching (HNSW's ef): more finds more of the exact top k, slower.
    /// At least the hits asked for are kept.
    pub ef_search: usize,
    /// Nodes hold the rows' leading principal components, not their own values; `None`: the
    /// rows' values, in the rows' storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduced: Option<Reduced>,
}

/// A graph of the rows' principal components, whose candidates the rows' own values order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reduced {
    /// Components a node holds (f16), fewer than the rows' values.
    pub dims: usize,
    /// Candidates the graph finds for the rows' values to order (at least the hits asked for).
    pub rerank: usize,
}

impl Default for GraphParams {
    /// HNSW's usual M and efConstruction; ef 512 finds 99.6 % of the exact top 10 of 1M
    /// synthetic vectors near a 32-dimensional subspace (ef 256: 97.4 %) in 5.7 ms (p50, one
    /// thread), and the demo's MiniLM vectors' at 99.5 % or more (README, Dense and hybrid
    /// retrieval).
    fn default() -> Self {
        GraphParams {
            connectivity: 16,
            ef_construction: 128,
            ef_search: 512,
            reduced: None,
        }
    }
}

/// What a reader may change of a built graph's search (`serve --hnsw-ef`, `--hnsw-rerank`):
/// more candidates find more of the exact top k, slower.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// HNSW's ef, instead of the build's.
    pub ef_search: Option<usize>,
    /// A reduced graph's candidates, instead of the build's.
    pub rerank: Option<usize>,
}

impl Tuning {
    /// `params` searched as this tuning says; refused when it changes what `params` do not have.
    pub(crate) fn apply(self, params: GraphParams, path: &Path) -> Result<GraphParams, DenseError> {
        let reduced = match (params.reduced, self.rerank) {
            (Some(reduced), rerank) => Some(Reduced {
                rerank: rerank.unwrap_or(reduced.rerank),
                ..reduced
            }),
            (None, Some(_)) => {
                return Err(failed(
                    path,
                    "candidates to rerank are a reduced graph's (`index --hnsw-dims`), and this \
                     graph holds the rows' own values",
                ));
            }
            (None, None) => None,
        };
        Ok(GraphParams {
            ef_search: self.ef_search.unwrap_or(params.ef_search),
            reduced,
            ..params
        })
    }
}

/// Rows added between two progress reports.
const BUILD_CHUNK: usize = 8192;

/// Rows whose stored vector an opened graph compares with its own, spread over the positions.
const CHECKED_ROWS: usize = 8;

/// An HNSW graph of a dense folder's rows, mapped.
pub struct Graph {
    path: PathBuf,
    index: Index,
    storage: Storage,
    /// A reduced graph's components, queries projected on them.
    projection: Option<Projection>,
    /// Candidates ordered by the rows' own values (0: the graph's own order, not reduced).
    rerank: usize,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("size", &self.index.size())
            .field("ef_search", &self.index.expansion_search())
            .finish()
    }
}

fn options(dim: usize, storage: Storage, params: &GraphParams) -> IndexOptions {
    let (dimensions, metric, quantization) = match params.reduced {
        // Euclidean: the mean the components are taken from cancels (see `projection`).
        Some(reduced) => (reduced.dims, MetricKind::L2sq, ScalarKind::F16),
        None => (
            dim,
            MetricKind::Cos,
            match storage {
                Storage::F32 => ScalarKind::F32,
                Storage::F16 => ScalarKind::F16,
                Storage::I8 => ScalarKind::I8,
            },
        ),
    };
    IndexOptions {
        dimensions,
        metric,
        quantization,
        connectivity: params.connectivity,
        expansion_add: params.ef_construction,
        expansion_search: params.ef_search,
        multi: false,
    }
}

fn failed(path: &Path, e: impl std::fmt::Display) -> DenseError {
    DenseError::Graph {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Usearch takes paths as UTF-8.
fn utf8(path: &Path) -> Result<&str, DenseError> {
    path.to_str()
        .ok_or_else(|| failed(path, "the path is not UTF-8"))
}

/// Row `i` of `vectors` as its node holds it: projected, or its values (f16 ones widened to
/// f32, which usearch narrows back exactly), or an i8 row's stored bytes.
enum Node {
    Values(Vec<f32>),
    Bytes(Vec<i8>),
}

impl Node {
    fn of(vectors: &Vectors, projection: Option<&Projection>, i: usize) -> Node {
        match (projection, vectors.storage()) {
            (Some(projection), _) => Node::Values(projection.apply(&vectors.values(i))),
            (None, Storage::F32 | Storage::F16) => Node::Values(vectors.values(i)),
            (None, Storage::I8) => {
                Node::Bytes(vectors.stored(i).iter().map(|&b| b as i8).collect())
            }
        }
    }

    /// Adds the node to `index` under the key `key`.
    fn add(&self, index: &Index, key: u64) -> Result<(), String> {
        match self {
            Node::Values(values) => index.add(key, values),
            Node::Bytes(bytes) => index.add(key, bytes),
        }
        .map_err(|e| format!("row {key}: {e}"))
    }

    /// Whether a search of `index` for the node's own values, keeping `ef` candidates, finds
    /// the node `key` among them.
    fn found(&self, index: &Index, key: u64, ef: usize) -> Result<bool, String> {
        match self {
            Node::Values(values) => index.search(values, ef),
            Node::Bytes(bytes) => index.search(bytes, ef),
        }
        .map(|found| found.keys.contains(&key))
        .map_err(|e| format!("row {key}: {e}"))
    }
}

/// Candidates kept while each row is looked for by its own values after the build, the next
/// only when the one before missed it: a node a search reaches is nearly always found among 16
/// in sentence embeddings, but in vectors with no structure (uniform random ones of 384 values)
/// most are found only among more, and adding all those again took 61 s of an 88 s build (50k
/// rows).
const CHECK_EFS: [usize; 3] = [16, 64, 512];

/// Passes looking for every row: a pass after the first looks again after rows were added
/// again. The second has found them all in every build measured; a build saves its graph after
/// the last pass whatever it found, since a row out of reach costs one row's recall.
const CHECK_PASSES: usize = 4;

/// What a graph's build did about rows that no search reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repair {
    /// Rows added again, alone, because a search for their own values missed them.
    pub added_again: u64,
    /// Rows that a search for their own values still missed after the last pass.
    pub unreached: u64,
}

/// The rows of `index` that a search for their own values does not find, in order, searched on
/// the rayon pool; `progress` is told the rows looked for after each chunk.
fn unreached(
    index: &Index,
    len: usize,
    node: &(dyn Fn(usize) -> Node + Sync),
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<Vec<usize>, String> {
    let mut missed = Vec::new();
    progress(Phase::GraphCheck, 0, len as u64);
    for start in (0..len).step_by(BUILD_CHUNK) {
        let end = (start + BUILD_CHUNK).min(len);
        let chunk: Vec<Option<usize>> = (start..end)
            .into_par_iter()
            .map(|i| {
                let node = node(i);
                for ef in CHECK_EFS {
                    if node.found(index, i as u64, ef)? {
                        return Ok(None);
                    }
                }
                Ok(Some(i))
            })
            .collect::<Result<_, String>>()?;
        missed.extend(chunk.into_iter().flatten());
        progress(Phase::GraphCheck, end as u64, len as u64);
    }
    Ok(missed)
}

impl Graph {
    /// Builds the graph of `vectors` into `dir/graph.usearch`, on the rayon pool; `progress` is
    /// told the rows linked, then the rows checked, and the total after each chunk.
    pub fn build(
        dir: &Path,
        vectors: &Vectors,
        params: &GraphParams,
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<Repair, DenseError> {
        let path = dir.join(GRAPH_FILE);
        Graph::remove(dir)?;
        let projection = match params.reduced {
            Some(reduced) if reduced.dims == 0 || reduced.dims >= vectors.dim() => {
                return Err(failed(
                    &path,
                    format!(
                        "a reduced graph holds fewer values than the rows' {}, not {}",
                        vectors.dim(),
                        reduced.dims
                    ),
                ));
            }
            Some(reduced) => {
                let projection = Projection::fit(vectors, reduced.dims);
                projection.save(dir)?;
                Some(projection)
            }
            None => None,
        };
        let index = Index::new(&options(vectors.dim(), vectors.storage(), params))
            .map_err(|e| failed(&path, e))?;
        let len = vectors.len() as usize;
        index
            .reserve_capacity_and_threads(len, rayon::current_num_threads())
            .map_err(|e| failed(&path, e))?;
        let node = |i| Node::of(vectors, projection.as_ref(), i);
        progress(Phase::Graph, 0, len as u64);
        for start in (0..len).step_by(BUILD_CHUNK) {
            (start..(start + BUILD_CHUNK).min(len))
                .into_par_iter()
                .try_for_each(|i| node(i).add(&index, i as u64))
                .map_err(|e| failed(&path, e))?;
            progress(Phase::Graph, index.size() as u64, len as u64);
        }
        // Usearch 2.26's concurrent `add` leaves nodes that no search reaches (unum-cloud/
        // USearch#735; 3 to 10 of 20,000 random rows, 1 to 2 % of 300, none added one at a
        // time): each row is looked for by its own values, and one not found is removed and added
        // again, alone. Adding one again relinks its slot, which can cut off a row reached only
        // through its old links, so the rows are looked for again until a pass finds them all.
        // A pass takes a seventh of the build's time at 50k rows near a subspace, two fifths
        // at 50k uniform random rows, two thirds at 100k (there most rows are found only among
        // 512).
        index.change_expansion_search(CHECK_EFS[0]);
        let mut repair = Repair::default();
        for pass in 1..=CHECK_PASSES {
            let missed = unreached(&index, len, &node, progress).map_err(|e| failed(&path, e))?;
            if missed.is_empty() || pass == CHECK_PASSES {
                repair.unreached = missed.len() as u64;
                break;
            }
            for &i in &missed {
                index
                    .remove(i as u64)
                    .map_err(|e| failed(&path, format!("row {i}: {e}")))?;
                node(i)
                    .add(&index, i as u64)
                    .map_err(|e| failed(&path, e))?;
            }
            repair.added_again += missed.len() as u64;
        }
        index.change_expansion_search(params.ef_search);
        index.save(utf8(&path)?).map_err(|e| failed(&path, e))?;
        Ok(repair)
    }

    /// Removes the graph files from the dense folder `dir`, if any.
    pub(crate) fn remove(dir: &Path) -> Result<(), DenseError> {
        for name in [GRAPH_FILE, PROJECTION_FILE] {
            let path = dir.join(name);
            formats::remove_if_present(&path).map_err(|e| DenseError::io(&path, e))?;
        }
        Ok(())
    }

    /// Maps the graph in the dense folder `dir`, built as `params` say, and checks that it is the
    /// graph of `vectors`: as many nodes of the same length, and the same vector as the row (or
    /// its projection) at a few positions.
    pub fn open(dir: &Path, params: &GraphParams, vectors: &Vectors) -> Result<Graph, DenseError> {
        let path = dir.join(GRAPH_FILE);
        if !path.exists() {
            return Err(failed(&path, "missing, though meta.json names a graph"));
        }
        let projection = match params.reduced {
            Some(reduced) => Some(Projection::load(dir, vectors.dim(), reduced.dims)?),
            None => None,
        };
        let node_dim = projection.as_ref().map_or(vectors.dim(), Projection::dims);
        let index = Index::new(&options(vectors.dim(), vectors.storage(), params))
            .map_err(|e| failed(&path, e))?;
        index.view(utf8(&path)?).map_err(|e| failed(&path, e))?;
        let (size, dim) = (index.size() as u64, index.dimensions());
        if (size, dim) != (vectors.len(), node_dim) {
            return Err(failed(
                &path,
                format!(
                    "{size} nodes of {dim} values, for {} rows of {node_dim}",
                    vectors.len(),
                ),
            ));
        }
        let len = vectors.len() as usize;
        let mut node = vec![0f32; dim];
        for i in (0..CHECKED_ROWS)
            .map(|j| j * len / CHECKED_ROWS)
            .filter(|&i| i < len)
        {
            let found = index
                .get(i as u64, &mut node)
                .map_err(|e| failed(&path, e))?;
            let row = match &projection {
                Some(projection) => projection.apply(&vectors.values(i)),
                None => vectors.values(i),
            };
            // Up to the storages' rounding, the same row is at cosine ~1.
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let dot: f32 = node.iter().zip(&row).map(|(a, b)| a * b).sum();
            let same = found == 1 && dot > 0.98 * norm(&node) * norm(&row);
            if !same {
                return Err(failed(
                    &path,
                    format!(
                        "its node {i} is not row {i} of vectors.bin: not the graph of these rows"
                    ),
                ));
            }
        }
        index.change_expansion_search(params.ef_search);
        Ok(Graph {
            path,
            index,
            storage: vectors.storage(),
            rerank: params.reduced.map_or(0, |r| r.rerank),
            projection,
        })
    }

    /// The `k` rows of `vectors` (the graph's rows) nearest `query` (a unit vector) that the
    /// graph finds (keeping max(k, ef) candidates on the way), best first, ties in row order as
    /// [`Vectors::nearest`] has them. A reduced graph's hits are the best `k` of its candidates
    /// by the rows' own values, scored as the exact scan scores them.
    pub fn nearest(
        &self,
        vectors: &Vectors,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Scored>, DenseError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let found = match (&self.projection, self.storage) {
            (Some(projection), _) => self
                .index
                .search(&projection.apply(query), self.rerank.max(k)),
            // Quantised as the rows were, at the query's own scale: usearch's cast would leave it
            // a few levels (see the module's comment).
            (None, Storage::I8) => {
                let (mut row, mut scale) = (Vec::new(), Vec::new());
                Storage::I8.encode(query, &mut row, &mut scale);
                let values: Vec<i8> = row.iter().map(|&b| b as i8).collect();
                self.index.search(&values, k)
            }
            (None, Storage::F32 | Storage::F16) => self.index.search(query, k),
        }
        .map_err(|e| failed(&self.path, e))?;
        let mut scored: Vec<Scored> = found
            .keys
            .iter()
            .zip(&found.distances)
            .map(|(&position, distance)| Scored {
                score: match self.projection {
                    Some(_) => vectors.score(position as usize, query),
                    None => 1.0 - distance,
                },
                position,
            })
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
        scored.truncate(k);
        Ok(scored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{rows_in, unit};

    /// `n` random unit vectors of `dim` values (a xorshift stream from `seed`).
    fn random_units(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dim)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % 2001) as f32 / 1000.0 - 1.0
                    })
                    .collect();
                unit(&v)
            })
            .collect()
    }

    /// `rows` stored as `storage` in a new folder, with the graph `params` ask for built and
    /// opened.
    fn graph_of(
        rows: &[Vec<f32>],
        storage: Storage,
        params: &GraphParams,
    ) -> (tempfile::TempDir, Vectors, Graph) {
        let dir = tempfile::tempdir().unwrap();
        let vectors = rows_in(dir.path(), storage, rows);
        Graph::build(dir.path(), &vectors, params, &mut |_, _, _| {}).unwrap();
        let graph = Graph::open(dir.path(), params, &vectors).unwrap();
        (dir, vectors, graph)
    }

    /// The share of the exact top 10 that the graph finds, over `queries`.
    fn overlap_at_10(graph: &Graph, vectors: &Vectors, queries: &[Vec<f32>]) -> f64 {
        let mut found = 0;
        for query in queries {
            let exact: Vec<u64> = vectors
                .nearest(query, 10)
                .iter()
                .map(|s| s.position)
                .collect();
            let approximate = graph.nearest(vectors, query, 10).unwrap();
            found += approximate
                .iter()
                .filter(|s| exact.contains(&s.position))
                .count();
        }
        found as f64 / (10 * queries.len()) as f64
    }

    #[test]
    fn the_graph_finds_at_least_98_percent_of_the_exact_top_10_in_every_storage() {
        // Uniform vectors of 32 values: harder for a graph than embeddings are (ef 10 finds 70 %).
        let (dim, n) = (32, 4000);
        let rows = random_units(n, dim, 0x9e37_79b9_7f4a_7c15);
        let queries = random_units(100, dim, 7);
        let params = GraphParams::default();
        for storage in [Storage::F32, Storage::F16, Storage::I8] {
            let (_dir, vectors, graph) = graph_of(&rows, storage, &params);
            let overlap = overlap_at_10(&graph, &vectors, &queries);
            assert!(overlap >= 0.98, "{storage:?}: overlap@10 {overlap}");
            // The hits' scores are the rows' cosines up to the storage's rounding, best first.
            let hits = graph.nearest(&vectors, &queries[0], 10).unwrap();
            for hit in &hits {
                let exact = vectors.score(hit.position as usize, &queries[0]);
                assert!(
                    (hit.score - exact).abs() < 0.01,
                    "{storage:?} {hit:?} {exact}"
                );
            }
            assert!(hits.windows(2).all(|w| w[0] >= w[1]));
        }
    }

    #[test]
    fn every_row_of_a_graph_built_on_four_threads_is_found_by_its_own_values() {
        // Built concurrently, about one graph of 300 rows in four had a node no search reached.
        let (dim, n) = (64, 300);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reduced = GraphParams {
            reduced: Some(Reduced {
                dims: 16,
                rerank: 50,
            }),
            ..GraphParams::default()
        };
        // A node added again from the rows' values, their stored bytes, or their components.
        for (storage, params) in [
            (Storage::F32, GraphParams::default()),
            (Storage::I8, GraphParams::default()),
            (Storage::F32, reduced),
        ] {
            for seed in 1..=10 {
                let rows = random_units(n, dim, seed);
                let vectors = rows_in(dir.path(), storage, &rows);
                pool.install(|| Graph::build(dir.path(), &vectors, &params, &mut |_, _, _| {}))
                    .unwrap();
                let graph = Graph::open(dir.path(), &params, &vectors).unwrap();
                // ef 512 > 300: a search visits every node it can reach.
                for (i, row) in rows.iter().enumerate() {
                    let top = graph.nearest(&vectors, row, 1).unwrap();
                    assert_eq!(
                        top[0].position, i as u64,
                        "{storage:?} {params:?}, seed {seed}: row {i} not found"
                    );
                }
            }
        }
    }

    #[test]
    fn a_row_of_unstructured_vectors_missed_among_16_candidates_is_looked_for_among_more() {
        // In uniform random rows of 384 values a search of 16 misses rows it can reach: checked
        // with 16 alone, these rows had 34 added again and 9 still unreached after four passes
        // (4,087 and 1,034 of 20,000), where the escalation adds 2 again and leaves none.
        let (dim, n) = (384, 5000);
        let rows = random_units(n, dim, 11);
        let dir = tempfile::tempdir().unwrap();
        let vectors = rows_in(dir.path(), Storage::F32, &rows);
        let repair = Graph::build(
            dir.path(),
            &vectors,
            &GraphParams::default(),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert!(repair.added_again <= n as u64 / 200, "{repair:?}");
        assert_eq!(repair.unreached, 0, "{repair:?}");
    }

    /// `n` unit vectors of `dim` values whose variance falls off along the axes, as sentence
    /// embeddings' does along their principal components (value `j` drawn at scale 1 / (1 + j)).
    fn decaying_units(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        random_units(n, dim, seed)
            .into_iter()
            .map(|v| {
                let v: Vec<f32> = v
                    .iter()
                    .enumerate()
                    .map(|(j, x)| x / (1 + j) as f32)
                    .collect();
                unit(&v)
            })
            .collect()
    }

    #[test]
    fn a_reduced_graph_finds_the_top_10_and_scores_hits_as_the_scan_does() {
        let (dim, n) = (64, 4000);
        let rows = decaying_units(n, dim, 0x9e37_79b9_7f4a_7c15);
        let queries = decaying_units(100, dim, 7);
        let params = GraphParams {
            reduced: Some(Reduced {
                dims: 16,
                rerank: 100,
            }),
            ..GraphParams::default()
        };
        for storage in [Storage::F32, Storage::I8] {
            let (_dir, vectors, graph) = graph_of(&rows, storage, &params);
            let overlap = overlap_at_10(&graph, &vectors, &queries);
            assert!(overlap >= 0.98, "{storage:?}: overlap@10 {overlap}");
            for query in &queries {
                let hits = graph.nearest(&vectors, query, 10).unwrap();
                assert_eq!(hits.len(), 10);
                for hit in &hits {
                    assert_eq!(hit.score, vectors.score(hit.position as usize, query));
                }
                assert!(hits.windows(2).all(|w| w[0] >= w[1]));
            }
        }
        // With as few candidates as hits, the components alone order them: fewer are found.
        let alone = GraphParams {
            reduced: Some(Reduced {
                dims: 4,
                rerank: 10,
            }),
            ..params
        };
        let (_dir, vectors, graph) = graph_of(&rows, Storage::F32, &alone);
        let overlap = overlap_at_10(&graph, &vectors, &queries);
        assert!(overlap < 0.9, "overlap@10 {overlap}");
    }

    #[test]
    fn a_reduced_graph_is_refused_with_too_many_components_or_another_projection() {
        let (dim, n) = (32, 300);
        let rows = decaying_units(n, dim, 3);
        let dir = tempfile::tempdir().unwrap();
        let vectors = rows_in(dir.path(), Storage::F32, &rows);
        let reduced = |dims| GraphParams {
            reduced: Some(Reduced { dims, rerank: 50 }),
            ..GraphParams::default()
        };
        let e = Graph::build(dir.path(), &vectors, &reduced(32), &mut |_, _, _| {}).unwrap_err();
        assert!(
            e.to_string().contains("fewer values than the rows' 32"),
            "{e}"
        );
        Graph::build(dir.path(), &vectors, &reduced(8), &mut |_, _, _| {}).unwrap();
        assert!(dir.path().join(PROJECTION_FILE).exists());
        let e = Graph::open(dir.path(), &reduced(6), &vectors).unwrap_err();
        assert!(e.to_string().contains("projection.bin: damaged"), "{e}");
        // Another fit's components: the nodes are not these rows' projections.
        let other = tempfile::tempdir().unwrap();
        let others = rows_in(other.path(), Storage::F32, &decaying_units(n, dim, 4));
        Graph::build(other.path(), &others, &reduced(8), &mut |_, _, _| {}).unwrap();
        std::fs::copy(
            other.path().join(PROJECTION_FILE),
            dir.path().join(PROJECTION_FILE),
        )
        .unwrap();
        let e = Graph::open(dir.path(), &reduced(8), &vectors).unwrap_err();
        assert!(e.to_string().contains("not the graph"), "{e}");
        // A graph of the rows' own values after a reduced one leaves no projection behind.
        Graph::build(
            dir.path(),
            &vectors,
            &GraphParams::default(),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert!(!dir.path().join(PROJECTION_FILE).exists());
    }

    #[test]
    fn a_tuning_changes_the_search_and_only_what_the_graph_has() {
        let path = Path::new("graph.usearch");
        let built = GraphParams::default();
        let tuned = Tuning {
            ef_search: Some(64),
            rerank: None,
        };
        assert_eq!(tuned.apply(built, path).unwrap().ef_search, 64);
        assert_eq!(Tuning::default().apply(built, path).unwrap(), built);
        let rerank = Tuning {
            ef_search: None,
            rerank: Some(30),
        };
        let e = rerank.apply(built, path).unwrap_err().to_string();
        assert!(e.contains("reduced graph's"), "{e}");
        let reduced = GraphParams {
            reduced: Some(Reduced {
                dims: 8,
                rerank: 100,
            }),
            ..built
        };
        let applied = rerank.apply(reduced, path).unwrap();
        assert_eq!(applied.reduced.map(|r| (r.dims, r.rerank)), Some((8, 30)));
    }

    #[test]
    fn a_graph_of_other_rows_is_refused_by_name() {
        let (dim, n) = (32, 300);
        let params = GraphParams::default();
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let vectors = rows_in(ours.path(), Storage::F32, &random_units(n, dim, 1));
        let other = rows_in(theirs.path(), Storage::F32, &random_units(n, dim, 2));
        Graph::build(theirs.path(), &other, &params, &mut |_, _, _| {}).unwrap();
        std::fs::copy(theirs.path().join(GRAPH_FILE), ours.path().join(GRAPH_FILE)).unwrap();
        let e = Graph::open(ours.path(), &params, &vectors).unwrap_err();
        assert!(
            e.to_string().contains("graph.usearch") && e.to_string().contains("not the graph"),
            "{e}"
        );
        // Fewer nodes than rows: refused by count before any row is compared.
        let fewer = rows_in(theirs.path(), Storage::F32, &random_units(n - 1, dim, 2));
        Graph::build(theirs.path(), &fewer, &params, &mut |_, _, _| {}).unwrap();
        std::fs::copy(theirs.path().join(GRAPH_FILE), ours.path().join(GRAPH_FILE)).unwrap();
        let e = Graph::open(ours.path(), &params, &vectors).unwrap_err();
        assert!(e.to_string().contains("299 nodes"), "{e}");
    }
}
