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
from .attempt import Attempt
from .snapping import ASSEMBLY_ERRORS, skipped
from .spaces import Space, finite_mse, space_functions, user_formula

log = logging.getLogger(__name__)

#: inner maps g tried under every library function (library names: the network's first edge)
INNER_MAPS = ("x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "log", "exp")
#: rows the fits use (an evenly spaced subset of the training rows)
FIT_ROWS = 512
#: candidates refit and scored, best fit first
KEPT = 4
#: fits whose residual is within this factor of the best count as equally good
TIE = 3.0
#: complexity an inner map adds (the identity adds nothing)
_INNER_COST = {"x": 0, "x^2": 2, "x^3": 3, "1/x": 2, "1/x^2": 3, "sqrt": 2, "log": 2, "exp": 2}
RUNG = Rung("linear", (1, 1, 1), frozenset({"univariate"}))


def univariate_fits(x: np.ndarray, y: np.ndarray, functions=None, kept: int = KEPT) -> list:
    """The ``kept`` best direct fits y ≈ c·f(a·g(x) + b) + d of samples x, y (n,), best
    first, as (g, f, (a, b, c, d)) with g from ``INNER_MAPS`` and f from ``functions``
    (None: the default library)."""
    take = np.unique(np.linspace(0, len(y) - 1, min(FIT_ROWS, len(y))).astype(int))
    maps, inner = [], []
    with np.errstate(all="ignore"):
        for name in INNER_MAPS:
            g = get_function(name).torch_fn(torch.as_tensor(x, dtype=torch.float64)).numpy()
            if np.all(np.isfinite(g)) and np.ptp(g) > 0:
                maps.append(name)
                inner.append(g[take])
    if not maps or not np.all(np.isfinite(y)):
        return []
    functions = [f for f in (functions or _default()) if f != "0"]
    fits = fit_edges(torch.as_tensor(np.stack(inner)), torch.as_tensor(np.tile(y[take], (len(maps), 1))),
                     functions)
    r = (fits.residual_variance() / fits.variance.clamp_min(1e-300)[:, None]).flatten()
    inner_cost = torch.tensor([_INNER_COST[m] for m in maps], dtype=torch.float64)
    complexity = fits.complexity.repeat(len(maps)) + inner_cost.repeat_interleave(len(fits.functions))
    # fits within a factor TIE of the best are equally good (the samples may be a network's
    # values, accurate to ~1e-5): the simplest of them first, x before sin(εx)
    tied = r <= torch.clamp(TIE * r.min(), min=r.min() + 1e-12)
    order = sorted(range(len(r)), key=lambda k: (not bool(tied[k]), float(complexity[k]) if tied[k] else 0.0,
                                                 float(r[k])))
    out = []
    for flat in order[:kept]:
        gi, fi = divmod(flat, len(fits.functions))
        if torch.isfinite(r[flat]):
            out.append((maps[gi], fits.functions[fi].name, tuple(fits.params[gi, fi].tolist())))
    return out


def univariate_expr(inner: str, outer: str, params, x: sympy.Symbol) -> sympy.Expr:
    """c·f(a·g(x) + b) + d as a sympy expression."""
    a, b, c, d = params
    return c * get_function(outer).sympy_fn(a * get_function(inner).sympy_fn(x) + b) + d


def univariate_attempt(space: Space, rows: UserRows, settings: SearchSettings, budget: Budget) -> Attempt | None:
    """The univariate rung on a one-input problem (``rows`` in the user's units, ``space``
    the linear space's standardisation): an :class:`.searching.Attempt` whose formulas
    are the best direct fits, or None when none is finite."""
    t0 = time.perf_counter()
    symbols = variable_symbols(rows.names)
    formulas = []
    for inner, outer, params in univariate_fits(rows.X[:, 0], rows.y, space_functions(settings.functions, "linear")):
        if budget.spent and formulas:
            break
        formula = _formula(inner, outer, params, symbols, space, rows, budget)
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
    expr = univariate_expr(inner, outer, params, symbols[0])
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
