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


def test_fit_learns_a_simple_formula(fitted):
    model, X, y = fitted
    assert model.score(X, y) > 0.999
    assert model.names_ == ["x0", "x1"]
    assert len(model.equations_) >= 1
    assert model.best_ is model.equations_[model.best_index_]
    assert model.latex() == "2 x_{0} + x_{1}^{2}"
    # the stored network is the snapped one behind the best formula
    assert all(layer.symbolic.fixed[layer.mask > 0].all() for layer in model.model_.layers)


def test_dataframe_column_names_become_variables():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    frame = pd.DataFrame(X, columns=["speed", "mass"])
    model = SymKANRegressor(**FAST).fit(frame, y)
    assert {s.name for s in model.sympy().free_symbols} <= {"speed", "mass"}
    assert model.names_ == ["speed", "mass"]


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


def test_predict_checks_width_and_fit_state(fitted):
    from sklearn.exceptions import NotFittedError

    model, X, _ = fitted
    with pytest.raises(ValueError, match="3 features"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(NotFittedError):
        SymKANRegressor().predict(X)
    with pytest.raises(ValueError, match="index"):
        model.sympy(index=99)


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


def test_custom_function_survives_save_load_in_a_fresh_process(tmp_path):
    from symkan.symbolic.library import register_function

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
        "from symkan.symbolic.library import get_function\n"
        f"m = SymKANRegressor.load({str(path)!r})\n"
        "get_function('softsign_test')\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"assert np.array_equal(m.predict(X), np.load({str(tmp_path / 'pred.npy')!r}))\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_log_space_recovers_a_product_of_powers():
    g = np.random.default_rng(3)
    X = g.uniform(1.0, 5.0, size=(300, 3))
    y = 2.5 * X[:, 0] ** 2 * np.sqrt(X[:, 1]) / X[:, 2]
    model = SymKANRegressor(variable_names=["a", "b", "c"]).fit(X, y)
    from symkan.metrics import is_symbolic_solution

    assert model.network_space_ == "log"
    assert model.attempts_[0]["space"] == "log"
    assert is_symbolic_solution(model.sympy(), "a**2*sqrt(b)/c", names=["a", "b", "c"], positive=True)


def test_log_space_option_is_checked():
    X, y = _data(50)  # inputs of both signs
    with pytest.raises(ValueError, match="log_space=True needs every input > 0"):
        SymKANRegressor(**FAST, log_space=True).fit(X, y)
    with pytest.raises(ValueError, match="log_space must be"):
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
    from symkan.symbolic.library import FUNCTIONS

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


def test_parse_expression_accepts_formulas_and_nothing_else():
    import sympy

    from symkan.persistence import parse_expression

    x = sympy.Symbol("x")
    ok = {"x*exp(-x)": x * sympy.exp(-x), "log(1 + exp(x))": sympy.log(1 + sympy.exp(x)),
          "x/(1 + Abs(x))": x / (1 + sympy.Abs(x)), "-2.5*x^2 + pi": -2.5 * x ** 2 + sympy.pi,
          "sqrt(x)**3 / E": sympy.sqrt(x) ** 3 / sympy.E, "atan2(x, 1) + Max(x, 0)": sympy.atan2(x, 1) + sympy.Max(x, 0)}
    for text, expected in ok.items():
        assert parse_expression(text, {"x": x}) == expected, text
    for text, match in [("y + x", "unknown name 'y'"), ("x.real", "Attribute"), ("f(x)", "call of 'f'"),
                        ("x if x else 1", "IfExp"), ("'x'", "literal"), ("x[0]", "Subscript"),
                        ("sin(x=1)", "positional"), ("x +", "invalid syntax"), ("9**9**9**9", "too large"),
                        ("1e999 * x", "non-finite"), ("x" + "+x" * 1500, "too long"),
                        ("(" * 300 + "x" + ")" * 300, "nested too deeply|invalid syntax")]:
        with pytest.raises(ValueError, match=match):
            parse_expression(text, {"x": x})


def test_stored_formulas_allow_only_sympy_functions(fitted, tmp_path):
    from symkan.persistence import expr_from_data

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
