"""Sample data from an :class:`~symkan.datasets.equations.Equation`.

Inputs are drawn uniformly in each variable's range; noise follows SRBench:
``y_train += N(0, σ · RMS(y_train))``, applied to the training targets only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from ..checks import check_int, check_number
from .equations import Equation, get_equation


@dataclass
class Dataset:
    """Samples of one equation.

    ``X``: (n, d) float64, ``y``: (n,) training targets (noisy when ``noise > 0``),
    ``y_clean``: (n,) noise-free targets, ``X_test``/``y_test``: (n_test, d)/(n_test,)
    noise-free held-out rows (empty when ``n_test = 0``), ``names``: the d variable names,
    ``expr``: the true formula (sympy).
    """

    equation: Equation
    X: np.ndarray
    y: np.ndarray
    y_clean: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    noise: float
    seed: int

    @property
    def names(self) -> list[str]:
        return self.equation.names

    @property
    def expr(self) -> sympy.Expr:
        return self.equation.expr

    def to_frame(self, target: str | None = None):
        """Training rows as a pandas DataFrame (variables + target column)."""
        import pandas as pd

        frame = pd.DataFrame(self.X, columns=self.names)
        frame[target or self.equation.output] = self.y
        return frame


def evaluate(equation: Equation, X: np.ndarray) -> np.ndarray:
    """The equation's value at X: (n, d) -> (n,), float64; ValueError if not real and finite."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != equation.n_variables:
        raise ValueError(f"X must have shape (n, {equation.n_variables}) for {equation.name}, got {X.shape}")
    fn = sympy.lambdify(equation.symbols, equation.expr, modules="numpy")
    with np.errstate(all="ignore"):
        y = np.asarray(fn(*X.T), dtype=np.complex128)
    y = np.broadcast_to(y, (X.shape[0],))
    if np.any(np.abs(y.imag) > 1e-12) or not np.all(np.isfinite(y.real)):
        raise ValueError(f"{equation.name} is not real and finite on the given inputs")
    return np.ascontiguousarray(y.real)


def make_dataset(name: str | Equation, n: int = 1000, noise: float = 0.0, seed: int = 0,
                 n_test: int = 0) -> Dataset:
    """Sample ``n`` training rows (and ``n_test`` noise-free test rows) of an equation.

    Args:
        name: a Feynman file name (``"I.6.2a"``), a toy name (``"exp_sin"``) or an Equation.
        noise: σ of the SRBench noise model, ``y += N(0, σ·RMS(y))`` on training rows.
        seed: seeds a private ``numpy.random.Generator``; the global RNG is untouched.
    """
    eq = name if isinstance(name, Equation) else get_equation(name)
    n, n_test = check_int("n", n), check_int("n_test", n_test, minimum=0)
    noise = check_number("noise", noise)
    rng = np.random.default_rng(seed)
    lo = np.array([v[1] for v in eq.variables])
    hi = np.array([v[2] for v in eq.variables])
    X_all = lo + (hi - lo) * rng.random((int(n) + int(n_test), eq.n_variables))
    y_all = evaluate(eq, X_all)
    X, X_test = X_all[: int(n)], X_all[int(n):]
    y_clean, y_test = y_all[: int(n)], y_all[int(n):]
    y = y_clean.copy()
    if noise > 0:
        rms = float(np.sqrt(np.mean(y_clean ** 2)))
        y = y + rng.normal(0.0, noise * rms, size=y.shape)
    return Dataset(eq, X, y, y_clean, X_test, y_test, float(noise), int(seed))
