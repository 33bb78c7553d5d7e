"""Sympy expressions as plain data (nested lists of strings), and back without ``eval``.

A stored formula is a nested list (operator name, arguments...) rather than source
text, so reading it never evaluates code: only sympy classes from an allow-list
(arithmetic and the functions of ``sympy.functions``) can be constructed.
"""
from __future__ import annotations

import sympy

from .bounds import MAX_DEPTH, MAX_EXACT_DIGITS, MAX_NODES, check_expression_cost

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
    and must be among ``names``. Malformed data, and trees whose evaluation would not be
    bounded (:func:`symkan.functions.bounds.check_expression_cost`: size, depth, huge
    exact numbers, factorial of a huge number ...), raise ValueError."""
    expr = _Reader(names).read(data, 0)
    check_expression_cost(expr)
    return expr


class _Reader:
    """Builds one stored tree (unevaluated), counting nodes and depth as it goes so that
    a huge or deeply nested list is refused before it is built."""

    def __init__(self, names):
        self.names, self.nodes = set(names), 0

    def read(self, data, depth: int):
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise ValueError(f"stored formula is too large (more than {MAX_NODES} nodes or {MAX_DEPTH} levels)")
        if not isinstance(data, list) or not data or not all(isinstance(t, str) for t in data[:2]):
            raise ValueError("malformed stored formula")
        kind = data[0]
        if kind == "f" and len(data) > 1:
            cls = allowed_operation(data[1])
            args = [self.read(a, depth + 1) for a in data[2:]]
            try:
                return cls(*args, evaluate=False)
            except Exception as err:  # noqa: BLE001 — any sympy class may refuse odd arguments its own way
                raise ValueError(f"malformed stored formula ({data[1]} of {len(args)} arguments: {err})") from None
        if len(data) != (3 if kind == "Q" else 2):
            raise ValueError(f"malformed stored formula (tag {kind!r} with {len(data) - 1} values)")
        return self.leaf(kind, data[1:])

    def leaf(self, kind: str, values: list):
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"malformed stored formula (tag {kind!r} of non-text values)")
        if kind == "S":
            if values[0] not in self.names:
                raise ValueError(f"stored formula uses an unknown variable {values[0]!r}")
            return sympy.Symbol(values[0])
        if kind in ("I", "Q"):
            if any(len(v) > MAX_EXACT_DIGITS + 1 for v in values):
                raise ValueError(f"stored formula holds an exact number of more than {MAX_EXACT_DIGITS} digits")
            try:
                return sympy.Integer(int(values[0])) if kind == "I" else sympy.Rational(int(values[0]), int(values[1]))
            except ValueError:
                raise ValueError(f"malformed number {values} in a stored formula") from None
        if kind == "F":
            try:
                return sympy.Float(float(values[0]))
            except ValueError:
                raise ValueError(f"malformed number {values[0][:40]!r} in a stored formula") from None
        if kind == "C":
            if values[0] not in CONSTANTS:
                raise ValueError(f"unknown constant {values[0]!r} in a stored formula")
            return CONSTANTS[values[0]]
        raise ValueError(f"malformed stored formula (tag {kind!r})")


__all__ = ["CONSTANTS", "expr_to_data", "expr_from_data", "allowed_operation"]
