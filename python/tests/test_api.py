"""The scikit-learn-style API: inputs (numpy, pandas, preference words,
weights), parameters, errors that name what is wrong, and the GIL released
during a fit."""

from __future__ import annotations

import json
import os
import re
import threading
import time

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from meta_router import MetaRouter, MetaRouterError, preference_labels


def small(seed=0, n=150, m=1500, d=3):
    rng = np.random.default_rng(seed)
    xg, xp = rng.uniform(-1, 1, (n, d)), rng.uniform(-1, 1, (m, d))
    r = 0.3 * xg[:, 0] + rng.normal(0, 0.2, n)
    y = 0.3 * xp[:, 0] - 0.2 * xp[:, 1] + rng.normal(0, 0.2, m)
    return xg, r, xp, y


def test_dataframes_keep_their_column_names_and_are_read_by_name():
    xg, r, xp, y = small()
    names = ["length", "topic", "difficulty"]
    frame_g, frame_p = pd.DataFrame(xg, columns=names), pd.DataFrame(xp, columns=names)
    router = MetaRouter(seed=3).fit(frame_g, pd.Series(r), frame_p, pd.Series(y))
    assert router.feature_names_in_ == names
    assert json.loads(router.to_json())["features"] == names
    # The same numbers as numpy arrays give the same router (names apart).
    plain = MetaRouter(seed=3).fit(xg, r, xp, y)
    assert plain.feature_names_in_ == ["x1", "x2", "x3"]
    assert np.array_equal(router.predict_psi(frame_p), plain.predict_psi(xp))
    # Queries as a DataFrame are read by column name, in any order, extra columns ignored.
    shuffled = frame_p[["difficulty", "length", "topic"]].assign(extra=1.0)
    assert np.array_equal(router.predict_psi(shuffled), plain.predict_psi(xp))
    with pytest.raises(MetaRouterError, match=r"lacks the router's feature columns \['topic'\]"):
        router.predict_psi(frame_p.drop(columns="topic"))
    with pytest.raises(MetaRouterError, match="different columns"):
        MetaRouter().fit(frame_g, r, frame_p.rename(columns={"topic": "subject"}), y)


def test_preference_words_read_as_the_command_line_reads_them():
    xg, r, xp, y = small(1)
    words = np.where(y > 0.1, "win", np.where(y < -0.1, "Loss", "tie"))
    numbers = np.where(y > 0.1, 1.0, np.where(y < -0.1, -1.0, 0.0))
    assert np.array_equal(preference_labels(words), numbers)
    by_words = MetaRouter(seed=2).fit(xg, r, xp, list(words))
    by_numbers = MetaRouter(seed=2).fit(xg, r, xp, numbers)
    assert np.array_equal(by_words.predict_psi(xp), by_numbers.predict_psi(xp))
    with pytest.raises(MetaRouterError, match=r"label 'draw' at row 0 is not a number"):
        preference_labels(["draw", "win"])


def test_sample_weights_of_both_sources():
    xg, r, xp, y = small(2)
    plain = MetaRouter(seed=1).fit(xg, r, xp, y)
    # Weights that are all 1 are the unweighted fit, bit for bit.
    ones = MetaRouter(seed=1).fit(xg, r, xp, y, sample_weight=(np.ones(len(r)), np.ones(len(y))))
    assert np.array_equal(ones.predict_psi(xp), plain.predict_psi(xp))
    # Other weights change the fit; no inference is stored for a weighted fit.
    rng = np.random.default_rng(0)
    weighted = MetaRouter(seed=1).fit(
        xg, r, xp, y, sample_weight=(rng.uniform(0.5, 2, len(r)), rng.uniform(0.5, 2, len(y))))
    assert not np.array_equal(weighted.predict_psi(xp), plain.predict_psi(xp))
    assert len(weighted.inference()) == 0 and len(plain.inference()) == 8
    with pytest.raises(MetaRouterError, match="pair"):
        MetaRouter().fit(xg, r, xp, y, sample_weight=np.ones(len(r)))
    with pytest.raises(MetaRouterError, match=r"`gold-standard weights` = -1: row 0"):
        MetaRouter().fit(xg, r, xp, y, sample_weight=(-np.ones(len(r)), np.ones(len(y))))


@pytest.mark.parametrize("change, message", [
    (lambda a: (a[0][:, :2],) + a[1:], r"X_pref has 3 feature columns, X_gold 2"),
    (lambda a: (a[0][0],) + a[1:], r"X_gold: expected a 2-D array"),
    (lambda a: (a[0], a[1][:-1]) + a[2:], r"shape mismatch"),
    (lambda a: (a[0], a[1], a[2], np.where(np.arange(len(a[3])) == 7, np.nan, a[3])),
     r"y \(the PB labels\): the value NaN at row 7, column 0 is not finite"),
    (lambda a: (np.where(np.arange(a[0].size).reshape(a[0].shape) == 4, np.inf, a[0]),) + a[1:],
     r"X_gold: the value inf at row 1, column 1 is not finite"),
    (lambda a: (a[0], a[1] * 1e101) + a[2:], r"too large in magnitude"),
    (lambda a: (a[0].astype(str),) + a[1:], r"expected numeric features"),
    (lambda a: (a[0][:3], a[1][:3]) + a[2:], r"X_gold: 3 rows, fewer than the 5 needed for 5 cross-fitting folds"),
])
def test_bad_data_raises_an_error_naming_the_array_and_row(change, message):
    args = change(small(3))
    with pytest.raises(MetaRouterError, match=message):
        MetaRouter().fit(*args)


@pytest.mark.parametrize("settings, message", [
    ({"folds": 1}, r"MetaRouter settings, key `folds`: .*at least 2 folds"),
    ({"learner": {"type": "forest", "trees": -1}}, r"key `learner.trees`"),
    ({"learner": {"type": "forest", "depth": 3}}, r"key `learner.depth`: unknown field"),
    ({"speed": "fast"}, r"key `speed`: unknown field `speed`"),
    ({"method": "s-learner"}, r"key `method`"),
    ({"overlap": 0.7}, r"key `overlap`: `0.7`: expected none, crump or a threshold"),
    ({"seed": -1}, r"key `seed`"),
    ({"clip": float("nan")}, r"MetaRouter settings"),
])
def test_bad_settings_are_refused_at_construction_naming_the_key(settings, message):
    with pytest.raises(MetaRouterError, match=message):
        MetaRouter(**settings)


def test_get_and_set_params():
    router = MetaRouter("r", seed=4, folds=3, learner={"type": "forest", "trees": 30})
    params = router.get_params()
    assert params == {"method": "r", "seed": 4, "overlap": "crump", "folds": 3,
                      "learner": {"type": "forest", "trees": 30}}
    assert MetaRouter(**params).get_params() == params
    assert router.config["folds"] == 3 and router.config["method"] == "r-learner"
    router.set_params(folds=4, overlap=0.05)
    assert router.get_params()["folds"] == 4 and router.get_params()["overlap"] == 0.05
    with pytest.raises(MetaRouterError, match="key `folds`"):
        router.set_params(folds=0)
    assert router.get_params()["folds"] == 4  # unchanged after a refused change
    assert issubclass(MetaRouterError, ValueError)


def test_what_the_fit_reports():
    xg, r, xp, y = small(4)
    router = MetaRouter("dr", seed=1).fit(xg, r, xp, y)
    table = router.inference()
    assert list(table["kind"]) == ["mean"] * 4 + ["projection"] * 4
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    assert router.overlap_population()["rule"] == "crump"
    diagnostics = router.diagnostics()
    assert all(isinstance(v, float) for v in diagnostics.values()) and len(diagnostics) > 5
    assert router.training_summary["gold_rows"] == 150
    assert router.in_overlap(xp) is None  # not a truncated router
    pooled = MetaRouter("pooled").fit(xg, r, xp, y)
    assert pooled.predict_delta(xp) is None
    assert len(pooled.inference()) == 0
    with pytest.raises(MetaRouterError, match="not fitted"):
        MetaRouter().predict_psi(xp)
    with pytest.raises(MetaRouterError, match="X has 2 feature columns; the router was fit on 3"):
        router.predict_psi(xp[:, :2])
    with pytest.raises(MetaRouterError, match="outside: `inside`"):
        router.route(xp, 0.1, outside="inside")
    with pytest.raises(MetaRouterError, match="weight"):
        router.route(xp, -1.0)
    with pytest.raises(MetaRouterError, match="costs must be >= 0"):
        router.route(xp, 0.1, costs=(1.0, -1.0))


def test_damaged_and_multi_model_router_files_are_refused(tmp_path):
    xg, r, xp, y = small(5)
    router = MetaRouter(seed=1).fit(xg, r, xp, y)
    path = tmp_path / "router.json"
    router.save(path)
    damaged = json.loads(path.read_text())
    damaged["format_version"] = 99
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(damaged))
    with pytest.raises(MetaRouterError, match=re.escape(str(bad))):
        MetaRouter.load(bad)
    multi = tmp_path / "multi.json"
    multi.write_text(json.dumps({"format": "meta-router/multi-router", "format_version": 2}))
    with pytest.raises(MetaRouterError, match="multi-model router file"):
        MetaRouter.load(multi)


def test_the_gil_is_released_while_the_core_fits(healthbench):
    """The main thread runs Python code while another thread is inside the
    core's fit. The worker records when it enters and leaves the compiled
    call; with the GIL held there, the main thread could run no bytecode
    between the two (at most the one or two iterations a thread switch
    allows around the call's edges), so it counts its loop iterations that
    fall strictly inside the call."""
    import meta_router
    router = MetaRouter("r", seed=1, learner={"type": "forest", "trees": 150})
    xg, r = np.ascontiguousarray(healthbench.x_gold), healthbench.r
    xp, y = np.ascontiguousarray(healthbench.x_pref), healthbench.y
    settings, inside = router._settings_json(), {}

    def fit():
        inside["enter"] = time.perf_counter()
        meta_router._core.Router.fit(settings, xg, r, xp, y, None, None,
                                     [f"x{j + 1}" for j in range(xg.shape[1])], 1, "crump")
        inside["leave"] = time.perf_counter()

    worker = threading.Thread(target=fit)
    stamps = []
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    during = sum(inside["enter"] < t < inside["leave"] for t in stamps)
    assert during >= 1000, (during, len(stamps))


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("document", ["README.md", "python/README.md"])
def test_the_readme_examples_run_as_written(document, tmp_path, monkeypatch):
    blocks = python_blocks(ROOT / document)
    assert blocks, f"{document} has no Python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, document, "exec"), {})


def test_data_frames_with_number_labels_pickling_and_numpy_settings(tmp_path):
    import pickle

    xg, r, xp, y = small(6)
    router = MetaRouter("dr", seed=np.int64(2), folds=np.int64(4)).fit(
        pd.DataFrame(xg), r, pd.DataFrame(xp), y)
    assert router.feature_names_in_ == ["0", "1", "2"]
    assert np.array_equal(router.predict_psi(pd.DataFrame(xp)), router.predict_psi(xp))
    copy = pickle.loads(pickle.dumps(router))
    assert copy.get_params() == router.get_params()
    assert np.array_equal(copy.predict_psi(xp), router.predict_psi(xp))
    unfitted = pickle.loads(pickle.dumps(MetaRouter("r", folds=3)))
    assert unfitted.get_params()["folds"] == 3
    # Nullable pandas columns read as numbers.
    nullable = pd.DataFrame(xg).astype("Float64")
    assert np.array_equal(MetaRouter("dr", seed=2, folds=4).fit(nullable, r, xp, y)
                          .predict_psi(xp), router.predict_psi(xp))
    # A saved file gets the usual mode, not the temporary file's 0600.
    path = tmp_path / "router.json"
    router.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_inputs_the_command_line_refuses_are_refused_here_too():
    xg, r, xp, y = small(7)
    with pytest.raises(MetaRouterError, match=r"r \(the GS labels\): every label equals 0"):
        MetaRouter().fit(xg, np.zeros(len(r)), xp, y)
    with pytest.raises(MetaRouterError, match=r"r \(the GS labels\): expected numbers"):
        MetaRouter().fit(xg, np.where(r > 0, "win", "loss"), xp, y)
    with pytest.raises(MetaRouterError, match=r"X_gold: 1 rows, fewer than the 2"):
        MetaRouter("pooled").fit(xg[:1], r[:1], xp, y)
    with pytest.raises(MetaRouterError, match=r"weight 1e-300 at row 0 is too small"):
        w = np.ones(len(r))
        w[0] = 1e-300
        MetaRouter().fit(xg, r, xp, y, sample_weight=(w, np.ones(len(y))))
    with pytest.raises(MetaRouterError, match=r"'nan' at row 2 is not a finite number"):
        MetaRouter().fit(xg, r, xp, ["win", "loss", "nan"] + ["tie"] * (len(y) - 3))
    with pytest.raises(MetaRouterError, match=r"costs\[0\].*expected a number or 3 values"):
        MetaRouter().fit(xg, r, xp, y).route(xp[:3], 0.1, costs=(np.ones(2), 0.0))
    with pytest.raises(MetaRouterError, match="seed"):
        MetaRouter(seed=-1)


def test_settings_warnings_are_the_command_lines():
    xg, r, xp, y = small(8)
    router = MetaRouter("r", bias_learner={"type": "boosting", "learning_rate": 0.3,
                                           "max_depth": 6})
    with pytest.warns(UserWarning, match="learning_rate"):
        router.fit(xg, r, xp, y)

