"""Dependence on one product of powers, read off an oracle: f(x) = G(Π x_i^a_i).

Then x_i·∂f/∂x_i = a_i·z·G'(z) at every point, so the vectors of log-derivatives
(x_i·∂f/∂x_i)_i at all rows are multiples of one vector a: the matrix of those vectors,
each normalised to length one, has rank one. The derivatives are central differences of
the oracle (a trained network: smooth) in log x. The direction is the matrix's leading
right singular vector, scaled to the smallest small integers within ``SNAP_TOL`` (v/c is
(1, −1), ħω/(kT) is (1, 1, −1, −1)). AI Feynman's symmetry test does this for pairs of
inputs with fixed exponents (:mod:`.oracle_split`'s ``COMBINATIONS``); this one finds
any exponents of any number of inputs at once, without units.

A law may also be a product of powers times such a function, f = Π x_i^p_i·G(Π x_i^a_i)
(m·c²/√(1 − v²/c²)): then x_i·∂log f/∂x_i = p_i + a_i·h(z) with h = z·G'/G, so the
centred matrix of those vectors has rank one (:func:`prefactor_group`). The prefactor's
exponents are fixed up to a multiple of a; the one kept puts a zero where a is nonzero
(the input enters only through z) and is the smallest such.
"""
from __future__ import annotations

import logging

import numpy as np

from .sampling import evenly_spaced

log = logging.getLogger(__name__)

#: relative step of the central differences in log x
STEP = 1e-3
#: rank one: the second singular value below this fraction of the first
RANK_TOL = 0.02
#: the scaled exponents must be this close to integers
SNAP_TOL = 0.02
#: the largest integer multiplier tried (exponents up to this size after scaling)
MAX_SCALE = 6
#: rows at which the derivatives are taken
ROWS = 200
#: a prefactor's exponents are snapped to multiples of this
PREFACTOR_STEP = 0.5
#: groups of two inputs tested by :func:`pair_prefactor`, the step of its moves, and the
#: spread of the moves' exponents (90th percentile of |q − median|) under which one holds
PAIR_GROUPS = ((1, -1), (1, 1), (1, -2), (2, -1), (1, 2), (2, 1))
PAIR_STEP = 1.15
PAIR_SPREAD = 0.05


def log_derivatives(f, X: np.ndarray, inputs: list) -> np.ndarray:
    """(m, k): x_i·∂f/∂x_i at the rows X (m, d) for each of ``inputs`` (positive
    columns), by central differences of ``f`` in log x_i."""
    out = np.empty((len(X), len(inputs)))
    for col, j in enumerate(inputs):
        up, down = X.copy(), X.copy()
        up[:, j] *= np.exp(STEP)
        down[:, j] *= np.exp(-STEP)
        with np.errstate(all="ignore"):
            out[:, col] = (f(up) - f(down)) / (2 * STEP)
    return out


def integer_direction(a: np.ndarray) -> np.ndarray | None:
    """The smallest integer vector parallel to ``a`` (k,) within ``SNAP_TOL`` (after
    scaling a's largest entry to ±1), its first nonzero entry positive; None when no
    multiplier up to ``MAX_SCALE`` makes every entry near an integer."""
    a = a / np.max(np.abs(a))
    for scale in range(1, MAX_SCALE + 1):
        scaled = a * scale
        rounded = np.round(scaled)
        if np.all(np.abs(scaled - rounded) < SNAP_TOL):
            first = rounded[np.flatnonzero(rounded)[0]]
            return (rounded * np.sign(first)).astype(int)
    return None


def _rows(X_val: np.ndarray, inputs: list) -> np.ndarray | None:
    """The rows of X_val the tests take derivatives at; None when the inputs are not two
    or more positive columns."""
    if len(inputs) < 2 or not np.all(X_val[:, inputs] > 0):
        return None
    return X_val[evenly_spaced(len(X_val), ROWS)]


def power_group(f, X_val: np.ndarray, inputs: list) -> np.ndarray | None:
    """Integer exponents a (len(inputs),) such that ``f`` depends on the ``inputs``
    columns of X_val (m, d) only through Π x_i^a_i, with at least two a_i nonzero; None
    when its log-derivatives are not of rank one, or the inputs are not all positive."""
    rows = _rows(X_val, inputs)
    if rows is None:
        return None
    G = log_derivatives(f, rows, inputs)
    norms = np.linalg.norm(G, axis=1)
    usable = np.isfinite(norms) & (norms > 1e-12 * (np.nanmax(norms) if np.any(np.isfinite(norms)) else 1.0))
    if usable.sum() < max(10, len(rows) // 2):
        return None
    _, s, vt = np.linalg.svd(G[usable] / norms[usable, None], full_matrices=False)
    log.info("one group of %s: singular values %s", inputs, np.array2string(s, precision=3))
    if s[1] > RANK_TOL * s[0]:
        return None
    exponents = integer_direction(vt[0])
    if exponents is None or np.count_nonzero(exponents) < 2:
        return None
    return exponents


def prefactor_group(f, X_val: np.ndarray, inputs: list) -> tuple | None:
    """(a, p): integer exponents a and prefactor exponents p (multiples of
    ``PREFACTOR_STEP``), each (len(inputs),), such that ``f`` is Π x_i^p_i·G(Π x_i^a_i) in
    the ``inputs`` columns of X_val (m, d), with p not all zero and at least two a_i
    nonzero; None when the centred log-derivatives of log|f| are not of rank one, or f
    has a zero on the rows. Two inputs are tested by finite moves (:func:`pair_prefactor`)."""
    rows = _rows(X_val, inputs)
    if rows is None:
        return None
    if len(inputs) == 2:
        return pair_prefactor(f, rows, inputs)
    with np.errstate(all="ignore"):
        values = f(rows)
        if not (np.all(np.isfinite(values)) and np.all(values != 0)):
            return None
        D = log_derivatives(lambda X: np.log(np.abs(f(X))), rows, inputs)
    if not np.all(np.isfinite(D)):
        return None
    mean = D.mean(axis=0)
    _, s, vt = np.linalg.svd(D - mean, full_matrices=False)
    log.info("one group with a prefactor, of %s: singular values %s", inputs, np.array2string(s, precision=3))
    if s[0] < 1e-3 * np.sqrt(len(D)) or s[1] > RANK_TOL * s[0]:  # a monomial, or not rank one
        return None
    exponents = integer_direction(vt[0])
    if exponents is None or np.count_nonzero(exponents) < 2:
        return None
    best = _simplest_prefactor(exponents, mean, SNAP_TOL * 5)
    return None if best is None else (exponents, best)


def _simplest_prefactor(exponents: np.ndarray, mean: np.ndarray, tolerance: float) -> np.ndarray | None:
    """The prefactor exponents p = mean − λ·a (a: ``exponents``) with p_k = 0 for some k
    where a_k ≠ 0, snapped to multiples of ``PREFACTOR_STEP`` within ``tolerance``, the
    smallest in sum of |p_i|; None when none snaps or p is all zero."""
    best = None
    for k in np.flatnonzero(exponents):
        p = mean - mean[k] / exponents[k] * exponents
        snapped = np.round(p / PREFACTOR_STEP) * PREFACTOR_STEP + 0.0
        if np.all(np.abs(p - snapped) < tolerance) and np.any(snapped != 0):
            if best is None or np.abs(snapped).sum() < np.abs(best).sum():
                best = snapped
    return best


def pair_prefactor(f, rows: np.ndarray, pair: list) -> tuple | None:
    """:func:`prefactor_group` for two inputs (the ``pair`` columns of ``rows`` (m, d)),
    by finite moves instead of derivatives (a network's derivatives along a weak
    dependence, v in m·c²/√(1 − v²/c²), can be off by far more than its values): for
    each candidate z = x₁^a₁·x₂^a₂ of ``PAIR_GROUPS``, a move along z's level set
    (x₁·s^a₂, x₂·s^−a₁) multiplies f by s^q with one q on every row exactly when
    f = x₁^p₁·x₂^p₂·G(z), q = a₂p₁ − a₁p₂. The candidate whose q spreads least,
    under ``PAIR_SPREAD``, with q a nonzero multiple of ``PREFACTOR_STEP``, is kept."""
    i, j = pair
    low, high = rows[:, pair].min(axis=0), rows[:, pair].max(axis=0)
    with np.errstate(all="ignore"):
        base = np.log(np.abs(f(rows)))
        best = None
        for a in PAIR_GROUPS:
            # the move up or down z's level set that stays in the data's box (the oracle
            # is a network: outside, it extrapolates); rows where neither does are left out
            moves = []
            for sign in (1.0, -1.0):
                moved = rows.copy()
                moved[:, i] *= PAIR_STEP ** (sign * a[1])
                moved[:, j] *= PAIR_STEP ** (-sign * a[0])
                moves.append((moved, np.all((moved[:, pair] >= low) & (moved[:, pair] <= high), axis=1)))
            (up, inside_up), (down, inside_down) = moves
            sign = np.where(inside_up, 1.0, -1.0)
            keep = inside_up | inside_down
            if keep.sum() < len(rows) // 4:
                continue
            moved = np.where(inside_up[:, None], up, down)[keep]
            q = (np.log(np.abs(f(moved))) - base[keep]) / (sign[keep] * np.log(PAIR_STEP))
            if not np.all(np.isfinite(q)):
                continue
            spread = float(np.quantile(np.abs(q - np.median(q)), 0.9))
            if best is None or spread < best[0]:
                best = (spread, a, float(np.median(q)))
    if best is None or best[0] > PAIR_SPREAD:
        return None
    spread, a, q = best
    log.info("one group with a prefactor, of %s: x^%s, q %.3g (spread %.2g)", pair, a, q, spread)
    exponents = np.array(a)
    # any p with a₂p₁ − a₁p₂ = q: p₁ = q/a₂ (p₂ = 0) or p₂ = −q/a₁ (p₁ = 0), the simplest kept
    mean = np.array([q / a[1], 0.0]) if a[1] else np.array([0.0, -q / a[0]])
    best_p = _simplest_prefactor(exponents, mean, PAIR_SPREAD)
    return None if best_p is None else (exponents, best_p)
