//! A flat faiss index as `faiss.write_index` writes it — Search-R1's `e5_Flat.index` is one —
//! read row by row (64.5 GB at wiki-18's size: never whole).
//!
//! The layout: the class's four characters (`IxFI` inner product, `IxF2` L2), the dimension
//! (i32), the number of rows (i64), two unused i64, `is_trained` (one byte), the metric (i32;
//! one more f32 after it for metrics past L2), the number of floats (u64), then the rows, all
//! little-endian.

use std::{
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use crate::DenseError;

/// An open flat faiss index, positioned at its next row.
pub(crate) struct FaissFlat {
    path: PathBuf,
    input: BufReader<File>,
    dim: usize,
    count: u64,
}

impl FaissFlat {
    pub(crate) fn open(path: &Path) -> Result<FaissFlat, DenseError> {
        let damaged = |message: String| DenseError::Damaged {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| DenseError::io(path, e))?;
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut read = |n: usize| -> Result<Vec<u8>, DenseError> {
            let mut bytes = vec![0; n];
            input
                .read_exact(&mut bytes)
                .map_err(|e| damaged(format!("the header ends early: {e}")))?;
            Ok(bytes)
        };
        let class = read(4)?;
        if class != b"IxFI" && class != b"IxF2" {
            return Err(damaged(format!(
                "not a flat faiss index (class {:?}; IndexFlatIP or IndexFlatL2 expected)",
                String::from_utf8_lossy(&class)
            )));
        }
        let dim = i32::from_le_bytes(read(4)?.try_into().expect("4 bytes"));
        let count = i64::from_le_bytes(read(8)?.try_into().expect("8 bytes"));
        read(8 + 8 + 1)?;
        let metric = i32::from_le_bytes(read(4)?.try_into().expect("4 bytes"));
        if metric > 1 {
            read(4)?;
        }
        let floats = u64::from_le_bytes(read(8)?.try_into().expect("8 bytes"));
        let (Ok(dim), Ok(count)) = (usize::try_from(dim), u64::try_from(count)) else {
            return Err(damaged(format!("{count} rows of {dim} values")));
        };
        if dim == 0 || floats != count * dim as u64 {
            return Err(damaged(format!(
                "{floats} values for {count} rows of {dim}"
            )));
        }
        Ok(FaissFlat {
            path: path.to_path_buf(),
            input,
            dim,
            count,
        })
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    /// Moves past the next `rows` rows.
    pub(crate) fn skip(&mut self, rows: u64) -> Result<(), DenseError> {
        self.input
            .seek(SeekFrom::Current((rows * 4 * self.dim as u64) as i64))
            .map(|_| ())
            .map_err(|e| DenseError::io(&self.path, e))
    }

    /// The next row.
    pub(crate) fn next_row(&mut self) -> Result<Vec<f32>, DenseError> {
        let mut bytes = vec![0; 4 * self.dim];
        self.input
            .read_exact(&mut bytes)
            .map_err(|e| DenseError::Damaged {
                path: self.path.clone(),
                message: format!("the rows end early: {e}"),
            })?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes faiss 1.15.1 wrote for `IndexFlatIP(4)` holding the rows 0..4, 4..8, 8..12.
    const WRITTEN: &str = "4978464904000000030000000000000000001000000000000000100000000000\
        01000000000c00000000000000000000000000803f0000004000004040000080\
        400000a0400000c0400000e04000000041000010410000204100003041";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_the_rows_faiss_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flat.index");
        std::fs::write(&path, hex(WRITTEN)).unwrap();
        let mut flat = FaissFlat::open(&path).unwrap();
        assert_eq!((flat.dim(), flat.len()), (4, 3));
        assert_eq!(flat.next_row().unwrap(), [0.0, 1.0, 2.0, 3.0]);
        flat.skip(1).unwrap();
        assert_eq!(flat.next_row().unwrap(), [8.0, 9.0, 10.0, 11.0]);
        assert!(flat.next_row().is_err(), "past the last row");
    }

    #[test]
    fn refuses_what_is_not_a_flat_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hnsw.index");
        let mut bytes = hex(WRITTEN);
        bytes[..4].copy_from_slice(b"IHNf");
        std::fs::write(&path, &bytes).unwrap();
        let e = FaissFlat::open(&path).err().unwrap().to_string();
        assert!(e.contains("not a flat faiss index"), "{e}");
        std::fs::write(&path, &hex(WRITTEN)[..40]).unwrap();
        let e = FaissFlat::open(&path).err().unwrap().to_string();
        assert!(e.contains("ends early"), "{e}");
    }
}
