"""Data spaces a network can be trained in, and the map of its formulas back to the user's.

* ``linear``: inputs min-max scaled to [-1, 1], target standardised (always available).
* ``log``: u = log x for every input and v = log(s·y) with s = sign(y) — available when
  every input is positive and the target never changes sign, as for most physical laws.
  A product of powers becomes a sum (C·x^a·y^b → log C + a·u + b·v): the smallest
  network represents it exactly with linear edges. The formula F(u) found there maps back
  to y = s·exp(F(log x)), which is simplified and whose constants are refit and snapped
  again on the user's data.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import sympy
import torch

from ..sample_weights import mean_square
from ..units.analysis import power_product, power_values

log = logging.getLogger(__name__)

SPACES = ("linear", "log")


@dataclass(frozen=True, eq=False)  # eq: numpy fields do not compare to one bool
class SpaceTransform:
    """How a space maps the user's data to network units and back: the space's ``name``,
    the target's sign s (log space), the inputs' ``input_shift``/``input_scale`` (d,) and
    the target's ``output_shift``/``output_scale`` (in the space's units: x or u = log x;
    y or v = log(s·y)). Kept on a fitted estimator (``space_``) and in its model file.

    A network trained on dimensionless groups (:mod:`.dimensionless`) also carries the
    groups' exponents ``groups`` (k, d): its inputs are π_i = Π_j x_j^groups[i, j], taken
    before the space's own map; ``reference`` (d,) are the exponents of y_ref, the
    product of inputs its output is a multiple of (labels only)."""

    name: str
    input_shift: np.ndarray
    input_scale: np.ndarray
    output_shift: float
    output_scale: float
    sign: float = 1.0
    groups: np.ndarray | None = None
    reference: np.ndarray | None = None

    def __post_init__(self):
        if self.name not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {self.name!r}")

    @property
    def input_transform(self) -> tuple:
        return self.input_shift, self.input_scale

    @property
    def output_transform(self) -> tuple:
        return self.output_shift, self.output_scale

    def inputs(self, X_user: np.ndarray) -> np.ndarray:
        """User inputs (n, d) -> network inputs (n, d), or (n, k) of the ``groups``."""
        if self.groups is not None:
            X_user = power_values(X_user, self.groups)
        if self.name == "log":
            if np.any(X_user <= 0):
                raise ValueError("this model's network works on log(x): give it positive inputs")
            X_user = np.log(X_user)
        return (X_user - self.input_shift) / self.input_scale

    def labels(self, names: list, target: str) -> dict:
        """Diagram labels of the network's inputs and output (``in_names``, ``out_names``,
        for the log space a ``title``): what the network's edges act on — for a network of
        dimensionless groups, the groups, and the target over its reference."""
        if self.groups is not None:
            syms = [sympy.Symbol(n) for n in names]
            names = [str(power_product(syms, g)) for g in self.groups]
            ref = 1 if self.reference is None else power_product(syms, self.reference)
            target = target if ref == 1 else f"{target}/({ref})"
        if self.name == "linear":
            return {"in_names": list(names), "out_names": [target]}
        minus = "" if self.sign > 0 else "-"
        return {"in_names": [f"log({n})" for n in names], "out_names": [f"log({minus}{target})"],
                "title": f"network in log space: {target} = {minus}exp(output)"}


@dataclass
class Space:
    """Training data of one space in network units: ``X`` (n, d), ``y`` (n, 1), ``X_val``,
    ``y_val``; ``transform`` maps the user's data to them. ``w`` (n,) and ``w_val``: the
    rows' weights (a tensor for training, an array for held-out scores), or None."""

    transform: SpaceTransform
    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    w: torch.Tensor | None = None
    w_val: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.transform.name


def _scaling(A: np.ndarray):
    lo, hi = A.min(0), A.max(0)
    return (hi + lo) / 2, np.where(hi > lo, (hi - lo) / 2, 1.0)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)


def log_space_applies(X: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all(X > 0) and (np.all(y > 0) or np.all(y < 0)))


def space_names(log_space, X: np.ndarray, y: np.ndarray) -> tuple:
    """The spaces a search trains in, given the option ``log_space`` ("auto", True or
    False): the log space too when the data allow it ("auto") or always (True: a
    ValueError when they do not)."""
    applies = log_space_applies(X, y)
    use_log = applies if log_space == "auto" else bool(log_space)
    if use_log and not applies:
        raise ValueError("log_space=True needs every input > 0 and a target that never changes sign")
    return ("linear", "log") if use_log else ("linear",)


def make_space(name: str, X: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
               weight: np.ndarray | None = None) -> Space:
    """Standardised training/held-out tensors of ``name`` from user data X (n, d), y (n,):
    of the rows ``train`` and ``val`` only (index arrays; the rest of a large table is
    never copied), with their weights when ``weight`` (n,) is given. The standardisation
    itself is unweighted: weights change what the losses count, not the units."""
    if name not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {name!r}")
    sign = 1.0
    parts = [(X[rows], y[rows]) for rows in (train, val)]
    if name == "log":
        if not log_space_applies(X, y):
            raise ValueError("the log space needs positive inputs and a target of one sign")
        sign = 1.0 if y[0] > 0 else -1.0
        parts = [(np.log(Xp), np.log(sign * yp)) for Xp, yp in parts]
    (X_train, y_train), (X_val, y_val) = parts
    x_shift, x_scale = _scaling(X_train)
    y_shift, y_scale = float(y_train.mean()), float(y_train.std()) or 1.0
    transform = SpaceTransform(name, x_shift, x_scale, y_shift, y_scale, sign)
    w, w_val = (None, None) if weight is None else (_tensor(weight[train]), weight[val])
    return Space(transform, _tensor((X_train - x_shift) / x_scale), _tensor((y_train[:, None] - y_shift) / y_scale),
                 _tensor((X_val - x_shift) / x_scale), _tensor((y_val[:, None] - y_shift) / y_scale), w, w_val)


def space_functions(functions, space_name: str):
    """Library names snapped in a space: the caller's choice if given; else the default
    library, plus in the log space the entries for factors of ratios and products
    (:data:`symkan.functions.library.LOG_SPACE_NAMES`)."""
    from ..functions.library import LOG_SPACE_NAMES, default_functions

    if functions is not None:
        return functions
    return default_functions() + list(LOG_SPACE_NAMES) if space_name == "log" else None


def to_user_formula(formula, space: Space, X: np.ndarray, y: np.ndarray, *, max_ops: int = 150,
                    timeout: float | None = 3.0, snap_time_limit: float | None = 10.0, deadline: float | None = None,
                    weights: np.ndarray | None = None):
    """A formula found in ``space`` (in its units) as a formula of the user's x and y
    (``weights`` (n,) of the rows of X in the constants' refit and the loss, or None).

    For the log space: y = s·exp(F(log x)), simplified with every variable positive, then
    its constants refit and snapped on the user's training rows X (n, d), y (n,) (for at
    most ``snap_time_limit`` seconds; simplification and snapping stop at ``deadline``, a
    ``time.monotonic()`` value).
    Returns a new :class:`~symkan.symbolic.Formula` (loss on X, y) or None if the mapped
    formula cannot be evaluated there.
    """
    if space.name == "linear":
        return formula
    positive = [sympy.Symbol(v.name, positive=True) for v in formula.variables]
    expr = formula.expr.xreplace({v: sympy.log(p) for v, p in zip(formula.variables, positive)})
    expr = sympy.powsimp(sympy.expand_log(space.transform.sign * sympy.exp(expr), force=True))
    return user_formula(expr, positive, formula.names, formula, X, y, max_ops=max_ops, timeout=timeout,
                        snap_time_limit=snap_time_limit, deadline=deadline, weights=weights)


def user_formula(expr, symbols, names, formula, X: np.ndarray, y: np.ndarray, *, max_ops: int = 150,
                 timeout: float | None = 3.0, snap_time_limit: float | None = 10.0, deadline: float | None = None,
                 weights: np.ndarray | None = None):
    """``expr`` (a formula mapped to the user's variables ``symbols``, which may carry
    assumptions such as positive=True) simplified, its constants refit and snapped on X
    (n, d), y (n,), square factors under roots taken out with their sign on X
    (:func:`~symkan.symbolic.simplify.roots_of_squares`), as a :class:`~symkan.symbolic.Formula` in plain symbols of the same
    names (the columns' ``names``, the ``network`` of ``formula``, ``loss`` on X, y, both
    weighted by ``weights`` (n,) when given); None when it is not finite there."""
    from ..symbolic.constants import ConstantFit, clean_numbers
    from ..symbolic.formula import Formula
    from ..symbolic.simplify import bounded_simplify, roots_of_squares

    expr = clean_numbers(bounded_simplify(expr, max_ops, timeout, deadline))
    if expr.atoms(sympy.Float):
        # zeros first: a dropped constant changes the form, and the others are snapped in the
        # simplified one (exp(−(aθ + b)²) with b = 0 is exp(−a²θ²), whose a² = 0.5011 is 1/2)
        cf = ConstantFit(expr, symbols, X, y, weights)
        cf.snap(time_limit=snap_time_limit, deadline=deadline, values_too=False)
        if any(e is not None for e in cf.exact):
            # a snap that cannot be rebuilt in time (past the deadline every rebuild is)
            # leaves the formula as it came, its floats included: never dropped for time
            expr = _rebuilt(cf, max_ops, timeout, deadline) or expr
            cf = ConstantFit(expr, symbols, X, y, weights) if expr.atoms(sympy.Float) else None
        if cf is not None:
            cf.snap(time_limit=snap_time_limit, deadline=deadline)
            expr = _rebuilt(cf, max_ops, timeout, deadline) or expr
    expr = _without_hyperbolic_logs(expr, max_ops, timeout, deadline)
    expr = roots_of_squares(expr, symbols, X, timeout, deadline)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):  # a division by an exact zero
        log.debug("mapped formula %s is not finite", expr)
        return None
    plain = [sympy.Symbol(p.name) for p in symbols]
    expr = expr.xreplace(dict(zip(symbols, plain)))
    mapped = Formula(expr, plain, None, getattr(formula, "network", None), names=names)
    with np.errstate(all="ignore"):
        pred = mapped.evaluate(X)
    if not np.all(np.isfinite(pred)):
        log.debug("mapped formula %s is not finite on the data", expr)
        return None
    mapped.loss = mean_square(pred - y, weights)
    return mapped


def _rebuilt(fit, max_ops: int, timeout, deadline):
    """The expression of a snapped ConstantFit ``fit``, simplified (None when sympy could
    not rebuild it in time)."""
    from ..symbolic.constants import clean_numbers
    from ..symbolic.simplify import bounded_call, bounded_simplify

    rebuilt = bounded_call(fit.expression, timeout, deadline)
    if rebuilt is None:
        log.debug("mapped formula %s could not be rebuilt in time", fit.expr_p)
        return None
    return clean_numbers(bounded_simplify(rebuilt, max_ops, timeout, deadline))


def _without_hyperbolic_logs(expr, max_ops, timeout, deadline):
    """tanh(log(r)/2)-type terms as the rational functions they are ((r − 1)/(r + 1)), when
    that is shorter: the simplest exact form of a law found through a log-space sum node."""
    hyperbolic = (sympy.tanh, sympy.sinh, sympy.cosh)
    if not any(f.args[0].has(sympy.log) for f in expr.atoms(*hyperbolic)):
        return expr
    from ..symbolic.simplify import bounded_simplify

    rewritten = bounded_simplify(sympy.powsimp(expr.rewrite(sympy.exp), force=True), max_ops, timeout, deadline)
    return rewritten if sympy.count_ops(rewritten) < sympy.count_ops(expr) else expr


def finite_mse(pred: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """MSE of pred against y (n,), weighted by ``weights`` (n,) when given; inf if pred is
    not finite."""
    return mean_square(pred - y, weights) if np.all(np.isfinite(pred)) else math.inf
