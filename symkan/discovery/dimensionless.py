"""Discovery in dimensionless groups: with units, y = y_ref · F(π₁, …, π_k).

The Buckingham π groups and the reference y_ref come from :mod:`symkan.units.analysis`;
this stage turns them into a smaller problem — inputs π (n, k), target y / y_ref — runs
the ordinary search on it (:func:`.table_search.search_table`) and maps every formula
back: F(π(x)) · y_ref(x), simplified, its constants refit and snapped on the user's rows
and scored on their held-out rows. Those formulas are dimensionally consistent by
construction (their constants multiply dimensionless groups).

When no group is left (k = 0) the law is C·y_ref, and the search runs on the single input
y_ref → y (the log space's [1, 1] network finds C·y_ref exactly). A group that is constant
on the data is dropped; inputs where a group or y_ref is not finite or y_ref is zero
make the reduction unusable (None: the caller searches the raw inputs only).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import sympy

from ..symbolic.names import variable_symbols
from ..units.analysis import DimensionalAnalysis, power_product
from .budget import Budget
from .context import SearchSettings
from .errors import DiscoveryError
from .final import refit_and_score
from .sampling import RowSplit
from .searching import SearchResult, front_of, held_out_variance
from .snapping import checked_formula
from .streaming import report_formulas
from .table_search import search_table

log = logging.getLogger(__name__)

#: a target is constant when its spread is below this fraction of its size
CONSTANT_RTOL = 1e-10
#: the reduced search's row weights (y_ref²) span at most this ratio
WEIGHT_RANGE = 1e3


@dataclass(frozen=True, eq=False)
class Reduction:
    """The smaller problem: inputs ``X`` (n, k) named ``names``, target ``y`` (n,);
    ``exponents`` (k, d): the inputs as products of the user's columns; ``scaled``: the
    target is y / y_ref (else y itself, with y_ref the only input)."""

    analysis: DimensionalAnalysis
    X: np.ndarray
    y: np.ndarray
    names: list
    exponents: np.ndarray
    scaled: bool

    @property
    def is_identity(self) -> bool:
        """Whether the smaller problem is the user's own: every input is dimensionless
        (its own group, in its own orientation) and so is y (y_ref = 1)."""
        E = self.exponents  # a permutation matrix when the groups are the columns
        return self.scaled and not np.any(self.analysis.reference) and E.shape[0] == E.shape[1] and \
            bool(np.all((E == 0) | (E == 1)) and np.all(E.sum(axis=0) == 1) and np.all(E.sum(axis=1) == 1))

    def user_expression(self, expr: sympy.Expr, variables, symbols) -> sympy.Expr:
        """A formula F of the reduced inputs ``variables`` as one of the user's
        ``symbols``: F(π(x))·y_ref(x) (or F(y_ref(x)))."""
        inputs = [power_product(symbols, e) for e in self.exponents]
        mapped = expr.xreplace(dict(zip(variables, inputs)))
        return mapped * self.analysis.reference_expr(symbols) if self.scaled else mapped


def reduce(analysis: DimensionalAnalysis, X: np.ndarray, y: np.ndarray) -> Reduction | None:
    """The reduced problem of ``analysis`` on X (n, d), y (n,), or None (with the reason
    logged) where a group or y_ref is undefined on the data."""
    ref = analysis.reference_values(X)
    groups = analysis.group_values(X)
    if not np.all(np.isfinite(ref)) or np.any(ref == 0) or not np.all(np.isfinite(groups)):
        log.warning("units: the groups %s are undefined on some rows (zero or negative values); searching the "
                    "inputs as given", analysis.describe())
        return None
    varies = [k for k in range(groups.shape[1]) if np.ptp(groups[:, k]) > 0]
    # each group of two or more inputs oriented to be small on the data (v/c, not c/v):
    # physical laws are usually simplest in their small parameters. A dimensionless input
    # on its own keeps the user's orientation: θ of cos θ or n of n·sin θ is the quantity
    # the law is written in, and 1/θ would make cos θ a composition (cos(1/π₁))
    lone = np.count_nonzero(analysis.groups, axis=1) == 1
    flip = np.where((np.median(np.abs(groups), axis=0) > 1) & ~lone, -1, 1)
    with np.errstate(all="ignore"):
        flipped = groups ** flip
    flip = np.where(np.all(np.isfinite(flipped), axis=0), flip, 1)  # a zero stays in the numerator
    groups, exponents = np.where(flip < 0, flipped, groups), (analysis.groups * flip[:, None])[varies]
    target = y / ref
    if not varies or np.ptp(target) <= CONSTANT_RTOL * np.max(np.abs(target)):  # y = C·y_ref
        return Reduction(analysis, ref[:, None], y, ["ref"], analysis.reference[None, :], False)
    return Reduction(analysis, groups[:, varies], target, [f"pi{k + 1}" for k in range(len(varies))], exponents,
                     True)


def search_groups(analysis: DimensionalAnalysis, X: np.ndarray, y: np.ndarray, names: list, split: RowSplit,
                  settings: SearchSettings, *, log_space="auto", budget: Budget | None = None,
                  on_stage=None, on_formula=None, whole: Budget | None = None) -> SearchResult | None:
    """Formulas for y ≈ f(X) found in the dimensionless groups of ``analysis``, in the
    user's columns ``names`` and scored on their held-out rows; None when the reduction
    does not apply or its search found nothing. ``on_formula(entries)`` hears of the
    formulas once they are mapped to the user's columns (:mod:`.streaming`). ``budget``:
    this search's share of ``whole``, the fit's budget, within which its most accurate
    formula is still mapped when the share is spent (the others are mapped within the share)."""
    reduction = reduce(analysis, X, y)
    if reduction is None:
        return None
    if reduction.is_identity:  # the same search as the one in the inputs, which follows
        log.info("units: every column is dimensionless; searching the inputs as given")
        return None
    budget = budget or Budget()
    log.info("units: %s", analysis.describe())
    try:
        found = search_table(reduction.X, reduction.y, reduction.names, reduced_split(split, reduction, X), settings,
                             log_space=False if log_space is False else "auto", budget=budget,
                             on_stage=on_stage, final=False)
    except DiscoveryError as err:
        log.warning("units: the search in dimensionless groups found nothing (%s)", err)
        return None
    rows = split.search_rows(names, X, y)
    symbols = [sympy.Symbol(s.name, positive=True) if np.all(X[:, j] > 0) else s
               for j, s in enumerate(variable_symbols(names))]
    final_rows = split.final_rows(names, X, y)
    with budget.metering():  # the refits of the mapped formulas count on the budget
        # the most accurate first: the time left goes to the formula that matters most
        ranked = sorted(((f, a) for a in found.attempts for f in a.formulas), key=lambda fa: fa[0].loss)
        mapped = {id(f): _mapped(f, reduction, symbols, rows, (whole or budget) if k == 0 else budget)
                  for k, (f, _) in enumerate(ranked)}
        for attempt in found.attempts:
            attempt.formulas = [mapped[id(f)] for f in attempt.formulas if mapped[id(f)] is not None]
            attempt.transform = replace(attempt.transform, groups=reduction.exponents,
                                        reference=analysis.reference if reduction.scaled else None)
        if final_rows is not None:
            refit_and_score([f for a in found.attempts for f in a.formulas], final_rows, budget.cutoff)
    try:
        result = front_of(found.attempts, held_out_variance(final_rows or rows))
    except DiscoveryError:
        return None
    result.rows = rows
    report_formulas(on_formula, [e.formula for e in result.front], held_out_variance(final_rows or rows))
    return result


def reduced_split(split: RowSplit, reduction: Reduction, X: np.ndarray) -> RowSplit:
    """The user's ``split`` of X (n, d) for the search of the reduced problem, its rows weighted by
    y_ref² (times the user's weights), so that the search minimises the error in y, not in
    y / y_ref: noise on y is amplified where y_ref is small (m₀ = 1 of m₀·γ(v/c) on σ = 0.01
    data: γ's rows there are five times noisier than at m₀ = 5). The weights are scaled to
    a mean of 1 and kept within ``WEIGHT_RANGE`` of the largest, so that every row still
    counts."""
    if not reduction.scaled:
        return split
    ref = reduction.analysis.reference_values(X)
    weight = ref ** 2 * (1.0 if split.weight is None else split.weight)
    weight = np.maximum(weight, weight.max() / WEIGHT_RANGE)
    return replace(split, weight=weight / weight.mean())


def _mapped(formula, reduction: Reduction, symbols, rows, budget: Budget):
    """One reduced formula in the user's columns, refit and scored (None if it fails)."""
    expr = reduction.user_expression(formula.expr, formula.variables, symbols)
    return checked_formula(expr, symbols, rows, budget, f"mapping {formula} from the dimensionless groups",
                           getattr(formula, "network", None))
