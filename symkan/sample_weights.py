"""Per-row weights of a fit: the check of a user's ``sample_weight`` and the weighted
means every error of the search is measured with.

A weighted mean square error is Σ wᵢ·rᵢ² / Σ wᵢ and a weighted variance
Σ wᵢ·(yᵢ − ȳ)² / Σ wᵢ with ȳ = Σ wᵢ·yᵢ / Σ wᵢ, so their ratio (the nmse, 1 − R²) does
not depend on the weights' scale. ``weights=None`` is the plain mean, computed by the
same numpy / torch expression as an unweighted fit always used (not a weighted mean
with ones: the default results stay the same to the last bit).
"""
from __future__ import annotations

import numpy as np
import torch


def check_sample_weight(sample_weight, n_rows: int) -> np.ndarray:
    """``sample_weight`` as a float64 array (n_rows,): one finite, non-negative number per
    row, not all zero; else a ValueError that says what is wrong."""
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must be an array of numbers, one per row of X") from None
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"sample_weight must have shape ({n_rows},), one weight per row of X; got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"sample_weight has {int(np.sum(~np.isfinite(w)))} value(s) that are NaN or infinite")
    if np.any(w < 0):
        raise ValueError(f"sample_weight must be non-negative; it has {int(np.sum(w < 0))} negative value(s), "
                         f"the smallest {float(w.min()):.6g}")
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero on every row: no row would count in the fit")
    return w


def mean_square(r: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean of r² (r: (n,)), weighted by ``weights`` (n,) when given."""
    if weights is None:
        return float(np.mean(r * r))
    return float(np.sum(weights * (r * r)) / np.sum(weights))


def weighted_var(y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Variance of y (n,), weighted by ``weights`` (n,) when given (``np.var`` without)."""
    if weights is None:
        return float(np.var(y))
    mean = np.sum(weights * y) / np.sum(weights)
    return mean_square(y - mean, weights)


def torch_mean_square(r: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of r² over every entry of r (n, k) (or (n,)), each row weighted by ``weights``
    (n,) when given: Σᵢ wᵢ·Σⱼ rᵢⱼ² / (k·Σ wᵢ)."""
    if weights is None:
        return torch.mean(r ** 2)
    sq = (r ** 2).reshape(r.shape[0], -1)
    return (weights.to(sq.dtype) @ sq).sum() / (sq.shape[1] * weights.to(sq.dtype).sum())


def torch_weighted_var(y: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """Variance of every entry of y (n, k) (``torch.var``, unbiased, without weights;
    with ``weights`` (n,), the weighted population variance)."""
    if weights is None:
        return float(torch.var(y))
    w = weights.to(y.dtype)
    mean = (w @ y.reshape(y.shape[0], -1)).sum() / (w.sum() * y[0].numel())
    return float(torch_mean_square(y - mean, weights))


def weighted_sample(weights: np.ndarray, size: int) -> np.ndarray:
    """Indices of ``size`` rows drawn in proportion to ``weights`` (n,), deterministically:
    the rows at evenly spaced quantiles of the cumulative weight (systematic sampling; a
    row of weight 0 is never drawn, a heavy one may appear several times). For fitters
    that take no weights: their unweighted fit of this sample approximates the weighted fit."""
    cumulative = np.cumsum(weights)
    points = (np.arange(size) + 0.5) * (cumulative[-1] / size)
    return np.minimum(np.searchsorted(cumulative, points, side="right"), len(weights) - 1)


def relative_loss_scale(y: np.ndarray, sample_weight: np.ndarray | None, rows: np.ndarray) -> float:
    """The factor that turns the weighted MSE of a ``loss="relative"`` search on ``rows``
    (weights ∝ s/y², normalised by their sum) into the mean squared relative error
    Σ s·((f − y)/y)² / Σ s, with s the ``sample_weight`` (None: ones) of the rows."""
    s = np.ones(len(rows)) if sample_weight is None else sample_weight[rows]
    return float(np.sum(s / (y[rows] * y[rows])) / np.sum(s))


def fit_weights(sample_weight, y: np.ndarray, loss: str = "mse") -> tuple[np.ndarray | None, np.ndarray | None]:
    """(rows, weights) of a fit on target y (n,): ``rows``, the index array of the rows
    that count (weight > 0; None: all of them), and their ``weights`` — ``sample_weight``
    (checked, :func:`check_sample_weight`), times 1/y² for ``loss="relative"`` (the mean
    squared relative error Σ w·((f − y)/y)² / Σ w) — or None when every row counts the
    same (then the search runs exactly as without weights). A row of weight 0 changes
    no weighted error, so the search never sees it (its y may be anything finite)."""
    if loss not in ("mse", "relative"):
        raise ValueError(f"loss must be 'mse' or 'relative', got {loss!r}")
    n = len(y)
    w = np.ones(n) if sample_weight is None else check_sample_weight(sample_weight, n)
    rows = np.flatnonzero(w > 0)
    w, y = w[rows], y[rows]
    if loss == "relative":
        zeros = np.flatnonzero(y == 0)
        if zeros.size:
            raise ValueError(f"loss='relative' divides the error by y, but y is 0 on {zeros.size} row(s) (row "
                             f"{int(rows[zeros[0]])} first); give those rows sample_weight 0 or use loss='mse'")
        w = w / (y * y)
    return (None if rows.size == n else rows), (None if np.all(w == w[0]) else w)
