//! Behaviour and statistics of the scenarios in `meta_router::dgp`.
//!
//! Statistical checks use fixed seeds and thresholds of 4 standard errors, so a
//! correct implementation does not fail by chance; every large-sample test runs
//! in well under a second in release mode (`cargo test --release --test dgp`).

use meta_router::dgp::{Scenario, ScenarioConfig, SimulatedData, TWO_MODELS};
use meta_router::rng::{stream, Purpose};
use meta_router::Error;
use ndarray::{s, Array1};

// ---------------------------------------------------------------------------
// helpers

fn config(text: &str) -> ScenarioConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("config {text:?} failed to parse: {e}"))
}

fn build(text: &str) -> Box<dyn Scenario> {
    config(text)
        .build()
        .unwrap_or_else(|e| panic!("config {text:?} failed to build: {e}"))
}

fn draw(scenario: &dyn Scenario, replicate: u64) -> SimulatedData {
    scenario
        .draw(&mut stream(2026, 1, replicate, Purpose::Data))
        .unwrap_or_else(|e| panic!("{} draw failed: {e}", scenario.name()))
}

/// Mean and standard error of the mean.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Asserts that `values` have mean `target` within 4 standard errors (plus
/// `extra_se`, the uncertainty of the target itself).
#[track_caller]
fn assert_mean(what: &str, values: &[f64], target: f64, extra_se: f64) {
    let (mean, se) = mean_se(values);
    let tolerance = 4.0 * (se * se + extra_se * extra_se).sqrt();
    assert!(
        (mean - target).abs() <= tolerance,
        "{what}: mean {mean} vs {target}, more than 4 SE ({tolerance}) apart"
    );
}

/// Asserts that residuals have mean 0 and are uncorrelated with a centred
/// function of the features (a check of the conditional mean, not only the
/// overall mean).
#[track_caller]
fn assert_conditional_mean_zero(what: &str, residual: &Array1<f64>, signal: &Array1<f64>) {
    assert_mean(&format!("{what} residual"), &residual.to_vec(), 0.0, 0.0);
    let centre = signal.mean().unwrap();
    let product: Vec<f64> = residual
        .iter()
        .zip(signal.iter())
        .map(|(r, g)| r * (g - centre))
        .collect();
    assert_mean(&format!("{what} residual × signal"), &product, 0.0, 0.0);
}

#[track_caller]
fn assert_pin(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "{what}: drawn {actual:?}, pinned {expected:?}"
    );
}

/// Values pinned for `stream(2026, 1, 3, Purpose::Data)`.
struct Pins {
    n_gold: usize,
    n_pref: usize,
    gold_x: [f64; 3],
    pref_x: [f64; 3],
    gold_y: [f64; 3],
    pref_y: &'static [f64],
    first_pref_gold_y: f64,
    test_x: f64,
    test_gold_y: f64,
}

fn check_pins(text: &str, pins: Pins) {
    let scenario = build(text);
    let data = draw(scenario.as_ref(), 3);
    let train = &data.train;
    assert_eq!((train.n_gold(), train.n_pref()), (pins.n_gold, pins.n_pref));
    for j in 0..3 {
        assert_pin("gold_x", train.gold_x()[[0, j]], pins.gold_x[j]);
        assert_pin("pref_x", train.pref_x()[[0, j]], pins.pref_x[j]);
        assert_pin("gold_y", train.gold_y()[j], pins.gold_y[j]);
    }
    for (j, &y) in pins.pref_y.iter().enumerate() {
        assert_pin("pref_y", train.pref_y()[j], y);
    }
    assert_pin(
        "all_gold_y",
        data.all_gold_y[pins.n_gold],
        pins.first_pref_gold_y,
    );
    assert_pin("test_x", data.test_x[[0, 0]], pins.test_x);
    assert_pin("test_gold_y", data.test_gold_y[0], pins.test_gold_y);
}

/// Large-sample checks of one scenario's draw against its truth: labels have
/// conditional means ψ (GS mechanism) and η (PB mechanism), the stored truth
/// is the scenario's ψ, Δ and p, and the population constants agree with the
/// sample means.
fn check_truth(text: &str) -> (Box<dyn Scenario>, SimulatedData) {
    let scenario = build(text);
    let data = draw(scenario.as_ref(), 0);
    let train = &data.train;
    let n = train.n_gold();
    let pooled = train.pooled_x();
    assert_eq!(data.train_psi, scenario.psi(pooled.view()));
    assert_eq!(data.train_delta, scenario.delta(pooled.view()));
    assert_eq!(data.train_propensity, scenario.propensity(pooled.view()));
    assert_eq!(data.test_psi, scenario.psi(data.test_x.view()));
    assert_eq!(data.test_delta, scenario.delta(data.test_x.view()));
    assert_eq!(data.all_gold_y.slice(s![..n]), train.gold_y());

    let psi = &data.train_psi;
    let eta = &data.train_psi - &data.train_delta;
    let gold_psi = psi.slice(s![..n]).to_owned();
    let pref_psi = psi.slice(s![n..]).to_owned();
    let pref_eta = eta.slice(s![n..]).to_owned();
    let name = scenario.name();
    assert_conditional_mean_zero(
        &format!("{name} GS labels − ψ"),
        &(&train.gold_y() - &gold_psi),
        &gold_psi,
    );
    assert_conditional_mean_zero(
        &format!("{name} PB labels − η"),
        &(&train.pref_y() - &pref_eta),
        &pref_eta,
    );
    assert_conditional_mean_zero(
        &format!("{name} all-gold labels of PB rows − ψ"),
        &(&data.all_gold_y.slice(s![n..]) - &pref_psi),
        &pref_psi,
    );
    assert_conditional_mean_zero(
        &format!("{name} test GS labels − ψ"),
        &(&data.test_gold_y - &data.test_psi),
        &data.test_psi,
    );

    let constants = scenario.constants();
    let accuracy = constants.accuracy;
    assert_mean(
        &format!("{name} E ψ"),
        &data.train_psi.to_vec(),
        constants.mean_psi,
        accuracy,
    );
    assert_mean(
        &format!("{name} E Δ"),
        &data.train_delta.to_vec(),
        constants.mean_delta,
        accuracy,
    );
    assert_mean(
        &format!("{name} E[ψ | t = 0]"),
        &pref_psi.to_vec(),
        constants.mean_psi_pref,
        accuracy,
    );
    assert_mean(
        &format!("{name} E[Δ | t = 0]"),
        &data.train_delta.slice(s![n..]).to_vec(),
        constants.mean_delta_pref,
        accuracy,
    );
    (scenario, data)
}

/// The error must be an invalid-parameter error naming `key`.
#[track_caller]
fn assert_rejects(text: &str, key: &str) {
    match config(text).build() {
        Err(Error::Core(meta_router_core::Error::InvalidParameter { name, .. })) => {
            assert_eq!(name, key, "config {text:?} was rejected for the wrong key")
        }
        Err(other) => panic!("config {text:?}: expected an error naming `{key}`, got {other}"),
        Ok(_) => panic!("config {text:?} was accepted; expected an error naming `{key}`"),
    }
}

// ---------------------------------------------------------------------------
// value stability: the first drawn values for a fixed stream. Computed once
// with this implementation (rand 0.10 / rand_chacha 0.10 / rand_distr 0.6) and
// pasted; a change means every study's data changed.

#[test]
fn healthbench_like_values_are_stable() {
    check_pins(
        "name = \"healthbench-like\"\npool = 60\nn_test = 10\nn_gold = 20\nd = 5",
        Pins {
            n_gold: 20,
            n_pref: 30,
            gold_x: [
                0.05499631107601881,
                -0.05715145405021282,
                1.0927406730344622,
            ],
            pref_x: [0.19897288359863288, -1.8245191371493634, 0.3786226086138821],
            gold_y: [
                0.005893470900067532,
                -0.6146030820775293,
                -0.2441738511830237,
            ],
            pref_y: &[
                0.6344271052671768,
                -0.036332558687073864,
                -0.7653703032314074,
            ],
            first_pref_gold_y: -0.09642979041622901,
            test_x: 0.4050093327674677,
            test_gold_y: 0.20704138124800417,
        },
    );
}

#[test]
fn healthbench_like_tanh_bias_values_are_stable() {
    // Same draws as the linear case; only the PB labels change.
    check_pins(
        "name = \"healthbench-like\"\npool = 60\nn_test = 10\nn_gold = 20\nd = 5\nbias = \"tanh\"",
        Pins {
            n_gold: 20,
            n_pref: 30,
            gold_x: [
                0.05499631107601881,
                -0.05715145405021282,
                1.0927406730344622,
            ],
            pref_x: [0.19897288359863288, -1.8245191371493634, 0.3786226086138821],
            gold_y: [
                0.005893470900067532,
                -0.6146030820775293,
                -0.2441738511830237,
            ],
            pref_y: &[0.5937182276726365, 0.04719562441474758, -0.8369219208906142],
            first_pref_gold_y: -0.09642979041622901,
            test_x: 0.4050093327674677,
            test_gold_y: 0.20704138124800417,
        },
    );
}

#[test]
fn prbench_like_values_are_stable() {
    check_pins(
        "name = \"prbench-like\"\nd = 4",
        Pins {
            n_gold: 100,
            n_pref: 400,
            gold_x: [-1.1257475167346018, -0.24156284136755937, 0.640161384624981],
            pref_x: [
                0.44587823041528274,
                -1.1515379421029146,
                0.027875637403017756,
            ],
            gold_y: [0.5538191304218103, -0.8495447493409838, 0.9275585980540266],
            pref_y: &[
                -1.3398520344536746,
                -0.3935778622646812,
                -0.6451970212830779,
            ],
            first_pref_gold_y: -0.5438225423668048,
            test_x: -0.3058190552678304,
            test_gold_y: -0.7008522827512743,
        },
    );
}

#[test]
fn covariate_shift_values_are_stable() {
    check_pins(
        "name = \"covariate-shift\"\nn_gold = 20\nn_pref = 30\nn_test = 10\nd = 4\ntest_from = \"pooled\"",
        Pins {
            n_gold: 20,
            n_pref: 30,
            gold_x: [1.7495186791717037, 0.5370325527649534, -1.9956570439228933],
            pref_x: [-1.5863207075471875, 0.5934779144970893, 0.26129397432871626],
            gold_y: [1.5335507060007698, -0.7696042450698135, -0.15589823308458617],
            pref_y: &[0.3507286691311797, -0.624240366396506, -0.5385936509289684],
            first_pref_gold_y: 0.6803519203947128,
            test_x: 2.9150600595999654,
            test_gold_y: 0.721774589312507,
        },
    );
}

#[test]
fn nie_wager_a_values_are_stable() {
    check_pins(
        "name = \"nie-wager-a\"\nn = 40\nn_test = 5",
        Pins {
            n_gold: 16,
            n_pref: 24,
            gold_x: [0.363892897407081, 0.8481640715768987, 0.041239655660464614],
            pref_x: [
                0.027920429644423317,
                0.7017011018448471,
                0.25597482276653305,
            ],
            gold_y: [2.889507196714191, 0.9051979279732552, 2.5806861455299286],
            pref_y: &[-0.09129940805371262, 3.367776697928714, 1.9130172508914516],
            first_pref_gold_y: 0.1659488791737389,
            test_x: 0.3152345976063917,
            test_gold_y: 1.6343304868655517,
        },
    );
}

#[test]
fn nie_wager_b_values_are_stable() {
    check_pins(
        "name = \"nie-wager-b\"\nn = 40\nn_test = 5",
        Pins {
            n_gold: 24,
            n_pref: 16,
            gold_x: [
                -0.28532241991935375,
                -0.6912163709966789,
                0.1701621080013776,
            ],
            pref_x: [-0.32204822635418967, 1.307829930526692, -2.241251016207709],
            gold_y: [-1.3980312160534052, 3.7962952811810013, 1.424178048573879],
            pref_y: &[2.6895978510789575, 1.2333987797185555, 1.1137089455596805],
            first_pref_gold_y: 3.821202592254923,
            test_x: 0.15585399753839854,
            test_gold_y: -0.12070267523643774,
        },
    );
}

#[test]
fn nie_wager_c_values_are_stable() {
    check_pins(
        "name = \"nie-wager-c\"\nn = 40\nn_test = 5",
        Pins {
            n_gold: 20,
            n_pref: 20,
            gold_x: [-0.32204822635418967, 1.307829930526692, -2.241251016207709],
            pref_x: [0.2874127378842426, 0.006008339504259161, 0.7495186791717037],
            gold_y: [1.229277944857951, -0.3903305228816829, 4.376090335303733],
            pref_y: &[3.165330840732362, 2.4978418382074454, 1.370594387929214],
            first_pref_gold_y: 3.324003411255842,
            test_x: -1.2746145856023143,
            test_gold_y: 0.8901194416610413,
        },
    );
}

#[test]
fn nie_wager_d_values_are_stable() {
    check_pins(
        "name = \"nie-wager-d\"\nn = 40\nn_test = 5",
        Pins {
            n_gold: 13,
            n_pref: 27,
            gold_x: [
                -0.28532241991935375,
                -0.6912163709966789,
                0.1701621080013776,
            ],
            pref_x: [-0.32204822635418967, 1.307829930526692, -2.241251016207709],
            gold_y: [-1.6285866769000088, 2.116860358109457, 0.5171571609444675],
            pref_y: &[2.3163753529594344, 0.9756644009005917, 0.34578271343314704],
            first_pref_gold_y: 0.13433697142407214,
            test_x: 0.09662603593138214,
            test_gold_y: -0.43047854914501643,
        },
    );
}

#[test]
fn binary_preference_values_are_stable() {
    check_pins(
        "name = \"binary-preference\"\npool = 60\nn_test = 10\nn_gold = 20\nd = 5",
        Pins {
            n_gold: 20,
            n_pref: 30,
            gold_x: [0.1363710594359161, -0.9635218464602113, -0.3725977228410064],
            pref_x: [1.2066143137042635, 0.6989491065664891, 0.5376050379762732],
            gold_y: [-0.31025262014298377, 1.1947389107987911, 0.4747533322523394],
            pref_y: &[
                -1.0, -1.0, -1.0, 0.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0,
            ],
            first_pref_gold_y: -0.05671160333297076,
            test_x: -0.025834482793690303,
            test_gold_y: 1.1175032572865826,
        },
    );
}

// ---------------------------------------------------------------------------
// labels, truth and population constants on large samples

#[test]
fn healthbench_like_labels_and_constants_match_truth() {
    for bias in ["linear", "tanh"] {
        let (scenario, data) = check_truth(&format!(
            "name = \"healthbench-like\"\npool = 120000\nn_test = 20000\nn_gold = 40000\nd = 3\nbias = \"{bias}\""
        ));
        // noise scales: E (r − ψ)² = σ_g², E (y − η)² = σ_p²
        let n = data.train.n_gold();
        let gold_sq: Vec<f64> = (&data.train.gold_y() - &data.train_psi.slice(s![..n]))
            .mapv(|v| v * v)
            .to_vec();
        assert_mean("GS noise variance", &gold_sq, 0.36, 0.0);
        let eta = scenario.eta(data.train.pref_x());
        let pref_sq: Vec<f64> = (&data.train.pref_y() - &eta).mapv(|v| v * v).to_vec();
        assert_mean("PB noise variance", &pref_sq, 0.36, 0.0);
        assert!(data.train_propensity.iter().all(|&p| p == 0.4));
        // The two bias shapes have about the same spread (the scenario's documentation): sd of Δ
        // is 0.358 (linear) and 0.57·sd(tanh Z) ≈ 0.357 (tanh).
        let sd = data.train_delta.std(1.0);
        assert!((sd - 0.358).abs() < 0.01, "sd of {bias} bias {sd}");
    }
}

#[test]
fn prbench_like_labels_and_constants_match_truth() {
    check_truth("name = \"prbench-like\"\npool = 100000\nn_test = 20000\nn_gold = 30000\nd = 3");
}

#[test]
fn covariate_shift_labels_and_constants_match_truth() {
    for test_from in ["pref", "gold", "pooled"] {
        let (scenario, data) = check_truth(&format!(
            "name = \"covariate-shift\"\nn_gold = 40000\nn_pref = 60000\nn_test = 20000\nd = 3\ngamma = 1.5\ntest_from = \"{test_from}\""
        ));
        // The test law: mean of s₁ is 0, γ or κγ.
        let target = match test_from {
            "pref" => 0.0,
            "gold" => 1.5,
            _ => 0.4 * 1.5,
        };
        let first: Vec<f64> = data.test_x.column(0).to_vec();
        assert_mean(&format!("test s₁ mean ({test_from})"), &first, target, 0.0);
        // GS queries are shifted, PB queries are not.
        assert_mean("GS s₁", &data.train.gold_x().column(0).to_vec(), 1.5, 0.0);
        assert_mean("PB s₁", &data.train.pref_x().column(0).to_vec(), 0.0, 0.0);
        assert_eq!(scenario.name(), "covariate-shift");
    }
}

#[test]
fn covariate_shift_propensity_matches_the_gs_share_in_bins() {
    let scenario = build(
        "name = \"covariate-shift\"\nn_gold = 30000\nn_pref = 60000\nn_test = 1\nd = 3\ngamma = 1.0",
    );
    let data = draw(scenario.as_ref(), 1);
    let s1 = data.train.pooled_x().column(0).to_owned();
    let t = data.train.pooled_t();
    let edges = [
        f64::NEG_INFINITY,
        -1.0,
        -0.5,
        0.0,
        0.5,
        1.0,
        1.5,
        2.0,
        f64::INFINITY,
    ];
    let mut shares = Vec::new();
    for bin in edges.windows(2) {
        let rows: Vec<usize> = (0..s1.len())
            .filter(|&k| s1[k] >= bin[0] && s1[k] < bin[1])
            .collect();
        assert!(rows.len() > 1000, "bin {bin:?} has {} rows", rows.len());
        let count = rows.len() as f64;
        let share = rows.iter().map(|&k| t[k]).sum::<f64>() / count;
        let expected = rows.iter().map(|&k| data.train_propensity[k]).sum::<f64>() / count;
        let se = (expected * (1.0 - expected) / count).sqrt();
        assert!(
            (share - expected).abs() <= 4.0 * se,
            "bin {bin:?}: GS share {share} vs mean propensity {expected} (SE {se})"
        );
        shares.push(share);
    }
    // the propensity really varies: the check above is not against a constant
    assert!(
        shares[0] < 0.15 && shares[shares.len() - 1] > 0.7,
        "{shares:?}"
    );
}

#[test]
fn nie_wager_labels_treatment_and_constants_match_truth() {
    for setup in ["a", "b", "c", "d"] {
        let (_, data) = check_truth(&format!(
            "name = \"nie-wager-{setup}\"\nn = 100000\nd = 6\nsigma = 1\nn_test = 20000"
        ));
        // t ~ Bernoulli(e(X)): E[t − e] = 0 and t − e is uncorrelated with e.
        let t = data.train.pooled_t();
        assert_conditional_mean_zero(
            &format!("nie-wager-{setup} t − e"),
            &(&t - &data.train_propensity),
            &data.train_propensity,
        );
    }
}

#[test]
fn binary_preference_labels_ties_and_constants_match_truth() {
    let (scenario, data) = check_truth(
        "name = \"binary-preference\"\npool = 120000\nn_test = 20000\nn_gold = 40000\nd = 3",
    );
    let pref_y = data.train.pref_y();
    assert!(pref_y.iter().all(|&y| y == 1.0 || y == 0.0 || y == -1.0));
    let ties: Vec<f64> = pref_y.iter().map(|&y| f64::from(y == 0.0)).collect();
    let share = ties.iter().sum::<f64>() / ties.len() as f64;
    let se = (0.05 * 0.95 / ties.len() as f64).sqrt();
    assert!((share - 0.05).abs() <= 4.0 * se, "tie share {share}");
    // P(+1 | s) = (1 − π_tie + η)/2
    let eta = scenario.eta(data.train.pref_x());
    let wins: Array1<f64> = pref_y
        .iter()
        .zip(eta.iter())
        .map(|(&y, &e)| f64::from(y == 1.0) - (0.95 + e) / 2.0)
        .collect();
    assert_conditional_mean_zero("win indicator − P(+1)", &wins, &eta);
}

// ---------------------------------------------------------------------------
// structure and reproducibility

#[test]
fn every_default_scenario_draws_consistent_reproducible_data() {
    for config in ScenarioConfig::defaults() {
        let scenario = config.build().unwrap();
        let data = draw(scenario.as_ref(), 7);
        let again = draw(scenario.as_ref(), 7);
        assert_eq!(data.train, again.train, "{}", scenario.name());
        assert_eq!(data.test_gold_y, again.test_gold_y);
        let other = draw(scenario.as_ref(), 8);
        assert_ne!(data.train.gold_y(), other.train.gold_y());

        let total = data.train.n_total();
        for (what, len) in [
            ("all_gold_y", data.all_gold_y.len()),
            ("train_propensity", data.train_propensity.len()),
            ("train_psi", data.train_psi.len()),
            ("train_delta", data.train_delta.len()),
        ] {
            assert_eq!(len, total, "{} {what}", scenario.name());
        }
        let n_test = data.test_x.nrows();
        assert!(n_test > 0);
        assert_eq!(data.test_psi.len(), n_test);
        assert_eq!(data.test_delta.len(), n_test);
        assert_eq!(data.test_gold_y.len(), n_test);
        assert_eq!(data.test_x.ncols(), scenario.dim());
        assert_eq!(data.train.dim(), scenario.dim());
        assert!(data
            .train_propensity
            .iter()
            .all(|&p| p > 0.0 && p < 1.0 && p.is_finite()));
        let eta = scenario.eta(data.test_x.view());
        for k in 0..n_test {
            assert!((eta[k] - (data.test_psi[k] - data.test_delta[k])).abs() < 1e-12);
        }
    }
}

#[test]
fn pool_split_is_a_partition_of_fresh_queries() {
    for text in [
        "name = \"healthbench-like\"\npool = 700\nn_test = 100\nn_gold = 150",
        "name = \"binary-preference\"\npool = 700\nn_test = 100\nn_gold = 150",
        "name = \"prbench-like\"",
    ] {
        let scenario = build(text);
        let data = draw(scenario.as_ref(), 2);
        let mut firsts: Vec<f64> = data
            .train
            .pooled_x()
            .column(0)
            .iter()
            .chain(data.test_x.column(0).iter())
            .copied()
            .collect();
        let pool = firsts.len();
        firsts.sort_by(f64::total_cmp);
        firsts.dedup();
        assert_eq!(firsts.len(), pool, "{text}: a query appears twice");
        // s_k = z_k/√k: column k has variance 1/k
        let pooled = data.train.pooled_x();
        let var_last = pooled.column(pooled.ncols() - 1).var(1.0) * pooled.ncols() as f64;
        assert!(
            (var_last - 1.0).abs() < 0.35,
            "{text}: scaled variance {var_last}"
        );
    }
    let prbench = build("name = \"prbench-like\"");
    let data = draw(prbench.as_ref(), 0);
    assert_eq!(
        (
            data.train.n_gold(),
            data.train.n_pref(),
            data.test_x.nrows()
        ),
        (100, 400, 176)
    );
}

#[test]
fn nie_wager_draws_with_too_few_rows_are_errors_not_redraws() {
    let scenario = build("name = \"nie-wager-c\"\nn = 4\nn_test = 1\nd = 3");
    let mut failures = 0;
    for replicate in 0..200 {
        match scenario.draw(&mut stream(5, 0, replicate, Purpose::Data)) {
            Ok(data) => {
                assert!(data.train.n_gold() >= 2 && data.train.n_pref() >= 2);
                assert_eq!(data.train.n_total(), 4);
            }
            Err(Error::Core(meta_router_core::Error::TooFewRows { rows, .. })) => {
                assert!(rows < 2);
                failures += 1;
                // the same stream fails the same way
                assert!(scenario
                    .draw(&mut stream(5, 0, replicate, Purpose::Data))
                    .is_err());
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    // P(both arms have ≥ 2 of 4 rows) is well below 1 here, so some of 200 fail
    assert!(failures > 10 && failures < 190, "{failures} failures");
}

// ---------------------------------------------------------------------------
// configuration

#[test]
fn invalid_parameters_are_rejected_naming_the_key() {
    let cases = [
        ("name = \"healthbench-like\"\nn_gold = 1", "n_gold"),
        ("name = \"healthbench-like\"\nn_gold = 4499", "n_gold"),
        (
            "name = \"healthbench-like\"\nn_gold = 4000\npool = 4500",
            "n_gold",
        ),
        ("name = \"healthbench-like\"\nn_test = 0", "n_test"),
        ("name = \"healthbench-like\"\nd = 2", "d"),
        (
            "name = \"healthbench-like\"\nsigma_gold = -0.1",
            "sigma_gold",
        ),
        (
            "name = \"healthbench-like\"\nsigma_pref = nan",
            "sigma_pref",
        ),
        (
            "name = \"healthbench-like\"\nsigma_pref = inf",
            "sigma_pref",
        ),
        (
            "name = \"healthbench-like\"\npsi_intercept = nan",
            "psi_intercept",
        ),
        ("name = \"healthbench-like\"\npsi_sin = inf", "psi_sin"),
        ("name = \"healthbench-like\"\npsi_tanh = -inf", "psi_tanh"),
        (
            "name = \"healthbench-like\"\ndelta_intercept = nan",
            "delta_intercept",
        ),
        (
            "name = \"healthbench-like\"\ndelta_linear = nan",
            "delta_linear",
        ),
        (
            "name = \"healthbench-like\"\ndelta_tanh = nan",
            "delta_tanh",
        ),
        ("name = \"prbench-like\"\nn_gold = 499", "n_gold"),
        ("name = \"prbench-like\"\nd = 0", "d"),
        ("name = \"covariate-shift\"\ngamma = nan", "gamma"),
        ("name = \"covariate-shift\"\ngamma = inf", "gamma"),
        ("name = \"covariate-shift\"\nn_gold = 1", "n_gold"),
        ("name = \"covariate-shift\"\nn_pref = 0", "n_pref"),
        ("name = \"covariate-shift\"\nn_test = 0", "n_test"),
        ("name = \"covariate-shift\"\nd = 2", "d"),
        ("name = \"covariate-shift\"\nsigma_gold = -1", "sigma_gold"),
        ("name = \"covariate-shift\"\nsigma_pref = nan", "sigma_pref"),
        ("name = \"nie-wager-a\"\nn = 3", "n"),
        ("name = \"nie-wager-a\"\nd = 4", "d"),
        ("name = \"nie-wager-b\"\nsigma = -0.5", "sigma"),
        ("name = \"nie-wager-c\"\nd = 2", "d"),
        ("name = \"nie-wager-d\"\nn_test = 0", "n_test"),
        ("name = \"nie-wager-d\"\nsigma = inf", "sigma"),
        ("name = \"binary-preference\"\npi_tie = 0.2", "pi_tie"),
        ("name = \"binary-preference\"\npi_tie = 1.0", "pi_tie"),
        ("name = \"binary-preference\"\npi_tie = -0.01", "pi_tie"),
        ("name = \"binary-preference\"\npi_tie = nan", "pi_tie"),
        ("name = \"binary-preference\"\npsi_sin = 0.5", "pi_tie"),
        ("name = \"binary-preference\"\nn_gold = 4499", "n_gold"),
        ("name = \"binary-preference\"\nn_test = 0", "n_test"),
        ("name = \"binary-preference\"\nd = 2", "d"),
        (
            "name = \"binary-preference\"\nsigma_gold = -1",
            "sigma_gold",
        ),
        (
            "name = \"binary-preference\"\ndelta_tanh = inf",
            "delta_tanh",
        ),
    ];
    for (text, key) in cases {
        assert_rejects(text, key);
    }
    // the bound is inclusive: sup|η| = 0.865 ≤ 1 − 0.135
    assert!(config("name = \"binary-preference\"\npi_tie = 0.135")
        .build()
        .is_ok());
    // the error message carries key, value and reason
    let message = config("name = \"covariate-shift\"\ngamma = nan")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`gamma`") && message.contains("NaN"),
        "{message}"
    );
}

#[test]
fn unknown_keys_names_and_values_fail_to_deserialize() {
    for config in ScenarioConfig::defaults() {
        let text = format!("name = \"{}\"\nn_gold_typo = 5", config.name());
        assert!(
            toml::from_str::<ScenarioConfig>(&text).is_err(),
            "{text} was accepted"
        );
        // and the bare name deserializes to the defaults
        let bare: ScenarioConfig =
            toml::from_str(&format!("name = \"{}\"", config.name())).unwrap();
        assert_eq!(bare, config);
    }
    for text in [
        "name = \"healthbench\"",
        "n_gold = 100",
        "name = \"healthbench-like\"\nbias = \"quadratic\"",
        "name = \"covariate-shift\"\ntest_from = \"test\"",
        "name = \"nie-wager-a\"\nn_gold = 10",
        "name = \"healthbench-like\"\nn_gold = -5",
        "name = \"healthbench-like\"\nn_gold = 1.5",
    ] {
        assert!(
            toml::from_str::<ScenarioConfig>(text).is_err(),
            "{text} was accepted"
        );
    }
}

#[test]
fn grid_values_merge_as_flat_scalars() {
    // integers for float keys are accepted (a grid may write `sigma = 2`)
    let parsed = config("name = \"nie-wager-b\"\nn = 500\nd = 12\nsigma = 2");
    match &parsed {
        ScenarioConfig::NieWagerB(p) => {
            assert_eq!((p.n_total, p.dim, p.sigma), (500, 12, 2.0));
        }
        other => panic!("parsed as {other:?}"),
    }
    let mut table: toml::Table = toml::from_str("name = \"covariate-shift\"\ngamma = 0").unwrap();
    table.insert("n_gold".into(), toml::Value::Integer(250));
    let merged: ScenarioConfig = table.try_into().unwrap();
    match merged {
        ScenarioConfig::CovariateShift(p) => assert_eq!((p.n_gold, p.gamma), (Some(250), 0.0)),
        other => panic!("parsed as {other:?}"),
    }
    // serialization round-trips
    for config in ScenarioConfig::defaults() {
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<ScenarioConfig>(&text).unwrap(), config);
    }
}

#[test]
fn catalog_lists_every_scenario_and_every_key_with_its_default() {
    let catalog = ScenarioConfig::catalog();
    let names: Vec<&str> = catalog.iter().map(|info| info.name).collect();
    assert_eq!(
        names,
        [
            "healthbench-like",
            "prbench-like",
            "covariate-shift",
            "nie-wager-a",
            "nie-wager-b",
            "nie-wager-c",
            "nie-wager-d",
            "nie-wager",
            "binary-preference",
            "multi-model",
            "plasmode"
        ]
    );
    // `plasmode` needs a file, so it is not among the defaults; its
    // documented keys are its serialized keys plus the optional counts.
    let plasmode = catalog.last().unwrap();
    let serialized = serde_json::to_value(ScenarioConfig::Plasmode(Default::default())).unwrap();
    for p in &plasmode.parameters {
        let optional = ["n_gold", "n_pref", "pool", "n_test"].contains(&p.key);
        assert_eq!(
            serialized.get(p.key).is_none(),
            optional,
            "plasmode: `{}`",
            p.key
        );
    }
    assert_eq!(
        serialized.as_object().unwrap().len(),
        plasmode.parameters.len() - 4 + 1,
        "every serialized key (and `name`) is documented"
    );
    for (info, default_config) in catalog.iter().zip(ScenarioConfig::defaults()) {
        assert!(!info.description.is_empty());
        // `nie-wager` builds one of its setups, `nie-wager-a` by default.
        let built = default_config.build().unwrap().name();
        assert!(
            built == info.name || (info.name == "nie-wager" && built == "nie-wager-a"),
            "{built} built from {}",
            info.name
        );
        // documented keys = serialized keys
        let serialized = serde_json::to_value(&default_config).unwrap();
        let mut keys: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|&key| key != "name")
            .collect();
        // optional keys (unset by default) are documented but not serialized;
        // only the listed ones may be unset (a misspelled key is not)
        const OPTIONAL: &[(&str, &str)] = &[
            ("covariate-shift", "n"),
            ("covariate-shift", "kappa"),
            ("covariate-shift", "n_gold"),
            ("covariate-shift", "n_pref"),
        ];
        for p in &info.parameters {
            if p.default == "(unset)" {
                assert!(
                    OPTIONAL.contains(&(info.name, p.key)),
                    "{}: `{}` is documented but has no default",
                    info.name,
                    p.key
                );
            }
        }
        let mut documented: Vec<&str> = info
            .parameters
            .iter()
            .filter(|p| p.default != "(unset)")
            .map(|p| p.key)
            .collect();
        keys.sort_unstable();
        documented.sort_unstable();
        assert_eq!(keys, documented, "{}", info.name);
        // writing every listed default back gives the default configuration
        let mut text = format!("name = \"{}\"\n", info.name);
        for parameter in &info.parameters {
            assert!(!parameter.meaning.is_empty());
            if parameter.default == "(unset)" {
                continue;
            }
            let value = if parameter.default.parse::<f64>().is_ok() {
                parameter.default.clone()
            } else {
                format!("\"{}\"", parameter.default)
            };
            text.push_str(&format!("{} = {}\n", parameter.key, value));
        }
        assert_eq!(config(&text), default_config, "{}", info.name);
    }
    let healthbench = &catalog[0];
    let n_gold = healthbench
        .parameters
        .iter()
        .find(|p| p.key == "n_gold")
        .unwrap();
    assert_eq!(n_gold.default, "100");
    let prbench = &catalog[1];
    let pool = prbench.parameters.iter().find(|p| p.key == "pool").unwrap();
    assert_eq!(pool.default, "676");
}

/// PB labels on another scale (`pref_scale = a`): the labels' conditional mean
/// is `η = a(ψ − Δ₀)`, so `Δ = (1 − a)ψ + aΔ₀`, and the constants follow.
#[test]
fn healthbench_like_pb_labels_on_another_scale() {
    let text =
        "name = \"healthbench-like\"\npool = 20000\nn_test = 100\nn_gold = 2000\npref_scale = 3.0";
    let (scenario, data) = check_truth(text);
    let base = build("name = \"healthbench-like\"\npool = 20000\nn_test = 100\nn_gold = 2000");
    let x = data.train.pooled_x();
    let psi = scenario.psi(x.view());
    let expected = -2.0 * &psi + 3.0 * &base.delta(x.view());
    let error = (&scenario.delta(x.view()) - &expected)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(error < 1e-12, "{error}");
    let constants = scenario.constants();
    assert!((constants.mean_delta - (-2.0 * 0.035 + 3.0 * 0.10)).abs() < 1e-15);
    assert_rejects(
        "name = \"healthbench-like\"\npref_scale = 0.0",
        "pref_scale",
    );
}

/// Every two-model scenario is the `K = 2` case of the many-model draw: the
/// same draws from the same stream, models alternative (reference, relative
/// cost 0) and primary (relative cost 1, gain ψ).
#[test]
fn two_model_scenarios_are_the_k2_case_of_the_many_model_draw() {
    for text in [
        "name = \"healthbench-like\"\nn_gold = 50\npool = 400\nn_test = 60",
        "name = \"covariate-shift\"\nn_gold = 40\nn_pref = 200\nn_test = 60",
        "name = \"nie-wager-b\"\nn = 300\nn_test = 60",
        "name = \"binary-preference\"\nn_gold = 50\npool = 400\nn_test = 60",
    ] {
        let scenario = build(text);
        assert_eq!(scenario.model_names(), TWO_MODELS.map(String::from));
        let two = draw(&*scenario, 3);
        let many = scenario
            .draw_models(&mut stream(2026, 1, 3, Purpose::Data))
            .unwrap();
        assert_eq!(many.models, TWO_MODELS.map(String::from), "{text}");
        assert_eq!(many.per_model.len(), 1);
        let one = &many.per_model[0];
        assert_eq!(one.train.gold_y(), two.train.gold_y(), "{text}");
        assert_eq!(one.train.pref_y(), two.train.pref_y(), "{text}");
        assert_eq!(one.test_x, two.test_x, "{text}");
        assert_eq!(many.test_gain.column(0).sum(), 0.0);
        assert_eq!(many.test_gain.column(1), two.test_psi.view());
        assert!(many.test_costs.column(0).iter().all(|&c| c == 0.0));
        assert!(many.test_costs.column(1).iter().all(|&c| c == 1.0));
        assert!(many.tables.is_none());
    }
}
