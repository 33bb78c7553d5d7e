"""Atomic, versioned model files.

A model file is a ``torch.save`` archive of plain data only (tensors, numbers, strings,
lists, dicts), so it loads with ``torch.load(weights_only=True)`` — no pickled code runs
on load. It is written to a temporary file in the target directory, flushed to disk and
renamed over the target, so a crash never leaves a torn file behind.
"""
from __future__ import annotations

import ast
import math
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
    from .symbolic.library import custom_functions

    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in est.get_params(deep=False).items()}
    space, model = est.space_, est.model_
    payload = {
        "params": params,
        "names": list(est.names_),
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
    from .symbolic.library import restore_custom_functions

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

    names = [str(n) for n in data["names"]]
    symbols = [sympy.Symbol(n) for n in names]
    entries = [ParetoEntry(int(row["complexity"]), float(row["loss"]), float(row["nmse"]),
                           Formula(expr_from_data(row["expr"], names), symbols, float(row["loss"])))
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


# ======================================================================================
# end of the model file layout
# ======================================================================================


# --- sympy expressions as plain data ---------------------------------------------------
# A formula is stored as a nested list (operator name, arguments...) rather than as
# source text, so loading never evaluates code: only sympy classes from an allow-list
# (arithmetic and sympy's elementary functions) can be constructed.
_CONSTANTS = {"pi": sympy.pi, "E": sympy.E, "nan": sympy.nan, "oo": sympy.oo, "-oo": -sympy.oo,
              "zoo": sympy.zoo, "I": sympy.I, "EulerGamma": sympy.EulerGamma}


def expr_to_data(expr) -> list:
    """A sympy expression as nested lists of strings (see :func:`expr_from_data`)."""
    expr = sympy.sympify(expr, strict=True)  # sympy objects and numbers only, never text
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
    """The sympy class ``name`` if a stored formula may construct it: Add, Mul, Pow and
    the functions of ``sympy.functions`` (elementary and special functions) — not
    ``sympy.Function`` itself (undefined functions) nor any other sympy class."""
    cls = getattr(sympy, name, None)
    if isinstance(cls, type) and (cls in (sympy.Add, sympy.Mul, sympy.Pow) or (
            issubclass(cls, (sympy.Function, sympy.Min, sympy.Max))
            and cls.__module__.startswith("sympy.functions."))):
        return cls
    raise ValueError(f"unsupported operation {name!r} in a stored formula")


#: a power of two numbers is evaluated exactly by sympy: keep exact results this small
#: (digits), so that a crafted file or expression cannot make loading hang
_MAX_EXACT_DIGITS = 5000


def _check_numeric_pow(base, exponent) -> None:
    """Refuse a power of two exact numbers whose exact value would be huge (10**10**9)."""
    if not (getattr(base, "is_Rational", False) and getattr(exponent, "is_Rational", False)):
        return
    if max(abs(int(exponent.p)), abs(int(exponent.q))) > 1000:
        raise ValueError(f"the exponent {exponent} of a number is too large")
    digits = max(len(str(abs(int(base.p)))), len(str(int(base.q))))
    if abs(int(exponent.p)) * digits > _MAX_EXACT_DIGITS:
        raise ValueError(f"the power {base}**{exponent} is too large")


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
        if cls is sympy.Pow and len(args) == 2:
            _check_numeric_pow(*args)
        return cls(*args, evaluate=False)
    raise ValueError(f"malformed stored formula (tag {kind!r})")


# --- expressions from text, without eval ------------------------------------------------
# ``sympy.sympify`` evaluates its input with Python's ``eval``: a string from a model file
# could run any code. :func:`parse_expression` parses with Python's ``ast`` instead and
# builds sympy objects from an allowed set of nodes only.

#: functions a text expression may call (names as sympy's parser knows them)
SAFE_FUNCTIONS = {name: getattr(sympy, name) for name in (
    "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot", "atan2",
    "sinh", "cosh", "tanh", "coth", "sech", "csch", "asinh", "acosh", "atanh",
    "exp", "log", "ln", "sqrt", "cbrt", "Abs", "sign", "Min", "Max", "floor", "ceiling",
    "erf", "erfc", "Heaviside")}
SAFE_FUNCTIONS["abs"] = sympy.Abs
#: named constants a text expression may use
SAFE_CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
#: longest text expression accepted
MAX_EXPRESSION_CHARS = 2000

_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: None}


def parse_expression(text: str, variables: dict, *, other_names: bool = False) -> sympy.Expr:
    """Parse ``text`` into a sympy expression without evaluating any code.

    The grammar: integer and decimal numbers, the names in ``variables`` (name -> sympy
    Symbol), the constants ``pi`` and ``E``, ``+ - * / **`` (and ``^`` for ``**``),
    parentheses and calls of the functions in :data:`SAFE_FUNCTIONS` with positional
    arguments. Anything else (attributes, subscripts, strings, keywords, lambdas,
    comprehensions, unknown names) raises ValueError naming it. With ``other_names``
    any other identifier becomes a plain Symbol (for callers that check the free
    symbols themselves).
    """
    if not isinstance(text, str):
        raise ValueError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression is too long ({len(text)} characters; at most {MAX_EXPRESSION_CHARS})")
    text = text.strip().replace("^", "**")  # x^2 means x**2, as in sympify
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as err:
        raise ValueError(f"invalid syntax ({type(err).__name__}: {err})") from None

    def build(node):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"unsupported literal {v!r}")
            if isinstance(v, float):
                if not math.isfinite(v):
                    raise ValueError(f"non-finite number {ast.get_source_segment(text, node) or v!r}")
                return sympy.Float(v)
            return sympy.Integer(v)
        if isinstance(node, ast.Name):
            if node.id in variables:
                return variables[node.id]
            if node.id in SAFE_CONSTANTS:
                return SAFE_CONSTANTS[node.id]
            if other_names:
                return sympy.Symbol(node.id)
            raise ValueError(f"unknown name {node.id!r} (allowed: {', '.join([*variables, *SAFE_CONSTANTS])})")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            arg = build(node.operand)
            return -arg if isinstance(node.op, ast.USub) else arg
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Pow):
                _check_numeric_pow(left, right)
                return left ** right
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in SAFE_FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:60]
                raise ValueError(f"call of {what!r} is not allowed (allowed functions: "
                                 f"{', '.join(sorted(SAFE_FUNCTIONS))})")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or not node.args:
                raise ValueError(f"{node.func.id}() takes plain positional arguments only")
            args = [build(a) for a in node.args]
            try:
                return SAFE_FUNCTIONS[node.func.id](*args)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{node.func.id}{tuple(args)}: {err}") from None
        segment = ast.get_source_segment(text, node) or ast.dump(node)
        raise ValueError(f"unsupported syntax {type(node).__name__} "
                         f"({segment[:60] + ('...' if len(segment) > 60 else '')})")

    try:
        expr = build(tree.body)
    except RecursionError:
        raise ValueError("expression is nested too deeply") from None
    return expr
