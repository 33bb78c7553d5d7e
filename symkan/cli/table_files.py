"""Reading a table file into pandas cells, whatever its format: text with a header row
(``.csv``, ``.tsv``, ``.txt``, any other name; separator sniffed among comma, semicolon,
tab and whitespace, or forced), Excel ``.xlsx`` (needs openpyxl) and ``.parquet`` (needs
pyarrow). Every reader returns a :class:`RawTable`: the cells as read, one row per
non-blank data row, and where each row is in the file (its line in a text file, its row
in a spreadsheet), so that messages about a cell can point at it.

Nothing is decided about numbers here: which columns must be numeric depends on the
command (:mod:`symkan.cli.tabular`).
"""
from __future__ import annotations

import csv
import importlib
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: pandas' separator for "runs of spaces and tabs"
WHITESPACE = r"\s+"
#: the separators a text table is sniffed for, in the order ties are broken
SNIFFED = (",", ";", "\t")
SNIFF_BYTES = 1 << 16
SNIFF_ROWS = 20
#: extension -> (reader package, format name) of the binary formats
BINARY_FORMATS = {".parquet": ("pyarrow", "Parquet"), ".xlsx": ("openpyxl", "Excel"), ".xlsm": ("openpyxl", "Excel")}


@dataclass
class RawTable:
    """``frame``: (n_rows, n_columns) cells (numbers, stripped text, NaN where empty) under
    the header's names as written; ``places``: (n_rows,) the line or row of each row in the
    file; ``unit``: "line" (text files) or "row" (spreadsheets, Parquet);
    ``decimal_comma``: text cells like "1,5" mean 1.5 (semicolon-separated text)."""

    frame: pd.DataFrame
    places: np.ndarray
    unit: str
    decimal_comma: bool = False


def read_raw(path: Path, sep: str | None = None) -> RawTable:
    """The cells of a table file; ValueError (naming the file and, when known, the line)
    for a file that is not a table, and for a format whose reader is not installed."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path)
    if suffix == ".xls":
        raise ValueError(f"{str(path)!r}: the old Excel format .xls is not read; save the sheet as .xlsx or .csv")
    return _read_text(path, sep)


def require_reader(suffix: str):
    """The reader package of a binary format, imported; ValueError naming it when missing."""
    package, kind = BINARY_FORMATS[suffix]
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ValueError(f"reading {kind} files ({suffix}) needs the Python package {package!r}, which is not "
                         f"installed: pip install {package}") from None


# --- text ---------------------------------------------------------------------------------
def _read_text(path: Path, sep: str | None) -> RawTable:
    sample, encoding, cut = _sample(path)
    lines = sample.splitlines()[: -1 if cut else None]  # the last line of a cut sample may be cut too
    leading = next((k for k, line in enumerate(lines) if line.strip()), None)
    if leading is None:
        raise ValueError(f"{str(path)!r} is empty")
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(lines[leading:])
    # a semicolon table is how spreadsheets with decimal commas write CSV: 1,5 is 1.5 there
    options = {"sep": sep, "skiprows": leading, "encoding": encoding, "skip_blank_lines": False,
               "index_col": False, "decimal": "," if sep == ";" else "."}
    try:
        names = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **options).iloc[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header
            frame = pd.read_csv(path, header=0, **options)
    except pd.errors.ParserWarning:
        raise ValueError(f"{str(path)!r}: the rows have more cells than the header has names "
                         f"({len(names)}); is the separator {_describe(sep)} right? (--sep sets it)") from None
    except pd.errors.ParserError as err:
        raise ValueError(_parser_message(path, err)) from None
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not UTF-8 text after its first {SNIFF_BYTES // 1024} KiB; "
                         f"save it as UTF-8") from None
    frame.columns = [str(n) for n in names]
    header_lines = 1 + sum(str(n).count("\n") for n in names)
    # a row takes one line, plus one per line break inside its quoted text cells
    breaks = sum((frame.iloc[:, k].str.count("\n").fillna(0).to_numpy(int) for k in _text_columns(frame)),
                 np.zeros(len(frame), int))
    places = leading + header_lines + 1 + np.arange(len(frame)) + np.cumsum(breaks) - breaks
    return _tidy(RawTable(frame, places, "line", decimal_comma=sep == ";"))


def _sample(path: Path) -> tuple[str, str, bool]:
    """The first bytes of the file as text, the encoding to read it with (UTF-8, whose
    byte-order mark, as Excel writes one, is not part of the first name; else Latin-1),
    and whether the file goes on after the sample."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES + 1)
    cut, head = len(head) > SNIFF_BYTES, head[:SNIFF_BYTES]
    if b"\0" in head:
        raise ValueError(f"{str(path)!r} is not a text table (it holds binary data); symkan reads CSV/TSV/TXT "
                         f"text, .xlsx and .parquet files")
    try:
        return head.decode("utf-8-sig"), "utf-8-sig", cut
    except UnicodeDecodeError as err:
        if cut and err.start >= len(head) - 3:  # a character cut at the end of the sample
            return head[: err.start].decode("utf-8-sig"), "utf-8-sig", cut
        return head.decode("latin-1"), "latin-1", cut


def sniff_separator(lines: list[str]) -> str:
    """The separator of a text table from its first lines (header first): of comma,
    semicolon and tab, the one that splits the header into the most names with every
    sampled row as long; else whitespace if it does so; else the one that splits the
    header most (the parser then names the row that does not fit); comma for one column."""
    rows = [line for line in lines if line.strip()][:SNIFF_ROWS]
    consistent, widths = {}, {}
    for sep in SNIFFED:
        try:
            counts = [len(cells) for cells in csv.reader(rows, delimiter=sep)]
        except csv.Error:
            continue
        widths[sep] = counts[0]
        if counts[0] > 1 and len(set(counts)) == 1:
            consistent[sep] = counts[0]
    if consistent:
        return max(consistent, key=consistent.get)  # max keeps the first of equals
    spaced = {len(row.split()) for row in rows}
    if len(spaced) == 1 and spaced.pop() > 1:
        return WHITESPACE
    widest = max(widths, key=widths.get, default=",")
    return widest if widths.get(widest, 1) > 1 else ","


def _describe(sep: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", WHITESPACE: "whitespace"}.get(sep, repr(sep))


def _parser_message(path: Path, err: Exception) -> str:
    text = str(err)
    too_long = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if too_long:
        header, line, cells = too_long.groups()
        return f"{str(path)!r} line {line}: {cells} cells, but the header has {header}"
    open_quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if open_quote:
        line = int(open_quote.group(1)) + 1
        return (f"{str(path)!r} line {line}: unterminated quote (a quoted field of the row starting on line "
                f"{line} never closes)")
    return f"{str(path)!r}: malformed table ({text.strip().splitlines()[-1]})"


# --- binary formats -----------------------------------------------------------------------
def _read_parquet(path: Path) -> RawTable:
    require_reader(".parquet")
    try:
        frame = pd.read_parquet(path, engine="pyarrow").reset_index(drop=True)
    except (ValueError, OSError) as err:
        raise ValueError(f"{str(path)!r} is not a readable Parquet file ({_first_line(err)})") from None
    frame.columns = [str(c) for c in frame.columns]
    return _tidy(RawTable(frame, np.arange(1, len(frame) + 1), "row"))


def _read_excel(path: Path) -> RawTable:
    """The first sheet; its first non-blank row is the header."""
    require_reader(path.suffix.lower())
    try:
        cells = pd.read_excel(path, header=None, sheet_name=0, engine="openpyxl")
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as err:  # KeyError: a zip that is no workbook
        raise ValueError(f"{str(path)!r} is not a readable Excel file ({_first_line(err)})") from None
    sheet = _tidy(RawTable(cells.reset_index(drop=True), np.arange(1, len(cells) + 1), "row"))
    if sheet.frame.empty:
        raise ValueError(f"{str(path)!r} is empty")
    frame = sheet.frame.iloc[1:].reset_index(drop=True)
    frame.columns = ["" if pd.isna(v) else str(v) for v in sheet.frame.iloc[0]]
    return RawTable(frame, sheet.places[1:], "row")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# --- common -------------------------------------------------------------------------------
def _text_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the columns that hold text (names may repeat: the caller reports it)."""
    return [k for k, dtype in enumerate(frame.dtypes) if pd.api.types.is_object_dtype(dtype) or
            pd.api.types.is_string_dtype(dtype)]


def _tidy(raw: RawTable) -> RawTable:
    """Text cells stripped (blank ones are empty), rows with no cell left removed."""
    frame = raw.frame.copy()
    for k in _text_columns(frame):
        frame.isetitem(k, frame.iloc[:, k].map(lambda v: (v.strip() or np.nan) if isinstance(v, str) else v))
    keep = ~frame.isna().all(axis=1).to_numpy()
    return RawTable(frame[keep].reset_index(drop=True), raw.places[keep], raw.unit, raw.decimal_comma)
