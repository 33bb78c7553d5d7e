"""The discovery package: time budget, rungs and the ladder, data spaces, typed errors, and
the search's behaviours (log space, stages that fail or retry, a spent budget)."""
import dataclasses
import logging
import time

import numpy as np
import pytest

from symkan import SymKANRegressor
from symkan.discovery import (SEPARABLE, Budget, DiscoveryError, NoFormulaFound, Rung, TrainingDiverged,
                              build_ladder, build_width, make_space, space_names)
from symkan.discovery.budget import TIME_RESERVE


# --- Budget -------------------------------------------------------------------------------
def test_a_budget_without_limit_never_runs_out(caplog):
    budget = Budget()
    assert budget.deadline is None and budget.left() == float("inf") and not budget.spent
    assert budget.stop_callbacks() == []
    assert budget.snap_seconds() == 10.0 and budget.snap_seconds(cap=3.0) == 3.0
    with caplog.at_level(logging.INFO, logger="symkan"):
        assert not budget.skip("anything")
    assert "time budget spent" not in caplog.text


def test_a_spent_budget_says_so_and_stops_training(caplog):
    budget = Budget(5.0, start=time.monotonic() - 6.0)
    assert budget.spent and budget.left() < 0 and budget.elapsed() >= 6.0
    [stop] = budget.stop_callbacks()
    assert stop(0, None, None) is True
    assert budget.snap_seconds() == 1.0  # past the deadline a formula still gets a short snap
    with caplog.at_level(logging.INFO, logger="symkan"):
        assert budget.skip("linear [2, 1, 1]")
    assert "time budget spent; skipping linear [2, 1, 1]" in caplog.text


def test_a_running_budget_gives_the_time_left_to_a_snap():
    budget = Budget(5.0)
    assert not budget.spent and budget.deadline == pytest.approx(budget.start + 5.0 * (1 - TIME_RESERVE))
    [stop] = budget.stop_callbacks()
    assert stop(0, None, None) is False
    assert 3.5 < budget.snap_seconds() <= 4.5
    assert Budget(100.0).snap_seconds() == 10.0  # capped


# --- Rung and the ladder --------------------------------------------------------------------
def test_a_rung_is_a_small_immutable_value():
    rung = Rung("linear", [3, [0, [3]], 1], {SEPARABLE})
    assert rung.width == (3, (0, (3,)), 1) and rung.layers == [3, [0, [3]], 1]
    assert rung.separable and not Rung("log", [3, 1]).separable
    assert str(rung) == "linear [3, [0, [3]], 1]"
    assert rung == Rung("linear", (3, (0, (3,)), 1), frozenset({SEPARABLE})) and len({rung, rung}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        rung.space = "log"


def test_the_default_ladder_order():
    def described(ladder):
        return [(r.space, r.layers, r.separable) for r in ladder]

    assert described(build_ladder(3, log_space=True)) == [
        ("log", [3, 1], False), ("linear", [3, [0, [3]], 1], True), ("linear", [3, 1, 1], False),
        ("linear", [3, [3, 2], 1], False), ("log", [3, 2, 1], False), ("linear", [3, 3, [0, [2]]], False),
        ("linear", [3, 3, 1, 1], False), ("linear", [3, [7, 2], 1], False)]
    # two inputs: the separable rung too (f(x)·g(y)); no log space: no log rungs
    assert described(build_ladder(2, log_space=False)) == [
        ("linear", [2, [0, [2]], 1], True), ("linear", [2, 1, 1], False), ("linear", [2, [2, 1], 1], False), ("linear", [2, 2, [0, [2]]], False),
        ("linear", [2, 2, 1, 1], False), ("linear", [2, [5, 1], 1], False)]
    assert [r.layers for r in build_ladder(1, log_space=False)] == [[1, 1, 1], [1, 3, 1]]


def test_hidden_layers_give_one_rung_in_the_chosen_space():
    assert build_ladder(2, log_space=True, hidden=[[4, 2]], hidden_space="log") == (Rung("log", [2, [4, 2], 1]),)
    assert build_ladder(3, log_space=False, hidden=5) == (Rung("linear", [3, 5, 1]),)
    assert build_width(2, [5, 3]) == [2, 5, 3, 1]
    for bad in ([], True, "5"):
        with pytest.raises(ValueError, match="hidden must be"):
            build_width(2, bad)


# --- data spaces ----------------------------------------------------------------------------
def test_space_names_follow_the_option_and_the_data():
    g = np.random.default_rng(0)
    X = g.uniform(1.0, 2.0, size=(20, 2))
    y = X[:, 0] * X[:, 1]
    assert space_names("auto", X, y) == ("linear", "log")
    assert space_names("auto", X, -y) == ("linear", "log")  # one sign is enough
    assert space_names(False, X, y) == ("linear",)
    assert space_names("auto", X, y - 2.5) == ("linear",)  # the target changes sign
    with pytest.raises(ValueError, match="log_space=True needs every input > 0"):
        space_names(True, -X, y)


def test_the_log_space_transform_maps_inputs_and_labels_the_network():
    g = np.random.default_rng(1)
    X = g.uniform(1.0, 4.0, size=(30, 2))
    y = -X[:, 0] ** 2 * X[:, 1]
    space = make_space("log", X, y, np.arange(20), np.arange(20, 30))
    t = space.transform
    assert space.name == t.name == "log" and t.sign == -1.0
    np.testing.assert_allclose(t.inputs(X[:20]), space.X.numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="positive inputs"):
        t.inputs(np.array([[1.0, 0.0]]))
    labels = t.labels(["L", "g"], "T")
    assert labels["in_names"] == ["log(L)", "log(g)"] and labels["out_names"] == ["log(-T)"]
    assert labels["title"].endswith("T = -exp(output)")
    linear = make_space("linear", X, y, np.arange(20), np.arange(20, 30)).transform
    assert linear.labels(["L", "g"], "T") == {"in_names": ["L", "g"], "out_names": ["T"]}
    with pytest.raises(ValueError, match="space must be one of"):
        dataclasses.replace(linear, name="sqrt")


# --- typed errors -------------------------------------------------------------------------
def test_errors_are_typed():
    assert issubclass(TrainingDiverged, DiscoveryError) and issubclass(NoFormulaFound, DiscoveryError)
    from symkan.regressor import FitError

    assert issubclass(FitError, DiscoveryError) and issubclass(FitError, RuntimeError)


def _data(n=60):
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, X[:, 0] + X[:, 1]


def test_training_that_diverges_everywhere_is_a_fit_error(monkeypatch):
    import symkan.discovery.searching as searching
    from symkan import SymKANRegressor
    from symkan.regressor import FitError

    def diverge(ctx):
        raise FloatingPointError("non-finite loss")

    monkeypatch.setattr(searching, "train_pruned", diverge)
    with pytest.raises(FitError, match="training diverged for every architecture") as info:
        SymKANRegressor(steps=1).fit(*_data())
    assert isinstance(info.value.__cause__, TrainingDiverged)


def test_no_finite_formula_is_a_fit_error_naming_the_failure(monkeypatch):
    import symkan.discovery.searching as searching
    from symkan import SymKANRegressor
    from symkan.nn import KAN
    from symkan.regressor import FitError

    monkeypatch.setattr(searching, "train_pruned", lambda ctx: KAN(ctx.rung.layers, seed=0))  # untrained
    monkeypatch.setattr(searching, "snap_weights", lambda ctx, net, weights: ([], "ValueError: no snap"))
    monkeypatch.setattr(searching, "rational_formulas", lambda rows, budget: [])  # the law is a polynomial
    with pytest.raises(FitError, match=r"no usable formula \(ValueError: no snap") as info:
        SymKANRegressor(hidden=[1], steps=1).fit(*_data())
    assert isinstance(info.value.__cause__, NoFormulaFound)


# --- the search: spaces, stages, time budget ----------------------------------------------
@pytest.mark.slow
def test_log_space_recovers_a_product_of_powers():
    g = np.random.default_rng(3)
    X = g.uniform(1.0, 5.0, size=(300, 3))
    y = 2.5 * X[:, 0] ** 2 * np.sqrt(X[:, 1]) / X[:, 2]
    model = SymKANRegressor(variable_names=["a", "b", "c"]).fit(X, y)
    from symkan.datasets.metrics import is_symbolic_solution

    assert model.network_space_ == "log"
    assert model.attempts_[0]["space"] == "log"
    assert is_symbolic_solution(model.sympy(), "a**2*sqrt(b)/c", names=["a", "b", "c"], positive=True)


@pytest.mark.slow
def test_a_formula_that_cannot_be_mapped_is_skipped_not_fatal(monkeypatch):
    """sympy can raise TypeError ("Cannot convert complex to float") while mapping a
    log-space formula back; the search logs it and keeps the other formulas."""
    import symkan.discovery.snapping as snapping
    from symkan.discovery import Rung, SearchSettings, UserRows, make_space, search

    original = snapping.to_user_formula

    def flaky(formula, space, *args, **kwargs):
        if space.name == "log":
            raise TypeError("Cannot convert complex to float")
        return original(formula, space, *args, **kwargs)

    monkeypatch.setattr(snapping, "to_user_formula", flaky)
    import symkan.discovery.searching as searching

    monkeypatch.setattr(searching, "split_formulas", lambda *a, **k: [])  # the snap alone is under test
    monkeypatch.setattr(searching, "rational_formulas", lambda rows, budget: [])
    g = np.random.default_rng(3)
    X = g.uniform(1.0, 5.0, size=(200, 2))
    y = X[:, 0] + 2 * X[:, 1]
    train, val = np.arange(150), np.arange(150, 200)
    spaces = {name: make_space(name, X, y, train, val) for name in ("log", "linear")}
    settings = SearchSettings(ladder=(Rung("log", [2, 1, 1]), Rung("linear", [2, 1])), steps=5,
                              complexity_weights=(1.0,), functions=["x", "x^2", "0"])
    rows = UserRows(["a", "b"], X[train], y[train], X[val], y[val])
    attempts = search(spaces, settings, rows).attempts
    assert [a.space for a in attempts] == ["log", "linear"]
    assert not attempts[0].formulas and "TypeError" in attempts[0].error
    assert attempts[1].formulas and min(f.loss for f in attempts[1].formulas) < 1e-6


@pytest.mark.parametrize("sparse_nmse, lambs", [(1e-2, [1e-3, 1e-4]), (1e-4, [1e-3])])
def test_sparsification_is_retried_weaker_only_when_it_erased_the_fit(monkeypatch, sparse_nmse, lambs):
    """train_pruned: when no pruned network keeps the held-out accuracy, a sparsification
    ten times weaker is tried only if the sparsified network itself is more than
    SPARSIFY_TOLERANCE x the allowance off (dense nmse 1e-5: allowance 2e-5, limit 2e-4)."""
    import symkan.discovery.training as training
    from symkan.discovery import Rung, RungContext, SearchSettings, make_space

    g = np.random.default_rng(0)
    X = g.uniform(-1.0, 1.0, size=(60, 2))
    space = make_space("linear", X, X[:, 0] + X[:, 1], np.arange(40), np.arange(40, 60))
    sparsified = []

    def fake_fit(net, X, y, *, lamb=0.0, **kwargs):
        net.sparsified = lamb > 0
        if lamb > 0:
            sparsified.append(lamb)

    monkeypatch.setattr(training, "fit", fake_fit)
    monkeypatch.setattr(training, "val_nmse", lambda ctx, net: sparse_nmse if net.sparsified else 1e-5)
    monkeypatch.setattr(training, "prune_checked", lambda *args: None)  # pruning always loses accuracy
    ctx = RungContext(Rung("linear", [2, 2, 1]), space, None, SearchSettings(lamb=1e-3, steps=1))
    model = training.train_pruned(ctx)
    assert sparsified == pytest.approx(lambs)
    assert model.width == [2, 2, 1]  # pruning abandoned: the last sparsified network, refit


@pytest.mark.slow
def test_a_spent_time_budget_skips_the_remaining_architectures(caplog):
    X, _ = _data(100)
    y = X[:, 0] * X[:, 1]  # the first rung (an additive network) cannot express it
    with caplog.at_level("INFO", logger="symkan"):
        model = SymKANRegressor(steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"],
                                time_budget=0.01).fit(X, y)
    from symkan.discovery import build_ladder

    assert len(build_ladder(2, log_space=False)) > 1
    assert len(model.attempts_) == 1  # every later architecture was skipped
    assert "time budget spent; skipping" in caplog.text
    assert model.fit_seconds_ < 120  # generous: a soft limit, one snap may overrun it

