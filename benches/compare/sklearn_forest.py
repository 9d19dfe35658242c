"""scikit-learn reference for the forest in `crates/core/src/learners/forest.rs`.

Generates the synthetic data set deterministically, writes it as CSV for the Rust
side, and times scikit-learn's RandomForestRegressor on it (median of repeats).

    y = sin(3 x0) + x1^2 + 0.5 x2 x3 + N(0, 0.3^2),   x ~ U(-1, 1)^d

Run (from the repository root):

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn numpy
    /tmp/skl/bin/python benches/compare/sklearn_forest.py --out /tmp/trees_compare
    TREES_COMPARE_DIR=/tmp/trees_compare cargo bench --bench trees_compare

Thread CPU time is printed next to wall time: on a shared, loaded machine it
is the fairer measure (scikit-learn's tree building runs in the calling thread
with n_jobs=1).

Files written to --out: train.csv and test.csv (header x0..x{d-1},y).
"""

import argparse
import os
import statistics
import time

import numpy as np


def make(rng, n, d):
    x = rng.uniform(-1.0, 1.0, size=(n, d))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3]
    return x, y + rng.normal(0.0, 0.3, size=n)


def write(path, x, y):
    header = ",".join([f"x{j}" for j in range(x.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header,
               comments="", fmt="%.17g")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="folder for train.csv / test.csv")
    parser.add_argument("--n", type=int, default=4500)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20250925)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x_train, y_train = make(rng, args.n, args.d)
    x_test, y_test = make(rng, args.test, args.d)
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "train.csv"), x_train, y_train)
    write(os.path.join(args.out, "test.csv"), x_test, y_test)

    from sklearn import __version__ as skl_version
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import r2_score

    times, cpu, scores = [], [], []
    for rep in range(args.repeats):
        model = RandomForestRegressor(n_estimators=100, max_depth=20, max_features="sqrt",
                                      bootstrap=True, n_jobs=1, random_state=rep)
        start, cpu_start = time.perf_counter(), time.thread_time()
        model.fit(x_train, y_train)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - cpu_start)
        scores.append(r2_score(y_test, model.predict(x_test)))
    print(f"scikit-learn {skl_version}: n={args.n} d={args.d} 100 trees depth 20 sqrt n_jobs=1")
    print(f"fit wall seconds: median {statistics.median(times):.3f} "
          f"(all: {' '.join(f'{t:.3f}' for t in times)})")
    print(f"fit thread CPU seconds: median {statistics.median(cpu):.3f} "
          f"(all: {' '.join(f'{t:.3f}' for t in cpu)})")
    print(f"test R2: median {statistics.median(scores):.4f} "
          f"(all: {' '.join(f'{s:.4f}' for s in scores)})")


if __name__ == "__main__":
    main()
