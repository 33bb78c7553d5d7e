"""Buckingham π: the dimensionless groups of the inputs and a reference for the target.

With the inputs' dimensions as the columns of a matrix D (bases × d), every integer
vector e with D·e = 0 is a dimensionless product Π x_j^e_j, and any law between the
columns can be written y = y_ref · F(π₁, …, π_k), with k = d − rank D and y_ref a
product of input powers with the units of y. The search then looks for F, a function of
fewer inputs.

The groups are chosen sparsest first: among integer null vectors with exponents in
−3…3, fewer variables, then smaller exponents, then column order — so like quantities
give ratios (v/c), a dimensionless column is its own group, and ħω/(kT) is found as
one group. The reference is the sparsest solution of D·e = dim(y) with exponents in
±½ … ±3, integer powers first.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, product

import numpy as np
import sympy

#: exponents tried in groups, and (with halves) in the target's reference
GROUP_EXPONENTS = (1, -1, 2, -2, 3, -3)
REFERENCE_EXPONENTS = (1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2), 3, -3, Fraction(3, 2), Fraction(-3, 2))
#: largest number of variables in one enumerated group (more: completed from sympy's null space)
MAX_SUPPORT = 5


class NoReference(ValueError):
    """The target's units cannot be formed from the inputs' (a dimensional constant is
    missing from the table)."""


def dimension_matrix(dims: list, bases: list | None = None) -> tuple[np.ndarray, list]:
    """(bases × columns) exponents of ``dims`` (each {base: exponent}) and the base names
    (every base that appears, in first-seen order, unless given)."""
    if bases is None:
        bases = list(dict.fromkeys(b for dim in dims for b in dim))
    D = np.array([[float(dim.get(b, 0)) for dim in dims] for b in bases], dtype=float).reshape(len(bases), len(dims))
    return D, bases


def _rank(A: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(A, tol=1e-9)) if A.size else 0


def _sparse_solutions(D: np.ndarray, rhs: np.ndarray, values, max_support: int):
    """Every exponent vector with support ≤ ``max_support`` and entries in ``values``
    solving D·e = rhs, as (key, e), sorted by key = (non-integer exponents, support,
    Σ|e|, max|e|, columns): the order of preference (integer powers keep the search's
    target defined for negative inputs and make F simpler: κ·T₁·A/d, not √A·T₁·κ)."""
    d = D.shape[1]
    vals = np.array([float(v) for v in values])
    found = []
    if not np.any(rhs):
        found.append(((0, 0.0, 0, 0.0, ()), np.zeros(d)))
    for s in range(1, min(max_support, d) + 1):
        grid = np.array(list(product(vals, repeat=s)))
        for support in combinations(range(d), s):
            ok = np.all(np.abs(grid @ D[:, support].T - rhs) < 1e-9, axis=1)
            for row in grid[ok]:
                e = np.zeros(d)
                e[list(support)] = row
                key = (int(np.sum(row != np.round(row))), s, float(np.abs(row).sum()), float(np.abs(row).max()),
                       support)
                found.append((key, e))
    found.sort(key=lambda kv: kv[0])
    return found


def pi_groups(D: np.ndarray) -> np.ndarray:
    """(k, d) integer exponents of k = d − rank(D) independent dimensionless groups,
    sparsest first (see the module docstring); each group's first exponent is positive."""
    d = D.shape[1]
    k = d - _rank(D)
    chosen: list[np.ndarray] = []
    if k == 0:
        return np.zeros((0, d), dtype=int)
    for _, e in _sparse_solutions(D, np.zeros(D.shape[0]), GROUP_EXPONENTS, min(MAX_SUPPORT, _rank(D) + 1)):
        if not np.any(e) or e[np.flatnonzero(e)[0]] < 0:
            continue  # the zero vector; the sign-flipped twin of a group
        if _rank(np.array(chosen + [e])) == len(chosen) + 1:
            chosen.append(e)
            if len(chosen) == k:
                break
    if len(chosen) < k:  # groups over more variables than enumerated: from the exact null space
        for vec in sympy.Matrix([[Fraction(x).limit_denominator(1000) for x in row] for row in D]).nullspace():
            lcm = sympy.ilcm(*[sympy.fraction(sympy.nsimplify(v))[1] for v in vec])
            e = np.array([float(v * lcm) for v in vec])
            if _rank(np.array(chosen + [e])) == len(chosen) + 1:
                chosen.append(e if e[np.flatnonzero(e)[0]] > 0 else -e)
                if len(chosen) == k:
                    break
    return np.round(np.array(chosen)).astype(int)


def reference_exponents(D: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(d,) exponents of the sparsest product of inputs with the target's dimension
    ``target`` (bases,); raises :class:`NoReference` when there is none."""
    if _rank(np.column_stack([D, target])) > _rank(D):
        raise NoReference("the units of the target cannot be formed from the inputs'")
    found = _sparse_solutions(D, target, REFERENCE_EXPONENTS, min(MAX_SUPPORT, max(1, _rank(D))))
    if found:
        return found[0][1]
    solution, *_ = np.linalg.lstsq(D, target, rcond=None)  # exponents outside the enumerated ones
    return np.array([float(Fraction(x).limit_denominator(12)) for x in solution])


def power_values(X: np.ndarray, exponents) -> np.ndarray:
    """(n, k) products Π_j X[:, j]^exponents[i, j] of inputs X (n, d), one column per row
    of ``exponents`` (k, d); inf or nan where a power is undefined."""
    exponents = np.asarray(exponents, dtype=float).reshape(-1, X.shape[1])
    with np.errstate(all="ignore"):
        return np.prod(X[:, None, :] ** exponents[None], axis=2)


def power_product(symbols, exponents) -> sympy.Expr:
    """Π_j symbols[j]^exponents[j] (rational powers as exact fractions)."""
    out = sympy.Integer(1)
    for s, e in zip(symbols, exponents):
        if e:
            out *= s ** sympy.nsimplify(Fraction(e).limit_denominator(12))
    return out


@dataclass(frozen=True, eq=False)
class DimensionalAnalysis:
    """y = y_ref(x) · F(π(x)): ``groups`` (k, d) integer exponents of the π groups,
    ``reference`` (d,) exponents of y_ref; ``names`` the d input names."""

    names: tuple
    groups: np.ndarray
    reference: np.ndarray

    @property
    def n_groups(self) -> int:
        return int(self.groups.shape[0])

    def group_values(self, X: np.ndarray) -> np.ndarray:
        """π values (n, k) of inputs X (n, d)."""
        return power_values(X, self.groups)

    def reference_values(self, X: np.ndarray) -> np.ndarray:
        """y_ref (n,) of inputs X (n, d)."""
        return power_values(X, self.reference)[:, 0]

    def group_exprs(self, symbols) -> list:
        """The π groups as sympy products of ``symbols`` (the d inputs)."""
        return [power_product(symbols, g) for g in self.groups]

    def reference_expr(self, symbols) -> sympy.Expr:
        return power_product(symbols, self.reference)

    def describe(self) -> str:
        """One line: ``y = x0*x1 · F(x2/x3, x4)``."""
        syms = [sympy.Symbol(n) for n in self.names]
        groups = ", ".join(str(g) for g in self.group_exprs(syms))
        return f"y_ref = {self.reference_expr(syms)}; groups: {groups or 'none'}"


def analyse(input_dims: list, target_dim: dict, names) -> DimensionalAnalysis:
    """The π groups and the target's reference of inputs with dimensions ``input_dims``
    (one {base: exponent} per column, named ``names``) and a target of ``target_dim``.
    Raises :class:`NoReference` when the target's units cannot be formed from the inputs."""
    D, bases = dimension_matrix(list(input_dims) + [target_dim])
    return DimensionalAnalysis(tuple(names), pi_groups(D[:, :-1]), reference_exponents(D[:, :-1], D[:, -1]))
