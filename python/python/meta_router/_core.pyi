"""Type stubs of the compiled extension `meta_router._core` (the Rust core's
bindings; `meta_router.MetaRouter` is the public API over it)."""

from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class MetaRouterError(ValueError):
    """Invalid settings, data or router file (the message names which)."""

def config_json(settings: str) -> str:
    """The full configuration (JSON) of settings given as a JSON object."""

def overlap_rule(text: str) -> str:
    """The inference population rule: crump, none or a threshold α."""

def evaluate_scores(
    psi: npt.NDArray[np.float64],
    gains: npt.NDArray[np.float64],
    w: Optional[List[float]],
    costs: Tuple[float, float],
    bootstrap: int,
    level: float,
    seed: int,
) -> str:
    """The text of `meta-router evaluate`'s evaluation.csv."""

def simulate(
    spec: str,
    file: str,
    out: str,
    replicates: Optional[int],
    threads: Optional[int],
    force: bool,
    resume: bool,
) -> Tuple[str, str, int, List[str]]:
    """Runs a study: (folder, claims table, claims failed, warnings)."""

def export_scenario(
    name: str, settings: str, seed: int
) -> Tuple[
    List[str],
    Tuple[List[str], npt.NDArray[np.float64]],
    Tuple[List[str], npt.NDArray[np.float64]],
    Tuple[List[str], npt.NDArray[np.float64]],
]:
    """A scenario's draw: models and the GS, PB and test tables."""

class Router:
    """A fitted router with its router file."""

    @staticmethod
    def fit(
        settings: str,
        x_gold: npt.NDArray[np.float64],
        r: npt.NDArray[np.float64],
        x_pref: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        w_gold: Optional[npt.NDArray[np.float64]],
        w_pref: Optional[npt.NDArray[np.float64]],
        features: List[str],
        seed: int,
        overlap: str,
    ) -> "Router": ...
    @staticmethod
    def load(text: str, name: str) -> "Router": ...
    def predict_psi(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def predict_delta(self, x: npt.NDArray[np.float64]) -> Optional[npt.NDArray[np.float64]]: ...
    def route(
        self,
        x: npt.NDArray[np.float64],
        cost_weight: float,
        cost_primary: npt.NDArray[np.float64],
        cost_alternative: npt.NDArray[np.float64],
        outside: str,
    ) -> Tuple[List[bool], Optional[List[bool]]]: ...
    @property
    def json(self) -> str: ...
    @property
    def features(self) -> List[str]: ...
    @property
    def seed(self) -> int: ...
    @property
    def fit_seconds(self) -> float: ...

class MultiRouter:
    """Routers of K >= 2 models with their multi-model router file."""

    @staticmethod
    def fit(
        settings: str,
        x_gold: npt.NDArray[np.float64],
        r: npt.NDArray[np.float64],
        x_pref: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        features: List[str],
        models: List[str],
        reference: str,
        seed: int,
        overlap: str,
    ) -> "MultiRouter": ...
    @staticmethod
    def load(text: str, name: str) -> "MultiRouter": ...
    def predict_psi(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def route(
        self,
        x: npt.NDArray[np.float64],
        cost_weight: float,
        costs: npt.NDArray[np.float64],
    ) -> List[int]: ...
    @property
    def json(self) -> str: ...
    @property
    def features(self) -> List[str]: ...
    @property
    def models(self) -> List[str]: ...
    @property
    def fit_seconds(self) -> float: ...
