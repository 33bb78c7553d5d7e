"""SymKANRegressor: scikit-learn conventions, bad input, persistence."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from symkan import SymKANRegressor
from symkan.persistence import FORMAT_VERSION, load_payload, save_payload

#: small settings so estimator checks (dozens of fits) stay fast
FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])


def _data(n=200, seed=0):
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    return X, 2.0 * X[:, 0] + X[:, 1] ** 2


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return SymKANRegressor(**FAST).fit(X, y), X, y


@pytest.mark.slow
def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SymKANRegressor(**FAST), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    # only the array-API check may be skipped (it needs SCIPY_ARRAY_API at interpreter start)
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}


def test_every_parameter_has_a_declarative_constraint():
    """scikit-learn's own check: a constraint per parameter, and a bad type or value of
    any of them is an InvalidParameterError naming it (before any training)."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation("SymKANRegressor", SymKANRegressor(**FAST))


@pytest.mark.slow
def test_params_untouched_clone_and_pipeline(fitted):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    est = SymKANRegressor(lamb=0.5, hidden=[[2, 1]], complexity_weights=(1.0, 2.0))
    assert est.get_params()["hidden"] == [[2, 1]]
    assert clone(est).get_params() == est.get_params()
    X, y = _data()
    pipe = make_pipeline(FunctionTransformer(), SymKANRegressor(**FAST)).fit(X, y)
    assert pipe.score(X, y) > 0.99


@pytest.mark.slow
def test_fit_learns_a_simple_formula(fitted):
    model, X, y = fitted
    assert model.score(X, y) > 0.999
    assert model.names_ == ["x0", "x1"]
    assert len(model.equations_) >= 1
    assert model.best_ is model.equations_[model.best_index_]
    assert model.latex() == "2 x_{0} + x_{1}^{2}"
    # the stored network is the snapped one behind the best formula
    assert all(layer.symbolic.fixed[layer.mask > 0].all() for layer in model.model_.layers)


@pytest.mark.slow
def test_dataframe_column_names_become_variables():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    frame = pd.DataFrame(X, columns=["speed", "mass"])
    model = SymKANRegressor(**FAST).fit(frame, y)
    assert {s.name for s in model.sympy().free_symbols} <= {"speed", "mass"}
    assert model.names_ == ["speed", "mass"]


@pytest.mark.slow
def test_torch_tensors_are_accepted(fitted):
    model, X, y = fitted
    np.testing.assert_allclose(model.predict(torch.as_tensor(X)), model.predict(X))


@pytest.mark.parametrize("X, y, match", [
    (np.array([[np.nan, 1.0]] * 10), np.arange(10.0), "NaN"),
    (np.ones((10, 2)), np.r_[np.inf, np.arange(9.0)], "infinity"),
    (np.ones((1, 2)), np.ones(1), "1 sample"),
    (np.ones((10, 2)), np.ones(11), "inconsistent numbers of samples"),
    (np.random.default_rng(0).normal(size=(10, 2)), np.full(10, 3.0), "y is constant"),
    (np.random.default_rng(0).normal(size=(3, 2)), np.arange(3.0), "at least 5"),
])
def test_bad_input_is_a_clear_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(basis="nope"), "unknown basis"),
    (dict(steps=0), "steps"),
    (dict(lamb=-1.0), "lamb"),
    (dict(functions=["sin", "wiggle"]), "unknown symbolic function"),
    (dict(variable_names=["a"]), "variable_names has 1"),
    (dict(time_budget=0), "time_budget"),
])
def test_bad_parameters_are_reported_at_fit(params, match):
    X, y = _data(20)
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**{**FAST, **params}).fit(X, y)


@pytest.mark.slow
def test_predict_checks_width_and_fit_state(fitted):
    from sklearn.exceptions import NotFittedError

    model, X, _ = fitted
    with pytest.raises(ValueError, match="3 features"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(NotFittedError):
        SymKANRegressor().predict(X)
    with pytest.raises(ValueError, match="index"):
        model.sympy(index=99)


@pytest.mark.slow
def test_save_load_gives_identical_predictions(fitted, tmp_path):
    model, X, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    again = SymKANRegressor.load(path)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.sympy() == model.sympy()
    assert again.get_params() == model.get_params()
    assert [str(e.expr) for e in again.equations_] == [str(e.expr) for e in model.equations_]
    with torch.no_grad():
        xs = torch.as_tensor(model.plot_sample_, dtype=next(model.model_.parameters()).dtype)
        assert torch.equal(again.model_(xs), model.model_(xs))
    # no stray temporary files next to the model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skan"]


@pytest.mark.slow
def test_truncated_and_foreign_files_fail_clearly(fitted, tmp_path):
    model, _, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.skan").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not a symkan model"):
        SymKANRegressor.load(tmp_path / "cut.skan")
    (tmp_path / "text.skan").write_text("hello")
    with pytest.raises(ValueError, match="truncated or not a symkan model"):
        SymKANRegressor.load(tmp_path / "text.skan")
    with pytest.raises(ValueError, match="does not exist"):
        SymKANRegressor.load(tmp_path / "missing.skan")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a symkan model"):
        SymKANRegressor.load(tmp_path / "other.pt")


def test_newer_format_version_is_refused(tmp_path):
    path = save_payload(tmp_path / "m", {"x": 1})
    assert load_payload(path)["x"] == 1
    data = torch.load(path, weights_only=True)
    data["format_version"] = FORMAT_VERSION + 1
    torch.save(data, path)
    with pytest.raises(ValueError, match="newer symkan"):
        load_payload(path)


@pytest.mark.slow
def test_custom_function_survives_save_load_in_a_fresh_process(tmp_path):
    from symkan.functions.library import register_function

    register_function("softsign_test", "x/(1 + Abs(x))", complexity=3)
    g = np.random.default_rng(1)
    X = g.uniform(-3, 3, size=(300, 1))
    y = X[:, 0] / (1 + np.abs(X[:, 0]))
    model = SymKANRegressor(hidden=[1], steps=20, complexity_weights=(1.0,),
                            functions=["softsign_test", "x", "0"]).fit(X, y)
    path = tmp_path / "custom.skan"
    model.save(path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "pred.npy", model.predict(X))
    script = (
        "import numpy as np, sys\n"
        "from symkan import SymKANRegressor\n"
        "from symkan.functions.library import get_function\n"
        f"m = SymKANRegressor.load({str(path)!r})\n"
        "get_function('softsign_test')\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"assert np.array_equal(m.predict(X), np.load({str(tmp_path / 'pred.npy')!r}))\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


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


def test_log_space_option_is_checked():
    X, y = _data(50)  # inputs of both signs
    with pytest.raises(ValueError, match="log_space=True needs every input > 0"):
        SymKANRegressor(**FAST, log_space=True).fit(X, y)
    with pytest.raises(ValueError, match="'log_space' parameter of SymKANRegressor must be"):
        SymKANRegressor(**FAST, log_space="sometimes").fit(X, y)


# --- model files cannot run code ---------------------------------------------------------
def _tampered(model, tmp_path, **changes):
    """A copy of ``model``'s file with payload entries replaced."""
    path = tmp_path / "model.skan"
    model.save(path)
    data = torch.load(path, weights_only=True)
    data.update(changes)
    bad = tmp_path / "tampered.skan"
    torch.save(data, bad)
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("source", [
    "__import__('os').system('echo PWNED > {marker}') or x",
    "x + __import__('os').system('echo PWNED > {marker}')",
    "(lambda: __import__('os').system('echo PWNED > {marker}'))() * x",
    "x.__class__.__mro__[1].__subclasses__()",
    "exec('open(\"{marker}\", \"w\")') or x",
    "sin.__globals__",
])
def test_a_malicious_custom_function_in_a_model_file_is_refused_and_runs_nothing(fitted, tmp_path, source):
    model, X, _ = fitted
    marker = tmp_path / "pwned.txt"
    evil = {"evil": {"sympy": source.format(marker=marker), "complexity": 3, "domain": [-1e9, 1e9], "poles": []}}
    bad = _tampered(model, tmp_path, custom_functions=evil)
    from symkan.functions.library import FUNCTIONS

    with pytest.raises(ValueError, match="refusing to load.*custom function 'evil'"):
        SymKANRegressor.load(bad)
    assert not marker.exists()
    assert "evil" not in FUNCTIONS
    # and through the command line: one line, exit code 2, nothing run
    from symkan.cli import main

    csv = tmp_path / "in.csv"
    np.savetxt(csv, X[:3], delimiter=",", header="x0,x1", comments="")
    assert main(["predict", str(bad), str(csv), "--quiet"]) == 2
    assert not marker.exists()


@pytest.mark.slow
def test_stored_formulas_allow_only_sympy_functions(fitted, tmp_path):
    from symkan.functions.expression_data import expr_from_data

    assert expr_from_data(["f", "sin", ["S", "a"]], ["a"]) == __import__("sympy").sin(__import__("sympy").Symbol("a"))
    for data, match in [(["f", "Function", ["S", "a"]], "unsupported operation"),
                        (["f", "Lambda", ["S", "a"], ["S", "a"]], "unsupported operation"),
                        (["f", "Pow", ["I", "10"], ["I", "100000"]], "too large"),
                        (["S", "b"], "unknown variable")]:
        with pytest.raises(ValueError, match=match):
            expr_from_data(data, ["a"])
    model, _, _ = fitted
    bad = _tampered(model, tmp_path, equations=[{"complexity": 1, "loss": 0.0, "nmse": 0.0,
                                                 "expr": ["f", "Function", ["S", "x0"]]}])
    with pytest.raises(ValueError, match="corrupt or incompatible symkan model file"):
        SymKANRegressor.load(bad)


# --- files: crashes, modes, corrupt content ---------------------------------------------
@pytest.mark.slow
def test_a_crash_during_save_keeps_the_previous_file_and_leaves_no_temp_files(fitted, tmp_path, monkeypatch):
    import symkan.persistence as persistence

    model, X, _ = fitted
    path = tmp_path / "model.skan"
    model.save(path)
    before = path.read_bytes()
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like open(), not mkstemp's 0600

    def torn_write(data, fh):
        fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence.torch, "save", torn_write)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skan"]
    np.testing.assert_array_equal(SymKANRegressor.load(path).predict(X), model.predict(X))


@pytest.mark.slow
def test_corrupt_files_and_bad_versions_are_reported_as_such(fitted, tmp_path):
    model, _, _ = fitted
    data = None
    for change, match in [(dict(drop="names"), "corrupt or incompatible symkan model file .*'names'"),
                          (dict(drop="format_version"), "corrupt or incompatible.*format version is missing"),
                          (dict(format_version="1"), "corrupt or incompatible.*format version is '1'"),
                          (dict(model_dtype="load"), "corrupt or incompatible.*dtype"),
                          (dict(n_features_in=5), "corrupt or incompatible")]:
        path = tmp_path / "model.skan"
        model.save(path)
        data = torch.load(path, weights_only=True)
        if "drop" in change:
            del data[change["drop"]]
        else:
            data.update(change)
        torch.save(data, path)
        with pytest.raises(ValueError, match=match) as info:
            SymKANRegressor.load(path)
        assert "newer" not in str(info.value)


def test_python_objects_in_a_file_are_refused_without_weights_only_advice(tmp_path):
    import fractions

    torch.save({"magic": "symkan-model", "x": fractions.Fraction(1, 3)}, tmp_path / "obj.skan")
    with pytest.raises(ValueError, match="Python objects other than plain data") as info:
        SymKANRegressor.load(tmp_path / "obj.skan")
    assert "weights_only" not in str(info.value)


@pytest.mark.slow
def test_a_session_function_with_another_definition_is_a_clear_error(tmp_path):
    from symkan.functions.library import FUNCTIONS, register_function

    X, y = _data(60)
    try:
        register_function("bump_test", "exp(-x**2)*x", complexity=3)
        model = SymKANRegressor(**FAST).fit(X, y)
        model.save(tmp_path / "m.skan")
        SymKANRegressor.load(tmp_path / "m.skan")  # the same definition: fine
        register_function("bump_test", "exp(-x**2)", complexity=3)  # redefined in this session
        with pytest.raises(ValueError, match="refusing to load.*'bump_test'.*in this session it is defined as"):
            SymKANRegressor.load(tmp_path / "m.skan")
        assert FUNCTIONS["bump_test"].source == "exp(-x**2)"  # the session's stays
    finally:
        FUNCTIONS.pop("bump_test", None)


# --- input problems ---------------------------------------------------------------------
@pytest.mark.slow
def test_constant_inputs_are_an_error_when_all_and_a_warning_when_some(caplog):
    X, y = _data(60)
    with pytest.raises(ValueError, match=r"every input column is constant \(x0 = 1, x1 = 2.5\)"):
        SymKANRegressor(**FAST).fit(np.column_stack([np.ones(60), np.full(60, 2.5)]), y)
    with pytest.raises(ValueError, match=r"the input column is constant \(x0 = 1\)"):
        SymKANRegressor(**FAST).fit(np.ones((60, 1)), y)
    X[:, 1] = 4.0
    with caplog.at_level("WARNING", logger="symkan"):
        model = SymKANRegressor(**FAST).fit(X, 2 * X[:, 0])
    assert "input column(s) x1 are constant" in caplog.text
    assert model.score(X, 2 * X[:, 0]) > 0.99


@pytest.mark.parametrize("scale, match", [(1e300, r"column 'x1' has values up to 1e\+300"),
                                          (1e-300, r"column 'x1' has values of at most 1e-300")])
def test_extreme_magnitudes_are_rejected_naming_the_column(scale, match):
    X, y = _data(60)
    X[:, 1] = np.abs(X[:, 1]) * scale
    X[0, 1] = scale
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**FAST).fit(X, y)


def test_non_numeric_columns_are_named():
    pd = pytest.importorskip("pandas")
    X, y = _data(20)
    frame = pd.DataFrame({"speed": X[:, 0], "colour": ["red"] + ["1.0"] * 19})
    with pytest.raises(ValueError, match=r"column 'colour' is not numeric \(row 0 has 'red'\)"):
        SymKANRegressor(**FAST).fit(frame, y)
    arr = np.array([["1.5", "2"], ["3", "n/a"]] * 10, dtype=object)
    with pytest.raises(ValueError, match="column 'x1' is not numeric"):
        SymKANRegressor(**FAST).fit(arr, y)
    with pytest.raises(ValueError, match="column 'b' is not numeric"):
        SymKANRegressor(**FAST, variable_names=["a", "b"]).fit(arr, y)


def test_messages_show_plain_numbers():
    X, _ = _data(20)
    with pytest.raises(ValueError) as info:
        SymKANRegressor(**FAST).fit(X, np.full(20, 3.0))
    assert "every value is 3)" in str(info.value) and "np." not in str(info.value)
    with pytest.raises(ValueError) as info:
        SymKANRegressor(**{**FAST, "steps": np.int64(0)}).fit(X, X[:, 0])
    assert "Got 0 instead" in str(info.value) and "np." not in str(info.value)


@pytest.mark.parametrize("params, match", [
    (dict(complexity_weights=None), "'complexity_weights' parameter of SymKANRegressor must be"),
    (dict(complexity_weights=1.0), "'complexity_weights' parameter of SymKANRegressor must be"),
    (dict(complexity_weights=()), "'complexity_weights' parameter .* must be a non-empty list"),
    (dict(complexity_weights=(1.0, float("nan"))), "'complexity_weights' parameter .* must be a non-empty list"),
    (dict(random_state=-1), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state=True), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state=1.5), "'random_state' parameter of SymKANRegressor must be"),
    (dict(random_state="seed"), "'random_state' parameter of SymKANRegressor must be"),
    (dict(target_name=""), "target_name"),
    (dict(steps=True), "'steps' parameter of SymKANRegressor must be an int"),
])
def test_more_bad_parameters(params, match):
    X, y = _data(20)
    with pytest.raises(ValueError, match=match):
        SymKANRegressor(**{**FAST, **params}).fit(X, y)


@pytest.mark.slow
def test_sympy_index_must_be_an_integer(fitted):
    model, _, _ = fitted
    for bad in (True, False, 0.0, "0"):
        with pytest.raises(ValueError, match="index must be an integer"):
            model.sympy(index=bad)
    assert model.sympy(index=0) == model.equations_[0].expr


@pytest.mark.slow
def test_random_state_conventions():
    X, y = _data(60)
    a = SymKANRegressor(**FAST, random_state=7).fit(X, y)
    b = SymKANRegressor(**FAST, random_state=7).fit(X, y)
    assert a.seed_ == b.seed_ == 7 and str(a.sympy()) == str(b.sympy())
    assert [e.loss for e in a.equations_] == [e.loss for e in b.equations_]
    fresh = [SymKANRegressor(**FAST, random_state=None).fit(X, y).seed_ for _ in range(2)]
    assert fresh[0] != fresh[1]  # fresh entropy on every fit
    for make in (lambda: np.random.RandomState(3), lambda: np.random.default_rng(3)):
        s1 = SymKANRegressor(**FAST, random_state=make()).fit(X, y).seed_
        s2 = SymKANRegressor(**FAST, random_state=make()).fit(X, y).seed_
        assert s1 == s2  # a seed drawn from the given generator
        est = SymKANRegressor(**FAST, random_state=make())
        assert est.fit(X, y).seed_ != est.fit(X, y).seed_  # the generator advances, as in scikit-learn


# --- time budget and progress -----------------------------------------------------------
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


@pytest.mark.slow
def test_progress_bar_reaches_its_end(capsys):
    X, y = _data(60)
    SymKANRegressor(**FAST, progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert "symkan: done" in err
    done = [line for line in err.replace("\r", "\n").splitlines() if "symkan: done" in line][-1]
    import re

    n, total = map(int, re.search(r"(\d+)/(\d+)", done).groups())
    assert n == total >= 2
    SymKANRegressor(**FAST).fit(X, y)
    assert capsys.readouterr().err == ""  # no bar unless asked


# --- Pareto front on hand-made entries --------------------------------------------------
def _entry(complexity, nmse, name="f"):
    from symkan.pareto import ParetoEntry

    class F:
        expr = name

    return ParetoEntry(complexity, loss=nmse * 2.0, nmse=nmse, formula=F())


def test_pareto_front_keeps_only_formulas_better_than_every_simpler_one():
    from symkan.pareto import ParetoFront

    entries = [_entry(5, 0.1, "a"), _entry(3, 0.2, "b"), _entry(3, 0.15, "c"), _entry(7, 0.15, "d"),
               _entry(9, 0.01, "e"), _entry(2, float("nan"), "nan"), _entry(4, float("inf"), "inf"),
               _entry(11, 0.01, "f")]
    front = ParetoFront(entries)
    assert [(e.complexity, e.formula.expr) for e in front] == [(3, "c"), (5, "a"), (9, "e")]
    assert [row["best"] for row in front.rows()] == [False, False, True]
    assert front.to_csv().splitlines()[0] == "complexity,loss,r2,equation,best"
    assert len(ParetoFront()) == 0 and repr(ParetoFront()) == "ParetoFront(empty)"
    with pytest.raises(ValueError, match="empty"):
        ParetoFront().best_index()
    # a front read back from a file is kept as given, in its order
    again = ParetoFront.from_ordered(list(front))
    assert [e.formula.expr for e in again] == ["c", "a", "e"] and again.best_index() == front.best_index()


@pytest.mark.parametrize("nmses, best", [
    ([0.2, 0.1, 0.01], 2),              # only the most complex is near the lowest
    ([0.2, 0.014, 0.01], 1),            # within 1.5x of the lowest: the simpler one
    ([0.2, 0.016, 0.01], 2),            # just outside 1.5x
    ([1e-3, 5e-10, 1e-12], 1),          # noise-free: within 1e-9 of the lowest counts as exact
    ([3e-9, 2e-9, 1e-15], 2),           # 2e-9 is more than 1e-9 above the lowest
    ([3e-9, 0.9e-9, 1e-15], 1),
])
def test_best_index_rule(nmses, best):
    from symkan.pareto import ParetoFront

    front = ParetoFront([_entry(c, v) for c, v in zip((3, 5, 9), nmses)])
    assert len(front) == 3 and front.best_index() == best


# --- diagrams of log-space networks -----------------------------------------------------
@pytest.mark.slow
def test_log_space_plot_labels_log_inputs_and_output(tmp_path):
    from matplotlib.text import Text

    g = np.random.default_rng(2)
    X = g.uniform(1.0, 3.0, size=(80, 2))
    y = X[:, 0] ** 2 * X[:, 1]
    model = SymKANRegressor(**FAST, log_space=True, variable_names=["L", "g"], target_name="T").fit(X, y)
    assert model.network_space_ == "log"
    texts = {t.get_text() for t in model.plot().findobj(Text)}
    assert {"log(L)", "log(g)", "log(T)"} <= texts
    assert any("T = exp(output)" in t for t in texts)
    # the space transform is part of the model file: a loaded model draws the same labels
    path = tmp_path / "log.skan"
    model.save(path)
    again = SymKANRegressor.load(path)
    assert again.space_.name == "log" and again.output_sign_ == model.output_sign_ == 1.0
    np.testing.assert_array_equal(again.input_scale_, model.space_.input_scale)
    assert {"log(L)", "log(g)", "log(T)"} <= {t.get_text() for t in again.plot(X[:10]).findobj(Text)}
    with pytest.raises(ValueError, match="positive inputs"):
        again.plot(-X)
    linear = SymKANRegressor(**FAST, log_space=False).fit(X, y)
    texts = {t.get_text() for t in linear.plot().findobj(Text)}
    assert {"x0", "x1", "y"} <= texts and not any("log(" in t for t in texts)
