"""The Pareto front of found formulas (complexity vs loss), like PySR's ``equations_``.

Each candidate formula is scored on held-out data; the front keeps, for every
complexity, the formula with the lowest loss, and drops any formula that a simpler one
matches or beats. :meth:`ParetoFront.best_index` picks the reported formula by one of
three documented rules (``SELECTION_RULES``: "best", "accuracy", "score"; the
estimator's ``model_selection``), :meth:`ParetoFront.scores` gives PySR's score of each
formula, :meth:`ParetoFront.latex_table` a LaTeX table of the front. Equations print in the formulas' symbols (the safe names of
:mod:`symkan.symbolic.names`); ``repr`` adds one line with the renamed columns.
"""
from __future__ import annotations

import csv
import io
import math
import numbers
from dataclasses import dataclass
from typing import Iterable

import sympy

from .symbolic.names import rename_note
from .symbolic.precision import rounded

#: A formula is "as good as the best" when its normalised loss is within this factor
#: of the lowest one (or within BEST_ATOL of it, for noise-free data where the lowest
#: loss is ~0).
BEST_RTOL = 1.5
BEST_ATOL = 1e-9
#: a normalised loss below this is exact to float64 round-off: when the front has such a
#: formula, only those qualify (a stand-in at 1e-11, tan near its pole for 1/(1 − x),
#: is accurate but not the law)
ROUND_OFF = 1e-18
#: the rules of :meth:`ParetoFront.best_index` (PySR's ``model_selection`` names)
SELECTION_RULES = ("best", "accuracy", "score")
#: the columns :meth:`ParetoFront.latex_table` can show
LATEX_COLUMNS = ("equation", "complexity", "loss", "score", "r2")


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
    simpler one. Index it like a list; ``repr`` prints a table. ``model_selection``
    (one of ``SELECTION_RULES``) is the rule :meth:`best_index` applies by default and the
    one that marks the ``best`` row of :meth:`rows`, :meth:`table` and the files."""

    def __init__(self, entries: Iterable[ParetoEntry] = (), model_selection: str = "best"):
        self.entries: list[ParetoEntry] = pareto_filter(entries)
        self.model_selection = check_rule(model_selection)

    @classmethod
    def from_ordered(cls, entries: Iterable[ParetoEntry], model_selection: str = "best") -> "ParetoFront":
        """A front from entries that already form one, in order (as a model file stores
        them): kept as given, not filtered again."""
        front = cls(model_selection=model_selection)
        front.entries = list(entries)
        return front

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index) -> ParetoEntry:
        return self.entries[index]

    def __iter__(self):
        return iter(self.entries)

    def scores(self) -> list[float]:
        """PySR's score of each formula, in front order: −Δlog(loss)/Δcomplexity against
        the previous (simpler) entry — the accuracy each unit of complexity buys —, 0 for
        the first. Computed on ``nmse`` (the loss over the held-out target's variance, the
        same divisor for every formula, so the log differences are those of ``loss``),
        floored at ``ROUND_OFF``: an exact formula gets a finite score, and a formula
        after an exact one scores 0. Entries not in complexity order (a hand-made
        ``from_ordered`` front) score 0."""
        logs = [math.log(max(e.nmse, ROUND_OFF)) for e in self.entries]
        out = [0.0] * len(self.entries)
        for k in range(1, len(self.entries)):
            step = self.entries[k].complexity - self.entries[k - 1].complexity
            out[k] = (logs[k - 1] - logs[k]) / step if step > 0 else 0.0
        return out

    def best_index(self, rule: str | None = None) -> int:
        """The index of the chosen formula under ``rule`` (default: ``model_selection``).

        Each rule first narrows the front to its candidates, then — with units — to the
        dimensionally consistent candidates if there are any, then picks one:

        - ``"best"`` (the default): candidates are the formulas whose normalised held-out
          loss (1 − R²) is within ``BEST_RTOL``× (or ``BEST_ATOL``) of the lowest on the
          front — or, when a formula is exact to round-off (``ROUND_OFF``), only those;
          the pick is the simplest. Accuracy first, then parsimony: a tiny loss gain
          never buys a much longer formula, and an accurate stand-in never beats the
          exact law. It is a parsimony rule like PySR's "best", which differs in that it
          takes the highest :meth:`scores` (not the simplest) among the formulas within
          1.5× of the lowest loss, and has neither the ``BEST_ATOL`` margin nor the
          round-off and units rules that symkan's exact recovery relies on.
        - ``"accuracy"``: candidates are the formulas with the lowest loss (every formula
          exact to round-off ties); the pick is the simplest.
        - ``"score"``: every formula is a candidate; the pick has the highest
          :meth:`scores` (PySR's "score"; ties: the simplest).
        """
        rule = self.model_selection if rule is None else check_rule(rule)
        if not self.entries:
            raise ValueError("the Pareto front is empty")
        if rule == "score":
            candidates = list(range(len(self.entries)))
        else:
            lowest = min(e.nmse for e in self.entries)
            if lowest < ROUND_OFF:
                limit = ROUND_OFF
            else:
                limit = max(BEST_RTOL * lowest, lowest + BEST_ATOL) if rule == "best" else lowest
            candidates = [k for k, e in enumerate(self.entries) if e.nmse <= limit]
        candidates = [k for k in candidates if self.entries[k].consistent] or candidates
        if rule == "score":
            score = self.scores()
            return max(candidates, key=lambda k: (score[k], -k))
        return candidates[0]  # sorted by complexity: the simplest

    def renamed(self) -> dict[str, str]:
        """{symbol name: column name} of the renamed variables of the front's formulas."""
        mapping: dict[str, str] = {}
        for entry in self.entries:
            mapping.update(getattr(entry.formula, "renamed", {}))
        return mapping

    def rows(self) -> list[dict]:
        """One dict per formula: complexity, loss, r2, score, equation, best (the formula
        :meth:`best_index` picks) and, with units, consistent."""
        best = self.best_index() if self.entries else -1
        rows = []
        for k, (entry, score) in enumerate(zip(self.entries, self.scores())):
            row = entry.as_row()
            rows.append({"complexity": row.pop("complexity"), "loss": row.pop("loss"), "r2": row.pop("r2"),
                         "score": score, "equation": row.pop("equation"), "best": k == best, **row})
        return rows

    def _columns(self) -> list[str]:
        units = any(e.consistent is not None for e in self.entries)
        return ["complexity", "loss", "r2", "score", "equation", "best"] + (["consistent"] if units else [])

    def to_csv(self, path=None) -> str:
        """Write (or return) the front as CSV: the columns of :meth:`rows`."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self._columns())
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
        return pd.DataFrame(rows, columns=self._columns() + ["sympy_format"])

    def table(self) -> str:
        """The front as a text table (the best formula marked ``->``), each formula's
        constants with the digits its held-out data support (``Formula.digits``; the CSV
        and :meth:`rows` keep every digit)."""
        if not self.entries:
            return "ParetoFront(empty)"
        units = any(e.consistent is not None for e in self.entries)
        lines = [f"{'':2}{'complexity':>10}  {'loss':>10}  {'score':>8}  {'R²':>12}  " + ("units  " if units else "")
                 + "equation"]
        for row, entry in zip(self.rows(), self.entries):
            mark = "->" if row["best"] else ""
            ok = ("ok     " if row.get("consistent") else "wrong  ") if units else ""
            lines.append(f"{mark:2}{row['complexity']:>10}  {row['loss']:>10.3g}  {row['score']:>8.3g}  "
                         f"{row['r2']:>12.9f}  {ok}{_shown(entry.formula)}")
        return "\n".join(lines)

    def latex_table(self, indices=None, precision: int = 3, columns=("equation", "complexity", "loss")) -> str:
        """The front as a complete LaTeX table (a ``table`` float around a booktabs
        ``tabular``: needs ``\\usepackage{booktabs}``), one row per formula in front order.

        ``indices``: which formulas (ints, negative ones count from the end; default all);
        ``precision``: significant digits of the numbers; ``columns``: any of
        ``LATEX_COLUMNS`` in the order given. The chosen formula (:meth:`best_index`) is
        marked ``$\\star$`` in a first column. Equations are typeset in math mode with the
        formulas' own LaTeX (column names, :meth:`symkan.symbolic.Formula.latex`)."""
        picked = self._indices(indices)
        columns = check_columns(columns)
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
            raise ValueError(f"precision must be an integer >= 1, got {precision!r}")
        best, score = self.best_index(), self.scores()
        cells = {"equation": lambda k: f"${self.entries[k].formula.latex()}$",
                 "complexity": lambda k: str(self.entries[k].complexity),
                 "loss": lambda k: latex_number(self.entries[k].loss, precision),
                 "score": lambda k: latex_number(score[k], precision),
                 "r2": lambda k: latex_number(self.entries[k].r2, precision)}
        heads = {"equation": "Equation", "complexity": "Complexity", "loss": "Loss", "score": "Score",
                 "r2": "$R^2$"}
        align = "".join("l" if c == "equation" else "r" for c in columns)
        lines = [r"\begin{table}[h]", r"\centering", rf"\begin{{tabular}}{{@{{}}c{align}@{{}}}}", r"\toprule",
                 " & ".join(["", *(heads[c] for c in columns)]) + r" \\", r"\midrule"]
        for k in picked:
            mark = r"$\star$" if k == best else ""
            lines.append(" & ".join([mark, *(cells[c](k) for c in columns)]) + r" \\")
        rule = self.model_selection.replace("_", r"\_")
        lines += [r"\bottomrule", r"\end{tabular}",
                  rf"\caption{{Pareto front of the formulas found (held-out loss); $\star$: the formula chosen "
                  rf"by the rule ``{rule}''.}}", r"\end{table}"]
        return "\n".join(lines)

    def _indices(self, indices) -> list[int]:
        """Front positions of ``indices`` (None: all), negative ones counted from the end."""
        if indices is None:
            return list(range(len(self.entries)))
        n = len(self.entries)
        out = []
        for index in indices:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -n <= index < n:
                raise ValueError(f"indices must be integers in [-{n}, {n}), got {index!r}")
            out.append(int(index) % n)
        return out

    def __repr__(self) -> str:
        """:meth:`table`, then the renamed columns (if any) once."""
        note = rename_note(self.renamed())
        return self.table() + (f"\n{note}" if note else "")


def check_rule(rule) -> str:
    """``rule`` if it is one of ``SELECTION_RULES``, else ValueError naming them."""
    if not isinstance(rule, str) or rule not in SELECTION_RULES:
        raise ValueError(f"model_selection must be one of {', '.join(map(repr, SELECTION_RULES))}, got {rule!r}")
    return rule


def check_columns(columns) -> list[str]:
    """``columns`` as a list of ``LATEX_COLUMNS`` names (at least one), else ValueError."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    bad = [c for c in columns if c not in LATEX_COLUMNS]
    if not columns or bad:
        raise ValueError(f"columns must be a non-empty list of {', '.join(map(repr, LATEX_COLUMNS))}, got {columns!r}")
    return columns


def latex_number(value: float, precision: int) -> str:
    """``value`` with ``precision`` significant digits in LaTeX math: 0.0123,
    $1.23 \\times 10^{-5}$, $\\infty$."""
    if math.isnan(value):
        return r"$\mathrm{NaN}$"
    if math.isinf(value):
        return r"$\infty$" if value > 0 else r"$-\infty$"
    text = f"{value:.{precision}g}"
    mantissa, _, exponent = text.partition("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$" if exponent else f"${text}$"


def _shown(formula) -> str:
    """A formula's text for tables: floats rounded to the digits the data support."""
    expr = formula.expr
    if not isinstance(expr, sympy.Expr):
        return str(expr)
    return str(rounded(expr, "auto", getattr(formula, "digits", None)))


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
