//! Writing output files: atomically, never through a symbolic link, and
//! without racing another writer. Every command writes its files here.
//!
//! # Algorithm
//! A file is written to a fresh temporary file in the target's folder,
//! `.<name>.<pid>-<n>.tmp`, created with `O_CREAT | O_EXCL | O_NOFOLLOW`
//! (a planted file or symbolic link of that name makes the creation fail,
//! and the next name is tried), written, flushed to disk (`fsync`), and then
//! moved onto the target in one step:
//! - [`Existing::Refuse`] (a command without `--force`): the move fails if the
//!   target exists, whatever it is (a file, a folder, a symbolic link). On
//!   Linux it is `renameat2(RENAME_NOREPLACE)`; where the file system does not
//!   support that flag, and on other systems, a hard link of the temporary
//!   file to the target (which also fails on an existing target) and the
//!   removal of the temporary name. Of two processes racing for one target,
//!   exactly one succeeds; the other gets [`Error::Exists`].
//! - [`Existing::Replace`] (`--force`): `rename`, which replaces the target's
//!   directory entry in one step: a reader sees the old or the new file, never
//!   a torn one, and a symbolic link at the target is replaced, never
//!   followed. A folder at the target is refused.
//!
//! [`write_files`] writes several files as one unit: every target is checked
//! and every temporary file written before the first one is moved into
//! place, so a refusal (a target that is a folder, a target that exists
//! without `--force`, a full disk) leaves nothing behind. Appending
//! ([`open_append`]) also refuses to follow a symbolic link.
//!
//! A temporary file left by a killed process is removed by the next writer
//! of a study folder ([`remove_stale_temporaries`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// What to do when an output file already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with [`Error::Exists`] (also when the target appears while the
    /// file is being written).
    Refuse,
    /// Replace it in one step (`--force`).
    Replace,
}

impl Existing {
    /// [`Existing::Replace`] when `force`, else [`Existing::Refuse`].
    pub fn from_force(force: bool) -> Self {
        if force {
            Existing::Replace
        } else {
            Existing::Refuse
        }
    }
}

/// Writes `contents` to `path` atomically (module docs).
pub fn write_file(path: &Path, contents: &[u8], existing: Existing) -> Result<()> {
    write_files(&[(path, contents)], existing)
}

/// Writes several files as one unit (module docs): nothing is moved into
/// place until every target has been checked and every temporary file
/// written; a failure while moving them removes the files this call created
/// (under [`Existing::Refuse`]) and every temporary file.
pub fn write_files<P: AsRef<Path>, C: AsRef<[u8]>>(
    files: &[(P, C)],
    existing: Existing,
) -> Result<()> {
    for (i, (path, _)) in files.iter().enumerate() {
        let path = path.as_ref();
        if files[..i].iter().any(|(p, _)| p.as_ref() == path) {
            return Err(Error::io(
                path,
                std::io::Error::other("the same output file is written twice"),
            ));
        }
        check_target(path, existing)?;
    }
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    for (path, contents) in files {
        let path = path.as_ref();
        match write_temporary(path, contents.as_ref()) {
            Ok(tmp) => staged.push((tmp, path)),
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    let mut committed: Vec<&Path> = Vec::with_capacity(staged.len());
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = commit(tmp, path, existing) {
            for (tmp, _) in &staged[i..] {
                let _ = fs::remove_file(tmp);
            }
            if existing == Existing::Refuse {
                // These did not exist before this call: undo them.
                for path in &committed {
                    let _ = fs::remove_file(path);
                }
            }
            return Err(e);
        }
        committed.push(path);
    }
    Ok(())
}

/// Refuses a target that is a folder, or that exists under
/// [`Existing::Refuse`].
fn check_target(path: &Path, existing: Existing) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::io(
            path,
            std::io::Error::other("not a file name (it names a folder)"),
        ));
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(Error::io(
            path,
            std::io::Error::other("is a folder, not a file; refusing to replace it"),
        )),
        Ok(_) if existing == Existing::Refuse => Err(Error::Exists {
            path: path.display().to_string(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(cause) => Err(Error::io(path, cause)),
    }
}

/// A counter that makes temporary names unique within the process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The folder of `path` (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `name` is a temporary name this module gives to files named `target`.
fn is_temporary_of(name: &str, target: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(target))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(pid, n)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(pid) && digits(n)
        })
}

/// Creates a new file with `O_EXCL` and, on Unix, `O_NOFOLLOW`.
fn create_new(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o644);
    }
    options.open(path)
}

/// Writes `contents` to a fresh temporary file next to `path`, flushed to
/// disk; returns its name.
fn write_temporary(path: &Path, contents: &[u8]) -> Result<PathBuf> {
    let name = path
        .file_name()
        .expect("checked by check_target")
        .to_string_lossy()
        .into_owned();
    let folder = folder_of(path);
    let mut attempts = 0;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = folder.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        let mut file = match create_new(&tmp) {
            Ok(file) => file,
            // A planted file or link of that name: take the next name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
                continue;
            }
            Err(cause) => return Err(Error::io(path, cause)),
        };
        let written = file.write_all(contents).and_then(|_| file.sync_all());
        return match written {
            Ok(()) => Ok(tmp),
            Err(cause) => {
                drop(file);
                let _ = fs::remove_file(&tmp);
                Err(Error::io(path, cause))
            }
        };
    }
}

/// Moves the temporary file onto the target (module docs).
fn commit(tmp: &Path, path: &Path, existing: Existing) -> Result<()> {
    let result = match existing {
        Existing::Replace => {
            if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                Err(std::io::Error::other(
                    "is a folder, not a file; refusing to replace it",
                ))
            } else {
                fs::rename(tmp, path)
            }
        }
        Existing::Refuse => rename_no_replace(tmp, path),
    };
    result.map_err(|cause| {
        let _ = fs::remove_file(tmp);
        if cause.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists {
                path: path.display().to_string(),
            }
        } else {
            Error::io(path, cause)
        }
    })
}

/// Renames `from` to `to` unless `to` exists (as anything).
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::other("the path contains a NUL byte"))
        };
        let (a, b) = (c(from)?, c(to)?);
        // SAFETY: both arguments are NUL-terminated paths that live across
        // the call; renameat2 only reads them.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            // The file system (or kernel) does not support the flag: link below.
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {}
            _ => return Err(error),
        }
    }
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}

/// Reads a whole input file, refusing (before reading it all) one whose
/// parsing would need more than the memory limit: `factor` bytes of memory
/// per byte of the file. The read stops at that bound, so a device or a
/// pipe that never ends (`/dev/zero`) is refused too.
pub fn read_bounded(path: &Path, factor: f64) -> Result<Vec<u8>> {
    use std::io::Read;
    let limit = crate::limits::memory_limit();
    let most = (limit / factor.max(1.0)).min(u64::MAX as f64 / 2.0) as u64;
    let too_large = |size: String, bytes: f64| {
        let estimate = crate::limits::Estimate::new(
            factor.max(1.0) * bytes,
            0.0,
            format!("reading {} ({size})", path.display()),
            format!("the size of {}", path.display()),
        );
        match estimate.check_against(limit, f64::INFINITY) {
            Err(e) => e.into(),
            Ok(()) => Error::io(path, std::io::Error::other("too large to read")),
        }
    };
    let file = File::open(path).map_err(|cause| Error::io(path, cause))?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::other("is a folder, not a file"),
            ));
        }
        if meta.len() > most {
            return Err(too_large(
                format!("{} bytes", meta.len()),
                meta.len() as f64,
            ));
        }
    }
    let mut bytes = Vec::new();
    file.take(most.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|cause| Error::io(path, cause))?;
    if bytes.len() as u64 > most {
        return Err(too_large(
            format!("more than {most} bytes"),
            bytes.len() as f64,
        ));
    }
    Ok(bytes)
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, factor: f64) -> Result<String> {
    String::from_utf8(read_bounded(path, factor)?).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text ({})", e.utf8_error()),
            ),
        )
    })
}

/// Opens `path` for appending, creating it if needed; a symbolic link at
/// `path` is refused rather than followed.
pub fn open_append(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|cause| Error::io(path, cause))
}

/// Opens (creating if needed) a file to be locked and rewritten in place,
/// such as a folder's lock file; a symbolic link at `path` is refused.
pub(crate) fn open_lock_file(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o644);
    }
    options.open(path).map_err(|cause| Error::io(path, cause))
}

/// Removes the temporary files this module left in `dir` for the targets
/// `names` (a killed writer's). Call it only while holding the folder's lock.
pub fn remove_stale_temporaries(dir: &Path, names: &[&str]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if names.iter().any(|target| is_temporary_of(name, target)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Folders a command created, to remove again if it fails.
#[derive(Debug)]
#[must_use = "undo the creation if the command fails"]
pub struct CreatedFolder {
    /// The folder asked for.
    dir: PathBuf,
    /// The outermost folder this call created (`None`: `dir` existed).
    top: Option<PathBuf>,
}

impl CreatedFolder {
    /// Whether this call created the folder.
    pub fn created(&self) -> bool {
        self.top.is_some()
    }

    /// Removes the folders this call created, innermost first, as far as
    /// they are empty (a failed command leaves nothing behind; a folder
    /// something else wrote into stays).
    pub fn undo(self) {
        let Some(top) = self.top else {
            return;
        };
        let mut current = Some(self.dir.as_path());
        while let Some(folder) = current {
            if fs::remove_dir(folder).is_err() || folder == top {
                break;
            }
            current = folder.parent();
        }
    }
}

/// Creates `dir` (and its parents) if missing; the result says what this
/// call created, so a command that fails can remove it again
/// ([`CreatedFolder::undo`]).
pub fn create_folder(dir: &Path) -> Result<CreatedFolder> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() || dir.is_dir() => {
            return Ok(CreatedFolder {
                dir: dir.to_path_buf(),
                top: None,
            })
        }
        Ok(_) => {
            return Err(Error::io(
                dir,
                std::io::Error::other("exists and is not a folder"),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(cause) => return Err(Error::io(dir, cause)),
    }
    // The outermost missing ancestor is what this call creates.
    let mut top = dir.to_path_buf();
    while let Some(parent) = top.parent() {
        if parent.as_os_str().is_empty() || parent.symlink_metadata().is_ok() {
            break;
        }
        top = parent.to_path_buf();
    }
    fs::create_dir_all(dir).map_err(|cause| Error::io(dir, cause))?;
    Ok(CreatedFolder {
        dir: dir.to_path_buf(),
        top: Some(top),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_and_replace() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a.json");
        write_file(&target, b"one", Existing::Refuse).unwrap();
        match write_file(&target, b"two", Existing::Refuse) {
            Err(Error::Exists { path }) => assert!(path.ends_with("a.json")),
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(&target).unwrap(), b"one");
        write_file(&target, b"three", Existing::Replace).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"three");
        // No temporary file is left.
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let target = tmp.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        assert!(matches!(
            write_file(&target, b"x", Existing::Refuse),
            Err(Error::Exists { .. })
        ));
        write_file(&target, b"new", Existing::Replace).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
        // A link at the old fixed temporary name and at an append target.
        std::os::unix::fs::symlink(&victim, tmp.path().join("log.jsonl")).unwrap();
        assert!(open_append(&tmp.path().join("log.jsonl")).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn a_set_of_files_is_written_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::create_dir(dir.join("c.csv")).unwrap();
        let files = vec![
            (dir.join("a.csv"), b"a".to_vec()),
            (dir.join("b.csv"), b"b".to_vec()),
            (dir.join("c.csv"), b"c".to_vec()),
        ];
        for existing in [Existing::Refuse, Existing::Replace] {
            let e = write_files(&files, existing).unwrap_err();
            assert!(e.to_string().contains("c.csv"), "{e}");
            assert!(!dir.join("a.csv").exists() && !dir.join("b.csv").exists());
        }
        let names: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn created_folders_are_removed_again_when_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a/b/c");
        let created = create_folder(&deep).unwrap();
        assert!(created.created() && deep.is_dir());
        created.undo();
        assert!(!tmp.path().join("a").exists());
        // A folder that existed is left alone; one holding a file stays.
        let again = create_folder(tmp.path()).unwrap();
        assert!(!again.created());
        again.undo();
        assert!(tmp.path().exists());
        let created = create_folder(&deep).unwrap();
        fs::write(tmp.path().join("a/keep"), "x").unwrap();
        created.undo();
        assert!(tmp.path().join("a/keep").exists() && !tmp.path().join("a/b").exists());
    }

    #[test]
    fn temporary_names_are_recognized() {
        assert!(is_temporary_of(".summary.json.123-4.tmp", "summary.json"));
        assert!(!is_temporary_of("summary.json", "summary.json"));
        assert!(!is_temporary_of(".summary.json.tmp2", "summary.json"));
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(".a.txt.9-9.tmp"), "x").unwrap();
        fs::write(tmp.path().join("keep.tmp"), "x").unwrap();
        remove_stale_temporaries(tmp.path(), &["a.txt"]);
        assert!(!tmp.path().join(".a.txt.9-9.tmp").exists());
        assert!(tmp.path().join("keep.tmp").exists());
    }
}
