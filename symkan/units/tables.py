"""Units of named columns: from a units table (CSV), from inline text, and in column order.

A units table has a header whose first column names the variable; every column whose
values are all numbers holds exponents of one base dimension (any names, any number
of them: ``m, s, kg, T, V`` in the AI-Feynman table); other columns (a description)
are ignored. Inline text is ``"x=m, t=s, y=m/s"`` (units as :func:`.parsing.parse_unit`
reads them).
"""
from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

from .parsing import UnitError, parse_unit


def _number(text: str):
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        try:
            return Fraction(float(text))
        except ValueError:
            return None


def read_units(path) -> dict:
    """{variable: {base: exponent}} of the units table at ``path`` (see the module
    docstring). Raises :class:`.parsing.UnitError` (a ValueError) for a table with no
    numeric columns, rows of another length than the header, or a repeated variable."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise UnitError(f"units table {path}: needs a header and at least one row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for k, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UnitError(f"units table {path}, line {k}: {len(row)} columns, the header has {len(header)}")
    numeric = [j for j in range(1, len(header)) if all(_number(r[j]) is not None for r in body)]
    if not numeric:
        raise UnitError(f"units table {path}: no column of numbers (exponents of base dimensions) after "
                        f"{header[0]!r}")
    units = {}
    for row in body:
        name = row[0].strip()
        if name in units:
            raise UnitError(f"units table {path}: {name!r} appears twice")
        units[name] = {header[j]: _number(row[j]) for j in numeric if _number(row[j]) != 0}
    return units


def parse_inline(text: str) -> dict:
    """``"x=m, t=s, y=m/s"`` → {name: dimension}; raises UnitError naming the entry."""
    units = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, unit = part.partition("=")
        if not sep or not name.strip():
            raise UnitError(f"units entry {part.strip()!r} is not of the form name=unit")
        units[name.strip()] = parse_unit(unit, name.strip())
    if not units:
        raise UnitError("no units given (expected entries like 'x=m, t=s')")
    return units


def column_units(units: dict, names, target: str) -> tuple[list, dict]:
    """The dimensions of the input columns ``names`` and of ``target`` from ``units``
    ({name: unit text or dimension}; extra entries are ignored). Raises UnitError naming
    every column without units."""
    missing = [n for n in [*names, target] if n not in units]
    if missing:
        raise UnitError(f"no units for column(s) {', '.join(repr(m) for m in missing)}")
    return [parse_unit(units[n], n) for n in names], parse_unit(units[target], target)
