"""Mechanisms of the reductions: the univariate direct fit, separability tests on an
oracle, the budget share of the search in dimensionless groups."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from symkan.discovery import Budget
from symkan.discovery.oracle_split import separability
from symkan.discovery.units_first import GROUPS_SHARE, groups_budget
from symkan.discovery.univariate import univariate_expr, univariate_fits

X = np.linspace(0.1, 0.8, 200)


def test_a_lorentz_factor_is_one_two_level_fit():
    fit, *_ = univariate_fits(X, 1 / np.sqrt(1 - X ** 2))
    assert (fit.inner, fit.outer, fit.power, fit.outer_power) == ("x^2", "1/sqrt(x)", 0, 1)
    expr = univariate_expr(fit, sympy.Symbol("x"))
    np.testing.assert_allclose(sympy.lambdify("x", expr)(X), 1 / np.sqrt(1 - X ** 2), rtol=1e-8)


def test_equally_good_fits_rank_the_simplest_first():
    fit, *_ = univariate_fits(X, 3 * X + 1)
    assert (fit.inner, fit.outer) == ("x", "x")  # not sin(εx), not x^2 of a shifted x


def test_a_monomial_is_divided_out_when_no_direct_fit_is_exact():
    y = 1 / (X ** 2 * np.sqrt(1 - X ** 2))
    fit, *_ = univariate_fits(X, y)
    assert (fit.inner, fit.outer, fit.power) == ("x^2", "1/sqrt(x)", -2)
    np.testing.assert_allclose(sympy.lambdify("x", univariate_expr(fit, sympy.Symbol("x")))(X), y, rtol=1e-8)


@pytest.mark.parametrize("fn, outer_power", [
    (lambda x: np.sqrt((1 + x) / (1 - x)), 2),  # the relativistic Doppler factor
    (lambda x: 1 / np.sqrt(2 + x - x ** 2), -2),
])
def test_a_power_of_the_target_is_fitted_when_no_direct_fit_is_exact(fn, outer_power):
    fit, *_ = univariate_fits(X, fn(X))
    assert fit.outer_power == outer_power
    np.testing.assert_allclose(sympy.lambdify("x", univariate_expr(fit, sympy.Symbol("x")))(X), fn(X), rtol=1e-8)


def test_a_power_of_the_target_is_fitted_in_the_inverse_orientation_too():
    # a group's orientation is arbitrary: Planck's 1/(e^z − 1) met as a function of w = 1/z
    w = np.linspace(0.3, 3.0, 200)
    y = 1 / (np.exp(1 / w) - 1)
    fit, *_ = univariate_fits(w, y)
    assert (fit.inner, fit.outer, fit.outer_power) == ("1/x", "exp", -1)
    np.testing.assert_allclose(sympy.lambdify("x", univariate_expr(fit, sympy.Symbol("x")))(w), y, rtol=1e-8)


def test_a_non_finite_target_gives_no_fit():
    assert univariate_fits(X, np.where(X > 0.5, np.nan, X)) == []


def _oracle(fn):
    return lambda P: fn(P[:, 0], P[:, 1])


@pytest.mark.parametrize("fn, kind", [
    (lambda a, b: np.sin(3 * a) * np.exp(b), "product"),
    (lambda a, b: a ** 2 + np.cos(b), "sum"),
    (lambda a, b: 1 + a * np.sin(4 * b), "shifted"),
])
def test_separable_laws_pass_their_identity(fn, kind):
    rng = np.random.default_rng(0)
    P = rng.uniform(0.1, 0.9, size=(300, 2))
    errors = separability(_oracle(fn), P, np.median(P, axis=0))
    assert errors[kind][0] < 1e-10
    if kind == "shifted":
        assert errors["shifted"][1] == pytest.approx(1.0)
        assert errors["product"][0] > 0.05 and errors["sum"][0] > 0.05


def test_a_law_splits_after_an_outer_function():
    from symkan.discovery.oracle_split import OUTER, split_errors
    from symkan.discovery.oracle_split import cut_values as cut  # noqa: PLC2701 — the values the test needs

    rng = np.random.default_rng(2)
    P = rng.uniform(0.1, 0.9, size=(300, 2))
    values = cut(_oracle(lambda n, t: np.arcsin(0.9 * n * np.sin(t))), P, np.median(P, axis=0))
    assert split_errors(*values)["product"][0] > 0.01
    h = OUTER["sin"][0]
    assert split_errors(*(h(v) for v in values[:3]), float(h(values[3])))["product"][0] < 1e-10


def test_a_law_that_does_not_split_fails_every_identity():
    rng = np.random.default_rng(1)
    P = rng.uniform(0.1, 0.9, size=(300, 2))
    errors = separability(_oracle(lambda a, b: (a + b) / (1 + a * b)), P, np.median(P, axis=0))
    assert min(e for e, _ in errors.values()) > 0.05


def test_the_groups_search_gets_a_share_of_the_budget():
    budget = Budget(60.0)
    assert groups_budget(budget, 1, 3).seconds == pytest.approx(60 * GROUPS_SHARE)
    assert groups_budget(budget, 5, 6).seconds == pytest.approx(30.0)  # as many groups as inputs: half
    assert groups_budget(budget, 1, 3).start == budget.start
    assert groups_budget(Budget(), 1, 3).seconds is None


def _exact(model, want) -> bool:
    syms = {s: sympy.Symbol(s.name, positive=True) for s in model.symbols_}
    return sympy.simplify(model.sympy().xreplace(syms) - want.xreplace(syms)) == 0


@pytest.mark.slow
def test_one_input_law_is_found_by_the_univariate_rung():
    from symkan import SymKANRegressor

    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, size=(200, 1))
    model = SymKANRegressor(steps=20).fit(x, 2 / np.sqrt(1 - x[:, 0] ** 2))
    (x0,) = model.symbols_
    assert _exact(model, 2 / sympy.sqrt(1 - x0 ** 2))
    assert model.attempts_[0]["width"] == [1, 1, 1] and len(model.attempts_) == 1  # exact: no ladder
    np.testing.assert_allclose(model.model_(__import__("torch").as_tensor(model.space_.inputs(x)))
                               .detach().numpy()[:, 0] * model.space_.output_scale + model.space_.output_shift,
                               model.predict(x), rtol=1e-6)  # the snapped [1, 1, 1] network computes it


@pytest.mark.slow
def test_a_one_input_law_with_a_power_divided_out_ends_the_search_too():
    from symkan import SymKANRegressor

    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.6, size=(200, 1))
    model = SymKANRegressor(steps=20).fit(x, 1 / (x[:, 0] ** 2 * np.sqrt(1 - x[:, 0] ** 2)))
    (x0,) = model.symbols_
    assert _exact(model, 1 / (x0 ** 2 * sympy.sqrt(1 - x0 ** 2)))
    # every kept fit divides out a power; the rung keeps the best plain fit's network
    assert model.attempts_[0]["width"] == [1, 1, 1] and len(model.attempts_) == 1


@pytest.mark.slow
def test_a_product_of_compositions_of_two_inputs_is_split_and_found():
    from symkan import SymKANRegressor

    rng = np.random.default_rng(1)
    X = rng.uniform(0.1, 0.7, size=(300, 2))
    y = (1 - X[:, 1]) / np.sqrt(1 - X[:, 0] ** 2)
    model = SymKANRegressor(steps=30, log_space=False).fit(X, y)
    a, b = model.symbols_
    assert _exact(model, (1 - b) / sympy.sqrt(1 - a ** 2))


def test_a_law_of_one_product_of_powers_is_recognised():
    from symkan.discovery.oracle_split import COMBINED_TOL, combination_errors

    rng = np.random.default_rng(3)
    P = rng.uniform(0.5, 2.0, size=(300, 2))
    errors = combination_errors(_oracle(lambda n, a: n * a / (1 - n * a / 5)), P)
    assert errors[(1, 1)] < 1e-10
    assert all(e > COMBINED_TOL for c, e in errors.items() if c != (1, 1))


@pytest.mark.slow
def test_a_two_input_law_with_a_prefactor_is_fitted_in_its_group():
    from symkan.discovery.context import UserRows
    from symkan.discovery.oracle_split import combined_formulas

    def gaussian(X):  # e^(−θ²/2σ²)/(√(2π)·σ): prefactor 1/σ, group θ/σ
        return np.exp(-(X[:, 0] / X[:, 1]) ** 2 / 2) / np.sqrt(2 * np.pi) / X[:, 1]

    rng = np.random.default_rng(0)
    X, X_val = rng.uniform(1, 3, size=(400, 2)), rng.uniform(1, 3, size=(100, 2))
    rows = UserRows(["theta", "sigma"], X, gaussian(X), X_val, gaussian(X_val))
    found = min(combined_formulas(gaussian, rows, None, Budget(seconds=30)), key=lambda f: f.loss)
    theta, sigma = sympy.symbols("theta sigma")
    ratio = sympy.simplify(found.expr / (sympy.exp(-theta ** 2 / (2 * sigma ** 2)) / sigma))
    assert found.loss < 1e-20 and ratio.is_number and float(ratio) == pytest.approx(1 / np.sqrt(2 * np.pi))
