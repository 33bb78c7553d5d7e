"""What the command line prints and writes after a fit: the report, strict JSON and the
result files of ``--out``."""
from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from ..symbolic.export import equation_latex, equation_text, target_text
from ..symbolic.precision import check_precision, rounded
from ..units.parsing import format_dimension
from .options import version
from .streaming import write_text_atomic

log = logging.getLogger("symkan.cli")
#: resolution of every PNG the command writes
PNG_DPI = 150


def to_json(info, indent=None) -> str:
    """info as strict JSON: floats that are not finite become null (with a warning)."""
    bad = []

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            bad.append(v)
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    text = json.dumps(clean(info), indent=indent, allow_nan=False)
    if bad:
        log.warning("%d value(s) are not finite (inf or nan); written as null in the JSON output", len(bad))
    return text


def precision_of(args):
    """The digits of the printed formulas: ``--precision N`` (checked: ValueError for a
    number out of range), else "auto" (the digits the held-out data support)."""
    return "auto" if getattr(args, "precision", None) is None else check_precision(args.precision)


def plain_data(value):
    """value as JSON data: containers and numbers as themselves, numpy scalars as Python's,
    any other object (a ``RandomState``) as its repr."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return repr(value)


def front_rows(model, precision="auto") -> list[dict]:
    """The front's rows (:meth:`ParetoFront.rows`: complexity, loss, r2, equation — every
    digit —, best, consistent with units), each with ``text`` and ``latex``: the equation
    ``y = ...`` with its constants rounded as ``precision`` says."""
    rows = model.front_.rows()
    for row, entry in zip(rows, model.front_):
        formula = entry.formula
        expr = rounded(formula.expr, precision, formula.digits)
        row["text"] = equation_text(model.target_name_, expr)
        row["latex"] = equation_latex(model.target_name_, expr, formula.names, formula.variables)
    return rows


def summary(model, precision="auto") -> dict:
    """What ``--json`` prints and ``result.json`` holds: the best formula (``formula``:
    every digit, as formula.txt; ``equation`` and ``latex``: ``y = ...`` rounded as
    ``precision`` says), the variables, target, units, seed, symkan version, the
    estimator's parameters and the whole front."""
    return {"formula": str(model.sympy()), "equation": model.equation(precision=precision),
            "latex": model.latex(precision=precision), "target": str(model.target_name_),
            "variables": [str(n) for n in model.names_],
            "symbols": {n: str(s) for n, s in zip(model.names_, model.symbols_)},
            "complexity": int(model.best_.complexity),
            "loss": float(model.best_.loss), "r2_validation": float(model.best_.r2),
            "validation": getattr(model, "validation_", "held-out"),
            "equations": front_rows(model, precision), "seconds": round(float(model.fit_seconds_), 2),
            "precision": precision, "seed": plain_data(model.seed_), "version": version(),
            "parameters": plain_data(model.get_params(deep=False)),
            "evaluations": getattr(model, "fit_evaluations_", None),
            **({} if getattr(model, "y_units_", None) is None else {"units": {
                **{n: format_dimension(u) for n, u in zip(model.names_, model.X_units_)},
                model.target_name_: format_dimension(model.y_units_)}})}


def write_outputs(model, out: Path, precision="auto") -> list[str]:
    """The result files of ``--out``: formula.txt (the best formula, every digit),
    formula.tex (its equation, rounded as ``precision`` says, with units), equations.csv,
    model, network.png and result.json (:func:`summary` with the file list)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "formula.txt").write_text(str(model.sympy()) + "\n")
    (out / "formula.tex").write_text(model.latex(units=True, precision=precision) + "\n")
    write_text_atomic(out / "equations.csv", model.front_.to_csv())  # over the front written as the search went
    model.save(out / "model")
    model.plot().savefig(out / "network.png", dpi=PNG_DPI)
    model.plot_front().savefig(out / "front.png", dpi=PNG_DPI)
    files = [str(out / n) for n in ("formula.txt", "formula.tex", "equations.csv", "model", "network.png",
                                    "front.png", "result.json")]
    (out / "result.json").write_text(to_json({**summary(model, precision), "files": files}, indent=2) + "\n")
    return files


def target_dir(out: Path, name: str, k: int) -> Path:
    """The result folder of target k: its name when that is a plain file name, else target<k>."""
    return out / (name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) else f"target{k}")


def write_target_outputs(model, out: Path, precision="auto") -> list[str]:
    """The result files of a fit of several targets, each target's in its own folder."""
    return [f for k, (name, est) in enumerate(zip(model.target_names_, model.estimators_))
            for f in write_outputs(est, target_dir(out, name, k), precision)]


def report_targets(model, args, files):
    """The report of a fit of several targets: each target's report (JSON: under
    ``"targets"``, by name)."""
    if args.json:
        precision = precision_of(args)
        info = {"targets": {name: summary(est, precision) for name, est in zip(model.target_names_,
                                                                                model.estimators_)}}
        if files:
            info["files"] = files
        print(to_json(info, indent=2))
        return
    for k, (name, est) in enumerate(zip(model.target_names_, model.estimators_)):
        if k:
            print()
        print(f"=== target {name} ({k + 1} of {model.n_targets_}) ===")
        report_fit(est, args, [])
    if files:
        print("\nwrote: " + ", ".join(files))


def report_fit(model, args, files, true_formula=None):
    from ..symbolic.names import rename_note, renamed

    precision = precision_of(args)
    if args.json:
        info = summary(model, precision)
        if files:
            info["files"] = files
        if true_formula is not None:
            info["true_formula"] = true_formula
        print(to_json(info, indent=2))
        return
    if true_formula is not None:
        print(f"true formula:  {target_text(model.target_name_)} = {true_formula}")
    print(f"best formula:  {model.equation(precision=precision)}")
    note = rename_note(renamed(model.names_, model.symbols_))
    if note:
        print(note)
    validation = getattr(model, "validation_", "held-out")  # small data: cross-validated
    label = "validation R²:" if validation == "held-out" else "cross-validated R²:"
    print(f"{label} {model.best_.r2:.9f}   complexity: {model.best_.complexity}   "
          f"time: {model.fit_seconds_:.1f} s")
    if getattr(model, "y_units_", None) is not None:
        units = ", ".join(f"{n} [{format_dimension(u)}]" for n, u in zip(model.names_, model.X_units_))
        print(f"units:         {model.target_name_} [{format_dimension(model.y_units_)}] from {units}; "
              f"the best formula is {'' if model.best_.consistent else 'NOT '}dimensionally consistent")
    print(f"\nPareto front ({validation} loss vs complexity):")
    print(model.front_.table())
    if files:
        print("\nwrote: " + ", ".join(files))
