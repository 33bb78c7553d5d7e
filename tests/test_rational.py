"""Rational laws fitted directly (:mod:`symkan.discovery.rational`)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from symkan.discovery.budget import Budget
from symkan.discovery.context import UserRows
from symkan.discovery.rational import monomials, rational_coefficients, rational_formulas, rational_value


def _rows(f, d, names, seed=0):
    rng = np.random.default_rng(seed)
    X, X_val = rng.uniform(1, 3, size=(400, d)), rng.uniform(1, 3, size=(100, d))
    return UserRows(names, X, f(X), X_val, f(X_val))


def test_monomials_up_to_a_degree():
    M, powers = monomials(np.array([[2.0, 3.0]]), 2)
    assert powers == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    assert M.tolist() == [[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]


def test_the_smallest_singular_vector_is_the_exact_ratio():
    X = np.random.default_rng(1).uniform(1, 3, size=(200, 2))
    y = (X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1] / 9)
    a, b = rational_coefficients(X, y, 1, 2)
    assert np.allclose(rational_value(X, a, b, 1, 2), y, rtol=1e-10)


@pytest.mark.slow
def test_velocity_addition_is_found_and_a_smooth_law_is_not():
    def addition(X):
        u, v, c = X.T
        return (u + v) / (1 + u * v / (4 * c ** 2))

    found, = rational_formulas(_rows(addition, 3, ["u", "v", "c"]), Budget(seconds=20))
    u, v, c = sympy.symbols("u v c")
    assert sympy.simplify(found.expr - (u + v) / (1 + u * v / (4 * c ** 2))) == 0
    # a rational function of degree 3/2 approximates e^(−x·y) closely, but not to round-off
    assert rational_formulas(_rows(lambda X: np.exp(-X[:, 0] * X[:, 1] / 4), 2, ["x", "y"]), Budget()) == []
    assert rational_formulas(_rows(lambda X: X.sum(axis=1), 5, list("abcde")), Budget()) == []  # too many inputs
