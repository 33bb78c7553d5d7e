"""Expressions from text without ``eval``: a whitelist grammar over Python's ``ast``.

``sympy.sympify`` and ``sympy.parsing.parse_expr`` evaluate their input with Python's
``eval``: a string from a model file or a data file could run any code.
:func:`parse_expression` parses with :mod:`ast` instead and builds sympy objects from an
allowed set of nodes only (numbers, names, arithmetic, calls of listed functions).
"""
from __future__ import annotations

import ast
import math

import sympy

from .bounds import check_expression_cost

#: functions a text expression may call (sympy's names, plus numpy's arc- spellings)
SAFE_FUNCTIONS = {name: getattr(sympy, name) for name in (
    "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot", "atan2",
    "sinh", "cosh", "tanh", "coth", "sech", "csch", "asinh", "acosh", "atanh",
    "exp", "log", "ln", "sqrt", "cbrt", "Abs", "sign", "Min", "Max", "floor", "ceiling",
    "erf", "erfc", "Heaviside")}
SAFE_FUNCTIONS.update({"abs": sympy.Abs, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
                       "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh})
#: named constants a text expression may use
SAFE_CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
#: longest text expression accepted
MAX_EXPRESSION_CHARS = 2000
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b}


def parse_expression(text: str, variables: dict, *, other_names: bool = False) -> sympy.Expr:
    """Parse ``text`` into a sympy expression without evaluating any code.

    The grammar: integer and decimal numbers, the names in ``variables`` (name -> sympy
    Symbol; a variable hides the constant of its name), the constants ``pi`` and ``E``,
    ``+ - * / **`` (and ``^`` for ``**``), parentheses and calls of the functions in
    :data:`SAFE_FUNCTIONS` with positional arguments. Anything else
    (attributes, subscripts, strings, keywords, lambdas, comprehensions, unknown names)
    raises ValueError naming it. With ``other_names`` any other identifier becomes a
    plain Symbol (for callers that check the free symbols themselves).
    """
    if not isinstance(text, str):
        raise ValueError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression is too long ({len(text)} characters; at most {MAX_EXPRESSION_CHARS})")
    text = text.strip().replace("^", "**")  # x^2 means x**2, as in sympify
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as err:
        raise ValueError(f"invalid syntax ({type(err).__name__}: {err})") from None
    try:
        expr = _Builder(text, variables, other_names).build(tree.body)
    except RecursionError:
        raise ValueError("expression is nested too deeply") from None
    check_expression_cost(expr)
    return expr


def _exact_bounded(value):
    """``value``, after checking that an exact number it evaluated to is not huge (a
    product of exact numbers below the bound is cheap to compute; its result may not be)."""
    if getattr(value, "is_Rational", False):
        check_expression_cost(value)
    return value


class _Builder:
    """Turns the allowed ``ast`` nodes of one parsed text into sympy objects."""

    def __init__(self, text: str, variables: dict, other_names: bool):
        self.text, self.variables, self.other_names = text, variables, other_names

    def build(self, node):
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            arg = self.build(node.operand)
            return -arg if isinstance(node.op, ast.USub) else arg
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base, exponent = self.build(node.left), self.build(node.right)
            # sympy evaluates powers of exact numbers at once: bound them before
            check_expression_cost(sympy.Pow(base, exponent, evaluate=False))
            return base ** exponent
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _exact_bounded(_BINARY[type(node.op)](self.build(node.left), self.build(node.right)))
        if isinstance(node, ast.Call):
            return _exact_bounded(self.call(node))
        segment = ast.get_source_segment(self.text, node) or ast.dump(node)
        raise ValueError(f"unsupported syntax {type(node).__name__} "
                         f"({segment[:60] + ('...' if len(segment) > 60 else '')})")

    def number(self, node: ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"unsupported literal {v!r}")
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"non-finite number {ast.get_source_segment(self.text, node) or v!r}")
            return sympy.Float(v)
        return sympy.Integer(v)

    def name(self, name: str):
        if name in self.variables:
            return self.variables[name]
        if name in SAFE_CONSTANTS:
            return SAFE_CONSTANTS[name]
        if self.other_names:
            return sympy.Symbol(name)
        raise ValueError(f"unknown name {name!r} (allowed: {', '.join([*self.variables, *SAFE_CONSTANTS])})")

    def call(self, node: ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:60]
            raise ValueError(f"call of {what!r} is not allowed (allowed functions: "
                             f"{', '.join(sorted(SAFE_FUNCTIONS))})")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or not node.args:
            raise ValueError(f"{node.func.id}() takes plain positional arguments only")
        args = [self.build(a) for a in node.args]
        try:
            return SAFE_FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{node.func.id}{tuple(args)}: {err}") from None


__all__ = ["SAFE_FUNCTIONS", "SAFE_CONSTANTS", "MAX_EXPRESSION_CHARS", "parse_expression"]
