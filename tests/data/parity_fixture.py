"""Independent reference for the Meta-Router R-/DR-learners with linear ridge.

Writes tests/data/parity_linear.json, read by tests/parity.rs, which checks the
Rust estimators against it to 1e-9 relative.

Tool: Python 3.11 with numpy (recorded in the fixture: numpy version). Run from
the repository root:

    python3 -m venv /tmp/pyref && /tmp/pyref/bin/pip install numpy
    /tmp/pyref/bin/python tests/data/parity_fixture.py

Everything below is written from docs/method.md §2 with plain numpy linear
algebra, without reference to the Rust code:

ridge(x, y, w, lam): standardize x with the weighted mean and weighted sd
(divisor sum(w)); minimize (1/sum w) sum w (y - b - x~ beta)^2 + lam |beta|^2
with unpenalized intercept b. Folds are fixed: GS row i -> i % K, PB row j ->
j % K. Propensity is the constant kappa = n/N (clipping at 1e-3 inactive).
"""

import json
import numpy as np

K = 5
LAM = 0.05
rng = np.random.default_rng(20261127)
n, m, d, t_rows = 40, 160, 3, 25

xg = rng.normal(size=(n, d))
xp = rng.normal(size=(m, d))
xt = rng.normal(size=(t_rows, d))


def psi(x):
    return 0.3 + x[:, 0] - 0.5 * x[:, 1]


def delta(x):
    return 0.5 + 0.4 * x[:, 2]


r = psi(xg) + 0.3 * rng.normal(size=n)
y = psi(xp) - delta(xp) + 0.3 * rng.normal(size=m)


class Ridge:
    def __init__(self, x, yv, w=None, lam=LAM):
        w = np.ones(len(yv)) if w is None else np.asarray(w, dtype=float)
        sw = w.sum()
        self.mean = (w[:, None] * x).sum(0) / sw
        var = (w[:, None] * (x - self.mean) ** 2).sum(0) / sw
        self.sd = np.sqrt(var)
        xs = self._std(x)
        ybar = (w * yv).sum() / sw
        a = (xs.T * w) @ xs / sw + lam * np.eye(x.shape[1])
        rhs = (xs.T * w) @ (yv - ybar) / sw
        self.beta = np.linalg.solve(a, rhs)
        # Standardized columns have weighted mean 0, so the intercept is ybar.
        self.b = ybar - ((w[:, None] * xs).sum(0) / sw) @ self.beta

    def _std(self, x):
        out = np.zeros_like(x)
        ok = self.sd > 0
        out[:, ok] = (x[:, ok] - self.mean[ok]) / self.sd[ok]
        return out

    def predict(self, x):
        return self.b + self._std(x) @ self.beta


x = np.vstack([xg, xp])
o = np.concatenate([r, y])
t = np.concatenate([np.ones(n), np.zeros(m)])
folds = np.concatenate([np.arange(n) % K, np.arange(m) % K])
kappa = n / (n + m)
p = np.full(n + m, kappa)

# R-learner.
mu = np.zeros(n + m)
for k in range(K):
    tr, te = folds != k, folds == k
    mu[te] = Ridge(x[tr], o[tr]).predict(x[te])
z = (o - mu) / (t - p)
wz = (t - p) ** 2
bias_r = Ridge(x, z, wz)
corr_r = np.zeros(m)
for k in range(K):
    tr = folds != k
    te_pref = (folds[n:] == k)
    corr_r[te_pref] = Ridge(x[tr], z[tr], wz[tr]).predict(xp[te_pref])
psi_r = Ridge(x, np.concatenate([r, y + corr_r])).predict(xt)

# DR-learner.
mu1 = np.zeros(n + m)
mu0 = np.zeros(n + m)
for k in range(K):
    tr, te = folds != k, folds == k
    g = tr & (t == 1)
    q = tr & (t == 0)
    mu1[te] = Ridge(x[g], o[g]).predict(x[te])
    mu0[te] = Ridge(x[q], o[q]).predict(x[te])
mu_t = np.where(t == 1, mu1, mu0)
phi = (t - p) / (p * (1 - p)) * (o - mu_t) + mu1 - mu0
bias_dr = Ridge(x, phi)
corr_dr = np.zeros(m)
for k in range(K):
    tr = folds != k
    te_pref = (folds[n:] == k)
    corr_dr[te_pref] = Ridge(x[tr], phi[tr]).predict(xp[te_pref])
psi_dr = Ridge(x, np.concatenate([r, y + corr_dr])).predict(xt)

out = {
    "tool": "numpy " + np.__version__,
    "script": "tests/data/parity_fixture.py",
    "penalty": LAM,
    "folds": folds.tolist(),
    "gold_x": xg.tolist(),
    "gold_y": r.tolist(),
    "pref_x": xp.tolist(),
    "pref_y": y.tolist(),
    "test_x": xt.tolist(),
    "r_learner": {
        "mean_outcome": mu.tolist(),
        "pseudo_outcome": z.tolist(),
        "weights": wz.tolist(),
        "delta_test": bias_r.predict(xt).tolist(),
        "psi_test": psi_r.tolist(),
    },
    "dr_learner": {
        "mean_gold": mu1.tolist(),
        "mean_pref": mu0.tolist(),
        "pseudo_outcome": phi.tolist(),
        "delta_test": bias_dr.predict(xt).tolist(),
        "psi_test": psi_dr.tolist(),
    },
}
with open("tests/data/parity_linear.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote tests/data/parity_linear.json")
