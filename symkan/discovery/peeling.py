"""Reduction of a law of three or more inputs by the inputs it separates from the rest
(AI Feynman's recursion, with the trained network as the oracle).

A law f(x) is a product u_j(x_j)·v(x_rest) exactly when
f(x)·f(x⁰) = f(x with x_j = x_j⁰)·f(x with x_rest = x_rest⁰) for a reference point x⁰, and
a sum u_j(x_j) + v(x_rest) when the same identity holds with sums (the two-input tests of
:mod:`.oracle_split`, with the rest of the inputs as the second block). Each input is
tested on the held-out rows with the network's values. The inputs that split off as
factors (else as terms) are peeled together:

* each one's cut through x⁰, c_j(x_j) = f(x⁰ with x_j varying), is fitted directly by the
  univariate rung's fitter (:mod:`.univariate`): for a factor, u_j ∝ c_j;
* the target is reduced on the real data — y·Π f(x⁰)/ĉ_j(x_j) for factors,
  y − Σ (ĉ_j(x_j) − f(x⁰)) for terms — and loses the peeled inputs;
* the smaller problem is searched with a share of what is left of the budget (the search
  recurses: a problem of three or more inputs may be peeled again, one of two inputs is
  split or reduced by :mod:`.oracle_split`, one of one input is fitted directly);
* each formula of its front is composed with the fitted cuts and checked on the data (its
  constants refit jointly and snapped, :func:`.snapping.checked_formula`).

A law may split into terms only after an outer function: 1/f (resonance denominators
1/(n/d₂ + 1/d₁)) or f² (distances √(x² + y²)); then h(f) is peeled on the data h(y) and
the composed formula mapped back by h's inverse.

When the inputs left depend on the oracle through one product of powers z = Π x_i^a_i
(:mod:`.one_group`: v/c, B·μ/(k·T)), the smaller problem is G(z), one input; that
test also runs when nothing splits off. Otherwise, when they have scaling symmetries
(:mod:`.scalings`: f = x·H(u·t/x, u/c)), the smaller problem is H of the invariants,
the target divided by the prefactor. Otherwise pairs of the inputs left that the
oracle sees only through their difference or sum (:mod:`.symmetry`: (x₂ − x₁)² + (y₂ − y₁)²)
become one input each. When every input splits off, the law is the composed cuts alone. Nothing is trusted
without the final check: a peeled formula is kept with its held-out loss, like any other.
I.10.7, m₀/√(1 − v²/c²): m₀ splits off, the rest is a two-input problem that depends on
v/c only.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import sympy

from ..symbolic.names import printable, variable_symbols
from .budget import Budget
from .context import SearchSettings, UserRows
from .errors import DiscoveryError
from .one_group import power_group
from .oracle_split import OUTER, cut_tolerance, network_function, split_errors
from .sampling import RowSplit
from .scalings import monomial_of, scaling_reduction
from .snapping import checked_formula
from .symmetry import reduced_inputs, symmetric_pairs
from .univariate import monomial, monomial_expr, univariate_expr, univariate_fits

log = logging.getLogger(__name__)

#: an input is peeled when its identity holds on held-out rows to this normalised rms
#: error, or to ``PEEL_FACTOR``·√(the oracle's nmse) when that is smaller (but not below
#: ``PEEL_FLOOR``): m·c²/√(1 − v²/c²) on Feynman's ranges is a product in v and in c to
#: 0.011, which an oracle accurate to 3e-6 tells apart
PEEL_TOL = 0.02
PEEL_FACTOR = 3.0
PEEL_FLOOR = 1e-3
#: share of the time (and work) left that the search of the smaller problem may use
PEEL_SHARE = 0.6
#: formulas of the smaller problem's front composed back (the most accurate first)
COMPOSED = 4
#: f(x⁰) is near zero below this fraction of f's rms: another reference point is taken
NEAR_ZERO = 0.3
#: outer functions h of :data:`.oracle_split.OUTER` whose h(f) may split into terms
PEEL_OUTER = ("inverse", "square")
#: held-out rows near the medians tried as the reference point
REFERENCES = 16
#: an oracle less accurate than this (held-out nmse) is tested for scaling symmetries
#: only: its separability, groups and pairs are its architecture's own (a [3, 1] network
#: in the log space is a product of its inputs' functions whatever the law), while moves
#: along a scaling hold to its accuracy only when the law has them
SPLITS_NMSE = 1e-4
#: ... and its reduction is searched only when it leaves this many inputs at most (a
#: coarse network misses some scalings: a partial reduction costs the budget that a
#: better network's peel would use)
COARSE_INPUTS = 2


def peel_errors(f, X_val: np.ndarray, x0: np.ndarray) -> dict:
    """{input j: {"sum": error, "product": error}}: how well ``f`` splits into a function
    of x_j and one of the other inputs, on the rows X_val (m, d) at the reference x0 (d,)
    (normalised rms errors of :func:`.oracle_split.split_errors`)."""
    F, F0 = f(X_val), float(f(x0[None])[0])
    out = {}
    for j in range(X_val.shape[1]):
        alone, rest = np.repeat(x0[None], len(X_val), axis=0), X_val.copy()
        alone[:, j] = X_val[:, j]  # x_j varies, the rest at x0
        rest[:, j] = x0[j]  # x_j at x0, the rest varies
        errors = split_errors(F, f(alone), f(rest), F0)
        out[j] = {kind: errors[kind][0] for kind in ("sum", "product")}
    return out


def reference_point(f, rows: UserRows) -> np.ndarray:
    """The reference x⁰ (d,) of the tests and cuts: the inputs' medians, unless f is near
    zero there (A·κ·(T₂ − T₁)/d at T₁ = T₂: a product's identity is then all noise) —
    then the one of the ``REFERENCES`` held-out rows nearest the medians where |f| is
    largest."""
    middle = np.median(rows.X, axis=0)
    with np.errstate(all="ignore"):
        F = f(rows.X_val)
        if abs(float(f(middle[None])[0])) >= NEAR_ZERO * np.sqrt(np.mean(F ** 2)):
            return middle
    spread = np.std(rows.X, axis=0) + 1e-300
    nearest = np.argsort(np.sum(((rows.X_val - middle) / spread) ** 2, axis=1))[:REFERENCES]
    return rows.X_val[nearest[np.argmax(np.abs(np.nan_to_num(F[nearest])))]].copy()


def peel_tolerance(accuracy: float) -> float:
    """The identity error under which an input is peeled, for an oracle of held-out nmse
    ``accuracy`` (0: a known function)."""
    return float(np.clip(PEEL_FACTOR * np.sqrt(accuracy), PEEL_FLOOR, PEEL_TOL))


def choose_peel(f, X_val: np.ndarray, x0: np.ndarray, names: list, tolerance: float = PEEL_TOL) -> tuple:
    """(outer, kind, inputs): the inputs that split off ``f`` as factors, else as terms
    (outer ""), else as terms of 1/f or f² (outer "inverse" or "square": the resonance
    denominators 1/(n/d₂ + 1/d₁), the distances √(x² + y²)), each to ``tolerance``;
    ("", None, []) when none does."""
    errors = peel_errors(f, X_val, x0)
    log.info("peeling at %s (tolerance %.2g): %s", x0, tolerance,
             ", ".join(f"{names[j]} {e['product']:.2g}/{e['sum']:.2g}" for j, e in errors.items()))
    kind, inputs = peeled_inputs(errors, tolerance)
    if kind is not None:
        return "", kind, inputs
    with np.errstate(all="ignore"):
        values = (f(X_val), f(x0[None]))
    for name in PEEL_OUTER:
        h, _, applies = OUTER[name]
        if all(applies(v) for v in values):
            errors = peel_errors(lambda X, h=h: h(f(X)), X_val, x0)
            inputs = [j for j, e in errors.items() if e["sum"] < tolerance]
            if inputs:
                log.info("peeling %s: %s", name, ", ".join(f"{names[j]} {e['sum']:.2g}" for j, e in errors.items()))
                return name, "sum", inputs
    return "", None, []


def peeled_inputs(errors: dict, tolerance: float = PEEL_TOL) -> tuple:
    """(kind, inputs): the inputs that split off as factors ("product"), else as terms
    ("sum"), under ``tolerance``; (None, []) when none does."""
    for kind in ("product", "sum"):
        inputs = [j for j, e in errors.items() if e[kind] < tolerance]
        if inputs:
            return kind, inputs
    return None, []


def cut_exprs(f, rows: UserRows, x0: np.ndarray, inputs: list, kind: str, functions, accuracy: float,
              symbols) -> dict:
    """{j: sympy expression of x_j}: f's cut through x0 along each of ``inputs``, a
    monomial where one fits (:func:`monomial`), else the best direct fit (None when no
    fit is finite)."""
    out = {}
    for j in inputs:
        pts = np.repeat(x0[None], len(rows.X), axis=0)
        pts[:, j] = rows.X[:, j]
        with np.errstate(all="ignore"):
            cut = f(pts)
        mono = monomial(rows.X[:, j], cut, kind, accuracy) if np.all(np.isfinite(cut)) else None
        if mono is not None:
            out[j] = monomial_expr(mono, symbols[j])
            continue
        with np.errstate(all="ignore"):
            fits = univariate_fits(rows.X[:, j], cut, functions, 1, weights=rows.w,
                                   tolerance=cut_tolerance(accuracy, f(rows.X_val), cut))
        out[j] = univariate_expr(fits[0], symbols[j]) if fits else None
    return out


def peel_formulas(model, transform, rows: UserRows, settings: SearchSettings, functions, budget: Budget,
                  solve, accuracy: float = 0.0) -> list:
    """Formulas of a table of three or more inputs found by peeling off the inputs that
    split from the rest (see the module docstring); [] when none does or nothing checks.
    ``model``, ``transform``: a trained network and its space's transform (the oracle);
    ``functions``: the library of the cut fits; ``solve(X, y, names, split, settings,
    budget=...)``: the search of the smaller problem (:func:`.table_search.search_table`);
    ``accuracy``: the network's held-out nmse."""
    return peel_oracle(network_function(model, transform), rows, settings, functions, budget, solve, accuracy)


def peel_oracle(f, rows: UserRows, settings: SearchSettings, functions, budget: Budget, solve,
                accuracy: float = 0.0) -> list:
    """:func:`peel_formulas` with the oracle ``f``: X (n, d) -> (n,) given (a trained
    network, :func:`.oracle_split.network_function`, or a known function in tests)."""
    x0 = reference_point(f, rows)
    coarse = accuracy > SPLITS_NMSE  # scaling symmetries only
    outer_name, kind, inputs = ("", None, []) if coarse else choose_peel(f, rows.X_val, x0, rows.names,
                                                                         peel_tolerance(accuracy))
    if budget.spent:
        return []
    user_rows, inverse = rows, (lambda e: e)
    if outer_name:  # the peel of h(f), on the data h(y); formulas mapped back by h's inverse
        h, inverse, _ = OUTER[outer_name]
        f = (lambda X, f=f: h(f(X)))
        with np.errstate(all="ignore"):
            rows = replace(rows, y=h(rows.y), y_val=h(rows.y_val))
        if not (np.all(np.isfinite(rows.y)) and np.all(np.isfinite(rows.y_val))):
            return []
    symbols = variable_symbols(rows.names)
    keep = [j for j in range(rows.X.shape[1]) if j not in inputs]
    group, prefactor = None if coarse else power_group(f, rows.X_val, keep), sympy.Integer(1)
    kept = [symbols[j] for j in keep]
    core_inputs = None if group is None else [monomial_of(kept, group)]
    tolerance = peel_tolerance(accuracy)
    further = not coarse and core_inputs is None and _splits_further(f, rows.X_val, x0, keep, tolerance)
    found = _scalings(f, rows.X_val, inputs, keep, kind, x0) if core_inputs is None and not further else None
    if found is not None and coarse and len(found[0]) > COARSE_INPUTS:
        log.info("peeling: a coarse oracle's reduction to %d inputs is left for a better one", len(found[0]))
        return []
    if found is not None:
        A, powers = found
        core_inputs = [monomial_of(kept, row) for row in A]
        prefactor = monomial_of(kept, powers)
    pairs = symmetric_pairs(f, rows.X_val, keep) if core_inputs is None and not coarse else []
    if kind is None and core_inputs is None and not pairs:
        return []
    outer = sympy.Integer(1) if kind is None else _outer(f, rows, x0, inputs, kind, functions, accuracy, symbols)
    if outer is None:
        return []
    kind = kind or "product"

    def checked(expr):  # the formula of f, checked on the user's rows
        return checked_formula(inverse(expr), symbols, user_rows, budget, f"the peeled formula {inverse(expr)}")

    if not keep:  # every input splits off: the law is its cuts
        found = checked(outer)
        return [found] if found is not None else []
    # the smaller problem: the inputs kept, their one product of powers, the invariants
    # of their scalings, or their symmetric pairs joined
    if core_inputs is None:
        core_inputs = reduced_inputs(pairs, keep, symbols)
    log.info("peeling: the smaller problem's inputs are %s", core_inputs)
    found = []
    for core in _core_formulas(rows, core_inputs, outer, kind, prefactor, symbols, settings, budget, solve):
        inner = prefactor * core.expr.xreplace(dict(zip(core.variables, core_inputs)))
        formula = checked(outer * inner if kind == "product" else outer + inner)
        if formula is not None:
            found.append(formula)
    return found


def _outer(f, rows: UserRows, x0, inputs: list, kind: str, functions, accuracy: float, symbols):
    """The peeled part of the law: Π ĉ_j(x_j) without its numeric factor for factors (the
    smaller problem carries the scale), Σ (ĉ_j(x_j) − f(x⁰)) for
    terms, with f(x⁰) put back once when every input is peeled; None when a cut has no fit."""
    cuts = cut_exprs(f, rows, x0, inputs, kind, functions, accuracy, symbols)
    if any(c is None for c in cuts.values()):
        return None
    log.info("peeling %s as %ss: %s", [rows.names[j] for j in inputs], kind, cuts)
    F0 = float(f(x0[None])[0])
    everything = len(inputs) == rows.X.shape[1]
    if kind == "product":
        if everything:
            return sympy.Mul(*(c / F0 for c in cuts.values())) * F0
        # without its numeric factor (1.03·m₀ read off a network at x⁰): the smaller problem
        # fits its own scale, and its law stays closed (γ(v/c), not 0.97·γ)
        return sympy.Mul(*cuts.values()).as_coeff_Mul()[1]
    return sympy.Add(*(c - F0 for c in cuts.values())) + (F0 if everything else 0)


def _splits_further(f, X_val: np.ndarray, x0: np.ndarray, keep: list, tolerance: float) -> bool:
    """Whether three or more kept inputs split further (as factors or terms, to
    ``tolerance``) with the peeled ones at x0: then the smaller problem is searched in
    them, where its own peel takes them apart, not in the invariants of their scalings
    (m·(u² + v² + w²)/2: after m, u² + v² + w² is a sum, not u²·H(v/u, v/w))."""
    if len(keep) < 3:
        return False

    def kept_only(Xk):
        X = np.repeat(x0[None], len(Xk), axis=0)
        X[:, keep] = Xk
        return f(X)

    kind, _ = peeled_inputs(peel_errors(kept_only, X_val[:, keep], x0[keep]), tolerance)
    return kind is not None


def _scalings(f, X_val: np.ndarray, inputs: list, keep: list, kind, x0: np.ndarray):
    """(A, p) of :func:`.scalings.scaling_reduction` for the kept inputs of ``f`` (None
    when they have no scaling symmetry, or are not positive), on the held-out rows with
    the peeled ``inputs`` at x0 when they split off as terms: the smaller problem's target
    is then f with those inputs at x0, and the prefactor multiplies it alone
    (A + x₂·H(x₀x₁/x₂)). Peeled factors change no ratio f(moved)/f."""
    if kind == "sum":
        X_val = X_val.copy()
        X_val[:, inputs] = x0[inputs]
    return scaling_reduction(f, X_val, keep)


def _core_formulas(rows: UserRows, core_inputs: list, outer, kind: str, prefactor, symbols,
                   settings: SearchSettings, budget: Budget, solve) -> list:
    """The most accurate formulas of the smaller problem: inputs ``core_inputs`` (sympy
    expressions of ``symbols``: the kept columns or their product of powers), the target
    with ``outer`` (the peeled cuts) divided out or subtracted, then divided by
    ``prefactor`` (a monomial of the kept inputs); [] when its search fails."""
    X = np.concatenate([rows.X, rows.X_val])
    y = np.concatenate([rows.y, rows.y_val])
    with np.errstate(all="ignore"):
        values = sympy.lambdify(symbols, printable(outer), "numpy")(*X.T) * np.ones(len(y))
        target = y / values if kind == "product" else y - values
        target = target / (sympy.lambdify(symbols, prefactor, "numpy")(*X.T) * np.ones(len(y)))
        Xc = np.stack([sympy.lambdify(symbols, e, "numpy")(*X.T) * np.ones(len(y)) for e in core_inputs], axis=1)
    if not (np.all(np.isfinite(target)) and np.all(np.isfinite(Xc))):
        log.info("peeling: the smaller problem is not finite on every row")
        return []
    names = [str(e) if e.is_Symbol else f"group{k}" for k, e in enumerate(core_inputs)]
    n, m = len(rows.X), len(rows.X_val)
    train, val = np.arange(n), np.arange(n, n + m)
    weight = None if rows.w is None else np.concatenate([rows.w, rows.w_val])
    split = RowSplit(train, val, train, val, weight=weight)
    try:
        result = solve(Xc, target, names, split, replace(settings, n_jobs=1),
                       budget=budget.rest_share(PEEL_SHARE), final=False)
    except DiscoveryError as err:
        log.info("peeling: the smaller problem found nothing (%s)", err)
        return []
    entries = sorted(result.front, key=lambda e: e.nmse)[:COMPOSED]
    return [e.formula for e in entries]
