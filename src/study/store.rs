//! The study folder on disk: its files, its lock, its manifest and the records file.
//!
//! # Model
//! A study folder holds the files the suite writes and nothing it needs from
//! elsewhere:
//!
//! | file | written by | contents |
//! |---|---|---|
//! | `spec.toml` | `simulate`, `merge` | the resolved spec (compared on `--resume`) |
//! | `replicates.jsonl` | `simulate`, `merge` | one [`Record`] per line |
//! | `summary.json` | `simulate`, `report`, `merge` | the [`Summary`](super::record::Summary) |
//! | `manifest.json` | every writer | provenance and the list of files written ([`Manifest`]) |
//! | `run.json`, `timings.jsonl` | `simulate` | wall times, threads, git revision (vary between runs) |
//! | `summary.md`, `summary.csv`, `replicates.csv`, figures | the report layer | tables and figures |
//! | `.meta-router.lock` | every writer, while it runs | who holds the folder |
//!
//! Every file's fields are documented in `docs/outputs.md`.
//!
//! # Algorithm
//! - **One writer per folder.** A writer opens `.meta-router.lock` and takes an
//!   exclusive advisory lock on it (`flock`, released by the operating system
//!   when the process ends, so a killed run leaves no stale lock); a second
//!   writer is refused with [`Error::Busy`] naming the holder recorded in the
//!   file. On release the holder deletes the file while still holding the lock;
//!   an acquirer checks that the path still names the file it locked and
//!   retries otherwise.
//! - **Replacing (`--force`)** removes only the files the manifest lists (and
//!   the suite's fixed file names), never the folder's other files. It refuses
//!   the working directory and its ancestors, the folder holding the spec, and
//!   any non-empty folder that has no study manifest.
//! - **Records** are appended a unit at a time. Loading reads bytes: whatever
//!   follows the last newline is a torn tail from an interrupted write (any
//!   byte, even half a UTF-8 character) and is dropped and counted; every
//!   complete line must parse, and a line that does not is reported by number.
//! - Every other file is written by [`crate::files`]: a fresh temporary file
//!   in the folder, flushed to disk and renamed onto the target (never
//!   through a symbolic link); a failed write removes the temporary file, and
//!   the next writer removes one a killed process left.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::Record;
use crate::error::{Error, Result};
use crate::files::{self, Existing};

/// The resolved spec.
pub(crate) const SPEC_FILE: &str = "spec.toml";
/// Per-replicate records.
pub(crate) const RECORDS_FILE: &str = "replicates.jsonl";
/// The summary.
pub(crate) const SUMMARY_FILE: &str = "summary.json";
/// Provenance and the list of files written.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";
/// Wall times and other facts that vary between runs.
pub(crate) const RUN_FILE: &str = "run.json";
/// Per-record fit times.
pub(crate) const TIMINGS_FILE: &str = "timings.jsonl";
/// The writer's lock.
pub(crate) const LOCK_FILE: &str = ".meta-router.lock";
/// Version tag of [`Manifest`].
pub const MANIFEST_FORMAT: &str = "meta-router-study/1";

/// File names the suite writes in every study folder (besides figures and
/// reports, which the manifest lists).
const FIXED_FILES: &[&str] = &[
    SPEC_FILE,
    RECORDS_FILE,
    SUMMARY_FILE,
    MANIFEST_FILE,
    RUN_FILE,
    TIMINGS_FILE,
    "summary.md",
    "summary.csv",
    "replicates.csv",
];

/// Writes `contents` to `path` atomically, replacing an existing file
/// ([`files::write_file`] with [`Existing::Replace`]).
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    files::write_file(path, contents, Existing::Replace)
}

/// The temporary name earlier versions of the suite wrote `path` through.
fn legacy_tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// `manifest.json`: what the folder holds and where it came from. Every field
/// depends only on the spec and the code's version, so re-running the same
/// study with the same code rewrites it byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// Crate version that wrote the folder.
    pub crate_version: String,
    /// Study name.
    pub study: String,
    /// SHA-256 of the resolved spec (without a shard line).
    pub spec_hash: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates per grid point.
    pub replicates: usize,
    /// Shard `i/N`, if the folder holds one shard.
    pub shard: Option<String>,
    /// Units (grid point × replicate) the folder is meant to hold.
    pub units: usize,
    /// `running` while a writer works, `complete` when every unit is in.
    pub status: String,
    /// Files the suite wrote here (names relative to the folder), sorted.
    pub files: Vec<String>,
}

/// `run.json`: facts of the last run that vary from run to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Crate version.
    pub crate_version: String,
    /// Git revision the binary was built from, when known.
    pub git_revision: Option<String>,
    /// The linear-algebra backend of the run (`faer` or `openblas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Worker threads.
    pub threads: usize,
    /// Units computed by the last run.
    pub units_run: usize,
    /// Units taken from disk by the last run.
    pub units_resumed: usize,
    /// Wall time of the last run, seconds.
    pub seconds: f64,
    /// Sum of the per-record fit times of the last run, seconds.
    pub fit_seconds: f64,
    /// Set only by test runs that perturbed a method on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testing_perturbation: Option<String>,
}

/// One line of `timings.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Grid index.
    pub grid_index: usize,
    /// Replicate.
    pub replicate: usize,
    /// Method label.
    pub method: String,
    /// Wall time of the method's fit and evaluation, seconds.
    pub seconds: f64,
}

/// Reads a folder's manifest: `Ok(None)` when there is none, an error when it
/// exists but is not a study manifest. A manifest written by an earlier
/// version of the suite (no `format` field) is read as one that lists the
/// figures those versions drew.
pub(crate) fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match files::read_bounded(&path, 4.0) {
        Ok(bytes) => bytes,
        Err(Error::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let not_ours = |detail: String| Error::Parse {
        path: path.display().to_string(),
        line: None,
        message: format!("not a meta-router study manifest ({detail})"),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| not_ours(e.to_string()))?;
    if value.get("format").is_none() {
        return match value.get("study").and_then(|s| s.as_str()) {
            Some(study) if value.get("crate_version").is_some() => {
                Ok(Some(legacy_manifest(dir, study)))
            }
            _ => Err(not_ours("no `format` field".into())),
        };
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| not_ours(e.to_string()))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(not_ours(format!(
            "format `{}`, expected `{MANIFEST_FORMAT}`",
            manifest.format
        )));
    }
    Ok(Some(manifest))
}

/// Figure names drawn by suite versions whose manifests listed no files.
const LEGACY_FIGURES: &[&str] = &[
    "eg_vs_rho",
    "neg_vs_rho",
    "mse_psi",
    "mse_delta",
    "regret_vs_w",
];

fn legacy_manifest(dir: &Path, study: &str) -> Manifest {
    let mut files: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| {
            let Some((stem, ext)) = name.rsplit_once('.') else {
                return false;
            };
            (ext == "png" || ext == "svg")
                && (LEGACY_FIGURES.contains(&stem) || stem.starts_with("coverage_"))
        })
        .collect();
    files.sort();
    Manifest {
        format: "legacy".into(),
        crate_version: String::new(),
        study: study.to_string(),
        spec_hash: String::new(),
        seed: 0,
        replicates: 0,
        shard: None,
        units: 0,
        status: "unknown".into(),
        files,
    }
}

/// Writes the manifest (atomically).
pub(crate) fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_string_pretty(manifest).expect("manifests serialize");
    text.push('\n');
    write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
}

/// Who holds the lock of `dir`, when a live process does (its recorded
/// holder line); `None` when nobody does or there is no lock file. Probing
/// opens the lock file for reading only (so anyone who may read the folder
/// may probe it, whoever left the file) and takes a shared lock for an
/// instant if nobody holds it.
pub(crate) fn lock_holder(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(LOCK_FILE);
    let file = match fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => return Err(Error::io(&path, cause)),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(None)
        }
        Err(fs::TryLockError::WouldBlock) => Ok(Some(
            fs::read_to_string(&path)
                .map(|t| t.trim().to_string())
                .unwrap_or_default(),
        )),
        Err(fs::TryLockError::Error(cause)) => Err(Error::io(&path, cause)),
    }
}

/// An exclusive writer's lock on a study folder, released (and its file
/// removed) on drop.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    file: Option<fs::File>,
}

impl FolderLock {
    /// Locks `dir` (which must exist) for `command` (recorded for whoever is
    /// refused). Fails with [`Error::Busy`] when another process holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        // A `status` probe holds a free lock for an instant; a few short
        // retries keep it from failing a run that starts at that moment.
        let mut busy_retries = 5;
        for _ in 0..100 {
            let mut file = files::open_lock_file(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) if busy_retries > 0 => {
                    busy_retries -= 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "holder unknown".into());
                    return Err(Error::Busy {
                        path: dir.display().to_string(),
                        holder,
                    });
                }
                Err(fs::TryLockError::Error(cause)) => return Err(Error::io(&path, cause)),
            }
            if !same_file(&file, &path) {
                // The previous holder removed the file between our open and
                // our lock: we hold a lock on a deleted file. Try again.
                continue;
            }
            let holder = format!(
                "pid {}, `{command}`, since unix time {}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            );
            file.set_len(0)
                .and_then(|_| file.write_all(holder.as_bytes()))
                .and_then(|_| file.flush())
                .map_err(|cause| Error::io(&path, cause))?;
            return Ok(Self {
                path,
                file: Some(file),
            });
        }
        Err(Error::study(
            dir,
            "could not take the folder's lock (it kept being replaced); try again",
        ))
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Remove the file while the lock is still held, then release it.
        let _ = fs::remove_file(&self.path);
        if let Some(file) = self.file.take() {
            let _ = file.unlock();
        }
    }
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &fs::File, path: &Path) -> bool {
    path.exists()
}

/// How an output folder may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The folder must not exist or be empty.
    Fresh,
    /// Continue the study in the folder.
    Resume,
    /// Replace the suite's files in the folder.
    Force,
}

/// An output folder opened for writing: locked, and able to undo its own
/// creation if the command fails before finishing.
#[derive(Debug)]
pub struct OpenFolder {
    /// The folder.
    pub dir: PathBuf,
    /// Whether this process created it.
    pub created: bool,
    lock: Option<FolderLock>,
}

impl OpenFolder {
    /// Opens `dir` for writing by `command`: creates it if needed, takes the
    /// lock, then applies `mode` (removing the suite's files under
    /// [`OpenMode::Force`]). `protected` lists paths that must never be
    /// replaced (the spec's own folder, say); the working directory and its
    /// ancestors are always protected.
    pub fn open(dir: &Path, mode: OpenMode, command: &str, protected: &[PathBuf]) -> Result<Self> {
        if mode == OpenMode::Force {
            refuse_protected(dir, protected)?;
        }
        if dir.exists() && !dir.is_dir() {
            return Err(Error::study(dir, "exists and is not a folder"));
        }
        let created = !dir.exists();
        if created {
            fs::create_dir_all(dir).map_err(|cause| Error::io(dir, cause))?;
        }
        let lock = match FolderLock::acquire(dir, command) {
            Ok(lock) => lock,
            Err(e) => {
                if created {
                    let _ = fs::remove_dir(dir);
                }
                return Err(e);
            }
        };
        let folder = Self {
            dir: dir.to_path_buf(),
            created,
            lock: Some(lock),
        };
        let prepared = (|| -> Result<()> {
            remove_stale_temporaries(dir);
            let occupied = other_entries(dir)?;
            match mode {
                OpenMode::Fresh if occupied => Err(occupied_error(dir)),
                OpenMode::Fresh => Ok(()),
                OpenMode::Resume => match read_manifest(dir)? {
                    Some(_) => Ok(()),
                    None if dir.join(SPEC_FILE).exists() => Ok(()),
                    None if !occupied => Ok(()),
                    None => Err(Error::study(
                        dir,
                        "not a study folder (no manifest.json): nothing to resume",
                    )),
                },
                OpenMode::Force => remove_suite_files(dir, occupied),
            }
        })();
        match prepared {
            Ok(()) => Ok(folder),
            Err(e) => {
                folder.abandon();
                Err(e)
            }
        }
    }

    /// Undoes what this command did to a folder it created: removes the
    /// suite's files and the folder itself if nothing else is in it.
    pub fn abandon(mut self) {
        drop(self.lock.take());
        if self.created {
            for name in FIXED_FILES {
                let _ = fs::remove_file(self.dir.join(name));
            }
            if let Ok(Some(manifest)) = read_manifest(&self.dir) {
                for name in manifest.files {
                    let _ = fs::remove_file(self.dir.join(name));
                }
            }
            let _ = fs::remove_file(self.dir.join(MANIFEST_FILE));
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Whether `dir` holds anything besides the lock file.
/// The refusal of a fresh run into a folder that holds files.
fn occupied_error(dir: &Path) -> Error {
    Error::study(
        dir,
        "the results folder exists and is not empty; use --resume to continue it or \
         --force to replace the study's files in it",
    )
}

/// What a fresh run (neither `--resume` nor `--force`) into `dir` would
/// refuse, checked before anything is computed: a folder holding files.
pub fn check_fresh(dir: &Path) -> Result<()> {
    if dir.is_dir() && other_entries(dir)? {
        return Err(occupied_error(dir));
    }
    Ok(())
}

fn other_entries(dir: &Path) -> Result<bool> {
    for entry in fs::read_dir(dir).map_err(|cause| Error::io(dir, cause))? {
        let entry = entry.map_err(|cause| Error::io(dir, cause))?;
        if entry.file_name() != LOCK_FILE {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes temporary files the suite may have left from an interrupted
/// write (of this version and of earlier ones).
fn remove_stale_temporaries(dir: &Path) {
    for name in FIXED_FILES {
        let _ = fs::remove_file(legacy_tmp_path(&dir.join(name)));
    }
    files::remove_stale_temporaries(dir, FIXED_FILES);
}

fn refuse_protected(dir: &Path, protected: &[PathBuf]) -> Result<()> {
    let Ok(target) = fs::canonicalize(dir) else {
        return Ok(()); // does not exist yet: nothing to replace
    };
    if let Ok(cwd) = std::env::current_dir().and_then(fs::canonicalize) {
        if cwd.starts_with(&target) {
            return Err(Error::study(
                dir,
                "refusing to replace the working directory or one of its parents; \
                 name a study folder below it with --out",
            ));
        }
    }
    for path in protected {
        if fs::canonicalize(path).is_ok_and(|p| p == target) {
            return Err(Error::study(
                dir,
                "refusing to replace the folder that holds the spec; choose another --out folder",
            ));
        }
    }
    Ok(())
}

/// `--force`: removes the files a previous run of the suite wrote (the
/// manifest's list and the fixed names), refusing folders without a manifest
/// that hold anything.
fn remove_suite_files(dir: &Path, occupied: bool) -> Result<()> {
    if !occupied {
        return Ok(());
    }
    let manifest = read_manifest(dir)?.ok_or_else(|| {
        Error::study(
            dir,
            "refusing to replace a folder that is not a study folder (no manifest.json); \
             choose an empty or new folder with --out",
        )
    })?;
    for name in FIXED_FILES
        .iter()
        .map(|s| s.to_string())
        .chain(manifest.files)
    {
        // Names come from a file on disk: accept plain file names only.
        if name.contains('/') || name.contains('\\') || name == ".." || name == "." {
            continue;
        }
        let path = dir.join(&name);
        if path.is_file() {
            fs::remove_file(&path).map_err(|cause| Error::io(&path, cause))?;
        }
    }
    Ok(())
}

/// Memory per byte of a records file while it is read and parsed.
const RECORDS_FACTOR: f64 = 4.0;

/// The records of a `replicates.jsonl`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordsFile {
    /// Every complete, parsed line, in file order.
    pub records: Vec<Record>,
    /// Bytes after the last newline (a torn write), dropped.
    pub torn_bytes: usize,
}

/// Reads `replicates.jsonl`; a missing file is an [`Error::Io`] (not found).
/// See the module docs for torn tails.
pub fn read_records(path: &Path) -> Result<RecordsFile> {
    let bytes = files::read_bounded(path, RECORDS_FACTOR)?;
    parse_records(&bytes, path)
}

/// Parses the bytes of a records file (`path` names it in errors).
pub fn parse_records(bytes: &[u8], path: &Path) -> Result<RecordsFile> {
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    let mut records = Vec::new();
    for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        let parse_error = |message: String| Error::Parse {
            path: path.display().to_string(),
            line: Some(i + 1),
            message,
        };
        let text =
            std::str::from_utf8(line).map_err(|e| parse_error(format!("not valid UTF-8 ({e})")))?;
        if text.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(text)
            .map_err(|e| parse_error(format!("not a study record: {e}")))?;
        records.push(record);
    }
    Ok(RecordsFile {
        records,
        torn_bytes: bytes.len() - complete,
    })
}

/// Serializes records one per line.
pub(crate) fn records_text(records: &[Record]) -> String {
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record).expect("records serialize"));
        text.push('\n');
    }
    text
}

/// SHA-256 of `text`, lower-case hex.
pub(crate) fn sha256_hex(text: &str) -> String {
    crate::files::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tails_of_any_length_are_dropped_and_counted() {
        let record = r#"{"grid":{},"grid_index":0,"replicate":0,"method":"m","ok":false,"error":"x","metrics":{"mse_psi":null,"mse_delta":null,"neg_area":null,"eg":[],"neg":[],"eg_paper":[],"regret":[]},"diagnostics":{}}"#;
        let mut text = format!("{record}\n{record}\n").into_bytes();
        let complete = text.len();
        // A torn tail cut inside a multi-byte character.
        text.extend_from_slice(&"{\"grid\":\"ψλ".as_bytes()[..11]);
        let parsed = parse_records(&text, Path::new("r.jsonl")).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.torn_bytes, text.len() - complete);
        // A corrupt complete line is reported by number.
        let bad = format!("{record}\n{{oops\n{record}\n");
        let err = parse_records(bad.as_bytes(), Path::new("r.jsonl")).unwrap_err();
        assert!(err.to_string().contains("r.jsonl, line 2"), "{err}");
        let invalid = [record.as_bytes(), b"\n\xff\xfe\n"].concat();
        let err = parse_records(&invalid, Path::new("r.jsonl")).unwrap_err();
        assert!(err.to_string().contains("line 2") && err.to_string().contains("UTF-8"));
    }

    #[test]
    fn a_second_writer_is_refused_and_a_released_lock_is_free() {
        let tmp = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(tmp.path(), "first").unwrap();
        match FolderLock::acquire(tmp.path(), "second") {
            Err(Error::Busy { holder, .. }) => assert!(holder.contains("`first`"), "{holder}"),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        assert!(!tmp.path().join(LOCK_FILE).exists());
        // A stale lock file (its process gone) is taken over.
        fs::write(tmp.path().join(LOCK_FILE), "pid 1, `old`").unwrap();
        let again = FolderLock::acquire(tmp.path(), "third").unwrap();
        drop(again);
    }

    #[test]
    fn failed_atomic_writes_leave_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails.
        let target = tmp.path().join("summary.json");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "keep").unwrap();
        assert!(write_atomic(&target, b"{}").is_err());
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
