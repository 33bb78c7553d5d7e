"""Two-input laws linear in one input, read off an oracle: f(x₁, x₂) = A(x₁) + B(x₁)·x₂.

Relativity's t' = (t − u·x/c²)/√(1 − u²/c²) in its groups is γ(π₁) − π₁·γ(π₁)·π₂, and
x·(cos ωt + α·cos² ωt) is cos z + α·cos² z: neither a sum nor a product of functions of
one input, but linear in one of them, with two functions of the other as its
coefficients. A trained network is checked for that (:func:`linearity_error`: its
values against the line through two cuts at x₂ = a and x₂ = b, on held-out rows); where
it holds, the coefficient cuts B(x₁) = (f(x₁, b) − f(x₁, a))/(b − a) and
A(x₁) = f(x₁, a) − a·B(x₁) are fitted directly (:mod:`.univariate`), the formula
A + B·x₂ is composed, and its constants are refit and snapped on the data. As with the
other splits, the best fit of one coefficient is also completed on the data (the other
coefficient fitted to what the data leave), and nothing is kept without its held-out
loss.
"""
from __future__ import annotations

import logging

import numpy as np
import sympy

from ..symbolic.names import variable_symbols
from .budget import Budget
from .context import UserRows
from .snapping import checked_formula
from .training import ROUND_OFF_NMSE
from .univariate import monomial, monomial_expr, univariate_expr, univariate_fits

log = logging.getLogger(__name__)

#: a law is tried as linear in an input when it is, on held-out rows, to this normalised
#: rms error (the tolerance of the other splits, :data:`.oracle_split.SPLIT_TOL`)
LINEAR_TOL = 0.05
#: quantiles of the input the two cuts are taken at (inside the data, far enough apart)
CUTS = (0.25, 0.75)
#: candidate fits per coefficient
PER_COEFFICIENT = 2


def _with_column(X: np.ndarray, j: int, value: float) -> np.ndarray:
    moved = X.copy()
    moved[:, j] = value
    return moved


def linearity_error(f, X_val: np.ndarray, j: int) -> float:
    """How far ``f`` is from linear in input ``j`` on the rows X_val (m, 2): the normalised
    rms distance of its values from the line through its cuts at x_j = a and x_j = b."""
    a, b = np.quantile(X_val[:, j], CUTS)
    if not b > a:
        return np.inf
    with np.errstate(all="ignore"):
        F, Fa, Fb = f(X_val), f(_with_column(X_val, j, a)), f(_with_column(X_val, j, b))
        line = Fa + (X_val[:, j] - a) / (b - a) * (Fb - Fa)
        error = float(np.sqrt(np.mean((F - line) ** 2)) / (np.std(F) or 1.0))
    return error if np.isfinite(error) else np.inf


def coefficient_cuts(f, X: np.ndarray, j: int, a: float, b: float) -> tuple:
    """(A, B) (n,) each: the coefficients of f = A(x_k) + B(x_k)·x_j at the rows X (n, 2),
    from f's cuts at x_j = a and x_j = b."""
    with np.errstate(all="ignore"):
        Fa, Fb = f(_with_column(X, j, a)), f(_with_column(X, j, b))
        B = (Fb - Fa) / (b - a)
        return Fa - a * B, B


def _fits(x: np.ndarray, cut: np.ndarray, symbol, functions, accuracy: float, weights) -> list:
    """Candidate expressions of ``symbol`` for one coefficient's cut (n,) of its values x (n,)."""
    out = []
    if np.std(cut) <= 1e-9 * (np.mean(np.abs(cut)) or 1.0):  # a constant coefficient
        return [sympy.Float(float(np.mean(cut)))]
    mono = monomial(x, cut, "sum", accuracy)
    if mono is not None:
        out.append(monomial_expr(mono, symbol))
    out += [univariate_expr(fit, symbol) for fit in univariate_fits(x, cut, functions, PER_COEFFICIENT,
                                                               tolerance=3 * accuracy, weights=weights)]
    return out


def linear_formulas(f, rows: UserRows, functions, budget: Budget, accuracy: float = 0.0) -> list:
    """Formulas A(x_k) + B(x_k)·x_j of a two-input table whose oracle ``f`` (X (n, 2) ->
    (n,)) is linear in x_j (see the module docstring), for each input that qualifies, the
    more linear first; [] when neither does. ``accuracy``: the oracle's held-out nmse."""
    errors = {j: linearity_error(f, rows.X_val, j) for j in (0, 1)}
    log.info("linear in an input: %s", ", ".join(f"x{j + 1} {e:.2g}" for j, e in errors.items()))
    symbols = variable_symbols(rows.names)
    scale = float(np.var(rows.y_val)) or 1.0
    found = []
    for j in sorted((j for j in errors if errors[j] < LINEAR_TOL), key=errors.get):
        k = 1 - j
        a, b = np.quantile(rows.X_val[:, j], CUTS)
        A, B = coefficient_cuts(f, rows.X, j, a, b)
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
            continue
        x, xj = symbols[k], symbols[j]
        fits = [_fits(rows.X[:, k], cut, x, functions, accuracy, rows.w) for cut in (A, B)]
        exprs = [ea + eb * xj for ea in fits[0] for eb in fits[1]]
        exprs = _completed_on_data(fits, rows, symbols, j, k, functions) + exprs
        for expr in exprs:
            if budget.spent and (found or budget.past_cutoff):
                return found
            formula = checked_formula(expr, symbols, rows, budget, f"the formula linear in {xj}: {expr}")
            if formula is not None:
                found.append(formula)
                if formula.loss < ROUND_OFF_NMSE * scale:  # exact: the other candidates cannot beat it
                    return found
    return found


def _completed_on_data(fits: list, rows: UserRows, symbols, j: int, k: int, functions) -> list:
    """A + B·x_j with one coefficient's best fit from the oracle and the other fitted to
    what the data leave: y − B(x_k)·x_j is A(x_k), and (y − A(x_k))/x_j is B(x_k)
    (where x_j is never zero) — exact whenever the first fit is."""
    x, xj = symbols[k], symbols[j]
    out = []
    with np.errstate(all="ignore"):
        for which, exprs in enumerate(fits):
            if not exprs:
                continue
            e = exprs[0]
            values = sympy.lambdify(symbols, e, "numpy")(*rows.X.T) * np.ones(len(rows.y))
            rest = rows.y - values * rows.X[:, j] if which == 1 else (rows.y - values) / rows.X[:, j]
            if not np.all(np.isfinite(rest)):
                continue
            for fit in univariate_fits(rows.X[:, k], rest, functions, 1, weights=rows.w):
                g = univariate_expr(fit, x)
                out.append(g + e * xj if which == 1 else e + g * xj)
    return out
