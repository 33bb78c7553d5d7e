"""Fits with units (issue 15): the search in dimensionless groups, one front with the raw
search, consistency marks, model files. Every test here trains: marked slow."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from symkan import SymKANRegressor

pytestmark = pytest.mark.slow


def _momentum(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(1, 5, n), rng.uniform(1, 2, n), rng.uniform(3, 10, n)]
    return X, X[:, 0] * X[:, 1] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)


def test_relativistic_momentum_is_found_exactly_with_units(tmp_path):
    X, y = _momentum()
    model = SymKANRegressor(steps=20, variable_names=["m0", "v", "c"]).fit(
        X, y, X_units=["kg", "m/s", "m/s"], y_units="kg*m/s")
    m0, v, c = sympy.symbols("m0 v c", positive=True)
    found = model.sympy().xreplace({s: sympy.Symbol(s.name, positive=True) for s in model.symbols_})
    assert sympy.simplify(found - m0 * v / sympy.sqrt(1 - v ** 2 / c ** 2)) == 0
    assert model.best_.consistent is True and "ok" in repr(model.front_)
    assert model.latex(units=True).endswith(r"\quad \left[\mathrm{kg}\,\mathrm{m}\,\mathrm{s}^{-1}\right]")
    assert model.latex(units=True).startswith(model.latex())
    assert model.space_.groups is not None and model.space_.groups.shape == (1, 3)
    np.testing.assert_allclose(model.predict(X), y, rtol=1e-9)
    path = tmp_path / "m.skan"
    model.save(path)
    back = SymKANRegressor.load(path)
    assert back.y_units_ == model.y_units_ and back.X_units_ == model.X_units_
    assert back.best_.consistent is True
    np.testing.assert_array_equal(back.space_.groups, model.space_.groups)
    np.testing.assert_allclose(back.predict(X), model.predict(X))
    back.plot()  # the network takes the groups: the diagram is drawn from the user's X


def test_a_law_fixed_by_its_units_is_a_constant_times_the_reference():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 3, size=(200, 3))
    y = 0.5 * X[:, 0] * X[:, 1] * X[:, 2] ** 2  # E = m·ω²·x²/2: no dimensionless group
    model = SymKANRegressor(steps=20).fit(X, y, X_units=["kg", "1/s^2", "m"], y_units="kg*m^2/s^2")
    m, w2, x = model.symbols_
    assert sympy.simplify(model.sympy() - m * w2 * x ** 2 / 2) == 0


def test_units_that_do_not_close_fall_back_to_the_raw_search():
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 2, size=(200, 2))
    y = 9.81 * X[:, 0] * X[:, 1]
    with pytest.warns(UserWarning, match="cannot be formed"):
        model = SymKANRegressor(steps=20).fit(X, y, X_units=["kg", "m"], y_units="J")
    assert model.best_.r2 > 0.999999
    assert model.best_.consistent is False  # 9.81 carries units m/s^2: flagged, still reported
