"""Rewriting a formula into a simpler one that computes the same values, or fits as well.

* :func:`bounded_simplify`: ``sympy.simplify`` unless the expression is huge, stopped
  after a timeout (in any thread: :mod:`.time_limit`);
* :func:`expanded_alternative`: the expanded form with constants refit and snapped,
  when simpler at no cost in loss (polynomials in a shifted basis);
* :func:`linearized_alternative`: sin(z), tanh(z), … replaced by z where z is tiny on
  the data;
* :func:`roots_of_squares`: √(s²·r) as ±s·√r, the sign s has on the data;
* :func:`snap_exact`: without data, floats that equal simple values to round-off.

Each takes an optional ``deadline`` (a ``time.monotonic()`` value): past it the
expression is returned unchanged (or None: no alternative), and a rewrite under way is
stopped there.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy

from ..sample_weights import mean_square, weighted_var
from .constants import (
    MAX_REFIT_CONSTANTS,
    ConstantFit,
    clean_numbers,
    monic,
    snap_candidates,
)
from .formula import evaluate_expression, expression_complexity
from .time_limit import TimeLimitExceeded, call_with_time_limit

log = logging.getLogger(__name__)


def _time_left(timeout: float | None, deadline: float | None) -> float | None:
    """The timeout (None or 0: no limit) shortened to what is left before ``deadline``;
    -1 once the deadline has passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        return -1.0
    return left if not timeout else min(float(timeout), left)


def bounded_call(fn, timeout: float | None = 3.0, deadline: float | None = None):
    """fn(), or None when it takes longer than ``timeout`` seconds (or runs past
    ``deadline``): sympy rebuilding an expression of positive symbols with numbers in it
    may ask for the real roots of a large polynomial (log(…).is_zero), for minutes."""
    timeout = _time_left(timeout, deadline)
    if timeout == -1.0:
        return None
    try:
        return call_with_time_limit(fn, timeout)
    except TimeLimitExceeded:
        log.debug("%s stopped after %s s", getattr(fn, "__qualname__", fn), timeout)
        return None


def bounded_simplify(expr: sympy.Expr, max_ops: int = 150, timeout: float | None = 3.0,
                     deadline: float | None = None) -> sympy.Expr:
    """sympy.simplify unless the expression is huge or simplification takes too long
    (``timeout`` seconds, or past ``deadline``)."""
    timeout = _time_left(timeout, deadline)
    if timeout == -1.0:
        return expr
    if sympy.count_ops(expr) > max_ops:
        log.debug("simplify skipped: %d operations > %d", sympy.count_ops(expr), max_ops)
        return expr
    try:
        return call_with_time_limit(lambda: sympy.simplify(expr), timeout)
    except TimeLimitExceeded:
        log.debug("simplify stopped after %s s", timeout)
        return expr


def _allowed_loss(loss: float, y: np.ndarray, snap_rtol: float, snap_atol: float, weights=None) -> float:
    """The loss a rewrite of a formula may reach and still be taken: ``loss`` times the
    larger of 1 + snap_rtol and the BIC's price of one parameter, plus snap_atol·Var(y)."""
    n = max(len(y), 2)
    return loss * max(1.0 + snap_rtol, math.exp(math.log(n) / n)) + snap_atol * weighted_var(y, weights)


def expanded_alternative(expr: sympy.Expr, variables, X: np.ndarray, y: np.ndarray, loss: float, *,
                         snap_rtol: float = 1e-2, snap_atol: float = 1e-11, max_refit: int = MAX_REFIT_CONSTANTS,
                         max_ops: int = 150, timeout: float | None = 3.0, deadline: float | None = None,
                         weights: np.ndarray | None = None):
    """The expanded form of ``expr`` with its constants refit and snapped, if it is simpler
    at no cost in loss; ``(expr, loss)`` or None (also past ``deadline``). ``weights``
    (n,): the rows' weights in every loss (:mod:`symkan.sample_weights`).

    A network often computes a polynomial in a shifted, rescaled basis — e.g.
    (x₁ − 3.33)² + 1.04(x₂ − 3.33)² − 0.53(0.96x₁ + x₂ − 6.52)² — whose floats only
    cancel once multiplied out: expanded, the coefficients are 1, −2, 1, 0 … and snap.
    """
    timeout = _time_left(timeout, deadline)
    if timeout == -1.0:
        return None
    try:
        expanded = call_with_time_limit(lambda: sympy.expand(expr), timeout)
    except TimeLimitExceeded:
        return None
    if expanded == expr or sympy.count_ops(expanded) > max(3 * sympy.count_ops(expr), max_ops):
        return None
    cf = ConstantFit(clean_numbers(monic(expanded)), variables, X, y, weights)
    if not 0 < len(cf.syms) <= max_refit:
        return None
    cf.snap(rtol=snap_rtol, atol=snap_atol, refit=True, max_refit=max_refit, deadline=deadline)
    candidate = clean_numbers(cf.expression())
    simpler = clean_numbers(bounded_simplify(candidate, max_ops, timeout, deadline))
    for option in (simpler, candidate):
        try:
            vals = evaluate_expression(option, variables, X)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
            continue
        if not np.all(np.isfinite(vals)):
            continue
        new = mean_square(vals - y, weights)
        simpler_tree = expression_complexity(option) < expression_complexity(expr)
        if new <= _allowed_loss(loss, y, snap_rtol, snap_atol, weights) and simpler_tree:
            return option, new
    return None


#: functions that are the identity to first order at 0, f(z) = z + O(z³) (or O(z²))
_LINEAR_AT_ZERO = (sympy.sin, sympy.tan, sympy.tanh, sympy.asin, sympy.atan, sympy.atanh, sympy.sinh, sympy.asinh)
#: arguments below this everywhere on the data count as "near 0" for those functions
SMALL_ARGUMENT = 0.05


def linearized_alternative(expr: sympy.Expr, variables, X: np.ndarray, y: np.ndarray, loss: float, *,
                           snap_rtol: float = 1e-2, snap_atol: float = 1e-11, max_refit: int = MAX_REFIT_CONSTANTS,
                           small: float = SMALL_ARGUMENT, deadline: float | None = None,
                           weights: np.ndarray | None = None):
    """``expr`` with sin(z), tan(z), tanh(z), … replaced by z where |z| < ``small`` on
    every row of X, constants refit and snapped; ``(expr, loss)`` if that is no worse
    (same rule and ``weights`` as :func:`expanded_alternative`), else None (also past
    ``deadline``).

    An edge that should be the identity can be snapped to c·sin(a·x) with a tiny a —
    as accurate as the data can tell on its range — and then c·a·x never snaps to
    the simple constant it is (I.39.11: 563·sin(0.00178·V·p/(Γ − 1))).
    """
    rep = {}
    if deadline is not None and time.monotonic() > deadline:
        return None
    for node in expr.atoms(sympy.Function):
        if isinstance(node, _LINEAR_AT_ZERO):
            try:
                vals = evaluate_expression(node.args[0], variables, X)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
                continue
            if np.all(np.isfinite(vals)) and float(np.max(np.abs(vals))) < small:
                rep[node] = node.args[0]
    if not rep:
        return None
    candidate = clean_numbers(expr.xreplace(rep))
    if candidate.atoms(sympy.Float):
        cf = ConstantFit(candidate, variables, X, y, weights)
        if not 0 < len(cf.syms) <= max_refit:
            return None
        cf.snap(rtol=snap_rtol, atol=snap_atol, refit=True, max_refit=max_refit, deadline=deadline)
        candidate = clean_numbers(cf.expression())
    try:
        vals = evaluate_expression(candidate, variables, X)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return None
    if not np.all(np.isfinite(vals)):
        return None
    new = mean_square(vals - y, weights)
    return (candidate, new) if new <= _allowed_loss(loss, y, snap_rtol, snap_atol, weights) else None


def roots_of_squares(expr: sympy.Expr, variables, X: np.ndarray, timeout: float | None = 3.0,
                     deadline: float | None = None) -> sympy.Expr:
    """``expr`` with every square factor s² under a half-integer power (√(s²·r), (s²·r)^(−1/2))
    taken out as ±s, and every |s| written ±s, by the sign that s has on every row of X
    (n, d) (columns in the order of ``variables``); factors that change sign on the data
    stay as they are.

    A law fitted through its square (y² split into factors) comes back as the root of a
    perfect square: x·√((1 − ut/x)²/(1 − u²/c²)) equals (x − ut)/√(1 − u²/c²) wherever
    x > ut, as on I.15.3x's data, but sympy cannot show it for positive symbols alone."""
    rep = {}
    for absolute in expr.atoms(sympy.Abs):  # sympy's own |s| of √(s²·c) with c > 0
        sign = _sign_on_rows(absolute.args[0], variables, X)
        if sign:
            rep[absolute] = sign * absolute.args[0]
    roots = [p for p in expr.atoms(sympy.Pow) if p.exp.is_Rational and p.exp.q == 2]
    for root in roots:
        num_den = bounded_call(lambda root=root: [sympy.factor_list(part) for part in
                                                  sympy.fraction(sympy.together(root.base))], timeout, deadline)
        if num_den is None:
            continue
        pulled, outside = sympy.Integer(1), sympy.Integer(1)
        for (_, factors), sign_of_power in zip(num_den, (1, -1)):
            for base, power in factors:
                # a positive symbol's square sympy takes out by itself
                compound = not (base.is_Symbol or base.is_Number)
                sign = _sign_on_rows(base, variables, X) if power % 2 == 0 and compound else 0
                if sign:
                    pulled *= base ** (sign_of_power * power)
                    outside *= (sign * base) ** (sign_of_power * power * root.exp)
        if outside != 1:  # what stays under the root, as one rational expression
            inside = bounded_call(lambda root=root, pulled=pulled: sympy.cancel(root.base / pulled), timeout, deadline)
            if inside is not None:
                rep[root] = outside * _power_of_ratio(inside, root.exp, variables, X)
    if not rep:
        return expr
    new = expr.xreplace(rep)
    try:
        same = np.allclose(evaluate_expression(new, variables, X), evaluate_expression(expr, variables, X),
                           rtol=1e-9, atol=0.0, equal_nan=True)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return expr
    return new if same else expr


def _power_of_ratio(ratio: sympy.Expr, exponent, variables, X: np.ndarray) -> sympy.Expr:
    """ratio^exponent as n^exponent / d^exponent (n/d = ratio) where n and d are positive on
    the rows X (after flipping both signs): 1/√(c² − u²), not √(−1/(u² − c²)), which sympy
    cannot match to √(1 − u²/c²)."""
    n, d = sympy.fraction(ratio)
    signs = (_sign_on_rows(n, variables, X), _sign_on_rows(d, variables, X))
    if signs == (-1, -1):
        n, d, signs = -n, -d, (1, 1)
    return n ** exponent / d ** exponent if signs == (1, 1) else ratio ** exponent


def _sign_on_rows(expr: sympy.Expr, variables, X: np.ndarray) -> int:
    """+1 or −1 when ``expr`` has that sign on every row of X, else 0."""
    try:
        values = evaluate_expression(expr, variables, X)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return 0
    if np.all(values > 0):
        return 1
    return -1 if np.all(values < 0) else 0


def snap_exact(expr: sympy.Expr, rtol: float = 1e-9) -> sympy.Expr:
    """Without data: replace floats that equal a simple value (integer, simple rational,
    rational multiple of π) to within ``rtol`` relative, and ±0 floats by 0."""
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        for c in snap_candidates(v, window=rtol):
            rep[f] = c
            break
        else:
            if abs(v) < 1e-300:
                rep[f] = sympy.Integer(0)
    return expr.xreplace(rep) if rep else expr


__all__ = ["SMALL_ARGUMENT", "bounded_simplify", "expanded_alternative", "linearized_alternative", "roots_of_squares",
           "snap_exact"]
