//! The index folder as a query opens it: tantivy's `MmapDirectory`, but for the document store,
//! which is read, not mapped.
//!
//! A query fetches a few documents from a store of gigabytes (1.96 GB at 5M passages), each from
//! a compressed block of about 16 KB. Mapped, every fetch also maps the cached pages around it
//! (the kernel's fault-around, 64 KB, which `madvise(RANDOM)` does not turn off), and the pages
//! stay counted in the server's resident memory: 1,642 questions left 273 MB of the store
//! resident at 5M, and a server answering ever new questions would end up holding the whole
//! store. Read with `pread`, a fetch costs one system call and the server holds only the blocks
//! its cache keeps. Postings and term dictionaries stay mapped: queries walk them.

use std::{
    fs::File,
    io,
    ops::Range,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use tantivy::{
    Directory,
    directory::{
        DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle,
        WritePtr,
        error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError},
    },
};

/// `MmapDirectory` over `root`, its `.store` files read with `pread`.
#[derive(Clone, Debug)]
pub(crate) struct QueryDirectory {
    mapped: MmapDirectory,
    root: PathBuf,
}

impl QueryDirectory {
    pub(crate) fn open(root: &Path) -> Result<QueryDirectory, OpenDirectoryError> {
        Ok(QueryDirectory {
            mapped: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
        })
    }
}

/// A file read with `pread`, range by range.
#[derive(Debug)]
struct ReadFile {
    file: File,
    len: usize,
}

impl FileHandle for ReadFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.end > self.len || range.start > range.end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {range:?} of a file of {} bytes", self.len),
            ));
        }
        let mut bytes = vec![0; range.len()];
        self.file.read_exact_at(&mut bytes, range.start as u64)?;
        Ok(OwnedBytes::new(bytes))
    }
}

impl tantivy::HasLen for ReadFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl Directory for QueryDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if path.extension().is_none_or(|e| e != "store") {
            return self.mapped.get_file_handle(path);
        }
        let read_error = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::wrap_io_error(e, path.to_path_buf()),
        };
        let file = File::open(self.root.join(path)).map_err(read_error)?;
        let len = file.metadata().map_err(read_error)?.len() as usize;
        Ok(Arc::new(ReadFile { file, len }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store file is read range by range (none of it mapped); a range past its end is an
    /// error, not a short read.
    #[test]
    fn a_store_file_is_read_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.store"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("a.idx"), b"postings").unwrap();
        let directory = QueryDirectory::open(dir.path()).unwrap();
        let store = directory.get_file_handle(Path::new("a.store")).unwrap();
        assert_eq!(store.len(), 10);
        assert_eq!(store.read_bytes(2..5).unwrap().as_slice(), b"234");
        assert_eq!(store.read_bytes(10..10).unwrap().as_slice(), b"");
        assert!(store.read_bytes(8..11).is_err());
        let idx = directory.get_file_handle(Path::new("a.idx")).unwrap();
        assert_eq!(idx.read_bytes(0..8).unwrap().as_slice(), b"postings");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mapped = |name: &str| maps.lines().any(|l| l.ends_with(name));
        assert!(mapped("/a.idx"), "postings are mapped");
        assert!(!mapped("/a.store"), "the store is not mapped");
        assert!(matches!(
            directory.get_file_handle(Path::new("b.store")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
