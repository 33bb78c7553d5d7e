"""Sympy expressions as plain data (nested lists of strings), and back without ``eval``.

A stored formula is a nested list (operator name, arguments...) rather than source
text, so reading it never evaluates code: only sympy classes from an allow-list
(arithmetic and the functions of ``sympy.functions``) can be constructed.
"""
from __future__ import annotations

import sympy

from .grammar import check_numeric_power

#: named sympy constants a stored formula may hold
CONSTANTS = {"pi": sympy.pi, "E": sympy.E, "nan": sympy.nan, "oo": sympy.oo, "-oo": -sympy.oo,
             "zoo": sympy.zoo, "I": sympy.I, "EulerGamma": sympy.EulerGamma}


def expr_to_data(expr) -> list:
    """A sympy expression as nested lists of strings (see :func:`expr_from_data`)."""
    expr = sympy.sympify(expr, strict=True)  # sympy objects and numbers only, never text
    if expr.is_Symbol:
        return ["S", expr.name]
    if expr.is_Integer:
        return ["I", str(int(expr))]
    if expr.is_Rational:
        return ["Q", str(expr.p), str(expr.q)]
    if expr.is_Float:
        return ["F", repr(float(expr))]
    for name, const in CONSTANTS.items():
        if expr == const:
            return ["C", name]
    if not expr.args:
        raise ValueError(f"cannot store the sympy atom {expr!r}")
    return ["f", type(expr).__name__, *[expr_to_data(a) for a in expr.args]]


def allowed_operation(name: str):
    """The sympy class ``name`` if a stored formula may construct it: Add, Mul, Pow and
    the functions of ``sympy.functions`` (elementary and special functions) — not
    ``sympy.Function`` itself (undefined functions) nor any other sympy class.
    Anything else raises ValueError."""
    cls = getattr(sympy, name, None)
    if isinstance(cls, type) and (cls in (sympy.Add, sympy.Mul, sympy.Pow) or (
            issubclass(cls, (sympy.Function, sympy.Min, sympy.Max))
            and cls.__module__.startswith("sympy.functions."))):
        return cls
    raise ValueError(f"unsupported operation {name!r} in a stored formula")


def expr_from_data(data, names) -> sympy.Expr:
    """Inverse of :func:`expr_to_data`; symbols are created by name (plain, no assumptions)
    and must be among ``names``. Malformed data raises ValueError."""
    if not isinstance(data, list) or not data:
        raise ValueError("malformed stored formula")
    kind = data[0]
    if kind == "S":
        if data[1] not in names:
            raise ValueError(f"stored formula uses an unknown variable {data[1]!r}")
        return sympy.Symbol(data[1])
    if kind == "I":
        return sympy.Integer(int(data[1]))
    if kind == "Q":
        return sympy.Rational(int(data[1]), int(data[2]))
    if kind == "F":
        return sympy.Float(float(data[1]))
    if kind == "C":
        if data[1] not in CONSTANTS:
            raise ValueError(f"unknown constant {data[1]!r} in a stored formula")
        return CONSTANTS[data[1]]
    if kind == "f":
        cls = allowed_operation(data[1])
        args = [expr_from_data(a, names) for a in data[2:]]
        if cls is sympy.Pow and len(args) == 2:
            check_numeric_power(*args)
        return cls(*args, evaluate=False)
    raise ValueError(f"malformed stored formula (tag {kind!r})")


__all__ = ["CONSTANTS", "expr_to_data", "expr_from_data", "allowed_operation"]
