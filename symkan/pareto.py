"""The Pareto front of found formulas (complexity vs loss), like PySR's ``equations_``.

Each candidate formula is scored on held-out data; the front keeps, for every
complexity, the formula with the lowest loss, and drops any formula that a simpler one
matches or beats. :meth:`ParetoFront.best_index` picks the reported formula by a
documented rule. Equations print in the formulas' symbols (the safe names of
:mod:`symkan.symbolic.names`); ``repr`` adds one line with the renamed columns.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Iterable

from .symbolic.names import rename_note

#: A formula is "as good as the best" when its normalised loss is within this factor
#: of the lowest one (or within BEST_ATOL of it, for noise-free data where the lowest
#: loss is ~0).
BEST_RTOL = 1.5
BEST_ATOL = 1e-9
#: a normalised loss below this is exact to float64 round-off: when the front has such a
#: formula, only those qualify (a stand-in at 1e-11, tan near its pole for 1/(1 − x),
#: is accurate but not the law)
ROUND_OFF = 1e-18


@dataclass
class ParetoEntry:
    """One formula on the front. ``loss``: mean squared error on the held-out rows in the
    user's units; ``nmse``: that loss divided by the variance of the held-out target
    (1 − R²); ``formula``: a :class:`symkan.symbolic.Formula`; ``consistent``: whether
    its units are the target's with dimensionless constants (None: units not given)."""

    complexity: int
    loss: float
    nmse: float
    formula: object
    consistent: bool | None = None

    @property
    def expr(self):
        return self.formula.expr

    @property
    def r2(self) -> float:
        return 1.0 - self.nmse

    def as_row(self) -> dict:
        row = {"complexity": self.complexity, "loss": self.loss, "r2": self.r2, "equation": str(self.formula.expr)}
        if self.consistent is not None:
            row["consistent"] = self.consistent
        return row


class ParetoFront:
    """Formulas sorted by complexity, each strictly better (lower loss) than every
    simpler one. Index it like a list; ``repr`` prints a table."""

    def __init__(self, entries: Iterable[ParetoEntry] = ()):
        self.entries: list[ParetoEntry] = pareto_filter(entries)

    @classmethod
    def from_ordered(cls, entries: Iterable[ParetoEntry]) -> "ParetoFront":
        """A front from entries that already form one, in order (as a model file stores
        them): kept as given, not filtered again."""
        front = cls()
        front.entries = list(entries)
        return front

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index) -> ParetoEntry:
        return self.entries[index]

    def __iter__(self):
        return iter(self.entries)

    def best_index(self) -> int:
        """The simplest formula whose normalised held-out loss is within ``BEST_RTOL``×
        (or ``BEST_ATOL``) of the lowest on the front — or, when a formula is exact to
        round-off (``ROUND_OFF``), the simplest of those: accuracy first, then parsimony,
        so a tiny loss gain never buys a much longer formula. With units, a dimensionally
        consistent formula among those qualifies first."""
        if not self.entries:
            raise ValueError("the Pareto front is empty")
        lowest = min(e.nmse for e in self.entries)
        limit = ROUND_OFF if lowest < ROUND_OFF else max(BEST_RTOL * lowest, lowest + BEST_ATOL)
        good = [k for k, e in enumerate(self.entries) if e.nmse <= limit]
        consistent = [k for k in good if self.entries[k].consistent]
        return (consistent or good)[0]  # sorted by complexity; the lowest entry qualifies

    def renamed(self) -> dict[str, str]:
        """{symbol name: column name} of the renamed variables of the front's formulas."""
        mapping: dict[str, str] = {}
        for entry in self.entries:
            mapping.update(getattr(entry.formula, "renamed", {}))
        return mapping

    def rows(self) -> list[dict]:
        best = self.best_index() if self.entries else -1
        return [dict(e.as_row(), best=(k == best)) for k, e in enumerate(self.entries)]

    def to_csv(self, path=None) -> str:
        """Write (or return) the front as CSV: complexity, loss, r2, equation, best."""
        buf = io.StringIO()
        units = any(e.consistent is not None for e in self.entries)
        writer = csv.DictWriter(buf, fieldnames=["complexity", "loss", "r2", "equation", "best"]
                                + (["consistent"] if units else []))
        writer.writeheader()
        writer.writerows(self.rows())
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(text)
        return text

    def to_pandas(self):
        """The front as a DataFrame: :meth:`rows` plus ``sympy_format`` (the expressions)."""
        import pandas as pd

        rows = self.rows()
        for row, entry in zip(rows, self.entries):
            row["sympy_format"] = entry.formula.expr
        return pd.DataFrame(rows, columns=None if rows else ["complexity", "loss", "r2", "equation", "best",
                                                               "sympy_format"])

    def table(self) -> str:
        """The front as a text table (the best formula marked ``->``)."""
        if not self.entries:
            return "ParetoFront(empty)"
        units = any(e.consistent is not None for e in self.entries)
        lines = [f"{'':2}{'complexity':>10}  {'loss':>10}  {'R²':>12}  " + ("units  " if units else "") + "equation"]
        for row in self.rows():
            mark = "->" if row["best"] else ""
            ok = ("ok     " if row.get("consistent") else "wrong  ") if units else ""
            lines.append(f"{mark:2}{row['complexity']:>10}  {row['loss']:>10.3g}  {row['r2']:>12.9f}  {ok}"
                         f"{row['equation']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """:meth:`table`, then the renamed columns (if any) once."""
        note = rename_note(self.renamed())
        return self.table() + (f"\n{note}" if note else "")


def pareto_filter(entries: Iterable[ParetoEntry]) -> list[ParetoEntry]:
    """Entries not dominated by a simpler (or equally complex) entry with lower or equal
    loss, sorted by complexity. Non-finite losses are dropped."""
    finite = [e for e in entries if math.isfinite(e.loss) and math.isfinite(e.nmse)]
    finite.sort(key=lambda e: (e.complexity, e.loss))
    front: list[ParetoEntry] = []
    for entry in finite:
        if not front or entry.loss < front[-1].loss:
            if front and front[-1].complexity == entry.complexity:
                continue  # same complexity, sorted by loss: the first one is better
            front.append(entry)
    return front
