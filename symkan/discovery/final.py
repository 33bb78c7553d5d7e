"""The last stage of a search run on a subsample of a large table (see :mod:`.sampling`):
the constants of every formula found are refit on all the training rows, and every
formula is scored on all the held-out rows (each up to ``sampling.FINAL_ROWS``).

The refit is a least-squares fit of the floats left in a formula (snapped constants
stay exact, nothing is snapped anew), best formula first, until the budget's cutoff;
formulas not reached keep the constants fitted on the subsample. Scoring is a plain
evaluation and always runs, so that every formula is compared on the same rows.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import sympy

from .. import work
from ..symbolic.constants import MAX_REFIT_CONSTANTS, ConstantFit
from .context import UserRows
from .spaces import finite_mse

log = logging.getLogger(__name__)


def refit_constants(formula, rows: UserRows, deadline: float | None = None) -> bool:
    """Refit the floats of ``formula`` (in place) on the training rows of ``rows``, until
    ``deadline`` (a ``time.monotonic()`` value). Returns whether its expression changed."""
    if not formula.expr.atoms(sympy.Float):
        return False
    cf = ConstantFit(formula.expr, formula.variables, rows.X, rows.y, rows.w)
    if not 0 < len(cf.syms) <= MAX_REFIT_CONSTANTS:
        return False
    values, loss = cf.refit(cf.values, np.ones(len(cf.syms), dtype=bool), deadline=deadline)
    if not np.isfinite(loss) or np.array_equal(values, cf.values):
        return False
    cf.values = values
    formula.expr = cf.expression()
    return True


def refit_and_score(formulas: list, rows: UserRows, deadline: float | None = None) -> None:
    """Refit every formula's constants on all training rows (best held-out loss first,
    until ``deadline`` or the active work meter's cutoff, :mod:`symkan.work`), then set
    each one's ``loss`` to its MSE on the held-out rows (both weighted by the rows'
    weights, if any)."""
    t0 = time.perf_counter()
    refit = 0
    for f in sorted(formulas, key=lambda f: f.loss):
        if (deadline is not None and time.monotonic() > deadline) or work.past_cutoff():
            log.info("budget spent: %d of %d formulas refit on all rows", refit, len(formulas))
            break
        refit += refit_constants(f, rows, deadline)
    for f in formulas:
        with np.errstate(all="ignore"):
            f.loss = finite_mse(f.evaluate(rows.X_val), rows.y_val, rows.w_val)
    log.info("%d formulas refit on %d rows and scored on %d held-out rows in %.2f s", refit, len(rows.y),
             len(rows.y_val), time.perf_counter() - t0)
