"""`evaluate` and `simulate` in Python are the command line's `evaluate` and
`simulate`: the same numbers, the same files."""

from __future__ import annotations

import csv
import math
import tomllib

import numpy as np
import pytest

from conftest import ROOT, run_cli
from meta_router import MetaRouter, MetaRouterError, evaluate, simulate


def read_evaluation(path):
    with open(path, newline="") as f:
        return [(r["metric"], *[float(r[k]) if r[k] != "" else math.nan
                                for k in ("x", "value", "se", "lower", "upper")])
                for r in csv.DictReader(f)]


def same(a, b):
    return len(a) == len(b) and all(
        x[0] == y[0] and all((u == v) or (math.isnan(u) and math.isnan(v))
                             for u, v in zip(x[1:], y[1:]))
        for x, y in zip(a, b))


def test_evaluate_is_the_command_lines_evaluation(healthbench, tmp_path):
    router = MetaRouter("dr", seed=3).fit(
        healthbench.x_gold, healthbench.r, healthbench.x_pref, healthbench.y)
    saved = tmp_path / "router.json"
    router.save(saved)
    for truth, extra in ((healthbench.true_psi, ["--truth", "true_psi"]), (None, [])):
        out = tmp_path / ("truth" if truth is not None else "labels")
        run_cli("evaluate", "--model", saved, "--test", healthbench.folder / "test.csv",
                "--out", out, "--bootstrap", "200", "--seed", "4", *extra)
        ours = evaluate(router, healthbench.x_test, healthbench.test_labels, truth,
                        bootstrap=200, seed=4)
        rows = [tuple(r) for r in ours.itertuples(index=False)]
        assert same(rows, read_evaluation(out / "evaluation.csv"))
    area = ours[ours["metric"] == "neg_area"]
    assert len(area) == 1 and area["lower"].iloc[0] <= area["value"].iloc[0]
    with pytest.raises(MetaRouterError, match="at least 20 test queries"):
        evaluate(router, healthbench.x_test[:5], healthbench.test_labels[:5])
    with pytest.raises(MetaRouterError, match="gains: 499 values for 500 test queries"):
        evaluate(router, healthbench.x_test, healthbench.test_labels, healthbench.true_psi[:-1])
    with pytest.raises(MetaRouterError, match="r_test: 499 labels for 500 test queries"):
        evaluate(router, healthbench.x_test, healthbench.test_labels[:-1])


STUDY_FILES = ("summary.json", "summary.csv", "replicates.jsonl")


def test_simulate_is_the_command_lines_simulate(tmp_path):
    spec = ROOT / "simulations" / "quickstart.toml"
    cli_out = tmp_path / "cli"
    run_cli("simulate", spec, "--replicates", "3", "--out", cli_out, "--quiet")
    one = simulate(spec, tmp_path / "one", replicates=3, threads=1)
    two = simulate(spec, tmp_path / "two", replicates=3, threads=2)
    for name in STUDY_FILES:
        text = (cli_out / name).read_bytes()
        assert (tmp_path / "one" / name).read_bytes() == text, name
        assert (tmp_path / "two" / name).read_bytes() == text, name
    summary = one.summary
    assert set(summary["method"]) >= {"R", "DR", "pooled"}
    assert len(one.records) > 0 and one.claims_failed == 0
    assert (tmp_path / "one" / "summary.md").is_file()
    # The same study given as a dict.
    as_dict = tomllib.loads(spec.read_text())
    from_dict = simulate(as_dict, tmp_path / "dict", replicates=3)
    for name in ("summary.csv", "replicates.jsonl"):
        assert (tmp_path / "dict" / name).read_bytes() == (cli_out / name).read_bytes(), name


def test_bad_studies_are_refused_naming_the_key(tmp_path):
    spec = tomllib.loads((ROOT / "simulations" / "quickstart.toml").read_text())
    spec["replicates"] = 0
    with pytest.raises(MetaRouterError, match="replicates"):
        simulate(spec, tmp_path / "bad")
    spec = tomllib.loads((ROOT / "simulations" / "quickstart.toml").read_text())
    spec["methods"][0]["folds"] = 1
    with pytest.raises(MetaRouterError, match=r"methods\[0\]\.folds"):
        simulate(spec, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_scenario_draw_is_the_command_lines_export(healthbench, tmp_path):
    from conftest import read_csv
    from meta_router import scenarios

    draw = scenarios.export("healthbench-like", seed=1, n_gold=100)
    assert np.array_equal(draw["X_gold"], healthbench.x_gold)
    assert np.array_equal(draw["r"], healthbench.r)
    assert np.array_equal(draw["X_pref"], healthbench.x_pref)
    assert np.array_equal(draw["y"], healthbench.y)
    assert np.array_equal(draw["X_test"], healthbench.x_test)
    assert np.array_equal(draw["true_psi"], healthbench.true_psi)
    assert draw["features"] == healthbench.features and draw["models"] == ["alternative", "primary"]
    # Several models: NaN where the CSV cell is empty.
    folder = tmp_path / "multi"
    run_cli("scenarios", "export", "multi-model", "--set", "models=4", "--seed", "2", "--out",
            folder)
    multi = scenarios.export("multi-model", seed=2, models=4)
    with open(folder / "gold.csv", newline="") as f:
        rows = list(csv.reader(f))
    cells = np.array([[float(v) if v != "" else np.nan for v in row] for row in rows[1:]])
    d = len(multi["features"])
    assert np.array_equal(multi["X_gold"], cells[:, :d])
    assert np.array_equal(multi["R"], cells[:, d:], equal_nan=True)
    assert len(multi["models"]) == 4
    header, test = read_csv(folder / "test.csv")
    assert np.array_equal(multi["costs"], test[:, d:d + 4])
    with pytest.raises(MetaRouterError, match=r"scenario `healthbench-like`, key `n_gold`"):
        scenarios.export("healthbench-like", n_gold="many")
    with pytest.raises(MetaRouterError, match=r"key `name`"):
        scenarios.export("healthbench-like", name="x")
    with pytest.raises(MetaRouterError, match="unknown"):
        scenarios.export("no-such-scenario")


def test_simulate_never_replaces_the_folder_holding_its_spec(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    spec = folder / "spec.toml"
    spec.write_text((ROOT / "simulations" / "quickstart.toml").read_text())
    with pytest.raises(MetaRouterError, match="spec"):
        simulate(spec, folder, replicates=2, force=True)
    assert spec.is_file()

