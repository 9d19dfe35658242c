//! `evaluate`'s bootstrap intervals, checked numerically: an independent
//! bootstrap written here — the same resamples (the documented stream: sample
//! `b` from `derive_seed(seed_for(seed, 0, 0, Bootstrap), [b])`, `T` draws of
//! `random_range(0..T)`), its own EG, regret and MSE — must give the
//! standard errors and the normal intervals `value ± z_{0.975}·SE` that
//! `evaluate` writes to `evaluation.csv`.

use std::fs;
use std::path::Path;
use std::process::Command;

use meta_router::rng::{derive_seed, rng_from_seed, seed_for, Purpose};
use rand::RngExt;

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CSV file's header and rows.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// `EG(ρ)`: the mean gain of the `round(ρT)` queries with the highest score
/// (ties to the lower index) minus `ρ · mean(g)`.
fn efficiency_gain(score: &[f64], gain: &[f64], rho: f64) -> f64 {
    let t = gain.len();
    let mut order: Vec<usize> = (0..t).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let k = ((rho * t as f64).round() as usize).min(t);
    let routed: f64 = order[..k].iter().map(|&j| gain[j]).sum();
    let mean: f64 = gain.iter().sum::<f64>() / t as f64;
    routed / t as f64 - rho * mean
}

/// `Reg(w) = mean (g − w c)(1{g > w c} − 1{ψ̂ > w c})`, cost difference `c = 1`.
fn regret(score: &[f64], gain: &[f64], w: f64) -> f64 {
    let total: f64 = score
        .iter()
        .zip(gain)
        .map(|(&s, &g)| (g - w) * (f64::from(u8::from(g > w)) - f64::from(u8::from(s > w))))
        .sum();
    total / gain.len() as f64
}

fn mse(score: &[f64], gain: &[f64]) -> f64 {
    score
        .iter()
        .zip(gain)
        .map(|(s, g)| (s - g) * (s - g))
        .sum::<f64>()
        / gain.len() as f64
}

#[test]
fn bootstrap_intervals_match_an_independent_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "scenarios",
            "export",
            "healthbench-like",
            "--n-gold",
            "100",
            "--seed",
            "1",
            "--out",
            "data",
        ],
    );
    fs::write(
        d.join("router.toml"),
        "method = \"dr-learner\"\nlearner = { type = \"ridge\" }\n",
    )
    .unwrap();
    run(
        d,
        &[
            "fit",
            "--gold",
            "data/gold.csv",
            "--pref",
            "data/pref.csv",
            "--config",
            "router.toml",
            "--seed",
            "7",
            "--out",
            "router.json",
        ],
    );
    // ψ̂ of every test query, exactly (route writes shortest round-trip floats).
    run(
        d,
        &[
            "route",
            "--model",
            "router.json",
            "--queries",
            "data/test.csv",
            "--cost-weight",
            "0.1",
            "--out",
            "routed.csv",
        ],
    );
    let (header, rows) = csv(&d.join("routed.csv"));
    assert_eq!(header[1], "psi_hat");
    let score: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    let (header, rows) = csv(&d.join("data/test.csv"));
    let label = header.iter().position(|h| h == "label").unwrap();
    let gain: Vec<f64> = rows.iter().map(|r| r[label].parse().unwrap()).collect();
    let t = gain.len();
    assert_eq!((t, score.len()), (500, 500));

    let (bootstrap, seed) = (300usize, 19u64);
    run(
        d,
        &[
            "evaluate",
            "--model",
            "router.json",
            "--test",
            "data/test.csv",
            "--bootstrap",
            "300",
            "--seed",
            "19",
            "--out",
            "eval",
        ],
    );
    let (header, rows) = csv(&d.join("eval/evaluation.csv"));
    assert_eq!(header, ["metric", "x", "value", "se", "lower", "upper"]);

    // The independent bootstrap: the same resamples, this file's metrics.
    let base = seed_for(seed, 0, 0, Purpose::Bootstrap);
    let resamples: Vec<(Vec<f64>, Vec<f64>)> = (0..bootstrap)
        .map(|b| {
            let mut rng = rng_from_seed(derive_seed(base, &[b as u64]));
            let picks: Vec<usize> = (0..t).map(|_| rng.random_range(0..t)).collect();
            (
                picks.iter().map(|&j| score[j]).collect(),
                picks.iter().map(|&j| gain[j]).collect(),
            )
        })
        .collect();
    let z = 1.959963984540054; // Φ⁻¹(0.975) (scipy.stats.norm.ppf)
    let gain_scale = gain.iter().map(|g| g.abs()).sum::<f64>() / t as f64;
    let check = |metric: &str, x: Option<f64>, statistic: &dyn Fn(&[f64], &[f64]) -> f64| {
        let row = rows
            .iter()
            .find(|r| r[0] == metric && x.is_none_or(|x| r[1].parse::<f64>().ok() == Some(x)))
            .unwrap_or_else(|| panic!("no row {metric} {x:?}"));
        let number = |i: usize| row[i].parse::<f64>().unwrap();
        let value = statistic(&score, &gain);
        let draws: Vec<f64> = resamples.iter().map(|(s, g)| statistic(s, g)).collect();
        let mean = draws.iter().sum::<f64>() / bootstrap as f64;
        let se = (draws.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
            / (bootstrap - 1) as f64)
            .sqrt();
        // Sums in another order differ by rounding: a relative 1e-9 of the
        // value or SE, at least of the gains' scale (EG(1) is 0 up to it).
        let scale = value.abs().max(se).max(gain_scale);
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * scale,
                "{metric} {x:?} {what}: evaluate {a}, independent {b}"
            );
        };
        close(number(2), value, "value");
        close(number(3), se, "se");
        close(number(4), value - z * se, "lower");
        close(number(5), value + z * se, "upper");
        se
    };
    let rho_grid: Vec<f64> = (0..=20).map(|i| i as f64 / 20.0).collect();
    let mut positive = 0;
    for &rho in &rho_grid {
        let se = check("eg", Some(rho), &|s, g| efficiency_gain(s, g, rho));
        positive += usize::from(se > 1e-9 * gain_scale);
    }
    // EG(0) and EG(1) are 0 on every resample (up to rounding); every
    // other ρ varies.
    assert_eq!(positive, rho_grid.len() - 2);
    for i in 0..=10 {
        let w = i as f64 / 20.0;
        assert!(check("regret", Some(w), &|s, g| regret(s, g, w)) > 0.0);
    }
    assert!(check("mse", None, &mse) > 0.0);
}

/// `evaluate` with several routers: every router is scored on the same
/// resamples, so each difference's interval is that of the paired
/// difference; checked against an independent paired bootstrap (MSE, regret
/// at every w and its mean over the grid) and the per-router rows against
/// the single-router evaluation.
#[test]
fn paired_differences_match_an_independent_paired_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let export = ["scenarios", "export", "healthbench-like", "--n-gold", "100"];
    run(
        d,
        &[&export[..], &["--seed", "2", "--out", "data"]].concat(),
    );
    let mut scores = Vec::new();
    for method in ["dr-learner", "pooled"] {
        let config = format!("method = \"{method}\"\nlearner = {{ type = \"ridge\" }}\n");
        fs::write(d.join(format!("{method}.toml")), config).unwrap();
        let (toml, json, routed) = (
            format!("{method}.toml"),
            format!("{method}.json"),
            format!("{method}.csv"),
        );
        let data = ["--gold", "data/gold.csv", "--pref", "data/pref.csv"];
        run(
            d,
            &[
                &["fit"][..],
                &data,
                &["--config", &toml, "--seed", "3", "--out", &json],
            ]
            .concat(),
        );
        let queries = ["--queries", "data/test.csv", "--cost-weight", "0.1"];
        run(
            d,
            &[
                &["route", "--model", &json][..],
                &queries,
                &["--out", &routed],
            ]
            .concat(),
        );
        let (_, rows) = csv(&d.join(&routed));
        scores.push(
            rows.iter()
                .map(|r| r[1].parse::<f64>().unwrap())
                .collect::<Vec<f64>>(),
        );
    }
    let (header, rows) = csv(&d.join("data/test.csv"));
    let label = header.iter().position(|h| h == "label").unwrap();
    let gain: Vec<f64> = rows.iter().map(|r| r[label].parse().unwrap()).collect();
    let t = gain.len();
    let common = [
        "--test",
        "data/test.csv",
        "--bootstrap",
        "200",
        "--seed",
        "5",
    ];
    let models = ["--model", "dr-learner.json", "--model", "pooled.json"];
    run(
        d,
        &[&["evaluate"][..], &models, &common, &["--out", "cmp"]].concat(),
    );
    run(
        d,
        &[
            &["evaluate", "--model", "pooled.json"][..],
            &common,
            &["--out", "one"],
        ]
        .concat(),
    );
    let (header, rows) = csv(&d.join("cmp/comparison.csv"));
    assert_eq!(
        header,
        ["router", "versus", "metric", "x", "value", "se", "lower", "upper"]
    );
    // The per-router rows are the single-router evaluation's, byte for byte.
    let (_, single) = csv(&d.join("one/evaluation.csv"));
    let pooled_rows: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r[0] == "pooled" && r[1].is_empty())
        .map(|r| r[2..].to_vec())
        .collect();
    assert_eq!(pooled_rows, single);

    let base = seed_for(5, 0, 0, Purpose::Bootstrap);
    let picks: Vec<Vec<usize>> = (0..200u64)
        .map(|b| {
            let mut rng = rng_from_seed(derive_seed(base, &[b]));
            (0..t).map(|_| rng.random_range(0..t)).collect()
        })
        .collect();
    let z = 1.959963984540054; // Φ⁻¹(0.975) (scipy.stats.norm.ppf)
    let w_grid: Vec<f64> = (0..=10).map(|i| i as f64 / 20.0).collect();
    let mean_regret =
        |s: &[f64], g: &[f64]| w_grid.iter().map(|&w| regret(s, g, w)).sum::<f64>() / 11.0;
    let check = |metric: &str, x: Option<f64>, statistic: &dyn Fn(&[f64], &[f64]) -> f64| {
        let row = rows
            .iter()
            .find(|r| {
                r[0] == "dr-learner"
                    && r[1] == "pooled"
                    && r[2] == metric
                    && x.is_none_or(|x| r[3].parse::<f64>().ok() == Some(x))
            })
            .unwrap_or_else(|| panic!("no difference row {metric} {x:?}"));
        let number = |i: usize| row[i].parse::<f64>().unwrap();
        let paired = |s: &[f64], p: &[f64], g: &[f64]| statistic(s, g) - statistic(p, g);
        let value = paired(&scores[0], &scores[1], &gain);
        let draws: Vec<f64> = picks
            .iter()
            .map(|rows| {
                let pick = |v: &[f64]| rows.iter().map(|&j| v[j]).collect::<Vec<f64>>();
                paired(&pick(&scores[0]), &pick(&scores[1]), &pick(&gain))
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / 200.0;
        let se = (draws.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 199.0).sqrt();
        let scale = value.abs().max(se).max(1e-3);
        for (got, want, what) in [
            (number(4), value, "value"),
            (number(5), se, "se"),
            (number(6), value - z * se, "lower"),
            (number(7), value + z * se, "upper"),
        ] {
            assert!(
                (got - want).abs() <= 1e-9 * scale,
                "{metric} {x:?} {what}: {got} vs {want}"
            );
        }
        se
    };
    let se = check("mse", None, &mse);
    assert!(se > 0.0);
    for &w in &w_grid {
        check("regret", Some(w), &|s, g| regret(s, g, w));
    }
    check("mean_regret", None, &mean_regret);
    let markdown = fs::read_to_string(d.join("cmp/comparison.md")).unwrap();
    assert!(
        markdown.contains("| `dr-learner` − `pooled` |"),
        "{markdown}"
    );
    for figure in ["compare_eg_paper_vs_rho.svg", "compare_regret_vs_w.png"] {
        assert!(d.join("cmp").join(figure).is_file(), "{figure}");
    }
}

/// Routers that read different feature columns are not compared: the error
/// names the file, and nothing is written.
#[test]
fn routers_with_different_features_are_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let export = ["scenarios", "export", "healthbench-like", "--n-gold", "60"];
    run(
        d,
        &[&export[..], &["--set", "d=4", "--out", "data"]].concat(),
    );
    let data = ["fit", "--gold", "data/gold.csv", "--pref", "data/pref.csv"];
    run(d, &[&data[..], &["--out", "all.json"]].concat());
    run(
        d,
        &[&data[..], &["--features", "x1,x2", "--out", "two.json"]].concat(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(["evaluate", "--model", "all.json", "--model", "two.json"])
        .args(["--test", "data/test.csv", "--out", "cmp"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("two.json") && stderr.contains("feature columns differ"),
        "{stderr}"
    );
    assert!(!d.join("cmp").exists());
}
