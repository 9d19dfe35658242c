"""The simulation suite's scenarios as data: one draw, as arrays.

``export(name, seed=0, **settings)`` is ``meta-router scenarios export`` without
the files: the same draw of the same scenario from the same seed, its tables
as numpy arrays (``meta-router scenarios`` lists the scenarios and their
parameters; the repository's ``docs/method.md`` defines them).
"""

from __future__ import annotations

import json
from typing import Any, Dict

import numpy as np

from . import _core
from ._core import MetaRouterError

__all__ = ["export"]


def export(name: str, /, seed: int = 0, **settings: Any) -> Dict[str, Any]:
    """One draw of scenario ``name`` with parameters ``settings`` (e.g.
    ``n_gold=100``, ``gamma=1.0``) from master seed ``seed``.

    Two-model scenarios return ``X_gold``, ``r`` (GS gains), ``X_pref``, ``y``
    (PB gains), ``X_test``, ``r_test`` (the test queries' GS labels),
    ``true_psi`` and ``true_delta``; the scenario ``multi-model`` returns
    ``X_gold``, ``R`` and ``X_pref``, ``Y`` (one label column per non-reference
    model, NaN where a query has no label for it), ``X_test``, ``costs`` (one
    column per model) and ``true_psi`` (one column per non-reference model).
    Both add ``features`` and ``models`` (the reference first).
    """
    try:
        text = json.dumps({k: v for k, v in settings.items() if v is not None}, allow_nan=False,
                          default=lambda v: v.item() if isinstance(v, np.generic) else str(v))
    except (TypeError, ValueError) as e:
        raise MetaRouterError(f"scenario `{name}`: {e}") from None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < 2**64:
        raise MetaRouterError(f"scenario `{name}`: seed: expected an integer in [0, 2^64), "
                              f"got {seed!r}")
    models, gold, pref, test = _core.export_scenario(str(name), text, int(seed))
    (gold_names, gold_values), (pref_names, pref_values) = gold, pref
    test_names, test_values = test
    features = [c for c in gold_names if c.startswith("x") and c[1:].isdigit()]
    d = len(features)
    out: Dict[str, Any] = {"features": features, "models": list(models),
                           "X_gold": gold_values[:, :d], "X_pref": pref_values[:, :d],
                           "X_test": test_values[:, :d]}
    column = {n: j for j, n in enumerate(test_names)}
    if gold_names[d:] == ["label"]:
        out.update(r=gold_values[:, d], y=pref_values[:, d], r_test=test_values[:, column["label"]],
                   true_psi=test_values[:, column["true_psi"]],
                   true_delta=test_values[:, column["true_delta"]])
    else:
        out.update(R=gold_values[:, d:], Y=pref_values[:, d:],
                   costs=np.column_stack([test_values[:, column[f"cost_{m}"]] for m in models]),
                   true_psi=np.column_stack([test_values[:, column[f"true_psi_{m}"]]
                                             for m in models[1:]]))
    return out
