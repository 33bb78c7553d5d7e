"""The units of a fit's columns, checked, and their dimensional analysis."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping

from .analysis import DimensionalAnalysis, NoReference, analyse
from .parsing import UnitError, format_dimension, parse_unit


@dataclass(frozen=True)
class FitUnits:
    """``inputs``: one dimension per column (None without units), ``target``: y's;
    ``analysis``: their π groups and y_ref (None without units or when y's units cannot
    be formed from the inputs')."""

    inputs: list | None = None
    target: dict | None = None
    analysis: DimensionalAnalysis | None = None


def fit_units(X_units, y_units, names: list, target: str) -> FitUnits:
    """Parse ``X_units`` (a list, one unit per column, or a mapping {column: unit}) and
    ``y_units`` (one unit) for the columns ``names`` and the target ``target``. Raises
    :class:`.parsing.UnitError` (a ValueError) naming the column for a unit that does not
    parse, a missing column, a list of the wrong length, or only one of the two given;
    warns (once) when y's units cannot be formed from the inputs'."""
    if X_units is None and y_units is None:
        return FitUnits()
    if X_units is None or y_units is None:
        raise UnitError("give both X_units and y_units (units of the inputs and of the target), or neither")
    if isinstance(X_units, Mapping) and not all(isinstance(v, (int, float)) for v in X_units.values()):
        missing = [n for n in names if n not in X_units]
        if missing:
            raise UnitError(f"X_units has no unit for column(s) {', '.join(repr(m) for m in missing)}")
        X_units = [X_units[n] for n in names]
    elif isinstance(X_units, (str, Mapping)) or len(X_units) != len(names):
        count = "one unit" if isinstance(X_units, (str, Mapping)) else f"{len(X_units)} units"
        raise UnitError(f"X_units has {count} for {len(names)} columns: give one per column (a list) or a "
                        f"mapping {{column name: unit}}")
    inputs = [parse_unit(u, n) for u, n in zip(X_units, names)]
    target_dim = parse_unit(y_units, target)
    try:
        analysis = analyse(inputs, target_dim, names)
    except NoReference:
        warnings.warn(f"the units of {target!r} [{format_dimension(target_dim)}] cannot be formed from the inputs' "
                      f"units (a dimensional constant is missing from the table?): searching the inputs as given",
                      UserWarning, stacklevel=3)
        analysis = None
    return FitUnits(inputs, target_dim, analysis)
