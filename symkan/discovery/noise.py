"""Noise in the target: whether what a formula leaves unexplained is noise.

On noise-free data a search stops at a formula exact to round-off; on noisy data
nothing is, and the search ran to the end of its budget with the law long found (μ·N on
σ = 0.01 data: found in 6 s, returned after 60). A formula is **within the noise** when

* it is *closed*: no fitted float is left in it (every constant snapped to a simple
  value), so it cannot have bent itself around the noise, and
* its residuals are *white*: the residual of a row is uncorrelated with the residual of
  its nearest neighbour in the inputs (:func:`neighbour_correlation`, inputs standardised
  per column). A formula that misses some structure leaves residuals that vary smoothly
  with the inputs, so neighbours share them; noise is independent from row to row. On n
  rows the correlation of white residuals is about N(0, 1/n): the test accepts below
  ``WHITE_SIGMAS``/√n (3/√1000 ≈ 0.095). A stand-in whose error is a tenth of the noise
  variance already shows a correlation near 0.1, and on noise-free data every stand-in's
  residuals are smooth, so the rule never fires there, and
* (where a network is given) its held-out loss is not worse than the network's by more
  than ``NETWORK_RTOL``: the network is the best numeric fit the search has.

Then the search stops as it does at round-off. The residuals are taken on the training
and held-out rows together (a closed formula fitted nothing on them), weighted as the
rows are.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import sympy

from .context import UserRows

log = logging.getLogger(__name__)

#: white residuals: neighbour correlation below this many standard errors (1/√n)
WHITE_SIGMAS = 3.0
#: a formula within the noise is at most this factor worse than its network on held-out rows
NETWORK_RTOL = 1.1
#: rows the neighbour test uses at most (a random subset beyond: a k-d tree query on
#: 10⁶ rows is slow and the test is decided long before)
MAX_ROWS = 20_000


def neighbour_correlation(X: np.ndarray, r: np.ndarray) -> float:
    """Correlation of each row's residual r (n,) with that of its nearest other row in X
    (n, d), columns standardised; 1.0 when it cannot be told (fewer than 3 rows,
    residuals constant or not finite)."""
    from scipy.spatial import cKDTree

    n = len(r)
    if n < 3 or not np.all(np.isfinite(r)) or not np.all(np.isfinite(X)):
        return 1.0
    scale = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    _, index = cKDTree(Z).query(Z, k=2)
    neighbour = np.where(index[:, 0] == np.arange(n), index[:, 1], index[:, 0])  # duplicates: either
    a, b = r - r.mean(), r[neighbour] - r.mean()
    denominator = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b)) / denominator if denominator > 0 else 1.0


def white(X: np.ndarray, r: np.ndarray) -> bool:
    """Whether residuals r (n,) of rows X (n, d) look like noise (see the module docstring)."""
    return neighbour_correlation(X, r) < WHITE_SIGMAS / math.sqrt(max(len(r), 1))


def closed(formula) -> bool:
    """Whether no fitted float is left in ``formula``'s expression."""
    return not formula.expr.atoms(sympy.Float)


def _all_rows(rows: UserRows, seed: int = 0):
    """(X, y, √w) of the training and held-out rows together, at most ``MAX_ROWS``."""
    X = np.concatenate([rows.X, rows.X_val])
    y = np.concatenate([rows.y, rows.y_val])
    root_w = None if rows.w is None else np.sqrt(np.concatenate([rows.w, rows.w_val]))
    if len(y) > MAX_ROWS:
        keep = np.random.default_rng(seed).choice(len(y), MAX_ROWS, replace=False)
        X, y, root_w = X[keep], y[keep], None if root_w is None else root_w[keep]
    return X, y, root_w


def within_noise(formulas, rows: UserRows, var: float, network_nmse: float | None = None):
    """The simplest of ``formulas`` that is within the noise of the data (closed, white
    residuals on ``rows``, held-out nmse = loss / ``var`` at most ``NETWORK_RTOL`` ×
    ``network_nmse`` when given); None when there is none."""
    limit = math.inf if network_nmse is None else NETWORK_RTOL * network_nmse
    candidates = sorted((f for f in formulas if closed(f) and f.loss is not None and f.loss / var <= limit),
                        key=lambda f: (f.complexity, f.loss))
    if not candidates:
        return None
    X, y, root_w = _all_rows(rows)
    for f in candidates[:5]:  # the simplest few (each test evaluates the formula on every row)
        with np.errstate(all="ignore"):
            r = f.evaluate(X) - y
        if root_w is not None:
            r = r * root_w
        if white(X, r):
            log.info("%s is within the noise (nmse %.3g, residuals white): stop", f.expr, f.loss / var)
            return f
    return None
