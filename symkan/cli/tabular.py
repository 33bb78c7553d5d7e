"""Reading numeric CSV tables for the command line, with errors that name the problem.

pandas is not a dependency of symkan, so this is a small reader on top of the csv
module: a header row, then numbers. Empty cells and "nan" are reported as missing
values with their row numbers; any other non-number is reported with its column.
Quotes are read strictly: a quote that never closes is reported with the line of its
row (not read as one long last row), and so is a field over the csv module's size limit
(no number is that long; the limit is left as it is).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import existing_file


@dataclass
class Table:
    """A numeric table: ``columns`` (names) and ``values`` (n_rows, n_columns) float64."""

    columns: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]

    def split_target(self, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(X, y, feature names) with ``target`` as y and every other column as a feature."""
        if target not in self.columns:
            raise ValueError(f"target column {target!r} not found; columns are: {', '.join(self.columns)}")
        names = [c for c in self.columns if c != target]
        if not names:
            raise ValueError(f"the table has only the target column {target!r}; no input columns to fit")
        X = self.values[:, [self.columns.index(c) for c in names]]
        return X, self.column(target), names


def read_csv(path, *, min_rows: int = 1) -> Table:
    """Read a CSV file with a header row and numeric cells into a :class:`Table`."""
    path = existing_file(path, "file", "CSV file")
    numbered = _read_rows(path)
    if not numbered:
        raise ValueError(f"{str(path)!r} is empty")
    lines, rows = [n for n, _ in numbered], [row for _, row in numbered]
    header = [h.strip() for h in rows[0]]
    if any(not h for h in header):
        raise ValueError(f"{str(path)!r}: the header row has an empty column name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ValueError(f"{str(path)!r}: duplicate column names {dupes}")
    body = rows[1:]
    if len(body) < min_rows:
        raise ValueError(f"{str(path)!r} has {len(body)} data row(s); at least {min_rows} are needed")
    values = np.empty((len(body), len(header)))
    missing: list[int] = []
    for r, row in enumerate(body):
        line = lines[r + 1]
        if len(row) != len(header):
            raise ValueError(f"{str(path)!r} line {line}: {len(row)} cells, but the header has {len(header)}")
        for c, cell in enumerate(row):
            text = cell.strip()
            try:
                value = float(text) if text else math.nan
            except ValueError:
                raise ValueError(f"{str(path)!r}: column {header[c]!r} is not numeric "
                                 f"(line {line} has {text!r})") from None
            if math.isinf(value):
                raise ValueError(f"{str(path)!r}: column {header[c]!r} has an infinite value on line {line}")
            if math.isnan(value) and (not missing or missing[-1] != line):
                missing.append(line)
            values[r, c] = value
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{str(path)!r} has missing or NaN values on {len(missing)} line(s): {shown}; "
                         f"remove or fill those rows")
    return Table(header, values)


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV file with the (1-based) line each starts on; ValueError
    naming the line for text that is not CSV (an unclosed quote, an oversized field)."""
    numbered, line = [], 1
    try:
        # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first name
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            for row in reader:
                if any(cell.strip() for cell in row):
                    numbered.append((line, row))
                line = reader.line_num + 1
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not a text CSV file") from None
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            raise ValueError(f"{str(path)!r} line {line}: unterminated quote (a quoted field of the row "
                             f"starting on line {line} never closes)") from None
        if "field larger than field limit" in str(err):
            raise ValueError(f"{str(path)!r} line {line}: a field longer than {csv.field_size_limit()} "
                             f"characters; a numeric table has no such cell") from None
        raise ValueError(f"{str(path)!r} line {line}: malformed CSV ({err})") from None
    return numbered


def write_csv(path, columns: list[str], values: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in np.asarray(values):
            writer.writerow([repr(float(v)) for v in np.atleast_1d(row)])
