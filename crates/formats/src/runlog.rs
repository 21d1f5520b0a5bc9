//! The JSONL run log: streaming reads with line numbers, crash-safe appends, resume, manifests.
//!
//! Invariant: an output file only ever holds complete records, one per line. A process killed
//! mid-write leaves at most one torn last line; [`RunLog::resume`] cuts it off, so a restarted
//! run neither loses nor duplicates an accepted record.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write},
    marker::PhantomData,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::FormatError;

/// Streams records of type `T` from JSONL, one item per non-blank line.
///
/// A line that is not valid UTF-8 or not a valid `T` yields [`FormatError::BadLine`] and the
/// iteration goes on with the next line; an I/O error yields [`FormatError::Io`] and ends it.
pub struct JsonlReader<R, T> {
    input: BufReader<R>,
    path: String,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    _record: PhantomData<T>,
}

/// Opens `path` as a stream of JSONL records.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<JsonlReader<File, T>, FormatError> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    Ok(JsonlReader::new(file, path.display().to_string()))
}

impl<R: Read, T: DeserializeOwned> JsonlReader<R, T> {
    /// Reads from any byte stream; `path` is only used in error messages.
    pub fn new(input: R, path: impl Into<String>) -> Self {
        JsonlReader {
            input: BufReader::with_capacity(1 << 16, input),
            path: path.into(),
            line: 0,
            buf: Vec::new(),
            done: false,
            _record: PhantomData,
        }
    }

    /// The 1-based number of the line last read.
    pub fn line(&self) -> u64 {
        self.line
    }

    fn bad_line(&self, message: String) -> FormatError {
        FormatError::BadLine {
            path: self.path.clone(),
            line: self.line,
            message,
        }
    }
}

impl<R: Read, T: DeserializeOwned> Iterator for JsonlReader<R, T> {
    type Item = Result<T, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    let Ok(text) = std::str::from_utf8(&self.buf) else {
                        return Some(Err(self.bad_line("not valid UTF-8".into())));
                    };
                    if text.trim().is_empty() {
                        continue;
                    }
                    return Some(
                        serde_json::from_str(text).map_err(|e| self.bad_line(e.to_string())),
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.done = true;
                    return Some(Err(FormatError::Io {
                        path: self.path.clone(),
                        error,
                    }));
                }
            }
        }
        None
    }
}

/// An append-only JSONL output that survives being killed at any point.
pub struct RunLog {
    path: PathBuf,
    out: BufWriter<File>,
    appended: u64,
}

impl RunLog {
    /// Creates `path` (and its parent folders) empty, replacing what it held.
    pub fn create(path: &Path) -> Result<RunLog, FormatError> {
        Self::open(path, false)
    }

    /// Opens `path` to go on appending: the complete lines already in it are kept, a torn last
    /// line left by a crash is cut off. Read the kept records with [`read_jsonl`] first. A
    /// missing file is created.
    pub fn resume(path: &Path) -> Result<RunLog, FormatError> {
        Self::open(path, true)
    }

    fn open(path: &Path, resume: bool) -> Result<RunLog, FormatError> {
        let io = |e| FormatError::io(path, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let keep = if resume {
            complete_prefix_len(&mut file).map_err(io)?
        } else {
            0
        };
        file.set_len(keep).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(RunLog {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            appended: 0,
        })
    }

    /// Appends one record as one line. Durable after the next [`RunLog::commit`].
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<(), FormatError> {
        let mut line = serde_json::to_vec(record).map_err(|e| FormatError::BadLine {
            path: self.path.display().to_string(),
            line: self.appended + 1,
            message: format!("record cannot be serialised: {e}"),
        })?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .map_err(|e| FormatError::io(&self.path, e))?;
        self.appended += 1;
        Ok(())
    }

    /// Flushes and syncs what was appended so far to disk.
    pub fn commit(&mut self) -> Result<(), FormatError> {
        let io = |e| FormatError::io(&self.path, e);
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_data().map_err(io)
    }

    /// Records appended through this handle (not counting those kept on resume).
    pub fn appended(&self) -> u64 {
        self.appended
    }
}

/// Length of the file up to and including its last newline.
fn complete_prefix_len(file: &mut File) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut end = len;
    let mut chunk = vec![0u8; 1 << 16];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk[..n])?;
        if let Some(i) = chunk[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// What a run was asked to do and what it did; written beside its output as
/// `<output>.manifest.json` so a resumed run can refuse to mix settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub command: String,
    pub version: String,
    pub inputs: Vec<String>,
    /// The settings that determine the output; a resume must match them exactly.
    pub config: serde_json::Value,
    /// Counters filled in as the run goes (records written, skipped by reason, …).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Whether the run reached its end.
    #[serde(default)]
    pub complete: bool,
}

impl RunManifest {
    /// The manifest of a `command` run (not yet complete, nothing counted) over `inputs` with the
    /// settings `config`, stamped with this build's version.
    pub fn new(command: &str, inputs: Vec<String>, config: serde_json::Value) -> RunManifest {
        RunManifest {
            command: command.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs,
            config,
            counts: BTreeMap::new(),
            complete: false,
        }
    }

    /// The manifest at `manifest` of the run this one goes on from, checked to record the same
    /// command, inputs and settings ([`RunManifest::check_resumable`]); `None` when there is none
    /// and `output` (a file or a directory) holds nothing yet. An output that holds records but
    /// has no manifest is refused: nothing says how its records were made.
    pub fn resumes(
        &self,
        manifest: &Path,
        output: &Path,
    ) -> Result<Option<RunManifest>, FormatError> {
        match RunManifest::load(manifest)? {
            Some(previous) => {
                self.check_resumable(&previous, output)?;
                Ok(Some(previous))
            }
            None if fs::metadata(output).is_ok_and(|m| m.is_dir() || m.len() > 0) => {
                Err(FormatError::NoManifest {
                    path: output.display().to_string(),
                })
            }
            None => Ok(None),
        }
    }

    /// Where the manifest of `output` lives.
    pub fn path_for(output: &Path) -> PathBuf {
        let mut name = output.as_os_str().to_owned();
        name.push(".manifest.json");
        PathBuf::from(name)
    }

    /// Reads a manifest, `None` if there is none.
    pub fn load(path: &Path) -> Result<Option<RunManifest>, FormatError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FormatError::io(path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| FormatError::BadLine {
                path: path.display().to_string(),
                line: e.line() as u64,
                message: e.to_string(),
            })
    }

    /// Writes the manifest whole ([`crate::staged::write_whole`]).
    pub fn save(&self, path: &Path) -> Result<(), FormatError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| FormatError::io(path, io::Error::other(e)))?;
        crate::staged::write_whole(path, (text + "\n").as_bytes())
    }

    /// Fails if `previous` (the manifest found beside an output being resumed) was produced with
    /// other settings, naming the first setting that differs.
    pub fn check_resumable(&self, previous: &RunManifest, path: &Path) -> Result<(), FormatError> {
        let mismatch = |field: &str, was: String, now: String| FormatError::ManifestMismatch {
            path: path.display().to_string(),
            field: field.to_string(),
            was,
            now,
        };
        if previous.command != self.command {
            return Err(mismatch(
                "command",
                previous.command.clone(),
                self.command.clone(),
            ));
        }
        if previous.inputs != self.inputs {
            return Err(mismatch(
                "inputs",
                previous.inputs.join(","),
                self.inputs.join(","),
            ));
        }
        if previous.config == self.config {
            return Ok(());
        }
        let (old, new) = (&previous.config, &self.config);
        let field = match (old.as_object(), new.as_object()) {
            (Some(o), Some(n)) => o
                .keys()
                .chain(n.keys())
                .find(|k| o.get(*k) != n.get(*k))
                .cloned()
                .unwrap_or_else(|| "config".into()),
            _ => "config".into(),
        };
        let pick = |v: &serde_json::Value| match v.get(&field) {
            Some(x) => x.to_string(),
            None if field == "config" => v.to_string(),
            None => "unset".into(),
        };
        Err(mismatch(&field, pick(old), pick(new)))
    }
}

/// A run's manifest while the run goes on, kept beside its output: saved with the counts when
/// the run starts, at checkpoints and at its end, where it is marked complete. A run killed at
/// any point leaves a manifest that says what it was asked, how far it got and that it did not
/// finish.
#[derive(Debug)]
pub struct Run {
    manifest: RunManifest,
    path: PathBuf,
}

/// Records between two saves of the counts ([`Run::checkpoint`]).
pub const CHECKPOINT_EVERY: u64 = 16;

impl Run {
    /// The run `manifest` describes, writing `output`: started over, or with `resume` going on
    /// from the run whose manifest is beside `output` ([`RunManifest::resumes`]: refused when its
    /// settings differ or `output` holds records no manifest describes). Also returns that
    /// earlier manifest, `None` when there was none. Nothing is written yet.
    pub fn open(
        manifest: RunManifest,
        output: &Path,
        resume: bool,
    ) -> Result<(Run, Option<RunManifest>), FormatError> {
        let path = RunManifest::path_for(output);
        let previous = if resume {
            manifest.resumes(&path, output)?
        } else {
            None
        };
        Ok((Run { manifest, path }, previous))
    }

    /// Saves the manifest with `counts`, the run not complete.
    pub fn save(&mut self, counts: BTreeMap<String, u64>) -> Result<(), FormatError> {
        self.manifest.counts = counts;
        self.manifest.save(&self.path)
    }

    /// Saves the counts when `written`, the records written so far, is a multiple of
    /// [`CHECKPOINT_EVERY`].
    pub fn checkpoint(
        &mut self,
        written: u64,
        counts: impl FnOnce() -> BTreeMap<String, u64>,
    ) -> Result<(), FormatError> {
        if written.is_multiple_of(CHECKPOINT_EVERY) {
            self.save(counts())?;
        }
        Ok(())
    }

    /// Saves the manifest with the final `counts`, marked complete; returns where it is.
    pub fn finish(mut self, counts: BTreeMap<String, u64>) -> Result<PathBuf, FormatError> {
        self.manifest.complete = true;
        self.save(counts)?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Rec {
        id: u32,
    }

    #[test]
    fn reader_reports_bad_lines_and_goes_on() {
        let input = "{\"id\":1}\n\nnot json\n{\"id\":2}\n\u{0}\u{0}\n";
        let got: Vec<_> = JsonlReader::<_, Rec>::new(input.as_bytes(), "x.jsonl").collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap(), &Rec { id: 1 });
        let err = got[1].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("x.jsonl:3:"), "{err}");
        assert_eq!(got[2].as_ref().unwrap(), &Rec { id: 2 });
        assert!(got[3].is_err());
    }

    #[test]
    fn reader_flags_invalid_utf8_with_line_number() {
        let input: &[u8] = b"{\"id\":1}\n\xff\xfe\n";
        let got: Vec<_> = JsonlReader::<_, Rec>::new(input, "y").collect();
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "y:2: not valid UTF-8"
        );
    }

    #[test]
    fn resume_cuts_torn_line_and_keeps_complete_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "{\"id\":1}\n{\"id\":2}\n{\"id\":").unwrap();
        let mut log = RunLog::resume(&path).unwrap();
        log.append(&Rec { id: 3 }).unwrap();
        log.commit().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"
        );
        assert_eq!(log.appended(), 1);
    }

    #[test]
    fn no_resume_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.jsonl");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{\"id\":1}\n").unwrap();
        let mut log = RunLog::create(&path).unwrap();
        log.append(&Rec { id: 9 }).unwrap();
        drop(log);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"id\":9}\n");
    }

    #[test]
    fn torn_file_without_any_newline_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, vec![b'x'; 200_000]).unwrap();
        drop(RunLog::resume(&path).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    fn manifest(config: serde_json::Value) -> RunManifest {
        RunManifest::new("ramp", vec!["p.jsonl".into()], config)
    }

    #[test]
    fn manifest_round_trip_and_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ramp.jsonl");
        let path = RunManifest::path_for(&out);
        assert!(path.to_string_lossy().ends_with("ramp.jsonl.manifest.json"));
        assert_eq!(RunManifest::load(&path).unwrap(), None);
        let m = manifest(json!({"seed": 1, "spans": "anchors"}));
        m.save(&path).unwrap();
        let back = RunManifest::load(&path).unwrap().unwrap();
        assert_eq!(back, m);
        m.check_resumable(&back, &out).unwrap();
        let err = manifest(json!({"seed": 2, "spans": "anchors"}))
            .check_resumable(&back, &out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("seed: was 1, now 2"), "{err}");
    }

    #[test]
    fn resumes_only_outputs_whose_manifest_says_how_they_were_made() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ramp.jsonl");
        let path = RunManifest::path_for(&out);
        let m = manifest(json!({"seed": 1}));
        // Nothing yet, or an empty file: a fresh start.
        assert_eq!(m.resumes(&path, &out).unwrap(), None);
        fs::write(&out, "").unwrap();
        assert_eq!(m.resumes(&path, &out).unwrap(), None);
        // Records without a manifest: refused, for a file and for a directory of rounds.
        fs::write(&out, "{\"id\":1}\n").unwrap();
        let err = m.resumes(&path, &out).unwrap_err();
        assert!(matches!(err, FormatError::NoManifest { .. }), "{err}");
        assert!(matches!(
            m.resumes(&path, dir.path()).unwrap_err(),
            FormatError::NoManifest { .. }
        ));
        // With its manifest: the previous run, or a mismatch.
        m.save(&path).unwrap();
        assert_eq!(m.resumes(&path, &out).unwrap(), Some(m.clone()));
        let err = manifest(json!({"seed": 2}))
            .resumes(&path, &out)
            .unwrap_err();
        assert!(matches!(err, FormatError::ManifestMismatch { .. }), "{err}");
    }

    #[test]
    fn a_run_saves_its_counts_at_checkpoints_and_is_complete_only_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("eval.jsonl");
        let counts = |n: u64| BTreeMap::from([("written".to_string(), n)]);
        let saved = || {
            RunManifest::load(&RunManifest::path_for(&out))
                .unwrap()
                .unwrap()
        };
        let (mut run, previous) = Run::open(manifest(json!({"seed": 1})), &out, true).unwrap();
        assert_eq!(previous, None);
        run.save(counts(0)).unwrap();
        for n in 1..CHECKPOINT_EVERY + 3 {
            run.checkpoint(n, || counts(n)).unwrap();
        }
        assert_eq!(
            saved().counts,
            counts(CHECKPOINT_EVERY),
            "the last checkpoint"
        );
        assert!(!saved().complete);
        // A resume with other settings is refused; with the same, it sees how far the run got.
        let err = Run::open(manifest(json!({"seed": 2})), &out, true).unwrap_err();
        assert!(matches!(err, FormatError::ManifestMismatch { .. }), "{err}");
        let (_, previous) = Run::open(manifest(json!({"seed": 1})), &out, true).unwrap();
        assert_eq!(previous.unwrap().counts, counts(CHECKPOINT_EVERY));
        assert_eq!(run.finish(counts(18)).unwrap(), RunManifest::path_for(&out));
        assert!(saved().complete);
        assert_eq!(saved().counts, counts(18));
    }
}
