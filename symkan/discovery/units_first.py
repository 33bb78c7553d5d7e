"""The search of a fit: in dimensionless groups first when the columns have units, then
in the inputs as given while time remains; both feed one Pareto front, so units never
make the result worse. Every formula on the front is checked for dimensional
consistency when units are known (``ParetoEntry.consistent``)."""
from __future__ import annotations

import logging

import numpy as np

from ..pareto import ParetoFront
from ..units.analysis import DimensionalAnalysis
from ..units.consistency import consistency_problem
from .budget import Budget
from .context import SearchSettings
from .dimensionless import search_groups
from .errors import DiscoveryError
from .noise import within_noise
from .sampling import RowSplit
from .searching import SearchResult, held_out_variance
from .small_data import small_data_result
from .table_search import search_table
from .training import EXACT_NMSE

log = logging.getLogger(__name__)

#: share of a budget (time and work) the search in dimensionless groups may use when they reduce the problem
GROUPS_SHARE = 0.75


def discover(X: np.ndarray, y: np.ndarray, names: list, split: RowSplit, settings: SearchSettings, *,
             hidden=None, log_space="auto", budget: Budget | None = None, on_stage=None,
             analysis: DimensionalAnalysis | None = None, on_formula=None) -> SearchResult:
    """Formulas y ≈ f(X): with ``analysis`` (the columns' units) first in its groups
    (:func:`.dimensionless.search_groups`); then in the raw inputs unless a formula of the
    groups reproduces the held-out rows to round-off or the budget is spent. On a
    ``split.small_data`` split the formulas are then snapped within the noise and
    cross-validated (:mod:`.small_data`).
    ``on_formula(entries)`` hears of formulas as they are found (:mod:`.streaming`)."""
    budget = budget or Budget()
    result = _search(X, y, names, split, settings, hidden, log_space, budget, on_stage, analysis, on_formula)
    if not split.small_data:
        return result
    with budget.metering():  # its refits and snaps count on the work budget
        return small_data_result(result, X, y, split, budget)


def _search(X, y, names, split, settings, hidden, log_space, budget, on_stage, analysis,
            on_formula) -> SearchResult:
    """:func:`discover` before the small-data step."""
    grouped = None
    if analysis is not None and hidden is None:
        grouped = search_groups(analysis, X, y, names, split, settings, log_space=log_space,
                                budget=groups_budget(budget, analysis.n_groups, X.shape[1]), on_stage=on_stage,
                                on_formula=on_formula, whole=budget)
    if grouped is not None and (min(e.nmse for e in grouped.front) < EXACT_NMSE or budget.spent or within_noise(
            [e.formula for e in grouped.front], grouped.rows, held_out_variance(grouped.rows)) is not None):
        return grouped
    try:
        raw = search_table(X, y, names, split, settings, hidden=hidden, log_space=log_space, budget=budget,
                           on_stage=on_stage, on_formula=on_formula)
    except DiscoveryError:
        if grouped is None:
            raise
        return grouped
    return raw if grouped is None else merged(grouped, raw)


def groups_budget(budget: Budget, n_groups: int, n_inputs: int) -> Budget:
    """The share of ``budget`` the search in the groups may use, from the same start:
    ``GROUPS_SHARE`` when the groups make the problem smaller by at least two inputs
    (or leave at most two), else half — with as many groups as inputs the raw inputs are
    as promising (x₁y₁ + x₂y₂ + x₃y₃ is simpler than its ratios)."""
    if budget.seconds is None and budget.evaluations is None:
        return budget
    share = GROUPS_SHARE if n_groups <= max(2, n_inputs - 2) else 0.5
    return budget.share(share)


def merged(first: SearchResult, second: SearchResult) -> SearchResult:
    """One result of two searches on the same rows: every attempt, one front."""
    front = ParetoFront([*first.front, *second.front])
    return SearchResult(first.attempts + second.attempts, front, {**first.owners, **second.owners}, first.rows)


def mark_consistency(front: ParetoFront, input_dims: list, target_dim: dict) -> list:
    """Set each entry's ``consistent`` (the formula's units are the target's, every
    constant dimensionless); returns the problems of the inconsistent ones."""
    problems = []
    for entry in front:
        dims = dict(zip(entry.formula.variables, input_dims))
        problem = consistency_problem(entry.formula.expr, dims, target_dim)
        entry.consistent = problem is None
        if problem:
            problems.append(f"{entry.formula.expr}: {problem}")
    return problems
