//! Hostile inputs to the real-data and cluster commands (`fit`, `fit
//! --models`, `route`, `route --costs`, `evaluate`, `scenarios export`,
//! `slurm`, `status`, `check`, `reproduce`, and `simulate`'s overrides),
//! driven by the corpus `tests/data/hostile_cases.toml`: oversized and
//! malformed files, absurd sizes, symbolic links and folders where files
//! belong, damaged router and summary files. Every case runs the binary
//! under a memory cap (`ulimit -v`, so an allocation the size estimate
//! misses aborts the case instead of the machine) and a CPU-time cap, and
//! asserts the exit code, the place named in the message, a short message,
//! no panic, what is (not) left on disk, and that a victim file outside the
//! output never changes.
//!
//! `HOSTILE_BIN=/path/to/meta-router` runs the corpus against another build
//! (e.g. an older one, to count what it got wrong) and prints a tally.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// Address-space cap of every case, KiB (`ulimit -v`).
const MEMORY_CAP_KIB: u64 = 4_000_000;
/// CPU-time cap of every case, seconds (`ulimit -t`): a resource cap that
/// turns a runaway loop into a failed case, not a timing assertion.
const CPU_CAP_SECONDS: u64 = 300;
/// Longest standard error a refusal may print.
const MAX_STDERR: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// Surface, for the tally.
    surface: String,
    #[serde(default)]
    write: Vec<Write>,
    #[serde(default)]
    generate: Vec<Generate>,
    #[serde(default)]
    sparse: Vec<Sparse>,
    /// Sparse files made after `run` (e.g. over a file a setup command wrote).
    #[serde(default)]
    sparse_after: Vec<Sparse>,
    #[serde(default)]
    json: Vec<JsonEdit>,
    #[serde(default)]
    edit: Vec<Edit>,
    #[serde(default)]
    mkdir: Vec<String>,
    #[serde(default)]
    symlink: Vec<Symlink>,
    /// Commands that must succeed before the case (e.g. a study to damage).
    #[serde(default)]
    run: Vec<Vec<String>>,
    /// Edits applied after `run`.
    #[serde(default)]
    edit_after: Vec<Edit>,
    /// Files removed after `run`.
    #[serde(default)]
    remove_after: Vec<String>,
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    unchanged: Vec<String>,
    #[serde(default)]
    lacks: Vec<Write>,
    #[serde(default)]
    contains: Vec<Write>,
    #[serde(default)]
    regular: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Write {
    path: String,
    text: String,
}

/// `head`, then `line` repeated `times` times (`{i}` in it replaced by the
/// repetition's number), then `tail`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    path: String,
    #[serde(default)]
    head: String,
    line: String,
    times: usize,
    #[serde(default)]
    tail: String,
}

/// A sparse file of `bytes` zero bytes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sparse {
    path: String,
    bytes: u64,
}

/// Sets the value at a JSON pointer of a JSON file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEdit {
    path: String,
    pointer: String,
    value: toml::Value,
}

/// Replaces the first `from` with `to` in a text file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    path: String,
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Symlink {
    path: String,
    target: String,
}

/// The binary under test.
fn binary_path() -> PathBuf {
    std::env::var_os("HOSTILE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_meta-router")))
}

/// Runs the binary in `dir` under the memory and CPU caps.
fn capped(dir: &Path, args: &[String]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_CAP_KIB}; ulimit -t {CPU_CAP_SECONDS}; exec \"$0\" \"$@\""
        ))
        .arg(binary_path())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the binary runs")
}

/// A small table: features x1, x2, x3 and `label` (`rows` rows, shifted
/// labels for PB rows), optionally a `true_psi` column.
fn table(rows: usize, shift: f64, truth: bool) -> String {
    let mut text = String::from("x1,x2,x3,label");
    if truth {
        text.push_str(",true_psi");
    }
    text.push('\n');
    for i in 0..rows {
        let x1 = (i as f64 * 0.37).sin();
        let x2 = (i as f64 * 1.7).cos();
        let x3 = i as f64 / rows as f64 - 0.5;
        let psi = 0.3 * x1 - 0.2 * x3;
        let label = psi + 0.1 * (i as f64 * 2.3).sin() - shift;
        text.push_str(&format!("{x1},{x2},{x3},{label}"));
        if truth {
            text.push_str(&format!(",{psi}"));
        }
        text.push('\n');
    }
    text
}

/// Many-model tables: labels `b` and `c` against the reference (empty = missing).
fn multi_table(rows: usize, shift: f64) -> String {
    let mut text = String::from("x1,x2,x3,b,c\n");
    for i in 0..rows {
        let x1 = (i as f64 * 0.37).sin();
        let x2 = (i as f64 * 1.7).cos();
        let x3 = i as f64 / rows as f64 - 0.5;
        let b = 0.3 * x1 + 0.05 * (i as f64).sin() - shift;
        let c = if i % 5 == 0 {
            String::new()
        } else {
            format!("{}", -0.2 * x2 + 0.05 * (i as f64).cos() - shift)
        };
        text.push_str(&format!("{x1},{x2},{x3},{b},{c}\n"));
    }
    text
}

const LINEAR: &str = "learner = { type = \"ridge\", basis = \"linear\" }\nfolds = 2\n";

/// An R-learner router of small forests (router files store trees compactly).
const FOREST: &str = "method = \"r-learner\"\nfolds = 2\n\
                      learner = { type = \"forest\", trees = 3, max_depth = 4 }\n";

const STUDY: &str = r#"name = "tiny"
seed = 5
replicates = 2

[scenario]
name = "healthbench-like"
pool = 300
n_test = 60
d = 5

[grid]
n_gold = [40]

[evaluation]
rho = [0.0, 0.5, 1.0]
w = [0.0, 0.1]

[[methods]]
label = "pooled"
method = "pooled"
learner = { type = "ridge", basis = "linear" }
"#;

/// Files every case starts with: tables, a configuration, a study file, a
/// victim, and routers fitted once.
fn base_files() -> Vec<(String, Vec<u8>)> {
    let base = tempfile::tempdir().unwrap();
    let d = base.path();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("gold.csv".into(), table(30, 0.0, false).into_bytes()),
        ("pref.csv".into(), table(80, 0.2, false).into_bytes()),
        ("test.csv".into(), table(40, 0.0, true).into_bytes()),
        ("mgold.csv".into(), multi_table(30, 0.0).into_bytes()),
        ("mpref.csv".into(), multi_table(80, 0.2).into_bytes()),
        ("mtest.csv".into(), multi_table(40, 0.0).into_bytes()),
        ("linear.toml".into(), LINEAR.as_bytes().to_vec()),
        ("forest.toml".into(), FOREST.as_bytes().to_vec()),
        ("study.toml".into(), STUDY.as_bytes().to_vec()),
        ("victim".into(), b"keep".to_vec()),
    ];
    for (name, bytes) in &files {
        fs::write(d.join(name), bytes).unwrap();
    }
    let setup = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
            .args(&args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "setup {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    setup(&[
        "fit",
        "--gold",
        "gold.csv",
        "--pref",
        "pref.csv",
        "--config",
        "linear.toml",
        "--out",
        "router.json",
    ]);
    setup(&[
        "fit",
        "--gold",
        "mgold.csv",
        "--pref",
        "mpref.csv",
        "--config",
        "linear.toml",
        "--models",
        "b,c",
        "--reference",
        "a",
        "--out",
        "multi.json",
    ]);
    setup(&[
        "fit",
        "--gold",
        "gold.csv",
        "--pref",
        "pref.csv",
        "--config",
        "forest.toml",
        "--out",
        "forest.json",
    ]);
    setup(&[
        "scenarios",
        "calibrate",
        "--gold",
        "gold.csv",
        "--pref",
        "pref.csv",
        "--config",
        "linear.toml",
        "--out",
        "plasmode.json",
    ]);
    for name in ["router.json", "multi.json", "forest.json", "plasmode.json"] {
        files.push((name.into(), fs::read(d.join(name)).unwrap()));
    }
    files
}

/// `{dir}` is the case's folder; an argument `{read:FILE}` is FILE's text.
fn expand(text: &str, dir: &Path) -> String {
    if let Some(name) = text
        .strip_prefix("{read:")
        .and_then(|t| t.strip_suffix('}'))
    {
        return fs::read_to_string(dir.join(name)).expect("a {read:} file of the setup");
    }
    text.replace("{dir}", &dir.display().to_string())
}

fn apply_edits(edits: &[Edit], dir: &Path) -> Result<(), String> {
    for e in edits {
        let path = dir.join(&e.path);
        let text = fs::read_to_string(&path).map_err(|x| format!("setup: {}: {x}", e.path))?;
        if !text.contains(&e.from) {
            return Err(format!("setup: `{}` is not in {}", e.from, e.path));
        }
        fs::write(&path, text.replacen(&e.from, &expand(&e.to, dir), 1)).unwrap();
    }
    Ok(())
}

/// Prepares the case's folder.
fn prepare(case: &Case, dir: &Path, base: &[(String, Vec<u8>)]) -> Result<(), String> {
    for (name, bytes) in base {
        fs::write(dir.join(name), bytes).unwrap();
    }
    for m in &case.mkdir {
        fs::create_dir_all(dir.join(m)).unwrap();
    }
    for w in &case.write {
        let path = dir.join(&w.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, expand(&w.text, dir)).unwrap();
    }
    for g in &case.generate {
        let mut text = String::with_capacity(g.head.len() + g.line.len() * g.times);
        text.push_str(&g.head);
        let numbered = g.line.contains("{i}");
        for i in 0..g.times {
            if numbered {
                text.push_str(&g.line.replace("{i}", &i.to_string()));
            } else {
                text.push_str(&g.line);
            }
        }
        text.push_str(&g.tail);
        fs::write(dir.join(&g.path), text).unwrap();
    }
    make_sparse(&case.sparse, dir);
    for j in &case.json {
        let path = dir.join(&j.path);
        let mut value: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let slot = value
            .pointer_mut(&j.pointer)
            .ok_or_else(|| format!("setup: no {} in {}", j.pointer, j.path))?;
        *slot = meta_router::study::spec::toml_to_json(&j.value);
        fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    }
    apply_edits(&case.edit, dir)?;
    for l in &case.symlink {
        let path = dir.join(&l.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&l.target, path).unwrap();
    }
    for args in &case.run {
        let args: Vec<String> = args.iter().map(|a| expand(a, dir)).collect();
        let out = capped(dir, &args);
        if !out.status.success() {
            return Err(format!(
                "setup command {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    apply_edits(&case.edit_after, dir)?;
    for name in &case.remove_after {
        fs::remove_file(dir.join(name)).map_err(|e| format!("setup: {name}: {e}"))?;
    }
    make_sparse(&case.sparse_after, dir);
    Ok(())
}

fn make_sparse(files: &[Sparse], dir: &Path) {
    for s in files {
        let path = dir.join(&s.path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = fs::File::create(path).unwrap();
        file.set_len(s.bytes).unwrap();
    }
}

/// Runs one case; `Err` lists what went wrong.
fn run_case(case: &Case, base: &[(String, Vec<u8>)]) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    prepare(case, dir, base)?;
    let mut watched: Vec<String> = case.unchanged.clone();
    watched.push("victim".into());
    let before: BTreeMap<String, Vec<u8>> = watched
        .iter()
        .map(|p| {
            fs::read(dir.join(p))
                .map(|b| (p.clone(), b))
                .map_err(|e| format!("setup: {p}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let args: Vec<String> = case.args.iter().map(|a| expand(a, dir)).collect();
    let out = capped(dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    match out.status.code() {
        Some(code) if code == case.exit => {}
        Some(code) => problems.push(format!("exit code {code}, expected {}", case.exit)),
        None => problems.push(format!(
            "killed by a signal ({:?}; an abort or the CPU cap)",
            std::os::unix::process::ExitStatusExt::signal(&out.status)
        )),
    }
    for needle in &case.stderr {
        if !stderr.contains(&expand(needle, dir)) {
            problems.push(format!("`{needle}` missing from the message"));
        }
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("the binary panicked".into());
    }
    if case.exit != 0 && !stderr.starts_with("error:") && case.exit != 2 {
        problems.push("the message does not start with `error:`".into());
    }
    if stderr.len() > MAX_STDERR {
        problems.push(format!("a message of {} bytes", stderr.len()));
    }
    for p in &case.absent {
        if dir.join(p).symlink_metadata().is_ok() {
            problems.push(format!("{p} was left behind"));
        }
    }
    for p in &case.present {
        if dir.join(p).symlink_metadata().is_err() {
            problems.push(format!("{p} is missing"));
        }
    }
    for p in &case.regular {
        if !dir
            .join(p)
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_file())
        {
            problems.push(format!("{p} is not a regular file"));
        }
    }
    for l in &case.lacks {
        let text = fs::read_to_string(dir.join(&l.path)).unwrap_or_default();
        if text.contains(&expand(&l.text, dir)) {
            problems.push(format!("{} contains {:?}", l.path, l.text));
        }
    }
    for c in &case.contains {
        let text = fs::read_to_string(dir.join(&c.path)).unwrap_or_default();
        if !text.contains(&expand(&c.text, dir)) {
            problems.push(format!("{} lacks {:?}", c.path, c.text));
        }
    }
    for (path, bytes) in &before {
        if fs::read(dir.join(path)).ok().as_ref() != Some(bytes) {
            problems.push(format!("{path} changed"));
        }
    }
    // Temporary files of the atomic writes never stay.
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                problems.push(format!("temporary file {name} left behind"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n    message: {}",
            problems.join("; "),
            stderr.trim().chars().take(600).collect::<String>()
        ))
    }
}

#[test]
fn hostile_inputs_to_the_real_data_and_cluster_commands_are_refused_cleanly() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile_cases.toml");
    let corpus: Corpus = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    assert!(corpus.case.len() >= 60, "{} cases", corpus.case.len());
    let base = base_files();
    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in &corpus.case {
        assert!(
            names.insert(case.name.clone()),
            "duplicate case {}",
            case.name
        );
        let result = run_case(case, &base);
        let entry = tally.entry(case.surface.clone()).or_default();
        match result {
            Ok(()) => entry.0 += 1,
            Err(e) => {
                entry.1 += 1;
                failures.push(format!("- {} ({}): {e}", case.name, case.surface));
            }
        }
    }
    let refusals = corpus.case.iter().filter(|c| c.exit != 0).count();
    println!(
        "{} cases ({refusals} refusals, {} valid inputs); by surface (passed, failed):",
        corpus.case.len(),
        corpus.case.len() - refusals
    );
    for (surface, (ok, failed)) in &tally {
        println!("  {surface:<18} {ok:>3} {failed:>3}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        corpus.case.len(),
        failures.join("\n")
    );
}

/// Every committed study stays far below the default work limit (one fit),
/// so the limit never refuses a documented configuration.
#[test]
fn committed_studies_are_far_below_the_work_limit() {
    use meta_router::meta::size::estimate_fit;
    use meta_router::study::spec::{MethodKind, StudySpec};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "{} study files", files.len());
    let mut checked = 0;
    for path in files {
        let spec = StudySpec::from_file(&path).unwrap();
        for point in &spec.points {
            let sizes = point.scenario.build().unwrap().sizes();
            for method in &spec.methods {
                if let MethodKind::Estimator(config) = &method.kind {
                    let estimate =
                        estimate_fit(config, sizes.n_gold, sizes.n_pref, sizes.dim as f64, &|k| {
                            k.to_string()
                        });
                    assert!(
                        estimate.operations < meta_router::limits::DEFAULT_WORK_LIMIT / 10.0,
                        "{}: {} {:e}",
                        path.display(),
                        method.label,
                        estimate.operations
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "{checked} fits checked");
}
