"""Two-input laws linear in one input, A(x₁) + B(x₁)·x₂, read off an oracle
(symkan.discovery.linear_split): the linearity test, the coefficient cuts, and the law
composed from them (x·(cos ωt + α·cos² ωt) in its groups)."""
from __future__ import annotations

import numpy as np
import pytest

from symkan.discovery.budget import Budget
from symkan.discovery.context import UserRows
from symkan.discovery.linear_split import coefficient_cuts, linear_formulas, linearity_error
from symkan.discovery.training import ROUND_OFF_NMSE


def _rows(f, names, low=(1.0, 1.0), high=(3.0, 5.0), n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(low[0], high[0], n), rng.uniform(low[1], high[1], n)]
    y = f(X)
    k = 3 * n // 4
    return UserRows(names, X[:k], y[:k], X[k:], y[k:])


def cos_law(X):  # cos z + α·cos² z, linear in α
    return np.cos(X[:, 1]) + X[:, 0] * np.cos(X[:, 1]) ** 2


def test_linearity_is_measured_per_input():
    rows = _rows(cos_law, ["alpha", "z"])
    assert linearity_error(cos_law, rows.X_val, 0) < 1e-12
    assert linearity_error(cos_law, rows.X_val, 1) > 0.5
    product = _rows(lambda X: np.exp(X[:, 0]) * X[:, 1], ["a", "b"])  # linear in b, not in a
    assert linearity_error(lambda X: np.exp(X[:, 0]) * X[:, 1], product.X_val, 0) > 0.05


def test_the_coefficient_cuts_are_the_laws_coefficients():
    rows = _rows(cos_law, ["alpha", "z"])
    A, B = coefficient_cuts(cos_law, rows.X, 0, 1.5, 2.5)
    z = rows.X[:, 1]
    np.testing.assert_allclose(A, np.cos(z), atol=1e-12)
    np.testing.assert_allclose(B, np.cos(z) ** 2, atol=1e-12)


def test_a_law_that_is_linear_in_no_input_gives_nothing():
    rows = _rows(lambda X: np.sin(X[:, 0] * X[:, 1]), ["a", "b"])
    assert linear_formulas(lambda X: np.sin(X[:, 0] * X[:, 1]), rows, None, Budget(30)) == []


@pytest.mark.slow
def test_a_law_linear_in_one_input_is_found_exactly():
    rows = _rows(cos_law, ["alpha", "z"])
    found = linear_formulas(cos_law, rows, None, Budget(60), accuracy=1e-12)
    best = min(found, key=lambda f: f.loss)
    assert best.loss / np.var(rows.y_val) < ROUND_OFF_NMSE
    assert not best.constants  # cos(z)·(α·cos(z) + 1): no float left
