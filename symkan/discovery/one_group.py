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
(m·c²/√(1 − v²/c²)): then moving along a level set of z multiplies f by a power of the
step that is the same on every row (:func:`prefactor_group`, by finite moves of the
oracle: its derivatives are less reliable than its values). The prefactor's exponents
are fixed up to a multiple of a; the one kept puts a zero where a is nonzero (the input
enters only through z) and is the smallest such.
"""
from __future__ import annotations

import logging
from itertools import product
from math import gcd

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
#: the step of :func:`level_set_group`'s moves, and the spread of their exponents (90th
#: percentile of |q − median|) under which a group holds
LEVEL_STEP = 1.15
LEVEL_SPREAD = 0.05


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
    ``PREFACTOR_STEP``; all zero for a pure group), each (len(inputs),), such that ``f``
    is Π x_i^p_i·G(Π x_i^a_i) in the ``inputs`` columns of X_val (m, d), with at least two
    a_i nonzero (:func:`level_set_group`); None when no candidate a passes."""
    rows = _rows(X_val, inputs)
    return None if rows is None else level_set_group(f, rows, inputs)


def level_set_group(f, rows: np.ndarray, inputs: list) -> tuple | None:
    """(a, p) with f = Π x_i^p_i·G(Π x_i^a_i) in the ``inputs`` columns of ``rows`` (m, d)
    (p may be all zero), tested by finite moves, not derivatives (a network's
    derivatives along a weak dependence, v in m·c²/√(1 − v²/c²), or where it is small,
    ħω/(e^(ħω/kT) − 1), are off by far more than its values): a move along z's level set,
    x_i·s^c_i with a·c = 0, multiplies f by s^(p·c) on every row exactly then. For each
    candidate a of small integers (:func:`_candidates`), k − 1 independent moves are
    made from every row (up or down, whichever stays in the data's box: the oracle is a
    network); the candidate whose exponents q = log(f(moved)/f)/log s spread least across
    rows, under ``LEVEL_SPREAD``, is kept. None when none passes or f has a zero."""
    k = len(inputs)
    low, high = rows[:, inputs].min(axis=0), rows[:, inputs].max(axis=0)
    with np.errstate(all="ignore"):
        base = np.log(np.abs(f(rows)))
        if not np.all(np.isfinite(base)):
            return None
        best = None
        for a in _candidates(k):
            i0 = int(np.flatnonzero(a)[0])
            q_of = np.zeros(k)
            worst = 0.0
            for j in range(k):
                if j == i0:
                    continue
                c = np.zeros(k)
                c[j], c[i0] = a[i0], -a[j]
                q = _move_exponents(f, rows, inputs, c, base, low, high)
                if q is None:
                    worst = np.inf
                    break
                worst = max(worst, float(np.quantile(np.abs(q - np.median(q)), 0.9)))
                if worst > LEVEL_SPREAD or (best is not None and worst >= best[0]):
                    break
                q_of[j] = np.median(q) / a[i0]  # p·c = a_i0·p_j with p_i0 = 0
            else:
                best = (worst, np.array(a), q_of)
    if best is None:
        return None
    spread, a, p = best
    snapped = _simplest_prefactor(a, p, 2 * LEVEL_SPREAD)
    log.info("one group of %s: exponents %s, prefactor %s (spread %.2g)", inputs, a, snapped, spread)
    return None if snapped is None else (a, snapped)


def _candidates(k: int) -> list:
    """Integer exponent vectors (k,) with entries up to 2 in size (1 from four inputs on),
    two or more nonzero, the first nonzero positive, no common factor; simplest first."""
    top = 2 if k <= 3 else 1
    out = []
    for a in product(range(-top, top + 1), repeat=k):
        nonzero = [abs(v) for v in a if v]
        if len(nonzero) >= 2 and a[np.flatnonzero(a)[0]] > 0 and gcd(*nonzero) == 1:
            out.append(a)
    return sorted(out, key=lambda a: np.abs(a).sum())


def _move_exponents(f, rows, inputs, c, base, low, high):
    """log(f(x·s^c)/f(x))/log s at each row that a move up or down by s^c keeps in the
    box [low, high] of the inputs (None when fewer than a quarter do)."""
    moves = []
    for sign in (1.0, -1.0):
        moved = rows.copy()
        moved[:, inputs] *= LEVEL_STEP ** (sign * c)
        moves.append((moved, np.all((moved[:, inputs] >= low) & (moved[:, inputs] <= high), axis=1)))
    (up, inside_up), (down, inside_down) = moves
    keep = inside_up | inside_down
    if keep.sum() < len(rows) // 4:
        return None
    moved = np.where(inside_up[:, None], up, down)[keep]
    sign = np.where(inside_up, 1.0, -1.0)[keep]
    q = (np.log(np.abs(f(moved))) - base[keep]) / (sign * np.log(LEVEL_STEP))
    return q if np.all(np.isfinite(q)) else None


def _simplest_prefactor(exponents: np.ndarray, p: np.ndarray, tolerance: float) -> np.ndarray | None:
    """The prefactor exponents p − λ·a (a: ``exponents``) with a zero at some k where
    a_k ≠ 0, snapped to multiples of ``PREFACTOR_STEP`` within ``tolerance``, the smallest
    in sum of |p_i|; None when none snaps."""
    best = None
    for k in np.flatnonzero(exponents):
        shifted = p - p[k] / exponents[k] * exponents
        snapped = np.round(shifted / PREFACTOR_STEP) * PREFACTOR_STEP + 0.0
        if np.all(np.abs(shifted - snapped) < tolerance):
            if best is None or np.abs(snapped).sum() < np.abs(best).sum():
                best = snapped
    return best
