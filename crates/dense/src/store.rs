//! The vectors of an index's passages, one row per passage in the index's order, in a file that
//! is memory-mapped (a server starts without reading it) and scanned whole (exact search).
//!
//! `vectors.bin` holds the rows: `dim` little-endian f32, `dim` little-endian IEEE half floats
//! for [`Storage::F16`], or `dim` i8 for [`Storage::I8`], whose per-row scales (the row's largest
//! magnitude / 127, f32) are in `scales.bin`. Scores are dot products with the query's unit
//! vector: cosines, approximately so for f16 and i8.

use std::{fs::File, path::Path};

use half::{f16, slice::HalfFloatSliceExt as _};
use memmap2::Mmap;
use rayon::prelude::*;
use search::TopK;

use crate::DenseError;

/// How a row is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// 4 bytes a value: exact.
    F32,
    /// 2 bytes a value (half floats, about three significant digits): half the memory.
    F16,
    /// 1 byte a value and a scale a row: a quarter of the memory.
    I8,
}

impl Storage {
    /// Bytes a row of `dim` values takes in `vectors.bin`.
    pub fn row_bytes(self, dim: usize) -> usize {
        match self {
            Storage::F32 => 4 * dim,
            Storage::F16 => 2 * dim,
            Storage::I8 => dim,
        }
    }

    /// `vector` as its row (and, for i8, its scale).
    pub fn encode(self, vector: &[f32], row: &mut Vec<u8>, scales: &mut Vec<u8>) {
        match self {
            Storage::F32 => row.extend(vector.iter().flat_map(|v| v.to_le_bytes())),
            Storage::F16 => row.extend(vector.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes())),
            Storage::I8 => {
                let max = vector.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                row.extend(
                    vector
                        .iter()
                        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8),
                );
                scales.extend(scale.to_le_bytes());
            }
        }
    }
}

/// Maps `file` into memory.
#[allow(unsafe_code)]
fn map(file: &File, path: &Path) -> Result<Mmap, DenseError> {
    // SAFETY: the files of a finished dense index are never written again: a new build writes a
    // new folder and swaps it in whole, so the mapped bytes do not change under the map.
    unsafe { Mmap::map(file) }.map_err(|e| DenseError::io(path, e))
}

/// The rows of a finished dense index, mapped.
pub struct Vectors {
    storage: Storage,
    dim: usize,
    rows: Mmap,
    scales: Option<Mmap>,
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectors")
            .field("storage", &self.storage)
            .field("dim", &self.dim)
            .field("len", &self.len())
            .finish()
    }
}

/// A scored row: ordered by score, then the earlier row first.
pub type Scored = search::Scored<u64>;

/// Values multiplied and summed at once: a dot product keeps this many running sums, which the
/// compiler holds in one vector register (a single sum would wait on each addition).
const LANES: usize = 8;

/// Values decoded at once: enough that converting f16 (a call that asks the CPU whether it has
/// F16C) is not paid every `LANES` values.
const STEP: usize = 8 * LANES;

/// `row`'s values (`width` bytes each, read by `decode` `STEP` at a time) dotted with `query`.
fn dot(row: &[u8], query: &[f32], width: usize, decode: impl Fn(&[u8], &mut [f32; STEP])) -> f32 {
    let mut sums = [0.0f32; LANES];
    let mut values = [0.0f32; STEP];
    let mut add = |values: &[f32; STEP], q: &[f32]| {
        for (v, q) in values.chunks_exact(LANES).zip(q.chunks_exact(LANES)) {
            for ((sum, v), q) in sums.iter_mut().zip(v).zip(q) {
                *sum += v * q;
            }
        }
    };
    let whole = query.len() / STEP * STEP;
    for (bytes, q) in row
        .chunks_exact(STEP * width)
        .zip(query[..whole].chunks_exact(STEP))
    {
        decode(bytes, &mut values);
        add(&values, q);
    }
    if whole < query.len() {
        // The last values, zero-padded to a whole step.
        let mut bytes = [0u8; STEP * 4];
        let rest = &row[whole * width..];
        bytes[..rest.len()].copy_from_slice(rest);
        let mut q = [0.0f32; STEP];
        q[..query.len() - whole].copy_from_slice(&query[whole..]);
        decode(&bytes[..STEP * width], &mut values);
        add(&values, &q);
    }
    sums.iter().sum()
}

/// Rows scanned per rayon task.
const CHUNK: usize = 4096;

impl Vectors {
    /// Maps `vectors.bin` (and `scales.bin`) of the folder `dir`, holding `count` rows.
    pub fn open(
        dir: &Path,
        storage: Storage,
        dim: usize,
        count: u64,
    ) -> Result<Vectors, DenseError> {
        let open = |name: &str, row_bytes: usize| -> Result<Mmap, DenseError> {
            let path = dir.join(name);
            let file = File::open(&path).map_err(|e| DenseError::io(&path, e))?;
            let mapped = map(&file, &path)?;
            if mapped.len() as u64 != count * row_bytes as u64 {
                return Err(DenseError::Damaged {
                    path,
                    message: format!("{} bytes, not {count} rows of {row_bytes}", mapped.len()),
                });
            }
            Ok(mapped)
        };
        let rows = open("vectors.bin", storage.row_bytes(dim))?;
        let scales = match storage {
            Storage::I8 => Some(open("scales.bin", 4)?),
            Storage::F32 | Storage::F16 => None,
        };
        Ok(Vectors {
            storage,
            dim,
            rows,
            scales,
        })
    }

    pub fn len(&self) -> u64 {
        (self.rows.len() / self.storage.row_bytes(self.dim)) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn storage(&self) -> Storage {
        self.storage
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i` as stored: its bytes in `vectors.bin` (without the i8 scale).
    pub(crate) fn stored(&self, i: usize) -> &[u8] {
        let bytes = self.storage.row_bytes(self.dim);
        &self.rows[i * bytes..(i + 1) * bytes]
    }

    /// Row `i`'s values, as the scan scores them (an i8 row times its scale).
    pub(crate) fn values(&self, i: usize) -> Vec<f32> {
        let row = self.stored(i);
        match self.storage {
            Storage::F32 => row
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Storage::F16 => row
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Storage::I8 => {
                let scale = self.scale(i);
                row.iter().map(|&b| f32::from(b as i8) * scale).collect()
            }
        }
    }

    /// An i8 row's scale.
    fn scale(&self, i: usize) -> f32 {
        let scales = self.scales.as_ref().map_or(&[][..], |s| &s[..]);
        let s = &scales[i * 4..i * 4 + 4];
        f32::from_le_bytes([s[0], s[1], s[2], s[3]])
    }

    /// Row `i`'s dot product with `query`.
    pub(crate) fn score(&self, i: usize, query: &[f32]) -> f32 {
        let row = self.stored(i);
        match self.storage {
            Storage::F32 => dot(row, query, 4, |bytes, values| {
                for (v, b) in values.iter_mut().zip(bytes.chunks_exact(4)) {
                    *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }),
            Storage::F16 => dot(row, query, 2, |bytes, values| {
                let mut halves = [f16::ZERO; STEP];
                for (h, b) in halves.iter_mut().zip(bytes.chunks_exact(2)) {
                    *h = f16::from_le_bytes([b[0], b[1]]);
                }
                // Eight per F16C instruction where the CPU has it, where a value at a time asks
                // the CPU which it has and converts one.
                halves.convert_to_f32_slice(values);
            }),
            Storage::I8 => {
                let dot = dot(row, query, 1, |bytes, values| {
                    for (v, &b) in values.iter_mut().zip(bytes) {
                        *v = f32::from(b as i8);
                    }
                });
                dot * self.scale(i)
            }
        }
    }

    /// The `k` rows nearest `query` (a unit vector of the index's length), best first, every
    /// row scored (on the rayon pool).
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<Scored> {
        if k == 0 {
            return Vec::new();
        }
        let len = self.len() as usize;
        let chunks: Vec<Vec<Scored>> = (0..len.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut best = TopK::new(k);
                for i in c * CHUNK..((c + 1) * CHUNK).min(len) {
                    best.offer(self.score(i, query), i as u64);
                }
                best.into_sorted()
            })
            .collect();
        let mut all: Vec<Scored> = chunks.into_iter().flatten().collect();
        all.sort_by(|a, b| b.cmp(a));
        all.truncate(k);
        all
    }
}

/// Rows written as a dense folder stores them, for the tests of this crate.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use super::{Storage, Vectors};

    /// `v` scaled to length 1.
    pub fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    /// `rows` written into `dir` as `storage` stores them, mapped.
    pub fn rows_in(dir: &Path, storage: Storage, rows: &[Vec<f32>]) -> Vectors {
        let (mut bytes, mut scales) = (Vec::new(), Vec::new());
        for v in rows {
            storage.encode(v, &mut bytes, &mut scales);
        }
        std::fs::write(dir.join("vectors.bin"), bytes).unwrap();
        if storage == Storage::I8 {
            std::fs::write(dir.join("scales.bin"), scales).unwrap();
        }
        Vectors::open(dir, storage, rows[0].len(), rows.len() as u64).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::unit, *};

    fn written(storage: Storage, vectors: &[Vec<f32>]) -> (tempfile::TempDir, Vectors) {
        let dir = tempfile::tempdir().unwrap();
        let opened = super::testing::rows_in(dir.path(), storage, vectors);
        (dir, opened)
    }

    #[test]
    fn the_nearest_rows_come_best_first_ties_in_row_order() {
        let rows: Vec<Vec<f32>> = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]]
            .iter()
            .map(|v| unit(v))
            .collect();
        // More rows than a chunk, so that chunks' best lists are merged.
        let many: Vec<Vec<f32>> = rows.iter().cycle().take(CHUNK + 7).cloned().collect();
        for storage in [Storage::F32, Storage::F16, Storage::I8] {
            let (_dir, vectors) = written(storage, &many);
            let best = vectors.nearest(&unit(&[0.0, 1.0]), 3);
            let positions: Vec<u64> = best.iter().map(|s| s.position).collect();
            assert_eq!(positions, [1, 3, 6], "{storage:?}");
            assert!((best[0].score - 1.0).abs() < 0.01, "{storage:?} {best:?}");
        }
    }

    #[test]
    fn half_and_int8_scores_stay_within_a_percent_of_f32() {
        let rows: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                unit(
                    &(0..64)
                        .map(|j| ((i * 31 + j * 7) % 19) as f32 - 9.0)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let query = unit(&(0..64).map(|j| (j % 5) as f32 - 2.0).collect::<Vec<_>>());
        let (_a, exact) = written(Storage::F32, &rows);
        for storage in [Storage::F16, Storage::I8] {
            let (_b, small) = written(storage, &rows);
            for i in 0..rows.len() {
                let gap = (exact.score(i, &query) - small.score(i, &query)).abs();
                assert!(gap < 0.01, "{storage:?} row {i}: {gap}");
            }
        }
    }

    #[test]
    fn a_score_is_the_dot_product_of_the_stored_values_whatever_the_length() {
        for dim in [1, 8, 13, 100, 384] {
            let rows: Vec<Vec<f32>> = (0..20)
                .map(|i| {
                    unit(
                        &(0..dim)
                            .map(|j| ((i * 13 + j * 5) % 11) as f32 - 4.5)
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let query = unit(&(0..dim).map(|j| (j % 7) as f32 - 3.2).collect::<Vec<_>>());
            for storage in [Storage::F32, Storage::F16, Storage::I8] {
                let (_dir, vectors) = written(storage, &rows);
                for i in 0..rows.len() {
                    let expected: f64 = vectors
                        .values(i)
                        .iter()
                        .zip(&query)
                        .map(|(&v, &q)| f64::from(v) * f64::from(q))
                        .sum();
                    let got = vectors.score(i, &query);
                    assert!(
                        (f64::from(got) - expected).abs() < 1e-5,
                        "{storage:?} dim {dim} row {i}: {got} against {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_file_of_the_wrong_size_is_named_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vectors.bin"), [0u8; 10]).unwrap();
        let e = Vectors::open(dir.path(), Storage::F32, 2, 3).unwrap_err();
        assert!(e.to_string().contains("vectors.bin"), "{e}");
    }
}
