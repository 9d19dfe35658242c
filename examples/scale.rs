//! How a Meta-Router fit scales with the number of pooled rows: wall time and
//! peak resident memory of one fit per size, each in a fresh process.
//!
//! ```text
//! cargo run --release --example scale -- [--rows 10000,100000,1000000]
//!     [--dim 256] [--gold-share 0.1] [--method dr-learner]
//!     [--learner 'type = "ridge"\nbasis = "rff"\nfeatures = 256'] [--seed 1]
//! ```
//!
//! For each size the example re-runs itself with `--one N` (so that every
//! size's peak RSS is its own) and prints one line per size: rows, seconds to
//! draw the data, seconds to fit, the process's peak RSS (`VmHWM`) and its RSS
//! after the draw (the data alone). Results do not depend on the machine's
//! thread count; the fit uses the threads rayon is given (`RAYON_NUM_THREADS`).
//!
//! The data: `x ~ N(0, I_d)`, each row a GS row with probability
//! `gold-share`; `ψ(x) = 0.2 sin(x₁) + 0.1 x₂`, `Δ(x) = 0.1 + 0.2 x₃`, labels
//! `r = ψ + N(0, 0.5²)` (GS) and `y = ψ − Δ + N(0, 0.5²)` (PB). The printed
//! RMSE of ψ̂ on 2000 fresh rows checks that the fit is not garbage.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use meta_router::data::TrainingData;
use meta_router::learners::LearnerConfig;
use meta_router::meta::{FitSeeds, MetaRouterConfig, Method};
use meta_router::rng::{stream, Purpose};
use ndarray::{Array1, Array2};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

struct Options {
    rows: Vec<usize>,
    dim: usize,
    gold_share: f64,
    method: String,
    learner: String,
    seed: u64,
    one: Option<usize>,
}

fn parse() -> Result<Options> {
    let mut options = Options {
        rows: vec![10_000, 100_000, 1_000_000],
        dim: 256,
        gold_share: 0.1,
        method: "dr-learner".into(),
        learner: "type = \"ridge\"\nbasis = \"rff\"\nfeatures = 256".into(),
        seed: 1,
        one: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => {
                options.rows = value()?
                    .split(',')
                    .map(|v| v.trim().parse().context("--rows: a list of integers"))
                    .collect::<Result<_>>()?
            }
            "--dim" => options.dim = value()?.parse().context("--dim")?,
            "--gold-share" => options.gold_share = value()?.parse().context("--gold-share")?,
            "--method" => options.method = value()?,
            "--learner" => options.learner = value()?.replace("\\n", "\n"),
            "--seed" => options.seed = value()?.parse().context("--seed")?,
            "--one" => options.one = Some(value()?.parse().context("--one")?),
            other => bail!("unknown option {other}"),
        }
    }
    if options.dim < 3 {
        bail!("--dim must be at least 3");
    }
    if !(options.gold_share > 0.0 && options.gold_share < 1.0) {
        bail!("--gold-share must be in (0, 1)");
    }
    Ok(options)
}

fn psi(x: &[f64]) -> f64 {
    0.2 * x[0].sin() + 0.1 * x[1]
}

fn delta(x: &[f64]) -> f64 {
    0.1 + 0.2 * x[2]
}

fn draw(n: usize, options: &Options, replicate: u64) -> (Array2<f64>, Vec<bool>, Array1<f64>) {
    let mut rng = stream(options.seed, n as u64, replicate, Purpose::Data);
    let mut x = Array2::<f64>::zeros((n, options.dim));
    for v in x.iter_mut() {
        *v = StandardNormal.sample(&mut rng);
    }
    let mut gold = Vec::with_capacity(n);
    let mut label = Array1::<f64>::zeros(n);
    for (i, row) in x.rows().into_iter().enumerate() {
        let row = row.as_slice().expect("row-major");
        let is_gold = rng.random::<f64>() < options.gold_share;
        let noise: f64 = StandardNormal.sample(&mut rng);
        label[i] = if is_gold {
            psi(row)
        } else {
            psi(row) - delta(row)
        } + 0.5 * noise;
        gold.push(is_gold);
    }
    (x, gold, label)
}

/// `VmHWM` and `VmRSS` of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn one(n: usize, options: &Options) -> Result<()> {
    meta_router::alloc::tune_malloc();
    let start = Instant::now();
    let (x, gold, label) = draw(n, options, 0);
    let rows = |want: bool| -> Vec<usize> { (0..n).filter(|&i| gold[i] == want).collect() };
    let (gold_rows, pref_rows) = (rows(true), rows(false));
    let pick_y = |r: &[usize]| Array1::from_iter(r.iter().map(|&i| label[i]));
    let data = TrainingData::new(
        meta_router::linalg::select_rows(x.view(), &gold_rows),
        pick_y(&gold_rows),
        meta_router::linalg::select_rows(x.view(), &pref_rows),
        pick_y(&pref_rows),
    )?;
    drop(x);
    let draw_seconds = start.elapsed().as_secs_f64();
    let (_, data_rss) = memory();
    let learner: LearnerConfig = toml::from_str(&options.learner).context("--learner")?;
    let method: Method = toml::Value::String(options.method.clone())
        .try_into()
        .context("--method")?;
    let config = MetaRouterConfig::new(method).with_learner(learner);
    let start = Instant::now();
    let router = config.fit(
        &data,
        FitSeeds {
            folds: 1,
            learner: 2,
        },
    )?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let (peak, _) = memory();
    let (test_x, _, _) = draw(2000, options, 1);
    let psi_hat = router.predict_psi(test_x.view());
    let mse = test_x
        .rows()
        .into_iter()
        .zip(&psi_hat)
        .map(|(row, p)| (p - psi(row.as_slice().expect("row-major"))).powi(2))
        .sum::<f64>()
        / 2000.0;
    println!(
        "{n:>9} {:>7} {draw_seconds:>8.2} {fit_seconds:>8.2} {peak:>10.0} {data_rss:>10.0} {:>8.4}",
        data.n_gold(),
        mse.sqrt()
    );
    Ok(())
}

fn main() -> Result<()> {
    let options = parse()?;
    if let Some(n) = options.one {
        return one(n, &options);
    }
    println!(
        "{} fit, {}-dimensional x, learner {:?}, GS share {}",
        options.method, options.dim, options.learner, options.gold_share
    );
    println!(
        "{:>9} {:>7} {:>8} {:>8} {:>10} {:>10} {:>8}",
        "rows", "gold", "draw s", "fit s", "peak MiB", "data MiB", "RMSE ψ̂"
    );
    let me = std::env::current_exe()?;
    for &n in &options.rows {
        let status = Command::new(&me)
            .args(std::env::args().skip(1))
            .args(["--one", &n.to_string()])
            .status()?;
        if !status.success() {
            bail!("the run with {n} rows failed");
        }
    }
    Ok(())
}
