"""What the stages of a search see: its settings, the data, the rung being worked on.

Every stage is a function ``stage(ctx: RungContext, item, **knobs) -> item``: the
network stages (:mod:`.training`) take and return a KAN, :func:`.snapping.snap` takes a
KAN and returns formulas, :func:`.snapping.score` takes and returns formulas. A new
stage is a function of that shape in its own module, called from where it belongs in
:func:`.training.train_pruned` or :func:`.searching.search`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .budget import Budget
from .ladder import Rung
from .spaces import Space


@dataclass
class SearchSettings:
    """Knobs of one discovery run (the regressor fills them from its parameters)."""

    basis: str = "bspline"
    basis_options: dict = field(default_factory=dict)
    ladder: tuple = ()  # Rungs to try, in order (see ladder.build_ladder)
    steps: int = 100
    lamb: float = 1e-3
    node_th: float = 1e-2
    edge_th: float = 3e-2
    functions: list | None = None
    complexity_weights: tuple = (0.3, 1.0, 3.0)
    seed: int = 0
    n_threads: int | None = None  # torch intra-op threads during the search; None: torch's setting
    n_jobs: int = 1  # rungs run at once in worker processes (joblib; 1: one after the other, :mod:`.parallel`)


@dataclass(frozen=True)
class UserRows:
    """The training rows ``X`` (n, d), ``y`` (n,) and held-out rows ``X_val``, ``y_val`` in
    the user's units, with the variables' ``names``: formulas come out in these, and
    their ``loss`` is the held-out MSE here — weighted by ``w`` (n,) and ``w_val`` on the
    held-out rows when the fit has weights (None: every row counts the same)."""

    names: list
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    w: np.ndarray | None = None
    w_val: np.ndarray | None = None


@dataclass(frozen=True)
class RungContext:
    """One rung of one search: the rung, its space's standardised tensors, the user's
    rows, the settings and the time budget."""

    rung: Rung
    space: Space
    rows: UserRows | None
    settings: SearchSettings
    budget: Budget = field(default_factory=Budget)
