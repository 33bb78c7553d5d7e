"""Small tables: formulas refit on every row, constants snapped when the data cannot
tell the simple value from the fitted one, and every formula cross-validated.

A table of fewer than :data:`.sampling.SMALL_DATA_ROWS` rows is searched as any other
(on its training rows, its held-out rows steering pruning and stopping), but a 20 %
hold-out of eight rows is two rows: a loss on them ranks formulas by chance. So
:func:`small_data_result` then takes every formula the search found through three steps:

* **refit**: its float constants are refit on all rows;
* **snapping within the noise** (:func:`snap_within_noise`): every float constant left
  is offered its simple values again (:func:`symkan.symbolic.constants.snap_candidates`),
  and a snap is kept unless an F-test at :data:`SNAP_SIGNIFICANCE` (1 %) finds the extra
  residual sum of squares significant against the noise of the data
  (:class:`symkan.symbolic.constants.NoiseTest`). The noise is estimated once per
  table (:func:`estimate_noise`): σ̂² = RSS/(n − k) of the formula that fits best, among
  those with at most n/2 numbers k read off the data (free or snapped,
  :func:`fitted_numbers`), under the noise model of higher likelihood — absolute errors (fixed decimals) or, for a target that is never
  zero, relative ones (values rounded to significant digits: residuals r/|y|). Under
  relative errors the constants left free are then refit on plain residuals.
  Noise-free data have round-off residuals: no simple value is within that noise unless
  it is the value (x^√2 keeps its 1.4142…);
* **scoring by K-fold cross-validation** (:func:`cross_validated_mse`): the rows, in the
  seed's random order, are dealt into K = min(n, :data:`MAX_FOLDS`) folds (leave-one-out
  up to ten rows); each fold is predicted by the formula with its float constants refit
  on the other rows (snapped constants stay as they are). The formula's ``loss`` is the
  mean squared error of those predictions, so 1 − loss/Var(y), the R² the front reports,
  is a cross-validated R²; a free constant that fits noise costs accuracy there.

The Pareto front is then rebuilt from these losses, with two baselines (the constant
mean and the linear fit, :func:`baselines`), keeping only formulas significantly better
than every simpler kept one (:func:`significant_entries`). Tables of
``SMALL_DATA_ROWS`` rows or more never come here: their search and scoring are unchanged.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy

from ..pareto import ParetoEntry, ParetoFront
from ..symbolic.constants import (
    MAX_REFIT_CONSTANTS,
    ConstantFit,
    NoiseTest,
    clean_numbers,
)
from ..symbolic.formula import Formula, evaluate_expression
from ..symbolic.names import variable_symbols
from ..symbolic.simplify import bounded_simplify
from .budget import Budget
from .sampling import RowSplit
from .searching import SearchResult
from .spaces import finite_mse

log = logging.getLogger(__name__)

#: the F-test level at which a snapped constant counts as significantly worse
SNAP_SIGNIFICANCE = 0.01
#: folds of the cross-validation (fewer rows: leave-one-out)
MAX_FOLDS = 10
#: seconds one formula's snaps may take
SNAP_SECONDS = 2.0
#: differences of residual sums of squares below this fraction of the target's are
#: round-off (as ``ConstantFit.snap``'s atol)
ROUND_OFF = 1e-11


def noise_weights(y: np.ndarray) -> dict:
    """Residual weights of the noise models of target y (n,): ``"absolute"`` (None) and,
    when y is never zero, ``"relative"`` (1/|y|)."""
    models = {"absolute": None}
    if np.all(y != 0):
        models["relative"] = 1.0 / np.abs(y)
    return models


def _row_weights(weights):
    """The rows' weights in a :class:`ConstantFit`'s loss (Σw·r²/Σw) of residual weights
    (residuals times ``weights``): their squares."""
    return None if weights is None else weights ** 2


def _free_fit(formula, X, y, weights, deadline):
    """A ConstantFit of ``formula`` with every float refit under residual ``weights`` (None
    when it has none, or too many to refit)."""
    fit = ConstantFit(formula.expr, formula.variables, X, y, _row_weights(weights))
    if not 0 < len(fit.syms) <= MAX_REFIT_CONSTANTS:
        return None
    fit.values, _ = fit.refit(fit.values, np.ones(len(fit.syms), dtype=bool), deadline=deadline)
    return fit


def fitted_numbers(expr: sympy.Expr) -> int:
    """How many numbers of ``expr`` were read off the data: every float, and every exact
    number snapped from one (72, 2/3 in 2π/3, 3/2) — not 0, ±1, ±2, ±1/2, which the
    expression's form writes (x/y, x², √x)."""
    def read_off(node) -> bool:
        if isinstance(node, sympy.Float):
            return True
        return isinstance(node, sympy.Rational) and not (abs(node.p) <= 2 and node.q <= 2)

    return sum(read_off(node) for node in sympy.preorder_traversal(expr))


def estimate_noise(formulas: list, X: np.ndarray, y: np.ndarray, deadline: float | None = None,
                   significance: float = SNAP_SIGNIFICANCE):
    """(weights, :class:`NoiseTest`) of the noise of X (n, d), y (n,) as the ``formulas``
    see it (see the module docstring), or None when no formula leaves enough degrees of
    freedom. ``weights``: None (absolute errors) or 1/|y| (relative errors)."""
    n = len(y)
    best = None  # (log-likelihood, weights, variance, dof)
    for name, weights in noise_weights(y).items():
        jacobian = 0.0 if weights is None else float(np.sum(np.log(weights)))  # σ_i = σ·|y_i|
        lowest = None
        for f in formulas:
            k = fitted_numbers(f.expr)
            if n - k < max(1, n / 2):
                continue
            fit = _free_fit(f, X, y, weights, deadline) if f.expr.atoms(sympy.Float) else None
            if fit is None and f.expr.atoms(sympy.Float):
                continue
            with np.errstate(all="ignore"):
                r = (evaluate_expression(f.expr, f.variables, X) if fit is None else fit.predict(fit.values)) - y
            rss = float(np.sum((r if weights is None else r * weights) ** 2))
            if math.isfinite(rss) and (lowest is None or rss / (n - k) < lowest[0]):
                lowest = (rss / (n - k), n - k)
        if lowest is None:
            continue
        variance, dof = lowest
        loglik = -0.5 * n * math.log(max(variance, 1e-300)) + jacobian
        log.debug("small data: %s errors, noise variance %.3g (%d dof), log-likelihood %.4g", name, variance,
                  dof, loglik)
        if best is None or loglik > best[0]:
            best = (loglik, weights, variance, dof)
    if best is None:
        return None
    loglik, weights, variance, dof = best
    # the test compares ConstantFit losses, whose weighted mean divides by mean(weights²)
    scale = 1.0 if weights is None else float(np.mean(weights ** 2))
    return weights, NoiseTest(variance / scale, dof, significance)


def snap_within_noise(formula, X: np.ndarray, y: np.ndarray, weights, noise: NoiseTest,
                      deadline: float | None = None) -> bool:
    """Snap the float constants of ``formula`` (in place: ``expr`` and ``loss``, the MSE on
    X (n, d), y (n,)) whose snap the F-test ``noise`` on residuals times ``weights`` (the
    noise model of :func:`estimate_noise`) cannot tell from the free fit. Returns whether
    it changed."""
    if not formula.expr.atoms(sympy.Float):
        return False
    fit = ConstantFit(formula.expr, formula.variables, X, y, _row_weights(weights))
    if not 0 < len(fit.syms) <= MAX_REFIT_CONSTANTS:
        return False
    fit.snap(time_limit=SNAP_SECONDS, deadline=deadline, noise=noise)
    if all(e is None for e in fit.exact):
        return False
    expr = fit.expression()
    if weights is not None and expr.atoms(sympy.Float):  # the free constants fit plain residuals
        plain = ConstantFit(expr, formula.variables, X, y)
        plain.values, _ = plain.refit(plain.values, np.ones(len(plain.syms), dtype=bool), deadline=deadline)
        expr = plain.expression()
    expr = clean_numbers(bounded_simplify(expr, 150, 3.0, deadline))
    with np.errstate(all="ignore"):
        loss = finite_mse(evaluate_expression(expr, formula.variables, X), y)
    if not np.isfinite(loss):
        return False
    log.info("small data: %s snapped to %s", formula.expr, expr)
    formula.expr, formula.loss = expr, loss
    return True


def refit_on_rows(formula, X: np.ndarray, y: np.ndarray, deadline: float | None = None) -> None:
    """Refit the float constants of ``formula`` (in place) on X (n, d), y (n,)."""
    if not formula.expr.atoms(sympy.Float):
        return
    fit = _free_fit(formula, X, y, None, deadline)
    if fit is not None and math.isfinite(fit.loss(fit.values)):
        formula.expr = fit.expression()


def folds(order: np.ndarray) -> list:
    """The held-out rows of each fold: ``order`` (a permutation of the rows) dealt into
    min(n, ``MAX_FOLDS``) folds."""
    k = min(len(order), MAX_FOLDS)
    return [order[j::k] for j in range(k)]


def cross_validated_predictions(formula, X: np.ndarray, y: np.ndarray, order: np.ndarray,
                                deadline: float | None = None) -> np.ndarray:
    """K-fold cross-validated predictions (n,) of ``formula`` on X (n, d), y (n,) (folds of
    :func:`folds` over ``order``): each fold predicted with the formula's float constants
    refit on the other rows. A formula without floats (or with more than
    ``MAX_REFIT_CONSTANTS``, or past ``deadline``) is not refit: its own predictions. A
    fold whose refit gives non-finite predictions keeps the formula's own."""
    with np.errstate(all="ignore"):
        pred = np.array(formula.evaluate(X), dtype=np.float64)
    if len(y) < 2 or not np.all(np.isfinite(pred)) or not formula.expr.atoms(sympy.Float):
        return pred
    fit = ConstantFit(formula.expr, formula.variables, X, y)
    if not 0 < len(fit.syms) <= MAX_REFIT_CONSTANTS:
        return pred
    free = np.ones(len(fit.syms), dtype=bool)
    for held in folds(order):
        rest = np.setdiff1d(order, held)
        with np.errstate(all="ignore"):  # a wild refit on few rows is expected, not news
            values, _ = fit.on_rows(rest, X, y).refit(fit.values, free, deadline=deadline)
            fold_pred = fit.on_rows(held, X, y).predict(values)
        if np.all(np.isfinite(fold_pred)):
            pred[held] = fold_pred
    return pred


def cross_validated_mse(formula, X: np.ndarray, y: np.ndarray, order: np.ndarray,
                        deadline: float | None = None) -> float:
    """The MSE of :func:`cross_validated_predictions` (inf where one is not finite)."""
    return finite_mse(cross_validated_predictions(formula, X, y, order, deadline), y)


def significant_entries(formulas: list, residual_ss: list, noise: NoiseTest | None, scale: float,
                        var: float) -> list:
    """ParetoEntries of the ``formulas`` (``loss``: cross-validated MSE) that a small table
    supports: by complexity, each kept only when its cross-validated residual sum of
    squares (``residual_ss``, weighted as the noise model says) is below that of every
    simpler kept formula by more than the noise explains — F(1, dof)·σ̂², plus round-off
    (``ROUND_OFF``·``scale``, the weighted target's sum of squares) — so that a stand-in
    no better than a simpler law within the noise (exp(c·asin(sin(ε·log a))) for
    a^(3/2)) does not displace it. Without ``noise``: every finite formula."""
    order = sorted(range(len(formulas)), key=lambda j: (formulas[j].complexity, residual_ss[j]))
    kept = []
    for j in order:
        if not math.isfinite(residual_ss[j]) or not math.isfinite(formulas[j].loss):
            continue
        if noise is not None:
            margin = noise.margin(1) + ROUND_OFF * scale
            simpler = [i for i in kept if formulas[i].complexity < formulas[j].complexity]
            if any(residual_ss[i] - residual_ss[j] <= margin for i in simpler):
                continue
        kept.append(j)
    return [ParetoEntry(formulas[j].complexity, formulas[j].loss, formulas[j].loss / var, formulas[j])
            for j in kept]


def baselines(names: list, X: np.ndarray, y: np.ndarray) -> list:
    """The formulas a small table's front starts from: the constant mean(y) and the
    linear least-squares fit c₀ + Σ cᵢ·xᵢ of the columns ``names`` of X (n, d)."""
    symbols = variable_symbols(names)
    design = np.column_stack([np.ones(len(y)), X])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    linear = sympy.Float(coef[0]) + sum(sympy.Float(c) * s for c, s in zip(coef[1:], symbols))
    out = []
    for expr in (sympy.Float(float(np.mean(y))), linear):
        with np.errstate(all="ignore"):
            loss = finite_mse(evaluate_expression(expr, symbols, X), y)
        out.append(Formula(clean_numbers(expr), symbols, loss, None, names=names))
    return out


def small_data_result(result: SearchResult, X: np.ndarray, y: np.ndarray, split: RowSplit,
                      budget: Budget) -> SearchResult:
    """``result`` of a search on the small table X (n, d), y (n,) with every formula
    refit on all rows, snapped within the noise and scored by cross-validation
    (``loss``), and its front rebuilt from the formulas the noise supports
    (:func:`significant_entries`; nmse = loss / Var(y))."""
    t0 = time.perf_counter()
    deadline = budget.cutoff
    owners = {id(f): attempt for attempt in result.attempts for f in attempt.formulas}
    formulas = [f for attempt in result.attempts for f in attempt.formulas]
    for f in baselines(result.rows.names, X, y):  # the simple end of the front (no network of their own)
        owners[id(f)] = result.attempts[0]
        formulas.append(f)
    for f in formulas:
        refit_on_rows(f, X, y, deadline)
    noise = estimate_noise(formulas, X, y, deadline)
    weights, test = noise if noise is not None else (None, None)
    snapped = sum(snap_within_noise(f, X, y, weights, test, deadline) for f in formulas) if test else 0
    order = np.concatenate([split.train, split.val])  # the seed's permutation of the rows
    residual_ss = []
    for f in formulas:
        pred = cross_validated_predictions(f, X, y, order, deadline)
        f.loss = finite_mse(pred, y)
        r = pred - y if weights is None else (pred - y) * weights
        residual_ss.append(float(np.sum(r * r)) if np.all(np.isfinite(r)) else math.inf)
    var = float(np.var(y)) or 1.0
    scale = float(np.sum((y if weights is None else y * weights) ** 2))
    front = ParetoFront(significant_entries(formulas, residual_ss, test, scale, var))
    if not len(front):  # nothing finite: the search's own verdict
        return result
    log.info("small data (%d rows): %d of %d formulas snapped within the noise, all scored by %d-fold "
             "cross-validation in %.2f s; %d on the front", len(y), snapped, len(formulas), len(folds(order)),
             time.perf_counter() - t0, len(front))
    return SearchResult(result.attempts, front, owners, result.rows)
