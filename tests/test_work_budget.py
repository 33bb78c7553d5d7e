"""The work budget (``max_evaluations``): the Budget's arithmetic, what each step is
charged on the work meter (symkan.work), and fits that stop at the same point on
every run. The time budget's tests are in test_discovery.py and test_reliability_bigdata.py."""
import logging

import numpy as np
import pytest
import torch

from symkan import SymKANRegressor, work
from symkan.discovery import Budget
from symkan.discovery.budget import GRACE
from symkan.discovery.units_first import groups_budget

#: a small fit whose three training stages (3 × 8 LBFGS steps of 25 evaluations) and
#: snaps cost about 2 000 evaluations without a limit
SMALL = dict(hidden=[2], steps=8, complexity_weights=(1.0,), functions=["x", "x^2", "sin", "0"])


def _data(n=120, seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, 1.5 * X[:, 0] + np.sin(2 * X[:, 1])


def _front(model) -> list:
    return [(e.complexity, e.loss, str(e.formula.expr)) for e in model.front_]


# --- the Budget's arithmetic --------------------------------------------------------------
def test_a_work_budget_is_spent_after_its_evaluations(caplog):
    budget = Budget(evaluations=100)
    assert budget.deadline is None and not budget.spent and budget.stop_callbacks() != []
    [stop] = budget.stop_callbacks()
    budget.count(99)
    assert not budget.spent and stop(0, None, None) is False
    budget.count(1)
    assert budget.spent and stop(0, None, None) is True and budget.evaluations_used == 100
    assert not budget.work_past_cutoff()  # steps under way may still use GRACE of it
    budget.count(int(GRACE * 100))
    assert budget.work_past_cutoff()
    with caplog.at_level(logging.INFO, logger="symkan"):
        assert budget.skip("linear [2, 1, 1]")
    assert "work budget spent (115 of 100 evaluations); skipping linear [2, 1, 1]" in caplog.text


def test_a_budget_without_limits_counts_but_never_stops():
    budget = Budget()
    with budget.metering():
        work.record(10 ** 9)
        assert not work.spent() and not work.past_cutoff()
    assert budget.evaluations_used == 10 ** 9 and not budget.spent and budget.stop_callbacks() == []


def test_either_limit_spends_the_budget():
    import time

    late = Budget(5.0, 10 ** 6, start=time.monotonic() - 6.0)
    assert late.spent and not late.work_spent()  # time ran out first
    busy = Budget(3600.0, 10)
    busy.count(10)
    assert busy.spent and busy.left() > 0  # work ran out first


def test_the_groups_search_gets_a_share_of_the_work_on_the_same_count():
    budget = Budget(evaluations=1000)
    share = groups_budget(budget, 1, 3)
    assert share.evaluations == 750 and share.seconds is None and share.start == budget.start
    share.count(750)
    assert share.spent and budget.evaluations_used == 750 and not budget.spent
    assert groups_budget(Budget(), 1, 3).evaluations is None


def test_meters_nest_and_only_count_inside_their_block():
    outer, inner = Budget(evaluations=50), Budget(evaluations=5)
    work.record(7)  # no meter: nothing happens
    with outer.metering():
        work.record(2)
        with inner.metering():
            work.record(5)
            assert work.spent()  # the innermost meter decides
        assert not work.spent()
    assert (outer.evaluations_used, inner.evaluations_used) == (2, 5)


# --- what each step is charged ------------------------------------------------------------
def test_training_is_charged_per_step_what_the_step_may_evaluate():
    from symkan.nn import KAN
    from symkan.train import fit

    X = torch.rand(64, 2, generator=torch.Generator().manual_seed(0))
    y = X[:, :1] * X[:, 1:]
    for optimizer, per_step in (("lbfgs", 25), ("adam", 1)):
        budget = Budget()
        with budget.metering():
            fit(KAN([2, 2, 1], seed=0), X, y, steps=3, optimizer=optimizer)
        assert budget.evaluations_used == 3 * per_step


def test_a_spent_work_budget_stops_training_after_the_step_that_spends_it():
    from symkan.nn import KAN
    from symkan.train import fit

    X = torch.rand(64, 2, generator=torch.Generator().manual_seed(0))
    budget = Budget(evaluations=60)  # spent during the third LBFGS step (3 × 25 ≥ 60)
    with budget.metering():
        history = fit(KAN([2, 2, 1], seed=0), X, X[:, :1], steps=10, callbacks=budget.stop_callbacks())
    assert len(history.train_loss) == 3 and budget.evaluations_used == 75


def test_constant_refits_and_snaps_are_charged_up_front_and_stop_past_the_cutoff():
    import sympy

    from symkan.symbolic.constants import ConstantFit, snap_charge

    x = sympy.Symbol("x")
    X = np.linspace(0.1, 2.0, 40)[:, None]
    y = 2.0 * X[:, 0] + 0.5
    expr = sympy.Float(1.9) * x + sympy.Float(0.4)
    budget = Budget(evaluations=10 ** 6)
    with budget.metering():
        cf = ConstantFit(expr, [x], X, y)
        values, loss = cf.refit(cf.values, np.ones(2, dtype=bool))
        assert budget.evaluations_used == 30 * 3 and loss < 1e-20
        ConstantFit(expr, [x], X, y).snap()
        assert budget.evaluations_used == 90 + snap_charge(2)
    spent = Budget(evaluations=10)
    spent.count(12)  # past the cutoff (1.15 × 10)
    with spent.metering():
        cf = ConstantFit(expr, [x], X, y)
        values, loss = cf.refit(cf.values, np.ones(2, dtype=bool))
    assert np.array_equal(values, cf.values) and spent.evaluations_used == 12  # not started, not charged


# --- fits ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_work_budget_gives_the_same_front_on_every_fit():
    X, y = _data()
    unlimited = SymKANRegressor(**SMALL).fit(X, y)
    for limit in (400, 700):  # spent in the second training stage; in the snaps
        a = SymKANRegressor(**SMALL, max_evaluations=limit).fit(X, y)
        b = SymKANRegressor(**SMALL, max_evaluations=limit).fit(X, y)
        assert _front(a) == _front(b) and a.fit_evaluations_ == b.fit_evaluations_
        assert limit <= a.fit_evaluations_ < unlimited.fit_evaluations_  # it stopped the search early
    # a limit never reached changes nothing
    loose = SymKANRegressor(**SMALL, max_evaluations=10 * unlimited.fit_evaluations_).fit(X, y)
    assert _front(loose) == _front(unlimited) and loose.fit_evaluations_ == unlimited.fit_evaluations_


@pytest.mark.slow
def test_a_tiny_time_budget_with_a_work_budget_still_returns_a_formula():
    X, y = _data()
    model = SymKANRegressor(**SMALL, time_budget=1e-3, max_evaluations=10 ** 6).fit(X, y)
    assert len(model.front_) >= 1 and np.all(np.isfinite(model.predict(X)))
    assert model.fit_evaluations_ < 10 ** 6  # the time ran out first


def test_the_cli_passes_max_evaluations_to_the_estimator(tmp_path, capsys, monkeypatch):
    from symkan.cli import main
    from symkan.regressor import SymKANRegressor

    csv = tmp_path / "data.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(10)))
    seen = []

    def stop(self, X, y, **kwargs):  # records what reached the estimator, fits nothing
        seen.append(self.max_evaluations)
        raise ValueError("stopped by the test")

    monkeypatch.setattr(SymKANRegressor, "fit", stop)
    assert main(["fit", str(csv), "--target", "y", "--quiet", "--max-evaluations", "123"]) == 2
    assert seen == [123] and "stopped by the test" in capsys.readouterr().err
    # a value the estimator would refuse is a usage error of the option itself
    with pytest.raises(SystemExit) as stop_code:
        main(["fit", str(csv), "--target", "y", "--quiet", "--max-evaluations", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop_code.value.code == 2 and len(err) == 1 and "--max-evaluations" in err[0]
