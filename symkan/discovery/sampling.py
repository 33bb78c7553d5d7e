"""Which rows a search works on: all of a small table, a random subsample of a large one.

The rows are split once into training and held-out rows by a permutation drawn from
the fit's own generator (``numpy.random.default_rng(seed)``), as they always were. A
table of at most :func:`search_rows` rows is searched whole, exactly as before. A larger
one is searched on the first rows of each part of that permutation (a random subsample
of the training rows and, in the same proportion, of the held-out rows): every stage of
the search — training, ALS, snapping, constant refits — costs time in proportion to
its rows, and a few thousand rows pin down the formula of a simple law as well as two
hundred thousand. The constants of the formulas found are then refit on the training
rows and the formulas scored on the held-out rows, each up to :data:`FINAL_ROWS`
(:mod:`.final`).

A table of fewer than ``small_data_rows`` rows (the regressor passes
:data:`SMALL_DATA_ROWS`) is split and searched exactly the same way, but marked
``small_data``: its formulas are then refit on all rows and scored by cross-validation
(:mod:`.small_data`) — a 20 % hold-out of eight rows is two rows, too few to rank
formulas by.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import UserRows

#: rows a search works on when it has no time budget (results then depend only on the
#: seed and the data); tables up to this size are searched whole
SEARCH_ROWS = 10_000
#: with a time budget: rows searched per second of it ... (a search's fixed costs
#: dominate: x0·x1 + sin(x2) in 5 columns took 25 CPU-s on 1000 rows, 38 on 3000 and
#: 181 on 20 000, so each row costs ~8 ms of the budget: 50 rows/s spend 40 % of it)
ROWS_PER_SECOND = 50
#: ... but never fewer than this (so with any budget, tables up to this size are
#: searched whole: the 1000-row AI-Feynman runs are unchanged)
MIN_SEARCH_ROWS = 2_000
#: training rows of the final constant refit, and held-out rows of the final scoring:
#: a float64 Jacobian of 30 constants on 10⁶ rows takes 240 MB
FINAL_ROWS = 1_000_000
#: tables with fewer rows than this are small data (when the caller asks for it, as the
#: regressor does): formulas refit on all rows and cross-validated (:mod:`.small_data`)
SMALL_DATA_ROWS = 100


def search_rows(budget_seconds: float | None) -> int:
    """The most rows (training and held-out together) a search works on: ``SEARCH_ROWS``
    without a budget; with one, ``ROWS_PER_SECOND`` per second of it, between
    ``MIN_SEARCH_ROWS`` and ``SEARCH_ROWS``."""
    if budget_seconds is None:
        return SEARCH_ROWS
    return int(min(SEARCH_ROWS, max(MIN_SEARCH_ROWS, ROWS_PER_SECOND * float(budget_seconds))))


@dataclass(frozen=True)
class RowSplit:
    """Row indices of one fit: ``train`` and ``val`` (all training and held-out rows, in
    random order), ``search_train`` and ``search_val`` (the rows the search works on:
    the first of each, or all of them for a small table); ``weight`` (n_rows,): the weight
    of every row of the table in each error the search measures, or None. ``small_data``:
    the formulas are refit on all rows and cross-validated at the end (:mod:`.small_data`)."""

    train: np.ndarray
    val: np.ndarray
    search_train: np.ndarray
    search_val: np.ndarray
    small_data: bool = False
    weight: np.ndarray | None = None

    def weights(self, rows: np.ndarray) -> np.ndarray | None:
        """The weights of ``rows`` (an index array), or None for a fit without weights."""
        return None if self.weight is None else self.weight[rows]

    @property
    def subsampled(self) -> bool:
        return len(self.search_train) < len(self.train) or len(self.search_val) < len(self.val)

    @property
    def scored_val(self) -> np.ndarray:
        """The held-out rows the formulas of a search are finally scored on."""
        return self.val[:FINAL_ROWS] if self.subsampled else self.search_val

    def search_rows(self, names: list, X: np.ndarray, y: np.ndarray) -> UserRows:
        """The rows the search works on, in the user's units (X (n, d), y (n,))."""
        train, val = self.search_train, self.search_val
        return UserRows(names, X[train], y[train], X[val], y[val], self.weights(train), self.weights(val))

    def final_rows(self, names: list, X: np.ndarray, y: np.ndarray) -> UserRows | None:
        """The rows the constants are refit and the formulas scored on at the end (up to
        ``FINAL_ROWS`` of each part); None when the search saw every row already."""
        if not self.subsampled:
            return None
        train, val = self.train[:FINAL_ROWS], self.val[:FINAL_ROWS]
        return UserRows(names, X[train], y[train], X[val], y[val], self.weights(train), self.weights(val))


def split_rows(n_rows: int, val_fraction: float, seed: int, budget_seconds: float | None = None,
               small_data_rows: int = 0, weight: np.ndarray | None = None) -> RowSplit:
    """Split ``n_rows`` rows into training and held-out rows (a share ``val_fraction``,
    at least one), and choose the rows the search works on (see the module docstring).
    Deterministic for a seed; tables of at most ``search_rows(budget_seconds)`` rows are
    searched whole. Fewer than ``small_data_rows`` rows (0: never) are small data: the
    same split, marked ``small_data`` (only without weights: its refits and
    cross-validation are unweighted). ``weight`` (n_rows,): the rows' weights, carried to
    every part."""
    perm = np.random.default_rng(seed).permutation(int(n_rows))
    n_val = max(1, int(round(val_fraction * n_rows)))
    val, train = perm[:n_val], perm[n_val:]
    if n_rows < small_data_rows and weight is None:  # its cross-validation is unweighted
        return RowSplit(train, val, train, val, small_data=True, weight=weight)
    cap = search_rows(budget_seconds)
    if n_rows <= cap:
        return RowSplit(train, val, train, val, weight=weight)
    m_val = max(1, int(round(val_fraction * cap)))
    return RowSplit(train, val, train[: cap - m_val], val[:m_val], weight=weight)


def evenly_spaced(n_rows: int, k: int) -> np.ndarray:
    """Indices of at most ``k`` of ``n_rows`` rows, evenly spaced (all of them when fewer)."""
    return np.unique(np.linspace(0, n_rows - 1, min(k, n_rows)).astype(int))
