//! Files written beside their destination and renamed into place only when whole.
//!
//! A [`Staged`] file is `<dest>.partial` in the destination's folder (so the rename cannot
//! cross file systems). [`Staged::commit`] syncs it, renames it over `<dest>` and syncs the
//! folder; dropping it uncommitted removes the partial file. A process killed before the commit
//! leaves `<dest>` as it was (at worst a stray `.partial`, replaced by the next run).
//!
//! Every file masksearch replaces whole goes through here: exports, manifests, `reward --out`,
//! the self-evolving rounds' batches and merges, eval reports. A command that commits several
//! files one rename after another brackets the renames with its manifest ([`commit_all`]), so a
//! kill between two of them leaves a manifest that says the folder holds a mix of this run's
//! files and the previous one's.

use std::{
    fs::{self, File},
    io::{self, BufWriter, Write as _},
    path::{Path, PathBuf},
};

use serde::Serialize;

use crate::{FormatError, RunManifest};

/// A file being written as `<dest>.partial`, to replace `<dest>` whole on [`Staged::commit`]
/// or to vanish when dropped uncommitted.
#[derive(Debug)]
pub struct Staged {
    dest: PathBuf,
    partial: PathBuf,
    file: File,
    committed: bool,
}

impl Staged {
    /// Creates `<dest>.partial`, empty (a partial file a killed run left there is truncated),
    /// open for reading too (a database file reads what it writes).
    pub fn create(dest: &Path) -> Result<Staged, FormatError> {
        let mut name = dest.as_os_str().to_owned();
        name.push(".partial");
        let partial = PathBuf::from(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| FormatError::io(&partial, e))?;
        Ok(Staged {
            dest: dest.to_path_buf(),
            partial,
            file,
            committed: false,
        })
    }

    /// `bytes` as the whole new content of `dest`, staged, to be committed.
    pub fn with_contents(dest: &Path, bytes: &[u8]) -> Result<Staged, FormatError> {
        let staged = Staged::create(dest)?;
        (&staged.file)
            .write_all(bytes)
            .map_err(|e| FormatError::io(&staged.partial, e))?;
        Ok(staged)
    }

    /// A second handle on the partial file for a writer to own; flush it before committing.
    pub fn writer(&self) -> Result<File, FormatError> {
        self.file
            .try_clone()
            .map_err(|e| FormatError::io(&self.partial, e))
    }

    /// The file this one replaces on commit.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs the partial file, renames it over the destination and syncs the folder.
    pub fn commit(mut self) -> Result<(), FormatError> {
        self.file
            .sync_all()
            .map_err(|e| FormatError::io(&self.partial, e))?;
        fs::rename(&self.partial, &self.dest).map_err(|e| FormatError::io(&self.dest, e))?;
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

/// A JSONL file written as a [`Staged`] one: lines appended through a buffer, the whole file
/// committed at the end or dropped.
pub struct StagedLines {
    staged: Staged,
    out: BufWriter<File>,
    rows: u64,
}

impl StagedLines {
    pub fn create(dest: &Path) -> Result<StagedLines, FormatError> {
        let staged = Staged::create(dest)?;
        let out = BufWriter::with_capacity(1 << 16, staged.writer()?);
        Ok(StagedLines {
            staged,
            out,
            rows: 0,
        })
    }

    /// Appends `record` as one JSON line.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<(), FormatError> {
        serde_json::to_writer(&mut self.out, record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| FormatError::io(&self.staged.partial, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Appends a line already written as JSON.
    pub fn write_line(&mut self, line: &str) -> Result<(), FormatError> {
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| FormatError::io(&self.staged.partial, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Lines written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The file this one replaces on commit.
    pub fn dest(&self) -> &Path {
        self.staged.dest()
    }

    /// Flushes the lines; the staged file, to be committed.
    pub fn finish(mut self) -> Result<Staged, FormatError> {
        self.out
            .flush()
            .map_err(|e| FormatError::io(&self.staged.partial, e))?;
        Ok(self.staged)
    }
}

/// Removes the file at `path`; one that is already absent is not an error.
pub fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Replaces `dest` with `bytes`, whole: staged and committed.
pub fn write_whole(dest: &Path, bytes: &[u8]) -> Result<(), FormatError> {
    Staged::with_contents(dest, bytes)?.commit()
}

/// Commits `files` in order between two saves of `manifest` at `path`: `complete: false` before
/// the first rename, `complete: true` after the last. A kill or an error between two renames
/// leaves the manifest saying the export is incomplete, never the previous export's manifest
/// describing files that have since been replaced. Of `stale` (files an earlier run into the
/// same place may have written), those this run did not write are removed before the manifest
/// says complete, so the folder holds exactly the files of the last run.
pub fn commit_all(
    files: Vec<Staged>,
    stale: impl IntoIterator<Item = PathBuf>,
    mut manifest: RunManifest,
    path: &Path,
) -> Result<(), FormatError> {
    manifest.complete = false;
    manifest.save(path)?;
    let written: Vec<PathBuf> = files.iter().map(|f| f.dest().to_path_buf()).collect();
    for file in files {
        file.commit()?;
    }
    for old in stale.into_iter().filter(|p| !written.contains(p)) {
        remove_if_present(&old).map_err(|e| FormatError::io(&old, e))?;
    }
    manifest.complete = true;
    manifest.save(path)?;
    Ok(())
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

    /// A file is removed, an absent one is no error, and what cannot be removed as a file (a
    /// folder) is.
    #[test]
    fn remove_if_present_removes_a_file_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a");
        fs::write(&file, b"x").unwrap();
        remove_if_present(&file).unwrap();
        assert!(!file.exists());
        remove_if_present(&file).unwrap();
        assert!(remove_if_present(dir.path()).is_err());
    }

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

    fn manifest(complete: bool) -> RunManifest {
        RunManifest {
            command: "export test".into(),
            version: "0".into(),
            inputs: vec![],
            config: serde_json::Value::Null,
            counts: Default::default(),
            complete,
        }
    }

    #[test]
    fn the_manifest_says_incomplete_while_files_are_half_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (train, val) = (dir.path().join("train.jsonl"), dir.path().join("val.jsonl"));
        let path = dir.path().join("manifest.json");
        fs::write(&train, "old\n").unwrap();
        manifest(true).save(&path).unwrap();
        // A folder where val.jsonl goes: its rename fails after train.jsonl's succeeded.
        fs::create_dir(&val).unwrap();
        let files = vec![
            Staged::with_contents(&train, b"new\n").unwrap(),
            Staged::with_contents(&val, b"new\n").unwrap(),
        ];
        commit_all(files, [], manifest(true), &path).unwrap_err();
        assert_eq!(fs::read_to_string(&train).unwrap(), "new\n");
        assert!(!RunManifest::load(&path).unwrap().unwrap().complete);
        assert!(!dir.path().join("val.jsonl.partial").exists());

        fs::remove_dir(&val).unwrap();
        let files = vec![Staged::with_contents(&val, b"new\n").unwrap()];
        commit_all(files, [], manifest(false), &path).unwrap();
        assert_eq!(fs::read_to_string(&val).unwrap(), "new\n");
        assert!(RunManifest::load(&path).unwrap().unwrap().complete);
    }

    #[test]
    fn files_of_an_earlier_run_that_this_one_did_not_write_go() {
        let dir = tempfile::tempdir().unwrap();
        let (train, val) = (dir.path().join("train.jsonl"), dir.path().join("val.jsonl"));
        let path = dir.path().join("manifest.json");
        fs::write(&val, "an earlier export's split\n").unwrap();
        let files = vec![Staged::with_contents(&train, b"new\n").unwrap()];
        let never = dir.path().join("never-written.jsonl");
        commit_all(
            files,
            [train.clone(), val.clone(), never],
            manifest(false),
            &path,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(&train).unwrap(),
            "new\n",
            "written, so kept"
        );
        assert!(!val.exists());
        assert!(RunManifest::load(&path).unwrap().unwrap().complete);
    }
}
