"""The univariate rung: a one-input problem fitted directly as y = c·f(a·g(x) + b) + d.

A law of one variable (or of one dimensionless group, :mod:`.dimensionless`) is often
one library function of a simple power or exponential of it: 1/√(1 − π²), 1/(1 + π),
tanh π, √(1 + π²). Training a [1, 1, 1] network and snapping its two edges finds these
only when training lands in the right basin; here every inner map g of
``INNER_MAPS`` × every library function f is fitted at once by the batched edge fitter
(:func:`symkan.symbolic.fitting.fit_edges`), deterministically, in about a second. The
best few are refit, their constants snapped, and scored on held-out rows like any
formula. Each comes with the snapped [1, 1, 1] network that computes it (edge g, edge
f), so it can be drawn and saved like the ladder's.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import sympy
import torch

from ..functions.library import get_function
from ..nn import KAN
from ..symbolic.fitting import fit_edges
from ..symbolic.names import variable_symbols
from ..symbolic.snap import fix
from .budget import Budget
from .context import SearchSettings, UserRows
from .ladder import Rung
from .searching import Attempt
from .snapping import ASSEMBLY_ERRORS, skipped
from .spaces import Space, finite_mse, space_functions, user_formula

log = logging.getLogger(__name__)

#: inner maps g tried under every library function (library names: the network's first edge)
INNER_MAPS = ("x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "log", "exp")
#: rows the fits use (an evenly spaced subset of the training rows)
FIT_ROWS = 512
#: candidates refit and scored, best fit first
KEPT = 4
RUNG = Rung("linear", (1, 1, 1), frozenset({"univariate"}))


def univariate_attempt(space: Space, rows: UserRows, settings: SearchSettings, budget: Budget) -> Attempt | None:
    """The univariate rung on a one-input problem (``rows`` in the user's units, ``space``
    the linear space's standardisation): an :class:`.searching.Attempt` whose formulas
    are the best direct fits, or None when none is finite."""
    t0 = time.perf_counter()
    x, y = rows.X[:, 0], rows.y
    take = np.unique(np.linspace(0, len(y) - 1, min(FIT_ROWS, len(y))).astype(int))
    maps, inner = [], []
    with np.errstate(all="ignore"):
        for name in INNER_MAPS:
            g = get_function(name).torch_fn(torch.as_tensor(x, dtype=torch.float64)).numpy()
            if np.all(np.isfinite(g)) and np.ptp(g) > 0:
                maps.append(name)
                inner.append(g[take])
    if not maps:
        return None
    functions = [f for f in (space_functions(settings.functions, "linear") or _default()) if f != "0"]
    fits = fit_edges(torch.as_tensor(np.stack(inner)), torch.as_tensor(np.tile(y[take], (len(maps), 1))),
                     functions)
    score = fits.residual_variance() / fits.variance.clamp_min(1e-300)[:, None] + 1e-12 * fits.complexity[None]
    order = torch.argsort(score.flatten())
    symbols = variable_symbols(rows.names)
    formulas = []
    for flat in order[:KEPT].tolist():
        gi, fi = divmod(flat, score.shape[1])
        if not torch.isfinite(score[gi, fi]) or budget.spent and formulas:
            break
        formula = _formula(maps[gi], fits.functions[fi].name, fits.params[gi, fi].tolist(), symbols, space, rows,
                           budget)
        if formula is not None:
            formulas.append(formula)
    if not formulas:
        return None
    best = min(f.loss for f in formulas) / (float(np.var(rows.y_val)) or 1.0)
    log.info("univariate rung: %d formulas, best held-out nmse %.3g, %.1f s", len(formulas), best,
             time.perf_counter() - t0)
    return Attempt(RUNG, formulas[0].network, formulas, best, time.perf_counter() - t0, transform=space.transform)


def _default() -> list:
    from ..functions.library import default_functions

    return default_functions()


def _formula(inner: str, outer: str, params, symbols, space: Space, rows: UserRows, budget: Budget):
    """c·f(a·g(x)+b)+d as a refit, snapped, scored formula with its network (None if it fails)."""
    a, b, c, d = params
    x = symbols[0]
    expr = c * get_function(outer).sympy_fn(a * get_function(inner).sympy_fn(x) + b) + d
    limit = budget.snap_seconds()
    try:
        network = _network(inner, outer, params, space)
        mapped = user_formula(expr, symbols, rows.names, None, rows.X, rows.y, timeout=min(3.0, limit),
                              snap_time_limit=limit, deadline=budget.cutoff)
    except ASSEMBLY_ERRORS as err:
        skipped(err, f"the univariate formula {outer}({inner})")
        return None
    if mapped is None:
        return None
    mapped.network = network
    with np.errstate(all="ignore"):
        mapped.loss = finite_mse(mapped.evaluate(rows.X_val), rows.y_val)
    return mapped


def _network(inner: str, outer: str, params, space: Space) -> KAN:
    """The [1, 1, 1] network of c·f(a·g(x)+b)+d in the space's standardised units:
    x = shift + scale·x_net; y_net = (y − μ)/σ."""
    a, b, c, d = params
    t = space.transform
    net = KAN([1, 1, 1], basis="bspline").to(torch.float64)
    fix(net, 0, 0, 0, inner, params=(float(t.input_scale[0]), float(t.input_shift[0]), 1.0, 0.0))
    fix(net, 1, 0, 0, outer, params=(a, b, c / t.output_scale, (d - t.output_shift) / t.output_scale))
    return net
