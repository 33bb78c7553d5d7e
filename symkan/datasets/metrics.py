"""SRBench's success criteria for symbolic regression.

* *accuracy solution*: test R² > 0.999.
* *symbolic solution*: after rounding every float in the found model to 3 decimals,
  ``true − found`` simplifies to a constant, or ``found / true`` simplifies to a
  non-zero constant. A found model of 0, nan or infinity never counts.

Simplification is the expensive part, so a cheap numerical screen runs first: when
the difference and the ratio both clearly vary across random points, the pair is
rejected without calling sympy's simplifier. The screen can only reject pairs that are
demonstrably not constant; every acceptance is proven symbolically.
"""
from __future__ import annotations

import numpy as np
import sympy

from .equations import parse_formula

#: SRBench's threshold for an accuracy solution
ACCURACY_R2 = 0.999


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot (−inf..1)."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred have different lengths: {y_true.size} vs {y_pred.size}")
    if not np.all(np.isfinite(y_pred)):
        return float("-inf")
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else float("-inf")
    return 1.0 - ss_res / ss_tot


def is_accuracy_solution(r2: float, threshold: float = ACCURACY_R2) -> bool:
    return bool(np.isfinite(r2) and r2 > threshold)


def round_floats(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """Round every floating-point number in ``expr`` to ``digits`` decimals."""
    replace = {}
    for atom in expr.atoms(sympy.Float):
        replace[atom] = sympy.Float(round(float(atom), digits))
    expr = expr.xreplace(replace)
    return expr


def _as_expr(expr, names) -> sympy.Expr:
    if isinstance(expr, str):
        return parse_formula(expr, names)
    return sympy.sympify(expr)


def _same_symbols(expr: sympy.Expr, positive: bool) -> sympy.Expr:
    """Rename every free symbol to a real (or positive) symbol of the same name, so 'x'
    in two expressions built with different assumptions is one variable."""
    kind = {"positive": True} if positive else {"real": True}
    return expr.xreplace({s: sympy.Symbol(s.name, **kind) for s in expr.free_symbols})


def _is_bad(expr: sympy.Expr) -> bool:
    return expr == 0 or expr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def _numerically_varies(expr: sympy.Expr, symbols, rng) -> bool:
    """True when ``expr`` demonstrably takes different values at random points."""
    if not expr.free_symbols:
        return False
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    pts = rng.uniform(0.6, 2.4, size=(len(symbols), 16))
    with np.errstate(all="ignore"):
        vals = np.asarray(fn(*pts.astype(np.complex128)), dtype=np.complex128)
    vals = np.broadcast_to(vals, (16,))
    vals = vals[np.isfinite(vals)]
    if vals.size < 4:
        return False  # cannot tell: let the simplifier decide
    spread = np.max(np.abs(vals - vals[0]))
    return bool(spread > 1e-6 * (1.0 + np.max(np.abs(vals))))


def is_symbolic_solution(found, true, names=None, digits: int = 3, positive: bool = False) -> bool:
    """SRBench's symbolic-solution test of a found model against the true formula.

    ``found``/``true``: sympy expressions or formula strings (strings are parsed with
    ``names`` as variables). Variables are matched by name. ``positive=True`` lets the
    simplifier assume every variable is positive (true for data sampled from positive
    ranges, as in most Feynman equations): then log(x)+log(y) equals log(x·y).
    Note the strictness of the criterion: a π approximated as 3.1416 *inside* a
    nonlinearity (sin(3.1416·x)) rounds to 3.142 and is not π.
    """
    if names is None:
        names = sorted({s.name for e in (found, true) if not isinstance(e, str) for s in sympy.sympify(e).free_symbols})
    true = _same_symbols(_as_expr(true, names), positive)
    found = _same_symbols(_as_expr(found, names), positive)
    found = round_floats(found, digits)
    if _is_bad(found):
        return False
    symbols = sorted(true.free_symbols | found.free_symbols, key=lambda s: s.name)
    diff, ratio = true - found, found / true
    rng = np.random.default_rng(0)
    diff_varies = _numerically_varies(diff, symbols, rng)
    ratio_varies = _numerically_varies(ratio, symbols, rng)
    if not diff_varies:
        d = sympy.simplify(diff)
        if not d.free_symbols and not d.has(sympy.nan, sympy.zoo):
            return True
    if not ratio_varies:
        r = sympy.simplify(ratio)
        if not r.free_symbols and r != 0 and not r.has(sympy.nan, sympy.zoo, sympy.oo):
            return True
    return False


__all__ = ["ACCURACY_R2", "r2_score", "is_accuracy_solution", "round_floats", "is_symbolic_solution"]
