"""Benchmark data (Feynman list, toy functions) and SRBench's success criteria."""
import math

import numpy as np
import pytest
import sympy
import torch

from symkan.datasets import TOY_EQUATIONS, evaluate, feynman_equations, get_equation, make_dataset, parse_formula
from symkan.datasets.metrics import is_accuracy_solution, is_symbolic_solution, r2_score, round_floats


def test_feynman_list_has_100_equations_with_counted_variables():
    eqs = feynman_equations()
    assert len(eqs) == 100
    # the "# variables" column says 2 for I.18.12 but three variables are listed
    assert get_equation("I.18.12").names == ["r", "F", "theta"]
    assert get_equation("III.10.19").n_variables == 4
    for eq in eqs:
        assert {s.name for s in eq.expr.free_symbols} <= set(eq.names)


def test_variable_names_that_are_sympy_constants_stay_variables():
    expr = get_equation("II.13.17").expr  # uses a variable called I (sympy's imaginary unit)
    assert sympy.Symbol("I", real=True) in expr.free_symbols
    assert not expr.has(sympy.I)


def test_every_formula_parses_without_eval():
    """The 100 Feynman and the toy formulas parse with the eval-free grammar (checked
    against sympy's parse_expr when it was introduced: the same expressions), into
    real expressions of exactly their declared variables."""
    equations = feynman_equations() + list(TOY_EQUATIONS.values())
    assert len(equations) == 100 + len(TOY_EQUATIONS)
    for eq in equations:
        expr = eq.expr
        assert isinstance(expr, sympy.Expr) and {s.name for s in expr.free_symbols} == set(eq.names), eq.name
        assert all(s.is_real for s in expr.free_symbols) and not expr.has(sympy.I), eq.name
    theta, lam, d, n = sympy.symbols("theta lambd d n", real=True)
    assert get_equation("I.6.2a").expr == sympy.exp(-theta ** 2 / 2) / sympy.sqrt(2 * sympy.pi)
    assert get_equation("I.30.5").expr == sympy.asin(lam / (n * d))  # numpy's arcsin spelling
    x, y = sympy.symbols("x y", real=True)
    assert TOY_EQUATIONS["exp_sin"].expr == sympy.exp(sympy.sin(sympy.pi * x) + y ** 2)


def test_formula_text_runs_no_code(tmp_path):
    marker = tmp_path / "pwned.txt"
    for text in (f"__import__('os').system('touch {marker}') + x", "x.__class__", "(lambda: 1)() * x"):
        with pytest.raises(ValueError, match="cannot parse formula"):
            parse_formula(text, ["x"])
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"undeclared variables \['z'\]"):
        parse_formula("x + z", ["x"])


def test_every_feynman_equation_samples_real_finite_values():
    for eq in feynman_equations():
        ds = make_dataset(eq.name, n=50, seed=1)
        assert ds.X.shape == (50, eq.n_variables)
        assert np.all(np.isfinite(ds.y))
        lo = np.array([v[1] for v in eq.variables])
        hi = np.array([v[2] for v in eq.variables])
        assert np.all(ds.X >= lo) and np.all(ds.X <= hi)


def test_dataset_values_match_formula_and_noise_model():
    ds = make_dataset("I.6.2a", n=20000, noise=0.1, seed=3, n_test=10)
    theta = ds.X[:, 0]
    np.testing.assert_allclose(ds.y_clean, np.exp(-theta ** 2 / 2) / np.sqrt(2 * np.pi), rtol=1e-12)
    rms = np.sqrt(np.mean(ds.y_clean ** 2))
    np.testing.assert_allclose(np.std(ds.y - ds.y_clean), 0.1 * rms, rtol=0.03)
    np.testing.assert_allclose(ds.y_test, np.exp(-ds.X_test[:, 0] ** 2 / 2) / np.sqrt(2 * np.pi))


def test_make_dataset_is_seeded_and_leaves_global_rngs_alone():
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    a = make_dataset("exp_sin", n=100, seed=5)
    b = make_dataset("exp_sin", n=100, seed=5)
    c = make_dataset("exp_sin", n=100, seed=6)
    assert np.array_equal(a.X, b.X) and not np.array_equal(a.X, c.X)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])


def test_toy_equations_evaluate():
    for eq in TOY_EQUATIONS.values():
        ds = make_dataset(eq, n=10)
        assert np.all(np.isfinite(ds.y))


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="no-such-eq"), "unknown equation"),
    (dict(name="exp_sin", n=0), "n must be"),
    (dict(name="exp_sin", noise=-1.0), "noise"),
    (dict(name="exp_sin", noise=float("nan")), "noise"),
    (dict(name="exp_sin", n_test=-2), "n_test"),
])
def test_make_dataset_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(**kwargs)


def test_evaluate_rejects_complex_values_and_wrong_width():
    eq = get_equation("sqrt_plus")
    with pytest.raises(ValueError, match="real and finite"):
        evaluate(eq, np.array([[-1.0, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        evaluate(eq, np.zeros((3, 3)))


# --- SRBench criteria -----------------------------------------------------------------

x, y = sympy.symbols("x y", real=True)


@pytest.mark.parametrize("found, true", [
    (x * y + 3.0, x * y),                              # differs by a constant
    (2.5 * x * y, x * y),                              # differs by a factor
    (sympy.Float(3.14159) * x ** 2, sympy.pi * x ** 2),  # constant rounded to 3 decimals
    (sympy.exp(sympy.sin(sympy.pi * x) + y ** 2) * 1.5, sympy.exp(sympy.sin(sympy.pi * x) + y ** 2)),
    ("x/(1+y**2)", "x/(y**2+1)"),
    (x + 0.0001 * y, x),                               # a tiny term vanishes when rounded
])
def test_symbolic_solution_accepts_equivalent_models(found, true):
    assert is_symbolic_solution(found, true, names=["x", "y"])


@pytest.mark.parametrize("found, true", [
    (x * y + x, x * y),
    (sympy.sin(3.0 * x), sympy.sin(sympy.pi * x)),     # 3.0 vs π is not a rounding error
    (sympy.Integer(0), x * y),                         # 0 never counts, although 0/x·y is 0
    (sympy.nan, x),
    (x ** 2 + y, x ** 2 + y ** 2),
    # π inside a nonlinearity must be exact: 3.1416 rounds to 3.142
    (sympy.exp(sympy.sin(3.1416 * x) + y ** 2), sympy.exp(sympy.sin(sympy.pi * x) + y ** 2)),
    # log(x)+log(y) = log(xy) only for positive variables
    (sympy.log(x) + sympy.log(y), sympy.log(x * y)),
])
def test_symbolic_solution_rejects_different_models(found, true):
    assert not is_symbolic_solution(found, true, names=["x", "y"])


def test_symbolic_solution_for_positive_variables():
    assert is_symbolic_solution(sympy.log(x) + sympy.log(y), sympy.log(x * y), positive=True)
    assert is_symbolic_solution("sqrt(x**2*y**2)", "x*y", names=["x", "y"], positive=True)


def test_symbolic_solution_matches_variables_by_name_across_assumptions():
    plain = sympy.Symbol("x")  # no assumptions
    assert is_symbolic_solution(2 * plain, sympy.Symbol("x", positive=True))


def test_round_floats_and_r2():
    assert round_floats(1.23456 * x + 0.0004) == sympy.Float(1.235) * x
    assert r2_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert math.isclose(r2_score([1, 2, 3], [2, 2, 2]), 0.0)
    assert r2_score([1, 2, 3], [np.nan, 2, 3]) == float("-inf")
    assert is_accuracy_solution(0.9995) and not is_accuracy_solution(0.99) and not is_accuracy_solution(float("nan"))
