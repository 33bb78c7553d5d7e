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
(m·c²/√(1 − v²/c²)): :func:`prefactor_group`, the case of :mod:`.scalings` with one
invariant.
"""
from __future__ import annotations

import logging

import numpy as np

from .sampling import evenly_spaced
from .scalings import scaling_reduction

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
    """(a, p): integer exponents a and prefactor exponents p (floats, multiples of 1/2;
    all zero for a pure group), each (len(inputs),), such that ``f`` is
    Π x_i^p_i·G(Π x_i^a_i) in the ``inputs`` columns of X_val (m, d), with at least two
    a_i nonzero: the case of one invariant of :func:`.scalings.scaling_reduction`;
    None otherwise."""
    found = scaling_reduction(f, X_val, inputs)
    if found is None or len(found[0]) != 1 or np.count_nonzero(found[0][0]) < 2:
        return None
    return found[0][0], np.array([float(e) for e in found[1]])
