//! The rows' principal components, on which a reduced HNSW graph holds them.
//!
//! A graph node of e5's 768 values in i8 takes 768 bytes, so wiki-18's 21M rows need 16 GB before
//! any link. Sentence embeddings spend most of their variance in a few hundred directions: on
//! the demo's MiniLM rows the top third of the components (128 of 384) keep 79 % of it, and the
//! 50 rows nearest a query in those 128 values hold 99.5 % of its exact top 10. A reduced graph
//! holds each row as its `dims` leading components (`projection.bin`: the rows' mean, then one
//! component a line), finds the candidates, and the rows' own values order them.
//!
//! Distances are Euclidean in the projected space: for unit vectors `x` and `q`, the order of
//! `|x − q|` is the order of the cosine, and the mean cancels in the difference, so a query is
//! projected as a row is.

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, SymmetricEigen};

use crate::{DenseError, Vectors};

/// The projection's file in a dense folder.
pub(crate) const PROJECTION_FILE: &str = "projection.bin";

/// Rows the components are computed from, spread evenly over the rows: enough for a covariance
/// of 768 values, and a few seconds at any size.
const SAMPLE: usize = 32_768;

/// The mean of the rows and their `dims` leading principal components.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Projection {
    mean: Vec<f32>,
    /// `dims` rows of the rows' length, the component of the largest variance first.
    components: Vec<Vec<f32>>,
}

/// The mean of some rows and their principal components: the directions of their covariance's
/// eigenvectors, the direction of the largest variance first.
#[derive(Debug, Clone)]
pub struct Components {
    pub mean: Vec<f64>,
    /// The rows' variance along each direction (the covariance's eigenvalues).
    pub variances: Vec<f64>,
    /// Unit vectors of the rows' length.
    pub directions: Vec<Vec<f64>>,
}

impl Components {
    /// The components of `rows` (all of one length), by one symmetric eigensolve of their
    /// covariance.
    pub fn of(rows: &[Vec<f32>]) -> Components {
        let (n, dim) = (rows.len(), rows.first().map_or(0, Vec::len));
        let mut mean = vec![0f64; dim];
        for row in rows {
            mean.iter_mut()
                .zip(row)
                .for_each(|(m, &v)| *m += f64::from(v));
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let centred = DMatrix::from_fn(n, dim, |r, c| f64::from(rows[r][c]) - mean[c]);
        let covariance = centred.tr_mul(&centred) / n.saturating_sub(1).max(1) as f64;
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..dim).collect();
        // Largest variance first; ties by index, so that a fit is the same on every run.
        order.sort_by(|&a, &b| {
            eigen.eigenvalues[b]
                .total_cmp(&eigen.eigenvalues[a])
                .then(a.cmp(&b))
        });
        Components {
            mean,
            variances: order.iter().map(|&c| eigen.eigenvalues[c]).collect(),
            directions: order
                .iter()
                .map(|&c| eigen.eigenvectors.column(c).iter().copied().collect())
                .collect(),
        }
    }
}

impl Projection {
    /// The mean and the `dims` leading components of `vectors` (of a sample of them, when they
    /// are many).
    pub(crate) fn fit(vectors: &Vectors, dims: usize) -> Projection {
        let len = vectors.len() as usize;
        let n = len.min(SAMPLE);
        let sample: Vec<Vec<f32>> = (0..n).map(|j| vectors.values(j * len / n)).collect();
        let components = Components::of(&sample);
        let narrow = |values: &[f64]| values.iter().map(|&v| v as f32).collect();
        Projection {
            mean: narrow(&components.mean),
            components: components
                .directions
                .iter()
                .take(dims)
                .map(|d| narrow(d))
                .collect(),
        }
    }

    /// Values a projected vector has.
    pub(crate) fn dims(&self) -> usize {
        self.components.len()
    }

    /// `vector`'s coordinates on the components, from the mean.
    pub(crate) fn apply(&self, vector: &[f32]) -> Vec<f32> {
        let centred: Vec<f32> = vector.iter().zip(&self.mean).map(|(v, m)| v - m).collect();
        self.components
            .iter()
            .map(|c| c.iter().zip(&centred).map(|(a, b)| a * b).sum())
            .collect()
    }

    fn path(dir: &Path) -> PathBuf {
        dir.join(PROJECTION_FILE)
    }

    /// Writes `projection.bin` into the dense folder `dir`: little-endian f32, the mean, then
    /// each component.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), DenseError> {
        let path = Projection::path(dir);
        let bytes: Vec<u8> = std::iter::once(&self.mean)
            .chain(&self.components)
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(&path, bytes).map_err(|e| DenseError::io(&path, e))
    }

    /// Reads the projection of `dims` components of rows of `dim` values from the dense folder
    /// `dir`.
    pub(crate) fn load(dir: &Path, dim: usize, dims: usize) -> Result<Projection, DenseError> {
        let path = Projection::path(dir);
        let bytes = std::fs::read(&path).map_err(|e| DenseError::io(&path, e))?;
        let want = 4 * dim * (dims + 1);
        if bytes.len() != want || dim == 0 {
            return Err(DenseError::Damaged {
                path,
                message: format!(
                    "{} bytes, not the mean and {dims} components of {dim} values ({want})",
                    bytes.len()
                ),
            });
        }
        let mut lines = bytes.chunks_exact(4 * dim).map(|line| {
            line.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>()
        });
        let mean = lines.next().unwrap_or_default();
        Ok(Projection {
            mean,
            components: lines.collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Storage, store::testing::rows_in};

    #[test]
    fn the_components_are_the_directions_of_the_largest_variance_in_order() {
        // Rows spread 3 along the second axis, 1 along the third, not at all along the first,
        // around the mean (1, 0, 0).
        let rows: Vec<Vec<f32>> = (0..64)
            .map(|i| {
                let (a, b) = ((i % 8) as f32 - 3.5, (i / 8) as f32 - 3.5);
                vec![1.0, 3.0 * a, b]
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let vectors = rows_in(dir.path(), Storage::F32, &rows);
        let projection = Projection::fit(&vectors, 2);
        assert_eq!(projection.dims(), 2);
        for (m, want) in projection.mean.iter().zip([1.0, 0.0, 0.0]) {
            assert!((m - want).abs() < 1e-5, "{:?}", projection.mean);
        }
        let axis = |c: &[f32]| c.iter().map(|v| v.abs()).collect::<Vec<_>>();
        assert_eq!(axis(&projection.components[0]), [0.0, 1.0, 0.0]);
        assert_eq!(axis(&projection.components[1]), [0.0, 0.0, 1.0]);
        // A row's coordinates: its offsets from the mean along each component (up to sign).
        let y = projection.apply(&[1.0, 6.0, -2.0]);
        assert!(
            (y[0].abs() - 6.0).abs() < 1e-4 && (y[1].abs() - 2.0).abs() < 1e-4,
            "{y:?}"
        );
    }

    #[test]
    fn a_projection_reads_back_as_written_and_a_short_file_is_damaged() {
        let rows: Vec<Vec<f32>> = (0..40)
            .map(|i| vec![(i as f32).sin(), (i as f32).cos(), 0.1 * i as f32, 1.0])
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let vectors = rows_in(dir.path(), Storage::F32, &rows);
        let projection = Projection::fit(&vectors, 3);
        projection.save(dir.path()).unwrap();
        assert_eq!(Projection::load(dir.path(), 4, 3).unwrap(), projection);
        let e = Projection::load(dir.path(), 4, 2).unwrap_err().to_string();
        assert!(e.contains("projection.bin") && e.contains("damaged"), "{e}");
    }
}
