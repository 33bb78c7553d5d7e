"""Constant refits take their forward-difference Jacobians in one vectorised evaluation
(symkan.symbolic.differences): the same derivatives as scipy's two-point differences,
the same refit, and a fallback for formulas that do not broadcast."""
from __future__ import annotations

import numpy as np
import sympy

from symkan.symbolic.constants import ConstantFit
from symkan.symbolic.differences import forward_jacobian, real_values

x, t = sympy.symbols("x t")


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, (n, 2))
    return X, 1.3 * np.exp(-0.7 * X[:, 0] ** 2 / X[:, 1] ** 2) + 0.2 * np.sin(2.1 * X[:, 1])


def test_the_vectorised_jacobian_matches_the_analytic_derivatives():
    X, y = _data()
    fit = ConstantFit(sympy.Float(1.2) * sympy.exp(sympy.Float(-0.6) * x ** 2 / t ** 2)
                      + sympy.Float(0.25) * sympy.sin(sympy.Float(2.0) * t), [x, t], X, y)
    idx = np.arange(len(fit.values))
    J = forward_jacobian(fit.residuals_at, fit.values, idx, fit.values[idx])
    assert J.shape == (len(y), 4)
    point = dict(zip(fit.syms, fit.values))
    exact = np.column_stack([sympy.lambdify((x, t), sympy.diff(fit.expr_p, s).subs(point), "numpy")(*X.T)
                             * np.ones(len(y)) for s in fit.syms])
    np.testing.assert_allclose(J, exact, rtol=1e-5, atol=1e-6)


def test_residuals_at_several_values_equal_one_at_a_time():
    X, y = _data(1)
    fit = ConstantFit(sympy.Float(1.1) * sympy.sqrt(x + sympy.Float(0.3) * t) - sympy.Float(0.4), [x, t], X, y)
    V = fit.values[None] + np.array([[0.0] * len(fit.values), [0.1] * len(fit.values), [-0.2] * len(fit.values)])
    R = fit.residuals_at(V)
    for k in range(3):
        np.testing.assert_allclose(R[k], fit.residuals(V[k]), rtol=1e-12)


def test_a_refit_lands_where_scipys_differences_land():
    X, y = _data(2)
    expr = sympy.Float(1.0) * sympy.exp(sympy.Float(-0.5) * x ** 2 / t ** 2) + sympy.Float(0.3) * sympy.sin(
        sympy.Float(2.0) * t)
    fast, slow = ConstantFit(expr, [x, t], X, y), ConstantFit(expr, [x, t], X, y)
    slow._vectorised = False  # the fallback: scipy's own two-point differences
    free = np.ones(len(fast.values), dtype=bool)
    v_fast, loss_fast = fast.refit(fast.values, free)
    v_slow, loss_slow = slow.refit(slow.values, free)
    assert fast._vectorises() and loss_fast < 1e-20 and loss_slow < 1e-20
    np.testing.assert_allclose(np.sort(np.abs(v_fast)), [0.2, 0.7, 1.3, 2.1], rtol=1e-7)
    np.testing.assert_allclose(v_fast, v_slow, rtol=1e-7)


def test_a_formula_that_does_not_broadcast_falls_back():
    X, y = _data(3)
    fit = ConstantFit(sympy.Min(sympy.Float(1.5) * x, t) + sympy.Float(0.1), [x, t], X,
                      np.minimum(1.2 * X[:, 0], X[:, 1]))

    def ragged(V):  # what numpy says of a function that cannot stack its arguments' shapes
        raise ValueError("setting an array element with a sequence")

    fit.residuals_at = ragged
    assert not fit._vectorises()
    v, loss = fit.refit(fit.values, np.ones(len(fit.values), dtype=bool))
    assert loss < 1e-3 * fit.loss(fit.values)  # scipy's own differences still refit it


def test_complex_values_beyond_round_off_are_nan():
    out = real_values(np.array([1 + 0j, 2 + 1e-3j, 3 + 1e-15j]))
    assert out[0] == 1 and np.isnan(out[1]) and out[2] == 3 and out.dtype == np.float64
