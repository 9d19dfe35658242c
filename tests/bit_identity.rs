//! Bit-identity pins: the forest, boosting and ridge learners (and whole
//! Meta-Router fits built from them) must keep producing exactly the same
//! floating-point results as the code they were pinned from, so a long study
//! can be resumed with a faster binary and still write identical records.
//!
//! Each case fits a learner on a fixed data set and feeds the bits of every
//! output (test predictions, out-of-bag predictions, diagnostics) into a
//! SHA-256 digest; the digest must equal the pinned one. The pins were
//! generated from the code of commit 5fe203a (before the performance work of
//! issue 12) with
//!
//! ```text
//! BIT_IDENTITY_PRINT=1 cargo test --release --test bit_identity -- --nocapture
//! ```
//!
//! which prints every case's digest instead of checking it. Re-pinned on
//! purpose since: `ridge/rff-loo/r-weighted` (the random-feature cosine is
//! computed by a new formula, equal to the C library's within 4e-16);
//! `meta/dr/forest` (the DR-learner's bias stage got the weight-aware leaf
//! rule, `docs/method.md` §2.3, which changes its trees). The
//! kernel-ridge pins were added later, taken from the code of 5fe203a too.
//!
//! **Which pins hold where.** Tree ensembles are plain scalar code: their
//! pins hold on every CPU and backend. Ridge and kernel-ridge fits go through
//! the linear-algebra backend, whose kernels depend on the *class* of the
//! machine: faer picks its matrix-product kernels at run time by the CPU's
//! SIMD width (AVX-512, AVX2 + FMA, or scalar; a different width sums in a
//! different order), and OpenBLAS by its core type (`OPENBLAS_CORETYPE`).
//! Bit identity is promised per class only. So the ridge cases are checked
//! twice:
//! - **exactly** (the SHA-256 pins) on the class they were pinned on: the
//!   faer backend on x86-64 with AVX-512F — this project's machines and CI;
//!   elsewhere the exact check is skipped with a message naming the class;
//! - **to a tolerance** everywhere, every backend and CPU: summary numbers
//!   of each output (mean, root mean square and three entries of every
//!   output vector, every diagnostic) against `tests/data/bit_identity_reference.json`,
//!   within a relative `1e-6` ([`TOLERANCE`]) of the vector's root mean square
//!   (of the value, for a diagnostic). Reordered sums move these numbers by
//!   rounding only: refitting every ridge case on row-permuted data (the
//!   same model, other summation orders) moved predictions by at most 3e-15
//!   relative for linear ridge and 1.5e-10 for kernel ridge (condition number
//!   1.2e7), and its LOO score by 1e-9; any change of the method (another
//!   penalty, bandwidth or feature map) moves them by far more.
//!
//! One case is a near-tie by construction: `ridge/dual-loo/wide` (more
//! features than rows) has a leave-one-out curve that is flat over a long
//! stretch of small penalties (the fit nearly interpolates), and OpenBLAS's
//! rounding picks another point of it — 3.2e-5 with the kernel it detects,
//! 3.2e-8 (then solved through the SVD fallback) with the Haswell kernels,
//! against 5.6e-5 here — while the LOO score agrees within 1e-6 and the
//! predictions move by at most 2.3e-5 of their scale (measured in CI's two
//! OpenBLAS steps). For that case ([`NEAR_TIE_CASES`]) the tolerance check
//! skips the penalty and the diagnostics that follow from it (condition
//! number, degrees of freedom, SVD fallback), still requires the LOO score
//! to agree within [`TOLERANCE`], and compares the predictions within
//! [`NEAR_TIE_TOLERANCE`].
//!
//! The reference file is written, from the exactly pinned class, by
//!
//! ```text
//! BIT_IDENTITY_REFERENCE=tests/data/bit_identity_reference.json \
//!     cargo test --release --test bit_identity -- --test-threads=1
//! ```

use std::collections::BTreeMap;

use meta_router::dgp::{HealthbenchParams, ScenarioConfig, SimulatedData};
use meta_router::learners::{
    BoostingParams, ForestParams, Learner, LearnerConfig, MaxFeatures, Predict,
};
use meta_router::meta::{FitSeeds, MetaRouterConfig, Method};
use meta_router::rng::{rng_from_seed, stream, Purpose};
use ndarray::{Array1, Array2, ArrayView1};
use rand::RngExt;
use sha2::{Digest, Sha256};

/// A digest of many `f64`s (their bit patterns) and labels, and the summary
/// numbers of the same outputs for the tolerance check.
struct Bits(Sha256, Vec<(String, Number)>, BTreeMap<String, usize>);

/// A summary number and the scale its tolerance is relative to.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: f64,
    scale: f64,
}

/// One case's outputs: the digest of their bits and their summary numbers.
struct Outputs {
    digest: String,
    numbers: Vec<(String, Number)>,
}

impl Bits {
    fn new() -> Self {
        Bits(Sha256::new(), Vec::new(), BTreeMap::new())
    }
    fn label(&mut self, label: &str) {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
    }
    fn values<'a>(&mut self, label: &str, values: impl IntoIterator<Item = &'a f64>) {
        self.label(label);
        let values: Vec<f64> = values.into_iter().copied().collect();
        for v in &values {
            self.0.update(v.to_bits().to_le_bytes());
        }
        self.0.update((values.len() as u64).to_le_bytes());
        // Summary numbers: mean, root mean square, first, middle and last
        // entry, each within TOLERANCE of the root mean square; a label used
        // again (several nuisances) numbers its vectors `label#2`, ….
        let uses = self.2.entry(label.to_string()).or_insert(0);
        *uses += 1;
        let label = if *uses == 1 {
            label.to_string()
        } else {
            format!("{label}#{uses}")
        };
        let n = values.len().max(1) as f64;
        let rms = (values.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
        let mut push = |name: String, value: f64| {
            self.1.push((name, Number { value, scale: rms }));
        };
        if let (Some(first), Some(last)) = (values.first(), values.last()) {
            push(format!("{label}.mean"), values.iter().sum::<f64>() / n);
            push(format!("{label}.rms"), rms);
            push(format!("{label}[0]"), *first);
            push(format!("{label}[mid]"), values[values.len() / 2]);
            push(format!("{label}[last]"), *last);
        }
    }
    fn number(&mut self, label: &str, name: &str, value: f64) {
        self.label(name);
        self.0.update(value.to_bits().to_le_bytes());
        self.1.push((
            format!("{label}.{name}"),
            Number {
                value,
                scale: value.abs(),
            },
        ));
    }
    fn pairs(&mut self, label: &str, pairs: &[(String, f64)]) {
        self.label(label);
        for (name, value) in pairs {
            self.number(label, name, *value);
        }
    }
    fn entries(&mut self, label: &str, entries: &[(&'static str, f64)]) {
        self.label(label);
        for (name, value) in entries {
            self.number(label, name, *value);
        }
    }
    fn finish(self) -> Outputs {
        Outputs {
            digest: self
                .0
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            numbers: self.1,
        }
    }
}

/// A data set: training rows, optional weights, test rows.
struct Data {
    x: Array2<f64>,
    y: Array1<f64>,
    w: Option<Array1<f64>>,
    test: Array2<f64>,
}

/// The paper's setting: one healthbench-like replicate (n_gold = 100, N = 4500,
/// d = 50), pooled rows, unweighted.
fn healthbench() -> SimulatedData {
    ScenarioConfig::HealthbenchLike(HealthbenchParams::default())
        .build()
        .unwrap()
        .draw(&mut stream(20261201, 0, 0, Purpose::Data))
        .unwrap()
}

fn pooled(sim: &SimulatedData) -> Data {
    Data {
        x: sim.train.pooled_x(),
        y: sim.train.pooled_y(),
        w: None,
        test: sim.test_x.clone(),
    }
}

/// R-learner-like weights: `(t − κ)²` with κ = 0.05 — a few rows near 1, most
/// near 0.0025 — on continuous features with more than 256 distinct values.
fn r_weighted(n: usize, d: usize, seed: u64) -> Data {
    let mut rng = rng_from_seed(seed);
    let x: Array2<f64> = Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0));
    let y = Array1::from_shape_fn(n, |i| {
        (3.0 * x[[i, 0]]).sin() + x[[i, 1]] * x[[i, 1]] + 0.3 * rng.random_range(-1.0f64..1.0)
    });
    let w = Array1::from_shape_fn(n, |_| {
        let t = if rng.random::<f64>() < 0.05 { 1.0 } else { 0.0 };
        (t - 0.05f64).powi(2)
    });
    let test = Array2::from_shape_fn((300, d), |_| rng.random_range(-1.0..1.0));
    Data {
        x,
        y,
        w: Some(w),
        test,
    }
}

/// Features with few distinct values (many ties in every bin), integer
/// weights including zeros, and a target with ties.
fn ties(n: usize, d: usize, seed: u64) -> Data {
    let mut rng = rng_from_seed(seed);
    let x = Array2::from_shape_fn((n, d), |(_, j)| rng.random_range(0..(3 + 2 * j)) as f64);
    let y = Array1::from_shape_fn(n, |i| {
        (x[[i, 0]] - x[[i, 1]]).abs() + (rng.random_range(0..4) as f64) / 4.0
    });
    let w = Array1::from_shape_fn(n, |_| rng.random_range(0..4) as f64);
    let test = Array2::from_shape_fn((200, d), |(_, j)| rng.random_range(0..(3 + 2 * j)) as f64);
    Data {
        x,
        y,
        w: Some(w),
        test,
    }
}

/// A 0/1 target for probability models (the propensity-like case).
fn binary(data: &Data) -> Array1<f64> {
    let median = {
        let mut v = data.y.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    data.y.mapv(|v| if v > median { 1.0 } else { 0.0 })
}

fn weights(data: &Data) -> Option<ArrayView1<'_, f64>> {
    data.w.as_ref().map(|w| w.view())
}

fn forest_digest(params: &ForestParams, data: &Data, seed: u64, probability: bool) -> Outputs {
    let forest = if probability {
        params
            .fit_probability_forest(data.x.view(), binary(data).view(), weights(data), seed)
            .unwrap()
    } else {
        params
            .fit_forest(data.x.view(), data.y.view(), weights(data), seed)
            .unwrap()
    };
    let mut bits = Bits::new();
    bits.values("test", forest.predict(data.test.view()).iter());
    bits.values("train", forest.predict(data.x.view()).iter());
    if let Some(oob) = forest.oob_predictions() {
        bits.values("oob", oob.iter());
    }
    bits.entries("diagnostics", &forest.diagnostics().entries());
    bits.finish()
}

fn learner_digest(learner: &dyn Learner, data: &Data, seed: u64, probability: bool) -> Outputs {
    let model = if probability {
        learner
            .fit_probability(data.x.view(), binary(data).view(), weights(data), seed)
            .unwrap()
    } else {
        learner
            .fit(data.x.view(), data.y.view(), weights(data), seed)
            .unwrap()
    };
    let mut bits = Bits::new();
    bits.values("test", model.predict(data.test.view()).iter());
    bits.values("train", model.predict(data.x.view()).iter());
    if let Some(oob) = model.out_of_bag() {
        bits.values("oob", oob.iter());
    }
    bits.entries("diagnostics", &model.diagnostics().entries());
    bits.finish()
}

fn meta_digest(config: &MetaRouterConfig, sim: &SimulatedData) -> Outputs {
    let router = config
        .fit(
            &sim.train,
            FitSeeds {
                folds: 11,
                learner: 12,
            },
        )
        .unwrap();
    let mut bits = Bits::new();
    bits.values("psi", router.predict_psi(sim.test_x.view()).iter());
    if let Some(delta) = router.predict_delta(sim.test_x.view()) {
        bits.values("delta", delta.iter());
    }
    if let Some(cf) = router.cross_fitted() {
        bits.values("pseudo", cf.pseudo_outcome.iter());
        bits.values("weights", cf.weights.iter());
        for nuisance in [&cf.mean_outcome, &cf.mean_gold, &cf.mean_pref]
            .into_iter()
            .flatten()
        {
            bits.values("nuisance", nuisance.iter());
        }
    }
    let map: BTreeMap<String, f64> = router.diagnostics().to_map();
    let pairs: Vec<(String, f64)> = map.into_iter().collect();
    bits.pairs("diagnostics", &pairs);
    bits.finish()
}

fn learner(toml_body: &str) -> LearnerConfig {
    toml::from_str(toml_body).unwrap()
}

/// Every case's digest, by name.
fn tree_cases() -> Vec<(&'static str, Outputs)> {
    let sim = healthbench();
    let hb = pooled(&sim);
    let rw = r_weighted(3000, 12, 5);
    let tie = ties(1500, 6, 6);
    let small = ties(40, 3, 7);
    let paper = ForestParams {
        trees: 30,
        ..ForestParams::paper()
    };
    let bias = ForestParams {
        trees: 30,
        min_weight_leaf: 0.01,
        ..ForestParams::paper_bias_stage()
    };
    let all_features = ForestParams {
        trees: 10,
        max_features: MaxFeatures::All,
        ..ForestParams::paper()
    };
    let no_bootstrap = ForestParams {
        trees: 5,
        max_features: MaxFeatures::Fraction(0.5),
        bootstrap: false,
        max_depth: None,
        ..ForestParams::paper()
    };
    let threaded = ForestParams {
        threads: 2,
        ..paper.clone()
    };
    let boosting = BoostingParams::default();
    let boosting_deep = BoostingParams {
        rounds: 40,
        max_depth: 10,
        lambda: 0.0,
        min_child_weight: 0.0,
        subsample: 0.7,
        learning_rate: 0.1,
    };
    vec![
        (
            "forest/paper/healthbench",
            forest_digest(&paper, &hb, 1, false),
        ),
        (
            "forest/bias/healthbench",
            forest_digest(&bias, &hb, 2, false),
        ),
        (
            "forest/paper/r-weighted",
            forest_digest(&paper, &rw, 3, false),
        ),
        (
            "forest/bias/r-weighted",
            forest_digest(&bias, &rw, 4, false),
        ),
        ("forest/paper/ties", forest_digest(&paper, &tie, 5, false)),
        ("forest/bias/ties", forest_digest(&bias, &tie, 6, false)),
        (
            "forest/paper/small",
            forest_digest(&paper, &small, 7, false),
        ),
        (
            "forest/all/r-weighted",
            forest_digest(&all_features, &rw, 8, false),
        ),
        (
            "forest/all/ties",
            forest_digest(&all_features, &tie, 9, false),
        ),
        (
            "forest/no-bootstrap/ties",
            forest_digest(&no_bootstrap, &tie, 10, false),
        ),
        (
            "forest/no-bootstrap/r-weighted",
            forest_digest(&no_bootstrap, &rw, 11, false),
        ),
        (
            "forest/probability/ties",
            forest_digest(&paper, &tie, 12, true),
        ),
        (
            "forest/threads2/healthbench",
            forest_digest(&threaded, &hb, 1, false),
        ),
        (
            "boosting/default/healthbench",
            learner_digest(&boosting, &hb, 13, false),
        ),
        (
            "boosting/default/r-weighted",
            learner_digest(&boosting, &rw, 14, false),
        ),
        (
            "boosting/deep/ties",
            learner_digest(&boosting_deep, &tie, 15, false),
        ),
        (
            "boosting/logistic/ties",
            learner_digest(&boosting, &tie, 16, true),
        ),
        (
            "boosting/deep/small",
            learner_digest(&boosting_deep, &small, 17, false),
        ),
    ]
}

fn ridge_cases() -> Vec<(&'static str, Outputs)> {
    let sim = healthbench();
    let hb = pooled(&sim);
    let rw = r_weighted(3000, 12, 5);
    let tie = ties(1500, 6, 6);
    // More features than positively weighted rows: the dual form.
    let wide = ties(30, 40, 8);
    let cases: [(&str, &str, &Data); 9] = [
        ("ridge/linear-loo/healthbench", "type = \"ridge\"", &hb),
        ("ridge/linear-loo/r-weighted", "type = \"ridge\"", &rw),
        (
            "ridge/poly2-loo/healthbench",
            "type = \"ridge\"\nbasis = \"poly2\"\ncolumns = 5",
            &hb,
        ),
        (
            "ridge/linear-gcv/ties",
            "type = \"ridge\"\npenalty = \"gcv\"",
            &tie,
        ),
        (
            "ridge/linear-fixed/ties",
            "type = \"ridge\"\npenalty = 0.01",
            &tie,
        ),
        (
            "ridge/rff-loo/r-weighted",
            "type = \"ridge\"\nbasis = \"rff\"\nfeatures = 60",
            &rw,
        ),
        (
            "ridge/svd-loo/r-weighted",
            "type = \"ridge\"\nsolver = \"svd\"",
            &rw,
        ),
        ("ridge/dual-loo/wide", "type = \"ridge\"", &wide),
        (
            "ridge/dual-fixed/wide",
            "type = \"ridge\"\npenalty = 0.1",
            &wide,
        ),
    ];
    let small = ties(400, 4, 11);
    let kernel: [(&str, &str, &Data); 2] = [
        (
            "kernel-ridge/select-loo/small",
            "type = \"kernel-ridge\"",
            &small,
        ),
        (
            "kernel-ridge/median-loo/small",
            "type = \"kernel-ridge\"\nbandwidth = \"median\"",
            &small,
        ),
    ];
    cases
        .into_iter()
        .chain(kernel)
        .enumerate()
        .map(|(k, (name, body, data))| {
            let config = learner(body);
            (
                name,
                learner_digest(config.learner(), data, 20 + k as u64, false),
            )
        })
        .collect()
}

fn forest_meta_cases() -> Vec<(&'static str, Outputs)> {
    let sim = healthbench();
    let forest = |body: &str| learner(&format!("type = \"forest\"\ntrees = 15\n{body}"));
    let config = |method| MetaRouterConfig {
        bias_learner: Some(forest("preset = \"paper-bias-stage\"")),
        ..MetaRouterConfig::new(method).with_learner(forest("preset = \"paper\""))
    };
    vec![
        (
            "meta/r/forest",
            meta_digest(&config(Method::RLearner), &sim),
        ),
        (
            "meta/dr/forest",
            meta_digest(&config(Method::DrLearner), &sim),
        ),
        (
            "meta/pooled/forest",
            meta_digest(&config(Method::Pooled), &sim),
        ),
    ]
}

fn ridge_meta_cases() -> Vec<(&'static str, Outputs)> {
    let sim = healthbench();
    let linear = learner("type = \"ridge\"");
    let poly = learner("type = \"ridge\"\nbasis = \"poly2\"\ncolumns = 5");
    vec![
        (
            "meta/r/ridge-linear",
            meta_digest(
                &MetaRouterConfig::new(Method::RLearner).with_learner(linear.clone()),
                &sim,
            ),
        ),
        (
            "meta/dr/ridge-poly2",
            meta_digest(
                &MetaRouterConfig::new(Method::DrLearner).with_learner(poly),
                &sim,
            ),
        ),
    ]
}

/// Pinned digests (see the module docs for how they were generated).
const PINS: &[(&str, &str)] = &[
    (
        "boosting/deep/small",
        "ddbb016f97826d178f7b4e9e946e2d12de1045d95648602553874c9c4e66a129",
    ),
    (
        "boosting/deep/ties",
        "4cd21c2be32ee21996084fcb5b2851b037dfc8ef024fe00b2e48924c80e365b1",
    ),
    (
        "boosting/default/healthbench",
        "8e405dbbcaa78475e338161637acb001bb638140fbd458e27225fead74122eff",
    ),
    (
        "boosting/default/r-weighted",
        "9e7029ff4500be608d76c7ca3e8445a2a19014b0826291f5a695db70e4006e7c",
    ),
    (
        "boosting/logistic/ties",
        "e6dc890ce7ecd1c0da9c6ce3d40369e255b83606087826fe304ac4e1e56828f2",
    ),
    (
        "forest/all/r-weighted",
        "6dc79ab7176b85951180db60c2a31e4181dac118e298f482fb16240582205de8",
    ),
    (
        "forest/all/ties",
        "f7217f7bf0edbee87fb8c589b01200ebbe332e17e27e54536205b5141b5a4e09",
    ),
    (
        "forest/bias/healthbench",
        "61752801b624ea1fc615f1364fa271dc6b669286b0b1957d9c58f1dfd2c30c8a",
    ),
    (
        "forest/bias/r-weighted",
        "df093383e3a626cea7386a7998d71f182e42d182b89c16791426739f21e45199",
    ),
    (
        "forest/bias/ties",
        "95cdf905d4158367b0798810d92e3626e04616a6539506502caffba9c83a9047",
    ),
    (
        "forest/no-bootstrap/r-weighted",
        "358f353665c80d629a90fa92b96b2820d773147385cc2775c5e56e0cf35f9510",
    ),
    (
        "forest/no-bootstrap/ties",
        "99efd54e19775605226eb33d2ce200bbcf41ce9435918e38b1b5b61c2ca82cff",
    ),
    (
        "forest/paper/healthbench",
        "25042e8e6dc625481333192d96ee3f6ada33c6111a0610a3e983d938d9a61225",
    ),
    (
        "forest/paper/r-weighted",
        "090b70eeffa34c8ff23c051ecd33cd194439be1f06d8949a5e2b6d813d285e32",
    ),
    (
        "forest/paper/small",
        "9ae190c850e5e0e3c79e970039cc777334c3efc5d6d18e45b02c2403862a4009",
    ),
    (
        "forest/paper/ties",
        "e3021a90fecb9fef9c535d2d8b492a0079060cce7c8ba6da5af4ca57dde70e5a",
    ),
    (
        "forest/probability/ties",
        "61b65d909ded216e6e59168dd1f688e574c2342b8fad2a02a876bef176b3965e",
    ),
    (
        "forest/threads2/healthbench",
        "25042e8e6dc625481333192d96ee3f6ada33c6111a0610a3e983d938d9a61225",
    ),
    (
        "kernel-ridge/median-loo/small",
        "599f8fdaa3311ffe193da384013cfdb8e5500b3f32a5dfd21e5e2b64e97b0758",
    ),
    (
        "kernel-ridge/select-loo/small",
        "5ed7835f9e9588fbb81a3c1feac4d9b41123b7ad1ea6fc385bc33eb0e7cf1ecc",
    ),
    (
        "meta/dr/forest",
        "081e1a8facdd000a39656c057092755a76d23eab8bf40691b1d3a462ed0c3150",
    ),
    (
        "meta/dr/ridge-poly2",
        "b555a1ad7809713600a57a51ed0d81a22fbf532f80b6002b7ee5a2e634e43236",
    ),
    (
        "meta/pooled/forest",
        "ae910bbfecfdc36fd0d4bae517b8e488a6aabd9fad1f5f99a48a86af7a2793ee",
    ),
    (
        "meta/r/forest",
        "c8f3a847b6802e918aaf65f9de01e37ce240769c46813ed9580e141c54b0a979",
    ),
    (
        "meta/r/ridge-linear",
        "6bff44c0acbda6707c21937d1b734f2d8329ccdcf8d712a726b9f659b7cbd7ee",
    ),
    (
        "ridge/dual-fixed/wide",
        "5edc263a7c9cf59fd23fe4adc8cc5cc85312b03775f639ad20bb5427cc90a73d",
    ),
    (
        "ridge/dual-loo/wide",
        "0b0d9f78c695c9cec7b587706a26af93c4fe2ad1f02e8b7af24a0ae0495f869e",
    ),
    (
        "ridge/linear-fixed/ties",
        "ed65b9366306a156229abe0f7a0a5623fc26d095186bfff5e42b0d4b9ffe9fac",
    ),
    (
        "ridge/linear-gcv/ties",
        "845cc2b153abfd958950adca9831bdcf546d2fca45e7f1104c284657395f1a9f",
    ),
    (
        "ridge/linear-loo/healthbench",
        "ccba57eeca5e25dfff2696082742954169e5e042ec71061920d55370263337cb",
    ),
    (
        "ridge/linear-loo/r-weighted",
        "ec22e681cfd5c02ddcb36276b1878c5823a7e1558bc32103648852633529f2b4",
    ),
    (
        "ridge/poly2-loo/healthbench",
        "32105e1a246700bd9f942eb510817f99b4af2c30b884670ecdf1f45c77b5d5e4",
    ),
    (
        "ridge/rff-loo/r-weighted",
        "3ec1cb79071fe30595bf684a1bd079d0f09bbaa02cb528b80620c677c2c92371",
    ),
    (
        "ridge/svd-loo/r-weighted",
        "159d6eb8aaa8bee2c8e50b95a027d273e191b76b2ea6a273de2c9272aa63f480",
    ),
];

/// Relative tolerance of the summary numbers (module docs).
const TOLERANCE: f64 = 1e-6;

/// The reference numbers of the tolerance check.
const REFERENCE: &str = "tests/data/bit_identity_reference.json";

/// Cases whose penalty choice is a near-tie across backends (module docs).
const NEAR_TIE_CASES: &[&str] = &["ridge/dual-loo/wide"];

/// Relative tolerance of a near-tie case's predictions (module docs): 40×
/// the largest move measured when the neighbouring penalty is chosen.
const NEAR_TIE_TOLERANCE: f64 = 1e-3;

/// Checks each case's digest against its pin (when `exact`); prints the
/// digests instead under `BIT_IDENTITY_PRINT`.
fn check_exact(cases: &[(&'static str, Outputs)]) {
    let print = std::env::var_os("BIT_IDENTITY_PRINT").is_some();
    let mut failures = Vec::new();
    for (name, outputs) in cases {
        if print {
            println!("    (\"{name}\", \"{}\"),", outputs.digest);
            continue;
        }
        let pinned = PINS
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no pin for {name}"))
            .1;
        if pinned != outputs.digest {
            failures.push(format!("{name}: pinned {pinned}, got {}", outputs.digest));
        }
    }
    assert!(
        failures.is_empty(),
        "results changed bits:\n{}",
        failures.join("\n")
    );
}

type Reference = BTreeMap<String, BTreeMap<String, f64>>;

fn reference_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(REFERENCE)
}

/// Checks each case's summary numbers against the reference file within
/// [`TOLERANCE`]; with `BIT_IDENTITY_REFERENCE=FILE`, writes them into FILE
/// instead (merged with what it holds).
fn check_tolerance(cases: &[(&'static str, Outputs)]) {
    if let Some(path) = std::env::var_os("BIT_IDENTITY_REFERENCE") {
        let mut reference: Reference = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        for (name, outputs) in cases {
            let numbers = outputs
                .numbers
                .iter()
                .map(|(k, n)| (k.clone(), n.value))
                .collect();
            reference.insert(name.to_string(), numbers);
        }
        let mut text = serde_json::to_string_pretty(&reference).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(reference_path()).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for (name, outputs) in cases {
        let expected = reference
            .get(*name)
            .unwrap_or_else(|| panic!("{REFERENCE} has no case {name}"));
        assert_eq!(
            expected.len(),
            outputs.numbers.len(),
            "{name}: the outputs differ from the reference's ({:?})",
            outputs.numbers.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        let near_tie = NEAR_TIE_CASES.contains(name);
        for (key, number) in &outputs.numbers {
            let Some(&want) = expected.get(key) else {
                failures.push(format!("{name}: {key} is not in the reference"));
                continue;
            };
            // The penalty, and the diagnostics that follow from it (condition
            // number, degrees of freedom, the SVD fallback of a near-singular
            // system), may differ along the flat stretch of the LOO curve; the
            // LOO score, the criterion that ties, must still agree to rounding.
            if near_tie
                && matches!(
                    key.as_str(),
                    "diagnostics.penalty"
                        | "diagnostics.condition"
                        | "diagnostics.df"
                        | "diagnostics.svd"
                )
            {
                continue;
            }
            let relative = if near_tie && !key.starts_with("diagnostics.") {
                NEAR_TIE_TOLERANCE
            } else {
                TOLERANCE
            };
            let tolerance = relative * number.scale.max(want.abs());
            if (number.value - want).abs() > tolerance {
                failures.push(format!(
                    "{name}: {key} = {} against {want} (tolerance {tolerance:.1e})",
                    number.value
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "results moved beyond rounding:\n{}",
        failures.join("\n")
    );
}

/// The class of machine the ridge pins were taken on: the faer backend on
/// x86-64 with AVX-512F. Under `BIT_IDENTITY_PRINT` every class prints.
fn ridge_pins_apply() -> bool {
    if std::env::var_os("BIT_IDENTITY_PRINT").is_some() {
        return true;
    }
    #[cfg(all(target_arch = "x86_64", not(feature = "openblas")))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return true;
        }
    }
    eprintln!(
        "exact ridge pins skipped: they hold for the faer backend on x86-64 with AVX-512F, \
         this is {} ({}); the tolerance check runs",
        meta_router::linalg::BACKEND,
        if cfg!(target_arch = "x86_64") {
            "x86-64 without AVX-512F, or another backend"
        } else {
            "another architecture"
        }
    );
    false
}

#[test]
fn tree_ensembles_keep_their_bits() {
    check_exact(&tree_cases());
}

#[test]
fn forest_meta_routers_keep_their_bits() {
    check_exact(&forest_meta_cases());
}

#[test]
fn ridge_keeps_its_bits() {
    let cases = ridge_cases();
    if ridge_pins_apply() {
        check_exact(&cases);
    }
    check_tolerance(&cases);
}

#[test]
fn ridge_meta_routers_keep_their_bits() {
    let cases = ridge_meta_cases();
    if ridge_pins_apply() {
        check_exact(&cases);
    }
    check_tolerance(&cases);
}
