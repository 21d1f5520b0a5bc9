//! What the dense benches share: a stream of random unit vectors and rows written as a dense
//! folder stores them.

use std::{io::Write as _, path::Path};

use dense::{Storage, Vectors};

pub const DIM: usize = 384;

/// A xorshift stream of unit vectors: the same for every run.
pub struct Unit(pub u64);

impl Unit {
    /// The stream the rows are drawn from.
    pub fn rows() -> Unit {
        Unit(0x9e37_79b9_7f4a_7c15)
    }

    /// A value in [-1, 1].
    pub fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 2001) as f32 / 1000.0 - 1.0
    }

    pub fn next(&mut self) -> Vec<f32> {
        unit((0..DIM).map(|_| self.uniform()).collect())
    }
}

/// `v` scaled to length 1.
pub fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// `vectors` (of one length) written into `dir` as rows of `storage`, mapped.
pub fn write_rows(
    dir: &Path,
    storage: Storage,
    vectors: impl Iterator<Item = Vec<f32>>,
) -> Vectors {
    let mut rows = std::io::BufWriter::new(std::fs::File::create(dir.join("vectors.bin")).unwrap());
    let (mut row, mut scales) = (Vec::new(), Vec::new());
    let (mut n, mut dim) = (0, DIM);
    for vector in vectors {
        dim = vector.len();
        row.clear();
        storage.encode(&vector, &mut row, &mut scales);
        rows.write_all(&row).unwrap();
        n += 1;
    }
    drop(rows);
    if storage == Storage::I8 {
        std::fs::write(dir.join("scales.bin"), &scales).unwrap();
    }
    Vectors::open(dir, storage, dim, n).unwrap()
}
