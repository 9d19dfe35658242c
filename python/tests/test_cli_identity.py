"""The Python package and the command line give the same routers: the same
data, settings and seed give the same router file (up to the training
files' names), bit-identical ψ̂, Δ̂ and decisions, and each reads the
other's router files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import read_csv, run_cli
from meta_router import MetaRouter

# The settings of each case, as Python keywords and as a router configuration file.
CASES = {
    "dr-ridge": ({"method": "dr-learner"}, 'method = "dr-learner"\n'),
    "r-forest": (
        {"method": "r-learner", "learner": {"type": "forest", "trees": 40}},
        'method = "r-learner"\nlearner = { type = "forest", trees = 40 }\n',
    ),
    "pooled": ({"method": "pooled"}, 'method = "pooled"\n'),
}


def cli_fit(scenario, tmp_path, name, config_text, seed, extra=()):
    config = tmp_path / f"{name}.toml"
    config.write_text(config_text)
    out = tmp_path / f"{name}.json"
    run_cli("fit", "--gold", scenario.folder / "gold.csv", "--pref", scenario.folder / "pref.csv",
            "--config", config, "--seed", str(seed), "--out", out, "--force", *extra)
    return out


def cli_route(router_file, queries, w, *extra):
    """ψ̂, Δ̂ (or None) and decisions of `meta-router route`, parsed exactly."""
    done = run_cli("route", "--model", router_file, "--queries", queries, "--cost-weight",
                   repr(w), *extra)
    lines = done.stdout.strip().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    psi = np.array([float(r[header.index("psi_hat")]) for r in rows])
    delta = None
    if "delta_hat" in header and rows[0][header.index("delta_hat")] != "":
        delta = np.array([float(r[header.index("delta_hat")]) for r in rows])
    primary = np.array([r[header.index("route")] == "primary" for r in rows])
    return psi, delta, primary, header, rows


def without_names(text):
    """A router file's content without what names the training data's source."""
    file = json.loads(text)
    for key in ("gold_file", "pref_file"):
        file["training"].pop(key, None)
    file.pop("crate_version", None)
    return file


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_python_fit_is_the_command_lines_fit(healthbench, tmp_path, case):
    settings, config_text = CASES[case]
    seed = 11
    cli_file = cli_fit(healthbench, tmp_path, case, config_text, seed)
    router = MetaRouter(**settings, seed=seed).fit(
        healthbench.x_gold, healthbench.r, healthbench.x_pref, healthbench.y)
    # The whole router file: models, configuration, diagnostics, inference, notes.
    assert without_names(router.to_json()) == without_names(cli_file.read_text())
    # ψ̂, Δ̂ and the decisions on the test queries, bit for bit.
    w = 0.1
    psi, delta, primary, _, _ = cli_route(cli_file, healthbench.folder / "test.csv", w)
    assert np.array_equal(router.predict_psi(healthbench.x_test), psi)
    py_delta = router.predict_delta(healthbench.x_test)
    if delta is None:
        assert py_delta is None
    else:
        assert np.array_equal(py_delta, delta)
    assert np.array_equal(router.route(healthbench.x_test, cost_weight=w), primary)


def test_router_files_cross_both_ways(healthbench, tmp_path):
    queries = healthbench.folder / "test.csv"
    # Python → command line.
    router = MetaRouter("dr", seed=5).fit(
        healthbench.x_gold, healthbench.r, healthbench.x_pref, healthbench.y)
    saved = tmp_path / "python.json"
    router.save(saved)
    psi, delta, primary, _, _ = cli_route(saved, queries, 0.05)
    assert np.array_equal(psi, router.predict_psi(healthbench.x_test))
    assert np.array_equal(delta, router.predict_delta(healthbench.x_test))
    assert np.array_equal(primary, router.route(healthbench.x_test, 0.05))
    # Command line → Python.
    cli_file = cli_fit(healthbench, tmp_path, "cli", 'method = "r"\n', 6)
    loaded = MetaRouter.load(cli_file)
    psi, delta, primary, _, _ = cli_route(cli_file, queries, 0.05)
    assert np.array_equal(loaded.predict_psi(healthbench.x_test), psi)
    assert np.array_equal(loaded.predict_delta(healthbench.x_test), delta)
    assert np.array_equal(loaded.route(healthbench.x_test, 0.05), primary)
    assert loaded.method == "r-learner" and loaded.seed == 6
    # A loaded router writes back the file it read.
    assert loaded.to_json() == cli_file.read_text()
    # Refitting with a loaded router's parameters gives the same router.
    refit = MetaRouter(**loaded.get_params()).fit(
        healthbench.x_gold, healthbench.r, healthbench.x_pref, healthbench.y)
    assert np.array_equal(refit.predict_psi(healthbench.x_test), psi)


def test_per_query_costs_and_the_decision_rule(healthbench, tmp_path):
    router = MetaRouter("dr", seed=2).fit(
        healthbench.x_gold, healthbench.r, healthbench.x_pref, healthbench.y)
    x = healthbench.x_test
    psi = router.predict_psi(x)
    rng = np.random.default_rng(3)
    c_p, c_a = rng.uniform(0.5, 2.0, len(x)), rng.uniform(0.0, 0.5, len(x))
    w = 0.2
    assert np.array_equal(router.route(x, w, costs=(c_p, c_a)), psi > w * (c_p - c_a))
    # Scalar costs as the command line's `--cost C_p,C_a`.
    cli_file = tmp_path / "r.json"
    router.save(cli_file)
    _, _, primary, _, _ = cli_route(cli_file, healthbench.folder / "test.csv", w, "--cost",
                                    "1.5,0.25")
    assert np.array_equal(router.route(x, w, costs=(1.5, 0.25)), primary)


def test_a_truncated_router_routes_outside_its_region_as_the_command_line(
        covariate_shift, tmp_path):
    settings = {"method": "dr-learner", "propensity": "model", "truncate": "crump"}
    config_text = 'method = "dr-learner"\npropensity = "model"\ntruncate = "crump"\n'
    cli_file = cli_fit(covariate_shift, tmp_path, "truncated", config_text, 4)
    router = MetaRouter(**settings, seed=4).fit(
        covariate_shift.x_gold, covariate_shift.r, covariate_shift.x_pref, covariate_shift.y)
    assert without_names(router.to_json()) == without_names(cli_file.read_text())
    inside = router.in_overlap(covariate_shift.x_test)
    assert inside is not None and 0 < inside.sum() < len(inside)
    for outside in ("router", "primary", "alternative"):
        _, _, primary, header, rows = cli_route(
            cli_file, covariate_shift.folder / "test.csv", 0.1, "--outside", outside)
        ours = router.route(covariate_shift.x_test, 0.1, outside=outside)
        assert np.array_equal(ours, primary), outside
        cli_inside = np.array([r[header.index("in_overlap")] == "1" for r in rows])
        assert np.array_equal(inside, cli_inside)
    assert router.route(covariate_shift.x_test, 0.1, outside="primary")[~inside].all()
    assert not router.route(covariate_shift.x_test, 0.1, outside="alternative")[~inside].any()
