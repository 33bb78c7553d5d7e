"""Shared fixtures. Every test that draws random numbers uses its own generator."""
from __future__ import annotations

import math

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """The networks under test are tiny: a second intra-op thread only adds
    synchronisation, and on a busy 2-core machine OpenMP spin-waits made tests 10x
    slower. One thread for the whole session; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def target_exp_sin(X: torch.Tensor) -> torch.Tensor:
    """f(x, y) = exp(sin(πx) + y²), the KAN paper's running example. X: (n, 2) -> (n,)."""
    return torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)


@pytest.fixture
def exp_sin_data():
    """1000 train and 1000 test rows of exp(sin(πx) + y²) on [-1, 1]², seeded."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(2000, 2, generator=g) * 2 - 1
    y = target_exp_sin(X)
    return X[:1000], y[:1000], X[1000:], y[1000:]


@pytest.fixture(scope="session")
def fitted():
    """(estimator, X, y): a SymKANRegressor really fitted to y = 2·x0 + x1² on 200 rows,
    cut to one LBFGS step per stage (about a second): a Pareto front, a snapped network
    and a model file like any fit's. For tests of what a fitted estimator does with its
    state (predict checks, save/load, tampered files), not of the formula's quality.
    Shared by the session: tests must not change it."""
    import numpy as np

    from symkan import SymKANRegressor

    X = np.random.default_rng(0).uniform(-1, 1, size=(200, 2))
    y = 2.0 * X[:, 0] + X[:, 1] ** 2
    model = SymKANRegressor(hidden=[1], steps=1, complexity_weights=(1.0,), functions=["x", "x^2", "0"])
    return model.fit(X, y), X, y


@pytest.fixture
def custom_cleanup():
    """Removes the library functions a test registers."""
    from symkan.functions import library

    before = set(library.FUNCTIONS)
    yield
    for name in set(library.FUNCTIONS) - before:
        del library.FUNCTIONS[name]
