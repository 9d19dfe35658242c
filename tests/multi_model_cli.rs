//! `fit --models` and `route` with a many-model router: one model through the
//! many-model path gives the two-model router's ψ̂; the export → fit → route
//! round trip, with K = 4 decisions checked row by row against
//! argmax_k (ψ̂_k − w·C_k); malformed inputs fail naming the file and the
//! column or flag, exit 1, and leave no output.

use std::fs;
use std::path::Path;
use std::process::Command;

fn binary(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Features x1, x2 and one label column per model (`a`, `b`); `skip` leaves
/// model `b`'s label empty on every third row.
fn table(rows: usize, shift: f64, skip: bool) -> String {
    let mut text = String::from("x1,x2,a,b\n");
    for i in 0..rows {
        let x1 = i as f64 / rows as f64;
        let x2 = (i as f64 * 1.7).sin();
        let noise = 0.05 * (i as f64 * 2.3).cos();
        let a = x1 + 0.2 * x2 + noise - shift;
        let b = 0.5 - x1 + noise + shift;
        let b = if skip && i % 3 == 0 {
            String::new()
        } else {
            b.to_string()
        };
        text.push_str(&format!("{x1},{x2},{a},{b}\n"));
    }
    text
}

fn write_valid(dir: &Path) {
    fs::write(dir.join("gold.csv"), table(15, 0.0, true)).unwrap();
    fs::write(dir.join("pref.csv"), table(60, 0.3, true)).unwrap();
    let mut queries = String::from("x1,x2,cost_b\n");
    for i in 0..20 {
        queries.push_str(&format!(
            "{},{},{}\n",
            i as f64 / 20.0,
            (i as f64).cos(),
            1.0 + 0.1 * i as f64
        ));
    }
    fs::write(dir.join("queries.csv"), queries).unwrap();
}

const FIT: &[&str] = &[
    "fit",
    "--gold",
    "gold.csv",
    "--pref",
    "pref.csv",
    "--models",
    "a,b",
    "--reference",
    "small",
    "--out",
];

#[test]
fn one_model_is_the_two_model_router_and_routes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_valid(d);
    // Two-model router on label column `a` (the file's other label column
    // excluded from the features by name).
    let (code, _, err) = binary(
        d,
        &[
            "fit",
            "--gold",
            "gold.csv",
            "--pref",
            "pref.csv",
            "--label",
            "a",
            "--features",
            "x1,x2",
            "--out",
            "two.json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = binary(
        d,
        &[
            "fit",
            "--gold",
            "gold.csv",
            "--pref",
            "pref.csv",
            "--models",
            "a",
            "--features",
            "x1,x2",
            "--out",
            "one.json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let route = |model: &str, extra: &[&str]| {
        let mut args = vec![
            "route",
            "--model",
            model,
            "--queries",
            "queries.csv",
            "--cost-weight",
            "0.1",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = binary(d, &args);
        assert_eq!(code, 0, "{err}");
        out
    };
    let two = route("two.json", &[]);
    let one = route("one.json", &["--costs", "reference=0,a=1"]);
    // the same ψ̂ (printed in shortest round-trip form) and the same decision,
    // on every one of the 20 queries
    assert_eq!(two.lines().count(), 21);
    assert_eq!(one.lines().count(), 21);
    for (t, o) in two.lines().skip(1).zip(one.lines().skip(1)) {
        let t: Vec<&str> = t.split(',').collect();
        let o: Vec<&str> = o.split(',').collect();
        assert_eq!(t[1], o[1], "ψ̂ differs: {t:?} vs {o:?}");
        let primary = t.last() == Some(&"primary");
        assert_eq!(o.last() == Some(&"a"), primary);
    }
    // Two models with missing labels, per-query costs for one of them.
    let (code, _, err) = binary(d, &[FIT, &["both.json"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("model `b`: 10 GS and 40 PB rows"), "{err}");
    let out = route(
        "both.json",
        &[
            "--costs",
            "small=0,a=0.5",
            "--cost-columns",
            "b=cost_b",
            "--out",
            "routed.csv",
        ],
    );
    assert!(out.is_empty());
    let routed = fs::read_to_string(d.join("routed.csv")).unwrap();
    let mut lines = routed.lines();
    assert_eq!(lines.next(), Some("row,psi_hat_a,psi_hat_b,route"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 20);
    assert!(rows
        .iter()
        .all(|r| ["small", "a", "b"].contains(&r.rsplit(',').next().unwrap())));
}

struct Case {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
    expect: Vec<&'static str>,
    absent: &'static str,
}

fn route_args(extra: &[&'static str]) -> Vec<&'static str> {
    [
        "route",
        "--model",
        "router.json",
        "--queries",
        "queries.csv",
        "--cost-weight",
        "0.1",
        "--out",
        "new.csv",
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect()
}

#[test]
fn malformed_many_model_inputs_fail_cleanly() {
    let base = tempfile::tempdir().unwrap();
    write_valid(base.path());
    let (code, _, err) = binary(base.path(), &[FIT, &["router.json"]].concat());
    assert_eq!(code, 0, "{err}");
    let router = fs::read_to_string(base.path().join("router.json")).unwrap();
    let fit =
        |extra: &[&'static str]| -> Vec<&'static str> { [FIT, &["new.json"], extra].concat() };
    let gold = table(15, 0.0, true);
    let cases = vec![
        Case {
            name: "model column missing in the PB file",
            files: vec![(
                "pref.csv",
                table(60, 0.3, true).replace("x1,x2,a,b", "x1,x2,a,c"),
            )],
            args: fit(&[]),
            expect: vec!["pref.csv, line 1, column `b`"],
            absent: "new.json",
        },
        Case {
            name: "a model with too few GS labels",
            files: vec![(
                "gold.csv",
                gold.lines()
                    .enumerate()
                    .map(|(i, l)| {
                        if i > 3 {
                            l.rsplit_once(',').unwrap().0.to_string() + ","
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            )],
            args: fit(&[]),
            expect: vec!["gold.csv", "model `b`", "2 data rows"],
            absent: "new.json",
        },
        Case {
            name: "a non-numeric label of one model",
            files: vec![(
                "gold.csv",
                gold.lines()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut cells: Vec<&str> = l.split(',').collect();
                        if i == 5 {
                            cells[2] = "x";
                        }
                        cells.join(",")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n",
            )],
            args: fit(&[]),
            expect: vec!["gold.csv, line 6, column `a`"],
            absent: "new.json",
        },
        Case {
            name: "model named twice",
            files: vec![],
            args: [
                "fit", "--gold", "gold.csv", "--pref", "pref.csv", "--models", "a,a", "--out",
                "new.json",
            ]
            .to_vec(),
            expect: vec!["models", "named twice"],
            absent: "new.json",
        },
        Case {
            name: "model equal to the reference",
            files: vec![],
            args: [
                "fit",
                "--gold",
                "gold.csv",
                "--pref",
                "pref.csv",
                "--models",
                "a,b",
                "--reference",
                "a",
                "--out",
                "new.json",
            ]
            .to_vec(),
            expect: vec!["models", "reference"],
            absent: "new.json",
        },
        Case {
            name: "--label with --models",
            files: vec![],
            args: fit(&["--label", "a"]),
            expect: vec!["--label and --models"],
            absent: "new.json",
        },
        Case {
            name: "a model without a cost",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=1"]),
            expect: vec!["model `b` has no cost"],
            absent: "new.csv",
        },
        Case {
            name: "a cost for an unknown model",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=1,b=2,z=3"]),
            expect: vec!["no model `z`", "router.json"],
            absent: "new.csv",
        },
        Case {
            name: "a negative constant cost",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=-1,b=2"]),
            expect: vec!["--costs a=-1"],
            absent: "new.csv",
        },
        Case {
            name: "a cost in both flags",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=1,b=2", "--cost-columns", "b=cost_b"]),
            expect: vec!["model `b`", "twice"],
            absent: "new.csv",
        },
        Case {
            name: "a model costed twice",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=1,b=2,a=3"]),
            expect: vec!["model `a`", "twice"],
            absent: "new.csv",
        },
        Case {
            name: "a missing cost column",
            files: vec![],
            args: route_args(&["--costs", "small=0,a=1", "--cost-columns", "b=price"]),
            expect: vec!["queries.csv, line 1, column `price`"],
            absent: "new.csv",
        },
        Case {
            name: "a negative per-query cost",
            files: vec![(
                "queries.csv",
                "x1,x2,cost_b\n0.1,0.2,1\n0.3,0.4,-2\n".to_string(),
            )],
            args: route_args(&["--costs", "small=0,a=1", "--cost-columns", "b=cost_b"]),
            expect: vec!["queries.csv: line 3, column `cost_b`"],
            absent: "new.csv",
        },
        Case {
            name: "a two-model cost for a many-model router",
            files: vec![],
            args: route_args(&["--cost", "1,0"]),
            expect: vec!["--cost is for two-model routers"],
            absent: "new.csv",
        },
        Case {
            name: "malformed cost item",
            files: vec![],
            args: route_args(&["--costs", "small"]),
            expect: vec!["--costs small", "name=value"],
            absent: "new.csv",
        },
        Case {
            name: "damaged multi-model router",
            files: vec![(
                "router.json",
                router.replacen("\"reference\":\"small\"", "\"reference\":\"a\"", 1),
            )],
            args: route_args(&["--costs", "small=0,a=1,b=2"]),
            expect: vec!["router.json", "reference"],
            absent: "new.csv",
        },
    ];
    let mut failures = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        write_valid(dir.path());
        fs::write(dir.path().join("router.json"), &router).unwrap();
        for (name, text) in &case.files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        let (code, _, err) = binary(dir.path(), &case.args);
        let missing: Vec<_> = case.expect.iter().filter(|e| !err.contains(*e)).collect();
        let left = dir.path().join(case.absent).exists();
        if code != 1 || !missing.is_empty() || left || !err.starts_with("error:") {
            failures.push(format!(
                "{}: exit {code}, missing {missing:?}, output left: {left}; stderr: {err}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exported_many_model_scenarios_fit_and_route() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = binary(
        d,
        &[
            "scenarios",
            "export",
            "multi-model",
            "--set",
            "models=3",
            "--set",
            "gold_coverage=0.8",
            "--out",
            "data",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let gold = fs::read_to_string(d.join("data/gold.csv")).unwrap();
    assert!(gold.starts_with("x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,balanced,verbose\n"));
    // some labels are missing (empty cells)
    assert!(gold
        .lines()
        .skip(1)
        .any(|l| l.ends_with(',') || l.contains(",,")));
    let (code, _, err) = binary(
        d,
        &[
            "fit",
            "--gold",
            "data/gold.csv",
            "--pref",
            "data/pref.csv",
            "--models",
            "balanced,verbose",
            "--out",
            "router.json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = binary(
        d,
        &[
            "route",
            "--model",
            "router.json",
            "--queries",
            "data/test.csv",
            "--cost-weight",
            "0.1",
            "--cost-columns",
            "reference=cost_reference,balanced=cost_balanced,verbose=cost_verbose",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 501);
    assert!(err.contains("routed 500 queries"), "{err}");

    // `evaluate` scores the many-model router on the test file's true gains:
    // its shares at w = 0.1 are `route`'s decisions, the oracle's AIQ is at
    // least the router's, and the figures are written.
    let costs = "reference=cost_reference,balanced=cost_balanced,verbose=cost_verbose";
    let evaluate = |extra: &[&str], out: &str| {
        let mut args = vec![
            "evaluate",
            "--model",
            "router.json",
            "--test",
            "data/test.csv",
            "--bootstrap",
            "50",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        binary(d, &args)
    };
    let (code, printed, err) = evaluate(&["--truth", "true_psi_", "--cost-columns", costs], "ev");
    assert_eq!(code, 0, "{err}");
    assert!(printed.contains("| AIQ of the router |"), "{printed}");
    for file in [
        "evaluation.md",
        "evaluation.csv",
        "frontier.svg",
        "regret_vs_w.svg",
        "shares_vs_w.svg",
    ] {
        assert!(d.join("ev").join(file).exists(), "{file}");
    }
    let csv = fs::read_to_string(d.join("ev/evaluation.csv")).unwrap();
    let value = |metric: &str, x: &str| -> f64 {
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[0] == metric && c[1] == x)
            .unwrap_or_else(|| panic!("no {metric} at {x}"))[2]
            .parse()
            .unwrap()
    };
    for model in ["reference", "balanced", "verbose"] {
        let routed = out
            .lines()
            .skip(1)
            .filter(|l| l.ends_with(&format!(",{model}")))
            .count();
        assert_eq!(
            value(&format!("share:{model}"), "0.1"),
            routed as f64 / 500.0,
            "{model}"
        );
    }
    assert!(value("oracle_aiq", "") >= value("aiq", ""));
    assert!(value("frontier_gap", "") >= 0.0);
    // Refused, naming the problem, with nothing written: a two-model flag,
    // a model without a cost, a missing gain column.
    for (extra, message) in [
        (
            vec!["--label", "balanced", "--cost-columns", costs],
            "--label is for two-model routers",
        ),
        (
            vec!["--truth", "true_psi_", "--costs", "reference=0,balanced=1"],
            "model `verbose` has no cost",
        ),
        (vec!["--cost-columns", costs], "balanced"),
    ] {
        let (code, _, err) = evaluate(&extra, "refused");
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: {err}");
        assert!(!d.join("refused").exists(), "{extra:?}");
    }
}

/// The numeric columns of a CSV file by name, and its rows as text.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// K = 4 (reference, balanced, verbose, large): `route`'s decision on every
/// row is argmax_k (ψ̂_k − w·C_k) with ψ̂_reference = 0, recomputed here from
/// the ψ̂ columns of its output file and the costs (per-query cost columns of
/// the exported test file, or constants), ties to the lowest model index
/// (the reference first), as `routing::multi` documents. The rule computes
/// `ψ̂_k − w (C_k − C_0)` (the same argmax); both forms are checked, and a
/// row where they could differ by rounding (top two within 1e-12) is
/// counted and must be rare. Each model is chosen somewhere, so the check
/// cannot pass by routing everything one way.
#[test]
fn many_model_decisions_are_the_argmax_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = binary(
        d,
        &[
            "scenarios",
            "export",
            "multi-model",
            "--set",
            "models=4",
            "--n-gold",
            "400",
            "--seed",
            "3",
            "--out",
            "data",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let models = ["reference", "balanced", "verbose", "large"];
    let (code, _, err) = binary(
        d,
        &[
            "fit",
            "--gold",
            "data/gold.csv",
            "--pref",
            "data/pref.csv",
            "--models",
            "balanced,verbose,large",
            "--out",
            "router.json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (test_header, test_rows) = read_csv(&d.join("data/test.csv"));
    let t = test_rows.len();
    assert_eq!(t, 500);
    let column = |name: &str| test_header.iter().position(|h| h == name).unwrap();
    let per_query: Vec<Vec<f64>> = test_rows
        .iter()
        .map(|r| {
            models
                .iter()
                .map(|m| r[column(&format!("cost_{m}"))].parse().unwrap())
                .collect()
        })
        .collect();
    let constant = [0.1, 0.5, 1.0, 2.0];
    let mut chosen = [0usize; 4];
    let mut near_ties = 0;
    for w in ["0", "0.05", "0.2", "1"] {
        for per_query_costs in [true, false] {
            let mut args = vec![
                "route",
                "--model",
                "router.json",
                "--queries",
                "data/test.csv",
                "--cost-weight",
                w,
                "--out",
                "routed.csv",
                "--force",
            ];
            if per_query_costs {
                args.extend([
                    "--cost-columns",
                    "reference=cost_reference,balanced=cost_balanced,verbose=cost_verbose,large=cost_large",
                ]);
            } else {
                args.extend(["--costs", "reference=0.1,balanced=0.5,verbose=1,large=2"]);
            }
            let (code, _, err) = binary(d, &args);
            assert_eq!(code, 0, "{err}");
            let (header, rows) = read_csv(&d.join("routed.csv"));
            assert_eq!(
                header,
                [
                    "row",
                    "psi_hat_balanced",
                    "psi_hat_verbose",
                    "psi_hat_large",
                    "route"
                ]
            );
            assert_eq!(rows.len(), t, "one decision per query");
            let w: f64 = w.parse().unwrap();
            for (j, row) in rows.iter().enumerate() {
                assert_eq!(row.len(), 5);
                assert_eq!(row[0], (j + 1).to_string());
                let mut psi = vec![0.0];
                psi.extend(row[1..4].iter().map(|v| v.parse::<f64>().unwrap()));
                let costs: Vec<f64> = if per_query_costs {
                    per_query[j].clone()
                } else {
                    constant.to_vec()
                };
                let argmax = |objective: &dyn Fn(usize) -> f64| {
                    (1..4).fold(0, |best, k| {
                        if objective(k) > objective(best) {
                            k
                        } else {
                            best
                        }
                    })
                };
                let relative = argmax(&|k| psi[k] - w * (costs[k] - costs[0]));
                let absolute = argmax(&|k| psi[k] - w * costs[k]);
                let decided = models.iter().position(|m| *m == row[4]).unwrap();
                assert_eq!(decided, relative, "w = {w}, row {}: {row:?}", j + 1);
                if absolute != relative {
                    let gap = (psi[absolute] - w * costs[absolute])
                        - (psi[relative] - w * costs[relative]);
                    assert!(gap.abs() < 1e-12, "row {}: {gap}", j + 1);
                    near_ties += 1;
                }
                chosen[decided] += 1;
            }
        }
    }
    assert!(
        chosen.iter().all(|&c| c > 0),
        "choices per model: {chosen:?}"
    );
    assert!(near_ties <= 2, "{near_ties} near ties");
}
