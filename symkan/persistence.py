"""Atomic, versioned model files.

A model file is a ``torch.save`` archive of plain data only (tensors, numbers, strings,
lists, dicts), so it loads with ``torch.load(weights_only=True)`` — no pickled code runs
on load. It is written to a temporary file in the target directory, flushed to disk and
renamed over the target, so a crash never leaves a torn file behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sympy
import torch

#: bump when the layout of the saved payload changes incompatibly
FORMAT_VERSION = 1
MAGIC = "symkan-model"


def save_payload(path, payload: dict) -> Path:
    """Write ``payload`` (plain data + tensors) to ``path`` atomically. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot save a model to {str(path)!r}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot save a model to {str(path)!r}: directory {str(parent)!r} does not exist")
    data = {"magic": MAGIC, "format_version": FORMAT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def load_payload(path) -> dict:
    """Read a file written by :func:`save_payload` onto the CPU.

    Raises ValueError for a missing, truncated or foreign file and for files written by
    a newer format version.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a model file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — a corrupt archive can fail anywhere inside the unpickler
        raise ValueError(f"cannot read model file {str(path)!r}: it is truncated or not a symkan model "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(data, dict) or data.get("magic") != MAGIC:
        raise ValueError(f"{str(path)!r} is not a symkan model file")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} was written by a newer symkan (model format {version}); this "
                         f"version reads format {FORMAT_VERSION} and older — upgrade symkan to load it")
    return data


# --- sympy expressions as plain data ---------------------------------------------------
# A formula is stored as a nested list (operator name, arguments...) rather than as
# source text, so loading never evaluates code: only sympy classes from an allow-list
# (arithmetic and sympy's elementary functions) can be constructed.
_CONSTANTS = {"pi": sympy.pi, "E": sympy.E, "nan": sympy.nan, "oo": sympy.oo, "-oo": -sympy.oo,
              "zoo": sympy.zoo, "I": sympy.I, "EulerGamma": sympy.EulerGamma}


def expr_to_data(expr) -> list:
    """A sympy expression as nested lists of strings (see :func:`expr_from_data`)."""
    expr = sympy.sympify(expr)
    if expr.is_Symbol:
        return ["S", expr.name]
    if expr.is_Integer:
        return ["I", str(int(expr))]
    if expr.is_Rational:
        return ["Q", str(expr.p), str(expr.q)]
    if expr.is_Float:
        return ["F", repr(float(expr))]
    for name, const in _CONSTANTS.items():
        if expr == const:
            return ["C", name]
    if not expr.args:
        raise ValueError(f"cannot store the sympy atom {expr!r}")
    return ["f", type(expr).__name__, *[expr_to_data(a) for a in expr.args]]


def _allowed(name: str):
    cls = getattr(sympy, name, None)
    if isinstance(cls, type) and issubclass(cls, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function)):
        return cls
    raise ValueError(f"unsupported operation {name!r} in a stored formula")


def expr_from_data(data, names) -> sympy.Expr:
    """Inverse of :func:`expr_to_data`; symbols are created by name (plain, no assumptions)
    and must be among ``names``."""
    if not isinstance(data, list) or not data:
        raise ValueError("malformed stored formula")
    kind = data[0]
    if kind == "S":
        if data[1] not in names:
            raise ValueError(f"stored formula uses an unknown variable {data[1]!r}")
        return sympy.Symbol(data[1])
    if kind == "I":
        return sympy.Integer(int(data[1]))
    if kind == "Q":
        return sympy.Rational(int(data[1]), int(data[2]))
    if kind == "F":
        return sympy.Float(float(data[1]))
    if kind == "C":
        if data[1] not in _CONSTANTS:
            raise ValueError(f"unknown constant {data[1]!r} in a stored formula")
        return _CONSTANTS[data[1]]
    if kind == "f":
        cls = _allowed(data[1])
        args = [expr_from_data(a, names) for a in data[2:]]
        return cls(*args, evaluate=False)
    raise ValueError(f"malformed stored formula (tag {kind!r})")
