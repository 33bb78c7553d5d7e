"""Separability of a two-input law, read off a trained network used as an oracle.

AI Feynman's test: f(x₁, x₂) is a product g₁(x₁)·g₂(x₂) exactly when
f(x₁, x₂)·f(x₁⁰, x₂⁰) = f(x₁, x₂⁰)·f(x₁⁰, x₂) for a reference point x⁰, and a sum when
f(x₁, x₂) + f(x₁⁰, x₂⁰) = f(x₁, x₂⁰) + f(x₁⁰, x₂). A trained network is a smooth oracle
for f anywhere in the data's box, so both identities are checked on the held-out rows
with the network's values, and so is a product up to a constant, f = s + g₁·g₂ (the
shift fitted from the same four values). When one holds (to the network's accuracy), each factor's
cut through x⁰ — a function of one input, sampled from the network — is fitted
directly by the univariate rung's fitter (c·f(a·g(x)+b)+d, two-level compositions
included, :mod:`.univariate`), the pieces are composed (g₁·g₂/f(x⁰), g₁ + g₂ − f(x⁰), or
s + (g₁ − s)(g₂ − s)/(f(x⁰) − s))
and the composed formula's constants are refit and snapped on the data. Nothing is
trusted without that check: a formula is kept only with its held-out loss.

This finds products such as (1 − π₂)/√(1 − π₁²) whose factors are compositions an edge
of a separable network cannot snap to.
"""
from __future__ import annotations

import logging
from itertools import product

import numpy as np
import torch

from ..symbolic.names import variable_symbols
from .budget import Budget
from .context import UserRows
from .snapping import ASSEMBLY_ERRORS, skipped
from .spaces import SpaceTransform, finite_mse, user_formula
from .univariate import univariate_expr, univariate_fits

log = logging.getLogger(__name__)

#: a split is tried when its identity holds on held-out rows to this normalised rms error
SPLIT_TOL = 0.05
#: candidate fits combined per factor
PER_FACTOR = 2


def network_function(model, transform: SpaceTransform):
    """The trained ``model`` as a function of the table's inputs X (n, d) -> (n,)."""
    dtype = next(iter(model.parameters())).dtype

    def evaluate(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.as_tensor(transform.inputs(X), dtype=dtype))[:, 0].double().numpy()
        v = out * transform.output_scale + transform.output_shift
        with np.errstate(all="ignore"):
            return transform.sign * np.exp(v) if transform.name == "log" else v

    return evaluate


def separability(f, X_val: np.ndarray, x0: np.ndarray) -> dict:
    """How well ``f`` splits at the reference point x0 (2,), on the rows X_val (m, 2):
    {kind: (normalised rms error, shift)} for "sum" (f = g₁ + g₂), "product" (f = g₁·g₂)
    and "shifted" (f = s + g₁·g₂, with the shift s that fits best: x·sin θ/c + 1)."""
    a = X_val.copy()
    a[:, 1] = x0[1]
    b = X_val.copy()
    b[:, 0] = x0[0]
    F, A, B, F0 = f(X_val), f(a), f(b), float(f(x0[None])[0])
    scale = float(np.std(F)) or 1.0
    with np.errstate(all="ignore"):
        denominator = F + F0 - A - B
        ok = np.abs(denominator) > 1e-3 * scale
        shift = float(np.median((F * F0 - A * B)[ok] / denominator[ok])) if ok.sum() > len(F) // 2 else 0.0

        def product_error(s):
            return float(np.sqrt(np.mean(((F - s) * (F0 - s) - (A - s) * (B - s)) ** 2))) / (scale * abs(F0 - s)
                                                                                            or 1.0)

        errors = {"sum": (float(np.sqrt(np.mean(denominator ** 2))) / scale, 0.0),
                  "product": (product_error(0.0), 0.0), "shifted": (product_error(shift), shift)}
    return {k: (e if np.isfinite(e) else np.inf, s) for k, (e, s) in errors.items()}


def split_formulas(model, transform: SpaceTransform, rows: UserRows, functions, budget: Budget) -> list:
    """Formulas of a two-input table found by splitting it at the network's reference
    point (see the module docstring); [] when no split holds."""
    f = network_function(model, transform)
    x0 = np.median(rows.X, axis=0)
    splits = separability(f, rows.X_val, x0)
    log.info("separability at %s: %s", x0, ", ".join(f"{k} {e:.2g}" for k, (e, _) in splits.items()))
    if splits["product"][0] < SPLIT_TOL:
        del splits["shifted"]  # the plain product holds: no shift to fit
    symbols = variable_symbols(rows.names)
    F0 = float(f(x0[None])[0])
    found = []
    for kind in sorted((k for k in splits if splits[k][0] < SPLIT_TOL), key=lambda k: splits[k][0]):
        shift = splits[kind][1]
        cuts = []
        for j in range(2):
            pts = np.repeat(x0[None], len(rows.X), axis=0)
            pts[:, j] = rows.X[:, j]
            cuts.append([univariate_expr(*fit, symbols[j])
                         for fit in univariate_fits(rows.X[:, j], f(pts) - shift, functions, PER_FACTOR)])
        for e1, e2 in product(*cuts):
            if budget.spent and found:
                return found
            expr = e1 + e2 - F0 if kind == "sum" else shift + e1 * e2 / (F0 - shift)
            formula = _checked(expr, symbols, rows, budget)
            if formula is not None:
                found.append(formula)
    return found


def _checked(expr, symbols, rows: UserRows, budget: Budget):
    limit = budget.snap_seconds()
    try:
        formula = user_formula(expr, symbols, rows.names, None, rows.X, rows.y, timeout=min(3.0, limit),
                               snap_time_limit=limit, deadline=budget.cutoff)
    except ASSEMBLY_ERRORS as err:
        skipped(err, f"the split formula {expr}")
        return None
    if formula is not None:
        with np.errstate(all="ignore"):
            formula.loss = finite_mse(formula.evaluate(rows.X_val), rows.y_val)
    return formula
