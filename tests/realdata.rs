//! The real-data path end to end: `scenarios export` → `fit` → `route` →
//! `evaluate` on exported scenario data, checked against in-memory fits and
//! the routing module; and the bit-exact save/load round trip of every
//! fitted model kind.

use std::fs;
use std::path::Path;
use std::process::Command;

use ndarray::{Array1, Array2};

use meta_router::learners::{
    Basis, BoostingParams, FittedModel, ForestParams, KernelRidgeParams, LearnerConfig,
    LogisticParams, RidgeParams,
};
use meta_router::meta::{FittedRouter, MetaRouterConfig};
use meta_router::realdata::evaluate::{evaluate, EvaluationOptions};
use meta_router::realdata::{
    self, model_file, read_table, ColumnRoles, FeatureSelection, LabelColumn, LabelKind,
};
use meta_router::routing::{self, Cutoff};

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn roles(kind: LabelKind) -> ColumnRoles {
    ColumnRoles {
        features: FeatureSelection::Rest,
        label: Some(LabelColumn {
            name: "label".into(),
            kind,
            range: None,
            constant_ok: false,
            missing_ok: false,
        }),
        extra: vec![],
        optional: vec![],
        id: None,
        weight: None,
        ignore: Vec::new(),
    }
}

fn same_bits(a: &Array1<f64>, b: &Array1<f64>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Parses a CSV written by the binary into rows of cells.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn fit_route_evaluate_on_exported_data_match_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "scenarios",
            "export",
            "healthbench-like",
            "--n-gold",
            "120",
            "--seed",
            "4",
            "--out",
            "data",
        ],
    );
    let config_text = "method = \"dr-learner\"\nfolds = 4\npropensity = \"model\"\n\
                       learner = { type = \"ridge\", basis = \"poly2\", columns = 4 }\n";
    fs::write(d.join("router.toml"), config_text).unwrap();
    let printed = run(
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
            "11",
            "--out",
            "router.json",
        ],
    );

    // The same fit in memory.
    let gold = read_table(&d.join("data/gold.csv"), &roles(LabelKind::Numeric)).unwrap();
    let pref = read_table(&d.join("data/pref.csv"), &roles(LabelKind::Preference)).unwrap();
    let config = meta_router::study::spec::parse_router_config(config_text, "router.toml").unwrap();
    let data = realdata::training_data(&gold, &pref, config.folds).unwrap();
    let fitted = config.fit(&data, realdata::fit_seeds(11)).unwrap();
    let (file, loaded) = model_file::load(&d.join("router.json")).unwrap();
    assert_eq!(file.features, gold.feature_names);
    assert!(file.inference.is_some(), "a DR router stores its inference");
    // The terminal gets a short summary with named quantities; every
    // diagnostic only with --verbose (and always in the file).
    let summary: Vec<&str> = printed
        .lines()
        .take_while(|l| !l.starts_with("inference"))
        .collect();
    assert!(summary.len() <= 8, "{printed}");
    assert!(
        printed.contains("4 folds") && printed.contains("propensity p̂"),
        "{printed}"
    );
    assert!(!printed.contains("bias.loo"), "{printed}");
    let verbose = run(
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
            "11",
            "--out",
            "verbose.json",
            "--verbose",
        ],
    );
    for key in file.diagnostics.keys() {
        assert!(
            verbose.contains(&format!(" {key} ")),
            "{key} missing: {verbose}"
        );
    }
    assert_eq!(
        fs::read(d.join("verbose.json")).unwrap().len(),
        fs::read(d.join("router.json")).unwrap().len()
    );

    let mut test_roles = roles(LabelKind::Numeric);
    test_roles.extra = vec!["true_psi".into(), "true_delta".into()];
    test_roles.features = FeatureSelection::Names(file.features.clone());
    let test = read_table(&d.join("data/test.csv"), &test_roles).unwrap();
    let x = test.x.view();
    let delta = fitted.predict_delta(x).unwrap();
    assert!(same_bits(&delta, &loaded.predict_delta(x).unwrap()));
    let psi = fitted.predict_psi(x);
    assert!(same_bits(&psi, &loaded.predict_psi(x)));
    // The router got somewhere: Δ̂ is closer to the true Δ than 0 is.
    let truth = &test.extra["true_delta"];
    let mse = routing::mse(delta.view(), truth.view()).unwrap();
    let mse_zero = truth.mapv(|t| t * t).mean().unwrap();
    assert!(mse < 0.5 * mse_zero, "MSE(Δ̂) {mse} vs {mse_zero}");

    // route: ψ̂ and Δ̂ written exactly, decisions ψ̂ > w·(C_p − C_a).
    let w = 0.07;
    run(
        d,
        &[
            "route",
            "--model",
            "router.json",
            "--queries",
            "data/test.csv",
            "--cost-weight",
            "0.07",
            "--cost",
            "2,0.5",
            "--out",
            "routed.csv",
        ],
    );
    let rows = csv_rows(&fs::read_to_string(d.join("routed.csv")).unwrap());
    assert_eq!(rows.len(), test.rows());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(row[1].parse::<f64>().unwrap().to_bits(), psi[i].to_bits());
        assert_eq!(row[2].parse::<f64>().unwrap().to_bits(), delta[i].to_bits());
        let primary = psi[i] > w * (2.0 - 0.5);
        assert_eq!(row[3], if primary { "primary" } else { "alternative" });
    }

    // evaluate: EG and regret equal the routing module's on the same inputs.
    run(
        d,
        &[
            "evaluate",
            "--model",
            "router.json",
            "--test",
            "data/test.csv",
            "--truth",
            "true_psi",
            "--bootstrap",
            "50",
            "--out",
            "eval",
        ],
    );
    let options = EvaluationOptions::default();
    let gains = &test.extra["true_psi"];
    let reference = routing::evaluate(
        psi.view(),
        gains.view(),
        routing::default_costs(test.rows()).view(),
        &options.rho,
        &options.w,
        Cutoff::None,
    )
    .unwrap();
    let rows = csv_rows(&fs::read_to_string(d.join("eval/evaluation.csv")).unwrap());
    let value = |metric: &str, i: usize| -> f64 {
        rows.iter().filter(|r| r[0] == metric).nth(i).unwrap()[2]
            .parse()
            .unwrap()
    };
    // Bit for bit, but for the sign of a zero: the file writes `-0` as `0`.
    let bits = |x: f64| (x + 0.0).to_bits();
    for i in 0..options.rho.len() {
        assert_eq!(value("eg", i).to_bits(), bits(reference.eg[i].unwrap()));
        assert_eq!(value("neg", i).to_bits(), bits(reference.neg[i].unwrap()));
    }
    for i in 0..options.w.len() {
        assert_eq!(value("regret", i).to_bits(), bits(reference.regret[i]));
    }
    assert_eq!(value("neg_area", 0).to_bits(), bits(reference.neg_area));
    assert!(
        rows.iter().flatten().all(|cell| cell != "-0"),
        "a signed zero"
    );
    let markdown = fs::read_to_string(d.join("eval/evaluation.md")).unwrap();
    assert!(markdown.contains("average PB bias"), "{markdown}");
    for figure in ["eg_vs_rho.png", "neg_vs_rho.svg", "regret_vs_w.png"] {
        assert!(d.join("eval").join(figure).exists(), "{figure}");
    }
}

#[test]
fn binary_preference_labels_fit_from_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "scenarios",
            "export",
            "binary-preference",
            "--seed",
            "2",
            "--out",
            "data",
        ],
    );
    // Rewrite the exported ±1/0 preference labels as words.
    let text = fs::read_to_string(d.join("data/pref.csv")).unwrap();
    let mut lines = text.lines();
    let mut words = format!("{}\n", lines.next().unwrap());
    for line in lines {
        let (head, label) = line.rsplit_once(',').unwrap();
        let word = match label {
            "1" => "win",
            "0" => "tie",
            "-1" => "loss",
            other => panic!("unexpected PB label {other}"),
        };
        words.push_str(&format!("{head},{word}\n"));
    }
    fs::write(d.join("data/pref_words.csv"), words).unwrap();
    for (pref, out) in [
        ("data/pref.csv", "a.json"),
        ("data/pref_words.csv", "b.json"),
    ] {
        run(
            d,
            &[
                "fit",
                "--gold",
                "data/gold.csv",
                "--pref",
                pref,
                "--out",
                out,
            ],
        );
    }
    let (_, a) = model_file::load(&d.join("a.json")).unwrap();
    let (_, b) = model_file::load(&d.join("b.json")).unwrap();
    let x = Array2::from_shape_fn((20, a.dim()), |(i, j)| ((i * 7 + j) as f64).sin());
    assert!(same_bits(
        &a.predict_psi(x.view()),
        &b.predict_psi(x.view())
    ));
}

fn round_trip(model: &FittedModel) -> FittedModel {
    let text = serde_json::to_string(model).unwrap();
    let back: FittedModel = serde_json::from_str(&text).unwrap();
    back.validate().unwrap();
    back
}

#[test]
fn every_model_kind_round_trips_bit_exactly() {
    let n = 150;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 2)) as f64 * 0.37).sin());
    let y = Array1::from_shape_fn(n, |i| x[[i, 0]] + x[[i, 1]] * x[[i, 2]]);
    let t = Array1::from_shape_fn(n, |i| {
        if x[[i, 0]] + 0.3 * x[[i, 1]] > 0.1 {
            1.0
        } else {
            0.0
        }
    });
    let probe = Array2::from_shape_fn((40, 3), |(i, j)| ((i + 3 * j) as f64 * 0.61).cos());
    let regressions = [
        LearnerConfig::Ridge(RidgeParams::default()),
        LearnerConfig::Ridge(RidgeParams {
            basis: Basis::Poly2,
            ..RidgeParams::default()
        }),
        LearnerConfig::Ridge(RidgeParams {
            basis: Basis::Rff,
            features: 64,
            ..RidgeParams::default()
        }),
        LearnerConfig::KernelRidge(KernelRidgeParams::default()),
        LearnerConfig::Forest(ForestParams {
            trees: 20,
            ..ForestParams::default()
        }),
        LearnerConfig::Boosting(BoostingParams {
            rounds: 30,
            ..BoostingParams::default()
        }),
    ];
    let mut models = Vec::new();
    for config in &regressions {
        models.push(config.learner().fit(x.view(), y.view(), None, 5).unwrap());
        // A probability model: the learner's own, or a clamped regression.
        models.push(
            config
                .learner()
                .fit_probability(x.view(), t.view(), None, 5)
                .unwrap(),
        );
    }
    models.push(
        LearnerConfig::Logistic(LogisticParams::default())
            .learner()
            .fit_probability(x.view(), t.view(), None, 5)
            .unwrap(),
    );
    for model in &models {
        let back = round_trip(model);
        assert!(
            same_bits(&model.predict(probe.view()), &back.predict(probe.view())),
            "{} changed in the round trip",
            model.kind()
        );
    }
    assert!(models.iter().any(|m| m.kind().starts_with("clamped(")));
}

#[test]
fn routers_of_every_assembly_round_trip() {
    let n_gold = 60;
    let n_pref = 240;
    let gx = Array2::from_shape_fn((n_gold, 2), |(i, j)| ((i * (j + 3)) as f64 * 0.41).sin());
    let px = Array2::from_shape_fn((n_pref, 2), |(i, j)| ((i * (j + 5)) as f64 * 0.23).cos());
    let gy = Array1::from_shape_fn(n_gold, |i| gx[[i, 0]] + 0.1 * (i as f64).cos());
    let py = Array1::from_shape_fn(n_pref, |i| px[[i, 0]] - 0.3 - 0.2 * px[[i, 1]]);
    let data = meta_router::data::TrainingData::new(gx, gy, px, py).unwrap();
    let probe = Array2::from_shape_fn((25, 2), |(i, j)| ((i + j) as f64 * 0.3).sin());
    let configs = [
        "method = \"r-learner\"\nassemble = \"plugin\"\ndelta_clip = 0.8\nlearner = { type = \"forest\", trees = 20 }\n",
        "method = \"dr-learner\"\nlearner = { type = \"boosting\", rounds = 20 }\n",
        "method = \"r-learner\"\nlearner = { type = \"kernel-ridge\" }\nnormalize = \"variance\"\n",
        "method = \"pooled\"\n",
        "method = \"gs-only\"\nlearner = { type = \"ridge\", basis = \"rff\", features = 50 }\n",
    ];
    for text in configs {
        let config: MetaRouterConfig =
            meta_router::study::spec::parse_router_config(text, "inline").unwrap();
        let router = config.fit(&data, realdata::fit_seeds(3)).unwrap();
        let json = serde_json::to_string(&router.models()).unwrap();
        let loaded = FittedRouter::from_models(serde_json::from_str(&json).unwrap()).unwrap();
        assert!(same_bits(
            &router.predict_psi(probe.view()),
            &loaded.predict_psi(probe.view())
        ));
        match (
            router.predict_delta(probe.view()),
            loaded.predict_delta(probe.view()),
        ) {
            (Some(a), Some(b)) => assert!(same_bits(&a, &b)),
            (None, None) => {}
            _ => panic!("Δ̂ present in one router only ({text})"),
        }
    }
}

#[test]
fn evaluation_does_not_depend_on_the_thread_count() {
    let t = 300;
    let psi = Array1::from_shape_fn(t, |i| (i as f64 * 0.7).sin());
    let gain = Array1::from_shape_fn(t, |i| (i as f64 * 0.7).sin() + 0.5 * (i as f64 * 1.3).cos());
    let options = EvaluationOptions {
        bootstrap: 200,
        seed: 9,
        ..EvaluationOptions::default()
    };
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| evaluate(psi.view(), gain.view(), &options).unwrap())
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(one, two);
    let se = one.neg_area.se.unwrap();
    assert!(se > 0.0 && one.neg_area.lower < one.neg_area.value);
}

#[test]
fn sample_weights_enter_every_fit() {
    use meta_router::data::TrainingData;
    use meta_router::dgp::{HealthbenchLike, HealthbenchParams, Scenario};
    use meta_router::inference::Nuisances;
    use meta_router::meta::{FitSeeds, Method};
    use meta_router::rng::{stream, Purpose};

    let scenario = HealthbenchLike::new(HealthbenchParams {
        n_gold: 200,
        ..HealthbenchParams::default()
    })
    .unwrap();
    let draw = scenario.draw(&mut stream(5, 0, 0, Purpose::Data)).unwrap();
    let clean = &draw.train;
    let seeds = FitSeeds {
        folds: 1,
        learner: 2,
    };
    let config = MetaRouterConfig::new(Method::DrLearner);
    let x = draw.test_x.view();
    let unweighted = config.fit(clean, seeds).unwrap();
    // Weights of 1 are dropped: the fit is the unweighted one, bit for bit.
    let ones = clean
        .clone()
        .with_weights(Array1::ones(clean.n_gold()), Array1::ones(clean.n_pref()))
        .unwrap();
    assert!(!ones.is_weighted());
    let same = config.fit(&ones, seeds).unwrap();
    assert!(same_bits(&unweighted.predict_psi(x), &same.predict_psi(x)));

    // 600 contaminated PB rows (label + 5) with weight 0 barely move Δ̂,
    // while the same rows at weight 1 move it by about 5·600/(m + 600).
    let extra = 600;
    let pref_x = ndarray::concatenate(
        ndarray::Axis(0),
        &[
            clean.pref_x(),
            clean.pref_x().slice(ndarray::s![..extra, ..]),
        ],
    )
    .unwrap();
    let pref_y = ndarray::concatenate(
        ndarray::Axis(0),
        &[
            clean.pref_y(),
            clean
                .pref_y()
                .slice(ndarray::s![..extra])
                .mapv(|y| y + 5.0)
                .view(),
        ],
    )
    .unwrap();
    let contaminated = TrainingData::new(
        clean.gold_x().to_owned(),
        clean.gold_y().to_owned(),
        pref_x,
        pref_y,
    )
    .unwrap();
    let mut pref_w = Array1::ones(clean.n_pref() + extra);
    pref_w.slice_mut(ndarray::s![clean.n_pref()..]).fill(0.0);
    let weighted = contaminated
        .clone()
        .with_weights(Array1::ones(clean.n_gold()), pref_w)
        .unwrap();
    assert!(weighted.is_weighted());
    let mean_abs = |a: &Array1<f64>, b: &Array1<f64>| (a - b).mapv(f64::abs).mean().unwrap();
    let reference = unweighted.predict_delta(x).unwrap();
    let ignored = config.fit(&weighted, seeds).unwrap();
    let polluted = config.fit(&contaminated, seeds).unwrap();
    let moved_ignored = mean_abs(&ignored.predict_delta(x).unwrap(), &reference);
    let moved_polluted = mean_abs(&polluted.predict_delta(x).unwrap(), &reference);
    println!("mean |ΔΔ̂|: zero-weighted {moved_ignored:.4}, unweighted {moved_polluted:.4}");
    assert!(moved_polluted > 0.3, "{moved_polluted}");
    assert!(
        moved_ignored < 0.1 * moved_polluted,
        "{moved_ignored} vs {moved_polluted}"
    );
    // The baselines use the weights too.
    let pooled = MetaRouterConfig::new(Method::Pooled);
    let pooled_ignored = pooled.fit(&weighted, seeds).unwrap().predict_psi(x);
    let pooled_clean = pooled.fit(clean, seeds).unwrap().predict_psi(x);
    assert!(mean_abs(&pooled_ignored, &pooled_clean) < 1e-8);
    // No unweighted AIPW inference on a weighted fit.
    assert!(Nuisances::from_router(&ignored).is_err());
    assert!(Nuisances::from_router(&unweighted).is_ok());
}

/// Weak overlap on the command line: `fit` names the target population of
/// its intervals (the Crump region by default, with its shares; every query
/// with `--overlap none`, plus a warning), the router file records it, a
/// truncated router keeps its region, and `route` marks the queries outside
/// it and sends them where `--outside` says.
#[test]
fn overlap_and_truncation_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "scenarios",
            "export",
            "covariate-shift",
            "--set",
            "gamma=1.5",
            "--set",
            "n_gold=300",
            "--set",
            "n_pref=2000",
            "--seed",
            "5",
            "--out",
            "data",
        ],
    );
    fs::write(
        d.join("trunc.toml"),
        "method = \"dr-learner\"\npropensity = \"model\"\ntruncate = \"crump\"\n\
         learner = { type = \"ridge\", basis = \"poly2\" }\n",
    )
    .unwrap();
    let fit = |extra: &[&str], out: &str| {
        let mut args = vec![
            "fit",
            "--gold",
            "data/gold.csv",
            "--pref",
            "data/pref.csv",
            "--config",
            "trunc.toml",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_meta-router"))
            .args(&args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let default = fit(&[], "r.json");
    assert!(default.status.success());
    let stdout = String::from_utf8_lossy(&default.stdout);
    assert!(
        stdout.contains("target population: the overlap region p̂ ∈ [")
            && stdout.contains("E[Δ | PB query in the overlap region]"),
        "{stdout}"
    );
    let (file, router) = model_file::load(&d.join("r.json")).unwrap();
    let overlap = file.inference.as_ref().unwrap().overlap.as_ref().unwrap();
    assert_eq!(overlap.rule, "crump");
    assert!(overlap.alpha > 0.0 && overlap.pref_inside < 0.9 && overlap.gold_inside > 0.5);
    let region = router
        .overlap()
        .expect("a truncated router keeps its region");

    let none = fit(&["--overlap", "none"], "r_none.json");
    assert!(none.status.success());
    let stdout = String::from_utf8_lossy(&none.stdout);
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stdout.contains("target population: every query"),
        "{stdout}"
    );
    assert!(stdout.contains("E[Δ | PB query]"), "{stdout}");
    assert!(
        stderr.contains("--overlap none") && stderr.contains("under-cover"),
        "{stderr}"
    );
    let bad = fit(&["--overlap", "0.7"], "r_bad.json");
    assert!(!bad.status.success());
    assert!(!d.join("r_bad.json").exists());

    // route: the in_overlap column agrees with the region, --outside decides.
    let mut roles_test = roles(LabelKind::Numeric);
    roles_test.features = FeatureSelection::Names(file.features.clone());
    roles_test.extra = vec!["true_psi".into(), "true_delta".into()];
    let test = read_table(&d.join("data/test.csv"), &roles_test).unwrap();
    let inside = region.contains(test.x.view());
    assert!(inside.iter().any(|&k| k) && inside.iter().any(|&k| !k));
    for (outside, forced) in [
        ("router", None),
        ("primary", Some("primary")),
        ("alternative", Some("alternative")),
    ] {
        let out = format!("routed_{outside}.csv");
        run(
            d,
            &[
                "route",
                "--model",
                "r.json",
                "--queries",
                "data/test.csv",
                "--cost-weight",
                "0.1",
                "--outside",
                outside,
                "--out",
                &out,
            ],
        );
        let text = fs::read_to_string(d.join(&out)).unwrap();
        assert!(text.starts_with("row,psi_hat,delta_hat,route,in_overlap\n"));
        let rows = csv_rows(&text);
        assert_eq!(rows.len(), inside.len());
        for (row, &k) in rows.iter().zip(&inside) {
            assert_eq!(row[4], if k { "1" } else { "0" });
            let psi: f64 = row[1].parse().unwrap();
            let by_rule = if psi > 0.1 { "primary" } else { "alternative" };
            let expected = match forced {
                Some(fixed) if !k => fixed,
                _ => by_rule,
            };
            assert_eq!(row[3], expected);
        }
    }
    // --outside on a router without a region is refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args([
            "route",
            "--model",
            "r_none.json",
            "--queries",
            "data/test.csv",
            "--cost-weight",
            "0.1",
            "--outside",
            "primary",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    // r_none.json is truncated too (the config truncates): refit without it.
    assert!(refused.status.success());
    fs::write(
        d.join("plain.toml"),
        "method = \"dr-learner\"\npropensity = \"model\"\n",
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
            "plain.toml",
            "--out",
            "plain.json",
        ],
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args([
            "route",
            "--model",
            "plain.json",
            "--queries",
            "data/test.csv",
            "--cost-weight",
            "0.1",
            "--outside",
            "primary",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--outside is for truncated routers"));
}

/// "Does the Meta-Router beat pooled and gs-only on my data?" in one `fit`
/// and one `evaluate`: `fit --methods` writes one router per method, each
/// byte-identical to a single fit of that method with the same seed, and
/// `evaluate` compares them with a paired difference for every pair.
#[test]
fn fit_methods_and_evaluate_compare_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "scenarios",
            "export",
            "healthbench-like",
            "--n-gold",
            "80",
            "--set",
            "d=6",
            "--out",
            "data",
        ],
    );
    let data = [
        "fit",
        "--gold",
        "data/gold.csv",
        "--pref",
        "data/pref.csv",
        "--seed",
        "5",
    ];
    let methods = "dr-learner,r-learner,pooled,gs-only";
    run(
        d,
        &[&data[..], &["--methods", methods, "--out", "fits"]].concat(),
    );
    fs::write(d.join("pooled.toml"), "method = \"pooled\"\n").unwrap();
    run(
        d,
        &[
            &data[..],
            &["--config", "pooled.toml", "--out", "pooled.json"],
        ]
        .concat(),
    );
    run(d, &[&data[..], &["--out", "dr.json"]].concat());
    assert_eq!(
        fs::read(d.join("fits/pooled.json")).unwrap(),
        fs::read(d.join("pooled.json")).unwrap()
    );
    assert_eq!(
        fs::read(d.join("fits/dr-learner.json")).unwrap(),
        fs::read(d.join("dr.json")).unwrap()
    );
    let mut args = vec!["evaluate".to_string()];
    for m in methods.split(',') {
        args.extend(["--model".to_string(), format!("fits/{m}.json")]);
    }
    args.extend(
        [
            "--test",
            "data/test.csv",
            "--truth",
            "true_psi",
            "--bootstrap",
            "100",
        ]
        .map(String::from),
    );
    args.extend(["--out", "cmp"].map(String::from));
    let printed = run(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(printed.contains("| `dr-learner` − `pooled` |"), "{printed}");
    assert!(printed.contains("| `pooled` − `gs-only` |"), "{printed}");
    let rows = csv_rows(&fs::read_to_string(d.join("cmp/comparison.csv")).unwrap());
    let pairs = rows
        .iter()
        .filter(|r| r[2] == "neg_area" && !r[1].is_empty())
        .count();
    assert_eq!(pairs, 6);
    // A method twice, or an unknown one, is refused and writes nothing.
    for bad in ["pooled,pooled", "pooled,bogus"] {
        let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
            .args(&data[..])
            .args(["--methods", bad, "--out", "refused"])
            .current_dir(d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(!d.join("refused").exists(), "{bad}");
    }
}
