"""The function library (symkan.functions.library): forms, domains, aliases, registration,
and the layering of the bottom-level functions package."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

import symkan.functions
from symkan.functions import library
from symkan.functions.library import (available_functions, custom_functions, get_function, register_function,
                                      restore_custom_functions)


def test_library_forms_agree():
    """torch, safe and sympy forms agree inside each built-in's domain."""
    xs = sympy.Symbol("x")
    pos = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)
    for name in library.BUILTIN_NAMES:
        fn = get_function(name)
        # [0.1, 0.9] lies inside most domains; an entry defined only for negative
        # arguments (log(1 - e^x)) is checked on [-0.9, -0.1]
        u = next((v for v in (pos, -pos.flip(0)) if bool(fn.feasible(v.min(), v.max()))), None)
        assert u is not None, f"{name}: neither [0.1, 0.9] nor [-0.9, -0.1] is inside its domain"
        sym = sympy.lambdify(xs, fn.sympy_fn(xs), modules="numpy")
        ref = np.broadcast_to(np.asarray(sym(u.numpy()), dtype=np.float64), (9,))
        assert np.allclose(fn.torch_fn(u).numpy(), ref, rtol=1e-12), name
        assert np.allclose(fn(u).numpy(), ref, rtol=1e-9), name
        assert fn.complexity >= 0 and fn.mode in library.MODES


def test_safe_forms_are_finite_everywhere():
    u = torch.tensor([-3.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, math.pi / 2, 3.0, 80.0, -200.0], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        for name in library.BUILTIN_NAMES:
            assert torch.isfinite(get_function(name)(u.to(dtype))).all(), (name, dtype)


def test_library_has_every_required_function():
    """The library the issue asks for, by name or alias, and "constant" is the 0 edge."""
    required = ["x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "sqrt", "1/sqrt(x)", "exp", "log", "sin", "cos",
                "tan", "tanh", "arcsin", "arctan", "arctanh", "abs", "gaussian", "0", "constant"]
    xs = sympy.Symbol("x")
    for name in required:
        fn = get_function(name)
        assert fn.complexity >= 0 and isinstance(fn.sympy_fn(xs), sympy.Expr), name
    assert get_function("constant").name == "0"
    assert set(library.default_functions()) >= {get_function(n).name for n in required}


def test_log_space_entries_are_opt_in_and_map_back_to_ratio_factors():
    """exp of each log-space edge at h = log r is the factor of r it stands for."""
    defaults = set(library.default_functions())
    assert library.LOG_SPACE_NAMES and not defaults & set(library.LOG_SPACE_NAMES)
    assert {f.name for f in library.resolve_functions()} == defaults
    r = torch.tensor([0.05, 0.3, 0.7, 0.95], dtype=torch.float64)
    h = torch.log(r)
    factors = {"log1p_exp": 1 + r, "log1m_exp": 1 - r, "log_expm1_exp": torch.expm1(r),
               "log1p_exp_exp": torch.exp(r) + 1}
    for name, factor in factors.items():
        torch.testing.assert_close(torch.exp(get_function(name)(h)), factor, rtol=1e-12, atol=0)
    big = torch.log(torch.tensor([1.5, 4.0, 1e6], dtype=torch.float64))  # r - 1 needs r > 1
    torch.testing.assert_close(torch.exp(get_function("log_expm1")(big)), torch.exp(big) - 1, rtol=1e-12, atol=0)
    xs = sympy.Symbol("x", positive=True)  # the sympy form maps back the same way
    assert sympy.simplify(sympy.exp(get_function("log1m_exp").sympy_fn(2 * sympy.log(xs))) - (1 - xs ** 2)) == 0


def test_feasibility_of_domains():
    t = lambda v: torch.tensor(v, dtype=torch.float64)
    assert bool(get_function("log").feasible(t(0.5), t(2.0)))
    assert not bool(get_function("log").feasible(t(-0.5), t(2.0)))
    assert bool(get_function("sqrt").feasible(t(0.0), t(2.0)))  # closed at 0
    assert not bool(get_function("1/x").feasible(t(-1.0), t(1.0)))  # pole inside
    assert bool(get_function("1/x").feasible(t(-3.0), t(-1.0)))
    assert not bool(get_function("tan").feasible(t(1.0), t(2.0)))  # contains π/2
    assert not bool(get_function("tan").feasible(t(4.0), t(5.0)))  # contains 3π/2
    assert bool(get_function("tan").feasible(t(-1.0), t(1.0)))
    assert not bool(get_function("arcsin").feasible(t(-0.5), t(1.5)))


def test_unknown_function_lists_known_names():
    with pytest.raises(ValueError, match="unknown symbolic function 'sinh'.*sin"):
        get_function("sinh")
    assert get_function("constant").name == "0"
    assert get_function("asin").name == "arcsin"


def test_register_function_validates(custom_cleanup):
    with pytest.raises(ValueError, match="built-in"):
        register_function("sin", "sin(x)")
    with pytest.raises(ValueError, match="only the variable x"):
        register_function("bad", "x*y")
    with pytest.raises(ValueError, match="cannot parse"):
        register_function("bad", "x+*")
    with pytest.raises(ValueError, match="complexity"):
        register_function("bad", "x", complexity=0)


def test_custom_functions_survive_save_and_restore(custom_cleanup):
    register_function("xexp", "x*exp(-x)", complexity=4)
    spec = custom_functions()
    assert spec["xexp"]["sympy"] == "x*exp(-x)"
    del library.FUNCTIONS["xexp"]
    restore_custom_functions(spec)
    fn = get_function("xexp")
    u = torch.tensor([0.5, 2.0], dtype=torch.float64)
    assert torch.allclose(fn(u), u * torch.exp(-u))
    assert "xexp" in available_functions()


def test_functions_package_imports_nothing_above_it():
    """symkan.functions is the bottom layer: no import of nn, symbolic, discovery, the
    regressor or any other symkan module outside the package."""
    root = Path(symkan.functions.__file__).parent
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert node.level in (0, 1), (path.name, target)  # only siblings, relatively
                assert node.level == 1 or not target.startswith("symkan"), (path.name, target)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("symkan") for a in node.names), path.name
