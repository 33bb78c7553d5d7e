"""Issue 19, items 7 and 8: ``warm_start`` continues from the last front; ``symkan fit
--out`` keeps the front on disk as the search goes (an interrupted fit leaves it);
pipelines keep the column names, and pre-standardised inputs are warned about."""
import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy

from symkan import SymKANRegressor
from symkan.discovery import LiveFront, split_rows
from symkan.pareto import ParetoEntry

ROOT = Path(__file__).resolve().parents[1]
#: small settings: a fit in about a second
FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


def _data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, 2.0 * X[:, 0] + X[:, 1] ** 2


def _equations(front) -> set:
    return {str(e.expr) for e in front}


# --- warm_start ------------------------------------------------------------------------
@pytest.mark.slow
def test_warm_start_keeps_the_earlier_formulas_and_moves_to_the_next_seed(monkeypatch):
    import symkan.regressor as regressor
    from symkan.discovery import SearchResult
    from symkan.pareto import ParetoFront

    X, y = _data()
    model = SymKANRegressor(**FAST, warm_start=True).fit(X, y)
    best = model.best_
    assert model.seed_ == 0 and str(best.expr) == "2*x0 + x1**2"
    seeds = []

    def unlucky(*args, **kwargs):  # a continued search that misses the exact formula
        seeds.append(args[4].seed)
        found = real(*args, **kwargs)
        worse = ParetoFront([e for e in found.front if e.nmse > 1e-6])
        return SearchResult(found.attempts, worse, found.owners, found.rows)

    real = regressor.discover
    monkeypatch.setattr(regressor, "discover", unlucky)
    model.fit(X, y)
    assert seeds == [1] and model.seed_ == 1  # the next seed: not the first search again
    assert str(model.best_.expr) == "2*x0 + x1**2"  # the earlier formula stays: the front only improves
    assert model.best_.loss == pytest.approx(best.loss, abs=1e-12)  # same rows, same score
    assert model.predict(X[:5]) == pytest.approx(y[:5])
    assert model.model_ is not None and model.space_ is not None  # its network and space came along
    monkeypatch.setattr(regressor, "discover", real)
    # without warm_start, a fit starts afresh from random_state
    model.set_params(warm_start=False).fit(X, y)
    assert model.seed_ == 0


@pytest.mark.slow
def test_warm_start_rescores_earlier_formulas_on_the_new_held_out_rows():
    from symkan.discovery import SearchResult
    from symkan.pareto import ParetoFront
    from symkan.warm_start import continued, previous_fit

    X, y = _data()
    model = SymKANRegressor(**FAST, warm_start=True).fit(X, y)
    earlier = [(str(e.expr), e.loss) for e in model.front_]
    # new measurements of the same columns, with an offset: every earlier loss changes
    X2, y2 = _data(seed=1)
    y2 = y2 + 0.5
    rows = split_rows(len(y2), 0.2, 0).search_rows(model.names_, X2, y2)
    previous = previous_fit(model, model.names_)
    assert previous.next_seed == model.seed_ + 1
    merged = continued(SearchResult([], ParetoFront(), {}, rows), previous, rows)
    assert len(merged.front) >= 1
    for entry in merged.front:
        expected = float(np.mean((entry.formula.evaluate(rows.X_val) - rows.y_val) ** 2))
        assert entry.loss == pytest.approx(expected, rel=1e-9)
        assert entry.nmse == pytest.approx(expected / np.var(rows.y_val), rel=1e-9)
        assert merged.attempt_of(entry.formula).model is not None
    assert [(str(e.expr), e.loss) for e in model.front_] == earlier  # the fitted front is not changed
    assert {str(e.expr) for e in merged.front} <= {text for text, _ in earlier}
    assert min(e.loss for e in merged.front) == pytest.approx(0.25)  # 2·x0 + x1² is off by 0.5 now
    assert continued(merged, None, rows) is merged


@pytest.mark.slow
def test_warm_start_with_other_columns_starts_afresh_with_a_warning(caplog):
    X, y = _data()
    model = SymKANRegressor(**FAST, warm_start=True).fit(X, y)
    with caplog.at_level(logging.WARNING, logger="symkan"):
        model.set_params(variable_names=["p", "q"]).fit(X, y)
    messages = [r.getMessage() for r in caplog.records if "warm_start" in r.getMessage()]
    assert len(messages) == 1 and "['p', 'q']" in messages[0] and "starting a new search" in messages[0]
    assert model.seed_ == 0 and all(str(s) in {"p", "q"} for e in model.front_ for s in e.expr.free_symbols)
    model.set_params(variable_names=None)
    with caplog.at_level(logging.WARNING, logger="symkan"):
        caplog.clear()
        model.fit(X[:, :1], y)  # one column fewer
    assert any("starting a new search" in r.getMessage() for r in caplog.records)
    assert model.seed_ == 0 and model.n_features_in_ == 1


@pytest.mark.slow
def test_warm_start_continues_a_loaded_model_and_a_pickled_one(tmp_path):
    X, y = _data()
    model = SymKANRegressor(**FAST).fit(X, y)
    model.save(tmp_path / "model")
    for again in (SymKANRegressor.load(tmp_path / "model"), pickle.loads(pickle.dumps(model))):
        again.set_params(warm_start=True, functions=["x"]).fit(X, y)
        assert again.seed_ == 1 and "2*x0 + x1**2" in _equations(again.front_)
        assert again.predict(X[:5]) == pytest.approx(y[:5])
        assert again.model_ is not None and again.space_ is not None


# --- the front as the search goes --------------------------------------------------------
def test_live_front_calls_back_only_when_the_front_changes():
    class F:
        def __init__(self, text):
            self.expr = sympy.sympify(text)

    seen = []
    live = LiveFront(seen.append)
    live([ParetoEntry(3, 1.0, 0.5, F("x")), ParetoEntry(5, 0.1, 0.05, F("x**2"))])
    assert len(seen) == 1 and [e.complexity for e in seen[0]] == [3, 5]
    live([ParetoEntry(7, 0.2, 0.1, F("x**3"))])  # dominated: nothing new
    assert len(seen) == 1
    live([ParetoEntry(4, 0.01, 0.005, F("2*x"))])  # displaces complexity 5
    assert len(seen) == 2 and [e.complexity for e in live.front] == [3, 4]


@pytest.mark.slow
def test_fit_reports_its_formulas_as_they_are_found():
    X, y = _data()
    batches = []
    model = SymKANRegressor(**FAST).fit(X, y, on_formula=batches.append)
    reported = {str(e.expr) for batch in batches for e in batch}
    assert batches and _equations(model.front_) <= reported
    assert all(e.loss >= 0 and e.nmse == pytest.approx(e.loss / np.var(y[split_rows(200, 0.2, 0).val]))
               for batch in batches for e in batch)


def _start_cli_fit(tmp_path):
    """`python -m symkan.cli fit` on noisy 2·a + b² in a subprocess of this tree: its first
    formula comes some seconds before the search ends (a separability split follows)."""
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, size=(200, 2))
    y = 2 * X[:, 0] + X[:, 1] ** 2 + 0.01 * g.normal(size=200)
    csv = tmp_path / "data.csv"
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", header="a,b,y", comments="")
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "symkan.cli", "fit", str(csv), "--target", "y", "--out",
                             str(out), "--time-budget", "10", "--quiet"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a test run in the background (bash without job control) ignores
                            # SIGINT, and so would the child's Python: give it the default back
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return proc, out


def _wait_for_first_front(proc, out, timeout=300):
    """Poll until out/equations.csv exists; checks the fit is still running then."""
    deadline = time.monotonic() + timeout
    while not (out / "equations.csv").exists():
        if proc.poll() is not None:
            pytest.fail(f"the fit ended (exit {proc.returncode}) before writing equations.csv: "
                        f"{proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no equations.csv after {timeout} s")
        time.sleep(0.05)
    # the final result files are written after the search: the front came first
    assert proc.poll() is None and not (out / "formula.txt").exists() and not (out / "model").exists()


@contextlib.contextmanager
def _fit_with_a_first_front(tmp_path):
    """(proc, out) of a CLI fit that has written its first front and still runs; the
    process is killed on the way out if the test left it running."""
    proc, out = _start_cli_fit(tmp_path)
    try:
        _wait_for_first_front(proc, out)
        yield proc, out
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _check_front_file(out):
    import pandas as pd

    table = pd.read_csv(out / "equations.csv")
    assert len(table) >= 1
    assert {"complexity", "loss", "r2", "score", "equation", "best"} <= set(table.columns)
    for text in table["equation"]:
        assert {str(s) for s in sympy.sympify(text).free_symbols} <= {"a", "b"}
    assert table["best"].sum() == 1 and np.all(np.isfinite(table["loss"]))
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_an_interrupted_fit_killed_after_its_first_formula_leaves_a_readable_front(tmp_path):
    with _fit_with_a_first_front(tmp_path) as (proc, out):
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    _check_front_file(out)


@pytest.mark.slow
def test_ctrl_c_during_a_fit_exits_130_and_keeps_the_front(tmp_path):
    with _fit_with_a_first_front(tmp_path) as (proc, out):
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "error: interrupted" in err and f"found so far are in {out / 'equations.csv'}" in err
    _check_front_file(out)


# --- pipelines -----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_pandas_pipeline_keeps_the_names_and_warns_about_standardised_inputs(caplog):
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data()
    frame = pd.DataFrame(X, columns=["speed", "mass"])
    pipe = make_pipeline(StandardScaler().set_output(transform="pandas"), SymKANRegressor(**FAST))
    with caplog.at_level(logging.WARNING, logger="symkan"):
        pipe.fit(frame, y)
    reg = pipe[-1]
    assert list(reg.feature_names_in_) == ["speed", "mass"] and reg.names_ == ["speed", "mass"]
    assert {str(s) for s in reg.sympy().free_symbols} <= {"speed", "mass"} and reg.sympy().free_symbols
    assert pipe.score(frame, y) > 0.9
    warned = [r.getMessage() for r in caplog.records if "standardised" in r.getMessage()]
    assert len(warned) == 1 and "fit on the raw columns" in warned[0]


@pytest.mark.slow
def test_no_standardisation_warning_for_raw_columns(caplog):
    X, y = _data()
    g = np.random.default_rng(3)
    normal = g.normal(size=(200, 2))  # raw draws of N(0, 1): close to standardised, not exactly
    with caplog.at_level(logging.WARNING, logger="symkan"):
        SymKANRegressor(**FAST).fit(X, y)
        SymKANRegressor(**FAST).fit(normal, 2 * normal[:, 0] + normal[:, 1])
        scaled = (normal - normal.mean(axis=0)) / normal.std(axis=0, ddof=1)  # pandas' std: n − 1
        SymKANRegressor(**FAST).fit(scaled, 2 * scaled[:, 0] + scaled[:, 1])
    warned = [r for r in caplog.records if "standardised" in r.getMessage()]
    assert len(warned) == 1  # only the last, (x − mean) / std


def test_looks_standardised_needs_every_column_and_enough_rows():
    from symkan.regressor_checks import STANDARDISED_MIN_ROWS, looks_standardised

    g = np.random.default_rng(0)
    X = g.normal(size=(100, 3))
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    assert looks_standardised(Z)
    assert not looks_standardised(X)
    assert not looks_standardised(np.column_stack([Z[:, :2], X[:, 2]]))  # one raw column
    assert not looks_standardised(Z[: STANDARDISED_MIN_ROWS - 1] / Z[: STANDARDISED_MIN_ROWS - 1].std(axis=0))


@pytest.mark.slow
def test_a_fit_with_units_reports_formulas_in_the_users_columns():
    g = np.random.default_rng(2)
    X = g.uniform(1, 3, size=(100, 3))
    y = 0.5 * X[:, 0] * X[:, 1] * X[:, 2] ** 2  # E = m·ω²·x²/2: C times the reference
    batches = []
    model = SymKANRegressor(steps=5, complexity_weights=(1.0,), variable_names=["m", "w2", "x"]).fit(
        X, y, X_units=["kg", "1/s^2", "m"], y_units="kg*m^2/s^2", on_formula=batches.append)
    reported = [e for batch in batches for e in batch]
    assert reported and all({s.name for s in e.expr.free_symbols} <= {"m", "w2", "x"} for e in reported)
    assert str(model.best_.expr) in {str(e.expr) for e in reported}
