"""Rewriting a formula into a simpler one that computes the same values, or fits as well.

* :func:`bounded_simplify`: ``sympy.simplify`` unless the expression is huge, stopped
  after a timeout (in any thread: :mod:`.time_limit`);
* :func:`expanded_alternative`: the expanded form with constants refit and snapped,
  when simpler at no cost in loss (polynomials in a shifted basis);
* :func:`linearized_alternative`: sin(z), tanh(z), … replaced by z where z is tiny on
  the data;
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


__all__ = ["SMALL_ARGUMENT", "bounded_simplify", "expanded_alternative", "linearized_alternative", "snap_exact"]
