"""Parallel discovery: the rungs of one search in worker processes (``n_jobs``), many
problems at once (``discover_many``, several targets), the Dask backend, the CLI's
``--jobs`` / ``--scheduler``, and the error without the ``parallel`` extra."""
import json
import sys

import numpy as np
import pytest

from symkan import SymKANRegressor, discover_many
from symkan.cli import main

#: small fits: a rung trains in well under a second
TINY = dict(steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"], log_space=False)
#: smaller still (one network, one LBFGS step per stage): for tests of the mapping only
ONE_RUNG = dict(hidden=[1], steps=1, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


def _table(n=150, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))


def _front(result_front) -> list:
    """A front as plain data: (formula text, held-out loss) per entry."""
    return [(str(e.formula.expr), e.loss) for e in result_front]


def _search(y, X, n_jobs):
    """``search`` over a three-rung ladder of tiny networks."""
    from symkan.discovery import Rung, SearchSettings, UserRows, make_space, search

    train, val = np.arange(110), np.arange(110, len(y))
    spaces = {"linear": make_space("linear", X, y, train, val)}
    ladder = (Rung("linear", [2, 1]), Rung("linear", [2, 1, 1]), Rung("linear", [2, 2, 1]))
    settings = SearchSettings(ladder=ladder, steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"],
                              n_threads=1, n_jobs=n_jobs)
    return search(spaces, settings, UserRows(["a", "b"], X[train], y[train], X[val], y[val]))


@pytest.mark.slow
def test_rungs_in_two_processes_give_the_sequential_search():
    """Without a budget the front, the attempts and their networks' accuracy do not
    depend on n_jobs, on a target no rung finds (every rung runs, two-input splits too)."""
    X = _table()
    y = np.sin(3 * X[:, 0]) * np.exp(X[:, 1])
    one, two = _search(y, X, 1), _search(y, X, 2)
    assert len(one.attempts) == 3
    assert _front(two.front) == _front(one.front)
    assert [(a.width, a.numeric_nmse) for a in two.attempts] == [(a.width, a.numeric_nmse) for a in one.attempts]


@pytest.mark.slow
def test_the_regressor_with_two_jobs_stops_where_one_job_does():
    """The default ladder on 2·x0 + x1²: its first rung is exact, so the search stops
    there and the rungs the second worker ran are discarded — the same front, the same
    attempts, and the workers' evaluations counted."""
    X = _table()
    y = 2.0 * X[:, 0] + X[:, 1] ** 2
    one = SymKANRegressor(**TINY).fit(X, y)
    two = SymKANRegressor(n_jobs=2, **TINY).fit(X, y)
    assert len(one.attempts_) == 1 and one.front_[one.best_index_].nmse < 1e-12
    assert _front(two.front_) == _front(one.front_)
    assert [a["pruned_width"] for a in two.attempts_] == [a["pruned_width"] for a in one.attempts_]
    assert two.best_index_ == one.best_index_ and two.fit_evaluations_ == one.fit_evaluations_


def _problems():
    X, Z = _table(100, 1), _table(100, 2)
    return [(X, 2 * X[:, 0] + X[:, 1] ** 2), (Z, Z[:, 0] ** 2 - Z[:, 1])]


@pytest.fixture(scope="module")
def one_by_one():
    """The fronts of ``_problems()`` fitted one after the other, in this process."""
    return [_front(SymKANRegressor(**ONE_RUNG).fit(X, y).front_) for X, y in _problems()]


@pytest.mark.slow
def test_discover_many_maps_the_problems_over_processes(one_by_one):
    models = discover_many(_problems(), n_jobs=2, **ONE_RUNG)
    assert [_front(m.front_) for m in models] == one_by_one
    assert all(isinstance(m, SymKANRegressor) for m in models)


@pytest.mark.slow
def test_discover_many_on_a_dask_local_cluster(one_by_one):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client, joblib.parallel_config(backend="dask"):
        models = discover_many(_problems(), **ONE_RUNG)
        assert len(client.scheduler_info()["workers"]) == 2
    assert [_front(m.front_) for m in models] == one_by_one


def test_discover_many_refuses_what_is_not_a_problem():
    with pytest.raises(ValueError, match="problem 1 must be an"):
        discover_many([(np.ones((3, 1)), np.ones(3)), np.ones(3)], n_jobs=1)


def _without_seconds(report):
    """A --json report without its timings (they differ from run to run)."""
    if isinstance(report, dict):
        return {k: _without_seconds(v) for k, v in report.items() if k != "seconds"}
    return [_without_seconds(v) for v in report] if isinstance(report, list) else report


@pytest.mark.slow
def test_cli_jobs_fits_several_targets_in_parallel(tmp_path, capsys, monkeypatch):
    import symkan.cli.commands as cli

    original = cli.regressor  # the CLI's estimator with one-rung settings (--jobs wiring kept)
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: original(args, **kw).set_params(**ONE_RUNG))
    X = _table(100, 3)
    rows = np.column_stack([X, 2 * X[:, 0] + X[:, 1] ** 2, X[:, 0] - X[:, 1]])
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y1,y2\n" + "\n".join(",".join(str(float(v)) for v in r) for r in rows) + "\n")
    runs = []
    for jobs in ("1", "2"):
        assert main(["fit", str(csv), "--target", "y1", "--target", "y2", "--json", "--jobs", jobs]) == 0
        runs.append(_without_seconds(json.loads(capsys.readouterr().out)))
    assert runs[1] == runs[0]
    assert "y1" in json.dumps(runs[0]) and "y2" in json.dumps(runs[0])


@pytest.mark.parametrize("jobs", ["0", "-2", "two"])
def test_cli_refuses_bad_jobs(tmp_path, capsys, jobs):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", str(tmp_path / "x.csv"), "--target", "y", "--jobs", jobs])
    assert exit_.value.code == 2
    assert "--jobs: must be a whole number of at least 1, or -1" in capsys.readouterr().err


def test_without_the_extra_the_error_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "joblib", None)  # `import joblib` fails, as without symkan[parallel]
    X = _table(20)
    with pytest.raises(ImportError, match=r"pip install symkan\[parallel\]"):
        SymKANRegressor(n_jobs=2).fit(X, X[:, 0])
    with pytest.raises(ImportError, match=r"pip install symkan\[parallel\]"):
        discover_many([(X, X[:, 0])], n_jobs=2)
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n" + "\n".join(f"{a},{b},{a + b}" for a, b in X) + "\n")
    for option in (["--scheduler", "tcp://127.0.0.1:1"], ["--jobs", "2"]):
        assert main(["fit", str(csv), "--target", "y", *option]) == 2
        assert "pip install symkan[parallel]" in capsys.readouterr().err


def test_n_jobs_is_checked():
    with pytest.raises(ValueError, match="n_jobs"):
        SymKANRegressor(n_jobs=0).fit(_table(20), _table(20)[:, 0])


def test_past_the_deadline_the_parent_does_no_more_work_on_a_rung(monkeypatch):
    """A worker's network that still needs the parent (a peel, then a snap) and arrives
    after the deadline is skipped, as the sequential loop skips a rung; a worker's
    finished formulas are kept without the parent's rational fit or split."""
    import time
    from types import SimpleNamespace

    from symkan.discovery import Budget, Rung
    from symkan.discovery import parallel

    def attempt(name):
        return SimpleNamespace(name=name, model=SimpleNamespace(width=[2, 1]), numeric_nmse=0.1,
                               structure_nmse=0.1, seconds=1.0, formulas=[], space="linear")

    first, ready, late = attempt("first"), attempt("ready"), attempt("late")
    outcomes = [parallel.RungOutcome(attempt=first, best=0.5), parallel.RungOutcome(attempt=ready, best=0.4),
                parallel.RungOutcome(attempt=late, pending=True)]

    class Results(list):
        def close(self):
            pass

    fake_joblib = SimpleNamespace(delayed=lambda f: (lambda *a, **k: None),
                                  Parallel=lambda **kw: (lambda tasks: Results(outcomes)))
    monkeypatch.setattr(parallel, "require_joblib", lambda what: fake_joblib)
    worked_on = []
    monkeypatch.setattr(parallel.RungSteps, "formulas", lambda self, a: worked_on.append(a.name) or 1.0)
    monkeypatch.setattr(parallel.RungSteps, "after_snap",
                        lambda self, a, best, split=None: worked_on.append(a.name) or best)
    monkeypatch.setattr(parallel.RungSteps, "stops", lambda self, a, best: False)
    monkeypatch.setattr(parallel, "finish_attempts", lambda attempts, *args: attempts)
    ladder = [Rung("linear", [2, 1]), Rung("linear", [2, 1, 1]), Rung("linear", [2, 2, 1])]
    settings = SimpleNamespace(ladder=ladder, n_jobs=2)
    budget = Budget(1.0, None, start=time.monotonic() - 10.0)  # its deadline passed long ago
    kept = parallel.run_parallel({"linear": None}, settings, None, budget, lambda stage: None, 1.0)
    assert [a.name for a in kept] == ["first", "ready"]  # the late network needing a peel is skipped
    assert worked_on == ["first"]  # the first rung gets the parent's steps; the ready one keeps its formulas
