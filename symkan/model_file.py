"""The model file of a fitted SymKANRegressor: which estimator attributes are stored
under which payload fields, and back. The file itself (atomic write, checksum,
versions) is :mod:`symkan.persistence`'s."""
from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import sympy
import torch

from .functions.bounds import check_expression_cost
from .functions.expression_data import expr_from_data, expr_to_data
from .persistence import load_payload, save_payload, verify_checksum
from .symbolic.precision import digits_from_data, digits_to_data

#: what a payload of the wrong shape raises while it is read back
_LAYOUT_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError, ArithmeticError,
                  SyntaxError)


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
        "groups": None if space.groups is None else torch.as_tensor(space.groups, dtype=torch.float64),
        "reference": None if space.reference is None else torch.as_tensor(space.reference, dtype=torch.float64),
        "units": None if getattr(est, "y_units_", None) is None else
        {"inputs": [_unit_data(u) for u in est.X_units_], "target": _unit_data(est.y_units_)},
        "model_config": model.config(),
        "model_state": {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
                        for k, v in model.state_dict().items()},
        "model_dtype": str(next(iter(model.parameters())).dtype).replace("torch.", ""),
        "equations": [{"complexity": int(e.complexity), "loss": float(e.loss), "nmse": float(e.nmse),
                       "expr": _storable(e.formula.expr), "consistent": e.consistent,
                       "digits": digits_to_data(e.formula.digits)} for e in est.front_],
        "best_index": int(est.best_index_),
        "custom_functions": custom_functions(),
        "plot_sample": torch.as_tensor(est.plot_sample_),
        "attempts": est.attempts_,
        "fit_seconds": float(est.fit_seconds_),
        "fit_evaluations": getattr(est, "fit_evaluations_", None),
        "validation": getattr(est, "validation_", "held-out"),
    }
    return save_payload(path, payload)


def _unit_data(dim: dict) -> dict:
    """A dimension {base: Fraction} as plain data {base: "p/q"}."""
    return {str(k): str(v) for k, v in dim.items()}


def _read_unit(dim: dict) -> dict:
    return {str(k): Fraction(str(v)) for k, v in dict(dim).items()}


def _units_state(units) -> dict:
    """``X_units_``/``y_units_`` of a payload's "units" entry (None: fitted without)."""
    if units is None:
        return {"X_units_": None, "y_units_": None}
    return {"X_units_": [_read_unit(d) for d in units["inputs"]], "y_units_": _read_unit(units["target"])}


def _storable(expr) -> list:
    """``expr`` as plain data, after checking that a load will accept it (a file that
    cannot be read back is never written)."""
    try:
        check_expression_cost(expr)
    except ValueError as err:
        raise ValueError(f"cannot save the formula {str(expr)[:80]}: {err}") from None
    return expr_to_data(expr)


def load_model(cls, path):
    """An estimator of class ``cls`` restored from a file written by :func:`save_model`
    (onto the CPU), through ``cls(**params)`` and the pickle protocol's ``__setstate__``.

    Raises ValueError for a missing, truncated, foreign, corrupt or incompatible file,
    for a formula whose evaluation would not be bounded
    (:func:`symkan.functions.bounds.check_expression_cost`) and for a custom function that
    conflicts with one registered in this session. Loading runs no code from the file.
    The content is validated first (so a hand-edited file is told what is wrong), then
    the checksum is compared; a file refused for any reason leaves the function library
    as it was (its custom functions are registered only while it is read)."""
    from .functions.library import restore_custom_functions, unregister_functions

    data = load_payload(path, verify=False)
    try:
        added = restore_custom_functions(data.get("custom_functions") or {})
    except ValueError as err:
        raise ValueError(f"refusing to load {str(path)!r}: {err}") from None
    try:
        est = _estimator(cls, data, path)
        verify_checksum(data, path)
    except BaseException:
        unregister_functions(added)
        raise
    return est


def _estimator(cls, data: dict, path):
    """The estimator a payload describes; ValueError naming what is wrong with it."""
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


def _stored_names(data: dict) -> list[str]:
    """The variable names of a payload: as many distinct, non-blank strings as features
    (what fit accepts), else ValueError — duplicates would make the formula's callable
    invalid Python."""
    names, n_features = data["names"], data["n_features_in"]
    if isinstance(n_features, bool) or not isinstance(n_features, int):
        raise ValueError(f"the number of features is {n_features!r}")
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"the variable names must be a list of non-empty strings, got {str(names)[:200]}")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"the variable names repeat {repeated}: each column needs its own name")
    feature_names = data["feature_names_in"]
    if n_features != len(names) or (feature_names is not None and (
            not isinstance(feature_names, list) or len(feature_names) != n_features
            or not all(isinstance(n, str) for n in feature_names))):
        raise ValueError(f"the model has {len(names)} variable names, {n_features} features and feature "
                         f"names {str(feature_names)[:200]}")
    return names


def _check_network_size(config: dict, state: dict) -> None:
    """Refuse a network configuration much larger than the weights stored with it (a
    crafted width or grid size would allocate gigabytes before the weights are compared):
    every layer stores several numbers per edge, and every integer option (grid size,
    degree ...) sizes a stored tensor."""
    from .nn.kan import parse_width

    stored = sum(t.numel() for t in state.values() if isinstance(t, torch.Tensor))
    specs = parse_width(config["width"], config.get("mult_arity", 2))
    edges = max(a.n_nodes * b.n_subnodes for a, b in itertools.pairwise(specs))
    sizes = [v for opts in config.get("layer_options") or [] for v in dict(opts).values()
             if isinstance(v, int) and not isinstance(v, bool)]
    if edges > stored or max(sizes, default=0) > stored:
        raise ValueError(f"the network configuration (width {config['width']}, sizes {sizes}) is larger than "
                         f"the {stored} weights stored for it")


def _fitted_state(data: dict, params: dict) -> dict:
    """The fitted attributes (``names_``, ``model_``, ``front_`` ...) a payload holds."""
    import numpy as np

    from .discovery.spaces import SpaceTransform
    from .nn import KAN
    from .pareto import ParetoEntry, ParetoFront
    from .symbolic.formula import Formula
    from .symbolic.names import variable_symbols

    names = _stored_names(data)
    symbols = variable_symbols(names)
    # the symbol names the file's formulas use (files before "symbols" used the column
    # names), renamed to this version's safe names
    stored = [str(n) for n in data.get("symbols") or names]
    if len(stored) != len(names) or len(set(stored)) != len(stored):
        raise ValueError(f"the model's symbols {stored} do not match its variable names {names}")
    to_safe = dict(zip(map(sympy.Symbol, stored), symbols))
    entries = [ParetoEntry(int(row["complexity"]), float(row["loss"]), float(row["nmse"]),
                           Formula(expr_from_data(row["expr"], stored).xreplace(to_safe), symbols,
                                   float(row["loss"]), names=names, digits=digits_from_data(row.get("digits"))),
                           row.get("consistent"))
               for row in data["equations"]]
    if not entries:
        raise ValueError("the model has no formulas")
    front = ParetoFront.from_ordered(entries)
    dtype = data["model_dtype"]
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unsupported network dtype {dtype!r}")
    _check_network_size(data["model_config"], data["model_state"])
    model = KAN.from_config(data["model_config"]).to(getattr(torch, dtype))
    model.load_state_dict(data["model_state"])
    model.eval()
    n_features = len(names)
    groups, reference = (None if data.get(k) is None else data[k].numpy() for k in ("groups", "reference"))
    if groups is not None and (groups.ndim != 2 or groups.shape[1] != n_features):
        raise ValueError(f"the model's input groups have shape {tuple(groups.shape)}, for {n_features} variables")
    if model.n_inputs != (n_features if groups is None else groups.shape[0]):
        raise ValueError(f"the model has {n_features} variable names and a network of {model.n_inputs} inputs")
    t = data["transforms"]
    state = {
        "names_": names, "n_features_in_": n_features, "target_name_":
        str(data.get("target_name", params.get("target_name") or "y")), "seed_": data.get("seed"),
        "space_": SpaceTransform(str(data.get("network_space", "linear")), t["input_shift"].numpy(),
                                 t["input_scale"].numpy(), float(t["output_shift"]), float(t["output_scale"]),
                                 float(data.get("output_sign", 1.0)), groups, reference),
        "front_": front, "best_index_": int(data["best_index"]), "model_": model,
        "attempts_": list(data["attempts"]), "plot_sample_": data["plot_sample"].numpy(),
        "fit_seconds_": float(data["fit_seconds"]), "fit_evaluations_": data.get("fit_evaluations"),
        "validation_": str(data.get("validation", "held-out")),
        **_units_state(data.get("units")),
    }
    state["best_"] = front[state["best_index_"]]
    if data["feature_names_in"] is not None:
        state["feature_names_in_"] = np.asarray(data["feature_names_in"], dtype=object)
    return state
