"""Forward-difference Jacobians of a formula's residuals in one vectorised evaluation.

scipy's least squares differentiates a residual function by calling it once per free
constant, and a lambdified formula on a thousand rows costs more in Python and numpy
call overhead than in arithmetic: a constant refit spent most of its time there. The
same forward differences (scipy's step, √ε·max(1, |p|)) are taken here by evaluating
the formula once at every perturbed set of constants together, each constant a column
(m, 1) broadcast against the rows (n,).
"""
from __future__ import annotations

import numpy as np

#: scipy's relative step of two-point differences: √(machine epsilon)
STEP = float(np.sqrt(np.finfo(float).eps))


def real_values(out) -> np.ndarray:
    """A lambdified formula's values as float64: complex entries with an imaginary part
    beyond round-off (a negative base to a fractional power) become NaN."""
    out = np.asarray(out)
    if np.iscomplexobj(out):
        out = np.where(np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real)), np.nan, out.real)
    return out.astype(np.float64)


def forward_jacobian(residuals_at, values: np.ndarray, idx: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(n, k): ∂r/∂values[idx] at values with values[idx] = p (k,), by forward differences;
    ``residuals_at(V)`` maps m sets of values V (m, len(values)) to residuals (m, n).
    Entries that are not finite (a step out of the formula's domain) are 0."""
    h = STEP * np.where(p >= 0, 1.0, -1.0) * np.maximum(1.0, np.abs(p))
    h = (p + h) - p  # the step as represented
    V = np.repeat(values[None], idx.size + 1, axis=0)
    V[:, idx] = p
    V[1 + np.arange(idx.size), idx] += h
    R = residuals_at(V)
    with np.errstate(all="ignore"):
        J = (R[1:] - R[0]) / h[:, None]
    return np.where(np.isfinite(J), J, 0.0).T
