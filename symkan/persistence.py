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

import sympy
import torch

from .functions.expression_data import expr_from_data, expr_to_data

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


# ======================================================================================
# The model file of a fitted SymKANRegressor: which estimator attributes are stored
# under which payload fields (the layout of FORMAT_VERSION 1), and back.
# ======================================================================================
#: what a payload of the wrong shape raises while it is read back
_LAYOUT_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError)


def save_model(est, path) -> Path:
    """Write the fitted estimator ``est`` (params, network weights and config, space
    transform, formulas, custom library functions, diagram sample) to ``path``
    atomically (:func:`save_payload`). Returns the path."""
    from .functions.library import custom_functions

    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in est.get_params(deep=False).items()}
    space, model = est.space_, est.model_
    payload = {
        "params": params,
        "names": list(est.names_),
        "symbols": [str(s) for s in est.symbols_],
        "feature_names_in": None if not hasattr(est, "feature_names_in_") else
        [str(n) for n in est.feature_names_in_],
        "n_features_in": int(est.n_features_in_),
        "network_space": space.name,
        "output_sign": float(space.sign),
        "target_name": str(est.target_name_),
        "seed": est.seed_,
        "transforms": {"input_shift": torch.as_tensor(space.input_shift), "input_scale":
                       torch.as_tensor(space.input_scale), "output_shift": float(space.output_shift),
                       "output_scale": float(space.output_scale)},
        "model_config": model.config(),
        "model_state": {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
                        for k, v in model.state_dict().items()},
        "model_dtype": str(next(iter(model.parameters())).dtype).replace("torch.", ""),
        "equations": [{"complexity": int(e.complexity), "loss": float(e.loss), "nmse": float(e.nmse),
                       "expr": expr_to_data(e.formula.expr)} for e in est.equations_],
        "best_index": int(est.best_index_),
        "custom_functions": custom_functions(),
        "plot_sample": torch.as_tensor(est.plot_sample_),
        "attempts": est.attempts_,
        "fit_seconds": float(est.fit_seconds_),
    }
    return save_payload(path, payload)


def load_model(cls, path):
    """An estimator of class ``cls`` restored from a file written by :func:`save_model`
    (onto the CPU), through ``cls(**params)`` and the pickle protocol's ``__setstate__``.

    Raises ValueError for a missing, truncated, foreign, corrupt or incompatible file
    and for a custom function that conflicts with one registered in this session.
    Loading runs no code from the file."""
    from .functions.library import restore_custom_functions

    data = load_payload(path)
    try:
        restore_custom_functions(data.get("custom_functions") or {})
    except ValueError as err:
        raise ValueError(f"refusing to load {str(path)!r}: {err}") from None
    try:
        params = dict(data["params"])
        if isinstance(params.get("complexity_weights"), list):
            params["complexity_weights"] = tuple(params["complexity_weights"])
        est = cls(**params)
        est.__setstate__(_fitted_state(data, params))
        return est
    except _LAYOUT_ERRORS as err:
        detail = f"missing entry {err}" if isinstance(err, KeyError) else str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"{str(path)!r} is a corrupt or incompatible symkan model file "
                         f"({type(err).__name__}: {detail})") from None


def _fitted_state(data: dict, params: dict) -> dict:
    """The fitted attributes (``names_``, ``model_``, ``equations_`` ...) a payload holds."""
    import numpy as np

    from .discovery.spaces import SpaceTransform
    from .nn import KAN
    from .pareto import ParetoEntry, ParetoFront
    from .symbolic.formula import Formula
    from .symbolic.names import variable_symbols

    names = [str(n) for n in data["names"]]
    symbols = variable_symbols(names)
    # the symbol names the file's formulas use (files before "symbols" used the column
    # names), renamed to this version's safe names
    stored = [str(n) for n in data.get("symbols") or names]
    if len(stored) != len(names) or len(set(stored)) != len(stored):
        raise ValueError(f"the model's symbols {stored} do not match its variable names {names}")
    to_safe = dict(zip(map(sympy.Symbol, stored), symbols))
    entries = [ParetoEntry(int(row["complexity"]), float(row["loss"]), float(row["nmse"]),
                           Formula(expr_from_data(row["expr"], stored).xreplace(to_safe), symbols,
                                   float(row["loss"]), names=names))
               for row in data["equations"]]
    if not entries:
        raise ValueError("the model has no formulas")
    front = ParetoFront.from_ordered(entries)
    dtype = data["model_dtype"]
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unsupported network dtype {dtype!r}")
    model = KAN.from_config(data["model_config"]).to(getattr(torch, dtype))
    model.load_state_dict(data["model_state"])
    model.eval()
    n_features = int(data["n_features_in"])
    if n_features != len(names) or model.n_inputs != len(names):
        raise ValueError(f"the model has {len(names)} variable names, {n_features} features and a "
                         f"network of {model.n_inputs} inputs")
    t = data["transforms"]
    state = {
        "names_": names, "n_features_in_": n_features, "target_name_":
        str(data.get("target_name", params.get("target_name") or "y")), "seed_": data.get("seed"),
        "space_": SpaceTransform(str(data.get("network_space", "linear")), t["input_shift"].numpy(),
                                 t["input_scale"].numpy(), float(t["output_shift"]), float(t["output_scale"]),
                                 float(data.get("output_sign", 1.0))),
        "equations_": front, "best_index_": int(data["best_index"]), "model_": model,
        "attempts_": list(data["attempts"]), "plot_sample_": data["plot_sample"].numpy(),
        "fit_seconds_": float(data["fit_seconds"]),
    }
    state["best_"] = front[state["best_index_"]]
    if data["feature_names_in"] is not None:
        state["feature_names_in_"] = np.asarray(data["feature_names_in"], dtype=object)
    return state
