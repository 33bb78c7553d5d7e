"""Expressions without eval: the text grammar (symkan.functions.grammar) and sympy
expressions as plain data (symkan.functions.expression_data)."""
from __future__ import annotations

import pytest
import sympy

from symkan.functions.expression_data import expr_from_data, expr_to_data
from symkan.functions.grammar import parse_expression


def test_parse_expression_accepts_formulas_and_nothing_else():
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


def test_numpy_spellings_and_variables_that_hide_constants():
    x, E = sympy.Symbol("x", real=True), sympy.Symbol("E", real=True)
    assert parse_expression("arcsin(x) + arctan(x) - arccos(x)", {"x": x}) == \
        sympy.asin(x) + sympy.atan(x) - sympy.acos(x)
    assert parse_expression("E*x", {"x": x, "E": E}) == E * x  # the variable, not Euler's number
    assert parse_expression("E*x", {"x": x}) == sympy.E * x
    assert parse_expression("q*x", {"x": x}, other_names=True).free_symbols == {x, sympy.Symbol("q")}


def test_plain_data_round_trip_and_refusals():
    a, b = sympy.symbols("a b")
    for expr in (a * sympy.exp(-b) + sympy.Rational(3, 7), sympy.sqrt(a) / (1 + sympy.Abs(b)) - 2.5 * sympy.pi,
                 sympy.Max(a, 0) * sympy.atan2(a, b), sympy.Float(1e-300) * a ** -3):
        data = expr_to_data(expr)
        assert all(isinstance(t, (str, list)) for t in data), data
        assert expr_from_data(data, ["a", "b"]) == expr
    for data, match in [(["f", "Function", ["S", "a"]], "unsupported operation"),
                        (["f", "Lambda", ["S", "a"], ["S", "a"]], "unsupported operation"),
                        (["f", "Pow", ["I", "10"], ["I", "100000"]], "too large"),
                        (["S", "c"], "unknown variable"), (["C", "Catalan"], "unknown constant"),
                        (["X", "1"], "malformed"), ([], "malformed")]:
        with pytest.raises(ValueError, match=match):
            expr_from_data(data, ["a", "b"])
