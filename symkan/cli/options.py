"""The command line's option values, checked by argparse as they are parsed (a bad value
is a usage error in the option's own words, before any file is read or model fitted),
and the options for reading tables (``--sep``, ``--features``, ``--drop``)."""
from __future__ import annotations

import argparse
import math

from ..regressor_checks import (
    MAX_SEED as SEED_LIMIT,  # --seed is the regressor's random_state
)
from .table_files import WHITESPACE

#: --sep names for separators a shell makes awkward to type
SEPARATOR_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "space": WHITESPACE,
                   "whitespace": WHITESPACE}


def version() -> str:
    """symkan's version: the installed distribution's, else the package's own."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("symkan")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


def _positive(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive {what}, not {text!r}")
    return value


def positive_seconds(text: str) -> float:
    return _positive(text, "number of seconds")


def positive_number(text: str) -> float:
    return _positive(text, "number")


def positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def jobs(text: str) -> int:
    """``--jobs``: processes at once, joblib's way (k ≥ 1, or -1 for every core)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, or -1 for every core, not {text!r}")
    return value


def precision(text: str) -> int:
    from ..symbolic.precision import MAX_DIGITS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DIGITS:
        raise argparse.ArgumentTypeError(f"must be a whole number of significant digits from 1 to {MAX_DIGITS}, "
                                         f"not {text!r}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {SEED_LIMIT - 1}, not {text!r}")
    return value


def basis(text: str) -> str:
    from ..bases import available_bases

    if text not in available_bases():
        raise argparse.ArgumentTypeError(f"unknown basis {text!r}; choose one of: {', '.join(available_bases())}")
    return text


def separator(text: str) -> str:
    sep = SEPARATOR_NAMES.get(text.lower(), text)
    if len(sep) != 1 and sep != WHITESPACE or sep in "\"'\n\r":
        raise argparse.ArgumentTypeError(f"must be one character (like ';') or comma, semicolon, tab, space or "
                                         f"whitespace; not {text!r}")
    return sep


def column_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"must be column names separated by commas, not {text!r}")
    return names


def add_table_options(parser: argparse.ArgumentParser, choose_columns: bool) -> None:
    """``--sep`` and, where columns are chosen (``fit``), ``--features`` / ``--drop``."""
    parser.add_argument("--sep", type=separator, metavar="SEP",
                        help="separator of a text table: one character, or comma, semicolon, tab, whitespace "
                             "(default: detected)")
    if not choose_columns:
        return
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--features", type=column_names, action="extend", metavar="A,B,...",
                       help="the input columns (default: every column but the target)")
    which.add_argument("--drop", type=column_names, action="extend", metavar="A,B,...",
                       help="columns to ignore, e.g. text columns or identifiers")
