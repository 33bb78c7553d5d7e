"""Many problems at once: one independent fit per (X, y), mapped over processes or a
Dask cluster by joblib.

``discover_many(problems, n_jobs=4, time_budget=60)`` fits one
:class:`~symkan.SymKANRegressor` per problem, each in its own worker process with one
torch thread and its own budget, and returns the fitted estimators in the order of
``problems``. The same code runs on a Dask cluster through joblib's Dask backend:

>>> from dask.distributed import Client
>>> import joblib
>>> client = Client("tcp://scheduler:8786")
>>> with joblib.parallel_config(backend="dask"):
...     models = discover_many(problems, time_budget=60)

A fit of several targets (:mod:`.multi_target`) maps its columns with :func:`fit_each`.
"""
from __future__ import annotations

import logging

from .discovery.parallel import require_joblib

log = logging.getLogger(__name__)


def fit_one(estimator, X, y, fit_params: dict):
    """``estimator.fit(X, y, **fit_params)`` (a worker's task); returns the estimator."""
    return estimator.fit(X, y, **fit_params)


def fit_each(fits: list, n_jobs) -> list:
    """The estimators of ``fits`` — (estimator, X, y, fit_params) tuples — each fitted,
    in order. ``n_jobs=1`` fits them here, one after the other (joblib is not
    imported); otherwise joblib maps them over ``n_jobs`` processes (None: joblib's
    default, 1 unless a ``joblib.parallel_config`` says otherwise, e.g. every worker of
    a Dask cluster)."""
    if n_jobs == 1:
        return [fit_one(*fit) for fit in fits]
    joblib = require_joblib(f"fitting in parallel (n_jobs={n_jobs})")
    log.info("fitting %d problems with joblib (n_jobs=%s)", len(fits), n_jobs)
    return joblib.Parallel(n_jobs=n_jobs, batch_size=1)(joblib.delayed(fit_one)(*fit) for fit in fits)


def discover_many(problems, n_jobs=None, **params) -> list:
    """One formula search per problem: ``problems`` is a sequence of ``(X, y)`` pairs
    (or ``(X, y, fit_params)``, a dict passed to ``fit``: ``X_units``, ``sample_weight``,
    ...); ``params`` are :class:`~symkan.SymKANRegressor` parameters, the same for every
    problem (each fit has its own ``time_budget``). Returns the fitted estimators, in
    the order of ``problems``.

    ``n_jobs``: problems fitted at once, each in a worker process (joblib's loky
    backend; -1 every core); None is joblib's default — 1, or what an enclosing
    ``joblib.parallel_config`` sets (with ``backend="dask"``: every worker of the
    cluster). Each search itself runs its rungs one after the other unless ``params``
    sets ``n_jobs`` too. A problem whose search fails raises its ``FitError`` here."""
    # imported here: the regressor imports this module (through multi_target)
    from .regressor import SymKANRegressor

    fits = []
    for k, problem in enumerate(problems):
        if not isinstance(problem, (tuple, list)) or len(problem) not in (2, 3):
            raise ValueError(f"problem {k} must be an (X, y) or (X, y, fit_params) tuple, got {type(problem).__name__}")
        fit_params = dict(problem[2]) if len(problem) == 3 else {}
        fits.append((SymKANRegressor(**params), problem[0], problem[1], fit_params))
    if n_jobs is None:
        try:
            require_joblib("discover_many")
        except ImportError:  # without joblib None means one after the other, as joblib's default does
            n_jobs = 1
    return fit_each(fits, n_jobs)
