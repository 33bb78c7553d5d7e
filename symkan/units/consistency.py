"""Dimensional consistency of a formula: the units of every term, checked by walking the
sympy tree.

Numbers are dimensionless (a formula's constants carry no units); terms of a sum share
one dimension; a power scales its base's dimension by a numeric exponent (a power with
a variable exponent needs both dimensionless); ``Abs``, ``sign``-free wrappers keep
their argument's dimension; every other function (exp, log, sin, …) needs a
dimensionless argument and gives a dimensionless value.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Mapping

import sympy

from .parsing import format_dimension, multiply

#: exponents closer than this to a dimension's are taken as equal (a fitted 2.0000001)
TOLERANCE = 1e-6


class Inconsistent(ValueError):
    """A sum of different dimensions, or a function of a quantity with units."""


def _same(a: Mapping, b: Mapping) -> bool:
    return all(abs(float(a.get(k, 0)) - float(b.get(k, 0))) < TOLERANCE for k in set(a) | set(b))


def _scaled(dim: Mapping, power) -> dict:
    return {k: Fraction(float(v) * float(power)).limit_denominator(1000) for k, v in dim.items()
            if abs(float(v) * float(power)) > TOLERANCE}


def expression_dimension(expr: sympy.Expr, dims: Mapping) -> dict:
    """The dimension {base: exponent} of ``expr`` given ``dims`` {Symbol: dimension};
    raises :class:`Inconsistent` naming the offending part."""
    if expr.is_Number or expr.is_NumberSymbol or not expr.free_symbols:
        return {}
    if expr.is_Symbol:
        if expr not in dims:
            raise Inconsistent(f"no units for {expr}")
        return dict(dims[expr])
    if expr.is_Add:
        terms = [(t, expression_dimension(t, dims)) for t in expr.args]
        first_term, first = terms[0]
        for term, dim in terms[1:]:
            if not _same(dim, first):
                raise Inconsistent(f"{first_term} [{format_dimension(first)}] + {term} [{format_dimension(dim)}]")
        return first
    if expr.is_Mul:
        out: dict = {}
        for factor in expr.args:
            out = multiply(out, expression_dimension(factor, dims))
        return out
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.is_Number:
            return _scaled(expression_dimension(base, dims), exponent)
        for part in (base, exponent):
            if expression_dimension(part, dims):
                raise Inconsistent(f"{expr}: a power with a variable exponent needs dimensionless parts")
        return {}
    if isinstance(expr, sympy.Abs):
        return expression_dimension(expr.args[0], dims)
    if isinstance(expr, sympy.Function):
        for arg in expr.args:
            dim = expression_dimension(arg, dims)
            if dim:
                raise Inconsistent(f"{expr.func}({arg}) of a quantity with units [{format_dimension(dim)}]")
        return {}
    raise Inconsistent(f"cannot tell the units of {expr}")


def consistency_problem(expr: sympy.Expr, dims: Mapping, target: Mapping) -> str | None:
    """None when ``expr`` is dimensionally consistent and has the ``target`` dimension;
    else what is wrong, in words."""
    try:
        dim = expression_dimension(expr, dims)
    except Inconsistent as err:
        return str(err)
    if not _same(dim, target):
        return f"the formula has units [{format_dimension(dim)}], the target [{format_dimension(target)}]"
    return None
