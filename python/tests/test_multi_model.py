"""Many models: the Python package's multi-model routers are the command
line's (`fit --models`, `route --cost-columns`), and its inputs and errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from meta_router import MetaRouter, MetaRouterError, MultiMetaRouter

MODELS = ["balanced", "verbose"]


def read_with_gaps(path):
    """A CSV whose empty cells (no label for a model) become NaN."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    values = np.array([[float(v) if v != "" else np.nan for v in row] for row in rows[1:]])
    return pd.DataFrame(values, columns=header)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi")
    run_cli("scenarios", "export", "multi-model", "--seed", "3", "--out", folder, "--force")
    gold, pref = read_with_gaps(folder / "gold.csv"), read_with_gaps(folder / "pref.csv")
    test = read_with_gaps(folder / "test.csv")
    features = [c for c in gold.columns if c not in MODELS]
    return dict(folder=folder, gold=gold, pref=pref, test=test, features=features)


def cli_route(router_file, queries, w):
    done = run_cli("route", "--model", router_file, "--queries", queries, "--cost-weight", repr(w),
                   "--cost-columns",
                   "reference=cost_reference,balanced=cost_balanced,verbose=cost_verbose")
    lines = done.stdout.strip().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    psi = np.array([[float(r[header.index(f"psi_hat_{m}")]) for m in MODELS] for r in rows])
    return psi, np.array([r[header.index("route")] for r in rows], dtype=object)


def test_a_python_multi_model_fit_is_the_command_lines(multi, tmp_path):
    out = tmp_path / "cli.json"
    run_cli("fit", "--gold", multi["folder"] / "gold.csv", "--pref", multi["folder"] / "pref.csv",
            "--models", ",".join(MODELS), "--seed", "8", "--out", out, "--force")
    f = multi["features"]
    router = MultiMetaRouter("dr", seed=8).fit(
        multi["gold"][f], multi["gold"][MODELS], multi["pref"][f], multi["pref"][MODELS])
    assert router.models_ == ["reference"] + MODELS

    def content(text):
        file = json.loads(text)
        file.pop("crate_version")
        for model in file["models"]:
            model["router"].pop("crate_version")
            for key in ("gold_file", "pref_file"):
                model["router"]["training"].pop(key)
        return file

    assert content(router.to_json()) == content(out.read_text())
    test = multi["test"]
    psi, chosen = cli_route(out, multi["folder"] / "test.csv", 0.1)
    ours = router.predict_psi(test[f])
    assert np.array_equal(ours[:, 0], np.zeros(len(test)))
    assert np.array_equal(ours[:, 1:], psi)
    costs = {m: test[f"cost_{m}"].to_numpy() for m in ["reference"] + MODELS}
    assert list(router.route(test[f], 0.1, costs)) == list(chosen)
    # Round trips: the CLI's file read here, ours read by the CLI.
    loaded = MultiMetaRouter.load(out)
    assert np.array_equal(loaded.predict_psi(test[f]), ours)
    saved = tmp_path / "python.json"
    router.save(saved)
    psi_back, chosen_back = cli_route(saved, multi["folder"] / "test.csv", 0.1)
    assert np.array_equal(psi_back, psi) and list(chosen_back) == list(chosen)
    with pytest.raises(MetaRouterError, match="MultiMetaRouter.load"):
        MetaRouter.load(out)


def test_costs_arrays_and_the_decision_rule(multi):
    f = multi["features"]
    router = MultiMetaRouter("r", seed=1).fit(
        multi["gold"][f].to_numpy(), multi["gold"][MODELS].to_numpy(),
        multi["pref"][f].to_numpy(), multi["pref"][MODELS].to_numpy(), models=MODELS,
        reference="base")
    assert router.models_ == ["base"] + MODELS
    x = multi["test"][f].to_numpy()
    psi = router.predict_psi(x)
    costs = np.array([0.0, 1.0, 2.5])
    expected = np.array(router.models_, dtype=object)[np.argmax(psi - 0.05 * costs, axis=1)]
    assert list(router.route(x, 0.05, costs)) == list(expected)
    assert list(router.route(x, 0.05, {"base": 0.0, "balanced": 1.0, "verbose": 2.5})) == \
        list(expected)
    with pytest.raises(MetaRouterError, match=r"missing \['verbose'\]"):
        router.route(x, 0.05, {"base": 0.0, "balanced": 1.0})
    with pytest.raises(MetaRouterError, match=r"expected \(500, 3\)"):
        router.route(x, 0.05, np.ones((500, 2)))


def test_bad_multi_model_input_is_refused(multi):
    f = multi["features"]
    g, p = multi["gold"], multi["pref"]
    with pytest.raises(MetaRouterError, match="name the models"):
        MultiMetaRouter().fit(g[f], g[MODELS].to_numpy(), p[f], p[MODELS].to_numpy())
    with pytest.raises(MetaRouterError, match="named twice"):
        MultiMetaRouter().fit(g[f], g[MODELS].to_numpy(), p[f], p[MODELS].to_numpy(),
                              models=["a", "a"])
    with pytest.raises(MetaRouterError, match=r"Y: columns \["):
        MultiMetaRouter().fit(g[f], g[MODELS], p[f], p[MODELS[::-1]])
    few = g[MODELS].copy()
    few.loc[few.index[3:], "verbose"] = np.nan  # three GS labels for `verbose`
    with pytest.raises(MetaRouterError, match="model `verbose`"):
        MultiMetaRouter().fit(g[f], few, p[f], p[MODELS])


def test_queries_without_some_models_labels_fit_as_in_the_command_line(multi, tmp_path):
    """Empty label cells (a query judged for some models only): each model is
    fit on its labelled rows, in Python (NaN) as in the command line."""
    f = multi["features"]
    rng = np.random.default_rng(1)
    tables = {}
    for name in ("gold", "pref"):
        frame = multi[name].copy()
        for model in MODELS:
            frame.loc[rng.random(len(frame)) < 0.2, model] = np.nan
        tables[name] = frame
        with open(tmp_path / f"{name}.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(frame.columns)
            for row in frame.itertuples(index=False):
                writer.writerow(["" if np.isnan(v) else repr(float(v)) for v in row])
    out = tmp_path / "gaps.json"
    run_cli("fit", "--gold", tmp_path / "gold.csv", "--pref", tmp_path / "pref.csv",
            "--models", ",".join(MODELS), "--seed", "2", "--out", out, "--force")
    router = MultiMetaRouter("dr", seed=2).fit(
        tables["gold"][f], tables["gold"][MODELS], tables["pref"][f], tables["pref"][MODELS])
    cli = MultiMetaRouter.load(out)
    test = multi["test"][f]
    assert np.array_equal(router.predict_psi(test), cli.predict_psi(test))
    training = json.loads(router.to_json())["models"]
    assert [m["router"]["training"]["gold_rows"] for m in training] == \
        [int(tables["gold"][m].notna().sum()) for m in MODELS]


def test_multi_model_errors_name_the_row_of_the_whole_array_and_the_model(multi):
    f = multi["features"]
    g, p = multi["gold"], multi["pref"]
    R = g[MODELS].copy()
    R.iloc[:10, 1] = np.nan
    R.iloc[20, 1] = np.inf
    with pytest.raises(MetaRouterError, match=r"R \(the GS labels\): the value inf at row 20, "
                                              r"model `verbose`"):
        MultiMetaRouter().fit(g[f], R, p[f], p[MODELS])
    Y = p[MODELS].astype(object)
    Y.iloc[:10, 1] = None
    Y.iloc[20, 1] = "lose"
    with pytest.raises(MetaRouterError, match=r"Y\['verbose'\]: the label 'lose' at row 20"):
        MultiMetaRouter().fit(g[f], g[MODELS], p[f], Y)
    # pandas' NA in a nullable column is a missing label, like NaN.
    Y = p[MODELS].astype("Float64")
    Y.iloc[:10, 1] = pd.NA
    as_nan = p[MODELS].copy()
    as_nan.iloc[:10, 1] = np.nan
    a = MultiMetaRouter(seed=1).fit(g[f], g[MODELS], p[f], Y)
    b = MultiMetaRouter(seed=1).fit(g[f], g[MODELS], p[f], as_nan)
    assert np.array_equal(a.predict_psi(multi["test"][f]), b.predict_psi(multi["test"][f]))

