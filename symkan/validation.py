"""Input checks at public boundaries: clear ValueErrors instead of deep torch tracebacks."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor_2d(X, name: str = "X", *, n_features: int | None = None, dtype=None, device=None,
                 min_rows: int = 1) -> torch.Tensor:
    """Validate a feature matrix and return it as a tensor (n, d).

    Accepts numpy arrays, torch tensors, pandas DataFrames and nested lists. Raises
    ValueError for non-numeric data, wrong dimensionality, NaN/inf, too few rows or a
    width different from ``n_features``.
    """
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        if hasattr(X, "to_numpy"):  # pandas
            X = X.to_numpy()
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as err:  # ragged lists etc.
            raise ValueError(f"{name} must be a numeric 2-D array: {err}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be numeric; got values of dtype {arr.dtype}") from None
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"{name} must be real-valued, got a complex array")
    if t.ndim == 1 and name.lower().startswith("x"):
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a 1-D array of length "
                         f"{t.shape[0]} — reshape with X.reshape(-1, 1) for a single feature")
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} has {t.shape[0]} rows; at least {min_rows} are needed")
    if n_features is not None and t.shape[1] != n_features:
        raise ValueError(f"{name} has {t.shape[1]} columns but the model expects {n_features}")
    t = t.to(dtype=dtype or torch.get_default_dtype(), device=device)
    bad = ~torch.isfinite(t)
    if bad.any():
        rows = torch.nonzero(bad.any(1)).flatten()[:5].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (e.g. in rows {rows})")
    return t


def to_target(y, n_rows: int, name: str = "y", *, n_outputs: int | None = None, dtype=None,
              device=None) -> torch.Tensor:
    """Validate targets and return them as (n, n_outputs)."""
    if isinstance(y, torch.Tensor):
        t = y.detach()
    else:
        if hasattr(y, "to_numpy"):
            y = y.to_numpy()
        arr = np.asarray(y)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be numeric; got values of dtype {arr.dtype}") from None
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got shape {tuple(t.shape)}")
    if t.shape[0] != n_rows:
        raise ValueError(f"X and {name} have different numbers of rows: {n_rows} vs {t.shape[0]}")
    if n_outputs is not None and t.shape[1] != n_outputs:
        raise ValueError(f"{name} has {t.shape[1]} outputs but the model has {n_outputs}")
    t = t.to(dtype=dtype or torch.get_default_dtype(), device=device)
    bad = ~torch.isfinite(t)
    if bad.any():
        rows = torch.nonzero(bad.any(1)).flatten()[:5].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (e.g. in rows {rows})")
    return t


def model_dtype_device(model: torch.nn.Module):
    p = next(iter(model.parameters()))
    return p.dtype, p.device
