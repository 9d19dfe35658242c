"""Exact (50-digit) reference for weighted ridge on ill-conditioned designs.

Writes tests/data/ridge_exact.json, read by tests/learners_reference.rs, which
fits `RidgeParams` with a fixed tiny penalty and checks that the automatic
solver choice takes the SVD path and agrees with these values to 1e-11.

Tools (recorded in the fixture): Python 3.11.7, mpmath 1.4.1 (50 significant
digits), numpy 2.4.6 (only to draw the inputs and to report the condition
number). Run from the repository root:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy mpmath
    /tmp/venv/bin/python tests/data/ridge_exact_fixture.py

The model, written from the crate's documented definition (not its code):
inputs are standardized with the weighted mean and weighted sd (divisor
S = sum(w)); for the linear basis the second standardization is the identity
in exact arithmetic; then

    (b, beta) = argmin (1/S) sum_i w_i (y_i - b - z_i' beta)^2 + lam |beta|^2,

so b = weighted mean of y and (Z'WZ + lam S I) beta = Z'W (y - b). Every
input is a short decimal (x and y with 6 decimals, w with 3), so Rust and
Python start from the same doubles, and every step here is done in 50-digit
arithmetic from those doubles. Predictions are reported on the training rows
and on new rows drawn from the same near-collinear law.
"""

import json
import platform

import mpmath
import numpy as np

mpmath.mp.dps = 50
rng = np.random.default_rng(20261202)


def design(n, delta):
    """Columns 1-2 nearly collinear, column 4 nearly their combination with 3."""
    x1 = rng.normal(size=n)
    x2 = x1 + delta * rng.normal(size=n)
    x3 = rng.normal(size=n)
    x4 = 0.5 * x3 - x1 + delta * rng.normal(size=n)
    return np.column_stack([x1, x2, x3, x4])


def exact(x, y, w, lam, x_new):
    n, d = x.shape
    X = [[mpmath.mpf(float(v)) for v in row] for row in x]
    Y = [mpmath.mpf(float(v)) for v in y]
    W = [mpmath.mpf(float(v)) for v in w]
    S = mpmath.fsum(W)
    mean = [mpmath.fsum(W[i] * X[i][j] for i in range(n)) / S for j in range(d)]
    sd = [
        mpmath.sqrt(mpmath.fsum(W[i] * (X[i][j] - mean[j]) ** 2 for i in range(n)) / S)
        for j in range(d)
    ]

    def standardize(rows):
        return [[(mpmath.mpf(float(r[j])) - mean[j]) / sd[j] for j in range(d)] for r in rows]

    Z = standardize(x)
    b = mpmath.fsum(W[i] * Y[i] for i in range(n)) / S
    G = mpmath.matrix(d, d)
    c = mpmath.matrix(d, 1)
    for j in range(d):
        c[j] = mpmath.fsum(W[i] * Z[i][j] * (Y[i] - b) for i in range(n))
        for k in range(d):
            G[j, k] = mpmath.fsum(W[i] * Z[i][j] * Z[i][k] for i in range(n))
        G[j, j] += lam * S
    beta = mpmath.lu_solve(G, c)

    def predict(rows):
        return [float(b + mpmath.fsum(r[j] * beta[j] for j in range(d))) for r in rows]

    # Condition numbers of sqrt(W) Z and of the penalized Gram matrix, in
    # double precision (for the record only).
    a = np.array([[float(v) for v in row] for row in Z]) * np.sqrt(np.asarray(w, float))[:, None]
    s = np.linalg.svd(a, compute_uv=False)
    mu = float(lam * S)
    return (
        predict(Z),
        predict(standardize(x_new)),
        float(s[0] / s[-1]),
        float((s[0] ** 2 + mu) / (s[-1] ** 2 + mu)),
    )


def case(name, n, delta, lam, noise):
    x = np.round(design(n, delta), 6)
    y = np.round(0.3 + x[:, 0] - 0.7 * x[:, 2] + 0.4 * x[:, 3] + noise * rng.normal(size=n), 6)
    w = np.round(rng.uniform(0.1, 3.0, size=n), 3)
    w[::11] = 0.0
    x_new = np.round(design(20, delta), 6)
    p_train, p_new, cond_a, cond_system = exact(x, y, w, lam, x_new)
    print(f"{name}: kappa(W^1/2 Z) = {cond_a:.3e}, kappa(G + lam S I) = {cond_system:.3e}")
    return {
        "name": name,
        "penalty": lam,
        "x": x.tolist(),
        "y": y.tolist(),
        "w": w.tolist(),
        "x_new": x_new.tolist(),
        "p_train": p_train,
        "p_new": p_new,
        "condition_design": cond_a,
        "condition_system": cond_system,
    }


cases = [
    case("condition_2e3", 80, 1e-3, 1e-13, 0.1),
    case("condition_4e4", 80, 5e-5, 1e-14, 0.1),
]
out = {
    "script": "tests/data/ridge_exact_fixture.py",
    "tools": {
        "python": platform.python_version(),
        "mpmath": mpmath.__version__,
        "numpy": np.__version__,
        "digits": mpmath.mp.dps,
    },
    "cases": cases,
}
with open("tests/data/ridge_exact.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
