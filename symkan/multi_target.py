"""Several targets at once: ``SymKANRegressor().fit(X, Y)`` with Y of shape (n, m), m > 1.

Each column of Y gets its own, independent search — a clone of the estimator fitted to
that column alone — so one formula per target, as in PySR's multi-output mode:

* the clone of column k has ``random_state = seed_ + k`` (``seed_`` drawn from the
  estimator's ``random_state`` as for one target): column k's model is exactly
  ``SymKANRegressor(random_state=seed_ + k, ...).fit(X, Y[:, k])``;
* ``time_budget`` and ``max_evaluations`` are split evenly: each search gets
  ``time_budget / m`` seconds and ``max_evaluations // m`` evaluations (``fit_seconds_``
  and ``fit_evaluations_`` are the sums); ``on_formula`` and ``warm_start`` act on single
  targets only (a multi-target fit starts afresh and reports nothing as it goes);
* the targets' names are a DataFrame Y's columns, else ``target_name`` (or "y")
  followed by the column index (y0, y1, ...);
* ``y_units``: one unit for every target, or a list with one per column.
* ``n_jobs`` ≠ 1: the targets are fitted in parallel processes (:func:`.many.fit_each`),
  each search with ``n_jobs=1``; the models are the ones ``n_jobs=1`` gives.

The fitted estimator keeps ``estimators_`` (the m fitted single-target estimators),
``n_targets_`` and ``target_names_``; ``predict`` returns (n, m), ``sympy()``,
``latex()`` and ``equations_`` return lists (one entry per target). A Y of shape (n, 1)
is one target (scikit-learn's convention: it is fitted as 1-D, with its
DataConversionWarning). Saving a model of several targets is not supported yet: save each
of ``estimators_``.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import validate_data

from .many import fit_each
from .regressor_checks import MAX_SEED, as_array, checked_types, seed_of

log = logging.getLogger("symkan.regressor")

#: what a fit of several targets learns (removed by a later fit of one target)
MULTI_TARGET_STATE = ("estimators_", "n_targets_", "target_names_")


def is_multi_target(y) -> bool:
    """Whether y is a table of several target columns (shape (n, m), m > 1)."""
    shape = getattr(as_array(y), "shape", None)
    if shape is None:  # a list, or an object that only converts to an array
        try:
            shape = np.asarray(y).shape
        except (TypeError, ValueError):  # ragged: the single-target checks say what is wrong
            return False
    return len(shape) == 2 and shape[1] > 1


def has_several_targets(estimator) -> bool:
    """Whether ``estimator`` was last fitted to several targets."""
    return "estimators_" in estimator.__dict__


def target_names(Y, target_name, n_targets: int) -> list[str]:
    """The targets' names: a DataFrame's columns, else ``target_name`` (or "y") + index."""
    columns = getattr(Y, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    return [f"{target_name or 'y'}{k}" for k in range(n_targets)]


def target_units(y_units, n_targets: int) -> list:
    """One unit per target: ``y_units`` itself for each (None, text or an exponent
    mapping) or, given as a list or tuple, one entry per target."""
    if isinstance(y_units, (list, tuple)):
        if len(y_units) != n_targets:
            raise ValueError(f"y_units has {len(y_units)} entries but Y has {n_targets} target columns")
        return list(y_units)
    return [y_units] * n_targets


def fit_targets(estimator, X, Y, X_units=None, y_units=None, sample_weight=None):
    """Fit one independent search per column of Y (n, m) (see the module docstring);
    returns ``estimator``."""
    for key in [k for k in estimator.__dict__ if k.endswith("_") and not k.startswith("_")]:
        del estimator.__dict__[key]  # the state of an earlier fit, of one target or several
    for key in ("_callables", "_warm_owners"):  # a single-target fit's private state
        estimator.__dict__.pop(key, None)
    Y_array = np.asarray(as_array(Y.to_numpy() if hasattr(Y, "to_numpy") else Y))
    n_targets = Y_array.shape[1]
    names = target_names(Y, estimator.target_name, n_targets)
    if len(set(names)) != n_targets:
        raise ValueError(f"the target columns need distinct names, got {names}")
    for k, name in enumerate(names):  # every column numeric, before any search starts
        checked_types(X, Y_array[:, k], estimator.variable_names, name)
    validate_data(estimator, as_array(X), Y_array.astype(np.float64), multi_output=True, y_numeric=True,
                  dtype=np.float64, ensure_min_samples=2)
    units = target_units(y_units, n_targets)
    seed = seed_of(estimator.random_state)
    budget = None if estimator.time_budget is None else float(estimator.time_budget) / n_targets
    work = None if estimator.max_evaluations is None else max(1, estimator.max_evaluations // n_targets)
    fits = []
    for k, name in enumerate(names):
        log.info("target %d of %d: %s", k + 1, n_targets, name)
        # n_jobs ≠ 1: the targets run in parallel, each search in one process
        single = clone(estimator).set_params(random_state=(seed + k) % MAX_SEED, time_budget=budget,
                                             max_evaluations=work, target_name=name, n_jobs=1)
        fits.append((single, X, Y_array[:, k].astype(np.float64),
                     dict(X_units=X_units, y_units=units[k], sample_weight=sample_weight)))
    fitted = fit_each(fits, estimator.n_jobs)
    estimator.estimators_, estimator.n_targets_, estimator.target_names_ = fitted, n_targets, names
    estimator.seed_, estimator.names_ = seed, fitted[0].names_
    estimator.fit_seconds_ = float(sum(e.fit_seconds_ for e in fitted))
    estimator.fit_evaluations_ = int(sum(e.fit_evaluations_ for e in fitted))
    return estimator


def predict_targets(estimator, X, index=None) -> np.ndarray:
    """The best formula (or ``front_[index]``) of every target on X (n, d): (n, m)."""
    return np.column_stack([e.predict(X, index) for e in estimator.estimators_])


def refuse_several(estimator, what: str) -> None:
    """A clear error for what a model of several targets cannot do yet."""
    if has_several_targets(estimator):
        raise ValueError(f"{what} of a model of several targets is not supported yet; use the single-target "
                         f"models in estimators_ (estimators_[k] for target_names_[k])")
