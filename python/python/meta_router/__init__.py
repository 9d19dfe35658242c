"""Meta-Router in Python: routers for large language models trained from scarce
gold-standard (GS) labels plus plentiful, biased preference-based (PB) labels.

The bias of PB evaluations relative to GS ones, ``Δ(q) = ψ(q) − η(q)``, is a
conditional average treatment effect of the evaluation mechanism; an R- or
DR-learner estimates it, the PB labels are corrected, and the router
``ψ̂(q)`` sends a query to the costly primary model iff ``ψ̂(q) > w (C_p − C_a)``
(Zhang, Xie, Yang, Wu, arXiv 2509.25535).

Every number comes from meta-router's Rust core, through the same functions
as the ``meta-router`` command line: the same settings give the same router,
and a router saved here is a router file that ``meta-router route`` reads (and
back). The method and its metrics are written out in the repository's
``docs/method.md``; this package's own documentation is ``python/README.md``.

Example::

    import numpy as np
    from meta_router import MetaRouter

    rng = np.random.default_rng(0)
    X_gold, X_pref = rng.uniform(-1, 1, (200, 3)), rng.uniform(-1, 1, (2000, 3))
    r = 0.3 * X_gold[:, 0] + rng.normal(0, 0.2, 200)              # GS gains
    y = 0.3 * X_pref[:, 0] - 0.2 * X_pref[:, 1] + rng.normal(0, 0.2, 2000)  # PB gains
    router = MetaRouter("dr-learner", seed=1).fit(X_gold, r, X_pref, y)
    to_primary = router.route(X_pref[:5], cost_weight=0.05)
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, scenarios
from ._core import MetaRouterError

__all__ = ["MetaRouter", "MultiMetaRouter", "MetaRouterError", "Simulation", "evaluate",
           "preference_labels", "scenarios", "simulate", "__version__"]

__version__: str = _core.__version__

#: PB labels given as words, read as the command line reads them.
PREFERENCE_WORDS = {"win": 1.0, "tie": 0.0, "loss": -1.0}


def _is_missing(cell: Any) -> bool:
    """None, pandas' NA, an empty text or a float NaN: no label."""
    if cell is None or type(cell).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(cell, (str, bytes)):
        return cell.strip() == ""
    return isinstance(cell, (float, np.floating)) and bool(np.isnan(cell))


def _label(cell: Any, what: str, row: int, words: bool) -> float:
    """One label cell as a number: a number, or (``words``) ``win``/``tie``/
    ``loss``; a text that reads as NaN or infinity is refused, as the
    command line refuses it."""
    if isinstance(cell, bytes):
        cell = cell.decode("utf-8", "replace")
    if isinstance(cell, str):
        text = cell.strip().lower()
        if words and text in PREFERENCE_WORDS:
            return PREFERENCE_WORDS[text]
        try:
            value = float(text)
        except ValueError:
            raise MetaRouterError(
                f"{what}: the label {str(cell)!r} at row {row} is not a number"
                + (" (nor win / tie / loss)" if words else "")) from None
    elif isinstance(cell, (bool, np.bool_)):
        raise MetaRouterError(f"{what}: the label {cell!r} at row {row} is not a number")
    else:
        try:
            value = float(cell)
        except (TypeError, ValueError):
            raise MetaRouterError(
                f"{what}: the label {str(cell)!r} at row {row} is not a number") from None
    if not np.isfinite(value):
        raise MetaRouterError(f"{what}: the label {str(cell)!r} at row {row} is not a finite number")
    return value


def preference_labels(labels: Any, what: str = "y") -> np.ndarray:
    """Labels as a float64 vector; the words ``win``/``tie``/``loss`` (any case)
    are read as +1 / 0 / −1, as ``meta-router fit`` reads a PB label column."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise MetaRouterError(f"{what}: expected a 1-D array of labels, got shape {array.shape}")
    if array.dtype.kind in "OUS":
        return np.array([_label(cell, what, i, True) for i, cell in enumerate(array)],
                        dtype=np.float64)
    return _float_vector(array, what)


def _float_vector(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise MetaRouterError(f"{what}: expected a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise MetaRouterError(f"{what}: expected numbers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def _json_scalar(value: Any) -> Any:
    """numpy scalars (from parameter grids) as the Python numbers they are."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{value!r} is not a number, text, list or dict")


def _count(value: Any, what: str) -> int:
    """A non-negative integer setting (seeds, replicates, threads)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or not 0 <= int(value) < 2**64:
        raise MetaRouterError(f"{what}: expected an integer in [0, 2^64), got {value!r}")
    return int(value)


def _per_query(values: Any, n: int, what: str) -> np.ndarray:
    """A number, or one per query, as a float64 vector of length `n`."""
    try:
        array = np.asarray(values, dtype=np.float64)
        return np.ascontiguousarray(np.broadcast_to(array, (n,)))
    except (TypeError, ValueError):
        shape = np.shape(values)
        raise MetaRouterError(
            f"{what}: expected a number or {n} values (one per query), got shape {shape}") from None


def _is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "to_numpy")


def _matrix(x: Any, what: str) -> Tuple[np.ndarray, Optional[List[str]]]:
    """A feature matrix as float64 (a view when it already is one) and its
    column names when it is a DataFrame."""
    names = None
    if _is_frame(x):
        names = [str(c) for c in x.columns]
        if len(set(names)) != len(names):
            raise MetaRouterError(f"{what}: repeated column names")
        try:
            # Nullable and mixed numeric columns as float64 (a missing value
            # as NaN, which the core then refuses with its row).
            x = x.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            kinds = sorted({str(t) for t in x.dtypes})
            raise MetaRouterError(
                f"{what}: expected numeric feature columns, got dtypes {kinds}") from None
    array = np.asarray(x)
    if array.ndim != 2:
        raise MetaRouterError(
            f"{what}: expected a 2-D array (rows = queries, columns = features), "
            f"got shape {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise MetaRouterError(f"{what}: expected numeric features, got dtype {array.dtype}")
    # Row-major float64, as the command line holds its tables (a view when
    # it already is): the core's sums run in memory order.
    return np.ascontiguousarray(array, dtype=np.float64), names


class _Settings:
    """The settings shared by MetaRouter and MultiMetaRouter (scikit-learn
    conventions: constructor keywords, get_params, set_params)."""

    def __init__(self, method: str = "dr-learner", *, seed: int = 0,
                 overlap: Union[str, float] = "crump", **settings: Any) -> None:
        self.method = method
        self.seed = seed
        self.overlap = overlap
        self.settings = dict(settings)
        self._router: Optional[Any] = None
        self._header: Optional[Dict[str, Any]] = None
        self._validate()

    # -- settings ---------------------------------------------------------

    def _settings_json(self) -> str:
        table = dict(self.settings)  # a None takes the default (the core drops it)
        table["method"] = self.method
        try:
            return json.dumps(table, allow_nan=False, default=_json_scalar)
        except (TypeError, ValueError) as e:
            raise MetaRouterError(f"MetaRouter settings: {e}") from None

    def _validate(self) -> None:
        _count(self.seed, "MetaRouter settings, key `seed`")
        _core.overlap_rule(self._overlap_text())
        _core.config_json(self._settings_json())

    def _overlap_text(self) -> str:
        overlap = self.overlap
        if isinstance(overlap, bool):
            raise MetaRouterError("MetaRouter settings, key `overlap`: expected crump, none or α")
        if isinstance(overlap, (float, int, np.floating, np.integer)):
            return repr(float(overlap))
        if isinstance(overlap, str):
            return overlap
        raise MetaRouterError(
            f"MetaRouter settings, key `overlap`: expected crump, none or α, got {overlap!r}")

    def _warn(self) -> None:
        """The warnings `meta-router fit` prints for these settings."""
        for note in _core.config_warnings(self._settings_json()):
            warnings.warn(note, stacklevel=3)

    def __getstate__(self) -> Dict[str, Any]:
        """Pickling (joblib, copy.deepcopy): the settings and, when fitted,
        the router file's text."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_router", "_header")}
        state["_router_json"] = None if self._router is None else self._router.json
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        text = state.pop("_router_json", None)
        self.__dict__.update(state)
        self._header = None
        self._router = None if text is None else self._load_text(text, "(pickled router)")

    @staticmethod
    def _load_text(text: str, name: str) -> Any:
        raise NotImplementedError

    @property
    def config(self) -> Dict[str, Any]:
        """The full configuration (every key, defaults filled in), as the
        router file records it."""
        return json.loads(_core.config_json(self._settings_json()))

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's parameters (scikit-learn convention)."""
        return {"method": self.method, "seed": self.seed, "overlap": self.overlap,
                **self.settings}

    def set_params(self, **params: Any) -> Any:
        """Sets parameters (scikit-learn convention); the new settings are
        validated, and on an error nothing changes."""
        old = (self.method, self.seed, self.overlap, dict(self.settings))
        for key, value in params.items():
            if key in ("method", "seed", "overlap"):
                setattr(self, key, value)
            else:
                self.settings[key] = value
        try:
            self._validate()
        except MetaRouterError:
            self.method, self.seed, self.overlap, self.settings = old
            raise
        return self

    def __repr__(self) -> str:
        args = [repr(self.method)] + [f"{k}={v!r}" for k, v in self.get_params().items()
                                      if k != "method"]
        return f"{type(self).__name__}({', '.join(args)})"


    # -- shared by fitted routers -----------------------------------------

    def _fitted(self) -> Any:
        if self._router is None:
            raise MetaRouterError(
                f"this {type(self).__name__} is not fitted yet: call fit or load first")
        return self._router

    def _queries(self, X: Any) -> np.ndarray:
        router = self._fitted()
        if _is_frame(X):
            # Columns by name, as the router file stores them (text): a
            # DataFrame's labels may be numbers.
            by_name = {str(c): c for c in X.columns}
            features = router.features
            missing = [f for f in features if f not in by_name]
            if missing:
                raise MetaRouterError(
                    f"X lacks the router's feature columns {missing[:5]}")
            X = X[[by_name[f] for f in features]]
        array, _ = _matrix(X, "X")
        return array

    @property
    def feature_names_in_(self) -> List[str]:
        """The feature columns the router reads, in order."""
        return list(self._fitted().features)

    def to_json(self) -> str:
        """The router file's text (the format ``meta-router route`` reads)."""
        return self._fitted().json

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the router file (atomically: a complete file or none)."""
        text = self.to_json()
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, temporary = tempfile.mkstemp(prefix=".router-", suffix=".json", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            # mkstemp creates the file for its owner only; a saved router
            # gets the mode any new file gets (umask), as the command line's.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


class MetaRouter(_Settings):

    """A Meta-Router: fit from GS and PB labels, predict ψ̂ and Δ̂, route.

    Parameters
    ----------
    method : str
        ``"dr-learner"`` (``"dr"``, the default), ``"r-learner"`` (``"r"``), or a
        baseline: ``"pooled"``, ``"gs-only"``, ``"pb-only"``, ``"mean-shift"``.
    seed : int
        Master seed of the fit's folds and learners; a fit is reproducible from
        the data, the settings and the seed.
    overlap : str or float
        Target population of the stored inference: ``"crump"`` (the
        Crump–Hotz–Imbens–Mitnik overlap region, the default), ``"none"`` (every
        query) or a threshold α in (0, 0.5).
    **settings
        Any key of a router configuration file, with the same defaults and
        validation as ``meta-router fit --config``: ``learner``,
        ``outcome_learner``, ``bias_learner``, ``final_learner`` (tables such as
        ``{"type": "forest", "trees": 200}``), ``propensity``,
        ``propensity_learner``, ``folds``, ``clip``, ``trim``, ``normalize``,
        ``delta_clip``, ``truncate``, … Learner settings are dicts.

    Invalid settings raise :class:`MetaRouterError` naming the key, at
    construction and in :meth:`set_params`.
    """

    @staticmethod
    def _load_text(text: str, name: str) -> Any:
        return _core.Router.load(text, name)

    # -- fitting ----------------------------------------------------------

    def fit(self, X_gold: Any, r: Any, X_pref: Any, y: Any,
            sample_weight: Optional[Tuple[Any, Any]] = None) -> "MetaRouter":
        """Fits the router.

        ``X_gold`` (n × d) and ``r`` (n): GS queries and their GS gains (primary
        minus alternative); ``X_pref`` (m × d) and ``y`` (m): PB queries and PB
        gains (numbers, or ``win``/``tie``/``loss``). DataFrames keep their
        column names (both must have the same columns, in the same order); numpy
        arrays get ``x1 … xd``. ``sample_weight``: ``(w_gold, w_pref)``, finite
        and ≥ 0 (no inference is stored for a weighted fit). The GIL is released
        while the core fits.
        """
        xg, gold_names = _matrix(X_gold, "X_gold")
        xp, pref_names = _matrix(X_pref, "X_pref")
        if xg.shape[1] != xp.shape[1]:
            raise MetaRouterError(
                f"X_pref has {xp.shape[1]} feature columns, X_gold {xg.shape[1]}")
        if gold_names is not None and pref_names is not None and gold_names != pref_names:
            raise MetaRouterError(
                "X_gold and X_pref have different columns: "
                f"{gold_names[:5]}… against {pref_names[:5]}…")
        names = gold_names or pref_names or [f"x{j + 1}" for j in range(xg.shape[1])]
        # GS labels are numbers (the command line reads words in PB labels only).
        rg = _float_vector(r, "r (the GS labels)")
        yp = preference_labels(y, "y (the PB labels)")
        self._warn()
        w_gold = w_pref = None
        if sample_weight is not None:
            if not isinstance(sample_weight, (tuple, list)) or len(sample_weight) != 2:
                raise MetaRouterError(
                    "sample_weight: expected a pair (w_gold, w_pref), one weight per row")
            w_gold = _float_vector(sample_weight[0], "sample_weight[0] (GS rows)")
            w_pref = _float_vector(sample_weight[1], "sample_weight[1] (PB rows)")
        self._router = _core.Router.fit(
            self._settings_json(), xg, rg, xp, yp, w_gold, w_pref, names,
            _count(self.seed, "seed"), self._overlap_text())
        self._header = None
        return self

    # -- predicting and routing ---------------------------------------------

    def predict_psi(self, X: Any) -> np.ndarray:
        """``ψ̂(q)``: the estimated GS gain of the primary model per query."""
        return self._fitted().predict_psi(self._queries(X))

    def predict_delta(self, X: Any) -> Optional[np.ndarray]:
        """``Δ̂(q)``: the estimated PB bias per query (``None`` for a baseline
        that does not estimate it)."""
        return self._fitted().predict_delta(self._queries(X))

    def route(self, X: Any, cost_weight: float,
              costs: Optional[Tuple[Any, Any]] = None, outside: str = "router") -> np.ndarray:
        """Routing decisions, ``True`` = the primary model: ``ψ̂(q) > w (C_p − C_a)``.

        ``costs``: ``(C_p, C_a)``, scalars or one value per query (default
        ``(1, 0)``). ``outside``: how a truncated router decides queries outside
        its overlap region (``"router"``, ``"primary"``, ``"alternative"``).
        """
        x = self._queries(X)
        n = x.shape[0]
        c_p, c_a = (1.0, 0.0) if costs is None else costs
        c_p = _per_query(c_p, n, "costs[0] (the primary model's)")
        c_a = _per_query(c_a, n, "costs[1] (the alternative model's)")
        primary, _ = self._fitted().route(x, float(cost_weight), c_p, c_a, outside)
        return np.asarray(primary, dtype=bool)

    def in_overlap(self, X: Any) -> Optional[np.ndarray]:
        """For a truncated router, whether each query lies in its overlap
        region; ``None`` for other routers."""
        x = self._queries(X)
        n = x.shape[0]
        _, inside = self._fitted().route(x, 0.0, np.ones(n), np.zeros(n), "router")
        return None if inside is None else np.asarray(inside, dtype=bool)

    # -- what the fit says --------------------------------------------------

    def _file(self) -> Dict[str, Any]:
        if self._header is None:
            header = json.loads(self._fitted().json)
            header.pop("router", None)
            self._header = header
        return self._header

    def inference(self) -> Any:
        """The stored inference of a DR-learner router: the AIPW means of the
        PB bias and the GS gain and the best linear projection of Δ on the
        leading features, each with its standard error and interval, over the
        population ``overlap`` chose. A DataFrame when pandas is installed,
        else a list of dicts; empty when no inference is stored (see
        :attr:`notes`)."""
        stored = self._file().get("inference")
        rows: List[Dict[str, Any]] = []
        if stored:
            for kind, key in (("mean", "means"), ("projection", "projection")):
                for e in stored.get(key, []):
                    rows.append({"target": e["target"], "kind": kind,
                                 "estimate": e["estimate"], "se": e["se"],
                                 "lower": e["lower"], "upper": e["upper"],
                                 "level": stored["level"]})
        try:
            import pandas as pd  # noqa: PLC0415
        except ImportError:
            return rows
        return pd.DataFrame(rows, columns=["target", "kind", "estimate", "se", "lower",
                                           "upper", "level"])

    def overlap_population(self) -> Optional[Dict[str, Any]]:
        """The inference's population: the rule, the threshold α and the
        shares of GS and PB rows inside (``None`` without inference)."""
        stored = self._file().get("inference")
        return None if not stored else stored.get("overlap")

    def diagnostics(self) -> Dict[str, float]:
        """The fit's diagnostics (name → number; as ``meta-router fit --verbose``)."""
        out = {}
        for key, value in self._file()["diagnostics"].items():
            out[key] = float(value) if isinstance(value, str) else value
        return out

    @property
    def notes(self) -> List[str]:
        """The fit's warnings (e.g. why no inference is stored)."""
        return list(self._file().get("notes", []))

    @property
    def training_summary(self) -> Dict[str, Any]:
        """Row counts and label ranges of the training data."""
        return dict(self._file()["training"])

    # -- files --------------------------------------------------------------

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "MetaRouter":
        """Reads a router file written by :meth:`save` or ``meta-router fit``."""
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        router = _core.Router.load(text, path)
        header = json.loads(text)
        header.pop("router", None)
        config = header["config"]
        overlap = (header.get("inference") or {}).get("overlap") or {}
        rule = overlap.get("rule", "crump")
        self = cls.__new__(cls)
        self.method = config.pop("method")
        self.seed = header["seed"]
        self.overlap = rule if rule in ("crump", "none") else float(rule)
        self.settings = config
        self._router = router
        self._header = header
        return self


def _label_matrix(labels: Any, what: str, models: Optional[Sequence[str]], words: bool
                  ) -> Tuple[np.ndarray, List[str]]:
    """Labels of several models: one column per model (a DataFrame's column
    names are the models' names), NaN / None / pandas' NA / "" for a query
    without that model's label, numbers or (``words``) win / tie / loss.
    Errors name the row in the whole array and the model."""
    names = None
    if _is_frame(labels):
        names = [str(c) for c in labels.columns]
        columns = []
        for c in labels.columns:
            try:  # numeric, nullable included: pandas' NA as NaN
                columns.append(labels[c].to_numpy(dtype=np.float64, na_value=np.nan))
            except (TypeError, ValueError):
                columns.append(labels[c].to_numpy(dtype=object))
    else:
        array = np.asarray(labels)
        if array.ndim != 2:
            raise MetaRouterError(f"{what}: expected a 2-D array (a column per model), "
                                  f"got shape {array.shape}")
        columns = [array[:, j] for j in range(array.shape[1])]
    if models is not None:
        models = [str(m) for m in models]
        if names is not None and names != models:
            raise MetaRouterError(f"{what}: columns {names} differ from models {models}")
        names = models
    if names is None:
        raise MetaRouterError(f"{what}: name the models (a DataFrame's columns, or models=[...])")
    if len(names) != len(columns):
        raise MetaRouterError(f"{what}: {len(columns)} columns for {len(names)} models")
    out = np.empty((len(columns[0]) if columns else 0, len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        if column.dtype.kind in "biuf" and column.dtype.kind != "b":
            out[:, j] = column  # numbers; NaN marks a missing label
            continue
        at = f"{what}[{names[j]!r}]"
        out[:, j] = [np.nan if _is_missing(cell) else _label(cell, at, i, words)
                     for i, cell in enumerate(column)]
    return out, names


class MultiMetaRouter(_Settings):
    """Routers among ``K ≥ 2`` models: model 0 is the reference (gain 0 by
    definition, no labels), and model ``k`` has its own Meta-Router ``ψ̂_k``,
    fit on the queries that carry its labels. A query goes to
    ``argmax_k [ψ̂_k(q) − w C_k(q)]`` (ties to the lowest index).

    The settings are :class:`MetaRouter`'s, shared by every model; model
    ``k``'s fit uses the seeds of ``meta-router fit --models`` (model 1 the
    two-model seeds), so the multi-model router file is the command line's.
    """

    @staticmethod
    def _load_text(text: str, name: str) -> Any:
        return _core.MultiRouter.load(text, name)

    def fit(self, X_gold: Any, R: Any, X_pref: Any, Y: Any,
            models: Optional[Sequence[str]] = None,
            reference: str = "reference") -> "MultiMetaRouter":
        """Fits one router per model.

        ``R`` (n × (K−1)) and ``Y`` (m × (K−1)): each model's GS and PB gain over
        the reference, one column per model (DataFrame columns name the models,
        or ``models=[...]``); NaN, None or "" where a query has no label for that
        model; PB labels may be ``win``/``tie``/``loss``. ``reference`` names
        model 0. The GIL is released while the core fits.
        """
        xg, gold_names = _matrix(X_gold, "X_gold")
        xp, pref_names = _matrix(X_pref, "X_pref")
        if xg.shape[1] != xp.shape[1]:
            raise MetaRouterError(
                f"X_pref has {xp.shape[1]} feature columns, X_gold {xg.shape[1]}")
        if gold_names is not None and pref_names is not None and gold_names != pref_names:
            raise MetaRouterError("X_gold and X_pref have different columns")
        features = gold_names or pref_names or [f"x{j + 1}" for j in range(xg.shape[1])]
        rg, names = _label_matrix(R, "R", models, words=False)
        yp, pref_models = _label_matrix(Y, "Y", models if models is not None else names,
                                        words=True)
        self._warn()
        if pref_models != names:
            raise MetaRouterError(f"Y: models {pref_models} differ from R's {names}")
        self._router = _core.MultiRouter.fit(
            self._settings_json(), xg, rg, xp, yp, features, names, str(reference),
            _count(self.seed, "seed"), self._overlap_text())
        return self

    @property
    def models_(self) -> List[str]:
        """The models' names, the reference first."""
        return list(self._fitted().models)

    def predict_psi(self, X: Any) -> np.ndarray:
        """``ψ̂_k(q)``: one column per model (``models_``), the reference's 0."""
        return self._fitted().predict_psi(self._queries(X))

    def _costs(self, costs: Any, n: int) -> np.ndarray:
        models = self.models_
        if isinstance(costs, dict):
            unknown = [k for k in costs if k not in models]
            missing = [k for k in models if k not in costs]
            if unknown or missing:
                raise MetaRouterError(
                    f"costs: every model needs a cost, and only models have one "
                    f"(missing {missing}, unknown {unknown}; models {models})")
            columns = [_per_query(costs[k], n, f"costs[{k!r}]") for k in models]
            return np.ascontiguousarray(np.column_stack(columns))
        array = np.asarray(costs, dtype=np.float64)
        if array.shape == (len(models),):
            array = np.broadcast_to(array, (n, len(models)))
        if array.shape != (n, len(models)):
            raise MetaRouterError(
                f"costs: shape {array.shape}, expected ({n}, {len(models)}) or a dict "
                f"{{model: cost}} over {models}")
        return np.ascontiguousarray(array)

    def route(self, X: Any, cost_weight: float, costs: Any) -> np.ndarray:
        """The model each query goes to (names from ``models_``).

        ``costs``: a dict ``{model: cost}`` (a number, or one per query) covering
        every model, the reference included; or an array with one column per
        model (``models_`` order), one row per query or a single row.
        """
        x = self._queries(X)
        chosen = self._fitted().route(x, float(cost_weight), self._costs(costs, x.shape[0]))
        return np.array(self.models_, dtype=object)[np.asarray(chosen, dtype=np.intp)]

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "MultiMetaRouter":
        """Reads a multi-model router file (``save``, or ``meta-router fit --models``)."""
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        router = _core.MultiRouter.load(text, path)
        first = json.loads(text)["models"][0]["router"]
        config = dict(first["config"])
        self = cls.__new__(cls)
        self.method = config.pop("method")
        self.seed = first["seed"]
        rule = ((first.get("inference") or {}).get("overlap") or {}).get("rule", "crump")
        self.overlap = rule if rule in ("crump", "none") else float(rule)
        self.settings = config
        self._router = router
        self._header = None
        return self


def _table(rows: List[Dict[str, Any]], columns: Sequence[str]) -> Any:
    """A DataFrame when pandas is installed, else the list of dicts."""
    try:
        import pandas as pd  # noqa: PLC0415
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=list(columns))


def evaluate(router: "MetaRouter", X_test: Any, r_test: Any, truth: Any = None, *,
             w: Optional[Sequence[float]] = None, costs: Tuple[float, float] = (1.0, 0.0),
             bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> Any:
    """The evaluation of ``meta-router evaluate`` for a fitted router on test
    queries ``X_test`` with GS labels ``r_test`` (what real data allow), or
    against their true gains ψ when ``truth`` is given (simulated data; the
    command line's ``--truth``). Returns its ``evaluation.csv`` as a table
    (columns metric, x, value, se, lower, upper; a DataFrame with pandas):
    EG, NEG and EG/m at each usage ratio ρ = x, the NEG area, regret and usage
    at each cost weight w = x, the MSE of ψ̂ and the mean gain, with ``level``
    bootstrap intervals from ``bootstrap`` resamples (seed ``seed``). The
    metrics are defined in the repository's ``docs/method.md`` §4.
    """
    if not isinstance(router, MetaRouter):
        raise MetaRouterError("evaluate: expected a fitted MetaRouter (two models)")
    psi = router.predict_psi(X_test)
    r_test = _float_vector(r_test, "r_test (the test queries' GS labels)")
    gains = r_test if truth is None else _float_vector(truth, "truth")
    if len(r_test) != len(psi):
        raise MetaRouterError(f"r_test: {len(r_test)} labels for {len(psi)} test queries")
    grid = None if w is None else [float(v) for v in w]
    text = _core.evaluate_scores(psi, gains, grid, (float(costs[0]), float(costs[1])),
                                 _count(bootstrap, "bootstrap"), float(level),
                                 _count(seed, "seed"))
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({"metric": row["metric"],
                     **{k: float(row[k]) if row[k] != "" else float("nan")
                        for k in ("x", "value", "se", "lower", "upper")}})
    return _table(rows, ["metric", "x", "value", "se", "lower", "upper"])


class Simulation:
    """A simulation study's results, as ``meta-router simulate`` writes them
    into ``dir``: ``summary`` (``summary.csv``: one row per grid point, method
    and metric with its mean and Monte Carlo SE), ``records`` (one row per
    replicate, method and metric, from ``replicates.jsonl``), the table of
    the spec's ``[[expect]]`` claims and how many do not hold, and warnings.
    The files are described in the repository's ``docs/outputs.md``."""

    def __init__(self, folder: str, claims: str, claims_failed: int,
                 warnings_: List[str]) -> None:
        self.dir = folder
        self.claims = claims
        self.claims_failed = claims_failed
        self.warnings = warnings_

    @property
    def summary(self) -> Any:
        with open(os.path.join(self.dir, "summary.csv"), newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [dict(row) for row in reader]
            columns = reader.fieldnames or []
        return _table([{k: _number(v) for k, v in row.items()} for row in rows], columns)

    @property
    def summary_json(self) -> Dict[str, Any]:
        with open(os.path.join(self.dir, "summary.json"), encoding="utf-8") as f:
            return json.load(f)

    @property
    def records(self) -> Any:
        rows: List[Dict[str, Any]] = []
        columns: List[str] = []
        with open(os.path.join(self.dir, "replicates.jsonl"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    for key in record:
                        if key not in columns:
                            columns.append(key)
                    rows.append(record)
        return _table(rows, columns)

    def __repr__(self) -> str:
        return f"Simulation({self.dir!r}, claims_failed={self.claims_failed})"


def _number(text: str) -> Any:
    try:
        return float(text) if text != "" else float("nan")
    except ValueError:
        return text


def simulate(spec: Union[str, os.PathLike, Dict[str, Any]], out: Union[str, os.PathLike],
             *, replicates: Optional[int] = None, threads: Optional[int] = None,
             force: bool = False, resume: bool = False) -> Simulation:
    """Runs a simulation study as ``meta-router simulate`` does, in this
    process: ``spec`` is a study file's path, or a dict of its contents
    (``{"name": …, "seed": …, "scenario": {…}, "grid": {…}, "methods": […]}``).
    ``out`` receives the records, summaries, reports and figures; results do
    not depend on ``threads``. A claim of the spec that does not hold is
    reported in ``claims`` and as a warning (the command line exits 3).
    """
    if isinstance(spec, dict):
        text, file = _toml_text(spec), "simulate(spec=dict)"
    else:
        file = os.fspath(spec)
        with open(file, encoding="utf-8") as f:
            text = f.read()
    replicates = None if replicates is None else _count(replicates, "replicates")
    threads = None if threads is None else _count(threads, "threads")
    folder, claims, failed, notes = _core.simulate(
        text, file, os.fspath(out), replicates, threads, bool(force), bool(resume))
    for note in notes:
        warnings.warn(note, stacklevel=2)
    if failed:
        warnings.warn(f"{failed} claim outcome(s) of the spec's [[expect]] list do not hold:\n"
                      f"{claims}", stacklevel=2)
    return Simulation(folder, claims, failed, notes)


def _toml_text(spec: Dict[str, Any]) -> str:
    """A study given as a dict, written as TOML for the study-file parser
    (which then names keys and their lines in errors)."""
    lines: List[str] = []

    def value(v: Any, where: str) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                raise MetaRouterError(f"simulate(spec=dict), key `{where}`: {v} is not finite")
            return repr(float(v))
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x, where) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(str(k))} = {value(x, f'{where}.{k}')}"
                                    for k, x in v.items()) + " }"
        raise MetaRouterError(f"simulate(spec=dict), key `{where}`: unsupported value {v!r}")

    tables = {k: v for k, v in spec.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in spec.items()
              if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for key, v in spec.items():
        if key not in tables and key not in arrays:
            lines.append(f"{json.dumps(str(key))} = {value(v, key)}")
    for key, table in tables.items():
        lines.append(f"\n[{json.dumps(str(key))}]")
        for k, v in table.items():
            lines.append(f"{json.dumps(str(k))} = {value(v, f'{key}.{k}')}")
    for key, items in arrays.items():
        for i, table in enumerate(items):
            lines.append(f"\n[[{json.dumps(str(key))}]]")
            for k, v in table.items():
                lines.append(f"{json.dumps(str(k))} = {value(v, f'{key}[{i}].{k}')}")
    return "\n".join(lines) + "\n"

