"""What comes out of a fit: rounded constants, ``y = ...`` equations in text and LaTeX,
JSON and result files, Python / C source, a trainable PyTorch module, JAX callables."""
from __future__ import annotations

import copy
import ctypes
import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import sympy
import torch

from symkan import SymKANRegressor
from symkan.cli import main
from symkan.cli.report import summary, write_outputs
from symkan.symbolic.export import FormulaModule, equation_latex, equation_text, formula_code
from symkan.symbolic.formula import Formula
from symkan.symbolic.precision import (
    LOSS_RTOL,
    MAX_DIGITS,
    check_precision,
    round_floats,
    round_to_digits,
    supported_digits,
)

x, z = sympy.symbols("x z")
FAST = dict(hidden=[1], steps=5, complexity_weights=(1.0,), functions=["x", "x^2", "0"], log_space=False)


def _mse(expr, variables, X, y):
    return float(np.mean((Formula(expr, variables).evaluate(X) - y) ** 2))


def _line_data(noise, n=400, seed=0):
    """y = e·x − γ·z + 0.1234567 + noise on [-1, 1]², and the least-squares formula fitted
    to it (its constants carry every float64 digit)."""
    g = np.random.default_rng(seed)
    X = g.uniform(-1, 1, size=(n, 2))
    y = math.e * X[:, 0] - 0.5772156649015329 * X[:, 1] + 0.1234567 + noise * g.standard_normal(n)
    coef, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(n)]), y, rcond=None)
    expr = sympy.Float(coef[0]) * x + sympy.Float(coef[1]) * z + sympy.Float(coef[2])
    return expr, X, y


def _with_floats(model):
    """Indices of the front's formulas that have float constants."""
    return [k for k, e in enumerate(model.front_) if e.formula.expr.atoms(sympy.Float)]


# --- rounding -------------------------------------------------------------------------------
def test_rounding_touches_only_float_constants():
    expr = sympy.Float(0.123456) * x + sympy.Rational(1, 3) * sympy.pi + 2 * x ** 2 + sympy.Float(-1.5e-7) * z
    out = round_floats(expr, 3)
    assert out.atoms(sympy.Rational) - out.atoms(sympy.Float) == expr.atoms(sympy.Rational) - expr.atoms(sympy.Float)
    assert out.has(sympy.pi) and out.coeff(x, 2) == 2
    assert sorted(map(float, out.atoms(sympy.Float))) == [round_to_digits(-1.5e-7, 3), round_to_digits(0.123456, 3)]
    assert "0.123*x" in str(out) and "1.5e-7" in str(out)
    assert round_floats(expr, None) is expr
    assert round_floats(expr, {0.123456: 2}).coeff(x) == sympy.Float(0.12)  # a mapping: per constant
    assert round_to_digits(123456.0, 2) == 120000.0 and round_to_digits(0.0, 3) == 0.0


@pytest.mark.parametrize("bad", [0, MAX_DIGITS + 1, -3, True, 2.5, "many"])
def test_a_bad_precision_is_refused(bad):
    with pytest.raises(ValueError, match="precision must be an integer from 1 to 15"):
        check_precision(bad)


def test_supported_digits_keep_the_loss_and_grow_as_the_noise_shrinks():
    total = {}
    for noise in (0.3, 1e-3, 1e-7):
        expr, X, y = _line_data(noise)
        digits = supported_digits(expr, (x, z), X, y)
        assert set(digits) == set(map(float, expr.atoms(sympy.Float)))
        base = _mse(expr, (x, z), X, y)
        assert _mse(round_floats(expr, digits), (x, z), X, y) <= base * (1 + LOSS_RTOL)
        coarser = {v: max(1, d - 1) for v, d in digits.items()}
        if coarser != digits:  # a digit fewer on every constant costs more than allowed
            assert _mse(round_floats(expr, coarser), (x, z), X, y) > base * (1 + LOSS_RTOL / len(digits))
        total[noise] = sum(digits.values())
    assert total[0.3] < total[1e-3] < total[1e-7]


def test_an_exact_fit_keeps_digits_down_to_round_off():
    X = np.random.default_rng(1).uniform(-1, 1, size=(100, 1))
    third = sympy.Float(1 / 3)
    expr = sympy.Float(0.1 + 0.2) * x + third  # 0.30000000000000004·x + 0.333...
    digits = supported_digits(expr, (x,), X, 0.3 * X[:, 0] + 1 / 3)
    assert digits[0.1 + 0.2] == 1 and digits[1 / 3] >= 12
    assert str(round_floats(expr, digits)).startswith("0.3*x + 0.33333333333")
    assert supported_digits(2 * x, (x,), X, 2 * X[:, 0]) == {}  # nothing to round
    assert supported_digits(sympy.log(sympy.Float(-1.5) + x), (x,), X, X[:, 0]) == {}  # not finite


# --- equations ------------------------------------------------------------------------------
def test_equations_put_the_target_on_the_left():
    expr = sympy.Float(2.5) * x + z ** 2
    assert equation_text("y", expr) == "y = 2.5*x + z**2"
    assert equation_text("E", expr).startswith("E_ = ")  # the target's safe name, like a column's
    assert equation_latex("y", expr, ["x", "z"], [x, z]) == "y = 2.5 x + z^{2}"
    assert equation_latex("lambda", expr, ["cost $", "z"], [x, z]).startswith(r"\text{lambda} = 2.5 \text{cost \$}")


def test_regressor_prints_complete_equations(fitted):
    model, X, _ = fitted
    assert model.sympy() == model.best_.expr  # no precision: every digit, what predict evaluates
    assert model.equation() == f"y = {model.sympy()}"
    rhs = model.latex(rhs_only=True)
    assert model.latex() == f"y = {rhs}" and rhs == model.best_.formula.latex()
    k = _with_floats(model)[0]  # a simpler formula of the front, with fitted constants
    two = model.sympy(k, precision=2)
    assert all(len(f"{float(f):.15g}".lstrip("-0.").replace(".", "").rstrip("0")) <= 2 for f in two.atoms(sympy.Float))
    assert model.equation(k, precision=2) == f"y = {two}"
    assert model.sympy(k, "auto") == round_floats(model.front_[k].expr, model.front_[k].formula.digits)
    assert model.equation(k) == f"y = {model.sympy(k, 'auto')}"
    with pytest.raises(ValueError, match="precision"):
        model.latex(precision=0)


def test_supported_digits_survive_save_and_load(fitted, tmp_path):
    model, _, _ = fitted
    model.save(tmp_path / "m")
    again = SymKANRegressor.load(tmp_path / "m")
    for k in range(len(model.front_)):
        assert again.front_[k].formula.digits == model.front_[k].formula.digits
        assert again.equation(k) == model.equation(k) and again.latex(k) == model.latex(k)


# --- JSON and files -------------------------------------------------------------------------
def test_summary_and_result_files_hold_the_run(fitted, tmp_path):
    model, _, _ = fitted
    info = summary(model, precision=4)
    assert info["equation"] == model.equation(precision=4) and info["latex"].startswith("y = ")
    assert info["target"] == "y" and info["variables"] == ["x0", "x1"] and info["seed"] == model.seed_
    assert info["version"] and info["precision"] == 4
    assert info["parameters"]["complexity_weights"] == [1.0] and info["parameters"]["functions"] == ["x", "x^2", "0"]
    assert len(info["equations"]) == len(model.front_)
    for k, row in enumerate(info["equations"]):
        assert row["text"] == model.equation(k, 4) and row["latex"] == model.latex(k, precision=4)
        assert {"complexity", "loss", "r2", "equation", "best"} <= set(row)
    files = write_outputs(model, tmp_path, precision=4)
    written = json.loads((tmp_path / "result.json").read_text())
    assert written == json.loads(json.dumps({**info, "files": files}))
    assert (tmp_path / "formula.tex").read_text().strip() == model.latex(units=True, precision=4)
    assert (tmp_path / "formula.txt").read_text().strip() == str(model.sympy())


def test_cli_refuses_a_bad_precision_before_fitting(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,y\n1,2\n2,4\n3,6\n")
    with pytest.raises(SystemExit) as stop:
        main(["fit", str(csv), "--target", "y", "--precision", "0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: argument --precision: must be")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_fit_prints_and_writes_rounded_equations(tmp_path, capsys, monkeypatch):
    import symkan.cli.commands as cli

    regressor = cli.regressor
    monkeypatch.setattr(cli, "regressor", lambda args, **kw: regressor(args, **kw).set_params(**FAST))
    g = np.random.default_rng(0)
    X = g.uniform(0.5, 2.0, size=(60, 2))
    y = 2 * X[:, 0] + X[:, 1] ** 2
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,out\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in np.column_stack([X, y])))
    assert main(["fit", str(csv), "--target", "out", "--out", str(tmp_path / "run"), "--json", "--precision", "3",
                 "--seed", "4"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["equation"].startswith("out = ") and info["target"] == "out" and info["seed"] == 4
    assert info["parameters"]["random_state"] == 4 and info["precision"] == 3
    assert json.loads((tmp_path / "run" / "result.json").read_text())["equations"] == info["equations"]
    assert str(tmp_path / "run" / "result.json") in info["files"]
    assert main(["fit", str(csv), "--target", "out", "--quiet", "--precision", "3"]) == 0
    assert f"best formula:  {info['equation']}" in capsys.readouterr().out


# --- code -----------------------------------------------------------------------------------
def _python_function(source, name="formula"):
    namespace = {}
    exec(compile(source, "<symkan formula>", "exec"), namespace)  # noqa: S102 - code we generated
    return namespace[name]


def test_python_code_reproduces_predict(fitted):
    model, X, _ = fitted
    for k in range(len(model.front_)):
        fn = _python_function(model.code(k))
        got = np.array([fn(*row) for row in X[:50]])
        np.testing.assert_allclose(got, model.front_[k].formula.evaluate(X[:50]), rtol=1e-13, atol=1e-13)
    assert model.code(language="python", name="law").startswith("def law(x0, x1):")


def test_python_code_of_special_functions_and_names():
    expr = sympy.gamma(x) + sympy.Float(1 / 3) * sympy.exp(-z) + sympy.pi
    source = formula_code(expr, (x, z), "python", comment="y = ...")
    assert source.startswith("import math\n") and "# y = ..." in source
    assert _python_function(source)(2.5, 0.5) == pytest.approx(math.gamma(2.5) + math.exp(-0.5) / 3 + math.pi)
    for bad in ("x", "not a name", "def", "", "abs", "int", "sin", "pow", "math"):
        with pytest.raises(ValueError, match="function name"):
            formula_code(expr, (x, z), "python", name=bad)
    with pytest.raises(ValueError, match="language"):
        formula_code(expr, (x, z), "fortran")
    with pytest.raises(ValueError, match="as C code"):
        formula_code(sympy.zeta(x), (x,), "c")


def _compile_c(source, tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc)")
    (tmp_path / "f.c").write_text(source)
    lib = tmp_path / "libf.so"
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-O1", "-shared", "-fPIC", "-o", str(lib),
                    str(tmp_path / "f.c"), "-lm"], check=True, capture_output=True, timeout=60)
    return ctypes.CDLL(str(lib))


def test_c_code_compiles_and_reproduces_predict(fitted, tmp_path):
    model, X, _ = fitted
    source = model.code(language="c")
    assert source.startswith("#include <math.h>") and "double formula(double x0, double x1) {" in source
    fn = _compile_c(source, tmp_path).formula
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double] * 2
    np.testing.assert_allclose([fn(*row) for row in X[:50]], model.predict(X[:50]), rtol=1e-13, atol=1e-13)


def test_c_code_defines_constants_and_avoids_names(tmp_path):
    pw, dbl = sympy.symbols("pow double")  # a column named like a C function or keyword
    expr = sympy.sqrt(2) * pw / sympy.pi + sympy.Float(0.1) * dbl ** 3 + sympy.E
    source = formula_code(expr, (pw, dbl), "c")
    assert "#define M_PI" in source and "double formula(double pow_, double double_) {" in source
    fn = _compile_c(source, tmp_path).formula
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double] * 2
    assert fn(1.5, 2.0) == pytest.approx(math.sqrt(2) * 1.5 / math.pi + 0.8 + math.e, rel=1e-14)


# --- PyTorch and JAX ------------------------------------------------------------------------
def test_pytorch_module_reproduces_predict(fitted):
    model, X, _ = fitted
    for k in range(len(model.front_)):
        module = model.pytorch(k)
        assert isinstance(module, torch.nn.Module)
        out = module(torch.as_tensor(X))
        assert out.shape == (len(X),)
        np.testing.assert_allclose(out.detach().numpy(), model.front_[k].formula.evaluate(X), rtol=1e-12, atol=1e-12)
        assert len(module.constants) == len(model.front_[k].expr.atoms(sympy.Float))
        assert module.expression() == model.front_[k].expr


def test_pytorch_constants_train_on_shifted_data(fitted):
    model, X, y = fitted
    k = _with_floats(model)[0]
    module = model.pytorch(k)
    before = module.constants.detach().clone()
    Xt, target = torch.as_tensor(X), torch.as_tensor(y + 1.0)  # the data moved up by one
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = torch.mean((module(Xt) - target) ** 2)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < first and not torch.allclose(module.constants.detach(), before)
    assert module.expression() != model.front_[k].expr
    clone = copy.deepcopy(module)  # the lambdified function is rebuilt
    torch.testing.assert_close(clone(Xt), module(Xt))


def test_formula_module_of_a_constant_and_of_exact_numbers():
    assert FormulaModule(sympy.Integer(3), (x,))(torch.zeros(4, 1)).tolist() == [3.0] * 4
    module = FormulaModule(sympy.pi * x + sympy.Float(0.5), (x,))
    assert len(module.constants) == 1  # pi stays exact; only the float trains
    torch.testing.assert_close(module(torch.ones(2, 1)), torch.full((2,), math.pi + 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(n, 1\)"):
        module(torch.ones(3, 2))


def test_jax_callable_matches_numpy(fitted):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    model, X, _ = fitted
    formula = model.front_[_with_floats(model)[0]].formula
    fn = jax.jit(formula.to_callable("jax"))
    np.testing.assert_allclose(np.asarray(fn(X)), formula.evaluate(X), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(model.jax()(X)), model.predict(X), rtol=1e-12)


def test_jax_backend_without_jax_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jax", None)  # import jax now fails
    monkeypatch.setitem(sys.modules, "jax.numpy", None)
    with pytest.raises(ImportError, match="pip install jax"):
        Formula(x, (x,)).to_callable("jax")


def test_estimator_jax_without_jax_says_how_to_install(fitted, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jax", None)
    monkeypatch.setitem(sys.modules, "jax.numpy", None)
    with pytest.raises(ImportError, match="pip install jax"):
        fitted[0].jax()
