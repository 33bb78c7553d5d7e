"""Argument checks at public boundaries: clear ValueErrors instead of deep torch tracebacks.

One phrasing per kind of error, whoever raises it:

* ``"{name} must be an integer >= {minimum}, got {value!r}"`` (:func:`check_int`)
* ``"{name} must be a finite number >= {minimum}, got {value!r}"`` (:func:`check_number`)
* ``"{name} must be one of [...], got {value!r}"`` (:func:`check_choice`)
* ``"model must be a symkan KAN, got {type}"`` (:func:`check_kan`)
* data: ``"X has 3 columns but the model expects 2"``, ``"y contains NaN or infinite
  values (e.g. in rows [...])"``... (:func:`to_tensor_2d`, :func:`to_target`)
* one column of a table: ``"column 'b' is not numeric (row 3 has 'red')"``, ``"column 't'
  holds dates or times ..."``, ``"column 'y' has missing values (None) in rows [...]"``
  (:func:`numeric_column`, :func:`numeric_table`, :func:`numeric_target`)

A bottom-level module: it imports nothing from symkan. "Is a KAN" is therefore a
structural check (:class:`KANLike`, the members the checks and the scorers use), not
an ``isinstance`` of ``symkan.nn.KAN``.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import math
import numbers
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch

log = logging.getLogger(__name__)


@runtime_checkable
class KANLike(Protocol):
    """What a network must offer to be scored, pruned, plotted or snapped: node layer
    ``specs``, ``layers`` (one KANLayer per pair of node layers), ``n_inputs``,
    ``n_outputs`` and ``trace(x)``. :class:`symkan.nn.KAN` is one."""

    layers: Sequence
    specs: Sequence
    n_inputs: int
    n_outputs: int

    def trace(self, x: torch.Tensor): ...


def check_kan(model) -> None:
    """ValueError unless ``model`` is a KAN (see :class:`KANLike`)."""
    if not isinstance(model, KANLike):
        raise ValueError(f"model must be a symkan KAN, got {type(model).__name__}")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Run ``model`` in eval mode and restore every submodule's own ``training`` flag after
    (not one flag for all: a model with some submodules frozen in eval mode stays so)."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


# --- scalars -----------------------------------------------------------------------------------
def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int; ValueError unless it is an integer (3 or 3.0, not True) >= minimum."""
    try:
        ok = not isinstance(value, (bool, np.bool_)) and int(value) == value and int(value) >= minimum
    except (TypeError, ValueError, OverflowError):  # None, "3", nan, inf
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value, minimum: float = 0.0, *, finite: bool = True) -> float:
    """``value`` as a float; ValueError unless it is a real number >= minimum (and finite
    unless ``finite=False``). numpy scalars count; bools do not."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    ok = ok and not math.isnan(value) and value >= minimum and (math.isfinite(value) or not finite)
    if not ok:
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number >= {minimum:g}, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices):
    """``value`` unchanged; ValueError listing ``choices`` unless it is one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_range(name: str, value) -> tuple[float, float]:
    """A pair (lo, hi) of floats with hi > lo, else ValueError naming ``name``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi), got {value!r}") from None
    if not hi > lo:
        raise ValueError(f"{name} must be (lo, hi) with hi > lo, got {value!r}")
    return lo, hi


def existing_file(path, what: str, kind: str):
    """``path`` as a Path; ValueError unless it exists and is not a directory.
    ``what`` names it in the message ("model file 'm' does not exist"), ``kind`` says
    what a directory is not ("'d' is a directory, not a CSV file")."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a {kind}")
    return path


def check_names(names, n: int, name: str, of: str = "inputs") -> list[str] | None:
    """None, or ``names`` as a list of n strings (one per model input/output: ``of``)."""
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{name} must be a sequence of {n} strings, one per {of[:-1]}, not a single string")
    names = [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"{name} has {len(names)} entries but the model has {n} {of}")
    return names


def check_edge(model, l, i, j) -> tuple:
    """``(layer, l, i, j)`` with int indices, after checking that edge (l, i, j) — layer l,
    input node i, output (sub-)node j; the layer's tensors hold it at ``[j, i]`` — exists."""
    check_kan(model)
    l, i, j = (check_int(f"edge index {k}", v, minimum=0) for k, v in (("l", l), ("i", i), ("j", j)))
    if l >= len(model.layers):
        raise ValueError(f"layer l={l} out of range: the model has {len(model.layers)} layers")
    layer = model.layers[l]
    if i >= layer.in_features:
        raise ValueError(f"input node i={i} out of range: layer {l} has {layer.in_features} inputs")
    if j >= layer.out_features:
        raise ValueError(f"output node j={j} out of range: layer {l} has {layer.out_features} outputs")
    return layer, l, i, j


# --- arrays ------------------------------------------------------------------------------------
def _as_tensor(data, name: str) -> torch.Tensor:
    """numpy array, tensor, DataFrame/Series or nested lists -> a real tensor (any shape)."""
    if isinstance(data, torch.Tensor):
        t = data.detach()
    else:
        if hasattr(data, "to_numpy"):  # pandas
            data = data.to_numpy()
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as err:  # ragged lists etc.
            raise ValueError(f"{name} must be a numeric array: {err}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be numeric; got values of dtype {arr.dtype}") from None
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"{name} must be real-valued, got a complex array")
    return t


def _finite(t: torch.Tensor, name: str, dtype, device) -> torch.Tensor:
    """t (n, k) on dtype (default: torch's) and device; ValueError naming rows with NaN/inf."""
    t = t.to(dtype=dtype or torch.get_default_dtype(), device=device)
    bad = ~torch.isfinite(t)
    if bad.any():
        rows = torch.nonzero(bad.any(1)).flatten()[:5].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (e.g. in rows {rows})")
    return t


def to_tensor_2d(X, name: str = "X", *, n_features: int | None = None, dtype=None, device=None,
                 min_rows: int = 1) -> torch.Tensor:
    """Validate a feature matrix and return it as a tensor (n, d).

    Accepts numpy arrays, torch tensors, pandas DataFrames and nested lists. Raises
    ValueError for non-numeric data, wrong dimensionality, NaN/inf, too few rows or a
    width different from ``n_features``.
    """
    t = _as_tensor(X, name)
    if t.ndim == 1 and name.lower().startswith("x"):
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a 1-D array of length "
                         f"{t.shape[0]} — reshape with X.reshape(-1, 1) for a single feature")
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} has {t.shape[0]} rows; at least {min_rows} are needed")
    if n_features is not None and t.shape[1] != n_features:
        raise ValueError(f"{name} has {t.shape[1]} columns but the model expects {n_features}")
    return _finite(t, name, dtype, device)


def to_target(y, n_rows: int, name: str = "y", *, n_outputs: int | None = None, dtype=None,
              device=None) -> torch.Tensor:
    """Validate targets for ``n_rows`` rows of X and return them as (n_rows, n_outputs)."""
    t = _as_tensor(y, name)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got shape {tuple(t.shape)}")
    if t.shape[0] != n_rows:
        raise ValueError(f"X and {name} have different numbers of rows: {n_rows} vs {t.shape[0]}")
    if n_outputs is not None and t.shape[1] != n_outputs:
        raise ValueError(f"{name} has {t.shape[1]} outputs but the model has {n_outputs}")
    return _finite(t, name, dtype, device)


# --- columns of a table -------------------------------------------------------------------------
class NotNumericError(ValueError, TypeError):
    """A column holds values that are not real numbers (text, dates, missing cells,
    objects). A ValueError like every bad input to symkan; also a TypeError, as
    scikit-learn's conventions expect for cells that are not numbers."""


def table_columns(X, names=None) -> list[tuple[str, np.ndarray]] | None:
    """The columns of a 2-D table as (name, 1-D values) pairs: a pandas DataFrame (its
    column names), a numpy array, tensor or nested lists (``names`` when it has one per
    column, else x0, x1, ...). None for anything else (1-D, 3-D, sparse, ragged), whose
    errors are the caller's."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas DataFrame (duplicate names allowed)
        cols = [(str(c), X.iloc[:, k].to_numpy()) for k, c in enumerate(X.columns)]
    else:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        if not isinstance(X, (np.ndarray, list, tuple)):
            return None
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError):  # ragged nested lists
            return None
        if arr.ndim != 2:
            return None
        cols = [(f"x{k}", arr[:, k]) for k in range(arr.shape[1])]
    if names is not None and len(names) == len(cols):
        cols = [(str(n), values) for n, (_, values) in zip(names, cols)]
    return cols


def numeric_column(values, name: str) -> np.ndarray:
    """The cells of the column ``name`` as a float64 array of the same shape, or
    :class:`NotNumericError` naming the column and the first bad row: text that is not
    a number ("1.5" is), dates and times, missing cells (None, pandas NA), complex
    numbers, other objects. Booleans become 0/1. NaN and infinity are ValueErrors too
    (with up to 5 of their rows)."""
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind in "Mm":
        raise NotNumericError(f"column {name!r} holds dates or times (dtype {arr.dtype}); convert them to numbers "
                              f"first, e.g. seconds since a reference time")
    if kind == "c":
        raise NotNumericError(f"column {name!r} holds complex numbers (Complex data not supported: symkan fits "
                              f"real values)")
    if kind == "O":  # numpy would read None as NaN: name it for what it is
        _check_not_missing(arr.reshape(-1), name)
    try:
        out = arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        _raise_first_bad_cell(arr.reshape(-1), name)
        raise NotNumericError(f"column {name!r} is not numeric ({err})") from None
    finite = np.isfinite(out)
    if not finite.all():
        rows = np.flatnonzero(~finite.reshape(len(out), -1).all(axis=1))[:5].tolist() if out.ndim else [0]
        what = " and ".join(w for w, hit in (("NaN", np.isnan(out).any()), ("infinity", np.isinf(out).any())) if hit)
        raise ValueError(f"column {name!r} contains {what} (e.g. in rows {rows})")
    return out


def numeric_table(X, names=None):
    """X with every column checked by :func:`numeric_column` (one ValueError naming the
    column and a row), for an estimator's ``fit``/``predict`` before anything runs. A
    DataFrame is returned as it is (its column names stay for scikit-learn), other
    tables as float64 arrays (n, d); inputs that are not 2-D tables are returned as they
    are, for the caller's shape checks. Boolean columns are read as 0/1. ``names``: the
    column names to report."""
    columns = table_columns(X, names)
    if not columns:
        return X
    values = [numeric_column(v, n) for n, v in columns]
    return X if hasattr(X, "columns") else np.column_stack(values)


def numeric_target(y, label: str = "y"):
    """y (n,) or (n, 1) checked like a column (:func:`numeric_column`, named ``label``)
    and returned as float64; a boolean target becomes 0/1, with a logged warning (a
    yes/no outcome is a classification problem). Other shapes are returned as they are,
    for the caller's shape checks."""
    try:
        arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    except (TypeError, ValueError):  # ragged lists
        return y
    if not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
        return y
    cells = arr.reshape(-1)
    if arr.dtype.kind == "b" or (arr.dtype == object and len(cells) > 0
                                 and all(isinstance(c, (bool, np.bool_)) for c in cells)):
        log.warning("the target %r is boolean: it is fitted as 0 (False) / 1 (True); a yes/no outcome is "
                    "usually better served by a classifier", label)
    return numeric_column(arr, label)


def _check_not_missing(cells: np.ndarray, name: str) -> None:
    """NotNumericError naming the rows of ``cells`` (1-D objects) that are None or pandas NA."""
    missing = [row for row, cell in enumerate(cells) if cell is None or type(cell).__name__ in ("NAType", "NaTType")]
    if missing:
        raise NotNumericError(f"column {name!r} has missing values (None or NA) in rows {missing[:5]}; fill or "
                              f"drop them first")


def _raise_first_bad_cell(cells: np.ndarray, name: str) -> None:
    """NotNumericError for the first cell of ``cells`` (1-D) that is not a real number."""
    for row, cell in enumerate(cells):
        if isinstance(cell, (datetime.date, datetime.time, datetime.timedelta, np.datetime64, np.timedelta64)):
            raise NotNumericError(f"column {name!r} holds dates or times (row {row} has {cell!r}); convert them "
                                  f"to numbers first, e.g. seconds since a reference time")
        if isinstance(cell, (complex, np.complexfloating)):
            raise NotNumericError(f"column {name!r} holds complex numbers (row {row} has {cell!r}; Complex data "
                                  f"not supported: symkan fits real values)")
        try:
            float(cell)
        except ValueError:
            raise NotNumericError(f"column {name!r} is not numeric (row {row} has "
                                  f"{cell.item() if isinstance(cell, np.generic) else cell!r})") from None
        except TypeError as err:
            raise NotNumericError(f"column {name!r} is not numeric (row {row} holds a {type(cell).__name__}: "
                                  f"{err})") from None


def model_dtype_device(model: torch.nn.Module) -> tuple[torch.dtype, torch.device]:
    """dtype and device of the model's first parameter (where its inputs must go)."""
    p = next(iter(model.parameters()))
    return p.dtype, p.device


def check_model_data(model, X, y=None, *, x_name: str = "X", y_name: str = "y",
                     min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check that ``model`` is a KAN and that X (n, n_inputs) and y (n,) or (n, n_outputs),
    when given, fit it; return both as tensors on the model's dtype and device."""
    check_kan(model)
    dtype, device = model_dtype_device(model)
    X = to_tensor_2d(X, x_name, n_features=model.n_inputs, dtype=dtype, device=device, min_rows=min_rows)
    if y is not None:
        y = to_target(y, X.shape[0], y_name, n_outputs=model.n_outputs, dtype=dtype, device=device)
    return X, y


__all__ = ["KANLike", "check_kan", "eval_mode", "check_int", "check_number", "check_choice", "check_names",
           "check_edge", "to_tensor_2d", "to_target", "NotNumericError", "table_columns", "numeric_column",
           "numeric_table", "numeric_target",
           "model_dtype_device", "check_model_data"]
