"""The univariate rung: a one-input problem fitted directly as y^k = x^p·(c·f(a·g(x) + b) + d).

A law of one variable (or of one dimensionless group, :mod:`.dimensionless`) is often
one library function of a simple power or exponential of it: 1/√(1 − π²), 1/(1 + π),
tanh π, √(1 + π²). Training a [1, 1, 1] network and snapping its two edges finds these
only when training lands in the right basin; here every inner map g of
``INNER_MAPS`` × every library function f is fitted at once by the batched edge fitter
(:func:`symkan.symbolic.fitting.fit_edges`), deterministically, in about a second. The
best few are refit, their constants snapped, and scored on held-out rows like any
formula. Each with p = 0 and k = 1 comes with the snapped [1, 1, 1] network that
computes it (edge g, edge f), so it can be drawn and saved like the ladder's.

When no direct fit is exact, a power of x is divided out first (1/(x²·√(1 − x²))), and
powers k of y are fitted too: y² = (1 + x)/(1 − x) (the relativistic Doppler factor),
1/y = eˣ − 1 (Bose–Einstein occupation) are one edge each after the outer power.
"""
from __future__ import annotations

import logging
import time
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import sympy
import torch

from ..functions.library import get_function
from ..nn import KAN
from ..sample_weights import weighted_sample, weighted_var
from ..symbolic.fitting import fit_edges
from ..symbolic.names import variable_symbols
from ..symbolic.snap import fix
from .attempt import Attempt
from .budget import Budget
from .context import SearchSettings, UserRows
from .ladder import Rung
from .sampling import evenly_spaced
from .snapping import checked_formula
from .spaces import Space, space_functions
from .univariate_ties import (
    constants_cost,
    distinct,
    from_target,
    noise_tie_spread,
    snap_constants,
    to_target,
)

log = logging.getLogger(__name__)

#: inner maps g tried under every library function (library names: the network's first edge)
INNER_MAPS = ("x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "log", "exp")
#: rows the fits use (an evenly spaced subset of the training rows)
FIT_ROWS = 512
#: candidates refit and scored, best fit first
KEPT = 4
#: fits whose residual is within this factor of the best count as equally good (on noisy
#: samples: :mod:`.univariate_ties`)
TIE = 3.0
#: normalised residual below which a fit is exact (no monomial is divided out then)
EXACT_R = 1e-10
#: ... and below which it is exact to float64 round-off: only then are the powers of y not
#: tried (a stand-in divided by x fitted I.41.16's group to 8e-12, 1/(eˣ − 1) to 8e-30)
ROUND_OFF_R = 1e-20
#: powers of x divided out of y when no direct fit is exact, and the inner maps tried then
#: (1/x²: a group's orientation and prefactor are arbitrary, e^(−1/(2x²))/x)
PREFACTOR_POWERS = (1, -1, 2, -2)
PREFACTOR_MAPS = ("x", "x^2", "1/x^2")
#: powers k of y fitted when no direct fit is exact (y = (…)^(1/k)) ...
OUTER_POWERS = (2, -1, -2)
#: ... with these inner maps and library functions only (a power of an algebraic form;
#: the full table for each k would cost as much as the direct fits again); 1/x because a
#: group's orientation is arbitrary (1/(e^(1/w) − 1) is Planck's law met in w = 1/z)
OUTER_POWER_MAPS = ("x", "x^2", "1/x")
OUTER_POWER_FUNCTIONS = ("x", "1/x", "x^2", "sqrt", "1/sqrt(x)", "exp", "log", "cosh")
#: complexity an inner map adds (the identity adds nothing)
_INNER_COST = {"x": 0, "x^2": 2, "x^3": 3, "1/x": 2, "1/x^2": 3, "sqrt": 2, "log": 2, "exp": 2}
RUNG = Rung("linear", (1, 1, 1), frozenset({"univariate"}))
#: powers of :func:`monomial`
POWERS = tuple(Fraction(p) for p in (1, -1, 2, -2, 3, -3, "1/2", "-1/2", "3/2", "-3/2", 4, -4))
#: a monomial fits samples when its relative rms error is below this × their own rms error
MONOMIAL_TOL = 10.0


class UnivariateFit(NamedTuple):
    """y^outer_power = x^power·(c·f(a·g(x) + b) + d): g ``inner``, f ``outer``, ``params`` (a, b, c, d)."""

    inner: str
    outer: str
    params: tuple
    power: int = 0
    outer_power: int = 1


def _fit_table(x: np.ndarray, y: np.ndarray, take: np.ndarray, maps_tried, functions, power: int,
               outer_power: int = 1) -> list:
    """(r, complexity, fit) of every fit y^outer_power/x^power ≈ c·f(a·g(x)+b)+d."""
    maps, inner = [], []
    with np.errstate(all="ignore"):
        target = to_target(y, x, power, outer_power)
        for name in maps_tried:
            g = get_function(name).torch_fn(torch.as_tensor(x, dtype=torch.float64)).numpy()
            if np.all(np.isfinite(g)) and np.ptp(g) > 0:
                maps.append(name)
                inner.append(g[take])
    if not maps or not np.all(np.isfinite(target)):
        return []
    fits = fit_edges(torch.as_tensor(np.stack(inner)), torch.as_tensor(np.tile(target[take], (len(maps), 1))),
                     functions)
    if power == 0 and outer_power == 1:  # the target is y: the fitter's own normalised residual
        r = (fits.residual_variance() / fits.variance.clamp_min(1e-300)[:, None]).numpy()
    else:
        r = _errors_in_y(fits, np.stack(inner), x[take], y[take], power, outer_power)
    rows = []
    for gi, name in enumerate(maps):
        for fi, fn in enumerate(fits.functions):
            if np.isfinite(r[gi, fi]):
                extra = (2 if power else 0) + (2 if outer_power != 1 else 0)  # a divided-out power, an outer power
                cost = float(fits.complexity[fi]) + _INNER_COST[name] + extra
                fit = UnivariateFit(name, fn.name, tuple(fits.params[gi, fi].tolist()), power, outer_power)
                rows.append((float(r[gi, fi]), cost, fit))
    return rows


def _errors_in_y(fits, inner: np.ndarray, x: np.ndarray, y: np.ndarray, power: int, outer_power: int) -> np.ndarray:
    """(maps, functions) error of every fit as a prediction of y itself: the mean squared
    difference of (x^power·(c·f(a·g + b) + d))^(1/outer_power) and y over the fitted rows,
    over y's variance; inf where not finite. inner: (maps, rows) values g(x).

    Fits of y^k/x^p are compared with each other and with the direct fits by this: each
    transformed target has its own variance, so their own normalised residuals do not
    compare (on I.10.7's group at σ = 0.01, γ·z² looked 300× better fitted than γ, though
    both predict γ to the noise)."""
    out = np.full(tuple(fits.params.shape[:2]), np.inf)
    g = torch.as_tensor(inner, dtype=torch.float64)
    var = float(np.var(y))
    if not var > 0:  # a constant target: no fit of a function of x (its constant is a monomial)
        return out
    with np.errstate(all="ignore"):
        for fi, fn in enumerate(fits.functions):
            if not bool(torch.isfinite(fits.r2[:, fi]).any()):
                continue
            a, b, c, d = (v[:, None] for v in fits.params[:, fi].unbind(-1))
            pred = from_target((c * fn.torch_fn(a * g + b) + d).numpy(), x, power, outer_power)
            err = np.mean((pred - y) ** 2, axis=1) / var
            out[:, fi] = np.where(np.isfinite(err) & np.isfinite(fits.r2[:, fi].numpy()), err, np.inf)
    return out


def univariate_fits(x: np.ndarray, y: np.ndarray, functions=None, kept: int = KEPT, tolerance: float = 1e-12,
                    weights: np.ndarray | None = None, plain: bool = False) -> list:
    """The ``kept`` best direct fits y ≈ x^p·(c·f(a·g(x) + b) + d) of samples x, y (n,),
    best first, as :class:`UnivariateFit`: g from ``INNER_MAPS``, f from ``functions``
    (None: the default library), p = 0 — or, when none of those is exact, a power of
    ``PREFACTOR_POWERS`` divided out first (1/(x²·√(1 − x²)), Keplearn's reduction by a
    monomial), and fits of y^k for k in ``OUTER_POWERS`` (with p = 0 or ±1). Fits whose
    normalised residual is within ``TIE``× the best, or within ``tolerance`` of it (the accuracy of samples read off a network), are ranked by
    complexity. ``plain``: the fits with p = 0 and k = 1 only, best first. With
    ``weights`` (n,), the fits use rows drawn in proportion to them
    (:func:`symkan.sample_weights.weighted_sample`: the batched fitter takes no weights);
    the kept fits are refit with the weights by their callers."""
    if weights is None:
        take = evenly_spaced(len(y), FIT_ROWS)
    else:
        take = weighted_sample(weights, min(FIT_ROWS, len(y)))
    functions = [f for f in (functions or _default()) if f != "0"]
    table = _fit_table(x, y, take, INNER_MAPS, functions, 0)
    if plain:  # p = 0 and k = 1 only: the fits a [1, 1, 1] network computes
        return [fit for _, _, fit in sorted(table, key=lambda row: row[0])[:kept]]
    if table and min(r for r, _, _ in table) > EXACT_R and np.all(x != 0):
        for power in PREFACTOR_POWERS:
            table += _fit_table(x, y, take, PREFACTOR_MAPS, functions, power)
    algebraic = [f for f in functions if f in OUTER_POWER_FUNCTIONS]
    # the samples of a network are accurate to ``tolerance``: a fit within it is as good
    # as any (the outer powers would triple the cost of every cut's fit)
    if table and algebraic and min(r for r, _, _ in table) > max(ROUND_OFF_R, tolerance):
        for k in OUTER_POWERS:
            if k > 0 or np.all(y != 0):
                table += _fit_table(x, y, take, OUTER_POWER_MAPS, algebraic, 0, k)
                if np.all(x != 0):  # x/(e^(αx) − 1): 1/y = (e^(αx) − 1)/x
                    for power in (1, -1):
                        table += _fit_table(x, y, take, ("x",), algebraic, power, k)
    if not table:
        return []
    # fits within a factor TIE of the best are equally good (the samples may be a network's
    # values, accurate to ~1e-5): the simplest of them first, x before sin(εx)
    best, _, best_fit = min(table, key=lambda row: row[0])
    unique = np.unique(take)
    varies = np.std(y[unique]) > 1e-6 * np.mean(np.abs(y[unique]))  # not a constant cut read off in float32
    noise_spread = noise_tie_spread(x[unique], y[unique], best_fit) if best > EXACT_R and varies else None
    if noise_spread is not None:  # the best fit leaves noise: ties ranked by the constants that stay floats
        limit = max(noise_spread * best, best + tolerance)
        ranked = []
        for r, cost, fit in table:
            if r <= limit:
                floats, params = snap_constants(fit, x[take], y[take], limit)
                ranked.append(((floats, cost + constants_cost(params), r), fit._replace(params=params)))
        ranked.sort(key=lambda row: row[0])
        return distinct([fit for _, fit in ranked], x[unique], kept)
    limit = max(TIE * best, best + tolerance, EXACT_R if best < EXACT_R else 0.0)  # exact fits all tie
    table.sort(key=lambda row: (row[0] > limit, row[1] if row[0] <= limit else 0.0, row[0]))
    return [fit for _, _, fit in table[:kept]]


def univariate_expr(fit: UnivariateFit, x: sympy.Symbol) -> sympy.Expr:
    """(x^p·(c·f(a·g(x) + b) + d))^(1/k) as a sympy expression."""
    a, b, c, d = fit.params
    base = x ** fit.power * (c * get_function(fit.outer).sympy_fn(a * get_function(fit.inner).sympy_fn(x) + b) + d)
    return base if fit.outer_power == 1 else base ** sympy.Rational(1, fit.outer_power)


def univariate_attempt(space: Space, rows: UserRows, settings: SearchSettings, budget: Budget) -> Attempt | None:
    """The univariate rung on a one-input problem (``rows`` in the user's units, ``space``
    the linear space's standardisation): an :class:`.searching.Attempt` whose formulas
    are the best direct fits, or None when none is finite."""
    t0 = time.perf_counter()
    symbols = variable_symbols(rows.names)
    formulas = []
    for fit in univariate_fits(rows.X[:, 0], rows.y, space_functions(settings.functions, "linear"), weights=rows.w):
        if budget.spent and formulas:
            break
        formula = _formula(fit, symbols, space, rows, budget)
        if formula is not None:
            formulas.append(formula)
    networks = [f.network for f in formulas if f.network is not None]
    if formulas and not networks:  # every kept fit divides out a power: the rung's network is the best plain fit
        plain = univariate_fits(rows.X[:, 0], rows.y, space_functions(settings.functions, "linear"), 1,
                                weights=rows.w, plain=True)
        networks = [_network(plain[0].inner, plain[0].outer, plain[0].params, space)] if plain else []
    if not networks:
        return None
    best = min(f.loss for f in formulas) / (weighted_var(rows.y_val, rows.w_val) or 1.0)
    log.info("univariate rung: %d formulas, best held-out nmse %.3g, %.1f s", len(formulas), best,
             time.perf_counter() - t0)
    return Attempt(RUNG, networks[0], formulas, best, time.perf_counter() - t0, transform=space.transform)


def _default() -> list:
    from ..functions.library import default_functions

    return default_functions()


def _formula(fit: UnivariateFit, symbols, space: Space, rows: UserRows, budget: Budget):
    """A direct fit as a refit, snapped, scored formula, with its [1, 1, 1] network when
    p = 0 and k = 1 (None if it fails)."""
    expr = univariate_expr(fit, symbols[0])
    plain = fit.power == 0 and fit.outer_power == 1
    network = _network(fit.inner, fit.outer, fit.params, space) if plain else None
    return checked_formula(expr, symbols, rows, budget, f"the univariate formula {fit.outer}({fit.inner})", network)


def _network(inner: str, outer: str, params, space: Space) -> KAN:
    """The [1, 1, 1] network of c·f(a·g(x)+b)+d in the space's standardised units:
    x = shift + scale·x_net; y_net = (y − μ)/σ."""
    a, b, c, d = params
    t = space.transform
    net = KAN([1, 1, 1], basis="bspline").to(torch.float64)
    fix(net, 0, 0, 0, inner, params=(float(t.input_scale[0]), float(t.input_shift[0]), 1.0, 0.0))
    fix(net, 1, 0, 0, outer, params=(a, b, c / t.output_scale, (d - t.output_shift) / t.output_scale))
    return net


def monomial(x: np.ndarray, cut: np.ndarray, kind: str, accuracy: float) -> tuple | None:
    """(power, scale, offset) of the monomial of ``POWERS`` that fits samples ``cut`` (n,)
    of x (n,) — a network's cut through a reference point, accurate to nmse ``accuracy`` —
    as scale·x^p (``kind`` "product": a factor) or scale·x^p + offset ("sum": a term); None
    when none does to that accuracy. Physical factors are mostly monomials, and a
    monomial divides out exactly where a general fit of a network's values
    (1.028·m₀ − 0.0002, 0.775·(ω₀ − 0.0009)²) leaves a trace of its input in what is left."""
    limit = max(MONOMIAL_TOL * np.sqrt(accuracy), 1e-6)
    best = None
    for p in POWERS:
        with np.errstate(all="ignore"):
            xp = x ** int(p) if p.denominator == 1 else x ** float(p)
            A = np.stack([xp, np.ones_like(xp)], axis=1) if kind == "sum" else xp[:, None]
        if not np.all(np.isfinite(A)):
            continue
        coef = np.linalg.lstsq(A, cut, rcond=None)[0]
        error = float(np.sqrt(np.mean((A @ coef - cut) ** 2)) / (np.std(cut) if kind == "sum" else np.sqrt(np.mean(cut ** 2))))
        if error < limit and (best is None or error < best[0]):
            best = (error, p, float(coef[0]), float(coef[1]) if kind == "sum" else 0.0)
    return None if best is None else best[1:]


def monomial_expr(fit: tuple, x: sympy.Symbol) -> sympy.Expr:
    """The sympy expression of a :func:`monomial` fit (power, scale, offset) of ``x``."""
    p, scale, offset = fit
    return scale * x ** sympy.Rational(p.numerator, p.denominator) + offset
