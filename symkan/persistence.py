"""Atomic, versioned model files.

A model file is a ``torch.save`` archive of plain data only (tensors, numbers, strings,
lists, dicts), so it loads with ``torch.load(weights_only=True)`` — no pickled code runs
on load. It is written to a temporary file in the target directory, flushed to disk and
renamed over the target, so a crash never leaves a torn file behind. Formulas go in as
plain data (:mod:`symkan.functions.expression_data`).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
        # mkstemp creates the file 0600; give it the mode open() gives other outputs
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
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
        text = str(err)
        if "weights only load failed" in text.lower() or "weights_only" in text:
            # torch's message advises weights_only=False, i.e. running the file's code: never
            reason = "it holds Python objects other than plain data, which symkan never loads"
        else:
            reason = f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"
        raise ValueError(f"cannot read model file {str(path)!r}: it is truncated or not a symkan model "
                         f"({reason})") from None
    if not isinstance(data, dict) or data.get("magic") != MAGIC:
        raise ValueError(f"{str(path)!r} is not a symkan model file")
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{str(path)!r} is a corrupt or incompatible symkan model file (its format version "
                         f"is {'missing' if version is None else repr(version)})")
    if version > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} was written by a newer symkan (model format {version}); this "
                         f"version reads format {FORMAT_VERSION} and older — upgrade symkan to load it")
    return data
