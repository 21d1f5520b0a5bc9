//! Files written beside their destination and renamed into place only when whole.
//!
//! A [`Staged`] file is `<dest>.partial` in the destination's folder (so the rename cannot
//! cross file systems). [`Staged::commit`] syncs it, renames it over `<dest>` and syncs the
//! folder; dropping it uncommitted removes the partial file. A process killed before the commit
//! leaves `<dest>` as it was (at worst a stray `.partial`, replaced by the next run).

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::ExportError;

pub(crate) struct Staged {
    dest: PathBuf,
    partial: PathBuf,
    file: File,
    committed: bool,
}

impl Staged {
    /// Creates `<dest>.partial`, empty.
    pub(crate) fn create(dest: &Path) -> Result<Staged, ExportError> {
        let mut name = dest.as_os_str().to_owned();
        name.push(".partial");
        let partial = PathBuf::from(name);
        let file = File::create(&partial).map_err(|e| ExportError::io(&partial, e))?;
        Ok(Staged {
            dest: dest.to_path_buf(),
            partial,
            file,
            committed: false,
        })
    }

    /// `bytes` as the whole new content of `dest`, committed at once.
    pub(crate) fn write_whole(dest: &Path, bytes: &[u8]) -> Result<(), ExportError> {
        let staged = Staged::create(dest)?;
        (&staged.file)
            .write_all(bytes)
            .map_err(|e| ExportError::io(&staged.partial, e))?;
        staged.commit()
    }

    /// A second handle on the partial file for a writer to own; flush it before committing.
    pub(crate) fn writer(&self) -> Result<File, ExportError> {
        self.file
            .try_clone()
            .map_err(|e| ExportError::io(&self.partial, e))
    }

    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs the partial file, renames it over the destination and syncs the folder.
    pub(crate) fn commit(mut self) -> Result<(), ExportError> {
        self.file
            .sync_all()
            .map_err(|e| ExportError::io(&self.partial, e))?;
        fs::rename(&self.partial, &self.dest).map_err(|e| ExportError::io(&self.dest, e))?;
        self.committed = true;
        let folder = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Makes the rename itself durable; a folder that cannot be opened for syncing (some
        // file systems) still holds the renamed file.
        if let Ok(dir) = File::open(folder) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn the_destination_changes_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("train.jsonl");
        fs::write(&dest, "old\n").unwrap();

        let staged = Staged::create(&dest).unwrap();
        staged.writer().unwrap().write_all(b"half a rec").unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old\n");
        assert!(dir.path().join("train.jsonl.partial").exists());
        drop(staged);
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old\n");
        assert!(!dir.path().join("train.jsonl.partial").exists());

        let staged = Staged::create(&dest).unwrap();
        staged.writer().unwrap().write_all(b"new\n").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new\n");
        assert!(!dir.path().join("train.jsonl.partial").exists());
    }

    #[test]
    fn write_whole_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dataset_info.json");
        Staged::write_whole(&dest, b"{}").unwrap();
        Staged::write_whole(&dest, b"{\"a\": 1}").unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "{\"a\": 1}");
    }
}
