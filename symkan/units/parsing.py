"""Unit text → dimension: one input column's unit as exponents of base dimensions.

A unit is given as text (``"kg*m/s^2"``, ``"m s-1"``, ``"J/(mol*K)"``, ``"1"`` for a
dimensionless column) or as a mapping of base-dimension exponents (``{"m": 1, "s": -1}``,
any base names: the AI-Feynman table uses m, s, kg, T and V). Unit names are looked up
in ``sympy.physics.units`` (SI units, their common prefixed forms and physical
constants: ``N``, ``J``, ``eV``, ``ohm``, ``km``, ``hbar``; ``h`` is the hour there, as
in SI) and reduced to SI base dimensions, keyed ``m``, ``kg``, ``s``, ``A``, ``K``,
``mol``, ``cd``. Only the dimension matters: scale factors (km vs m) are constants the
formula absorbs.

Syntax: factors joined by ``*``, ``·``, ``/`` or spaces; a power as ``^n``, ``**n`` or a
signed integer right after the name (``s-1``, ``m2``); parentheses; ``1`` or an empty
string for dimensionless. ``a/b*c`` reads left to right, (a/b)·c, as in Python.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Mapping

#: a dimension: base name -> non-zero exponent
Dimension = dict

#: sympy's SI base dimensions under the names of their SI base units
SI_BASES = {"length": "m", "mass": "kg", "time": "s", "current": "A", "temperature": "K",
            "amount_of_substance": "mol", "luminous_intensity": "cd"}
DIMENSIONLESS = ("", "1", "dimensionless", "-", "none")

_TOKEN = re.compile(r"\s*(?:(?P<num>[+-]?\d+(?:\.\d+)?(?:/\d+)?)|(?P<name>[A-Za-zµΩ_]+)"
                    r"|(?P<op>\*\*|\^|\*|·|/|\(|\)))")


class UnitError(ValueError):
    """A unit that cannot be read; the message names the column."""


def _clean(dim: Mapping) -> Dimension:
    return {str(k): Fraction(v) for k, v in dim.items() if Fraction(v) != 0}


def multiply(a: Mapping, b: Mapping, power=1) -> Dimension:
    """The dimension a·b^power."""
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, Fraction(0)) + Fraction(v) * Fraction(power)
    return _clean(out)


def _unit_names():
    import sympy.physics.units as units
    from sympy.physics.units.prefixes import PREFIXES
    from sympy.physics.units.quantities import Quantity

    return units, PREFIXES, Quantity


def unit_dimension(name: str) -> Dimension:
    """The SI base dimensions of one unit name (``"N"`` → {kg: 1, m: 1, s: -2}), with an
    SI prefix if sympy has no prefixed form (``"kN"``, ``"MHz"``). Raises KeyError."""
    from sympy.physics.units.systems.si import SI

    units, prefixes, quantity = _unit_names()
    found = getattr(units, name, None)
    if not isinstance(found, quantity):
        for p in sorted(prefixes, key=len, reverse=True):  # "da" before "d"
            if name.startswith(p) and len(name) > len(p):
                base = getattr(units, name[len(p):], None)
                if isinstance(base, quantity):
                    found = base
                    break
    if not isinstance(found, quantity):
        raise KeyError(name)
    deps = SI.get_dimension_system().get_dimensional_dependencies(SI.get_quantity_dimension(found))
    out = {}
    for dim, power in deps.items():
        base = SI_BASES.get(dim.name.name if hasattr(dim.name, "name") else str(dim.name))
        if base is not None:  # angles and steradians are dimensionless here
            out[base] = Fraction(int(power)) if float(power).is_integer() else Fraction(str(power))
    return _clean(out)


class _Parser:
    """Recursive descent over the tokens of one unit text."""

    def __init__(self, text: str):
        self.tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None:
                raise UnitError(f"unexpected {text[pos:].strip()[:10]!r}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def product(self, closing=None) -> Dimension:
        dim, divide = self.power(), False
        while True:
            kind, value = self.peek()
            if kind is None or (kind == "op" and value == ")"):
                if value == ")" and closing is None:
                    raise UnitError("unmatched ')'")
                return dim
            if kind == "op" and value in ("*", "·", "/"):
                self.take()
                divide = value == "/"
            else:
                divide = False  # a space: multiplication
            dim = multiply(dim, self.power(), -1 if divide else 1)

    def power(self) -> Dimension:
        kind, value = self.take()
        if kind == "op" and value == "(":
            dim = self.product(closing=")")
            if self.take() != ("op", ")"):
                raise UnitError("missing ')'")
        elif kind == "name":
            try:
                dim = unit_dimension(value)
            except KeyError:
                raise UnitError(f"unknown unit {value!r}") from None
            if self.peek()[0] == "num":  # "s-1", "m2": a number after a name is its power
                return multiply({}, dim, Fraction(self.take()[1]))
        elif kind == "num":
            if Fraction(value) != 1:
                raise UnitError(f"a number ({value}) is not a unit (only 1, for dimensionless)")
            dim = {}
        else:
            raise UnitError(f"expected a unit name, got {value!r}" if value else "the unit ends too early")
        if self.peek() in (("op", "^"), ("op", "**")):
            self.take()
            wrapped = self.peek() == ("op", "(")  # m^(1/2)
            if wrapped:
                self.take()
            kind, value = self.take()
            if wrapped and self.take() != ("op", ")"):
                raise UnitError("missing ')' after the power")
            if kind != "num":
                raise UnitError(f"expected a number after the power sign, got {value!r}")
            dim = multiply({}, dim, Fraction(value))
        return dim


def parse_unit(unit, column: str = "the column") -> Dimension:
    """One column's unit (text or mapping of base exponents) as {base: Fraction exponent}.

    Raises :class:`UnitError` (a ValueError) naming ``column`` when the text does not
    parse or a mapping's exponent is not a number."""
    if isinstance(unit, Mapping):
        try:
            return _clean({k: Fraction(str(v)) if isinstance(v, float) else Fraction(v) for k, v in unit.items()})
        except (TypeError, ValueError):
            raise UnitError(f"the units of {column!r} are not numbers: {dict(unit)!r}") from None
    if not isinstance(unit, str):
        raise UnitError(f"the unit of {column!r} must be text (like 'kg*m/s^2') or a mapping of "
                        f"base-dimension exponents, got {type(unit).__name__}")
    text = unit.strip()
    if text.lower() in DIMENSIONLESS:
        return {}
    try:
        parser = _Parser(text)
        dim = parser.product()
        if parser.peek()[0] is not None:
            raise UnitError(f"unexpected {parser.peek()[1]!r}")
        return dim
    except UnitError as err:
        raise UnitError(f"the unit {unit!r} of {column!r} does not parse: {err}") from None


def _ordered(dim: Mapping) -> list:
    """Bases with positive powers first, then alphabetical."""
    return sorted(dim.items(), key=lambda kv: (kv[1] < 0, kv[0]))


def format_dimension(dim: Mapping) -> str:
    """{m: 1, s: -1} → ``"m s^-1"`` (``"1"`` when dimensionless)."""
    if not dim:
        return "1"
    return " ".join(base if power == 1 else f"{base}^{power}" for base, power in _ordered(dim))


def latex_dimension(dim: Mapping) -> str:
    """{m: 1, s: -1} → ``\\mathrm{m}\\,\\mathrm{s}^{-1}`` (``1`` when dimensionless)."""
    if not dim:
        return "1"
    return r"\,".join(rf"\mathrm{{{base}}}" + ("" if power == 1 else f"^{{{power}}}") for base, power in _ordered(dim))
