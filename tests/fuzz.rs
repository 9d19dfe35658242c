//! Property-based fuzzing of the parsers that read user-controlled files:
//! the study-spec parser, the records loader, the router-file loader (one-
//! and many-model files) and the CSV table reader. Mutations of valid inputs
//! (byte edits, truncations, token swaps, line shuffles, hostile numbers)
//! must never panic or abort and must give errors that name the file and an
//! existing line; a router that loads must predict; a table that loads
//! holds only finite, bounded numbers with consistent line numbers.
//!
//! CI runs a few hundred cases of each (fixed seeds). A long run, with fresh
//! random cases, `FUZZ_SECONDS` per target (default 60), the targets chosen
//! by `FUZZ_TARGETS` (default all: `spec,records,router,csv`):
//! `FUZZ_SECONDS=300 FUZZ_TARGETS=router,csv cargo test --release --test fuzz -- --ignored --nocapture`

use std::path::Path;
use std::time::{Duration, Instant};

use meta_router::error::Error;
use meta_router::meta::MetaRouterConfig;
use meta_router::realdata::table::MAX_MAGNITUDE;
use meta_router::realdata::{
    self, model_file, multi, read_table, ColumnRoles, FeatureSelection, LabelColumn, LabelKind,
};
use meta_router::study::spec::StudySpec;
use meta_router::study::store::parse_records;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn seed_specs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations");
    let mut specs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| std::fs::read_to_string(path).unwrap())
        })
        .collect();
    specs.sort();
    assert!(specs.len() >= 6);
    specs
}

/// One edit of a text.
#[derive(Debug, Clone)]
enum Edit {
    DeleteRange(usize, usize),
    Insert(usize, String),
    ReplaceNumber(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let junk = prop_oneof![
        Just("=".to_string()),
        Just("[[methods]]\n".to_string()),
        Just("[grid]\n".to_string()),
        Just("\"".to_string()),
        Just("{".to_string()),
        Just("\n".to_string()),
        Just("ψλ".to_string()),
        "[ -~]{0,12}",
    ];
    let number = prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1e308".to_string()),
        Just("inf".to_string()),
        Just("nan".to_string()),
        Just("99999999999999".to_string()),
        Just("2.5".to_string()),
        Just("\"x\"".to_string()),
        Just("[]".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::DeleteRange(a, n)),
        (any::<usize>(), junk).prop_map(|(a, s)| Edit::Insert(a, s)),
        (any::<usize>(), number).prop_map(|(a, s)| Edit::ReplaceNumber(a, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn char_boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    match edit {
        Edit::DeleteRange(at, n) => {
            let a = char_boundary(text, *at);
            let b = char_boundary(text, (a + n).min(text.len()));
            format!("{}{}", &text[..a], &text[b.max(a)..])
        }
        Edit::Insert(at, s) => {
            let a = char_boundary(text, *at);
            format!("{}{s}{}", &text[..a], &text[a..])
        }
        Edit::ReplaceNumber(k, s) => {
            // The k-th run of digits becomes `s`.
            let runs: Vec<(usize, usize)> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .fold(Vec::new(), |mut runs: Vec<(usize, usize)>, (i, _)| {
                    match runs.last_mut() {
                        Some(last) if last.1 == i => last.1 = i + 1,
                        _ => runs.push((i, i + 1)),
                    }
                    runs
                });
            if runs.is_empty() {
                return text.to_string();
            }
            let (a, b) = runs[k % runs.len()];
            format!("{}{s}{}", &text[..a], &text[b..])
        }
        Edit::DuplicateLine(k) if !lines.is_empty() => {
            let i = k % lines.len();
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::SwapLines(a, b) if !lines.is_empty() => {
            let n = lines.len();
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        Edit::Truncate(at) => text[..char_boundary(text, *at)].to_string(),
        _ => text.to_string(),
    }
}

/// The property for one mutated spec.
fn check_spec(text: &str) -> Result<(), TestCaseError> {
    match StudySpec::parse(text, "fuzz.toml") {
        Ok(_) => Ok(()),
        Err(e @ Error::Core(meta_router_core::Error::Config { .. })) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzz.toml"), "{message}");
            if let Error::Core(meta_router_core::Error::Config {
                line: Some(line), ..
            }) = e
            {
                prop_assert!(line >= 1 && line <= text.lines().count() + 1, "{message}");
            }
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not a spec error: {other:?}"))),
    }
}

fn spec_strategy() -> impl Strategy<Value = String> {
    let specs = seed_specs();
    (0..specs.len(), proptest::collection::vec(edit(), 1..6)).prop_map(move |(i, edits)| {
        edits
            .iter()
            .fold(specs[i].clone(), |text, edit| apply(&text, edit))
    })
}

const RECORD: &str = r#"{"grid":{"n_gold":100},"grid_index":0,"replicate":3,"method":"R","ok":true,"error":null,"metrics":{"mse_psi":0.08,"mse_delta":0.01,"neg_area":0.4,"eg":[0.0,0.01,null],"neg":[0.0,0.5,null],"eg_paper":[0.0,0.2,null],"regret":[0.001,0.0]},"diagnostics":{"kappa":0.02,"final.penalty":0.1}}"#;

fn records_strategy() -> impl Strategy<Value = Vec<u8>> {
    let base = format!("{RECORD}\n{RECORD}\n{RECORD}\n").into_bytes();
    proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 0..8).prop_map(move |edits| {
        let mut bytes = base.clone();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at % bytes.len();
            match op {
                0 => bytes[i] = byte,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        bytes
    })
}

fn check_records(bytes: &[u8]) -> Result<(), TestCaseError> {
    let lines = bytes.split(|&b| b == b'\n').count();
    match parse_records(bytes, Path::new("fuzz.jsonl")) {
        Ok(file) => {
            prop_assert!(file.torn_bytes <= bytes.len());
            prop_assert!(file.records.len() <= lines);
        }
        Err(Error::Parse {
            path,
            line: Some(line),
            ..
        }) => {
            prop_assert_eq!(path, "fuzz.jsonl");
            prop_assert!(line >= 1 && line <= lines);
        }
        Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
    }
    Ok(())
}

/// A small table of `rows` rows: features x1, x2, x3, the label, a weight
/// and an id column.
fn csv_table(rows: usize, shift: f64) -> String {
    let mut text = String::from("id,x1,x2,x3,label,w\n");
    for i in 0..rows {
        let x1 = (i as f64 * 0.37).sin();
        let x2 = (i as f64 * 1.7).cos();
        let x3 = i as f64 / rows as f64;
        let label = 0.3 * x1 - 0.2 * x3 + 0.1 * (i as f64 * 2.3).sin() - shift;
        text.push_str(&format!("q{i},{x1},{x2},{x3},{label},{}\n", 1 + i % 3));
    }
    text
}

fn roles(kind: LabelKind, weight: bool, missing_ok: bool) -> ColumnRoles {
    ColumnRoles {
        features: FeatureSelection::Names(vec!["x1".into(), "x2".into(), "x3".into()]),
        label: Some(LabelColumn {
            name: "label".into(),
            kind,
            range: None,
            constant_ok: false,
            missing_ok,
        }),
        extra: Vec::new(),
        optional: Vec::new(),
        id: Some("id".into()),
        weight: weight.then(|| "w".to_string()),
        ignore: Vec::new(),
    }
}

/// Valid router files to mutate: ridge, forest and boosting routers of
/// each estimator family, and a many-model file.
fn seed_routers() -> &'static [String] {
    static ROUTERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ROUTERS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("g.csv"), csv_table(24, 0.0)).unwrap();
        std::fs::write(tmp.path().join("p.csv"), csv_table(60, 0.2)).unwrap();
        let gold = read_table(&tmp.path().join("g.csv"), &roles(LabelKind::Numeric, false, false))
            .unwrap();
        let pref = read_table(
            &tmp.path().join("p.csv"),
            &roles(LabelKind::Preference, false, false),
        )
        .unwrap();
        let mut texts = Vec::new();
        for config in [
            "method = \"dr-learner\"\nfolds = 2\nlearner = { type = \"ridge\", basis = \"poly2\" }",
            "method = \"r-learner\"\nfolds = 2\nlearner = { type = \"forest\", trees = 3, max_depth = 3 }",
            "method = \"pooled\"\nlearner = { type = \"boosting\", rounds = 4, max_depth = 2 }",
            "method = \"dr-learner\"\nfolds = 2\nassemble = \"plugin\"\nlearner = { type = \"ridge\", basis = \"rff\", features = 8 }",
        ] {
            let config: MetaRouterConfig =
                meta_router::study::spec::parse_router_config(config, "c.toml").unwrap();
            let (file, router) = realdata::fit_tables(&config, &gold, &pref, 7).unwrap();
            texts.push(file.to_json_checked(&router, &[gold.x.view()]).unwrap());
            if texts.len() == 1 {
                let names = vec!["b".to_string(), "c".to_string()];
                let tables = vec![(gold.clone(), pref.clone()), (gold.clone(), pref.clone())];
                let crump = meta_router::meta::overlap::OverlapRule::Crump;
                let (text, _) =
                    multi::fit_model_tables(&config, "a", &names, &tables, 3, crump).unwrap();
                texts.push(text);
            }
        }
        texts
    })
}

/// Numbers and tokens that stress a JSON or CSV reader.
fn hostile_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("1e400".to_string()),
        Just("5e-324".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551615".to_string()),
        Just("1000000000000".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("\"\"".to_string()),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("9".repeat(400)),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:e}")),
    ]
}

/// Byte-level and token-level edits of a text.
fn mutated(base: String, junk: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| (0u8, a, vec![b])),
        any::<usize>().prop_map(|a| (1u8, a, vec![])),
        (any::<usize>(), proptest::sample::select(junk)).prop_map(|(a, j)| (
            2u8,
            a,
            j.as_bytes().to_vec()
        )),
        any::<usize>().prop_map(|a| (3u8, a, vec![])),
        (any::<usize>(), hostile_token()).prop_map(|(a, t)| (4u8, a, t.into_bytes())),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| (5u8, a, vec![n as u8])),
    ];
    proptest::collection::vec(edit, 1..8).prop_map(move |edits| {
        let mut bytes = base.clone().into_bytes();
        for (op, at, payload) in edits {
            let i = if bytes.is_empty() {
                0
            } else {
                at % bytes.len()
            };
            match op {
                0 if !bytes.is_empty() => bytes[i] = payload[0],
                1 => bytes.truncate(i),
                2 => {
                    bytes.splice(i..i, payload);
                }
                3 if !bytes.is_empty() => {
                    bytes.remove(i);
                }
                4 => {
                    // The number (or token) starting at or after i becomes `payload`.
                    let start = (i..bytes.len())
                        .find(|&k| bytes[k].is_ascii_digit() || bytes[k] == b'-')
                        .unwrap_or(bytes.len());
                    let end = (start..bytes.len())
                        .find(|&k| {
                            !(bytes[k].is_ascii_alphanumeric() || b"-+.".contains(&bytes[k]))
                        })
                        .unwrap_or(bytes.len());
                    bytes.splice(start..end, payload);
                }
                5 => {
                    // Delete a range of up to n bytes.
                    let end = (i + payload[0] as usize).min(bytes.len());
                    bytes.drain(i..end);
                }
                _ => {}
            }
        }
        bytes
    })
}

const JSON_JUNK: &[&str] = &[
    "\"", "{", "}", "[", "]", ",", ":", "null", "\"x\"", "\\u0000", "ψ",
];
const CSV_JUNK: &[&str] = &[
    "\"", ",", "\n", "\r", "\r\n", "\u{feff}", "\u{0}", "win", "tie", " ", "ψ", "\"\"",
];

fn router_strategy() -> impl Strategy<Value = Vec<u8>> {
    let routers = seed_routers();
    (0..routers.len()).prop_flat_map(move |i| mutated(routers[i].clone(), JSON_JUNK))
}

/// Mutated inputs that loaded (router files, tables), for the long run's report.
static LOADED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_loaded() {
    LOADED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The property for one mutated router file.
fn check_router(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(()); // the file reader refuses non-UTF-8 before parsing
    };
    let result = if multi::is_multi(text) {
        multi::parse_models(text, "fuzz.json").map(|loaded| {
            let d = loaded.file.features.len();
            let x = ndarray::Array2::<f64>::from_elem((3, d), 0.25);
            let _ = loaded.fitted.predict_psi(x.view());
        })
    } else {
        model_file::parse(text, "fuzz.json").map(|(file, router)| {
            let x = ndarray::Array2::<f64>::from_elem((3, file.features.len()), 0.25);
            let _ = router.predict_psi(x.view());
            let _ = router.predict_delta(x.view());
        })
    };
    match result {
        Ok(()) => {
            count_loaded();
            Ok(())
        }
        Err(meta_router_core::Error::Input {
            file,
            line,
            message,
            ..
        }) => {
            prop_assert_eq!(file, "fuzz.json");
            if let Some(line) = line {
                // A parser at the end of a text that ends in a line break
                // reports the line after it.
                let lines = text.lines().count() + 1;
                prop_assert!(
                    line >= 1 && line as usize <= lines,
                    "line {line} of {lines}: {message}"
                );
            }
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "not an input error: {other:?}"
        ))),
    }
}

fn csv_strategy() -> impl Strategy<Value = (Vec<u8>, u8)> {
    (0u8..4).prop_flat_map(|variant| {
        let base = csv_table(12 + 5 * variant as usize, 0.1 * variant as f64);
        mutated(base, CSV_JUNK).prop_map(move |bytes| (bytes, variant))
    })
}

/// The property for one mutated table (read with one of four role sets).
fn check_csv(bytes: &[u8], variant: u8) -> Result<(), TestCaseError> {
    let roles = match variant {
        0 => roles(LabelKind::Numeric, false, false),
        1 => roles(LabelKind::Preference, true, false),
        2 => roles(LabelKind::Numeric, true, true),
        _ => {
            let mut r = roles(LabelKind::Preference, false, true);
            r.features = FeatureSelection::Prefix("x".into());
            r
        }
    };
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' || (b == b'\n' && (i == 0 || bytes[i - 1] != b'\r')))
        .count() as u64;
    match realdata::table::read_table_from(bytes, "fuzz.csv", &roles) {
        Ok(table) => {
            count_loaded();
            prop_assert_eq!(table.x.nrows(), table.lines.len());
            prop_assert!(table
                .x
                .iter()
                .chain(table.label.iter().flatten())
                .chain(table.weights.iter().flatten())
                .all(|v| v.is_finite() && v.abs() <= MAX_MAGNITUDE));
            prop_assert!(table.lines.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(table.lines.iter().all(|&l| l >= 2 && l <= breaks + 1));
        }
        Err(e @ Error::Core(meta_router_core::Error::Input { .. })) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzz.csv"), "{}", message);
            prop_assert!(
                message.len() <= 1000,
                "a message of {} bytes",
                message.len()
            );
            if let Error::Core(meta_router_core::Error::Input {
                line: Some(line), ..
            }) = e
            {
                prop_assert!(
                    line >= 1 && line <= breaks + 1,
                    "line {} of {}",
                    line,
                    breaks + 1
                );
            }
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "not an input error: {other:?}"
            )))
        }
    }
    Ok(())
}

proptest! {
    // A fixed seed in CI, so a failure reproduces; the long run draws fresh ones.
    #![proptest_config(Config {
        cases: 300,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261130),
        ..Config::default()
    })]

    #[test]
    fn mutated_specs_never_panic_and_errors_name_file_and_line(text in spec_strategy()) {
        check_spec(&text)?;
    }

    #[test]
    fn mutated_records_never_panic_and_errors_name_a_line(bytes in records_strategy()) {
        check_records(&bytes)?;
    }

    #[test]
    fn mutated_router_files_never_panic_and_errors_name_the_file(bytes in router_strategy()) {
        check_router(&bytes)?;
    }

    #[test]
    fn mutated_tables_never_panic_and_errors_name_file_and_line((bytes, variant) in csv_strategy()) {
        check_csv(&bytes, variant)?;
    }
}

/// Runs each property for `FUZZ_SECONDS` seconds (default 60) with fresh
/// random cases, the targets from `FUZZ_TARGETS` (default all), and prints
/// how many cases ran.
#[test]
#[ignore = "long fuzzing run: FUZZ_SECONDS=600 cargo test --release --test fuzz -- --ignored --nocapture"]
fn long_fuzzing_run() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let targets =
        std::env::var("FUZZ_TARGETS").unwrap_or_else(|_| "spec,records,router,csv".into());
    let budget = Duration::from_secs(seconds);
    let config = Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    };
    for name in targets.split(',').map(str::trim) {
        LOADED.store(0, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let mut batches = 0u64;
        while started.elapsed() < budget {
            let mut runner = TestRunner::new(config.clone());
            let failure = match name {
                "spec" => runner
                    .run(&spec_strategy(), |text| check_spec(&text))
                    .map_err(|e| e.to_string()),
                "records" => runner
                    .run(&records_strategy(), |bytes| check_records(&bytes))
                    .map_err(|e| e.to_string()),
                "router" => runner
                    .run(&router_strategy(), |bytes| check_router(&bytes))
                    .map_err(|e| e.to_string()),
                "csv" => runner
                    .run(&csv_strategy(), |(bytes, v)| check_csv(&bytes, v))
                    .map_err(|e| e.to_string()),
                other => panic!("unknown fuzz target `{other}` (spec, records, router, csv)"),
            }
            .err();
            if let Some(e) = failure {
                panic!("{name}: {e}");
            }
            batches += 1;
        }
        println!(
            "{name}: {} cases in {:.0} s ({} loaded, the rest refused with an error), no failure",
            batches * config.cases as u64,
            started.elapsed().as_secs_f64(),
            LOADED.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
}
