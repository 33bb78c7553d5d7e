"""Bounds on the work of evaluating an expression, checked before it is evaluated.

A formula read from a model file or a text expression can hold exact numbers whose
evaluation never ends: ``((10**1000)**1000)**1000`` or ``factorial(10**7)`` are built in
microseconds (sympy's ``evaluate=False``) but Python's integer arithmetic behind
``predict`` would compute them exactly. :func:`check_expression_cost` walks a sympy tree
and refuses it (ValueError) unless

* it has at most :data:`MAX_NODES` nodes and :data:`MAX_DEPTH` levels;
* every exact subexpression (made of integers and rationals only, no symbols, no
  floats) has at most :data:`MAX_EXACT_DIGITS` digits, by an upper bound computed from
  its parts (a product adds their digits, a power multiplies the base's digits by the
  exponent) — so evaluating it exactly takes microseconds;
* every exact exponent of an exact base is at most :data:`MAX_EXACT_EXPONENT`;
* every exact argument of a function outside ``sympy.functions.elementary``
  (factorial, gamma, zeta, bell, binomial, the orthogonal polynomials ...: functions
  whose exact value or expansion grows with the argument) is at most
  :data:`MAX_EXACT_ARGUMENT` in magnitude.

Symbols and floats stop the exact arithmetic (numpy evaluates them in floating point),
so a subexpression containing one is not exact; its exact parts are bounded on their own.
"""
from __future__ import annotations

import math

import sympy

#: most nodes of an expression tree (a formula of a large snapped network has thousands)
MAX_NODES = 100_000
#: deepest nesting of an expression tree (formulas of symkan networks stay below 40)
MAX_DEPTH = 100
#: most decimal digits of an exact number in an expression (below Python's 4300-digit
#: limit on converting integers to text, so every exact number can be printed)
MAX_EXACT_DIGITS = 4000
#: largest exact exponent of an exact base
MAX_EXACT_EXPONENT = 1000
#: largest exact argument of a non-elementary function (factorial, gamma, zeta, ...)
MAX_EXACT_ARGUMENT = 1000

_LOG10_2 = math.log10(2)


def integer_digits(n: int) -> float:
    """An upper bound on the decimal digits of the integer n, without converting it to text."""
    return abs(int(n)).bit_length() * _LOG10_2 + 1


def check_expression_cost(expr) -> None:
    """ValueError unless evaluating the sympy expression ``expr`` is bounded (see the
    module docstring); the message names the offending part."""
    _Walk().visit(expr, 0)


class _Exact:
    """What is known about an exact subexpression: an upper bound on the digits of its
    numerator and denominator, and on its magnitude (the value itself for a leaf)."""

    __slots__ = ("digits", "magnitude")

    def __init__(self, digits: float, magnitude: float):
        self.digits, self.magnitude = digits, magnitude

    @classmethod
    def of(cls, number) -> _Exact:
        """A sympy Rational leaf."""
        digits = _rational_digits(number)
        magnitude = max(abs(int(number.p)), abs(int(number.q))) if digits < 300 else math.inf
        return cls(digits, magnitude)


def _rational_digits(number) -> float:
    return max(integer_digits(number.p), integer_digits(number.q))


def _bounded(digits: float, what) -> _Exact:
    if digits > MAX_EXACT_DIGITS:
        raise ValueError(f"the exact number {_short(what)} is too large (more than {MAX_EXACT_DIGITS} digits)")
    return _Exact(digits, 10.0 ** digits if digits < 300 else math.inf)




def _short(expr) -> str:
    text = sympy.sstr(expr) if not getattr(expr, "is_Integer", False) or integer_digits(expr) < 40 else \
        f"(an integer of about {int(integer_digits(expr))} digits)"
    return text if len(text) <= 60 else text[:57] + "..."


class _Walk:
    """One pass over a tree: counts nodes, tracks depth, bounds the exact parts."""

    def __init__(self):
        self.nodes = 0

    def visit(self, expr, depth: int) -> _Exact | None:
        """The bound of ``expr`` when it is exact, None when it is not (symbols, floats,
        named constants); raises ValueError when a bound is exceeded."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ValueError(f"the expression has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ValueError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        if getattr(expr, "is_Rational", False):
            _bounded(_rational_digits(expr), expr)
            return _Exact.of(expr)
        args = getattr(expr, "args", ())
        if not args:
            return None  # a symbol, a float or a named constant (pi, E, oo ...)
        parts = [self.visit(a, depth + 1) for a in args]
        if isinstance(expr, sympy.Pow):
            return self._power(expr, *parts)
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            # exact parts are combined in exact arithmetic before or after the others
            exact = [p.digits for p in parts if p is not None]
            total = _bounded(sum(exact) + math.log10(max(len(exact), 1)), expr) if exact else None
            return total if len(exact) == len(parts) else None
        if isinstance(expr, sympy.Function):
            return self._function(expr, parts)
        return None

    @staticmethod
    def _power(expr, base: _Exact | None, exponent: _Exact | None) -> _Exact | None:
        if base is None or exponent is None:
            return None  # evaluated in floating point
        if exponent.magnitude > MAX_EXACT_EXPONENT:
            raise ValueError(f"the exponent {_short(expr.exp)} of the exact number {_short(expr.base)} is too "
                             f"large (at most {MAX_EXACT_EXPONENT})")
        return _bounded(base.digits * max(exponent.magnitude, 1), expr)

    @staticmethod
    def _function(expr, parts: list) -> _Exact | None:
        exact = [p for p in parts if p is not None]
        if type(expr).__module__.startswith("sympy.functions.elementary."):
            # |f(n)| <= |n| in digits for Abs, floor, Min ...; a harmless bound for sin, exp ...
            return _bounded(max(p.digits for p in exact), expr) if exact and len(exact) == len(parts) else None
        for part, arg in zip(parts, expr.args):
            if part is not None and part.magnitude > MAX_EXACT_ARGUMENT:
                raise ValueError(f"the argument {_short(arg)} of {type(expr).__name__} is too large for exact "
                                 f"evaluation (at most {MAX_EXACT_ARGUMENT})")
        if len(exact) != len(parts):
            return None
        # factorial(1000) has 2568 digits: n·log10(n) bounds the functions of this kind
        biggest = max(p.magnitude for p in exact)
        return _bounded(max(biggest, 1) * max(math.log10(max(biggest, 1)), 1) + 1, expr)


__all__ = ["MAX_NODES", "MAX_DEPTH", "MAX_EXACT_DIGITS", "MAX_EXACT_EXPONENT", "MAX_EXACT_ARGUMENT",
           "integer_digits", "check_expression_cost"]
