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

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::{DenseError, Scored, Storage, Vectors};

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
        }
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
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization: match storage {
            Storage::F32 => ScalarKind::F32,
            Storage::F16 => ScalarKind::F16,
            Storage::I8 => ScalarKind::I8,
        },
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

/// Adds row `i` of `vectors` to `index` under the key `i`, in the rows' storage type.
fn add_row(index: &Index, vectors: &Vectors, i: usize) -> Result<(), String> {
    let row = vectors.stored(i);
    let key = i as u64;
    let added = match vectors.storage() {
        Storage::F32 => {
            let values: Vec<f32> = row
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            index.add(key, &values)
        }
        Storage::F16 => {
            let bits: Vec<i16> = row
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            index.add(key, usearch::f16::from_i16s(&bits))
        }
        Storage::I8 => {
            let values: Vec<i8> = row.iter().map(|&b| b as i8).collect();
            index.add(key, &values)
        }
    };
    added.map_err(|e| format!("row {i}: {e}"))
}

impl Graph {
    /// Builds the graph of `vectors` into `dir/graph.usearch`, on the rayon pool; `progress` is
    /// told the rows linked and the total after each chunk.
    pub fn build(
        dir: &Path,
        vectors: &Vectors,
        params: &GraphParams,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), DenseError> {
        let path = dir.join(GRAPH_FILE);
        let index = Index::new(&options(vectors.dim(), vectors.storage(), params))
            .map_err(|e| failed(&path, e))?;
        let len = vectors.len() as usize;
        index
            .reserve_capacity_and_threads(len, rayon::current_num_threads())
            .map_err(|e| failed(&path, e))?;
        progress(0, len as u64);
        for start in (0..len).step_by(BUILD_CHUNK) {
            (start..(start + BUILD_CHUNK).min(len))
                .into_par_iter()
                .try_for_each(|i| add_row(&index, vectors, i))
                .map_err(|e| failed(&path, e))?;
            progress(index.size() as u64, len as u64);
        }
        index.save(utf8(&path)?).map_err(|e| failed(&path, e))
    }

    /// Maps the graph in the dense folder `dir`, built as `params` say, and checks that it is the
    /// graph of `vectors`: as many nodes of the same length, and the same vector as the row at a
    /// few positions.
    pub fn open(dir: &Path, params: &GraphParams, vectors: &Vectors) -> Result<Graph, DenseError> {
        let path = dir.join(GRAPH_FILE);
        if !path.exists() {
            return Err(failed(&path, "missing, though meta.json names a graph"));
        }
        let index = Index::new(&options(vectors.dim(), vectors.storage(), params))
            .map_err(|e| failed(&path, e))?;
        index.view(utf8(&path)?).map_err(|e| failed(&path, e))?;
        let (size, dim) = (index.size() as u64, index.dimensions());
        if (size, dim) != (vectors.len(), vectors.dim()) {
            return Err(failed(
                &path,
                format!(
                    "{size} nodes of {dim} values, for {} rows of {}",
                    vectors.len(),
                    vectors.dim()
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
            let norm = node.iter().map(|v| v * v).sum::<f32>().sqrt();
            // Both are unit vectors up to their storage's rounding: the same row is at cosine ~1.
            let same = found == 1 && norm > 0.0 && vectors.score(i, &node) / norm > 0.98;
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
        })
    }

    /// The `k` rows nearest `query` (a unit vector) that the graph finds (keeping max(k, ef)
    /// candidates on the way), best first, ties in row order as [`Vectors::nearest`] has them.
    pub fn nearest(&self, query: &[f32], k: usize) -> Result<Vec<Scored>, DenseError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let found = match self.storage {
            // Quantised as the rows were, at the query's own scale: usearch's cast would leave it
            // a few levels (see the module's comment).
            Storage::I8 => {
                let (mut row, mut scale) = (Vec::new(), Vec::new());
                Storage::I8.encode(query, &mut row, &mut scale);
                let values: Vec<i8> = row.iter().map(|&b| b as i8).collect();
                self.index.search(&values, k)
            }
            Storage::F32 | Storage::F16 => self.index.search(query, k),
        }
        .map_err(|e| failed(&self.path, e))?;
        let mut scored: Vec<Scored> = found
            .keys
            .iter()
            .zip(&found.distances)
            .map(|(&position, distance)| Scored {
                score: 1.0 - distance,
                position,
            })
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
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

    /// The share of the exact top 10 that the graph finds, over `queries`.
    fn overlap_at_10(graph: &Graph, vectors: &Vectors, queries: &[Vec<f32>]) -> f64 {
        let mut found = 0;
        for query in queries {
            let exact: Vec<u64> = vectors
                .nearest(query, 10)
                .iter()
                .map(|s| s.position)
                .collect();
            let approximate = graph.nearest(query, 10).unwrap();
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
            let dir = tempfile::tempdir().unwrap();
            let vectors = rows_in(dir.path(), storage, &rows);
            Graph::build(dir.path(), &vectors, &params, &mut |_, _| {}).unwrap();
            let graph = Graph::open(dir.path(), &params, &vectors).unwrap();
            let overlap = overlap_at_10(&graph, &vectors, &queries);
            assert!(overlap >= 0.98, "{storage:?}: overlap@10 {overlap}");
            // The hits' scores are the rows' cosines up to the storage's rounding, best first.
            let hits = graph.nearest(&queries[0], 10).unwrap();
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
    fn a_graph_of_other_rows_is_refused_by_name() {
        let (dim, n) = (32, 300);
        let params = GraphParams::default();
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let vectors = rows_in(ours.path(), Storage::F32, &random_units(n, dim, 1));
        let other = rows_in(theirs.path(), Storage::F32, &random_units(n, dim, 2));
        Graph::build(theirs.path(), &other, &params, &mut |_, _| {}).unwrap();
        std::fs::copy(theirs.path().join(GRAPH_FILE), ours.path().join(GRAPH_FILE)).unwrap();
        let e = Graph::open(ours.path(), &params, &vectors).unwrap_err();
        assert!(
            e.to_string().contains("graph.usearch") && e.to_string().contains("not the graph"),
            "{e}"
        );
        // Fewer nodes than rows: refused by count before any row is compared.
        let fewer = rows_in(theirs.path(), Storage::F32, &random_units(n - 1, dim, 2));
        Graph::build(theirs.path(), &fewer, &params, &mut |_, _| {}).unwrap();
        std::fs::copy(theirs.path().join(GRAPH_FILE), ours.path().join(GRAPH_FILE)).unwrap();
        let e = Graph::open(ours.path(), &params, &vectors).unwrap_err();
        assert!(e.to_string().contains("299 nodes"), "{e}");
    }
}
