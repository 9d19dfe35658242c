"""One replicate of the paper's all-forest pipeline (simulations/paper/fig1.toml):
meta-router against a scikit-learn re-implementation, EconML, and LightGBM.

Everything runs on the SAME data: one draw of the `healthbench-like` scenario
exported by the meta-router binary (gold.csv, pref.csv, test.csv with the true
psi and Delta). Three comparisons:

1. Full routers (R-learner, DR-learner, pooled, pb-only, gs-only):
   `meta-router fit` + `meta-router route` against the same steps written here
   with scikit-learn, following docs/method.md (5 stratified folds,
   p = kappa = n/N clipped to [1e-3, 1 - 1e-3], out-of-fold outcome models
   (R: mu on all rows; DR: mu1 on GS rows, mu0 on PB rows), R / DR
   pseudo-outcomes and weights, weight-aware leaf rule of the R bias stage,
   out-of-bag PB corrections, final forest on the corrected labels).
   Outcome and final forests are RandomForestRegressor; the bias-stage forests
   are BaggedTrees below (sklearn DecisionTreeRegressor trees on bootstrap
   counts times the weights, meta-router's weight semantics; scikit-learn
   1.9's RandomForestRegressor instead samples the bootstrap proportionally to
   sample_weight and grows unweighted trees, which doubled the R-learner's
   MSE of Delta-hat in our runs).
   `all-gold` is skipped: the export has GS labels on the n_gold GS rows only.
   With --outcome-oob both sides use meta-router's `outcome_oob = true`
   (docs/method.md 2.2): each outcome model is ONE forest on all of its rows
   (R: mu on all rows; DR: mu1 on GS rows, mu0 on PB rows), its out-of-bag
   predictions (RandomForestRegressor(oob_score=True).oob_prediction_) for
   those rows and its predictions for the others; no fold fits.
2. EconML NonParamDML (R-learner) and DRLearner on the pooled rows with the
   same forests: they estimate the bias Delta(s) only, not the router. The
   propensity is DummyClassifier(strategy="prior") (the GS share of the
   training folds, = kappa), DRLearner's outcome model fits the two arms
   separately (SeparateArms, meta-router's dr_outcome = "separate"), and
   NonParamDML's final forest has the weight-aware leaf rule.
3. One forest alone (paper settings) on the pooled rows: scikit-learn against
   LightGBM in random-forest mode; the same data are written as
   OUT/trees_compare/{train,test}.csv for `cargo bench --bench trees_compare`.

With --python-package (the package `meta_router` installed in this Python,
`pip install ./python`), part 1 also fits every router in-process through the
Python package with the same settings and seed: its wall time, the core's own
time inside that call (`fit_seconds`; the rest is the Python side's
overhead: argument checks, array conversion and copies), the ratios of
scikit-learn and EconML to it, and a check that its psi-hat on the test rows
equals the command line's bit for bit.

Ratios are python seconds / meta-router seconds (> 1: meta-router is faster).
Times are medians over --repeats; repeat r uses learner seed --seed + r on both
sides (the data draw is fixed by --seed). MSEs are means over the repeats.

Setup (Python 3.11; checked with numpy 2.4.6, scikit-learn 1.9.1, econml
0.17.0, lightgbm 4.7.0):

    python3 -m venv /tmp/cmp && /tmp/cmp/bin/pip install numpy scikit-learn econml lightgbm

Run (from the repository root, after `cargo build --release`):

    nice -n 19 /tmp/cmp/bin/python benches/compare/pipeline.py \\
        --bin target/release/meta-router --out /tmp/pipeline_compare --repeats 3

Written to --out: data/ (the export), configs and router outputs of
meta-router in work/, trees_compare/ (pooled rows, header x0..x{d-1},y; the
test target is the noise-free pooled mean mu(s) = psi - (1 - kappa) Delta),
results.json (every timing and metric), report.txt (the printed report).
"""

import argparse
import os
import sys

# Thread counts must be fixed before numpy / scikit-learn / numba load.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS")

METHODS = ["r-learner", "dr-learner", "pooled", "pb-only", "gs-only"]

# scikit-learn spelling of the presets of crates/core/src/learners/forest.rs.
PAPER = dict(n_estimators=100, max_depth=20, max_features="sqrt",
             min_samples_split=2, min_samples_leaf=1, bootstrap=True)
PAPER_BIAS = dict(n_estimators=200, max_depth=30, max_features="sqrt",
                  min_samples_split=5, min_samples_leaf=2, bootstrap=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="target/release/meta-router", help="meta-router binary")
    p.add_argument("--out", default="/tmp/pipeline_compare", help="output folder")
    p.add_argument("--seed", type=int, default=1, help="data seed; learner seeds seed + repeat")
    p.add_argument("--n-gold", type=int, default=500)
    p.add_argument("--scenario", default="healthbench-like")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for every forest (meta-router `threads`, sklearn n_jobs, "
                        "LightGBM num_threads); default 1")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--bin-features", action="store_true",
                   help="diagnostic: give scikit-learn and EconML (parts 1-2) the features "
                        "pre-binned to 256 quantile bins of the pooled rows, mimicking "
                        "meta-router's histogram splits (meta-router bins per fit)")
    p.add_argument("--outcome-oob", action="store_true",
                   help="R- and DR-learner outcome models from one forest's out-of-bag "
                        "predictions instead of fold fits (meta-router `outcome_oob = true`; "
                        "the scikit-learn re-implementation does the same; EconML unchanged)")
    p.add_argument("--python-package", action="store_true",
                   help="also fit through the Python package meta_router (pip install ./python)")
    p.add_argument("--skip-econml", action="store_true")
    p.add_argument("--skip-forest", action="store_true", help="skip the forest-alone part")
    return p.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for _v in _THREAD_VARS:
        os.environ[_v] = str(ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402

warnings.filterwarnings("ignore")

LOG = []


def say(text=""):
    print(text, flush=True)
    LOG.append(text)


class Clock:
    """Wall (perf_counter) and process CPU (process_time) of a block."""

    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


# --------------------------------------------------------------------------- data

def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return header, values


def load(data_dir):
    hg, gold = read_csv(os.path.join(data_dir, "gold.csv"))
    hp, pref = read_csv(os.path.join(data_dir, "pref.csv"))
    ht, test = read_csv(os.path.join(data_dir, "test.csv"))
    features = [c for c in hg if c not in ("label", "true_psi", "true_delta")]
    col = lambda h, names: [h.index(c) for c in names]  # noqa: E731
    xg, xp, xt = gold[:, col(hg, features)], pref[:, col(hp, features)], test[:, col(ht, features)]
    n, m = len(xg), len(xp)
    d = dict(
        features=features, n=n, m=m, N=n + m,
        x=np.vstack([xg, xp]),                                   # pooled, GS rows first
        t=np.concatenate([np.ones(n), np.zeros(m)]),
        o=np.concatenate([gold[:, hg.index("label")], pref[:, hp.index("label")]]),
        x_test=xt,
        psi_test=test[:, ht.index("true_psi")],
        delta_test=test[:, ht.index("true_delta")],
    )
    d["kappa"] = n / (n + m)
    return d


def binned(data, bins=256):
    """Copy of data with features replaced by their bin index: cuts at unweighted
    quantiles of the pooled training rows (test rows use the same cuts)."""
    x, x_test = np.empty_like(data["x"]), np.empty_like(data["x_test"])
    for j in range(x.shape[1]):
        values = np.unique(data["x"][:, j])
        if len(values) <= bins:
            cuts = (values[1:] + values[:-1]) / 2
        else:
            cuts = np.unique(np.quantile(data["x"][:, j], np.arange(1, bins) / bins))
        x[:, j] = np.searchsorted(cuts, data["x"][:, j], side="right")
        x_test[:, j] = np.searchsorted(cuts, data["x_test"][:, j], side="right")
    return dict(data, x=x, x_test=x_test)


def write_xy(path, x, y):
    header = ",".join([f"x{j}" for j in range(x.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header,
               comments="", fmt="%.17g")


def mse(a, b):
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


def r2(y, pred):
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


# ---------------------------------------------------------------- meta-router

def mr_config(method, threads, outcome_oob=False):
    extra = f", threads = {threads}" if threads != 1 else ""
    lines = [f'method = "{method}"',
             f'learner = {{ type = "forest", preset = "paper"{extra} }}']
    if method in ("r-learner", "dr-learner"):
        lines.append(f'bias_learner = {{ type = "forest", preset = "paper-bias-stage"{extra} }}')
        if outcome_oob:
            lines.append("outcome_oob = true")
    return "\n".join(lines) + "\n"


def run_meta_router(args, data_dir, work, method, seed, data):
    config = os.path.join(work, f"{method}.toml")
    with open(config, "w") as f:
        f.write(mr_config(method, args.threads, args.outcome_oob))
    model = os.path.join(work, f"{method}.json")
    cmd = [args.bin, "fit", "--gold", os.path.join(data_dir, "gold.csv"),
           "--pref", os.path.join(data_dir, "pref.csv"), "--config", config,
           "--out", model, "--seed", str(seed), "--force", "--verbose"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"in ([0-9.]+) s; wrote ", proc.stderr)
    fit_s = float(found.group(1)) if found else float("nan")
    size = os.path.getsize(model)
    diag = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s*$", proc.stdout, flags=re.M))
    pred = os.path.join(work, f"{method}.route.csv")
    subprocess.run([args.bin, "route", "--model", model, "--queries",
                    os.path.join(data_dir, "test.csv"), "--cost-weight", "0",
                    "--out", pred, "--force"], check=True, capture_output=True)
    with open(pred) as f:
        header = f.readline().strip().split(",")
    table = np.genfromtxt(pred, delimiter=",", skip_header=1, dtype=str, ndmin=2)
    psi = table[:, header.index("psi_hat")].astype(float)
    out = dict(wall=wall, cpu=cpu, fit=fit_s, overhead=wall - fit_s, model_bytes=size,
               mse_psi=mse(psi, data["psi_test"]), psi_test=psi,
               min_weight_leaf=diag.get("bias.min_weight_leaf"))
    if "delta_hat" in header:
        out["mse_delta"] = mse(table[:, header.index("delta_hat")].astype(float),
                               data["delta_test"])
    os.remove(model)
    return out


def run_python_package(args, data, method, seed, cli_psi):
    """One fit through the Python package, in this process, with the
    command line's settings and seed; its psi-hat must equal the CLI's."""
    import tomllib

    from meta_router import MetaRouter
    settings = tomllib.loads(mr_config(method, args.threads, args.outcome_oob))
    gold = data["t"] == 1
    xg, r = data["x"][gold], data["o"][gold]
    xp, y = data["x"][~gold], data["o"][~gold]
    router = MetaRouter(**settings, seed=seed)
    with Clock() as c:
        router.fit(xg, r, xp, y)
    core = router._router.fit_seconds
    psi = router.predict_psi(data["x_test"])
    if not np.array_equal(psi, cli_psi):
        raise RuntimeError(f"{method}: the Python package's psi-hat differs from the CLI's")
    return dict(wall=c.wall, cpu=c.cpu, core=core, overhead=c.wall - core,
                overhead_share=(c.wall - core) / core)


# --------------------------------------------------------------- scikit-learn

def forest(spec, seed, threads, **extra):
    from sklearn.ensemble import RandomForestRegressor
    return RandomForestRegressor(**spec, n_jobs=threads, random_state=seed, **extra)


class BaggedTrees(BaseEstimator, RegressorMixin):
    """A random forest with meta-router's weight semantics (crates/core/src/learners/forest.rs):
    uniform bootstrap counts c_i, and tree b grows on weights w_i * c_i, so
    min_weight_fraction_leaf is a fraction of sum_i w_i c_i. scikit-learn >= 1.9's
    RandomForestRegressor instead draws the bootstrap with probabilities
    proportional to w and grows unit-weight trees, a different estimator for
    the R-learner's weights (t - p)^2. Out-of-bag predictions as in
    RandomForestRegressor(oob_score=True). One thread."""

    def __init__(self, n_estimators=200, max_depth=30, min_samples_split=5, min_samples_leaf=2,
                 min_weight_fraction_leaf=0.0, random_state=0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.random_state = random_state

    def fit(self, x, y, sample_weight=None):
        from sklearn.tree import DecisionTreeRegressor
        x = np.ascontiguousarray(x, dtype=np.float32)   # what sklearn's trees use internally
        y = np.asarray(y, dtype=float).ravel()
        n = len(y)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        rng = np.random.default_rng(self.random_state)
        oob_sum, oob_count = np.zeros(n), np.zeros(n)
        self.estimators_ = []
        for _ in range(self.n_estimators):
            counts = np.bincount(rng.integers(0, n, n), minlength=n)
            tree = DecisionTreeRegressor(
                max_depth=self.max_depth, max_features="sqrt",
                min_samples_split=self.min_samples_split, min_samples_leaf=self.min_samples_leaf,
                min_weight_fraction_leaf=self.min_weight_fraction_leaf,
                random_state=int(rng.integers(2 ** 31 - 1)))
            tree.fit(x, y, sample_weight=w * counts, check_input=False)
            out = counts == 0
            oob_sum[out] += tree.predict(x[out], check_input=False)
            oob_count[out] += 1
            self.estimators_.append(tree)
        never = oob_count == 0   # fall back to the full prediction, as meta-router does
        self.oob_fallback_rows_ = int(never.sum())
        self.oob_prediction_ = oob_sum / np.maximum(oob_count, 1)
        if never.any():
            self.oob_prediction_[never] = self.predict(x[never])
        return self

    def predict(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        return np.mean([t.predict(x, check_input=False) for t in self.estimators_], axis=0)


def bias_forest(seed, min_weight_fraction_leaf=0.0):
    return BaggedTrees(PAPER_BIAS["n_estimators"], PAPER_BIAS["max_depth"],
                       PAPER_BIAS["min_samples_split"], PAPER_BIAS["min_samples_leaf"],
                       min_weight_fraction_leaf, seed)


def oob_outcome(x, o, rows, seed, threads):
    """meta-router's `outcome_oob = true` (crates/core/src/meta/nuisances.rs): one forest fit on
    the rows `rows` (a boolean mask); each of them gets its out-of-bag prediction,
    every other row the full forest's prediction. A training row that no tree left
    out (all bootstraps drew it) falls back to the full prediction, as meta-router
    does (scikit-learn would give it 0)."""
    model = forest(PAPER, seed, threads, oob_score=True).fit(x[rows], o[rows])
    fitted = model.oob_prediction_.copy()
    in_bag = np.zeros(len(fitted), dtype=int)
    for sample in model.estimators_samples_:
        in_bag[np.unique(sample)] += 1
    never = in_bag == len(model.estimators_)
    if never.any():
        fitted[never] = model.predict(x[rows][never])
    out = np.empty(len(o))
    out[rows] = fitted
    if (~rows).any():
        out[~rows] = model.predict(x[~rows])
    return out


def stratified_folds(n, m, k, rng):
    """docs/method.md 2.1: permute GS rows, then PB rows; deal round-robin."""
    assignment = np.empty(n + m, dtype=int)
    for offset, size in ((0, n), (n, m)):
        order = rng.permutation(size)
        assignment[offset + order] = np.arange(size) % k
    return assignment


def kish(w):
    return w.sum() ** 2 / np.sum(w ** 2)


def sk_fit(method, data, seed, args):
    """Fits one method; returns (psi model, delta model or None, stage clocks)."""
    x, t, o, n = data["x"], data["t"], data["o"], data["n"]
    ss = np.random.SeedSequence([seed, METHODS.index(method)])
    seeds = iter(int(s) for s in ss.generate_state(16))
    stages = {}
    th = args.threads
    if method in ("pooled", "pb-only", "gs-only"):
        rows = {"pooled": slice(None), "pb-only": slice(n, None), "gs-only": slice(0, n)}[method]
        with Clock() as c:
            model = forest(PAPER, next(seeds), th).fit(x[rows], o[rows])
        stages["final"] = c
        return model, None, stages

    folds = stratified_folds(n, data["m"], args.folds, np.random.default_rng(next(seeds)))
    p = np.clip(np.full(len(o), data["kappa"]), 1e-3, 1 - 1e-3)  # constant propensity, clip 1e-3
    gold = t == 1.0
    with Clock() as c:
        if args.outcome_oob and method == "r-learner":
            mu = oob_outcome(x, o, np.ones(len(o), dtype=bool), next(seeds), th)
        elif args.outcome_oob:
            mu1 = oob_outcome(x, o, gold, next(seeds), th)
            mu0 = oob_outcome(x, o, ~gold, next(seeds), th)
        elif method == "r-learner":
            mu = np.zeros(len(o))
            for k in range(args.folds):
                train, test = folds != k, folds == k
                mu[test] = forest(PAPER, next(seeds), th).fit(x[train], o[train]).predict(x[test])
        else:
            mu1, mu0 = np.zeros(len(o)), np.zeros(len(o))
            for k in range(args.folds):
                test = folds == k
                for arm, target in ((gold, mu1), (~gold, mu0)):
                    train = (folds != k) & arm
                    target[test] = forest(PAPER, next(seeds), th).fit(
                        x[train], o[train]).predict(x[test])
    stages["nuisances"] = c
    with Clock() as c:
        if method == "r-learner":
            rt = t - p
            z, w = (o - mu) / rt, rt ** 2
            # weight-aware leaf rule (crates/core/src/meta/refit.rs): min_samples_leaf / n_eff, capped at 0.5
            frac = min(0.5, PAPER_BIAS["min_samples_leaf"] / kish(w))
            bias = bias_forest(next(seeds), frac).fit(x, z, sample_weight=w)
        else:
            mu_t = np.where(gold, mu1, mu0)
            phi = (t - p) / (p * (1 - p)) * (o - mu_t) + mu1 - mu0
            bias = bias_forest(next(seeds)).fit(x, phi)
    stages["bias"] = c
    with Clock() as c:
        labels = o.copy()
        labels[n:] += bias.oob_prediction_[n:]   # out-of-bag corrections of the PB rows
        model = forest(PAPER, next(seeds), th).fit(x, labels)
    stages["final"] = c
    return model, bias, stages


class SeparateArms(BaseEstimator, RegressorMixin):
    """EconML passes [X, T] to model_regression; fit mu1 on T = 1 rows and mu0 on
    T = 0 rows (meta-router's dr_outcome = "separate") instead of one joint model."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, xt, y, sample_weight=None):
        from sklearn.base import clone
        x, arm = xt[:, :-1], xt[:, -1] == 1
        self.models_ = {}
        for value in (True, False):
            rows = arm == value
            sw = None if sample_weight is None else sample_weight[rows]
            self.models_[value] = clone(self.estimator).fit(x[rows], y[rows], sample_weight=sw)
        return self

    def predict(self, xt):
        x, arm = xt[:, :-1], xt[:, -1] == 1
        out = np.empty(len(xt))
        for value in (True, False):
            if np.any(arm == value):
                out[arm == value] = self.models_[value].predict(x[arm == value])
        return out



def econml_fit(kind, data, seed, args):
    from econml.dml import NonParamDML
    from econml.dr import DRLearner
    from sklearn.dummy import DummyClassifier
    th = args.threads
    prior = DummyClassifier(strategy="prior")   # p = share of GS rows in the training folds = kappa
    if kind == "NonParamDML":
        t, p = data["t"], data["kappa"]
        frac = min(0.5, PAPER_BIAS["min_samples_leaf"] / kish((t - p) ** 2))
        est = NonParamDML(model_y=forest(PAPER, seed, th), model_t=prior,
                          model_final=bias_forest(seed + 1, frac),
                          discrete_treatment=True, cv=args.folds, random_state=seed)
    else:
        est = DRLearner(model_propensity=prior,
                        model_regression=SeparateArms(forest(PAPER, seed, th)),
                        model_final=bias_forest(seed + 1),
                        cv=args.folds, min_propensity=1e-3, random_state=seed)
    with Clock() as c:
        est.fit(data["o"], data["t"], X=data["x"])
    return c, mse(est.effect(data["x_test"]), data["delta_test"])


# ----------------------------------------------------------------- reporting

def med(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def mean(values):
    values = [v for v in values if v is not None and v == v]
    return sum(values) / len(values) if values else float("nan")


def versions(args):
    import lightgbm
    import scipy
    import sklearn
    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
           "lightgbm": lightgbm.__version__}
    try:
        import econml
        out["econml"] = econml.__version__
    except ImportError:
        out["econml"] = "not installed"
    out["meta-router"] = subprocess.run([args.bin, "--version"], capture_output=True,
                                        text=True).stdout.strip()
    out["platform"] = platform.platform()
    try:
        with open("/proc/cpuinfo") as f:
            out["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        out["cpu"] = platform.processor()
    out["cores"] = os.cpu_count()
    out["niceness"] = os.nice(0)
    return out


def main(args):
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable meta-router at {args.bin} (build it or pass --bin)")
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            sys.exit(f"unknown method {m}; choose from {','.join(METHODS)}")
    out = os.path.abspath(args.out)
    data_dir, work = os.path.join(out, "data"), os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    subprocess.run([args.bin, "scenarios", "export", args.scenario, "--n-gold", str(args.n_gold),
                    "--seed", str(args.seed), "--out", data_dir, "--force"],
                   check=True, capture_output=True)
    data = load(data_dir)
    py_data = binned(data) if args.bin_features else data   # what parts 1-2 of Python see
    info = versions(args)
    load0 = os.getloadavg()
    say(f"meta-router pipeline comparison: {args.scenario} seed {args.seed}, n_gold {data['n']}, "
        f"n_pref {data['m']}, N {data['N']}, d {len(data['features'])}, test {len(data['x_test'])}, "
        f"kappa {data['kappa']:.4f}")
    say("versions: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    say(f"threads {args.threads}, repeats {args.repeats}, load average at start "
        f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    if args.bin_features:
        say("--bin-features: scikit-learn and EconML see features pre-binned to 256 quantile bins")
    say("outcome models of the R- and DR-learner (meta-router and scikit-learn): "
        + ("out of bag (--outcome-oob: outcome_oob = true, one forest per model)" if args.outcome_oob
           else f"{args.folds}-fold cross-fitting")
        + ("" if args.skip_econml else "; EconML always cross-fits"))
    say("all-gold: skipped (needs GS labels on every training row; the export has them on the "
        "GS rows only)")

    # ---- 1. full routers
    mr = {m: [] for m in methods}
    sk = {m: [] for m in methods}
    py = {m: [] for m in methods}
    for rep in range(args.repeats):
        seed = args.seed + rep
        for method in methods:
            mr[method].append(run_meta_router(args, data_dir, work, method, seed, data))
            cli_psi = mr[method][-1].pop("psi_test")
            if args.python_package:
                py[method].append(run_python_package(args, data, method, seed, cli_psi))
            psi_model, delta_model, stages = sk_fit(method, py_data, seed, args)
            row = {"wall": sum(c.wall for c in stages.values()),
                   "cpu": sum(c.cpu for c in stages.values()),
                   "delta_wall": sum(c.wall for s, c in stages.items() if s != "final"),
                   "mse_psi": mse(psi_model.predict(py_data["x_test"]), data["psi_test"])}
            row.update({f"{s}_wall": c.wall for s, c in stages.items()})
            if delta_model is not None:
                row["mse_delta"] = mse(delta_model.predict(py_data["x_test"]), data["delta_test"])
            sk[method].append(row)
            del psi_model, delta_model
            say(f"  repeat {rep + 1}/{args.repeats} {method:<10} meta-router {mr[method][-1]['wall']:.2f} s "
                f"(fit {mr[method][-1]['fit']:.2f} s), sklearn {row['wall']:.2f} s")

    summary = {}
    say("")
    say("1. Full router, one replicate (times in s, medians; sk/mr ratios, > 1 = meta-router faster)")
    say("   mr wall = subprocess `meta-router fit` (CSV load + fit + JSON write); mr fit = its own "
        "in-process fit time; mr cpu = user+sys of the subprocess")
    head = (f"{'method':<11}{'mr wall':>8}{'mr fit':>8}{'mr cpu':>8}{'sk wall':>9}{'sk cpu':>8}"
            f"{'wall/wall':>10}{'wall/fit':>9}{'cpu/cpu':>8}{'MSEψ mr':>9}{'MSEψ sk':>9}"
            f"{'MSEΔ mr':>9}{'MSEΔ sk':>9}")
    say(head)
    for m in methods:
        a = {k: med([r[k] for r in mr[m]]) for k in ("wall", "fit", "cpu", "overhead")}
        b = {k: med([r[k] for r in sk[m]]) for k in ("wall", "cpu", "delta_wall")}
        e = {"mse_psi_mr": mean([r["mse_psi"] for r in mr[m]]),
             "mse_psi_sk": mean([r["mse_psi"] for r in sk[m]]),
             "mse_delta_mr": mean([r.get("mse_delta") for r in mr[m]]),
             "mse_delta_sk": mean([r.get("mse_delta") for r in sk[m]])}
        s = dict(mr=a, sk=b, **e, ratio_wall=b["wall"] / a["wall"], ratio_fit=b["wall"] / a["fit"],
                 ratio_cpu=b["cpu"] / a["cpu"])
        summary[m] = s
        fmt = lambda v: f"{v:>9.4f}" if v == v else f"{'-':>9}"  # noqa: E731
        say(f"{m:<11}{a['wall']:>8.2f}{a['fit']:>8.2f}{a['cpu']:>8.2f}{b['wall']:>9.2f}"
            f"{b['cpu']:>8.2f}{s['ratio_wall']:>10.2f}{s['ratio_fit']:>9.2f}{s['ratio_cpu']:>8.2f}"
            f"{fmt(e['mse_psi_mr'])}{fmt(e['mse_psi_sk'])}{fmt(e['mse_delta_mr'])}"
            f"{fmt(e['mse_delta_sk'])}")
    overheads = [r["overhead"] for m in methods for r in mr[m]]
    if overheads:
        say(f"   meta-router overhead outside the fit (process start, CSV load, JSON write; wall - fit): "
            f"median {med(overheads):.2f} s, range {min(overheads):.2f}-{max(overheads):.2f}")
    if args.python_package:
        say("")
        say("   The Python package meta_router (in-process; psi-hat equal to the CLI's bit for bit):")
        say(f"   {'method':<11}{'py wall':>8}{'core':>8}{'overhead':>10}{'sk/py':>8}")
        for m in methods:
            p = {k: med([r[k] for r in py[m]]) for k in ("wall", "core", "overhead",
                                                         "overhead_share")}
            summary[m]["py"] = p
            summary[m]["ratio_sk_py"] = summary[m]["sk"]["wall"] / p["wall"]
            say(f"   {m:<11}{p['wall']:>8.3f}{p['core']:>8.3f}{100 * p['overhead_share']:>9.2f}%"
                f"{summary[m]['ratio_sk_py']:>8.2f}")
        say("   (overhead = py wall - core, as a share of core: argument checks, array "
            "conversion and copies)")
    if "gs-only" in summary:
        say(f"   gs-only wall (500-row forest, mostly load/write): {summary['gs-only']['mr']['wall']:.2f} s")
    for m in ("r-learner", "dr-learner"):
        if m in sk:
            parts = " ".join(f"{s} {med([r[s + '_wall'] for r in sk[m]]):.2f}"
                             for s in ("nuisances", "bias", "final"))
            say(f"   sklearn {m} stages (wall s): {parts}")
    if "r-learner" in mr and mr["r-learner"][0].get("min_weight_leaf"):
        say(f"   R bias-stage min_weight_leaf: meta-router {mr['r-learner'][0]['min_weight_leaf']}, "
            f"sklearn min_weight_fraction_leaf "
            f"{min(0.5, 2 / kish((data['t'] - data['kappa']) ** 2)):.6f}")

    # ---- 2. EconML
    econ = {}
    if not args.skip_econml:
        say("")
        say("2. EconML on the pooled rows: estimates of the bias Delta(s) ONLY (no PB correction, no "
            "psi refit); ratio = EconML / meta-router full router fit")
        say(f"{'estimator':<34}{'wall':>7}{'cpu':>7}{'MSEΔ':>9}{'vs mr':>12}{'vs mr fit':>10}"
            f"{'vs sk Δ-part':>13}")
        for kind, ref in (("NonParamDML", "r-learner"), ("DRLearner", "dr-learner")):
            runs = [econml_fit(kind, py_data, args.seed + rep, args) for rep in range(args.repeats)]
            wall, cpu = med([c.wall for c, _ in runs]), med([c.cpu for c, _ in runs])
            row = dict(wall=wall, cpu=cpu, mse_delta=mean([v for _, v in runs]), versus=ref)
            if ref in summary:
                row["ratio_wall"] = wall / summary[ref]["mr"]["wall"]
                row["ratio_fit"] = wall / summary[ref]["mr"]["fit"]
                row["ratio_sk_delta"] = wall / summary[ref]["sk"]["delta_wall"]
                if "py" in summary[ref]:
                    row["ratio_py"] = wall / summary[ref]["py"]["wall"]
            econ[kind] = row
            label = f"{kind} (Δ; vs mr {ref})"
            g = lambda k: f"{row[k]:.2f}" if k in row else "-"  # noqa: E731
            say(f"{label:<34}{wall:>7.2f}{cpu:>7.2f}{row['mse_delta']:>9.4f}{g('ratio_wall'):>12}"
                f"{g('ratio_fit'):>10}{g('ratio_sk_delta'):>13}")
        say("   (vs sk Δ-part = EconML / the sklearn re-implementation's nuisance + bias-forest time, "
            "same work minus the OOB pass)")
        for kind, row in econ.items():
            if "ratio_py" in row:
                say(f"   {kind} / the Python package's {row['versus']} fit: {row['ratio_py']:.2f}")

    # ---- 3. forest alone
    trees = {}
    if not args.skip_forest:
        import lightgbm as lgb
        from sklearn.ensemble import RandomForestRegressor
        tc = os.path.join(out, "trees_compare")
        os.makedirs(tc, exist_ok=True)
        mu_test = data["psi_test"] - (1 - data["kappa"]) * data["delta_test"]
        write_xy(os.path.join(tc, "train.csv"), data["x"], data["o"])
        write_xy(os.path.join(tc, "test.csv"), data["x_test"], mu_test)
        d = data["x"].shape[1]
        # never binding: more leaves than in-bag rows (larger values only slow LightGBM down)
        leaves = int(0.632 * data["N"]) + 2
        for name in ("scikit-learn", "LightGBM rf"):
            times, cpus, scores = [], [], []
            for rep in range(args.repeats):
                if name == "scikit-learn":
                    model = RandomForestRegressor(**PAPER, n_jobs=args.threads,
                                                  random_state=args.seed + rep)
                else:
                    model = lgb.LGBMRegressor(
                        boosting_type="rf", n_estimators=100, subsample=0.632, subsample_freq=1,
                        colsample_bynode=int(np.sqrt(d)) / d, num_leaves=leaves, max_depth=20,
                        max_bin=256, min_child_samples=1, min_child_weight=0.0,
                        min_data_in_bin=1, min_split_gain=0.0, reg_lambda=0.0,
                        force_row_wise=True,
                        n_jobs=args.threads, random_state=args.seed + rep, verbose=-1)
                with Clock() as c:
                    model.fit(data["x"], data["o"])
                times.append(c.wall)
                cpus.append(c.cpu)
                scores.append(r2(mu_test, model.predict(data["x_test"])))
                del model
            trees[name] = dict(wall=med(times), cpu=med(cpus), r2=med(scores))
        say("")
        say(f"3. One forest (100 trees, depth 20, sqrt(d) features) on the {data['N']} pooled rows; "
            "test R² against the noise-free pooled mean mu = psi - (1-kappa) Delta")
        for name, row in trees.items():
            say(f"   {name:<13} fit wall {row['wall']:.3f} s, cpu {row['cpu']:.3f} s, test R² {row['r2']:.4f}")
        say(f"   sklearn / LightGBM wall {trees['scikit-learn']['wall'] / trees['LightGBM rf']['wall']:.2f}")
        say("   meta-router's forest on the same rows (not run here):")
        say(f"   TREES_COMPARE_DIR={tc} TREES_COMPARE_REPEATS={max(args.repeats, 3)} "
            f"nice -n 19 cargo bench --bench trees_compare")

    # ---- summary
    load1 = os.getloadavg()
    say("")
    say(f"SUMMARY (ratio = python seconds / meta-router seconds; load average at end "
        f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f})")
    for m, s in summary.items():
        say(f"  {m:<11} sklearn/mr: wall {s['ratio_wall']:.2f}, vs mr in-process fit "
            f"{s['ratio_fit']:.2f}, cpu {s['ratio_cpu']:.2f}; MSEψ mr {s['mse_psi_mr']:.4f} "
            f"sk {s['mse_psi_sk']:.4f}")
    for kind, row in econ.items():
        if "ratio_wall" in row:
            say(f"  {kind:<11} (Δ only) EconML/mr {row['versus']}: wall {row['ratio_wall']:.2f}, vs mr "
                f"in-process fit {row['ratio_fit']:.2f}; MSEΔ EconML {row['mse_delta']:.4f} vs mr "
                f"{summary[row['versus']]['mse_delta_mr']:.4f}")
    if trees:
        say(f"  forest      sklearn {trees['scikit-learn']['wall']:.3f} s, LightGBM rf "
            f"{trees['LightGBM rf']['wall']:.3f} s (meta-router: cargo bench --bench trees_compare)")

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(dict(args=vars(args), versions=info, load_start=load0, load_end=load1,
                       data=dict(n=data["n"], m=data["m"], d=len(data["features"]),
                                 kappa=data["kappa"]),
                       meta_router=mr, sklearn=sk, python_package=py, summary=summary, econml=econ, forest=trees),
                  f, indent=1, default=str)
    with open(os.path.join(out, "report.txt"), "w") as f:
        f.write("\n".join(LOG) + "\n")


if __name__ == "__main__":
    main(ARGS)
