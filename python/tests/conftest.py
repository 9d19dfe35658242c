"""Shared fixtures: the `meta-router` command line (the reference every
Python result is compared with) and scenario data it exports."""

from __future__ import annotations

import csv
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cli_binary() -> pathlib.Path:
    """The `meta-router` binary: `$META_ROUTER_BIN`, else the workspace's
    release build (`cargo build --release`)."""
    path = pathlib.Path(os.environ.get("META_ROUTER_BIN", ROOT / "target" / "release" / "meta-router"))
    if not path.is_file():
        raise RuntimeError(
            f"the meta-router binary is not at {path}: run `cargo build --release` at the "
            "repository's root, or set META_ROUTER_BIN")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the command line; a non-zero exit fails the test with its output."""
    done = subprocess.run([str(cli_binary()), *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"meta-router {' '.join(map(str, args))} exited "
                             f"{done.returncode}:\n{done.stderr}")
    return done


def read_csv(path: pathlib.Path):
    """A CSV of numbers: (header, float64 matrix); numbers parsed by Python's
    `float` (correctly rounded, as the command line parses them)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header, np.array([[float(v) for v in row] for row in body], dtype=np.float64)


class Scenario:
    """One exported draw: GS, PB and test arrays, and the files."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        header, gold = read_csv(folder / "gold.csv")
        _, pref = read_csv(folder / "pref.csv")
        test_header, test = read_csv(folder / "test.csv")
        label = header.index("label")
        self.features = header[:label]
        self.x_gold, self.r = gold[:, :label], gold[:, label]
        self.x_pref, self.y = pref[:, :label], pref[:, label]
        self.x_test = test[:, :label]
        self.test_labels = test[:, label]
        self.true_psi = test[:, test_header.index("true_psi")]


def exported(tmp_path_factory, name: str, *options: str) -> Scenario:
    """One draw of scenario `name` written by `meta-router scenarios export`."""
    folder = tmp_path_factory.mktemp(name)
    run_cli("scenarios", "export", name, *options, "--out", folder, "--force")
    return Scenario(folder)


@pytest.fixture(scope="session")
def healthbench(tmp_path_factory) -> Scenario:
    """healthbench-like, 100 GS rows (κ ≈ 0.022), 50 features, seed 1."""
    return exported(tmp_path_factory, "healthbench-like", "--n-gold", "100", "--seed", "1")


@pytest.fixture(scope="session")
def covariate_shift(tmp_path_factory) -> Scenario:
    """covariate-shift at γ = 1 (weak overlap), seed 2."""
    return exported(tmp_path_factory, "covariate-shift", "--set", "gamma=1.0", "--seed", "2")
