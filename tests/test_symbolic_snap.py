"""fix / unfix / suggest / auto_snap / model_formula on hand-made and small networks:
composition, transforms, product nodes, constant snapping, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

from symkan.functions.library import register_function
from symkan.nn import KAN
from symkan.symbolic import auto_snap, fix, model_formula, suggest, unfix
from symkan.symbolic.formula import Formula, expression_complexity

from snap_networks import _symbolic_net, _x


# --- composition -------------------------------------------------------------------------
def test_formula_of_handmade_network_with_product_of_three():
    """x·y·z through a product node of arity 3, plus a sum node and biases."""
    m = _symbolic_net([3, [1, [3]], 1], {
        (0, 0, 1): ("x", (1, 0, 2.0, 0)), (0, 1, 2): ("x", (1, 0, 1.0, 0)), (0, 2, 3): ("x", (1, 0, 0.5, 0)),
        (0, 0, 0): ("sin", (math.pi, 0, 1.0, 0)),
        (1, 0, 0): ("x", (1, 0, 1.0, 0)), (1, 1, 0): ("x", (1, 0, 1.0, 0)),
    }, biases={(1, 0): 0.25})
    X = _x(200, 3)
    y = m(X).detach()
    f = model_formula(m, names=["x", "y", "z"], X=X, y=y)
    x, yy, z = sympy.symbols("x y z")
    assert sympy.simplify(f.expr - (x * yy * z + sympy.sin(sympy.pi * x) + sympy.Rational(1, 4))) == 0
    assert f.loss < 1e-10  # y came from the float32 network
    assert np.allclose(f.evaluate(X.double().numpy()), y[:, 0].double().numpy(), atol=1e-5)


def test_formula_transforms_put_constants_in_user_units():
    """The network saw (x − 3)/2 and predicts (y − 1)/4; the formula is in x, y units."""
    m = _symbolic_net([1, 1], {(0, 0, 0): ("x^2", (1, 1.5, 0.5, 0))}, biases={(0, 0): -0.25})
    xs = 5.0 * torch.rand(300, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y_user = 1.0 + 4.0 * m.double()((xs - 3.0) / 2.0).detach()[:, 0]
    f = model_formula(m, names=["x"], input_transform=(3.0, 2.0), output_transform=(1.0, 4.0), X=xs, y=y_user)
    x = sympy.Symbol("x")
    # 4·(0.5·((x−3)/2 + 1.5)² − 0.25) + 1 = x²/2
    assert sympy.simplify(f.expr - x ** 2 / 2) == 0
    assert f.constants == ()


def test_formula_without_data_snaps_only_exact_constants():
    m = _symbolic_net([2, 1], {(0, 0, 0): ("sin", (math.pi, 0, 2.0, 0)), (0, 1, 0): ("x", (1, 0, 0.3001, 0))})
    f = model_formula(m, names=["a", "b"])
    a, b = sympy.symbols("a b")
    assert f.expr.has(sympy.pi) and f.loss is None
    assert any(abs(c - 0.3001) < 1e-6 for c in f.constants)  # not snapped without data
    assert np.allclose(f.evaluate(np.array([[0.5, 1.0]])), 2 + 0.3001, atol=1e-6)


def test_formula_api():
    m = _symbolic_net([2, [0, 1]], {(0, 0, 0): ("exp", (1, 0, 1, 0)), (0, 1, 1): ("x", (1, 0, 1, 0))})
    X = _x(100, 2)
    f = model_formula(m, names=["u", "v"], X=X, y=m(X).detach())
    u, v = sympy.symbols("u v")
    assert sympy.simplify(f.sympy() - v * sympy.exp(u)) == 0
    assert "e^{u}" in f.latex()
    assert str(f) == str(f.expr)
    assert f.complexity == expression_complexity(f.expr) == 4  # Mul, v, exp, u
    Xn = X.double().numpy()
    ref = Xn[:, 1] * np.exp(Xn[:, 0])
    assert np.allclose(f.to_callable("numpy")(Xn), ref)
    out = f.to_callable("torch")(X.double())
    assert isinstance(out, torch.Tensor) and torch.allclose(out, torch.as_tensor(ref))
    with pytest.raises(ValueError, match="shape"):
        f.to_callable()(Xn[:, :1])
    with pytest.raises(ValueError, match="backend"):
        f.to_callable("matlab")
    const = Formula(sympy.Integer(3), [u, v])
    assert np.array_equal(const.evaluate(Xn), np.full(100, 3.0))
    assert const.to_callable("torch")(X).shape == (100,)
    X_new = _x(50, 2, seed=1).double().numpy()  # held-out rows
    assert f.mse(X_new, X_new[:, 1] * np.exp(X_new[:, 0])) < 1e-20
    assert const.mse(X_new, np.zeros(50)) == pytest.approx(9.0)
    assert Formula(sympy.log(u - 5), [u, v]).mse(X_new, np.zeros(50)) == math.inf
    # complex infinity (1/0 left by a simplification; AI-Feynman III.4.32 met one) scores
    # as not finite instead of crashing the printer that writes the numpy code
    with_zoo = Formula(sympy.Mul(u, sympy.exp(sympy.Mul(v, sympy.zoo, evaluate=False)), evaluate=False), [u, v])
    assert with_zoo.mse(X_new, np.zeros(50)) == math.inf
    from symkan.symbolic.constants import numpy_function  # the constant refits' code: the same
    assert np.isnan(numpy_function(with_zoo.expr, [u, v], [])(X_new[:, 0], X_new[:, 1])).all()
    with pytest.raises(ValueError, match="must be"):
        f.mse(X_new[:, :1], np.zeros(50))


def test_constant_snapping_respects_loss():
    """π and 2 are snapped; 0.37 (a genuine constant) is kept as a float."""
    m = _symbolic_net([1, 1], {(0, 0, 0): ("sin", (3.14159, 0.0, 2.00001, 0.0))}, biases={(0, 0): 0.37})
    X = _x(300, 1).double()
    y = 2.0 * torch.sin(math.pi * X[:, 0]) + 0.37
    f = model_formula(m, names=["x"], X=X, y=y)
    x = sympy.Symbol("x")
    assert f.expr.has(sympy.pi)
    assert len(f.constants) == 1 and abs(f.constants[0] - 0.37) < 1e-9
    assert f.loss < 1e-20
    assert sympy.simplify(f.expr - (2 * sympy.sin(sympy.pi * x) + sympy.Float(0.37))) == 0


def test_snap_candidates_include_rational_multiples_of_pi_and_its_inverse():
    from symkan.symbolic.constants import snap_candidates

    assert sympy.Integer(3) in snap_candidates(3.02)
    assert sympy.Rational(5, 6) in snap_candidates(0.8334)
    assert 2 * sympy.pi / 3 in snap_candidates(2.0944)
    assert 1 / (2 * sympy.pi) in snap_candidates(0.159154943)  # hbar = h/(2*pi)
    assert 3 / (4 * sympy.pi) in snap_candidates(0.2387)
    assert snap_candidates(1e4) == []


def test_inverse_pi_constant_is_snapped_inside_a_nonlinearity():
    m = _symbolic_net([1, 1], {(0, 0, 0): ("exp", (0.15916, 0.0, 1.0, 0.0))})
    X = _x(300, 1, 0.5, 3.0).double()
    y = torch.exp(X[:, 0] / (2 * math.pi))
    f = model_formula(m, names=["x"], X=X, y=y)
    x = sympy.Symbol("x")
    assert sympy.simplify(f.expr - sympy.exp(x / (2 * sympy.pi))) == 0


def test_formula_rejects_unsnapped_and_bad_input():
    m = KAN([2, 1], seed=0)
    with pytest.raises(ValueError, match="not symbolic"):
        model_formula(m)
    fix(m, 0, 0, 0, "x")
    fix(m, 0, 1, 0, "x")
    with pytest.raises(ValueError, match="names"):
        model_formula(m, names=["a"])
    with pytest.raises(ValueError, match="distinct"):
        model_formula(m, names=["a", "a"])
    with pytest.raises(ValueError, match="columns"):
        model_formula(m, X=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model_formula(m, X=np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="scale must be non-zero"):
        model_formula(m, input_transform=(0.0, 0.0))


def test_formula_reports_domain_violation():
    m = _symbolic_net([1, 1], {(0, 0, 0): ("log", (1, 0, 1, 0))})
    with pytest.raises(ValueError, match="outside their function's domain"):
        model_formula(m, X=np.linspace(-1, 1, 20)[:, None])


# --- fix / unfix / suggest -----------------------------------------------------------------
def test_fix_fits_constants_and_unfix_restores():
    m = KAN([1, 1], seed=0)
    X = _x(300, 1)
    before = m(X).detach()
    cand = fix(m, 0, 0, 0, "x^3", X)
    assert math.isfinite(cand.r2) and cand.name == "x^3"
    assert m.layers[0].symbolic.function_name(0, 0) == "x^3"
    unfix(m, 0, 0, 0)
    assert torch.allclose(m(X), before)


def test_fix_validates():
    m = KAN([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="unknown symbolic function 'sinus'.*known"):
        fix(m, 0, 0, 0, "sinus")
    with pytest.raises(ValueError, match="layer l=2 out of range"):
        fix(m, 2, 0, 0, "sin")
    with pytest.raises(ValueError, match="input node i=5"):
        fix(m, 0, 5, 0, "sin")
    with pytest.raises(ValueError, match="output node j=3"):
        fix(m, 0, 0, 3, "sin")
    with pytest.raises(ValueError, match="params"):
        fix(m, 0, 0, 0, "sin", params=(1, 2, 3))
    with pytest.raises(ValueError, match="columns"):
        fix(m, 0, 0, 0, "sin", np.zeros((10, 3)))
    m.layers[0].mask[0, 0] = 0
    with pytest.raises(ValueError, match="pruned"):
        fix(m, 0, 0, 0, "sin")
    with pytest.raises(ValueError, match="domain"):  # log cannot take a constant input... nor fit it
        fix(m, 0, 1, 0, "log", np.ones((10, 2)))


def test_suggest_table():
    m = KAN([1, 1], seed=0)
    X = _x(400, 1)
    fix(m, 0, 0, 0, "sin", params=(2.0, 0.3, 1.5, 0.1))  # the numeric edge is what suggest fits
    s = suggest(m, 0, 0, 0, X, k=3)
    assert len(s) == 3 and s.best.name == s[0].name
    assert all(s[k].score <= s[k + 1].score for k in range(2))
    text = repr(s)
    assert "edge (l=0, i=0, j=0)" in text and s[0].name in text
    assert s.rows()[0]["function"] == s[0].name


@pytest.mark.slow
def test_suggest_recovers_a_numeric_sine():
    """Train the numeric edge to a sine: suggest ranks sin (or its twin cos) first."""
    from symkan.train import fit

    m = KAN([1, 1], seed=0)
    X = _x(300, 1)
    fit(m, X, torch.sin(2.0 * X[:, 0] + 0.5), steps=15)
    s = suggest(m, 0, 0, 0, X)
    assert s.best.name in ("sin", "cos")
    assert s.best.r2 > 0.9999


# --- auto_snap behaviour -------------------------------------------------------------------
@pytest.mark.slow
def test_auto_snap_untrained_model_is_finite_and_rng_untouched():
    state = torch.random.get_rng_state()
    m = KAN([2, 2, 1], seed=1)
    X = _x(120, 2)
    res = auto_snap(m, X)  # y defaults to the network's own output
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(c.name for c in res.choices) and len(res.choices) == 6
    assert math.isfinite(res.loss_snapped)
    f = res.formula
    assert not f.expr.has(sympy.nan, sympy.zoo, sympy.oo)
    assert np.all(np.isfinite(f.evaluate(X.double().numpy())))
    # the input model is untouched
    assert not any(layer.symbolic.any_fixed for layer in m.layers)


@pytest.mark.slow
def test_auto_snap_constant_input_edge_becomes_constant():
    """A constant column: its edges snap to the constant '0' edge, value in the bias."""
    m = KAN([2, 1], seed=0)
    X = _x(200, 2)
    X[:, 1] = 0.7
    from symkan.train import fit

    fit(m, X, X[:, 0] ** 2, steps=10)
    res = auto_snap(m, X, X[:, 0] ** 2, names=["x", "c"])
    assert res.choice(0, 1, 0).name == "0"
    assert sympy.Symbol("c") not in res.formula.expr.free_symbols


def test_auto_snap_bad_input():
    m = KAN([2, 1], seed=0)
    with pytest.raises(ValueError, match="columns"):
        auto_snap(m, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        auto_snap(m, np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="rows"):
        auto_snap(m, np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="unknown symbolic function"):
        auto_snap(m, np.zeros((10, 2)), functions=["sin", "nope"])
    with pytest.raises(ValueError, match="model must be a symkan KAN"):
        auto_snap(torch.nn.Linear(2, 1), np.zeros((10, 2)))


@pytest.mark.slow
def test_custom_function_in_snap_and_formula(custom_cleanup):
    register_function("softplus", "log(1 + exp(x))", complexity=2)
    from symkan.train import fit

    X = _x(300, 1, -2, 2)
    y = torch.nn.functional.softplus(2.0 * X[:, 0])
    m = KAN([1, 1], seed=0, grid_range=(-2, 2))
    fit(m, X, y, steps=20)
    res = auto_snap(m, X, y, functions=["x", "x^2", "exp", "softplus"], names=["x"])
    assert res.choice(0, 0, 0).name == "softplus"
    x = sympy.Symbol("x")
    assert sympy.simplify(res.formula.expr - sympy.log(1 + sympy.exp(2 * x))) == 0


@pytest.mark.slow
def test_formula_candidates_span_several_complexities():
    """One trained network -> formulas of increasing complexity and decreasing loss."""
    from symkan.symbolic import formula_candidates
    from symkan.train import fit

    X = _x(300, 2)
    y = X[:, 0] ** 2 + 0.3 * torch.sin(2 * X[:, 1])
    m = KAN([2, 1], seed=0)
    fit(m, X, y, steps=15)
    fs = formula_candidates(m, X, y, complexity_weights=(1.0,), names=["u", "v"])
    assert len(fs) >= 2
    comps = [f.complexity for f in fs]
    assert comps == sorted(comps)
    best = min(fs, key=lambda f: f.loss)
    assert best.loss < 1e-8 and best is fs[-1]
    from symkan.datasets.metrics import is_symbolic_solution

    assert is_symbolic_solution(best.expr, "u**2 + 3*sin(2*v)/10", names=["u", "v"])
    assert all(f.loss >= best.loss for f in fs)
    with pytest.raises(ValueError, match="complexity_weights"):
        formula_candidates(m, X, y, complexity_weights=())


def test_formula_of_two_output_network_is_a_list():
    m = _symbolic_net([2, 2], {(0, 0, 0): ("x^2", (1, 0, 1, 0)), (0, 1, 1): ("exp", (1, 0, 1, 0))},
                      biases={(0, 1): 1.0})
    X = _x(100, 2).double()
    fs = model_formula(m, names=["a", "b"], X=X, y=m.double()(X).detach())
    a, b = sympy.symbols("a b")
    assert isinstance(fs, list) and len(fs) == 2
    assert sympy.simplify(fs[0].expr - a ** 2) == 0
    assert sympy.simplify(fs[1].expr - (sympy.exp(b) + 1)) == 0


def test_simplification_really_runs():
    """(x + 1)² − 2x − 1 composed from three edges comes out as x²."""
    m = _symbolic_net([1, 2, 1], {(0, 0, 0): ("x^2", (1, 1.0, 1, 0)), (0, 0, 1): ("x", (1, 0, 1, 0)),
                                  (1, 0, 0): ("x", (1, 0, 1, 0)), (1, 1, 0): ("x", (1, 0, -2.0, 0))},
                      biases={(1, 0): -1.0})
    x = sympy.Symbol("x")
    raw = model_formula(m, names=["x"], simplify=False, snap=False)
    assert raw.expr != x ** 2 and sympy.expand(raw.expr - x ** 2) == 0
    assert model_formula(m, names=["x"]).expr == x ** 2


def test_near_linear_stand_in_is_linearized():
    """c·sin(a·u) with a tiny argument (an identity edge snapped to sin) becomes u."""
    import numpy as np
    import sympy

    from symkan.symbolic.simplify import linearized_alternative

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(400, 3))
    y = X[:, 1] * X[:, 2] / (X[:, 0] - 0.5)
    g, p, v = sympy.symbols("g p v", real=True)
    stand_in = 2500 * sympy.sin(sympy.Float(0.000400013) * p * v / (g - sympy.Rational(1, 2)))  # |arg| < 0.02
    pred = sympy.lambdify([g, p, v], stand_in)(*X.T)
    loss = float(np.mean((pred - y) ** 2))
    found, new_loss = linearized_alternative(stand_in, [g, p, v], X, y, loss)
    assert sympy.simplify(found - p * v / (g - sympy.Rational(1, 2))) == 0
    assert new_loss <= loss
    # a sine whose argument is not small is left alone
    big = sympy.sin(p * v / 4)
    pred = sympy.lambdify([g, p, v], big)(*X.T)
    assert linearized_alternative(big, [g, p, v], X, pred, 0.0) is None
