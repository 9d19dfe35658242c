"""Independent reference for the weighted L2-penalized logistic regression.

Writes tests/data/logistic_reference.json, read by tests/learners_reference.rs,
which fits `LogisticParams` with default settings (only `penalty` and `basis`
set per case) and checks the fitted probabilities against it to 1e-8.

Tools (recorded in the fixture): Python 3.11.7, numpy 2.4.6, scikit-learn
1.9.1, scipy 1.17.1. Run from the repository root:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scikit-learn scipy
    /tmp/venv/bin/python tests/data/logistic_fixture.py

The model, written from the crate's documented definition (not its code):
inputs are standardized with the weighted mean and weighted sd (divisor
sum(w)); the basis ("linear": z; "poly2": z_1..z_d, z_1^2..z_d^2, z_j z_k for
j < k in lexicographic order) is standardized again the same way; then

    minimize (1/S) sum_i w_i [log(1 + e^eta_i) - t_i eta_i] + lam |beta|^2,
    eta_i = b + phi_i' beta, S = sum_i w_i, intercept b unpenalized.

Reference solver: scikit-learn's LogisticRegression with solver
"newton-cholesky" on the standardized features, sample_weight = w and
C = 1 / (2 lam S) (its objective is a positive multiple of the one above;
lam = 0 is C = inf), gtol 1e-14. Cross-check: scipy.optimize.minimize
(trust-exact, with the exact gradient and Hessian of the objective above);
the largest difference of the two solvers' probabilities is recorded per case
as `solver_agreement`, and the gradient norm of the objective at the
scikit-learn solution as `gradient_norm`.

Inputs and weights are rounded to 4 and 6 decimals so the JSON stays small; Rust and Python
parse the same decimal strings to the same doubles.
"""

import json
import platform

import numpy as np
import scipy
import scipy.optimize
import sklearn
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(20261201)


def standardize(x, w):
    total = w.sum()
    mean = (w[:, None] * x).sum(0) / total
    sd = np.sqrt((w[:, None] * (x - mean) ** 2).sum(0) / total)
    return mean, sd


def features(basis, x, stats):
    m_in, s_in, m_out, s_out = stats
    z = (x - m_in) / s_in
    if basis == "poly2":
        d = z.shape[1]
        cols = [z[:, j] for j in range(d)] + [z[:, j] ** 2 for j in range(d)]
        cols += [z[:, j] * z[:, k] for j in range(d) for k in range(j + 1, d)]
        z = np.column_stack(cols)
    if m_out is None:
        return z
    return (z - m_out) / s_out


def fit_stats(basis, x, w):
    m_in, s_in = standardize(x, w)
    raw = features(basis, x, (m_in, s_in, None, None))
    m_out, s_out = standardize(raw, w)
    return (m_in, s_in, m_out, s_out)


def objective_parts(theta, phi, t, w, lam):
    total = w.sum()
    eta = theta[0] + phi @ theta[1:]
    p = 1.0 / (1.0 + np.exp(-eta))
    f = (w * (np.logaddexp(0.0, eta) - t * eta)).sum() / total + lam * theta[1:] @ theta[1:]
    x1 = np.column_stack([np.ones(len(t)), phi])
    g = x1.T @ (w * (p - t)) / total
    g[1:] += 2 * lam * theta[1:]
    h = (x1 * (w * p * (1 - p))[:, None]).T @ x1 / total
    h[1:, 1:] += 2 * lam * np.eye(phi.shape[1])
    return f, g, h


def reference(phi, t, w, lam):
    total = w.sum()
    if lam > 0:
        model = LogisticRegression(
            C=1.0 / (2.0 * lam * total), solver="newton-cholesky", tol=1e-14, max_iter=1000
        )
    else:
        model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    model.fit(phi, t, sample_weight=w)
    theta = np.concatenate([model.intercept_, model.coef_[0]])
    check = scipy.optimize.minimize(
        lambda th: objective_parts(th, phi, t, w, lam)[0],
        np.zeros(phi.shape[1] + 1),
        jac=lambda th: objective_parts(th, phi, t, w, lam)[1],
        hess=lambda th: objective_parts(th, phi, t, w, lam)[2],
        method="trust-exact",
        options={"gtol": 1e-13, "maxiter": 1000},
    )
    return theta, check.x


def predict(theta, phi):
    return 1.0 / (1.0 + np.exp(-(theta[0] + phi @ theta[1:])))


def case(name, basis, lam, x, t, w, x_test):
    x = np.round(x, 4)
    x_test = np.round(x_test, 4)
    w = np.round(w, 6)
    stats = fit_stats(basis, x, w)
    phi = features(basis, x, stats)
    phi_test = features(basis, x_test, stats)
    theta, theta_check = reference(phi, t, w, lam)
    p_train, p_test = predict(theta, phi), predict(theta, phi_test)
    agreement = max(
        np.abs(p_train - predict(theta_check, phi)).max(),
        np.abs(p_test - predict(theta_check, phi_test)).max(),
    )
    gradient = np.abs(objective_parts(theta, phi, t, w, lam)[1]).max()
    print(f"{name}: n={len(t)} solver agreement {agreement:.2e}, gradient {gradient:.2e}")
    return {
        "name": name,
        "basis": basis,
        "penalty": lam,
        "x": x.tolist(),
        "t": t.tolist(),
        "w": w.tolist(),
        "x_test": x_test.tolist(),
        "p_train": p_train.tolist(),
        "p_test": p_test.tolist(),
        "solver_agreement": float(agreement),
        "gradient_norm": float(gradient),
    }


def logistic_draw(log_odds):
    return (rng.uniform(size=len(log_odds)) < 1.0 / (1.0 + np.exp(-log_odds))).astype(float)


cases = []

# 1. Unweighted, linear basis, default penalty.
x = rng.normal(size=(400, 3))
t = logistic_draw(0.3 + x[:, 0] - 0.8 * x[:, 1] + 0.4 * x[:, 2] ** 2)
cases.append(case("unweighted", "linear", 1e-4, x, t, np.ones(400), rng.normal(size=(50, 3))))

# 2. Weighted (non-integer weights, some zero), linear basis, default penalty,
#    inputs on very different scales.
x = rng.normal(size=(300, 4)) * np.array([1.0, 50.0, 0.01, 3.0]) + np.array([0.0, 100.0, -2.0, 1.0])
t = logistic_draw(-0.5 + x[:, 0] + 0.02 * (x[:, 1] - 100.0) + 60.0 * (x[:, 2] + 2.0))
w = rng.uniform(0.2, 3.0, size=300)
w[::17] = 0.0
cases.append(case("weighted", "linear", 1e-4, x, t, w, x[:40] * 1.1))

# 3. A propensity model with the imbalance of a study: 300 GS rows from
#    N(gamma e1, I) (t = 1) and 3000 PB rows from N(0, I) (t = 0), d = 5,
#    gamma = 1, default penalty.
gold = rng.normal(size=(300, 5))
gold[:, 0] += 1.0
pref = rng.normal(size=(3000, 5))
x = np.vstack([gold, pref])
t = np.concatenate([np.ones(300), np.zeros(3000)])
cases.append(case("propensity_300_3000", "linear", 1e-4, x, t, np.ones(3300), rng.normal(size=(60, 5))))

# 4. Degree-2 basis with the studies' penalty 1e-3, weighted.
x = rng.uniform(size=(500, 3))
t = logistic_draw(np.clip(np.sin(np.pi * x[:, 0] * x[:, 1]), 0.1, 0.9) * 4 - 2 + x[:, 2])
w = rng.uniform(0.5, 2.0, size=500)
cases.append(case("poly2_weighted", "poly2", 1e-3, x, t, w, rng.uniform(size=(40, 3))))

# 5. No penalty (plain weighted maximum likelihood).
x = rng.normal(size=(600, 2))
t = logistic_draw(0.2 - 1.5 * x[:, 0] + 0.5 * x[:, 1])
w = rng.choice([0.5, 1.0, 2.0], size=600)
cases.append(case("unpenalized_weighted", "linear", 0.0, x, t, w, rng.normal(size=(30, 2))))

out = {
    "script": "tests/data/logistic_fixture.py",
    "tools": {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "scipy": scipy.__version__,
    },
    "cases": cases,
}
with open("tests/data/logistic_reference.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
