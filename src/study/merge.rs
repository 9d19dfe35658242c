//! `merge`: shard folders of one study → one folder, exactly as if unsharded.
//!
//! # Algorithm
//! Every folder must hold the same resolved spec (up to its `# shard i/N`
//! line), no unit may appear twice, and together they must hold every record
//! of the study; a missing shard is named. Each shard folder is locked while
//! it is read. The merged records are summarized like a run's, so `merge`
//! of shards equals the unsharded run byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::record::Record;
use super::spec::StudySpec;
use super::store::{self, OpenFolder, OpenMode};
use super::{finish, manifest_for, split_shard, write_atomic, RunOutcome};
use crate::error::{Error, Result};
use meta_router_core::Error as CoreError;

/// Merges shard folders into `out`: the specs must agree, no unit may appear
/// twice, and together they must hold every unit of the study (a missing
/// shard is named).
pub fn merge(dirs: &[PathBuf], out: &Path, force: bool) -> Result<RunOutcome> {
    let started = Instant::now();
    let first = dirs.first().ok_or_else(|| CoreError::Empty {
        what: "list of folders to merge".into(),
    })?;
    check_distinct(dirs, out)?;
    let Shards {
        locks,
        base,
        base_path,
        shards,
        records,
    } = read_shards(dirs)?;
    let spec = StudySpec::parse(&base, &base_path.display().to_string())?;
    check_complete(&spec, records.len(), &shards, first)?;
    let mode = if force {
        OpenMode::Force
    } else {
        OpenMode::Fresh
    };
    let folder = OpenFolder::open(out, mode, "merge", &[])?;
    let result = (|| -> Result<RunOutcome> {
        write_atomic(&out.join(store::SPEC_FILE), base.as_bytes())?;
        let summary = finish(&spec, out, records)?;
        let mut manifest = manifest_for(
            &spec,
            None,
            &[
                store::SPEC_FILE,
                store::RECORDS_FILE,
                store::SUMMARY_FILE,
                store::MANIFEST_FILE,
            ],
        );
        manifest.status = "complete".into();
        store::write_manifest(out, &manifest)?;
        Ok(RunOutcome {
            dir: out.to_path_buf(),
            units_run: 0,
            units_resumed: spec.units(),
            seconds: started.elapsed().as_secs_f64(),
            summary,
            units_missing: 0,
            manifest,
            folder: None,
        })
    })();
    drop(locks);
    match result {
        Ok(mut outcome) => {
            outcome.folder = Some(folder);
            Ok(outcome)
        }
        Err(e) => {
            folder.abandon();
            Err(e)
        }
    }
}

/// Refuses a folder named twice (after resolving paths) and an output folder
/// that is one of the inputs.
fn check_distinct(dirs: &[PathBuf], out: &Path) -> Result<()> {
    let mut canonical = BTreeMap::new();
    for dir in dirs {
        let key = fs::canonicalize(dir).map_err(|c| Error::io(dir, c))?;
        if let Some(previous) = canonical.insert(key, dir) {
            return Err(Error::study(
                dir,
                format!(
                    "is given twice (also as {}); name each shard folder once",
                    previous.display()
                ),
            ));
        }
    }
    if let Ok(target) = fs::canonicalize(out) {
        if let Some(input) = canonical.get(&target) {
            return Err(Error::study(
                out,
                format!(
                    "is one of the folders being merged ({}); merge into a new folder with --out",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// What the shard folders hold: their locks (held until the merge is
/// written), the common spec text (without its shard line) and the file it
/// came from, the folder of each shard `(i, N)`, and every record.
struct Shards {
    locks: Vec<store::FolderLock>,
    base: String,
    base_path: PathBuf,
    shards: BTreeMap<(usize, usize), PathBuf>,
    records: Vec<Record>,
}

/// Locks and reads every shard folder: the specs must agree up to the shard
/// line, no shard may appear twice, no records file may end torn, and no
/// unit may appear in two folders.
fn read_shards(dirs: &[PathBuf]) -> Result<Shards> {
    let mut locks = Vec::new();
    let mut base: Option<(String, PathBuf)> = None;
    let mut shards = BTreeMap::new();
    let mut records = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in dirs {
        let path = dir.join(store::SPEC_FILE);
        let text = crate::files::read_text(&path, super::spec::SPEC_FACTOR)?;
        locks.push(store::FolderLock::acquire(dir, "merge (reading)")?);
        let (shard, body) = split_shard(&text);
        match &base {
            None => base = Some((body.to_string(), path.clone())),
            Some((first_body, first_path)) if first_body != body => {
                return Err(Error::study(
                    dir,
                    format!(
                        "its spec differs from {}; only shards of one study can be merged",
                        first_path.display()
                    ),
                ))
            }
            Some(_) => {}
        }
        if let Some(shard) = shard {
            if let Some(other) = shards.insert(shard, dir.clone()) {
                return Err(Error::study(
                    dir,
                    format!(
                        "holds shard {}/{}, as does {}",
                        shard.0,
                        shard.1,
                        other.display()
                    ),
                ));
            }
        }
        let records_path = dir.join(store::RECORDS_FILE);
        let file = store::read_records(&records_path)?;
        if file.torn_bytes > 0 {
            return Err(Error::study(
                dir,
                "its records end in a torn line (an interrupted run); finish the shard with \
                 `simulate --resume` first",
            ));
        }
        for r in file.records {
            if !seen.insert((r.grid_index, r.replicate, r.method.clone())) {
                return Err(Error::study(
                    dir,
                    format!(
                        "unit (grid {}, replicate {}) of method `{}` also appears in another folder",
                        r.grid_index, r.replicate, r.method
                    ),
                ));
            }
            records.push(r);
        }
    }
    let (base, base_path) = base.expect("at least one folder");
    Ok(Shards {
        locks,
        base,
        base_path,
        shards,
        records,
    })
}

/// Refuses a merge that holds fewer than the study's `units × methods`
/// records, naming the missing shards (or, when all are present, saying some
/// are unfinished).
fn check_complete(
    spec: &StudySpec,
    found: usize,
    shards: &BTreeMap<(usize, usize), PathBuf>,
    first: &Path,
) -> Result<()> {
    let expected = spec.units() * spec.methods.len();
    if found != expected {
        let count = shards.keys().next().map_or(0, |s: &(usize, usize)| s.1);
        let missing: Vec<String> = (1..=count)
            .filter(|i| !shards.contains_key(&(*i, count)))
            .map(|i| format!("{i}/{count}"))
            .collect();
        let which = if missing.is_empty() {
            "every shard is present, but some are unfinished (run them with `simulate --resume`)"
                .to_string()
        } else {
            format!("missing shard(s): {}", missing.join(", "))
        };
        return Err(Error::study(
            first,
            format!("the folders hold {found} of the study's {expected} records; {which}"),
        ));
    }
    Ok(())
}
