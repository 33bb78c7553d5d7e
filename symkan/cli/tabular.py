"""Tables for the command line: a file as it comes (:mod:`symkan.cli.table_files` reads
CSV/TSV/TXT with any usual separator, .xlsx and .parquet with pandas), and the numbers a
command needs from it, with errors that name the problem.

Only the columns a command uses must be numeric: ``fit`` the target and its inputs (every
other column, or those of ``--features``, minus those of ``--drop``), ``predict`` the
model's inputs; other columns, text included, are ignored. A used column with text in it
is reported with a cell and the option that skips it; empty cells and "nan" in a used
column are reported as missing values with their lines, infinite values with theirs.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..checks import existing_file
from .table_files import RawTable, read_raw

#: cells shown in messages are cut to this many characters
SHOWN_CHARS = 24


@dataclass
class Table:
    """The cells of a table file (:class:`~symkan.cli.table_files.RawTable`) and its name
    for messages; numbers are taken out column by column (:meth:`numeric`)."""

    path: str
    raw: RawTable

    @property
    def columns(self) -> list[str]:
        return list(self.raw.frame.columns)

    def column(self, name: str) -> np.ndarray:
        """(n_rows,) float64 values of one numeric column."""
        return self.numeric([name])[:, 0]

    def numeric(self, names, hint=None) -> np.ndarray:
        """(n_rows, len(names)) float64 values of these columns; ValueError for a column
        with text (``hint(bad_names)`` says how to skip it), an infinite value or missing values."""
        names = list(names)
        self._known(names, "column")
        converted = {n: self._numbers(n) for n in names}
        text = [(n, bad) for n, (_, bad) in converted.items() if bad is not None]
        if text:
            raise ValueError(self._not_numeric(text, hint))
        values = np.column_stack([converted[n][0] for n in names]) if names else np.empty((len(self.raw.frame), 0))
        infinite = np.isinf(values)
        if infinite.any():
            row, col = np.argwhere(infinite)[0]
            raise ValueError(f"{self.path!r}: column {names[col]!r} has an infinite value on {self._at(row)}")
        missing = np.isnan(values)
        if missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            cols = [n for n, gap in zip(names, missing.any(axis=0)) if gap]
            shown = ", ".join(str(self.raw.places[r]) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
            raise ValueError(f"{self.path!r} has missing or NaN values on {len(rows)} {self.raw.unit}(s): {shown} "
                             f"(column{'s' if len(cols) > 1 else ''} {', '.join(map(repr, cols))}); "
                             f"remove or fill those rows")
        return values

    def split_target(self, target: str, features=None, drop=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(X, y, input names) with ``target`` as y; the inputs are ``features`` (in their
        order) if given, else every other column not in ``drop``."""
        if target not in self.columns:
            raise ValueError(f"target column {target!r} not found; columns are: {', '.join(self.columns)}")
        self._known(features or [], "--features: column")
        self._known(drop or [], "--drop: column")
        if target in (drop or []):
            raise ValueError(f"--drop names the target column {target!r}; --target sets the column to explain")
        if features:
            if target in features:
                raise ValueError(f"--features names the target column {target!r}; list only the input columns")
            names = list(dict.fromkeys(features))
        else:
            names = [c for c in self.columns if c != target and c not in (drop or [])]
        if not names:
            raise ValueError(f"the table has only the target column {target!r}; no input columns to fit" if not drop
                             else f"--drop leaves no input columns besides the target {target!r}")
        _, text_at = self._numbers(target)
        if text_at is not None:  # reported without the options that skip inputs
            raise ValueError(self._not_numeric([(target, text_at)], hint=None))
        hint = _leave_out_with_features if features else lambda bad: _drop_or_choose(bad, drop or [])
        values = self.numeric([*names, target], hint=hint)
        return values[:, :-1], values[:, -1], names

    # --- helpers ----------------------------------------------------------------------------
    def _known(self, names, what: str) -> None:
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise ValueError(f"{what} {unknown[0]!r} not found in {self.path!r}; columns are: {', '.join(self.columns)}")

    def _numbers(self, name: str) -> tuple[np.ndarray | None, int | None]:
        """(values, None), or (None, the position of a cell that is not a number)."""
        cells = self.raw.frame[name]
        dtype = cells.dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            return cells.to_numpy(dtype=float, na_value=np.nan), None
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            return None, int(np.argmax(cells.notna().to_numpy()))  # booleans, dates: not numbers
        numbers = pd.to_numeric(cells, errors="coerce")
        bad = (numbers.isna() & cells.notna()).to_numpy()
        if bad.any() and self.raw.decimal_comma:
            numbers[bad] = pd.to_numeric(cells[bad].astype(str).str.replace(",", ".", regex=False), errors="coerce")
            bad = (numbers.isna() & cells.notna()).to_numpy()
        if bad.any():
            return None, int(np.argmax(bad))
        return numbers.to_numpy(dtype=float, na_value=np.nan), None

    def _at(self, row: int) -> str:
        return f"{self.raw.unit} {self.raw.places[row]}"

    def _not_numeric(self, text: list[tuple[str, int]], hint) -> str:
        def cell(name, row):
            value = str(self.raw.frame[name].iloc[row])
            shown = value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 4] + "..."
            return f"{self._at(row)} has {shown!r}"

        names = [n for n, _ in text]
        if len(text) == 1:
            message = f"{self.path!r}: column {names[0]!r} is not numeric ({cell(*text[0])})"
        else:
            message = (f"{self.path!r}: columns are not numeric: "
                       + ", ".join(f"{n!r} ({cell(n, row)})" for n, row in text))
        return message + (f"; {hint(names)}" if hint else "")


def _drop_or_choose(bad: list[str], dropped: list[str]) -> str:
    """The hint for input columns with text: the --drop that skips them and those already dropped."""
    return (f"drop {'it' if len(bad) == 1 else 'them'} with --drop {shlex.quote(','.join([*dropped, *bad]))} "
            f"or choose the inputs with --features")


def _leave_out_with_features(names: list[str]) -> str:
    return f"leave {'it' if len(names) == 1 else 'them'} out of --features"


def read_csv(path, *, min_rows: int = 1, sep: str | None = None) -> Table:
    """Read a table file (text with a header row, .xlsx, .parquet) into a :class:`Table`;
    ``sep`` forces the separator of a text file (else it is sniffed)."""
    path = existing_file(path, "file", "table file")
    raw = read_raw(path, sep)
    name = str(path)
    header = list(raw.frame.columns)
    # columns with neither a name nor a value: trailing separators, blank sheet columns
    keep = [k for k, h in enumerate(header) if h.strip() or raw.frame.iloc[:, k].notna().any()]
    frame = raw.frame.iloc[:, keep].set_axis([header[k].strip() for k in keep], axis=1)
    raw = RawTable(frame, raw.places, raw.unit, raw.decimal_comma)
    header = list(frame.columns)
    if not all(header):
        raise ValueError(f"{name!r}: the header row has an empty column name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ValueError(f"{name!r}: duplicate column names {dupes}")
    if len(raw.frame) < min_rows:
        raise ValueError(f"{name!r} has {len(raw.frame)} data row(s); at least {min_rows} are needed")
    return Table(name, raw)


def write_csv(path, columns: list[str], values: np.ndarray) -> None:
    """Numbers as a CSV file, each as Python writes it (shortest text that reads back the same)."""
    frame = pd.DataFrame(np.asarray(values, dtype=float).reshape(len(values), -1), columns=columns)
    frame.to_csv(path, index=False, na_rep="nan")
