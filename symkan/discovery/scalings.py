"""Scaling symmetries of a law, read off an oracle by finite moves: f(x·s^c) = s^q·f(x).

A direction c of integer exponents is a scaling symmetry of f when moving every row by
x_i → x_i·s^c_i multiplies f by the same power s^q on every row. Each independent one
removes an input: with r of them, f = Π x_i^p_i·H(z_1, …, z_(k−r)), where the z_j = Π x_i^A_ji
are the invariants (A·c = 0 for every c) and p·c = q. AI Feynman finds these with units
(dimensional analysis); here they are found without units, from the trained network:

* m·c²/√(1 − v²/c²): (v, c) → s·(v, c) gives s²: f = c²·H(v/c), one input;
* (x − u·t)/√(1 − u²/c²): (x, u, c) → s·(…) gives s, (u, t, c) → (u/s, s·t, c/s) gives 1:
  f = x·H(u·t/x, u/c), a separable product of two inputs;
* (m₁r₁ + m₂r₂)/(m₁ + m₂): the masses and the radii scale apart: f = r₂·H(m₁/m₂, r₁/r₂).

Moves, not derivatives: a network's derivatives along a weak dependence (v in m·c²γ) or
where it is small (ħω/(e^(ħω/kT) − 1)) are off by far more than its values. Every move is
taken up or down, whichever stays in the data's box (outside, a network extrapolates).
"""
from __future__ import annotations

import logging
from itertools import combinations, product
from math import gcd

import numpy as np
import sympy

from .sampling import evenly_spaced

log = logging.getLogger(__name__)

#: the factor of a move
STEP = 1.15
#: a direction is a symmetry when its exponents q = log(f(moved)/f)/log(STEP) spread less
#: than this across rows (90th percentile of |q − median|) ...
SPREAD = 0.05
#: ... and their median is a multiple of this
Q_STEP = 0.5
#: inputs up to which direction entries go up to ±2 (beyond: ±1), and beyond which a
#: direction moves at most ``MAX_MOVED`` inputs (the candidates grow as 3^k)
SMALL = 3
MAX_MOVED = 3
#: rows the moves start from
ROWS = 200


def candidates(k: int) -> list:
    """Integer directions (k,), simplest first: entries up to ±2 for k ≤ ``SMALL`` (±1
    beyond), at most ``MAX_MOVED`` nonzero when k > 5, the first nonzero positive, no
    common factor."""
    top = 2 if k <= SMALL else 1
    most = k if k <= 5 else MAX_MOVED
    out = []
    for n in range(1, most + 1):
        for where in combinations(range(k), n):
            for values in product([v for v in range(-top, top + 1) if v], repeat=n):
                if values[0] > 0 and gcd(*(abs(v) for v in values)) == 1:
                    c = np.zeros(k, dtype=int)
                    c[list(where)] = values
                    out.append(c)
    return sorted(out, key=lambda c: (np.count_nonzero(c), np.abs(c).sum()))


def move_exponents(f, rows: np.ndarray, inputs: list, c: np.ndarray, base: np.ndarray):
    """q = log|f(x·s^c)/f(x)|/log s at each row of ``rows`` (m, d) that a move up or down
    keeps inside the rows' box (None when none or fewer than a quarter do, or q is not finite);
    ``base``: log|f| at the rows."""
    low, high = rows[:, inputs].min(axis=0), rows[:, inputs].max(axis=0)
    moves = []
    for sign in (1.0, -1.0):
        moved = rows.copy()
        moved[:, inputs] *= STEP ** (sign * c)
        moves.append((moved, np.all((moved[:, inputs] >= low) & (moved[:, inputs] <= high), axis=1)))
    (up, inside_up), (down, inside_down) = moves
    keep = inside_up | inside_down
    if not keep.any() or keep.sum() < len(rows) // 4:  # a few rows: none may stay inside
        return None
    moved = np.where(inside_up[:, None], up, down)[keep]
    sign = np.where(inside_up, 1.0, -1.0)[keep]
    with np.errstate(all="ignore"):
        q = (np.log(np.abs(f(moved))) - base[keep]) / (sign * np.log(STEP))
    return q if np.all(np.isfinite(q)) else None


def scaling_directions(f, rows: np.ndarray, inputs: list) -> list:
    """[(c, q)]: independent scaling symmetries of ``f`` in the ``inputs`` columns of
    ``rows`` (m, d) (positive), simplest first, at most k − 1 of them (an invariant is
    left); [] when f has a zero on the rows or none holds."""
    k = len(inputs)
    with np.errstate(all="ignore"):
        base = np.log(np.abs(f(rows)))
    if not np.all(np.isfinite(base)):
        return []
    found = []
    for c in candidates(k):
        if len(found) == k - 1:
            break
        if found and np.linalg.matrix_rank(np.array([d for d, _ in found] + [c])) == len(found):
            continue  # a combination of those found
        q = move_exponents(f, rows, inputs, c, base)
        if q is None or np.quantile(np.abs(q - np.median(q)), 0.9) > SPREAD:
            continue
        degree = round(float(np.median(q)) / Q_STEP) * Q_STEP
        if abs(float(np.median(q)) - degree) < 2 * SPREAD:
            found.append((c, sympy.Rational(degree).limit_denominator(2)))
    return found


def invariants(directions: list, k: int) -> tuple:
    """(A, p) for scaling ``directions`` [(c, q)] of k inputs: the invariants' integer
    exponents A (k − r, k), each row's first nonzero positive, and prefactor exponents p
    (k,) (sympy Rationals) with p·c = q, zero at the inputs the invariants are solved for
    (with one invariant a: the smallest p with a zero where a is not, the first such)."""
    C = sympy.Matrix([[int(v) for v in c] for c, _ in directions])
    A = []
    for v in C.nullspace():
        scale = sympy.ilcm(*[sympy.fraction(e)[1] for e in v])
        row = [int(e * scale) for e in v]
        common = gcd(*(abs(e) for e in row))
        first = next(e for e in row if e)
        A.append([e // common * (1 if first > 0 else -1) for e in row])
    solution, params = C.gauss_jordan_solve(sympy.Matrix([q for _, q in directions]))
    p = list(solution.xreplace({t: 0 for t in params}))
    if len(A) == 1:  # p is fixed up to a multiple of a: the smallest with a zero where a is not
        a = A[0]
        shifted = [[pi - p[j] / a[j] * ai for pi, ai in zip(p, a)] for j in range(k) if a[j]]
        p = min(shifted, key=lambda v: sum(abs(e) for e in v))
    return np.array(A, dtype=int).reshape(-1, k), p


def scaling_reduction(f, X: np.ndarray, inputs: list) -> tuple | None:
    """(A, p) of :func:`invariants` for the scaling symmetries of ``f`` in the ``inputs``
    columns of X (m, d), tested at ``ROWS`` evenly spaced rows: f = Π x_i^p_i·H(Π x_i^A_ji);
    None when there is none, or the inputs are not two or more positive columns."""
    if len(inputs) < 2 or not np.all(X[:, inputs] > 0):
        return None
    rows = X[evenly_spaced(len(X), ROWS)]
    directions = scaling_directions(f, rows, inputs)
    if not directions:
        return None
    A, p = invariants(directions, len(inputs))
    log.info("scalings of %s: %s; invariants %s, prefactor %s", inputs,
             ", ".join(f"{c.tolist()}^{q}" for c, q in directions), A.tolist(), p)
    return A, p


def monomial_of(symbols, exponents) -> sympy.Expr:
    """Π symbols_i^exponents_i (integers or sympy Rationals)."""
    return sympy.Mul(*(x ** (int(e) if isinstance(e, (int, np.integer)) else e) for x, e in zip(symbols, exponents)))
