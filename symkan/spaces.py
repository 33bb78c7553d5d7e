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

log = logging.getLogger(__name__)

SPACES = ("linear", "log")


@dataclass
class Space:
    """Training data of one space. Arrays in network units: ``X`` (n, d), ``y`` (n, 1),
    ``X_val``, ``y_val``; ``input_transform``/``output_transform`` (shift, scale) map them
    to the space's units (x or u = log x; y or v = log(s·y)); ``sign`` is s."""

    name: str
    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    input_transform: tuple
    output_transform: tuple
    sign: float = 1.0

    def inputs(self, X_user: np.ndarray) -> np.ndarray:
        """User inputs (n, d) -> network inputs (n, d)."""
        U = np.log(X_user) if self.name == "log" else X_user
        shift, scale = self.input_transform
        return (U - shift) / scale


def _scaling(A: np.ndarray):
    lo, hi = A.min(0), A.max(0)
    return (hi + lo) / 2, np.where(hi > lo, (hi - lo) / 2, 1.0)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)


def log_space_applies(X: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all(X > 0) and (np.all(y > 0) or np.all(y < 0)))


def make_space(name: str, X: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray) -> Space:
    """Standardised training/held-out tensors of ``name`` from user data X (n, d), y (n,)."""
    if name not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {name!r}")
    sign = 1.0
    if name == "log":
        if not log_space_applies(X, y):
            raise ValueError("the log space needs positive inputs and a target of one sign")
        sign = 1.0 if y[0] > 0 else -1.0
        X, y = np.log(X), np.log(sign * y)
    x_shift, x_scale = _scaling(X[train])
    y_shift, y_scale = float(y[train].mean()), float(y[train].std()) or 1.0
    Xn, yn = (X - x_shift) / x_scale, (y - y_shift) / y_scale
    return Space(name, _tensor(Xn[train]), _tensor(yn[train, None]), _tensor(Xn[val]), _tensor(yn[val, None]),
                 (x_shift, x_scale), (y_shift, y_scale), sign)


def to_user_formula(formula, space: Space, X: np.ndarray, y: np.ndarray, *, max_ops: int = 150,
                    timeout: float | None = 3.0, snap_time_limit: float | None = 10.0):
    """A formula found in ``space`` (in its units) as a formula of the user's x and y.

    For the log space: y = s·exp(F(log x)), simplified with every variable positive, then
    its constants refit and snapped on the user's training rows X (n, d), y (n,) (for at
    most ``snap_time_limit`` seconds).
    Returns a new :class:`~symkan.symbolic.Formula` (loss on X, y) or None if the mapped
    formula cannot be evaluated there.
    """
    from .symbolic.constants import ConstantFit, clean_numbers
    from .symbolic.formula import Formula
    from .symbolic.simplify import bounded_simplify

    if space.name == "linear":
        return formula
    positive = [sympy.Symbol(v.name, positive=True) for v in formula.variables]
    expr = formula.expr.xreplace({v: sympy.log(p) for v, p in zip(formula.variables, positive)})
    expr = space.sign * sympy.exp(expr)
    expr = clean_numbers(bounded_simplify(sympy.powsimp(sympy.expand_log(expr, force=True)), max_ops, timeout))
    if expr.atoms(sympy.Float):
        cf = ConstantFit(expr, positive, X, y)
        cf.snap(time_limit=snap_time_limit)
        expr = clean_numbers(bounded_simplify(cf.expression(), max_ops, timeout))
    plain = [sympy.Symbol(p.name) for p in positive]
    expr = expr.xreplace(dict(zip(positive, plain)))
    mapped = Formula(expr, plain, None, getattr(formula, "network", None))
    with np.errstate(all="ignore"):
        pred = mapped.evaluate(X)
    if not np.all(np.isfinite(pred)):
        log.debug("log-space formula %s is not finite on the data", expr)
        return None
    mapped.loss = float(np.mean((pred - y) ** 2))
    return mapped


def finite_mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2)) if np.all(np.isfinite(pred)) else math.inf
