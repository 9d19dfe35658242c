//! Hostile inputs to the `meta-router` binary, driven by the corpus
//! `tests/data/cli_cases.toml`: malformed specs, bad command lines, damaged
//! study folders and records files. Every case asserts the exit code, the key
//! path and line in the message, and what is (not) left on disk.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    small: String,
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    replace: Vec<(String, String)>,
    #[serde(default)]
    run: Vec<Vec<String>>,
    #[serde(default)]
    write: Vec<Write>,
    #[serde(default)]
    mutate: Vec<Mutate>,
    #[serde(default)]
    run_after: Vec<Vec<String>>,
    #[serde(default)]
    args: Option<Vec<String>>,
    exit: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    unchanged: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Write {
    path: String,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutate {
    path: String,
    truncate: Option<usize>,
    append_bytes: Option<Vec<u8>>,
    replace: Option<(String, String)>,
    line: Option<usize>,
    text: Option<String>,
    bytes: Option<Vec<u8>>,
    keep_lines: Option<usize>,
    #[serde(default)]
    delete: bool,
}

fn expand(text: &str, dir: &Path) -> String {
    text.replace("{spec}", &dir.join("bad.toml").display().to_string())
        .replace("{out}", &dir.join("out").display().to_string())
        .replace("{dir}", &dir.display().to_string())
}

fn binary(dir: &Path, args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args.iter().map(|a| expand(a, dir)))
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn apply(m: &Mutate, dir: &Path) {
    let path = PathBuf::from(expand(&m.path, dir));
    if m.delete {
        fs::remove_file(&path).unwrap();
        return;
    }
    let mut bytes = fs::read(&path).unwrap();
    if let Some(n) = m.truncate {
        bytes.truncate(bytes.len() - n);
    }
    if let Some(extra) = &m.append_bytes {
        bytes.extend_from_slice(extra);
    }
    if let Some((from, to)) = &m.replace {
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(from.as_str()),
            "mutate: `{from}` not in {path:?}"
        );
        bytes = text.replacen(from.as_str(), to, 1).into_bytes();
    }
    if let Some(keep) = m.keep_lines {
        let text = String::from_utf8(bytes).unwrap();
        bytes = text
            .split_inclusive('\n')
            .take(keep)
            .collect::<String>()
            .into_bytes();
    }
    if let Some(line) = m.line {
        let mut lines: Vec<Vec<u8>> = bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        let replacement = match (&m.text, &m.bytes) {
            (Some(text), None) => format!("{text}\n").into_bytes(),
            (None, Some(raw)) => raw.clone(),
            _ => panic!("mutate with `line` needs `text` or `bytes`"),
        };
        lines[line - 1] = replacement;
        bytes = lines.concat();
    }
    fs::write(&path, bytes).unwrap();
}

fn run_case(case: &Case, template: &str) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut spec = template.to_string();
    for (from, to) in &case.replace {
        if !spec.contains(from.as_str()) {
            return Err(format!("setup: `{from}` is not in the template"));
        }
        spec = spec.replacen(from.as_str(), to, 1);
    }
    fs::write(dir.join("bad.toml"), &spec).unwrap();
    let prepare = |commands: &[Vec<String>]| -> Result<(), String> {
        for args in commands {
            let out = binary(dir, args);
            if !out.status.success() {
                return Err(format!(
                    "setup command {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    };
    prepare(&case.run)?;
    for w in &case.write {
        let path = PathBuf::from(expand(&w.path, dir));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, &w.text).unwrap();
    }
    for m in &case.mutate {
        apply(m, dir);
    }
    prepare(&case.run_after)?;
    let before: BTreeMap<String, Vec<u8>> = case
        .unchanged
        .iter()
        .map(|p| {
            let path = expand(p, dir);
            let bytes = fs::read(&path).map_err(|e| format!("setup: {path}: {e}"));
            bytes.map(|b| (path, b))
        })
        .collect::<Result<_, _>>()?;
    let default_args: Vec<String> = ["simulate", "{spec}", "--out", "{out}", "--quiet"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = binary(dir, case.args.as_ref().unwrap_or(&default_args));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(case.exit) {
        problems.push(format!(
            "exit code {:?}, expected {}",
            out.status.code(),
            case.exit
        ));
    }
    for needle in &case.stderr {
        if !stderr.contains(&expand(needle, dir)) {
            problems.push(format!("`{needle}` missing from stderr"));
        }
    }
    if case.exit != 0 && (stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE")) {
        problems.push("the binary panicked".into());
    }
    for p in &case.absent {
        if Path::new(&expand(p, dir)).exists() {
            problems.push(format!("{p} was left behind"));
        }
    }
    for p in &case.present {
        if !Path::new(&expand(p, dir)).exists() {
            problems.push(format!("{p} is missing"));
        }
    }
    for (path, bytes) in &before {
        if fs::read(path).ok().as_ref() != Some(bytes) {
            problems.push(format!("{path} changed"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  stderr: {}",
            problems.join("; "),
            stderr.trim()
        ))
    }
}

#[test]
fn every_hostile_input_gets_a_clear_error_and_leaves_nothing_behind() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cli_cases.toml");
    let corpus: Corpus = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    assert!(corpus.case.len() >= 60, "{} cases", corpus.case.len());
    let mut names = std::collections::BTreeSet::new();
    let failures: Vec<String> = corpus
        .case
        .iter()
        .filter_map(|case| {
            assert!(
                names.insert(case.name.clone()),
                "duplicate case {}",
                case.name
            );
            run_case(case, &corpus.small)
                .err()
                .map(|e| format!("- {}: {e}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        corpus.case.len(),
        failures.join("\n")
    );
}
