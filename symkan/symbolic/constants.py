"""Constants of a formula: canonical form, refit, and snapping to simple values.

* :func:`monic` removes the scale redundancy of products of sums, (k₁x + …)(k₂y + …)
  → k₁k₂·(x + …)(y + …), so every remaining float is identifiable.
* :func:`ConstantFit` turns every float of an expression into a parameter, refits them
  by Levenberg–Marquardt on (X, y) and snaps them one at a time — to 0 (dropping a
  term), an integer, a simple rational p/q (q ≤ 6, |p| ≤ 12) or a rational multiple of
  π or 1/π (π·p/q, p/(q·π), q ≤ 4, |p| ≤ 8) — refitting the others after each snap and keeping the snap only
  when the loss stays within ``loss_base·max(1 + rtol, n^(m/n)) + atol·Var(y)``, where
  loss_base is the loss with every constant free, m the number of constants snapped so
  far and n the number of rows (the BIC's price of m parameters: on noisy data the free
  fit always wins a little by fitting noise). A final joint attempt snaps every
  remaining constant at once, for constants that compensate each other.
  With a :class:`NoiseTest` (small tables, :mod:`symkan.discovery.small_data`) the
  allowance is an F-test's instead: a snap is kept unless its loss is significantly
  worse than the free fit's, given the noise variance of the data.
  ``weights`` are the rows' weights in every loss (:mod:`symkan.sample_weights`; 1/y²:
  relative errors).
"""
from __future__ import annotations

import copy
import logging
import math
import time
from fractions import Fraction

import numpy as np
import sympy

from .. import work
from ..sample_weights import mean_square, weighted_var
from .differences import forward_jacobian, real_values
from .names import printable
from .noise_test import NoiseTest

log = logging.getLogger(__name__)

#: constants larger than this in magnitude are never snapped (a rounded 3.2e16 says nothing)
MAX_SNAP = 1000.0
#: formulas with more free constants than this are snapped without refits (a refit costs
#: about k² evaluations, so snapping all k costs about k³: 21 constants 1.2 s, 31 about 46 s)
MAX_REFIT_CONSTANTS = 30
COST_ORDER_MAX = 6  #: up to this many constants, snaps are tried cheapest first (:meth:`ConstantFit._snap_order`)
#: seconds after which :meth:`ConstantFit.snap` stops trying further snaps
SNAP_TIME_LIMIT = 10.0


def _is_float(e) -> bool:
    return isinstance(e, sympy.Float)


def _is_radical(e) -> bool:
    """A number such as √2 or 3^(1/3): a rational power of a rational."""
    return e.is_Pow and e.base.is_Rational and e.exp.is_Rational and not e.exp.is_Integer


def _fold_radicals(m: sympy.Expr) -> sympy.Expr:
    """0.7071·√2·u -> 1.0·u: a float times radicals is just a float (π is left alone, it
    is a snap target)."""
    floats = [a for a in m.args if _is_float(a)]
    rads = [a for a in m.args if _is_radical(a)]
    if not floats or not rads:
        return m
    rest = [a for a in m.args if not (_is_float(a) or _is_radical(a))]
    return sympy.Mul(sympy.Float(float(sympy.Mul(*floats, *rads))), *rest)


def clean_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Floats times radicals become floats, and floats within round-off (1e-12 relative)
    of an integer become Integers (1.0*x -> x)."""
    if any(_is_radical(a) for a in expr.atoms(sympy.Pow)):
        expr = expr.replace(lambda e: e.is_Mul, _fold_radicals)
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        if math.isfinite(v) and abs(v) < 1e15 and abs(v - round(v)) <= 1e-12 * max(1.0, abs(v)):
            rep[f] = sympy.Integer(int(round(v)))
    return expr.xreplace(rep) if rep else expr


def _leading_float(add: sympy.Add):
    """The float coefficient of largest magnitude among the non-constant terms of a sum
    (so a round-off term such as 1e-9·x never becomes the scale), or None when that
    coefficient is exact or 1."""
    best = None
    for term in add.args:
        if term.free_symbols:
            coeff = term.as_coeff_Mul()[0]
            if best is None or abs(float(coeff)) > abs(float(best)):
                best = coeff
    if best is not None and _is_float(best) and float(best) not in (0.0, 1.0):
        return best
    return None


def monic(expr: sympy.Expr) -> sympy.Expr:
    """Pull the magnitude of the largest float coefficient out of every sum that is a
    factor of a product or the base of a power."""
    if expr.is_Atom:
        return expr
    args = [monic(a) for a in expr.args]
    if expr.is_Mul or expr.is_Pow:
        factors = args if expr.is_Mul else [expr.func(*args)]
        coeff = sympy.Integer(1)
        out = []
        for f in factors:
            base, ex = (f.base, f.exp) if f.is_Pow else (f, sympy.Integer(1))
            if base.is_Add:
                k = _leading_float(base)
                if k is not None:
                    k = abs(k)  # a positive scale can leave any power: (k·u)^e = k^e·u^e
                    base = sympy.Add(*[t / k for t in base.args])
                    coeff = coeff * k ** ex
                    f = base ** ex
            out.append(f)
        return sympy.Mul(coeff, *out)
    return expr.func(*args)


def parametrize(expr: sympy.Expr):
    """Replace every float occurrence by its own symbol. Returns (expr_p, symbols, values)."""
    syms, vals = [], []

    def walk(e):
        if _is_float(e):
            s = sympy.Dummy(f"p{len(syms)}")
            syms.append(s)
            vals.append(float(e))
            return s
        if e.is_Atom:
            return e
        return e.func(*[walk(a) for a in e.args])

    return walk(expr), syms, np.array(vals, dtype=np.float64)


def numpy_function(expr: sympy.Expr, variables, params):
    """``expr`` lambdified for numpy as f(*columns, *params), its arguments renamed by
    position (v0_, … for ``variables``, c0_, … for ``params``, same assumptions).

    Left to itself lambdify names Dummy arguments (``parametrize``'s) by sympy's global
    Dummy counter, and the order of a product's factors in the code it writes follows
    those names: the same formula then rounds differently depending on how many Dummies
    were made before, which a snap on a flat loss turns into a different formula from
    one run to the next. Names fixed by position make the code a function of ``expr``."""
    args = [sympy.Symbol(f"v{k}_", **v.assumptions0) for k, v in enumerate(variables)]
    consts = [sympy.Symbol(f"c{k}_", **p.assumptions0) for k, p in enumerate(params)]
    body = expr.xreplace({**dict(zip(variables, args)), **dict(zip(params, consts))})
    return sympy.lambdify(args + consts, printable(body), modules="numpy")


def snap_candidates(v: float, window: float = 0.05) -> list[sympy.Expr]:
    """Simple values near v, simplest first: integers, rationals p/q (q ≤ 6, |p| ≤ 12),
    π·p/q and p/(q·π) (q ≤ 4, |p| ≤ 8; ħ = h/(2π) puts 1/(2π) into many laws), then
    π²·p/q and p/(q·π²) (4π², π²/d² of a box's modes).
    (0 is tried separately, as a term drop.)"""
    out: list[sympy.Expr] = []
    tol = window * max(abs(v), 1e-3)

    def add(c):
        if c != 0 and abs(float(c) - v) <= tol and c not in out:
            out.append(c)

    if not math.isfinite(v) or abs(v) > MAX_SNAP:
        return out
    add(sympy.Integer(int(round(v))))
    fr = Fraction(v).limit_denominator(6)
    if abs(fr.numerator) <= 12:
        add(sympy.Rational(fr.numerator, fr.denominator))
    fr = Fraction(v / math.pi).limit_denominator(4)
    if fr != 0 and abs(fr.numerator) <= 8:
        add(sympy.pi * sympy.Rational(fr.numerator, fr.denominator))
    fr = Fraction(v * math.pi).limit_denominator(4)
    if fr != 0 and abs(fr.numerator) <= 8:
        add(sympy.Rational(fr.numerator, fr.denominator) / sympy.pi)
    for power in (2, -2):
        fr = Fraction(v / math.pi ** power).limit_denominator(4)
        if fr != 0 and abs(fr.numerator) <= 8:
            add(sympy.pi ** power * sympy.Rational(fr.numerator, fr.denominator))
    return out


class _TimeUp(Exception):
    """Raised inside a refit's residuals once its deadline has passed."""


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def snap_charge(k: int, refit: bool = True) -> int:
    """Evaluations a snap of ``k`` constants is charged on the work meter
    (:mod:`symkan.work`), up front: its first and last refit (30·(k + 1) each) and one
    attempt with a refit (10·(k + 1)) per constant; without refits, k + 1. How many of
    its attempts run depends on round-off, so it is not charged per attempt."""
    return (k + 1) * (60 + 10 * k) if refit else k + 1


class ConstantFit:
    """Refit and snap the float constants of ``expr`` on data X (n, d) -> y (n,); with
    ``weights`` (n,), every loss is the weighted mean square error (and Var(y) the
    weighted variance, :mod:`symkan.sample_weights`)."""

    def __init__(self, expr: sympy.Expr, variables, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None):
        self.expr_p, self.syms, self.values = parametrize(expr)
        self.variables = list(variables)
        self.fn = numpy_function(self.expr_p, self.variables, self.syms)
        self.exact: list[sympy.Expr | None] = [None] * len(self.syms)
        self._set_rows(X, y, weights)

    def _set_rows(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None) -> None:
        self.cols = [X[:, k] for k in range(X.shape[1])]
        self.y = y
        self.n = y.shape[0]
        self.weights = weights
        # least squares of √w·r: residuals scaled by the weights relative to their mean
        self.root_weights = None if weights is None else np.sqrt(weights / np.mean(weights))
        self.var_y = weighted_var(y, weights) if self.n > 1 else 1.0

    def on_rows(self, rows: np.ndarray, X: np.ndarray, y: np.ndarray) -> ConstantFit:
        """A copy that fits and evaluates the rows ``rows`` (indices) of X (n, d), y (n,)
        (the same expression, values and snaps; nothing is compiled again)."""
        other = copy.copy(self)
        other.values = self.values.copy()
        other.exact = list(self.exact)
        other._set_rows(X[rows], y[rows], None if self.weights is None else self.weights[rows])
        return other

    # --- evaluation -------------------------------------------------------------------
    def predict(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self.fn(*self.cols, *values)
        return np.broadcast_to(real_values(out), (self.n,))

    def residuals_at(self, V: np.ndarray) -> np.ndarray:
        """(m, n): :meth:`residuals` at m sets of values V (m, p), in one evaluation."""
        with np.errstate(all="ignore"):
            out = np.broadcast_to(real_values(self.fn(*self.cols, *V.T[:, :, None])), (len(V), self.n))
        r = out - self.y
        return r if self.root_weights is None else r * self.root_weights

    def _vectorises(self) -> bool:
        """Whether the formula evaluates at several sets of values at once (a Min or a
        Piecewise may not broadcast): then refits take their Jacobians that way."""
        if getattr(self, "_vectorised", None) is None:
            V = np.repeat(self.values[None], 2, axis=0)
            try:
                R = self.residuals_at(V)
                self._vectorised = bool(R.shape == (2, self.n) and np.allclose(
                    R[1], self.residuals(self.values), equal_nan=True, rtol=1e-12, atol=0))
            except (ValueError, TypeError, IndexError):
                self._vectorised = False
        return self._vectorised

    def residuals(self, values: np.ndarray) -> np.ndarray:
        """(n,): predictions − y, times √(w / mean w) with weights (Σ residuals² = n·loss)."""
        r = self.predict(values) - self.y
        return r if self.root_weights is None else r * self.root_weights

    def loss(self, values: np.ndarray) -> float:
        val = mean_square(self.predict(values) - self.y, self.weights)
        return val if math.isfinite(val) else math.inf

    def refit(self, values: np.ndarray, free: np.ndarray, max_nfev: int = 30,
              deadline: float | None = None, charge: bool = True) -> tuple[np.ndarray, float]:
        """Least squares over the ``free`` entries of values; returns (values, loss).
        ``max_nfev`` bounds the work: about that many Levenberg–Marquardt iterations;
        ``deadline`` (a ``time.monotonic()`` value) bounds the time: no residual is
        evaluated after it, and the best values evaluated so far are kept. The refit is
        charged ``max_nfev·(k + 1)`` evaluations (k free constants) on the active work
        meter (unless ``charge`` is False: a snap pays for its refits up front), and does
        not start past its cutoff (:mod:`symkan.work`)."""
        from scipy.optimize import least_squares

        start = self.loss(values)
        idx = np.flatnonzero(free)
        if idx.size == 0 or not math.isfinite(start) or _past(deadline) or work.past_cutoff():
            return values, start
        if charge:
            work.record(max_nfev * (idx.size + 1))
        best = [math.inf, values[idx]]  # with a deadline: the lowest cost evaluated and its point

        def resid(p):
            if _past(deadline):
                raise _TimeUp
            v = values.copy()
            v[idx] = p
            r = self.residuals(v)
            r = np.where(np.isfinite(r), r, 1e150)
            cost = float(r @ r) if deadline is not None else math.inf
            if cost < best[0]:
                best[:] = [cost, p.copy()]
            return r

        def jac(p):  # scipy's two-point differences, in one evaluation
            if _past(deadline):
                raise _TimeUp
            return forward_jacobian(self.residuals_at, values, idx, p)

        method = "lm" if self.n >= idx.size else "trf"
        vectorised = self._vectorises()
        # "lm" counts the evaluations of a Jacobian by differences, not a callable's: the
        # same number of iterations either way
        evaluations = max_nfev if vectorised and method == "lm" else max_nfev * (idx.size + 1)
        try:
            sol = least_squares(resid, values[idx], jac=jac if vectorised else "2-point", method=method,
                                xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=evaluations)
            found = sol.x
        except _TimeUp:
            log.debug("constant refit stopped by the time budget")
            found = best[1]
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as err:
            log.debug("constant refit failed: %s", err)
            return values, start
        v = values.copy()
        v[idx] = found
        new = self.loss(v)
        return (v, new) if new <= start else (values, start)

    # --- snapping ---------------------------------------------------------------------
    def snap(self, rtol: float = 1e-2, atol: float = 1e-11, refit: bool = True,
             max_refit: int = MAX_REFIT_CONSTANTS, passes: int = 2,
             time_limit: float | None = SNAP_TIME_LIMIT, deadline: float | None = None,
             noise: NoiseTest | None = None, values_too: bool = True) -> float:
        """Greedy snapping, then one joint attempt (see the module doc). Updates
        ``values``/``exact``; returns the loss. ``values_too=False``: drops to 0 only.
        With ``noise`` a snap is kept unless its F-test finds it worse than the free fit
        (:class:`NoiseTest`; ``rtol`` unused). After ``time_limit`` seconds no snap is
        tried (free constants keep their refit values); past ``deadline``
        (``time.monotonic()``) or the work meter's cutoff (:mod:`symkan.work`) neither
        snap nor refit goes on. Charged :func:`snap_charge` evaluations up front."""
        stop = math.inf if time_limit is None else time.monotonic() + float(time_limit)
        if deadline is not None:
            stop = min(stop, deadline)
        k = len(self.syms)
        refit = refit and 0 < k <= max_refit
        if not work.past_cutoff():  # past it the snap tries nothing: nothing to charge
            work.record(snap_charge(k, refit))
        free = np.ones(k, dtype=bool)
        values = self.values.copy()
        loss = self.loss(values)
        if refit:
            values, loss = self.refit(values, free, deadline=deadline, charge=False)
        base = loss

        def threshold(n_snapped: int) -> float:
            if noise is not None:  # the noise of the data decides
                return noise.limit(base, n_snapped, self.n) + atol * self.var_y
            # A snap removes a free parameter. On noisy data the free fit is always a
            # little better (it fits noise), so allow what the BIC allows for the
            # parameters removed — a factor n^(m/n) on the MSE — or rtol, whichever is
            # larger; atol·Var(y) covers round-off on noise-free data.
            bic = math.exp(n_snapped * math.log(max(self.n, 2)) / max(self.n, 2))
            return base * max(1.0 + rtol, bic) + atol * self.var_y

        def attempt(targets: dict) -> bool:
            nonlocal values, loss
            if time.monotonic() > stop or work.past_cutoff():
                return False
            trial = values.copy()
            mask = free.copy()
            for j, target in targets.items():
                trial[j] = float(target)
                mask[j] = False
            limit = threshold(int((~mask).sum()))
            new = self.loss(trial)
            if refit and new > limit:
                trial, new = self.refit(trial, mask, max_nfev=10, deadline=deadline, charge=False)
            if new <= limit:
                values, loss = trial, new
                for j, target in targets.items():
                    free[j] = False
                    self.exact[j] = target
                return True
            return False

        for _ in range(passes):
            changed = False
            for j in np.argsort(np.abs(values)):  # drops: smallest constants first
                if free[j] and attempt({j: sympy.Integer(0)}):
                    changed = True
            for j in self._snap_order(values, free, refit and k <= COST_ORDER_MAX, deadline) if values_too else ():
                if not free[j]:
                    continue
                for c in snap_candidates(values[j]):
                    if attempt({j: c}):
                        changed = True
                        break
            if not changed:
                break
        # One snap at a time can stall where constants compensate each other (a fitted
        # exponent 0.50007 and an offset 3e-5): try every remaining simple value at once,
        # dropping the smallest remaining constant too when it is negligible.
        joint = {j: snap_candidates(values[j])[0] for j in range(k)
                 if values_too and free[j] and snap_candidates(values[j])}
        if joint and len(joint) < free.sum() + 1:
            rest = [j for j in range(k) if free[j] and j not in joint]
            if rest:
                small = min(rest, key=lambda j: abs(values[j]))
                with_drop = {**joint, small: sympy.Integer(0)}
                if not attempt(with_drop):
                    attempt(joint)
            else:
                attempt(joint)
        if refit and free.any():
            values, loss = self.refit(values, free, deadline=deadline, charge=False)
        self.values = values
        return loss

    def _snap_order(self, values: np.ndarray, free: np.ndarray, by_cost: bool, deadline) -> list:
        """The free constants that have simple values, in the order their snaps are tried:
        those the expression is nonlinear in (its form) before amplitudes and offsets (which
        may be any number: 1/√(2π)); within each, ``by_cost`` cheapest first (the loss with
        the constant at its nearest simple value, the others refit), else nearest first.
        On noisy data a 2/5 snapped first left the exponent of 0.3994·exp(−0.5007θ²) at 0.5013."""
        linear, order = self.linear_constants(), []
        for j in np.flatnonzero(free):
            cands = snap_candidates(values[j])
            if not cands:
                continue
            key = abs(float(cands[0]) - values[j]) / max(abs(values[j]), 1e-12)
            if by_cost and not _past(deadline):
                trial, mask = values.copy(), free.copy()
                trial[j], mask[j] = float(cands[0]), False
                key = self.refit(trial, mask, max_nfev=10, deadline=deadline, charge=False)[1]
            order.append((linear[j], key, int(j)))
        return [j for *_, j in sorted(order)]

    def linear_constants(self) -> list:
        """Whether the expression is linear in each constant (once): its second difference,
        steps max(1, |c|), vanishes on the rows. Not ``sympy.diff``: on a large formula of
        fitted numbers that ran sympy's polynomial gcd for minutes (II.35.21)."""
        if getattr(self, "_linear", None) is None:
            base, self._linear = self.predict(self.values), []
            for j, step in enumerate(np.maximum(1.0, np.abs(self.values))):
                up, down = self.predict(self.values + step * (np.arange(len(self.values)) == j)), \
                    self.predict(self.values - step * (np.arange(len(self.values)) == j))
                second = up - 2 * base + down
                self._linear.append(bool(np.all(np.abs(second) <= 1e-9 * (np.abs(base) + np.abs(up) + 1e-300))))
        return self._linear

    def expression(self) -> sympy.Expr:
        """The expression with snapped constants exact and the others as floats."""
        rep = {s: (e if e is not None else sympy.Float(float(v)))
               for s, v, e in zip(self.syms, self.values, self.exact)}
        return clean_numbers(self.expr_p.xreplace(rep))
