//! Malformed CSV, configuration and router files fed to `fit`, `route` and
//! `evaluate`, table-driven: every case must exit non-zero, name the file
//! and the line or column (or key) in its message, and leave no output.

use std::fs;
use std::path::Path;
use std::process::Command;

fn binary(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small valid GS (12 rows) or PB (40 rows) table: features x1, x2, label.
fn table(rows: usize, shift: f64) -> String {
    let mut text = String::from("x1,x2,label\n");
    for i in 0..rows {
        let x1 = i as f64 / rows as f64;
        let x2 = (i as f64 * 1.7).sin();
        let label = x1 + 0.2 * x2 + 0.05 * (i as f64 * 2.3).cos() - shift;
        text.push_str(&format!("{x1},{x2},{label}\n"));
    }
    text
}

/// `text` with a weight column `w` (1 everywhere; `value` on data line `line`).
fn with_weights(text: &str, line: usize, value: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l},w"),
            i if i + 1 == line => format!("{l},{value}"),
            _ => format!("{l},1"),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

struct Case {
    name: &'static str,
    /// Files written into the case's folder (over the valid defaults).
    files: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
    /// Substrings the error message must contain.
    expect: Vec<&'static str>,
    /// A file the command must not create.
    absent: &'static str,
}

fn replace_line(text: &str, line: usize, with: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                with.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

const FIT: &[&str] = &[
    "fit", "--gold", "gold.csv", "--pref", "pref.csv", "--out", "new.json",
];

fn fit_with(extra: &[&'static str]) -> Vec<&'static str> {
    FIT.iter().copied().chain(extra.iter().copied()).collect()
}

fn cases(router: &str) -> Vec<Case> {
    let gold = table(12, 0.0);
    let pref = table(40, 0.3);
    let test = table(30, 0.0);
    let fit = |name, files, extra: &[&'static str], expect| Case {
        name,
        files,
        args: fit_with(extra),
        expect,
        absent: "new.json",
    };
    let route = |name, files, extra: &[&'static str], expect| Case {
        name,
        files,
        args: [
            "route",
            "--model",
            "router.json",
            "--queries",
            "test.csv",
            "--out",
            "out.csv",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect(),
        expect,
        absent: "out.csv",
    };
    let evaluate = |name, files, extra: &[&'static str], expect| Case {
        name,
        files,
        args: [
            "evaluate",
            "--model",
            "router.json",
            "--test",
            "test.csv",
            "--out",
            "eval",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect(),
        expect,
        absent: "eval",
    };
    let router_with = |from: &str, to: &str| router.replacen(from, to, 1);
    vec![
        fit(
            "nan feature",
            vec![("gold.csv", replace_line(&gold, 3, "nan,0.5,1"))],
            &[],
            vec!["gold.csv, line 3, column `x1`", "finite"],
        ),
        fit(
            "infinite label",
            vec![("gold.csv", replace_line(&gold, 4, "0.5,0.5,inf"))],
            &[],
            vec!["gold.csv, line 4, column `label`"],
        ),
        fit(
            "negative infinity in pref",
            vec![("pref.csv", replace_line(&pref, 7, "-inf,0.5,1"))],
            &[],
            vec!["pref.csv, line 7, column `x1`"],
        ),
        fit(
            "empty cell",
            vec![("gold.csv", replace_line(&gold, 5, "0.5,,1"))],
            &[],
            vec!["gold.csv, line 5, column `x2`", "empty cell"],
        ),
        fit(
            "ragged row, too few cells",
            vec![("gold.csv", replace_line(&gold, 6, "0.5,1"))],
            &[],
            vec!["gold.csv, line 6", "ragged"],
        ),
        fit(
            "ragged row, too many cells",
            vec![("pref.csv", replace_line(&pref, 9, "0.5,1,2,3"))],
            &[],
            vec!["pref.csv, line 9", "ragged"],
        ),
        fit(
            "non-numeric feature",
            vec![("gold.csv", replace_line(&gold, 2, "abc,0.5,1"))],
            &[],
            vec!["gold.csv, line 2, column `x1`", "not a number"],
        ),
        fit(
            "non-numeric GS label word",
            vec![("gold.csv", replace_line(&gold, 2, "0.1,0.5,win"))],
            &[],
            vec!["gold.csv, line 2, column `label`"],
        ),
        fit(
            "unknown preference word",
            vec![("pref.csv", replace_line(&pref, 3, "0.1,0.5,draw"))],
            &[],
            vec!["pref.csv, line 3, column `label`", "win / tie / loss"],
        ),
        fit(
            "duplicate header",
            vec![("gold.csv", replace_line(&gold, 1, "x1,x1,label"))],
            &[],
            vec!["gold.csv, line 1, column `x1`", "twice"],
        ),
        fit(
            "empty header name",
            vec![("gold.csv", replace_line(&gold, 1, "x1,,label"))],
            &[],
            vec!["gold.csv, line 1", "empty"],
        ),
        fit(
            "missing label column",
            vec![],
            &["--label", "score"],
            vec!["gold.csv, line 1, column `score`"],
        ),
        fit(
            "feature columns differ",
            vec![("pref.csv", pref.replacen("x1,x2,label", "x1,x3,label", 1))],
            &[],
            vec!["pref.csv, line 1", "`x3`", "`x2`"],
        ),
        fit(
            "feature order differs",
            vec![("pref.csv", pref.replacen("x1,x2,label", "x2,x1,label", 1))],
            &[],
            vec!["pref.csv, line 1", "differ"],
        ),
        fit(
            "too few GS rows for the folds",
            vec![("gold.csv", table(3, 0.0))],
            &[],
            vec!["gold.csv", "3 data rows", "5 cross-fitting folds"],
        ),
        fit(
            "GS label outside declared range",
            vec![],
            &["--gold-range", "0,0.5"],
            vec![
                "gold.csv, line",
                "column `label`",
                "outside the declared range",
            ],
        ),
        fit(
            "PB label outside declared range",
            vec![],
            &["--pref-range", "-0.1,0.2"],
            vec!["pref.csv, line", "column `label`", "outside"],
        ),
        fit(
            "one preference class only",
            vec![("pref.csv", {
                let mut t = String::from("x1,x2,label\n");
                for i in 0..40 {
                    t.push_str(&format!("{},{},win\n", i as f64 / 40.0, (i as f64).cos()));
                }
                t
            })],
            &[],
            vec!["pref.csv, column `label`", "one value"],
        ),
        fit(
            "constant GS label",
            vec![("gold.csv", {
                let mut t = String::from("x1,x2,label\n");
                for i in 0..12 {
                    t.push_str(&format!("{},{},0.5\n", i as f64 / 12.0, (i as f64).sin()));
                }
                t
            })],
            &[],
            vec!["gold.csv, column `label`", "one value"],
        ),
        fit(
            "empty file",
            vec![("gold.csv", String::new())],
            &[],
            vec!["gold.csv, line 1", "empty"],
        ),
        fit(
            "header only",
            vec![("pref.csv", "x1,x2,label\n".into())],
            &[],
            vec!["pref.csv, line 1", "no data rows"],
        ),
        fit(
            "prefix selects nothing",
            vec![],
            &["--features", "emb_*"],
            vec!["gold.csv, line 1", "no feature columns"],
        ),
        fit(
            "named feature missing",
            vec![],
            &["--features", "x1,x9"],
            vec!["gold.csv, line 1, column `x9`"],
        ),
        fit(
            "invalid UTF-8",
            vec![(
                "gold.csv",
                String::from_utf8_lossy(gold.as_bytes()).into_owned(),
            )],
            &[],
            vec![],
        ),
        fit(
            "config with unknown key",
            vec![(
                "router.toml",
                "method = \"dr-learner\"\nbias_lerner = { type = \"ridge\" }\n".into(),
            )],
            &["--config", "router.toml"],
            vec!["router.toml", "line 2", "bias_lerner"],
        ),
        fit(
            "config with invalid TOML",
            vec![(
                "router.toml",
                "method = \"dr-learner\"\nfolds = = 3\n".into(),
            )],
            &["--config", "router.toml"],
            vec!["router.toml", "line 2", "not valid TOML"],
        ),
        fit(
            "config asks for oracle nuisances",
            vec![(
                "router.toml",
                "method = \"r-learner\"\nnuisances = \"oracle\"\n".into(),
            )],
            &["--config", "router.toml"],
            vec!["nuisances", "oracle"],
        ),
        fit(
            "config with too few folds",
            vec![("router.toml", "folds = 1\n".into())],
            &["--config", "router.toml"],
            vec!["router.toml", "line 1", "folds"],
        ),
        fit(
            "config naming a reference method",
            vec![("router.toml", "method = \"oracle\"\n".into())],
            &["--config", "router.toml"],
            vec!["router.toml", "line 1", "method"],
        ),
        fit(
            "negative weight",
            vec![("gold.csv", with_weights(&gold, 4, "-1"))],
            &["--weight", "w"],
            vec!["gold.csv, line 4, column `w`", "negative"],
        ),
        fit(
            "non-finite weight",
            vec![
                ("gold.csv", with_weights(&gold, 0, "1")),
                ("pref.csv", with_weights(&pref, 6, "inf")),
            ],
            &["--weight", "w"],
            vec!["pref.csv, line 6, column `w`", "finite"],
        ),
        fit(
            "all weights zero",
            vec![(
                "gold.csv",
                with_weights(&gold, 0, "0").replace(",1\n", ",0\n"),
            )],
            &["--weight", "w"],
            vec!["gold.csv, column `w`", "every weight is 0"],
        ),
        fit(
            "weight column missing",
            vec![],
            &["--weight", "w"],
            vec!["gold.csv, line 1, column `w`"],
        ),
        fit(
            "declared range reversed",
            vec![],
            &["--gold-range", "1,0"],
            vec!["--gold-range"],
        ),
        route(
            "truncated router file",
            vec![("router.json", router[..router.len() / 2].to_string())],
            &["--cost-weight", "0.1"],
            vec!["router.json", "line 1", "not a valid router file"],
        ),
        route(
            "router file of another format version",
            vec![(
                "router.json",
                router_with("\"format_version\":2", "\"format_version\":3"),
            )],
            &["--cost-weight", "0.1"],
            vec!["router.json", "format version 3", "meta-router fit"],
        ),
        route(
            "not a router file",
            vec![("router.json", "{\"format\":\"something-else\"}".into())],
            &["--cost-weight", "0.1"],
            vec!["router.json", "not a meta-router router file"],
        ),
        route(
            "router with a damaged coefficient array",
            vec![(
                "router.json",
                router_with(
                    "\"coefficients\":{\"v\":1,\"dim\":[2]",
                    "\"coefficients\":{\"v\":1,\"dim\":[3]",
                ),
            )],
            &["--cost-weight", "0.1"],
            vec!["router.json", "line 1", "coefficients"],
        ),
        route(
            "router with a feature name dropped",
            vec![(
                "router.json",
                router_with("\"features\":[\"x1\",\"x2\"]", "\"features\":[\"x1\"]"),
            )],
            &["--cost-weight", "0.1"],
            vec!["router.json", "1 feature names for a router of 2 features"],
        ),
        route(
            "router with an unknown model kind",
            vec![("router.json", router_with("{\"ridge\":", "{\"ridgge\":"))],
            &["--cost-weight", "0.1"],
            vec!["router.json", "ridgge"],
        ),
        route(
            "queries without a feature column",
            vec![("test.csv", test.replacen("x1,x2,label", "x1,z,label", 1))],
            &["--cost-weight", "0.1"],
            vec!["test.csv, line 1, column `x2`"],
        ),
        route(
            "queries with NaN",
            vec![("test.csv", replace_line(&test, 4, "0.1,NaN,1"))],
            &["--cost-weight", "0.1"],
            vec!["test.csv, line 4, column `x2`"],
        ),
        // `--cost-weight=-1` (clap reads `--cost-weight -1` as a flag `-1`):
        // the value reaches the routing rule's own check.
        route(
            "negative cost weight",
            vec![],
            &["--cost-weight=-1"],
            vec![
                "invalid parameter `w` = -1",
                "cost weight must be finite and >= 0",
            ],
        ),
        route(
            "infinite cost weight",
            vec![],
            &["--cost-weight=inf"],
            vec![
                "invalid parameter `w` = inf",
                "cost weight must be finite and >= 0",
            ],
        ),
        evaluate(
            "test file without the label",
            vec![("test.csv", test.replacen("x1,x2,label", "x1,x2,score", 1))],
            &[],
            vec!["test.csv, line 1, column `label`"],
        ),
        evaluate(
            "truth column missing",
            vec![],
            &["--truth", "true_psi"],
            vec!["test.csv, line 1, column `true_psi`"],
        ),
        evaluate(
            "non-numeric test label",
            vec![("test.csv", replace_line(&test, 8, "0.1,0.2,high"))],
            &[],
            vec!["test.csv, line 8, column `label`"],
        ),
    ]
}

#[test]
fn malformed_inputs_fail_cleanly_naming_file_and_place() {
    let base = tempfile::tempdir().unwrap();
    let write_valid = |dir: &Path| {
        fs::write(dir.join("gold.csv"), table(12, 0.0)).unwrap();
        fs::write(dir.join("pref.csv"), table(40, 0.3)).unwrap();
        fs::write(dir.join("test.csv"), table(30, 0.0)).unwrap();
    };
    write_valid(base.path());
    let (code, err) = binary(
        base.path(),
        &FIT[..5]
            .iter()
            .copied()
            .chain(["--out", "router.json"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "the valid base data must fit: {err}");
    let router = fs::read_to_string(base.path().join("router.json")).unwrap();
    // The valid base data routes and evaluates.
    let (code, err) = binary(
        base.path(),
        &[
            "route",
            "--model",
            "router.json",
            "--queries",
            "test.csv",
            "--cost-weight",
            "0.1",
            "--out",
            "ok.csv",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, err) = binary(
        base.path(),
        &[
            "evaluate",
            "--model",
            "router.json",
            "--test",
            "test.csv",
            "--out",
            "ok",
            "--bootstrap",
            "20",
        ],
    );
    assert_eq!(code, 0, "{err}");

    let cases = cases(&router);
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        write_valid(dir.path());
        fs::write(dir.path().join("router.json"), &router).unwrap();
        for (name, text) in &case.files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        if case.name == "invalid UTF-8" {
            let mut bytes = table(12, 0.0).into_bytes();
            let at = bytes.len() - 3;
            bytes[at] = 0xff;
            fs::write(dir.path().join("gold.csv"), bytes).unwrap();
        }
        let (code, err) = binary(dir.path(), &case.args);
        let mut expect = case.expect.clone();
        if case.name == "invalid UTF-8" {
            expect = vec!["gold.csv, line 13", "UTF-8"];
        }
        let missing: Vec<_> = expect.iter().filter(|e| !err.contains(*e)).collect();
        if code == 0 || !missing.is_empty() || dir.path().join(case.absent).exists() {
            failures.push(format!(
                "{}: exit {code}, missing {missing:?}, output left: {}; stderr: {err}",
                case.name,
                dir.path().join(case.absent).exists()
            ));
        }
        if !err.starts_with("error:") {
            failures.push(format!(
                "{}: stderr does not start with `error:`: {err}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fit_refuses_to_replace_a_router_without_force() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("gold.csv"), table(12, 0.0)).unwrap();
    fs::write(dir.path().join("pref.csv"), table(40, 0.3)).unwrap();
    fs::write(dir.path().join("new.json"), "keep").unwrap();
    let (code, err) = binary(dir.path(), FIT);
    assert_ne!(code, 0);
    assert!(err.contains("new.json exists"), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("new.json")).unwrap(),
        "keep"
    );
    let (code, err) = binary(dir.path(), &fit_with(&["--force"]));
    assert_eq!(code, 0, "{err}");
}
