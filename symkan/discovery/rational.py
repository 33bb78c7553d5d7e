"""Rational laws fitted directly: y = P(x)/Q(x) with polynomials of low degree.

Many laws of a few inputs are a ratio of two small polynomials: relativistic velocity
addition (u + v)/(1 + uv/c²), a centre of mass (m₁r₁ + m₂r₂)/(m₁ + m₂), a resonance
denominator, a Michaelis–Menten rate. Such a law is exact on the data when
y·Q(x) − P(x) = 0 on every row, which is linear in the coefficients of P and Q: the
coefficients are the right singular vector of the smallest singular value of
[M_P(x), −y·M_Q(x)] (M: the monomials up to each degree, inputs scaled to unit rms).
The degrees are tried from the smallest up, and the first pair that reproduces the
held-out rows to round-off is kept (a smaller pair would have been found first, so its
null space is one vector: no common factor). The formula's constants are then refit and
snapped on the data like any other. Only an exact fit is returned: a rational function
of degree 3/2 approximates any smooth law of two inputs to 1e-6, which is no law.
"""
from __future__ import annotations

import logging
from itertools import combinations_with_replacement

import numpy as np
import sympy

from ..symbolic.names import variable_symbols
from .budget import Budget
from .context import UserRows
from .snapping import checked_formula

log = logging.getLogger(__name__)

#: (numerator, denominator) degrees tried, simplest first (0: a polynomial)
DEGREES = ((1, 1), (2, 0), (2, 1), (1, 2), (3, 0), (2, 2), (3, 1), (3, 2))
#: the most inputs, and the most coefficients of a fit
MAX_INPUTS = 4
MAX_COEFFICIENTS = 60
#: held-out nmse under which a fit is exact
EXACT = 1e-11
#: rows the fits use (evenly spaced)
ROWS = 2000


def monomials(X: np.ndarray, degree: int) -> tuple:
    """(M, powers): the monomials of the columns of X (n, d) up to ``degree`` (n, m), and
    each one's exponent tuple."""
    n, d = X.shape
    columns, powers = [np.ones(n)], [(0,) * d]
    for total in range(1, degree + 1):
        for combo in combinations_with_replacement(range(d), total):
            columns.append(np.prod(X[:, combo], axis=1))
            powers.append(tuple(combo.count(j) for j in range(d)))
    return np.stack(columns, axis=1), powers


def rational_coefficients(X: np.ndarray, y: np.ndarray, p: int, q: int):
    """(a, b): coefficients of P (degree p) and Q (degree q) with y·Q ≈ P on the rows X
    (n, d), y (n,) — the smallest singular vector; None when q = 0 (a polynomial: least
    squares, b = [1]) fails."""
    P, _ = monomials(X, p)
    if q == 0:
        a = np.linalg.lstsq(P, y, rcond=None)[0]
        return a, np.array([1.0])
    Q, _ = monomials(X, q)
    _, _, vt = np.linalg.svd(np.concatenate([P, -y[:, None] * Q], axis=1), full_matrices=False)
    v = vt[-1]
    return v[:P.shape[1]], v[P.shape[1]:]


def rational_value(X: np.ndarray, a: np.ndarray, b: np.ndarray, p: int, q: int) -> np.ndarray:
    """P(x)/Q(x) at the rows X (n, d)."""
    with np.errstate(all="ignore"):
        return (monomials(X, p)[0] @ a) / (monomials(X, q)[0] @ b)


def rational_formulas(rows: UserRows, budget: Budget) -> list:
    """The exact rational formula of a table of two to ``MAX_INPUTS`` inputs (``rows``
    in the user's units), refit and snapped; [] when no degrees of ``DEGREES`` fit the
    held-out rows to ``EXACT`` (or the inputs are too many)."""
    n, d = rows.X.shape
    if not 2 <= d <= MAX_INPUTS:
        return []
    take = np.linspace(0, n - 1, min(n, ROWS)).astype(int)
    scale = np.sqrt(np.mean(rows.X ** 2, axis=0)) + 1e-300
    y_scale = np.sqrt(np.mean(rows.y ** 2)) + 1e-300
    X, y = rows.X[take] / scale, rows.y[take] / y_scale
    X_val, y_val = rows.X_val / scale, rows.y_val / y_scale
    var = float(np.var(y_val)) or 1.0
    for p, q in DEGREES:
        if budget.spent:
            return []
        if len(monomials(X[:1], p)[1]) + len(monomials(X[:1], q)[1]) > MAX_COEFFICIENTS:
            continue
        a, b = rational_coefficients(X, y, p, q)
        pred = rational_value(X_val, a, b, p, q)
        nmse = float(np.mean((pred - y_val) ** 2)) / var
        if np.all(np.isfinite(pred)) and nmse < EXACT:
            log.info("rational fit: degrees %d/%d, held-out nmse %.2g", p, q, nmse)
            expr = _expr(a, b, p, q, scale, y_scale, variable_symbols(rows.names))
            found = checked_formula(expr, variable_symbols(rows.names), rows, budget, f"the rational fit {p}/{q}")
            return [found] if found is not None else []
    return []


def _expr(a, b, p: int, q: int, scale, y_scale: float, symbols) -> sympy.Expr:
    """y_scale·P(x/scale)/Q(x/scale) as a sympy expression, coefficients below 1e-9 of
    the largest dropped."""
    def poly(coefficients, degree):
        _, powers = monomials(np.ones((1, len(symbols))), degree)
        top = np.max(np.abs(coefficients))
        return sympy.Add(*(float(c) * sympy.Mul(*((s / float(k)) ** e for s, k, e in zip(symbols, scale, pw)))
                           for c, pw in zip(coefficients, powers) if abs(c) > 1e-9 * top))

    return float(y_scale) * poly(a, p) / poly(b, q)
