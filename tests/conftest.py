"""Shared fixtures. Every test that draws random numbers uses its own generator."""
from __future__ import annotations

import math

import pytest
import torch


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
