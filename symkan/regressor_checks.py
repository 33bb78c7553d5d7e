"""The checks of :class:`~symkan.regressor.SymKANRegressor`: its parameters (declarative,
scikit-learn's way, plus what a constraint cannot say), its seed, and the data handed to
``fit`` (numbers only, magnitudes float64 can square, inputs that vary)."""
from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from .bases import get_basis
from .checks import numeric_table, numeric_target
from .symbolic.names import safe_names

log = logging.getLogger("symkan.regressor")

MIN_ROWS = 5
#: data are fitted in float64: squares of values beyond this overflow, and values below
#: its inverse underflow, in the losses and variances of the search
MAX_MAGNITUDE = 1e100
#: random_state must be below this (seeds of numpy and torch generators)
MAX_SEED = 2 ** 63


class Range(Interval):
    """A scikit-learn ``Interval`` that refuses bools (True is an int to Python, not a
    number of steps)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def invalid(name: str, must: str, value) -> None:
    """Raise scikit-learn's parameter error, worded as its declarative checks word theirs."""
    raise InvalidParameterError(f"The {name!r} parameter of SymKANRegressor must be {must}. Got {value!r} instead.")


def plain(v):
    """numpy scalars as plain Python numbers, for error messages (3.0, not np.float64(3.0))."""
    return v.item() if isinstance(v, np.generic) else v


def num(v) -> str:
    return f"{float(v):.6g}"


def as_array(data):
    """torch tensors -> numpy (CPU); anything else unchanged (validate_data handles it)."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return data


PARAMETER_CONSTRAINTS = {
    "basis": [str],
    "hidden": [None, Range(Integral, 1, None, closed="left"), list, tuple],
    "grid_size": [Range(Integral, 1, None, closed="left")],
    "steps": [Range(Integral, 1, None, closed="left")],
    "lamb": [Range(Real, 0, None, closed="left")],
    "node_th": [Range(Real, 0, None, closed="left")],
    "edge_th": [Range(Real, 0, None, closed="left")],
    "functions": [None, "array-like"],
    "complexity_weights": ["array-like"],
    "log_space": [StrOptions({"auto"}), "boolean"],
    "val_fraction": [Range(Real, 0, 0.9, closed="neither")],
    "time_budget": [None, Range(Real, 0, None, closed="right")],
    "variable_names": [None, "array-like"],
    "random_state": [None, Range(Integral, 0, MAX_SEED, closed="left"), np.random.RandomState,
                     np.random.Generator],
    "n_threads": [None, Range(Integral, 1, None, closed="left")],
    # joblib's convention: k ≥ 1 processes, -1 every core, -2 all but one, ...
    "n_jobs": [Range(Integral, 1, None, closed="left"), Range(Integral, None, -1, closed="right")],
    "progress": ["boolean"],
    "basis_options": [None, dict],
    "target_name": [None, str],
    "model_selection": [StrOptions({"best", "accuracy", "score"})],
    "loss": [StrOptions({"mse", "relative"})],
    "max_evaluations": [None, Range(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
}


def validate_params(estimator) -> None:
    """scikit-learn's declarative checks (numpy scalars shown as plain numbers in their
    messages), then what they cannot say: the basis and the functions exist, every
    complexity weight is a number, the target's name is not blank."""
    params = {k: plain(v) for k, v in estimator.get_params(deep=False).items()}
    validate_parameter_constraints(type(estimator)._parameter_constraints, params,
                                   caller_name=type(estimator).__name__)
    get_basis(estimator.basis)
    weights = list(estimator.complexity_weights)
    if not weights or not all(Range(Real, 0, None, closed="left").is_satisfied_by(w) for w in weights):
        invalid("complexity_weights", "a non-empty list of non-negative numbers", [plain(w) for w in weights])
    if estimator.target_name is not None and not estimator.target_name.strip():
        invalid("target_name", "a non-empty string or None", estimator.target_name)
    if estimator.functions is not None:
        from .functions.library import resolve_functions

        resolve_functions(list(estimator.functions))


def seed_of(random_state) -> int:
    """The integer seed of one fit, from a (checked) random_state."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] % MAX_SEED)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2 ** 31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, MAX_SEED))
    return int(random_state)


def column_names(variable_names, feature_names_in, n_features: int) -> list[str]:
    """The columns' names: ``variable_names``, else a DataFrame's columns, else x0, x1, ..."""
    if variable_names is not None:
        names = [str(n) for n in variable_names]
        if len(names) != n_features:
            raise ValueError(f"variable_names has {len(names)} entries but X has {n_features} columns")
    elif feature_names_in is not None:
        names = [str(n) for n in feature_names_in]
    else:
        names = [f"x{k}" for k in range(n_features)]
    safe_names(names)  # raises for repeated or empty names
    return names


def target_label(target_name, y) -> str:
    """The target's name: ``target_name``, else the name of a pandas Series y, else "y"."""
    y_name = getattr(y, "name", None)
    return target_name or (y_name if isinstance(y_name, str) and y_name.strip() else "y")


def checked_types(X, y, variable_names, target: str):
    """X and y after checking that every column and the target hold real numbers, before
    any training (:func:`symkan.checks.numeric_table`, :func:`~symkan.checks.numeric_target`)."""
    names = None if variable_names is None else [str(n) for n in variable_names]
    return numeric_table(as_array(X), names), numeric_target(as_array(y), target)


def check_values(X: np.ndarray, y: np.ndarray, names: list[str], target: str) -> None:
    """Magnitudes the float64 search can handle, and inputs that vary."""
    if X.shape[0] < MIN_ROWS:
        raise ValueError(f"X has {X.shape[0]} rows; at least {MIN_ROWS} are needed to fit a formula")
    if np.ptp(y) == 0:
        raise ValueError(f"y is constant (every value is {num(y[0])}): there is no relationship to discover")
    for col, name in [(y, target), *((X[:, k], names[k]) for k in range(X.shape[1]))]:
        big = float(np.max(np.abs(col)))
        if big > MAX_MAGNITUDE:
            raise ValueError(f"column {name!r} has values up to {big:.3g} in magnitude; symkan needs values "
                             f"below {MAX_MAGNITUDE:g} (their squares overflow) — rescale it, e.g. by changing "
                             f"its units")
        if 0 < big < 1 / MAX_MAGNITUDE:
            raise ValueError(f"column {name!r} has values of at most {big:.3g} in magnitude; symkan needs values "
                             f"above {1 / MAX_MAGNITUDE:g} (their squares underflow) — rescale it, e.g. by "
                             f"changing its units")
    constant = [names[k] for k in range(X.shape[1]) if np.ptp(X[:, k]) == 0]
    if len(constant) == X.shape[1]:
        which = "the input column" if len(constant) == 1 else "every input column"
        values = ", ".join(f"{n} = {num(X[0, k])}" for k, n in enumerate(names))
        raise ValueError(f"{which} is constant ({values}): there is nothing to explain {target} with")
    if constant:
        log.warning("input column(s) %s are constant; a formula cannot depend on them", ", ".join(constant))
    warn_if_standardised(X)


#: inputs look standardised when every column's mean is within this of 0 and its
#: standard deviation (n or n − 1 in the denominator) within this of 1 ...
STANDARDISED_TOL = 1e-3
#: ... on at least this many rows (a few raw rows can look standardised by chance)
STANDARDISED_MIN_ROWS = 20


def looks_standardised(X: np.ndarray) -> bool:
    """Whether every column of X (n, d) has mean ≈ 0 and standard deviation ≈ 1 (as
    ``StandardScaler`` or ``(x − mean) / std`` leave them), on ``STANDARDISED_MIN_ROWS``
    rows or more."""
    if X.shape[0] < STANDARDISED_MIN_ROWS:
        return False
    means = np.mean(X, axis=0)
    spread = np.minimum(np.abs(np.std(X, axis=0) - 1), np.abs(np.std(X, axis=0, ddof=1) - 1))
    return bool(np.all(np.abs(means) <= STANDARDISED_TOL) and np.all(spread <= STANDARDISED_TOL))


def warn_if_standardised(X: np.ndarray) -> None:
    """A logged warning when the inputs look pre-standardised (docs/api.md, "Pipelines"):
    symkan standardises internally, and a formula in standardised units is not the law
    of the measured quantities."""
    if looks_standardised(X):
        log.warning("every input column has mean 0 and standard deviation 1: the inputs look standardised "
                    "(e.g. by a StandardScaler in a pipeline). symkan standardises internally; a formula in "
                    "standardised units is not the physical law (its constants mix the law with the scaler's "
                    "means and deviations) — fit on the raw columns instead")
