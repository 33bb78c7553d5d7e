"""Equations with sampling ranges: the AI-Feynman list and a few toy functions.

An :class:`Equation` knows its formula (a sympy expression in its variable names) and
the uniform range each variable is sampled from; :func:`make_dataset` turns it into
data.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import sympy

from ..functions.grammar import parse_expression


@dataclass(frozen=True)
class Equation:
    """One benchmark equation.

    ``variables``: ((name, low, high), ...) uniform sampling ranges. ``formula``: the
    source string, parsed by :attr:`expr` with every variable a plain real symbol (so
    names such as ``I``, ``E``, ``gamma`` or ``beta`` are variables, not sympy constants).
    """

    name: str
    formula: str
    variables: tuple[tuple[str, float, float], ...]
    output: str = "y"
    source: str = "toy"

    @property
    def names(self) -> list[str]:
        return [v[0] for v in self.variables]

    @property
    def n_variables(self) -> int:
        return len(self.variables)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(n, real=True) for n in self.names]

    @property
    def expr(self) -> sympy.Expr:
        return parse_formula(self.formula, self.names)

    def __repr__(self) -> str:
        ranges = ", ".join(f"{n}∈[{lo:g}, {hi:g}]" for n, lo, hi in self.variables)
        return f"Equation({self.name}: {self.output} = {self.formula}; {ranges})"


def parse_formula(formula: str, names) -> sympy.Expr:
    """Parse ``formula`` with ``names`` as real symbols, without ``eval``
    (:func:`symkan.functions.grammar.parse_expression`: numbers, ``pi``, ``E``,
    arithmetic and the usual function names, numpy's ``arcsin`` … included)."""
    variables = {n: sympy.Symbol(n, real=True) for n in names}
    try:
        expr = parse_expression(formula, variables, other_names=True)
    except ValueError as err:
        raise ValueError(f"cannot parse formula {formula!r}: {err}") from None
    unknown = {s.name for s in expr.free_symbols} - set(names)
    if unknown:
        raise ValueError(f"formula {formula!r} uses undeclared variables {sorted(unknown)}")
    return expr


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"non-finite range bound {text!r}")
    return value


@lru_cache(maxsize=1)
def _feynman() -> dict[str, Equation]:
    path = resources.files("symkan.datasets") / "data" / "FeynmanEquations.csv"
    equations = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if not row.get("Filename"):
                continue
            variables = []
            # The "# variables" column is wrong for a few rows: count the name columns.
            for k in range(1, 11):
                vname = (row.get(f"v{k}_name") or "").strip()
                if not vname:
                    break
                variables.append((vname, _float(row[f"v{k}_low"]), _float(row[f"v{k}_high"])))
            name = row["Filename"].strip()
            equations[name] = Equation(name, row["Formula"].strip(), tuple(variables),
                                       output=row["Output"].strip() or "y", source="feynman")
    return equations


def feynman_equations() -> list[Equation]:
    """The 100 AI-Feynman equations, in the order of the public list."""
    return list(_feynman().values())


# Easy two-variable functions on [-1, 1]² (the KAN paper's style of test function);
# sqrt_plus uses x ∈ [0.5, 2] so that √x is real.
_SQUARE = (("x", -1.0, 1.0), ("y", -1.0, 1.0))
TOY_EQUATIONS: dict[str, Equation] = {e.name: e for e in [
    Equation("exp_sin", "exp(sin(pi*x) + y**2)", _SQUARE),
    Equation("product", "x*y", _SQUARE),
    Equation("sin_plus_square", "sin(pi*x) + x**2", _SQUARE[:1]),
    Equation("sum_squares", "x**2 + y**2", _SQUARE),
    Equation("gauss_sin", "exp(-x**2)*sin(pi*y)", _SQUARE),
    Equation("ratio", "x/(1 + y**2)", _SQUARE),
    Equation("sqrt_plus", "sqrt(x) + y", (("x", 0.5, 2.0), ("y", -1.0, 1.0))),
    Equation("product3", "x*y*z", (("x", -1.0, 1.0), ("y", -1.0, 1.0), ("z", -1.0, 1.0))),
]}


@lru_cache(maxsize=1)
def _units() -> dict:
    from ..units.tables import read_units

    with resources.as_file(resources.files("symkan.datasets") / "data" / "units.csv") as path:
        return read_units(path)


def equation_units(name: str) -> tuple[list, dict]:
    """The units of a Feynman equation's variables (one {base: exponent} per column) and
    of its output, from the AI-Feynman units table (``data/units.csv``; bases m, s, kg,
    T, V). Raises ValueError for an equation without units (the toy equations)."""
    equation, units = get_equation(name), _units()
    missing = [n for n in [*equation.names, equation.output] if n not in units]
    if equation.source != "feynman" or missing:
        raise ValueError(f"no units for equation {name!r}" + (f" (variables {missing})" if missing else ""))
    return [dict(units[n]) for n in equation.names], dict(units[equation.output])


def get_equation(name: str) -> Equation:
    """A Feynman equation by file name (``"I.6.2a"``) or a toy equation by name."""
    if name in TOY_EQUATIONS:
        return TOY_EQUATIONS[name]
    feynman = _feynman()
    if name in feynman:
        return feynman[name]
    raise ValueError(f"unknown equation {name!r}; toy equations: {', '.join(TOY_EQUATIONS)}; "
                     f"Feynman equations are named like 'I.6.2a' (see feynman_equations())")
