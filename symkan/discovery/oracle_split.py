"""Structure of a two-input law, read off a trained network used as an oracle:
separability and dependence on one product of powers.

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

The law may also split only after an outer function h is applied to it (arcsin(n·sin θ):
sin f is a product; ``OUTER``): every identity is checked for f and for h(f), the best
``TRIED_SPLITS`` are fitted, and h's inverse is applied to the composed formula.

This finds products such as (1 − π₂)/√(1 − π₁²) whose factors are compositions an edge
of a separable network cannot snap to. A law linear in one input, A(x₁) + B(x₁)·x₂, is
taken apart the same way (:mod:`.linear_split`).

A law may instead depend on its inputs only through z = x₁^a·x₂^b (AI Feynman's
symmetry test): then the network barely changes along z's level sets. For the small
exponents of ``COMBINATIONS`` that pass, y = G(z) is fitted directly on the data, and
so is y = x₁^p·x₂^q·G(z) when the network's log-derivatives show such a prefactor.
"""
from __future__ import annotations

import logging
from itertools import product

import numpy as np
import sympy
import torch

from ..symbolic.names import variable_symbols
from .budget import Budget
from .context import UserRows
from .one_group import prefactor_group
from .linear_split import linear_formulas
from .snapping import checked_formula
from .spaces import SpaceTransform
from .univariate import monomial, monomial_expr, univariate_expr, univariate_fits

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
    return split_errors(*cut_values(f, X_val, x0))


def cut_values(f, X_val: np.ndarray, x0: np.ndarray) -> tuple:
    """f at the rows, at the rows with x₂ = x₂⁰, with x₁ = x₁⁰, and at x0."""
    a = X_val.copy()
    a[:, 1] = x0[1]
    b = X_val.copy()
    b[:, 0] = x0[0]
    return f(X_val), f(a), f(b), float(f(x0[None])[0])


def split_errors(F: np.ndarray, A: np.ndarray, B: np.ndarray, F0: float) -> dict:
    """:func:`separability` from the four sets of values."""
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
    if errors["product"][0] < SPLIT_TOL:
        del errors["shifted"]  # the plain product holds: no shift to fit
    return {k: (e if np.isfinite(e) else np.inf, s) for k, (e, s) in errors.items()}


#: outer functions h tried: the law may split only after h is applied (sin(arcsin(n·sin θ))
#: = n·sin θ); each with its numpy form, its sympy inverse and where that inverse holds
OUTER = {
    "": (lambda v: v, lambda e: e, lambda v: True),
    "sin": (np.sin, sympy.asin, lambda v: np.all(np.abs(v) <= np.pi / 2)),
    "square": (np.square, sympy.sqrt, lambda v: np.all(v > 0)),
    "log": (np.log, sympy.exp, lambda v: np.all(v > 0)),
    "exp": (np.exp, sympy.log, lambda v: np.all(np.abs(v) < 50)),
    "inverse": (lambda v: 1 / v, lambda e: 1 / e, lambda v: np.all(v != 0)),
}
#: (outer function, split) pairs tried, best first
TRIED_SPLITS = 2


#: exponents (a, b) of the combinations z = x₁^a·x₂^b a law may depend on alone
COMBINATIONS = ((1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1))
#: a law depends on z alone when moving along z's level sets changes it this little,
#: relative to moving x₁ alone
COMBINED_TOL = 0.05
#: relative step along the level sets
STEP = 1.05


def combination_errors(f, X_val: np.ndarray) -> dict:
    """{(a, b): how much f changes along the level sets of x₁^a·x₂^b, relative to a move
    of x₁ alone} at the rows X_val (m, 2) of positive inputs (steps toward the box's
    middle keep the oracle inside the data)."""
    F = f(X_val)
    middle = np.median(X_val, axis=0)
    s = np.where(X_val < middle, STEP, 1 / STEP)
    out = {}
    for a, b in COMBINATIONS:
        moved, alone = X_val.copy(), X_val.copy()
        moved[:, 0] *= s[:, 0] ** b
        moved[:, 1] *= s[:, 0] ** (-a)
        alone[:, 0] *= s[:, 0] ** b
        with np.errstate(all="ignore"):
            change = float(np.median(np.abs(f(alone) - F))) or 1e-300
            out[(a, b)] = float(np.median(np.abs(f(moved) - F))) / change
    return out


def combined_formulas(f, rows: UserRows, functions, budget: Budget) -> list:
    """Formulas y = G(x₁^a·x₂^b) of a two-input table whose network changes only across
    the level sets of such a product (n·α in nα/(1 − nα/3)), and y = x₁^p·x₂^q·G(x₁^a·x₂^b)
    where moves along the network's level sets say so (:func:`.one_group.prefactor_group`:
    the Gaussian e^(−θ²/2σ²)/σ): G fitted directly on the data (:mod:`.univariate`)."""
    if not (np.all(rows.X > 0) and np.all(rows.X_val > 0)):
        return []
    errors = combination_errors(f, rows.X_val)
    log.info("combinations: %s", ", ".join(f"x1^{a}*x2^{b} {e:.2g}" for (a, b), e in errors.items()))
    groups = [((a, b), (0, 0)) for a, b in sorted((c for c in errors if errors[c] < COMBINED_TOL),
                                                  key=errors.get)[:TRIED_SPLITS]]
    with np.errstate(all="ignore"):
        found = prefactor_group(f, rows.X_val, [0, 1])
    if found is not None and np.any(found[1] != 0):  # a pure group is among the combinations
        groups.append(tuple(tuple(sympy.nsimplify(float(e)) for e in v) for v in found))
    symbols = variable_symbols(rows.names)
    t = sympy.Symbol("t")
    out = []
    for (a, b), (p, q) in groups:
        z, prefactor = symbols[0] ** a * symbols[1] ** b, symbols[0] ** p * symbols[1] ** q
        x1, x2 = rows.X[:, 0], rows.X[:, 1]
        with np.errstate(all="ignore"):
            values, target = x1 ** float(a) * x2 ** float(b), rows.y / (x1 ** float(p) * x2 ** float(q))
        for fit in univariate_fits(values, target, functions, PER_FACTOR, weights=rows.w):
            if budget.past_cutoff:
                return out
            formula = checked_formula(prefactor * univariate_expr(fit, t).xreplace({t: z}), symbols, rows, budget,
                                      f"a formula of {z}")
            if formula is not None:
                out.append(formula)
    return out


def cut_tolerance(accuracy: float, values: np.ndarray, cut: np.ndarray) -> float:
    """The normalised residual within which fits of a cut (n,) through an oracle whose
    held-out nmse over its ``values`` is ``accuracy`` tie (:func:`.univariate.univariate_fits`):
    three times the oracle's error relative to the cut's own variance — a cut that varies
    less than the law carries the same absolute error (x² beside sin(εx + π/2) stand-ins)."""
    with np.errstate(all="ignore"):
        ratio = float(np.var(values) / np.var(cut))
    return 3 * accuracy * (ratio if np.isfinite(ratio) and ratio > 1 else 1.0)


def split_formulas(model, transform: SpaceTransform, rows: UserRows, functions, budget: Budget,
                   accuracy: float = 0.0) -> list:
    """Formulas of a two-input table found by splitting it, or an outer function of it,
    at the network's reference point (see the module docstring); [] when no split holds.
    ``accuracy``: the network's held-out nmse (fits of its cuts that differ by less than
    a few times that are ranked by simplicity)."""
    f = network_function(model, transform)
    x0 = np.median(rows.X, axis=0)
    values = cut_values(f, rows.X_val, x0)
    options = []
    for name, (h, _, applies) in OUTER.items():
        if all(applies(v) for v in values):
            with np.errstate(all="ignore"):
                errors = split_errors(*(h(np.asarray(v)) for v in values[:3]), float(h(values[3])))
            options += [(e, name, kind, shift) for kind, (e, shift) in errors.items() if e < SPLIT_TOL]
    options.sort(key=lambda o: (o[0] > 1e-6, bool(o[1]), o[0]))  # exact splits of f itself first
    exact = bool(options) and options[0][0] < 1e-6
    found = [] if exact else combined_formulas(f, rows, functions, budget) + \
        linear_formulas(f, rows, functions, budget, accuracy)
    log.info("separability at %s: %s", x0, ", ".join(f"{h or 'f'} {k} {e:.2g}" for e, h, k, _ in options) or "none")
    symbols = variable_symbols(rows.names)
    for _, name, kind, shift in options[:TRIED_SPLITS]:
        h, inverse, _ = OUTER[name]
        with np.errstate(all="ignore"):
            H0 = float(h(values[3]))
            cuts = []
            for j in range(2):
                pts = np.repeat(x0[None], len(rows.X), axis=0)
                pts[:, j] = rows.X[:, j]
                cut = h(f(pts)) - shift
                tolerance = cut_tolerance(accuracy, h(values[0]), cut)
                mono = monomial(rows.X[:, j], cut, "sum" if kind == "sum" else "product", tolerance / 3)
                cuts.append(([monomial_expr(mono, symbols[j])] if mono is not None else []) +
                            [univariate_expr(fit, symbols[j])
                             for fit in univariate_fits(rows.X[:, j], cut, functions, PER_FACTOR,
                                                        tolerance=tolerance, weights=rows.w)])
        # the formulas completed on the data first: exact whenever one cut's fit is
        exprs = completed_on_data(cuts, kind, shift, h, rows, functions, symbols)
        exprs += [e1 + e2 - H0 if kind == "sum" else shift + e1 * e2 / (H0 - shift) for e1, e2 in product(*cuts)]
        for expr in exprs:
            if budget.spent and (found or budget.past_cutoff):
                return found
            formula = checked_formula(inverse(expr), symbols, rows, budget, f"the split formula {expr}")
            if formula is not None:
                found.append(formula)
    return found


def completed_on_data(cuts: list, kind: str, shift: float, h, rows: UserRows, functions, symbols) -> list:
    """Split formulas whose second factor is fitted on the data, not on the oracle: with
    the best fit e_j of one cut, h(y) − e_j(x_j) (a sum) or (h(y) − s)/(e_j(x_j) − s) (a
    product) is a function of the other input alone, exactly when e_j is right — the
    oracle's cut may carry its error (a separable product network's sum of squares read
    as a sine of tiny frequency)."""
    out = []
    with np.errstate(all="ignore"):
        target = h(rows.y)
        for j, fits in enumerate(cuts):
            if not fits:
                continue
            e = fits[0]
            values = sympy.lambdify(symbols, e, "numpy")(*rows.X.T) * np.ones(len(target))
            rest = target - values if kind == "sum" else (target - shift) / (values - shift)
            if not np.all(np.isfinite(rest)):
                continue
            other = 1 - j
            for fit in univariate_fits(rows.X[:, other], rest, functions, 1, weights=rows.w):
                g = univariate_expr(fit, symbols[other])
                out.append(e + g if kind == "sum" else shift + (e - shift) * g)
    return out
