"""Formula stages of a rung: snap a trained network → formulas in the user's units → score.

``snap(ctx, net, weight, errors) -> formulas`` and ``score(ctx, formulas) -> formulas``
have the stage shape of :mod:`.context`; :func:`snap_weights` runs them over several
complexity weights within the time budget.
"""
from __future__ import annotations

import logging

import numpy as np

from ..symbolic import formula_candidates
from .context import RungContext
from .spaces import finite_mse, space_functions, to_user_formula, user_formula

log = logging.getLogger(__name__)

#: what a snap or a formula's assembly may raise on an awkward network (sympy raises
#: TypeError for a complex intermediate such as a negative base to a fractional power):
#: the search skips that formula instead of ending the fit
ASSEMBLY_ERRORS = (ValueError, RuntimeError, TypeError, ArithmeticError)


def skipped(err: Exception, what: str) -> str:
    """Log a failed step the search skips (traceback at DEBUG); return its description."""
    error = f"{type(err).__name__}: {err}"
    log.warning("%s failed: %s", what, error, exc_info=log.isEnabledFor(logging.DEBUG))
    return error


def checked_formula(expr, symbols, rows, budget, what: str, network=None):
    """A formula ``expr`` of the user's ``symbols`` (sympy, assumptions allowed) made a
    :class:`~symkan.symbolic.Formula` of ``rows.names``: simplified, its constants refit
    and snapped on the training rows of ``rows`` within ``budget``, its ``loss`` the
    held-out MSE, its ``network`` the given one. None when it fails (``what`` names it
    in the log) or is not finite on the data."""
    limit = budget.snap_seconds()
    try:
        formula = user_formula(expr, symbols, rows.names, None, rows.X, rows.y, timeout=min(3.0, limit),
                               snap_time_limit=limit, deadline=budget.cutoff, weights=rows.w)
    except ASSEMBLY_ERRORS as err:
        skipped(err, what)
        return None
    if formula is not None:
        formula.network = network
        with np.errstate(all="ignore"):
            formula.loss = finite_mse(formula.evaluate(rows.X_val), rows.y_val, rows.w_val)
    return formula


def snap(ctx: RungContext, net, weight: float, errors: list) -> list:
    """Formulas of the trained ``net`` at one complexity weight, in the user's units
    (not yet scored). A formula that cannot be mapped to the user's units is skipped and
    its error appended to ``errors``; a snap that cannot be assembled raises one of
    ``ASSEMBLY_ERRORS``."""
    space, rows = ctx.space, ctx.rows
    out = []
    for f in formula_candidates(net, space.X, space.y, complexity_weights=(weight,), names=rows.names,
                                input_transform=space.transform.input_transform,
                                output_transform=space.transform.output_transform,
                                functions=space_functions(ctx.settings.functions, space.name),
                                deadline=ctx.budget.deadline, cutoff=ctx.budget.cutoff, sample_weight=space.w):
        limit = ctx.budget.snap_seconds()
        try:
            f = to_user_formula(f, space, rows.X, rows.y, timeout=min(3.0, limit), snap_time_limit=limit,
                                deadline=ctx.budget.cutoff, weights=rows.w)
        except ASSEMBLY_ERRORS as err:  # one formula that cannot be mapped: skip it
            errors.append(skipped(err, f"mapping {f} from the {space.name} space"))
            continue
        if f is not None:
            out.append(f)
    return out


def score(ctx: RungContext, formulas: list) -> list:
    """Set each formula's ``loss`` to its (weighted) MSE on the held-out rows (user's units)."""
    for f in formulas:
        with np.errstate(all="ignore"):
            f.loss = finite_mse(f.evaluate(ctx.rows.X_val), ctx.rows.y_val, ctx.rows.w_val)
    return formulas


def snap_weights(ctx: RungContext, net, weights) -> tuple:
    """Scored formulas of ``net`` at each complexity weight (weights not started before the
    budget is spent are skipped; the first always runs), duplicates removed; and, when
    there are none, the description of the last failure (else None)."""
    found, errors = {}, []
    for k, weight in enumerate(weights):
        if k and ctx.budget.skip(f"complexity weights {tuple(weights[k:])}"):
            break
        try:
            for f in snap(ctx, net, weight, errors):
                found.setdefault(str(f.expr), f)
        except ASSEMBLY_ERRORS as err:  # a snap that cannot be assembled: keep going
            errors.append(skipped(err, f"snapping {net.width} at complexity weight {weight:g}"))
    formulas = score(ctx, list(found.values()))
    return formulas, (errors[-1] if errors and not formulas else None)
