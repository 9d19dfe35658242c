//! `meta-router slurm` (a study as a Slurm job array plus a merge job) and
//! `meta-router status` (which shards are complete, running, partial or
//! missing).
//!
//! The work folder holds everything: `spec.toml` (a frozen copy of the
//! study), `array.sbatch` (task `i` of `1..N` runs `simulate --shard i/N
//! --resume` into `shard-i/`, so a requeued or timed-out task continues
//! where it stopped), `merge.sbatch` (merges the shards into `merged/`,
//! which also writes the reports), `submit.sh` (submits both, the merge with
//! `--dependency=afterok:<array>`), and `logs/`. Results do not depend on
//! the shard count or the threads per task: `merged/summary.json` equals an
//! unsharded run's byte for byte (`tests/slurm/run.sh` checks it on a real
//! Slurm).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::files::{self, Existing};
use meta_router::study::spec::SPEC_FACTOR;
use meta_router::study::{self, spec::StudySpec};

use super::study::ExitWith;

/// Options of `meta-router slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The study file.
    pub spec: PathBuf,
    /// Number of array tasks (shards), 1 ..= the study's units.
    #[arg(long)]
    pub shards: usize,
    /// Work folder for the scripts, the shards, the logs and `merged/`.
    #[arg(long)]
    pub out: PathBuf,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task (Slurm format: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per task (the task's worker threads).
    #[arg(long, default_value_t = 1)]
    pub cpus: usize,
    /// Memory per task (Slurm format, e.g. 4G, 500M).
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm account.
    #[arg(long)]
    pub account: Option<String>,
    /// The meta-router binary the tasks run (default: this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Submit with sbatch and print the job ids (default: print the commands).
    #[arg(long)]
    pub submit: bool,
    /// Replace the scripts of an existing work folder (its shard folders are
    /// kept; they resume only under the same study and shard count).
    #[arg(long)]
    pub force: bool,
}

/// Most array tasks (shards) of a work folder. Slurm's own default
/// `MaxArraySize` is 1001; its largest allowed value, about 4 million.
pub const MAX_SHARDS: usize = 100_000;

/// `path` as a file name pattern of `sbatch --output`: `%` written `%%`,
/// so a `%` in a folder name is not expanded by sbatch.
pub fn sbatch_pattern(path: &Path) -> Result<String> {
    let text = path.display().to_string();
    if text.contains('\\') {
        bail!(
            "{text}: a `\\` in the work folder's path makes sbatch ignore the `%a` of the log file \
             names; choose a folder without one"
        );
    }
    Ok(text.replace('%', "%%"))
}

/// The shell's single-quoted form of `text` (safe for any content).
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Checks a Slurm time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
fn valid_time(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    parts.iter().all(|p| digits(p)) && days.is_none_or(digits) && (1..=3).contains(&parts.len())
}

/// Checks a Slurm memory size: digits with an optional K, M, G or T.
fn valid_mem(text: &str) -> bool {
    let number = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !number.is_empty()
        && number.len() + 1 >= text.len()
        && number.chars().all(|c| c.is_ascii_digit())
        && number.parse::<u64>().is_ok_and(|v| v > 0)
}

/// A partition or account name: non-empty, no spaces, quotes or `#`.
fn valid_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ','))
}

/// The generated scripts of a work folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripts {
    /// `array.sbatch`.
    pub array: String,
    /// `merge.sbatch`.
    pub merge: String,
    /// `submit.sh`.
    pub submit: String,
}

/// The options of `slurm` that the scripts carry: a shard count from 1 to
/// the study's units (at most [`MAX_SHARDS`]), at least one CPU, and a
/// time, memory, partition and account in Slurm's formats.
fn check_options(args: &SlurmArgs, units: usize) -> Result<()> {
    if args.shards == 0 || args.shards > units.min(MAX_SHARDS) {
        bail!(
            "--shards {}: must be between 1 and the study's {units} units (at most \
             {MAX_SHARDS})",
            args.shards
        );
    }
    if args.cpus == 0 {
        bail!("--cpus 0: a task needs at least one CPU");
    }
    if let Some(t) = &args.time {
        if !valid_time(t) {
            bail!("--time `{t}`: not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)");
        }
    }
    if let Some(m) = &args.mem {
        if !valid_mem(m) {
            bail!("--mem `{m}`: not a Slurm memory size (e.g. 4G, 500M)");
        }
    }
    for (flag, value) in [("partition", &args.partition), ("account", &args.account)] {
        if let Some(v) = value {
            if !valid_name(v) {
                bail!("--{flag} `{v}`: letters, digits, `_`, `-`, `.` and `,` only");
            }
        }
    }
    Ok(())
}

/// The scripts for `shards` tasks of study `name` (`units` units) in the
/// work folder `work` run by `binary`. Errors name the bad option.
pub fn scripts(
    args: &SlurmArgs,
    name: &str,
    units: usize,
    work: &Path,
    binary: &Path,
) -> Result<Scripts> {
    check_options(args, units)?;
    let n = args.shards;
    let job: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut options = String::new();
    for (key, value) in [
        ("time", &args.time),
        ("mem", &args.mem),
        ("partition", &args.partition),
        ("account", &args.account),
    ] {
        if let Some(v) = value {
            let _ = writeln!(options, "#SBATCH --{key}={v}");
        }
    }
    let header = format!(
        "# Generated by meta-router {} for study `{name}`: {units} units in {n} shards.\n",
        env!("CARGO_PKG_VERSION")
    );
    let paths = format!(
        "MR={}\nWORK={}\n",
        shell_quote(&binary.display().to_string()),
        shell_quote(&work.display().to_string())
    );
    // sbatch expands `%` in --output: the logs folder as a pattern.
    let logs = format!(
        "LOGS={}\n",
        shell_quote(&sbatch_pattern(&work.join("logs"))?)
    );
    let array = format!(
        "#!/bin/bash\n{header}# Task i runs shard i/{n}; --resume continues a requeued or timed-out task.\n\
         #SBATCH --job-name=mr-{job}\n#SBATCH --array=1-{n}\n#SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --requeue\n#SBATCH --open-mode=append\n{options}set -euo pipefail\n{paths}\
         exec \"$MR\" simulate \"$WORK/spec.toml\" --shard \"${{SLURM_ARRAY_TASK_ID}}/{n}\" \\\n  \
         --out \"$WORK/shard-${{SLURM_ARRAY_TASK_ID}}\" --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --resume\n",
        cpus = args.cpus
    );
    let merge = format!(
        "#!/bin/bash\n{header}# Runs after every array task succeeded; merge also writes the reports.\n\
         #SBATCH --job-name=mr-{job}-merge\n#SBATCH --cpus-per-task=1\n{options}set -euo pipefail\n{paths}\
         shards=()\nfor i in $(seq 1 {n}); do shards+=(\"$WORK/shard-$i\"); done\n\
         \"$MR\" merge \"${{shards[@]}}\" --out \"$WORK/merged\" --force\n"
    );
    let submit = format!(
        "#!/bin/sh\n{header}set -eu\n{paths}{logs}\
         ARRAY=$(sbatch --parsable --output=\"$LOGS/shard-%a.out\" \"$WORK/array.sbatch\")\n\
         ARRAY=${{ARRAY%%;*}}\n\
         MERGE=$(sbatch --parsable --dependency=afterok:\"$ARRAY\" --output=\"$LOGS/merge.out\" \"$WORK/merge.sbatch\")\n\
         echo \"array job $ARRAY ({n} tasks), merge job ${{MERGE%%;*}}\"\n"
    );
    Ok(Scripts {
        array,
        merge,
        submit,
    })
}

/// `meta-router slurm`.
pub fn slurm(args: SlurmArgs) -> Result<()> {
    let spec = StudySpec::from_file(&args.spec)?;
    let units = spec.units();
    let binary = match &args.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("locating the meta-router binary")?,
    };
    // Every option is checked before anything is written.
    scripts(&args, &spec.name, units, &args.out, &binary)?;
    let text = files::read_text(&args.spec, SPEC_FACTOR)?;
    let created = files::create_folder(&args.out)?;
    let written = (|| -> Result<PathBuf> {
        let work = args
            .out
            .canonicalize()
            .with_context(|| format!("resolving {}", args.out.display()))?;
        let frozen = work.join("spec.toml");
        if frozen.exists() && !args.force {
            bail!(
                "{} exists (a work folder of an earlier `slurm`); pass --force to rewrite its scripts",
                frozen.display()
            );
        }
        let scripts = scripts(&args, &spec.name, units, &work, &binary)?;
        let _logs = files::create_folder(&work.join("logs"))?;
        files::write_files(
            &[
                (frozen, text.as_bytes()),
                (work.join("array.sbatch"), scripts.array.as_bytes()),
                (work.join("merge.sbatch"), scripts.merge.as_bytes()),
                (work.join("submit.sh"), scripts.submit.as_bytes()),
            ],
            Existing::from_force(args.force),
        )?;
        Ok(work)
    })();
    let work = match written {
        Ok(work) => work,
        Err(e) => {
            if created.created() {
                let _ = fs::remove_dir(args.out.join("logs"));
            }
            created.undo();
            return Err(e);
        }
    };
    eprintln!(
        "{}: {units} units in {} shards; scripts in {}",
        spec.name,
        args.shards,
        work.display()
    );
    if !args.submit {
        println!(
            "sh {}",
            shell_quote(&work.join("submit.sh").display().to_string())
        );
        return Ok(());
    }
    submit_jobs(&work, args.shards)
}

/// Submits the array job and the merge job (after the array succeeded)
/// with sbatch and prints their ids.
fn submit_jobs(work: &Path, shards: usize) -> Result<()> {
    let sbatch = |extra: &[String]| -> Result<String> {
        let out = Command::new("sbatch")
            .arg("--parsable")
            .args(extra)
            .output()
            .context("running sbatch (is Slurm installed and on PATH?)")?;
        if !out.status.success() {
            bail!(
                "sbatch failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(id.split(';').next().unwrap_or("").to_string())
    };
    let logs = sbatch_pattern(&work.join("logs"))?;
    let array = sbatch(&[
        format!("--output={logs}/shard-%a.out"),
        work.join("array.sbatch").display().to_string(),
    ])?;
    let merge = sbatch(&[
        format!("--dependency=afterok:{array}"),
        format!("--output={logs}/merge.out"),
        work.join("merge.sbatch").display().to_string(),
    ])?;
    println!("array job {array} ({shards} tasks), merge job {merge}");
    Ok(())
}

/// `meta-router status DIR`: a work folder of `slurm` (its `shard-*`
/// folders and `merged/`) or a single study folder. Work not yet complete
/// is an [`ExitWith::incomplete`] error (exit 4), so scripts can wait on it.
pub fn status(dir: &Path) -> Result<()> {
    let array = dir.join("array.sbatch");
    let shard_count = match files::read_text(&array, SPEC_FACTOR) {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("#SBATCH --array=1-"))
            .map(|n| {
                (
                    n.trim().to_string(),
                    text.lines()
                        .position(|l| l.starts_with("#SBATCH --array=1-")),
                )
            }),
        Err(_) => None,
    };
    let Some((count, line)) = shard_count else {
        let progress = study::folder_progress(dir)?.with_context(|| {
            format!(
                "{}: neither a study folder nor a slurm work folder",
                dir.display()
            )
        })?;
        println!("{}", describe(dir, &progress));
        if !progress.complete {
            return Err(ExitWith::incomplete(format!(
                "the study in {} is not complete",
                dir.display()
            ))
            .into());
        }
        return Ok(());
    };
    let (n, at) = task_count(dir, &array, &count, line)?;
    meta_router::limits::Estimate::new(
        n as f64 * 256.0,
        n as f64 * 1e4,
        format!("the status of {n} shards"),
        at.clone(),
    )
    .check()?;
    let mut resubmit = Vec::new();
    let mut complete = 0;
    for i in 1..=n {
        let path = dir.join(format!("shard-{i}"));
        match study::folder_progress(&path)? {
            None => {
                println!("shard {i:>4}: missing (not started)");
                resubmit.push(i);
            }
            Some(p) => {
                println!("shard {i:>4}: {}", describe(&path, &p));
                if p.complete {
                    complete += 1;
                } else if p.holder.is_none() {
                    resubmit.push(i);
                }
            }
        }
    }
    let merged = dir.join("merged");
    let merged_state = match study::folder_progress(&merged)? {
        Some(p) if p.complete => "complete",
        Some(_) => "incomplete",
        None => "not yet merged",
    };
    println!("{complete} of {n} shards complete; merged/: {merged_state}");
    if !resubmit.is_empty() {
        print_resubmit(dir, &resubmit)?;
    }
    if complete < n {
        return Err(ExitWith::incomplete(format!(
            "{} of {n} shards of {} are not complete",
            n - complete,
            dir.display()
        ))
        .into());
    }
    Ok(())
}

/// The task count of a work folder's `#SBATCH --array=1-N` line (`line`
/// of `array`): between 1 and [`MAX_SHARDS`] and at most the frozen
/// study's units. Returns it with the line's location for messages.
fn task_count(
    dir: &Path,
    array: &Path,
    count: &str,
    line: Option<usize>,
) -> Result<(usize, String)> {
    let at = format!("{}, line {}", array.display(), line.map_or(0, |l| l + 1));
    let n: usize = match count.parse::<u64>() {
        Ok(n) if (1..=MAX_SHARDS as u64).contains(&n) => n as usize,
        _ => bail!(
            "{at}: `#SBATCH --array=1-{}` is not a task count between 1 and {MAX_SHARDS} (is \
             this a work folder written by `meta-router slurm`?)",
            meta_router::error::excerpt(count)
        ),
    };
    let frozen = dir.join("spec.toml");
    if frozen.is_file() {
        let spec = StudySpec::from_file(&frozen)?;
        if n > spec.units() {
            bail!(
                "{at}: {n} array tasks, but the study in {} has only {} units (is this a work \
                 folder written by `meta-router slurm`?)",
                frozen.display(),
                spec.units()
            );
        }
    }
    Ok((n, at))
}

/// How to resubmit the unfinished tasks (they resume) and merge after them.
fn print_resubmit(dir: &Path, resubmit: &[usize]) -> Result<()> {
    println!(
        "(a task still waiting in the queue has no folder yet and shows as missing: check \
         `squeue --me` before resubmitting)"
    );
    let logs = sbatch_pattern(&dir.join("logs"))?;
    println!(
        "resubmit (they resume): ARRAY=$(sbatch --parsable --array={} --output={} {})",
        ranges(resubmit),
        shell_quote(&format!("{logs}/shard-%a.out")),
        shell_quote(&dir.join("array.sbatch").display().to_string())
    );
    println!(
        "then merge:              sbatch --dependency=afterok:\"${{ARRAY%%;*}}\" {}",
        shell_quote(&dir.join("merge.sbatch").display().to_string())
    );
    Ok(())
}

/// Ascending task numbers as a Slurm array list with ranges: `1-3,7,9-10`.
fn ranges(tasks: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tasks.len() {
        let start = tasks[i];
        let mut end = start;
        while i + 1 < tasks.len() && tasks[i + 1] == end + 1 {
            i += 1;
            end = tasks[i];
        }
        parts.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn describe(dir: &Path, p: &study::FolderProgress) -> String {
    let state = if p.complete {
        "complete".to_string()
    } else if let Some(holder) = &p.holder {
        format!("running ({holder})")
    } else if p.done == 0 {
        "started, no unit finished".to_string()
    } else {
        "partial (interrupted; resume continues it)".to_string()
    };
    format!(
        "{state}, {}/{} units — {}",
        p.done,
        p.expected,
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(shards: usize) -> SlurmArgs {
        SlurmArgs {
            spec: "s.toml".into(),
            shards,
            out: "w".into(),
            partition: None,
            time: None,
            cpus: 2,
            mem: None,
            account: None,
            binary: None,
            submit: false,
            force: false,
        }
    }

    #[test]
    fn array_size_dependency_and_commands() {
        let mut a = args(4);
        a.time = Some("1-02:00:00".into());
        a.mem = Some("4G".into());
        a.partition = Some("short".into());
        let s = scripts(&a, "my study", 10, Path::new("/w"), Path::new("/bin/mr")).unwrap();
        assert!(s.array.contains("#SBATCH --array=1-4\n"));
        assert!(s.array.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(s.array.contains("#SBATCH --time=1-02:00:00\n"));
        assert!(s.array.contains("#SBATCH --mem=4G\n"));
        assert!(s.array.contains("#SBATCH --partition=short\n"));
        assert!(s.array.contains("#SBATCH --job-name=mr-my_study\n"));
        assert!(s.array.contains("--shard \"${SLURM_ARRAY_TASK_ID}/4\""));
        assert!(s.array.contains("--resume"));
        assert!(s
            .merge
            .contains("for i in $(seq 1 4); do shards+=(\"$WORK/shard-$i\"); done"));
        assert!(s.merge.contains("merge \"${shards[@]}\""));
        assert!(s.merge.contains("--out \"$WORK/merged\""));
        assert!(s.submit.contains("--dependency=afterok:\"$ARRAY\""));
        // #SBATCH lines come before the first command (sbatch stops reading them there).
        let first_command = s.array.find("set -euo").unwrap();
        assert!(s.array.rfind("#SBATCH").unwrap() < first_command);
    }

    #[test]
    fn paths_are_quoted() {
        let s = scripts(
            &args(2),
            "x",
            5,
            Path::new("/data/it's here/work dir"),
            Path::new("/opt/my tools/meta-router"),
        )
        .unwrap();
        assert!(s.array.contains("WORK='/data/it'\\''s here/work dir'\n"));
        assert!(s.array.contains("MR='/opt/my tools/meta-router'\n"));
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
        // sbatch expands `%` in --output names: a `%` in the folder is doubled.
        let s = scripts(&args(2), "x", 5, Path::new("/w/100%"), Path::new("/mr")).unwrap();
        assert!(s.submit.contains("LOGS='/w/100%%/logs'\n"), "{}", s.submit);
        assert!(s.submit.contains("--output=\"$LOGS/shard-%a.out\""));
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), "1-3,7,9-10");
        assert_eq!(ranges(&[4]), "4");
    }

    #[test]
    fn bad_options_are_refused_by_name() {
        let path = Path::new("/w");
        let error = |a: SlurmArgs| scripts(&a, "x", 10, path, path).unwrap_err().to_string();
        assert!(error(args(0)).contains("--shards 0"));
        assert!(error(args(11)).contains("--shards 11"));
        let mut a = args(2);
        a.cpus = 0;
        assert!(error(a).contains("--cpus"));
        for bad in ["1h", "1:2:3:4", "-5", "", "1-"] {
            let mut a = args(2);
            a.time = Some(bad.into());
            assert!(error(a).contains("--time"), "{bad}");
        }
        for bad in ["4GB", "G", "0", "1.5G"] {
            let mut a = args(2);
            a.mem = Some(bad.into());
            assert!(error(a).contains("--mem"), "{bad}");
        }
        let mut a = args(2);
        a.partition = Some("a b".into());
        assert!(error(a).contains("--partition"));
        let mut a = args(2);
        a.account = Some("x\n#SBATCH --evil".into());
        assert!(error(a).contains("--account"));
        for good in ["30", "30:00", "2:00:00", "1-0", "1-2:30", "3-00:00:00"] {
            assert!(valid_time(good), "{good}");
        }
        assert!(valid_mem("500M") && valid_mem("16"));
    }
}
