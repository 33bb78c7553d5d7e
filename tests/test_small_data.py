"""Small tables (fewer than SMALL_DATA_ROWS rows): formulas refit on all rows, constants
snapped within the noise, cross-validated scores (symkan.discovery.small_data)."""
import numpy as np
import pytest
import sympy

from symkan import SymKANRegressor
from symkan.discovery import SMALL_DATA_ROWS, small_data, split_rows
from symkan.discovery.small_data import (
    cross_validated_mse,
    estimate_noise,
    folds,
    snap_within_noise,
)
from symkan.symbolic.constants import ConstantFit, NoiseTest
from symkan.symbolic.formula import Formula

# semi-major axis (AU) and sidereal period (years) of the eight planets, as tables print them
PLANET_A = np.array([0.387, 0.723, 1.000, 1.524, 5.203, 9.537, 19.19, 30.07])
PLANET_T = np.array([0.241, 0.615, 1.000, 1.881, 11.862, 29.457, 84.02, 164.8])
A = sympy.Symbol("a")
FAST = {"hidden": [1], "steps": 3, "complexity_weights": (1.0,), "functions": ["x", "x^2", "0"]}


def _formula(text: str, symbol=A) -> Formula:
    return Formula(sympy.sympify(text, locals={symbol.name: symbol}), [symbol])


def test_small_tables_keep_their_split_and_are_marked():
    for n in (8, 50, SMALL_DATA_ROWS - 1):
        split, plain = split_rows(n, 0.2, 3, None, small_data_rows=SMALL_DATA_ROWS), split_rows(n, 0.2, 3)
        assert split.small_data and not plain.small_data
        for field in ("train", "val", "search_train", "search_val"):
            np.testing.assert_array_equal(getattr(split, field), getattr(plain, field))
    # from the threshold on, nothing changes: the default path
    assert not split_rows(SMALL_DATA_ROWS, 0.2, 3, None, small_data_rows=SMALL_DATA_ROWS).small_data
    assert not split_rows(1000, 0.2, 3, None, small_data_rows=SMALL_DATA_ROWS).small_data


def test_folds_deal_every_row_once_leave_one_out_up_to_ten_rows():
    order = np.random.default_rng(0).permutation(8)
    assert [len(f) for f in folds(order)] == [1] * 8
    order = np.random.default_rng(0).permutation(57)
    parts = folds(order)
    assert len(parts) == small_data.MAX_FOLDS
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(57))


def test_cross_validation_charges_constants_that_fit_noise():
    g = np.random.default_rng(1)
    x = g.uniform(0, 1, 30)
    y = 2 * x + 0.1 * g.normal(size=30)
    X, order = x[:, None], g.permutation(30)
    fitted = _formula("0.1*x**7 + 0.2*x**5 + 0.3*x**3 + 0.4*x**2 + 1.5*x + 0.1", sympy.Symbol("x"))
    fit = ConstantFit(fitted.expr, fitted.variables, X, y)
    assert len(fit.syms) == 6
    fit.values, train_loss = fit.refit(fit.values, np.ones(len(fit.syms), dtype=bool))
    fitted.expr = fit.expression()
    cv = cross_validated_mse(fitted, X, y, order)
    assert cv > 1.15 * train_loss  # six free constants on 30 noisy rows: the fit is optimistic
    exact = _formula("2*x", sympy.Symbol("x"))  # no constant to refit: its plain MSE
    assert cross_validated_mse(exact, X, y, order) == pytest.approx(np.mean((2 * x - y) ** 2), rel=1e-12)


def test_noise_test_allows_what_an_f_test_allows():
    test = NoiseTest(variance=2.0, dof=6, significance=0.05)
    # F(1, 6) at 95 % is 5.987: one snap may add 5.987·σ̂² to the residual sum of squares
    assert test.margin(1) == pytest.approx(5.987 * 2.0, rel=1e-3)
    assert test.limit(1.0, 1, 10) == pytest.approx(1.0 + 5.987 * 2.0 / 10, rel=1e-3)
    assert test.limit(1.0, 0, 10) == np.inf


def test_a_rounded_exponent_snaps_to_the_rational_the_data_cannot_tell_apart():
    X = PLANET_A[:, None]
    formulas = [_formula("a**1.49983"), _formula("1.0004*a**1.4997")]
    weights, noise = estimate_noise(formulas, X, PLANET_T)
    assert weights is not None  # values rounded to significant digits: relative errors
    for f in formulas:
        assert snap_within_noise(f, X, PLANET_T, weights, noise)
        assert f.expr == A ** sympy.Rational(3, 2)
        assert f.loss == pytest.approx(np.mean((PLANET_A ** 1.5 - PLANET_T) ** 2))


@pytest.mark.parametrize("n", [20, 200])
def test_noise_free_irrational_constants_are_not_snapped(n):
    x = np.linspace(1.0, 10.0, n)
    X = x[:, None]
    X_sym = sympy.Symbol("x")
    for text, y in [("x**1.41421356237", x ** np.sqrt(2)), ("1.41421356237*x + 0.5", np.sqrt(2) * x + 0.5)]:
        f = _formula(text, X_sym)
        noise = estimate_noise([f], X, y)
        assert noise is not None and noise[1].variance < 1e-20  # round-off residuals
        snap_within_noise(f, X, y, *noise)  # 0.5 may become 1/2; √2 must stay
        assert any(abs(c - np.sqrt(2)) < 1e-9 for c in f.constants), f.expr
        assert not f.expr.has(sympy.Rational(7, 5)) and np.mean((f.evaluate(X) - y) ** 2) < 1e-20


def test_noisy_data_snap_an_exponent_within_their_noise_but_not_a_distinct_one():
    g = np.random.default_rng(4)
    x = np.linspace(1.0, 5.0, 40)
    y = x ** 1.5 * (1 + 1e-3 * g.normal(size=40))
    X, X_sym = x[:, None], sympy.Symbol("x")
    close, far = _formula("x**1.5002", X_sym), _formula("x**1.5002", X_sym)
    weights, noise = estimate_noise([close], X, y)
    assert snap_within_noise(close, X, y, weights, noise) and close.expr == X_sym ** sympy.Rational(3, 2)
    y_far = x ** 1.52 * (1 + 1e-3 * g.normal(size=40))  # 1.52 is not 3/2 within 0.1 % noise
    far.expr = X_sym ** sympy.Float(1.52)
    weights, noise = estimate_noise([far], X, y_far)
    assert not snap_within_noise(far, X, y_far, weights, noise)


@pytest.mark.slow
def test_an_eight_row_power_law_with_4_digit_rounded_values_gives_the_exact_rational_exponent(tmp_path):
    model = SymKANRegressor(variable_names=["a"], steps=20).fit(PLANET_A[:, None], PLANET_T)
    assert model.validation_ == "cross-validated"
    expr = model.sympy()
    ratio = sympy.simplify(expr / A ** sympy.Rational(3, 2))
    assert ratio.is_number and abs(float(ratio) - 1) < 1e-2, expr  # T = c·a^(3/2), c ≈ 1
    assert len(model.front_) >= 2  # the constant baseline and the law at least
    # the reported R² is cross-validated (and with no free constant, equal to the fit's)
    best = model.best_
    assert best.nmse == pytest.approx(best.loss / np.var(PLANET_T))
    order = np.random.default_rng(model.seed_).permutation(8)
    assert best.loss == pytest.approx(cross_validated_mse(best.formula, PLANET_A[:, None], PLANET_T, order))
    # the front (baselines without a network of their own included) is saved and read back
    model.save(tmp_path / "kepler.skan")
    again = SymKANRegressor.load(tmp_path / "kepler.skan")
    assert again.sympy() == expr and len(again.front_) == len(model.front_)
    assert again.validation_ == "cross-validated"
    np.testing.assert_allclose(again.predict(PLANET_A[:, None]), model.predict(PLANET_A[:, None]))


@pytest.mark.slow
def test_the_small_data_step_runs_only_below_the_threshold(monkeypatch):
    calls = []
    real = small_data.small_data_result

    def spy(result, X, *args, **kwargs):
        calls.append(len(X))
        return real(result, X, *args, **kwargs)

    monkeypatch.setattr("symkan.discovery.units_first.small_data_result", spy)
    g = np.random.default_rng(0)
    for n in (SMALL_DATA_ROWS - 1, SMALL_DATA_ROWS):
        X = g.uniform(-1, 1, size=(n, 2))
        model = SymKANRegressor(**FAST).fit(X, 2.0 * X[:, 0] + X[:, 1] ** 2)
        assert np.isfinite(model.best_.loss)
    assert calls == [SMALL_DATA_ROWS - 1]


def test_the_front_keeps_a_more_complex_formula_only_when_it_is_significantly_better():
    simple, stand_in, better = (_formula("a**(3/2)"), _formula("exp(8.4587*asin(sin(0.1773*log(a))))"),
                                _formula("a**(3/2) + 0.5*sin(a)**2 + 0.25"))
    for f, loss in ((simple, 1e-3), (stand_in, 4e-4), (better, 1e-5)):
        f.loss = loss
    noise = NoiseTest(variance=1.0, dof=6, significance=0.01)  # F(1, 6) = 13.7: a margin of 13.7
    kept = small_data.significant_entries([stand_in, simple, better], [20.0, 30.0, 5.0], noise, 1.0, 1.0)
    assert [e.formula for e in kept] == [simple, better]  # 30 − 20 is noise, 30 − 5 is not
    everything = small_data.significant_entries([stand_in, simple, better], [20.0, 30.0, 5.0], None, 1.0, 1.0)
    assert len(everything) == 3 and everything[0].nmse == simple.loss
