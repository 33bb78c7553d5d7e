"""A closed-form model y = expr(x₁, …, x_d): the :class:`Formula` object, its complexity,
and numeric evaluation of sympy expressions on data rows.

Formulas are read from snapped networks by :func:`symkan.symbolic.network_formula.model_formula`.
"""
from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from .names import is_safe_name, latex_symbol_names, printable, renamed, variable_symbols

BACKENDS = ("numpy", "torch", "jax")


def expression_complexity(expr: sympy.Expr) -> int:
    """Number of nodes in the sympy expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


class Formula:
    """A closed-form model y = expr(x₁, …, x_d).

    Attributes: ``expr`` (sympy expression), ``variables`` (the d input symbols, in
    column order, named by the safe names of :mod:`symkan.symbolic.names`), ``names``
    (the user's names of the variables, default: the symbols' names), ``loss`` (mean squared error on the data its constants were fitted
    and checked on, None without data; :meth:`mse` scores held-out rows),
    ``complexity`` (tree nodes), ``constants`` (its floats), ``network`` (the snapped
    KAN it was read from, when it came from one; formulas made by dropping terms share
    their parent's network), ``digits`` ({constant: significant digits} the held-out
    data support, :func:`symkan.symbolic.precision.supported_digits`; None when unknown).
    """

    def __init__(self, expr: sympy.Expr, variables, loss: float | None = None, network=None, names=None,
                 digits: dict | None = None):
        self.expr = expr
        self.digits = digits
        self.variables = tuple(variables)
        self.loss = loss
        self.network = network
        self.names = [v.name for v in self.variables] if names is None else [str(n) for n in names]
        if len(self.names) != len(self.variables):
            raise ValueError(f"{len(self.names)} names for {len(self.variables)} variables")

    @property
    def renamed(self) -> dict[str, str]:
        """{symbol name: user's name} of the variables whose name had to change."""
        return renamed(self.names, self.variables)

    @property
    def complexity(self) -> int:
        return expression_complexity(self.expr)

    @property
    def constants(self) -> tuple[float, ...]:
        """The floating-point numbers left in the expression (snapped ones are exact)."""
        return tuple(float(f) for f in sympy.preorder_traversal(self.expr) if isinstance(f, sympy.Float))

    def sympy(self) -> sympy.Expr:
        return self.expr

    def latex(self) -> str:
        """LaTeX of ``expr`` with the user's names for renamed variables
        (:func:`symkan.symbolic.names.latex_label`)."""
        return sympy.latex(self.expr, symbol_names=latex_symbol_names(self.names, self.variables))

    def to_callable(self, backend: str = "numpy"):
        """A function of X (n, d) -> (n,): numpy arrays (``"numpy"``), torch tensors
        (``"torch"``) or JAX arrays (``"jax"``, jit-able; ImportError without jax)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "jax":
            return _jax_callable(self.variables, self.expr)
        fn = _lambdify(self.variables, self.expr, backend)
        d = len(self.variables)

        def call(X):
            if backend == "numpy":
                X = np.asarray(X, dtype=np.float64)
            elif not isinstance(X, torch.Tensor):
                X = torch.as_tensor(np.asarray(X, dtype=np.float64))
            if X.ndim != 2 or X.shape[1] != d:
                raise ValueError(f"X must have shape (n, {d}); got {tuple(X.shape)}")
            cols = [X[:, k] for k in range(d)]
            if backend == "numpy":
                with np.errstate(all="ignore"):
                    out = fn(*cols)
                return np.broadcast_to(np.asarray(out, dtype=np.float64), (X.shape[0],)).copy()
            out = fn(*cols)
            if not isinstance(out, torch.Tensor):
                out = torch.full((X.shape[0],), float(out), dtype=X.dtype, device=X.device)
            return out.expand(X.shape[0]).clone() if out.ndim == 0 else out

        return call

    def evaluate(self, X) -> np.ndarray:
        """expr at the rows of X (n, d) -> (n,) numpy float64."""
        return self.to_callable("numpy")(X)

    def mse(self, X, y) -> float:
        """Mean squared error on rows the formula was not fitted on (held-out data):
        X (n, d), y (n,) in the formula's units; inf where it is not finite.
        ``loss`` is the same measure on the data the constants were fitted to."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[1] != len(self.variables) or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be (n, {len(self.variables)}) and y (n,), got {X.shape} and {y.shape}")
        with np.errstate(all="ignore"):
            pred = np.broadcast_to(self.evaluate(X), y.shape)
        return float(np.mean((pred - y) ** 2)) if np.all(np.isfinite(pred)) else math.inf

    def __str__(self) -> str:
        return str(self.expr)

    def __repr__(self) -> str:
        loss = "None" if self.loss is None else f"{self.loss:.4g}"
        return f"Formula({self.expr}, complexity={self.complexity}, loss={loss})"


def _lambdify(variables, expr, backend: str):
    """sympy.lambdify of expr as a function of variables. lambdify puts every argument
    into the generated code's namespace by name (a Symbol "exp" replaces the function
    exp; dummify does not help), so variables without a safe name are first renamed to
    their safe names (:func:`symkan.symbolic.names.safe_names`)."""
    if not all(is_safe_name(v.name) for v in variables):
        safe = variable_symbols([v.name for v in variables])
        expr, variables = expr.xreplace(dict(zip(variables, safe))), safe
    return sympy.lambdify(variables, printable(expr), modules=backend)


def _jax_callable(variables, expr):
    """``to_callable("jax")``: jax is imported only here (it is not a dependency)."""
    try:
        import jax.numpy as jnp
    except ImportError:
        raise ImportError("the 'jax' backend needs JAX, which is not installed: pip install jax") from None
    fn = _lambdify(variables, expr, "jax")
    d = len(variables)

    def call(X):
        X = jnp.asarray(X)
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"X must have shape (n, {d}); got {tuple(X.shape)}")
        return jnp.broadcast_to(jnp.asarray(fn(*[X[:, k] for k in range(d)])), (X.shape[0],))

    return call


def evaluate_expression(expr, variables, X: np.ndarray) -> np.ndarray:
    """``expr`` at the rows of X (n, d), columns in the order of ``variables`` -> (n,)
    float64; nan where the value is complex (beyond round-off)."""
    fn = _lambdify(variables, expr, "numpy")
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*[X[:, k] for k in range(X.shape[1])]))
    if np.iscomplexobj(out):
        out = np.where(np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real)), np.nan, out.real)
    return np.broadcast_to(out.astype(np.float64), (X.shape[0],)).copy()


__all__ = ["Formula", "expression_complexity", "evaluate_expression", "BACKENDS"]
