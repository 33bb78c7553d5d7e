"""Atomic, checksummed, versioned model files.

A model file is a ``torch.save`` archive of plain data only (tensors, numbers, strings,
lists, dicts), so it loads with ``torch.load(weights_only=True)`` — no pickled code runs
on load. It carries a SHA-256 checksum of its payload (:func:`payload_checksum`), so a
file damaged after it was written is refused. Formulas go in as plain data
(:mod:`symkan.functions.expression_data`).

A save writes a temporary file ``.NAME.symkan-PID-HOST-XXXXXXXX.tmp`` in the target's
directory, flushes it to disk and renames it over the target: whenever the writer is
killed, the target is the previous complete file or the new one, never a torn one. A
kill can leave the temporary file; the next save or load in that directory removes it
(:func:`remove_stale_temporaries`).

Format versions: 1 (no checksum; still read) and 2 (every file has ``checksum``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import struct
import tempfile
import time
import warnings
from pathlib import Path

import torch

from .checks import existing_file

log = logging.getLogger(__name__)

#: bump when the layout of the saved payload changes incompatibly (2: checksum added)
FORMAT_VERSION = 2
MAGIC = "symkan-model"
#: the payload entry holding "sha256:<hex>" of every other entry
CHECKSUM_KEY = "checksum"
#: a temporary file untouched for this long is removed whoever wrote it (a live writer
#: writes it continuously and renames it within seconds)
STALE_TEMP_SECONDS = 3600.0
_TEMP_NAME = re.compile(r"^\..*\.symkan-(?P<pid>[0-9]+)-(?P<host>[0-9a-f]{8})-[A-Za-z0-9_]+\.tmp$", re.DOTALL)


def write_atomically(path: Path, write, binary: bool = True) -> None:
    """Write a file through a temporary file in its directory: ``write(fh)`` fills it, it
    is flushed to disk and renamed over ``path``, so a reader sees the old file or the
    new one, never a torn one; on any failure the temporary file is removed."""
    parent = path.parent if str(path.parent) else Path(".")
    # the name says who writes it, so that cleaning up never removes a live writer's file
    prefix = f".{path.name[:40]}.symkan-{os.getpid()}-{host_tag()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
    try:
        # mkstemp creates the file 0600; give it the mode open() gives other outputs
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_payload(path, payload: dict) -> Path:
    """Write ``payload`` (plain data + tensors), with the magic, format version and
    checksum added, to ``path`` atomically. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot save a model to {str(path)!r}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot save a model to {str(path)!r}: directory {str(parent)!r} does not exist")
    remove_stale_temporaries(parent)
    data = {"magic": MAGIC, "format_version": FORMAT_VERSION, **payload}
    data[CHECKSUM_KEY] = payload_checksum(data)
    write_atomically(path, lambda fh: torch.save(data, fh))
    _fsync_directory(parent)  # the rename itself survives a power cut
    return path


def load_payload(path, *, verify: bool = True) -> dict:
    """Read a file written by :func:`save_payload` onto the CPU.

    Raises ValueError for a missing, truncated or foreign file, for files written by a
    newer format version and (``verify``) for a file whose content does not match its
    checksum. ``verify=False`` leaves the checksum to the caller
    (:func:`verify_checksum`), who may validate the content first.
    """
    path = existing_file(path, "model file", "model file")
    remove_stale_temporaries(path.parent if str(path.parent) else Path("."))
    try:
        with warnings.catch_warnings():  # a damaged header makes torch ask users to report a bug
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
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
    if verify:
        verify_checksum(data, path)
    return data


def verify_checksum(data: dict, path) -> None:
    """ValueError unless ``data`` (a payload of ``path``) matches the checksum stored in
    it; files of format 1 have none and pass."""
    if data["format_version"] < 2:
        log.debug("%s: model format 1 has no checksum", path)
        return
    stored = data.get(CHECKSUM_KEY)
    try:
        actual = payload_checksum(data)
    except (TypeError, ValueError, RecursionError):
        actual = None
    if not isinstance(stored, str) or stored != actual:
        raise ValueError(f"{str(path)!r} is a corrupt symkan model file: its content does not match the "
                         f"SHA-256 checksum stored in it ({'missing' if stored is None else 'mismatch'}) — it "
                         f"was damaged or edited after it was written")


def payload_checksum(data: dict) -> str:
    """``"sha256:<hex>"`` of a canonical serialisation of every entry of ``data`` except
    ``checksum``: type-tagged and length-prefixed values, dict keys sorted, tensors as
    dtype, shape and raw bytes — the same for a payload and its ``torch.load`` copy.
    TypeError for values other than plain data and tensors."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in data.items() if k != CHECKSUM_KEY})
    return "sha256:" + digest.hexdigest()


def _feed(digest, value) -> None:
    if value is None:
        digest.update(b"N")
    elif isinstance(value, bool):
        digest.update(b"T" if value else b"F")
    elif isinstance(value, int):
        raw = value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True)
        digest.update(b"i%d:" % len(raw) + raw)
    elif isinstance(value, float):
        digest.update(b"f" + struct.pack("<d", value))
    elif isinstance(value, (str, bytes)):
        raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        digest.update((b"s%d:" if isinstance(value, str) else b"b%d:") % len(raw) + raw)
    elif isinstance(value, (list, tuple)):
        digest.update((b"l%d:" if isinstance(value, list) else b"t%d:") % len(value))
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        digest.update(b"d%d:" % len(value))
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().resolve_conj().resolve_neg().contiguous().reshape(-1)
        digest.update(f"x{t.dtype}{tuple(value.shape)}:".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        raise TypeError(f"a model payload holds plain data and tensors only, not {type(value).__name__}")


def remove_stale_temporaries(directory) -> list[Path]:
    """Remove the temporary files that saves into ``directory`` left behind when they were
    killed: files named like this module's own temporaries
    (``.NAME.symkan-PID-HOST-XXXXXXXX.tmp``) whose writer process is gone (written on this
    host, PID no longer running) or that nobody touched for :data:`STALE_TEMP_SECONDS`.
    A live writer's file (this host, PID running) is kept; so is every other file. Never
    raises (an unreadable directory or a file removed meanwhile is skipped). Returns the
    paths removed."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    removed, now, host = [], time.time(), host_tag()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            writer_gone = match["host"] == host and not _process_alive(int(match["pid"]))
            if writer_gone or age > STALE_TEMP_SECONDS:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # removed by another process meanwhile, or a read-only directory
            continue
    if removed:
        log.info("removed %d temporary file(s) left by interrupted saves in %s", len(removed), directory)
    return removed


def host_tag() -> str:
    """8 hex digits naming this machine, so PIDs are only compared on the host they belong to."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (True when it cannot be told)."""
    if pid <= 0:
        return False  # no writer has such a PID (and os.kill(0) would signal our own group)
    if os.name == "nt":
        return True  # os.kill would terminate it: rely on the file's age there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False
    except OSError:  # EPERM: it exists, owned by another user
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported for directories (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
