"""One search on one table: data spaces, ladder and the search loop for inputs X and a
target y (the user's columns, or the dimensionless groups of :mod:`.dimensionless`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .budget import Budget
from .context import SearchSettings
from .final import refit_and_score
from .ladder import build_ladder
from .noise import within_noise
from .peeling import peel_formulas
from .sampling import RowSplit
from .searching import SearchResult, front_of, held_out_variance, search
from .spaces import make_space, space_functions, space_names
from .streaming import report_formulas
from .training import EXACT_NMSE
from .univariate import univariate_attempt


def search_table(X: np.ndarray, y: np.ndarray, names: list, split: RowSplit, settings: SearchSettings, *,
                 hidden=None, log_space="auto", budget: Budget | None = None, on_stage=None,
                 final: bool = True, on_formula=None) -> SearchResult:
    """Search formulas y ≈ f(X) (X (n, d), y (n,), columns ``names``) on the rows of
    ``split``: each space of ``log_space`` ("auto", True, False) standardised on its
    training rows, the ladder of ``hidden`` (None: :func:`.ladder.build_ladder`'s) in
    ``settings``. With ``final`` and a subsampled split, the formulas are refit and
    scored on all rows at the end (:mod:`.final`). The result's ``rows`` are the rows
    the search scored on. A one-input problem is first fitted directly
    (:mod:`.univariate`); the ladder runs when that is not exact to round-off. With three
    or more inputs and the automatic ladder, inputs that split off are peeled and the
    smaller problem is searched the same way (:mod:`.peeling`).
    ``on_formula(entries)`` hears of formulas as they are found (:mod:`.streaming`)."""
    spaces = {name: make_space(name, X, y, split.search_train, split.search_val, split.weight)
              for name in space_names(log_space, X, y)}
    ladder = build_ladder(X.shape[1], log_space="log" in spaces, hidden=hidden,
                          hidden_space="log" if log_space is True else "linear")
    rows = split.search_rows(names, X, y)
    final_rows = split.final_rows(names, X, y) if final else None
    budget = budget or Budget()
    with budget.metering():
        direct = None
        if X.shape[1] == 1 and hidden is None:  # one input: fit it directly first
            if on_stage is not None:
                on_stage("univariate fit")
            direct = univariate_attempt(spaces["linear"], rows, settings, budget)
            if direct is not None:
                report_formulas(on_formula, direct.formulas, held_out_variance(rows))
            if direct is not None and (direct.numeric_nmse < EXACT_NMSE or within_noise(
                    direct.formulas, rows, held_out_variance(rows), direct.numeric_nmse) is not None):
                if final_rows is not None:
                    refit_and_score(direct.formulas, final_rows, budget.cutoff)
                result = front_of([direct], held_out_variance(final_rows or rows))
                result.rows = rows
                return result
        peel = None
        if hidden is None and X.shape[1] >= 3:  # the search's own ladder may peel separable inputs off
            def peel(model, transform, accuracy):
                return peel_formulas(model, transform, rows, settings, space_functions(settings.functions, "linear"),
                                     budget, search_table, accuracy)
        result = search(spaces, replace(settings, ladder=ladder), rows, budget, on_stage=on_stage,
                        final_rows=final_rows, on_formula=on_formula, peel=peel)
        if direct is not None:
            if final_rows is not None:
                refit_and_score(direct.formulas, final_rows, budget.cutoff)
            result = front_of([direct, *result.attempts], held_out_variance(final_rows or rows))
        result.rows = rows
        return result
