"""Row weights (``sample_weight``), the relative loss and several targets at once."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from sklearn.exceptions import DataConversionWarning

from symkan import SymKANRegressor
from symkan.discovery import split_rows
from symkan.nn import KAN
from symkan.sample_weights import (
    fit_weights,
    mean_square,
    torch_mean_square,
    weighted_sample,
    weighted_var,
)
from symkan.symbolic.constants import ConstantFit
from symkan.train import fit as train_fit

FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


def _data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, 2.0 * X[:, 0] + X[:, 1] ** 2


def _corrupted(y, share=0.2, seed=1):
    """y with a share of its rows replaced by garbage, and the mask of those rows."""
    g = np.random.default_rng(seed)
    bad = g.random(len(y)) < share
    out = y.copy()
    out[bad] = g.normal(0, 50, bad.sum())
    return out, bad


def _r2(pred, y):
    return 1 - np.mean((pred - y) ** 2) / np.var(y)


# --- checks and helpers (no fitting) ----------------------------------------------------
@pytest.mark.parametrize("weights, match", [
    (np.ones(5), r"shape \(10,\)"),
    (np.ones((10, 1)), r"shape \(10,\)"),
    (np.r_[np.ones(9), np.nan], "NaN or infinite"),
    (np.r_[np.ones(9), np.inf], "NaN or infinite"),
    (np.r_[np.ones(9), -1.0], "non-negative"),
    (np.zeros(10), "zero on every row"),
    (["a"] * 10, "array of numbers"),
])
def test_bad_sample_weight_is_a_clear_error_before_any_training(weights, match):
    X, y = _data(10)
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(X, y, sample_weight=weights)


def test_relative_loss_refuses_a_zero_target_that_counts():
    X, y = _data(20)
    y[3] = 0.0
    with pytest.raises(ValueError, match=r"loss='relative'.*y is 0 on 1 row\(s\) \(row 3 first\)"):
        SymKANRegressor(**FAST, loss="relative").fit(X, y)
    w = np.ones(20)
    w[3] = 0.0
    rows, weights = fit_weights(w, y, "relative")  # a zero target of weight 0 does not count
    assert 3 not in rows and np.allclose(weights, 1 / y[rows] ** 2)


def test_fit_weights_drops_zero_rows_and_forgets_constant_weights():
    y = np.array([1.0, 2.0, 4.0, 8.0])
    assert fit_weights(None, y) == (None, None)
    assert fit_weights(np.full(4, 2.5), y) == (None, None)  # every row counts the same
    rows, weights = fit_weights(np.array([1.0, 0.0, 1.0, 1.0]), y)
    assert rows.tolist() == [0, 2, 3] and weights is None
    rows, weights = fit_weights(np.array([1.0, 0.0, 2.0, 1.0]), y)
    assert rows.tolist() == [0, 2, 3] and weights.tolist() == [1.0, 2.0, 1.0]
    rows, weights = fit_weights(None, y, "relative")
    assert rows is None and np.allclose(weights, 1 / y ** 2)


def test_weighted_means_reduce_to_the_plain_ones():
    g = np.random.default_rng(0)
    r, w = g.normal(size=50), g.uniform(0.5, 2, size=50)
    # without weights: the very expressions of an unweighted fit (same bits)
    assert mean_square(r) == float(np.mean(r ** 2)) and weighted_var(r) == float(np.var(r))
    assert np.isclose(mean_square(r, np.ones(50)), mean_square(r))
    assert np.isclose(mean_square(r, w), np.average(r ** 2, weights=w))
    assert np.isclose(weighted_var(r, 3 * np.ones(50)), np.var(r))
    assert np.isclose(weighted_var(r, w), np.average((r - np.average(r, weights=w)) ** 2, weights=w))
    rt = torch.as_tensor(r).reshape(25, 2)
    assert float(torch_mean_square(rt)) == float(torch.mean(rt ** 2))
    assert np.isclose(float(torch_mean_square(rt, torch.ones(25))), float(torch.mean(rt ** 2)))
    two = torch.tensor([2.0] * 5 + [0.0] * 20)
    assert np.isclose(float(torch_mean_square(rt, two)), float(torch.mean(rt[:5] ** 2)))


def test_weighted_sample_draws_in_proportion_and_never_a_zero_row():
    w = np.array([0.0, 1.0, 3.0, 0.0, 4.0])
    take = weighted_sample(w, 80)
    counts = np.bincount(take, minlength=5)
    assert counts[0] == counts[3] == 0
    assert counts.tolist() == [0, 10, 30, 0, 40]


def test_constant_refit_ignores_rows_of_weight_zero():
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, size=(100, 1))
    y, bad = _corrupted(3.0 * X[:, 0] + 0.5)
    x = sympy.Symbol("x")
    cf = ConstantFit(1.1 * x + 0.2, [x], X, y, weights=np.where(bad, 0.0, 1.0))
    values, loss = cf.refit(cf.values, np.ones(2, dtype=bool))
    assert np.allclose(sorted(values), [0.5, 3.0], atol=1e-9) and loss < 1e-20
    plain = ConstantFit(1.1 * x + 0.2, [x], X, y)
    assert plain.refit(plain.values, np.ones(2, dtype=bool))[1] > 1.0  # the garbage counts without weights


def test_split_rows_carries_the_weights_to_every_part():
    w = np.arange(1.0, 11.0)
    split = split_rows(10, 0.3, seed=0, weight=w)
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    rows = split.search_rows(["a", "b"], X, y)
    assert np.array_equal(rows.w, w[split.train]) and np.array_equal(rows.w_val, w[split.val])
    assert split_rows(10, 0.3, seed=0).search_rows(["a", "b"], X, y).w is None


def test_y_units_of_several_targets_must_match_their_number():
    X, y = _data(20)
    with pytest.raises(ValueError, match="y_units has 3 entries but Y has 2 target columns"):
        SymKANRegressor(**FAST).fit(X, np.column_stack([y, y]), X_units=["m", "m"], y_units=["m", "m", "m"])


# --- training and fits -------------------------------------------------------------------
@pytest.mark.slow
def test_network_training_ignores_rows_of_weight_zero():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 1, generator=g) * 2 - 1
    y = (X[:, 0] ** 2)[:, None]
    garbage = y.clone()
    bad = torch.arange(200) % 5 == 0
    garbage[bad] = 30.0
    w = (~bad).double()
    losses = []
    for weights in (w, None):
        net = KAN([1, 3, 1], seed=0)
        train_fit(net, X, garbage, steps=20, sample_weight=weights)
        with torch.no_grad():
            losses.append(float(torch.mean((net(X[~bad]) - y[~bad]) ** 2)))
    assert losses[0] < 1e-3 < losses[1]


@pytest.mark.slow
def test_training_with_weights_of_one_matches_training_without():
    g = torch.Generator().manual_seed(1)
    X = (torch.rand(100, 2, generator=g) * 2 - 1).double()  # float64: LBFGS amplifies float32 round-off
    y = X[:, :1] * X[:, 1:]
    histories = []
    for weights in (torch.ones(100), None):
        net = KAN([2, 2, 1], seed=0).double()
        histories.append(train_fit(net, X, y, steps=5, sample_weight=weights, val_fraction=0.2))
    assert np.allclose(histories[0].train_loss, histories[1].train_loss, rtol=1e-6)
    assert np.allclose(histories[0].val_loss, histories[1].val_loss, rtol=1e-4)  # past the chaotic steps


@pytest.mark.slow
def test_zero_weights_on_corrupted_rows_give_the_exact_formula():
    X, y = _data()
    garbage, bad = _corrupted(y)
    model = SymKANRegressor(**FAST).fit(X, garbage, sample_weight=np.where(bad, 0.0, 1.0))
    assert sympy.simplify(model.sympy() - (2 * sympy.Symbol("x0") + sympy.Symbol("x1") ** 2)) == 0
    assert _r2(model.predict(X[~bad]), y[~bad]) > 1 - 1e-9


@pytest.mark.slow
def test_tiny_weights_on_corrupted_rows_run_the_weighted_search():
    """Weights 1e-9 keep every row (the weighted path, not the dropping of zero rows): the
    garbage barely counts, and the held-out scores are weighted."""
    X, y = _data()
    garbage, bad = _corrupted(y)
    weights = np.where(bad, 1e-9, 1.0)
    model = SymKANRegressor(**FAST).fit(X, garbage, sample_weight=weights)
    assert _r2(model.predict(X[~bad]), y[~bad]) > 1 - 1e-6
    val = split_rows(len(y), model.val_fraction, model.seed_).val
    pred = model.predict(X[val])
    expected = np.sum(weights[val] * (pred - garbage[val]) ** 2) / np.sum(weights[val])
    assert np.isclose(model.best_.loss, expected, rtol=1e-6, atol=1e-15)


@pytest.mark.slow
def test_weights_of_one_give_the_same_front_as_none():
    X, y = _data()
    plain = SymKANRegressor(**FAST).fit(X, y)
    ones = SymKANRegressor(**FAST).fit(X, y, sample_weight=np.ones(len(y)))
    pd.testing.assert_frame_equal(plain.equations_, ones.equations_)


@pytest.mark.slow
def test_relative_loss_on_a_target_spanning_four_decades():
    g = np.random.default_rng(2)
    x = g.uniform(0, 3.1, size=(150, 1))
    y = np.exp(3 * x[:, 0]) * (1 + 0.01 * g.normal(size=150))  # 1 .. 1e4, 1 % noise
    model = SymKANRegressor(steps=3, complexity_weights=(1.0,), functions=["exp", "x", "x^2", "0"],
                            loss="relative").fit(x, y)
    relative = (model.predict(x) - y) / y
    assert np.sqrt(np.mean(relative ** 2)) < 0.02  # the noise level, on the small values too
    val = split_rows(len(y), model.val_fraction, model.seed_).val
    held_out = np.mean(((model.predict(x[val]) - y[val]) / y[val]) ** 2)
    assert np.isclose(model.best_.loss, held_out, rtol=1e-6)  # the loss is the relative one


# --- several targets ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_targets():
    X, y = _data()
    Y = pd.DataFrame({"a": y, "b": X[:, 0] - X[:, 1]})
    return SymKANRegressor(**FAST, random_state=5).fit(X, Y), X, Y


@pytest.mark.slow
def test_two_targets_give_one_formula_each(two_targets):
    model, X, Y = two_targets
    x0, x1 = sympy.symbols("x0 x1")
    formulas = model.sympy()
    assert len(formulas) == 2 and model.n_targets_ == 2 and model.target_names_ == ["a", "b"]
    assert sympy.simplify(formulas[0] - (2 * x0 + x1 ** 2)) == 0 and sympy.simplify(formulas[1] - (x0 - x1)) == 0
    assert model.predict(X).shape == (len(X), 2)
    assert np.allclose(model.predict(X), Y.to_numpy())
    assert [len(t) for t in model.equations_] == [len(e.front_) for e in model.estimators_]
    assert len(model.latex()) == 2 and model.score(X, Y) > 0.999999
    assert [e.seed_ for e in model.estimators_] == [5, 6] and [e.target_name_ for e in model.estimators_] == ["a", "b"]


@pytest.mark.slow
def test_a_model_of_two_targets_cannot_be_saved_yet_and_a_refit_forgets_them(two_targets, tmp_path):
    model, X, Y = two_targets
    with pytest.raises(ValueError, match="several targets is not supported yet"):
        model.save(tmp_path / "model")
    for view in (model.code, model.pytorch, model.latex_table, model.plot_front):
        with pytest.raises(ValueError, match="several targets is not supported yet"):
            view()
    assert model.fit_evaluations_ == sum(e.fit_evaluations_ for e in model.estimators_)
    single = SymKANRegressor(**FAST).fit(X, Y)
    single.fit(X, Y["a"])
    assert not hasattr(single, "estimators_") and single.predict(X).shape == (len(X),)


@pytest.mark.slow
def test_a_column_target_is_one_target_with_sklearns_warning():
    X, y = _data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = SymKANRegressor(**FAST).fit(X, y[:, None])
    assert any(issubclass(w.category, DataConversionWarning) for w in caught)
    assert model.predict(X).shape == (len(X),) and not hasattr(model, "estimators_")


@pytest.mark.slow
def test_sklearns_check_of_a_column_target():
    """With the multi_output tag (check_estimator in test_regressor.py runs
    check_regressor_multioutput too: five targets of ten columns)."""
    from sklearn.utils.estimator_checks import check_supervised_y_2d

    assert SymKANRegressor().__sklearn_tags__().target_tags.multi_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_supervised_y_2d("SymKANRegressor", SymKANRegressor(**FAST))


@pytest.mark.slow
def test_cli_fits_one_formula_per_target(tmp_path, capsys, monkeypatch):
    import symkan.cli.commands as cli
    from symkan.cli import main

    original = cli.regressor
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: original(args, **kw).set_params(**FAST))
    X, y = _data(150)
    table = np.column_stack([X, y, X[:, 0] - X[:, 1]])
    csv = tmp_path / "data.csv"
    csv.write_text("x0,x1,y1,y2\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in table) + "\n")
    assert main(["fit", str(csv), "--target", "y1", "--target", "y2", "--json", "--out", str(tmp_path / "run")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["targets"]) == ["y1", "y2"]
    assert sympy.sympify(info["targets"]["y2"]["formula"]) == sympy.sympify("x0 - x1")
    assert (tmp_path / "run" / "y1" / "model").exists() and (tmp_path / "run" / "y2" / "formula.txt").exists()
    assert main(["fit", str(csv), "--target", "y1", "--target", "y2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "=== target y1 (1 of 2) ===" in text and "=== target y2 (2 of 2) ===" in text
    assert main(["fit", str(csv), "--target", "y1", "--target", "y1"]) == 2
    assert "more than once" in capsys.readouterr().err


def test_a_weighted_small_table_takes_the_held_out_path():
    """The small-data step's refits and cross-validation are unweighted: a small table
    with row weights is searched and scored on its weighted held-out rows instead."""
    from symkan.discovery import split_rows

    assert split_rows(50, 0.2, 0, small_data_rows=100).small_data
    weighted = split_rows(50, 0.2, 0, small_data_rows=100, weight=np.linspace(1, 2, 50))
    assert not weighted.small_data and weighted.weight is not None
