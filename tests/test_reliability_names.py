"""Issue 18, names: any column name gives a formula whose text, LaTeX, stored form and
generated code mean the same function (the policy of symkan.symbolic.names)."""
import keyword
import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symkan.nn import KAN
from symkan.pareto import ParetoEntry, ParetoFront
from symkan.symbolic import fix, model_formula
from symkan.symbolic.formula import Formula
from symkan.symbolic.names import is_safe_name, latex_label, rename_note, reserved_names, safe_names, variable_symbols

#: every bad name of the issue, as pairs of columns (the formula is 2·first + second²)
BAD_PAIRS = [["E", "pi"], ["a", "1"], ["Q", "oo"], ["x-1", "2x"], ["a,b", "c d"], ["I", "S"],
             ["lambda", "x y"], ["cost $x_$", "E_"], ["N", "O"], ["zoo", "nan"], ["beta", "gamma"],
             ["zeta", "exp"], ["e", "numpy"], ["x_1", "x-1"]]
FAST = dict(hidden=[1], steps=5, complexity_weights=(1.0,), functions=["x", "x^2", "0"], log_space=False)


def _r2(pred, y) -> float:
    pred = np.broadcast_to(np.asarray(pred, dtype=np.float64), y.shape)
    return float(1 - np.mean((pred - y) ** 2) / np.var(y))


def _parsed_back_r2(text: str, symbols, X, y) -> float:
    """R² on (X, y) of the formula text read back by sympy.sympify, its variables being
    the given symbols (by name)."""
    expr = sympy.sympify(text)
    assert expr.free_symbols <= set(symbols), (text, expr.free_symbols)
    return _r2(sympy.lambdify(list(symbols), expr, "numpy")(*X.T), y)


def _data(n=60, seed=0):
    X = np.random.default_rng(seed).uniform(0.5, 2.0, size=(n, 2))
    return X, 2 * X[:, 0] + X[:, 1] ** 2


def _snapped_net():
    """A KAN [2, 1] snapped by hand to 2·x₀ + x₁² (no training)."""
    m = KAN([2, 1], seed=0)
    fix(m, 0, 0, 0, "x", params=(1.0, 0.0, 2.0, 0.0))
    fix(m, 0, 1, 0, "x^2", params=(1.0, 0.0, 1.0, 0.0))
    return m


# --- the policy --------------------------------------------------------------------------
def test_reserved_names_come_from_the_namespaces_not_a_short_list():
    reserved = reserved_names()
    for name in ("E", "I", "S", "N", "O", "Q", "pi", "oo", "zoo", "nan", "lambda", "beta", "gamma", "zeta",
                 "exp", "sin", "e", "inf", "numpy", "torch", "abs", "max", "True", "None"):
        assert name in reserved, name
    assert set(keyword.kwlist) <= reserved and set(sympy.__all__) <= reserved
    for name in ("x", "t", "alpha", "theta", "mass", "x0", "T1", "λ", "température"):
        assert name not in reserved and is_safe_name(name), name


def test_safe_names_of_the_issues_columns():
    names = ["E", "pi", "a", "1", "Q", "oo", "x-1", "2x", "a,b", "c d", "I", "S", "lambda", "x y", "cost $x_$"]
    assert safe_names(names) == ["E_", "pi_", "a", "x_1", "Q_", "oo_", "x_1_", "x_2x", "a_b", "c_d", "I_", "S_",
                                 "lambda_", "x_y", "cost_x__"]
    # a safe name is kept and wins over a renamed one; collisions get more underscores
    assert safe_names(["E", "E_"]) == ["E__", "E_"]
    assert safe_names(["x_1", "x-1", "x 1"]) == ["x_1", "x_1_", "x_1__"]
    with pytest.raises(ValueError, match="distinct and non-empty"):
        safe_names(["a", "a"])
    with pytest.raises(ValueError, match="distinct and non-empty"):
        safe_names(["a", " "])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8).filter(str.strip), min_size=1, max_size=6, unique=True))
def test_safe_names_are_distinct_symbols_that_parse_back(names):
    safe = safe_names(names)
    assert safe == safe_names(list(names))  # depends on the names only
    assert len(set(safe)) == len(safe)
    for name, s in zip(names, safe):
        assert is_safe_name(s)
        assert s == name or not is_safe_name(name)  # safe names are kept as they are
        parsed = sympy.sympify(s)
        assert isinstance(parsed, sympy.Symbol) and parsed.name == s
    assert all(repr(name) in rename_note({s: name}) for name, s in zip(names, safe))  # repr: control characters shown


@pytest.mark.parametrize("names", BAD_PAIRS)
def test_printed_formula_parses_back_to_the_same_function(names):
    """The issue's case: columns E, pi printed as 2*E + pi**2 scored R² = −3.93 when read
    back. Every printed form now reads back to the model's function."""
    X, y = _data()
    f = model_formula(_snapped_net(), names=names)
    assert f.names == names and [v.name for v in f.variables] == safe_names(names)
    assert _r2(f.evaluate(X), y) == pytest.approx(1.0, abs=1e-12)
    for text in (str(f), str(f.sympy()), f.expr.__str__()):
        assert _parsed_back_r2(text, f.variables, X, y) == pytest.approx(1.0, abs=1e-12)
    # generated code (both backends) computes the same values
    np.testing.assert_allclose(f.to_callable("numpy")(X), y, rtol=1e-12)
    np.testing.assert_allclose(f.to_callable("torch")(torch.as_tensor(X)).numpy(), y, rtol=1e-12)


def test_the_issues_failure_is_what_the_old_printing_gave():
    """Guard of the test above: symbols named E and pi print text that sympify reads as
    Euler's number and π (R² far from 1); the safe names do not."""
    X, y = _data()
    E, pi = sympy.symbols("E pi")
    assert _parsed_back_r2(str(2 * E + pi ** 2), [E, pi], X, y) < 0  # a constant: 2e + π²
    f = model_formula(_snapped_net(), names=["E", "pi"])
    assert str(f) == "2*E_ + pi_**2"


def test_stored_formula_round_trips_through_its_data():
    from symkan.functions.expression_data import expr_from_data, expr_to_data

    for names in BAD_PAIRS:
        f = model_formula(_snapped_net(), names=names)
        safe = [v.name for v in f.variables]
        assert expr_from_data(expr_to_data(f.expr), safe) == f.expr


# --- LaTeX -------------------------------------------------------------------------------
@pytest.mark.parametrize("names, shows, never", [
    (["E", "pi"], ["2 E", r"\text{pi}^{2}"], [r"\pi", " e"]),
    (["lambda", "beta"], [r"\text{lambda}", r"\text{beta}^{2}"], [r"\lambda", r"\beta"]),
    (["x-1", "2x"], [r"\text{x-1}", r"\text{2x}^{2}"], []),
    (["cost $x_$", "c d"], [r"\text{cost \$x\_\$}", r"\text{c d}^{2}"], []),
    (["a", "1"], ["2 a", "x_{1}^{2}"], []),  # a number-like name shows its safe name
    (["I", "e"], ["2 I", r"\text{e}^{2}"], []),
])
def test_latex_shows_the_users_names(names, shows, never):
    tex = model_formula(_snapped_net(), names=names).latex()
    for part in shows:
        assert part in tex, (part, tex)
    for part in never:
        assert part not in tex, (part, tex)


def test_latex_label_rules():
    assert latex_label("E") == "E" and latex_label("Q") == "Q"
    assert latex_label("e") == r"\text{e}" and latex_label("i") == r"\text{i}"  # Euler's e, imaginary i
    assert latex_label("pi") == r"\text{pi}"
    assert latex_label("a&b%#{}~^\\") == r"\text{a\&b\%\#\{\}\textasciitilde{}\textasciicircum{}\textbackslash{}}"
    assert latex_label("1") is None and latex_label("2.5") is None


# --- the front, formulas made from formulas ----------------------------------------------
def test_front_prints_the_mapping_once():
    X, y = _data()
    f = model_formula(_snapped_net(), names=["E", "x y"], X=X, y=y)
    assert f.renamed == {"E_": "E", "x_y": "x y"}
    entries = [ParetoEntry(f.complexity, 0.0, 0.0, f), ParetoEntry(f.complexity + 1, -1.0, 0.0, f)]
    front = ParetoFront(entries)
    text = repr(front)
    assert text.count("variables renamed in formulas: E_ = 'E', x_y = 'x y'") == 1
    assert "variables renamed" not in front.table()
    assert front.rows()[0]["equation"] == str(f.expr)
    assert "variables renamed" not in repr(ParetoFront([ParetoEntry(1, 0.0, 0.0, model_formula(_snapped_net()))]))


def test_term_dropping_keeps_the_users_names():
    from symkan.symbolic.candidates import prune_terms

    X, y = _data()
    f = model_formula(_snapped_net(), names=["E", "pi"], X=X, y=y)
    for g in prune_terms(f, X, y):
        assert g.names == ["E", "pi"] and g.variables == f.variables


def test_code_export_with_names_that_shadow_backend_functions():
    """lambdify puts its arguments into the generated code's namespace by name: a
    Symbol "exp" replaced the function exp. Formulas built on such symbols by hand
    still evaluate correctly."""
    u, v = sympy.Symbol("exp"), sympy.Symbol("e")
    f = Formula(sympy.exp(u) + sympy.E * v, [u, v])
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    want = np.exp(X[:, 0]) + math.e * X[:, 1]
    np.testing.assert_allclose(f.evaluate(X), want, rtol=1e-12)
    np.testing.assert_allclose(f.to_callable("torch")(X).numpy(), want, rtol=1e-12)
    assert [s.name for s in variable_symbols(["exp", "e"])] == ["exp_", "e_"]


# --- the estimator -----------------------------------------------------------------------
def test_bad_names_are_refused_before_fitting(monkeypatch):
    from symkan import SymKANRegressor, regressor

    def no_search(*a, **k):
        raise AssertionError("the search ran")

    monkeypatch.setattr(regressor, "discover", no_search)
    X, y = _data()
    for names in (["a", "a"], ["a", " "]):
        with pytest.raises(ValueError, match="distinct and non-empty"):
            SymKANRegressor(variable_names=names).fit(X, y)


@pytest.mark.slow
def test_fitted_model_with_E_and_pi_prints_parseable_formulas(tmp_path):
    from symkan import SymKANRegressor
    from symkan.functions.expression_data import expr_to_data
    from symkan.persistence import load_payload, save_payload

    X, y = _data()
    m = SymKANRegressor(**FAST, variable_names=["E", "pi"]).fit(X, y)
    assert m.names_ == ["E", "pi"] and [s.name for s in m.symbols_] == ["E_", "pi_"]
    assert _parsed_back_r2(str(m.sympy()), m.symbols_, X, y) == pytest.approx(m.score(X, y), abs=1e-9)
    for k in range(len(m.front_)):
        assert _parsed_back_r2(str(m.sympy(k)), m.symbols_, X, y) == pytest.approx(
            _r2(m.front_[k].formula.evaluate(X), y), abs=1e-9)
    assert m.score(X, y) > 0.999 and "E" in m.latex() and r"\pi" not in m.latex()
    assert "variables renamed in formulas: E_ = 'E', pi_ = 'pi'" in repr(m.front_)

    m.save(tmp_path / "model")
    again = SymKANRegressor.load(tmp_path / "model")
    assert again.sympy() == m.sympy() and again.latex() == m.latex() and again.symbols_ == m.symbols_
    np.testing.assert_array_equal(again.predict(X), m.predict(X))

    # a file written before the symbols were stored holds formulas in the column names
    data = load_payload(tmp_path / "model")
    del data["symbols"]
    old = {s: sympy.Symbol(n) for s, n in zip(m.symbols_, m.names_)}
    for row, entry in zip(data["equations"], m.front_):
        row["expr"] = expr_to_data(entry.formula.expr.xreplace(old))
    save_payload(tmp_path / "old", data)
    old_model = SymKANRegressor.load(tmp_path / "old")
    assert old_model.sympy() == m.sympy() and old_model.latex() == m.latex()
    np.testing.assert_allclose(old_model.predict(X), m.predict(X), rtol=1e-12)
