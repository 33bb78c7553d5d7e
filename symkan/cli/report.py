"""What the command line prints and writes after a fit: the report, strict JSON and the
result files of ``--out``."""
from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

from ..units.parsing import format_dimension

log = logging.getLogger("symkan.cli")


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


def summary(model) -> dict:
    return {"formula": str(model.sympy()), "latex": model.latex(),
            "symbols": {n: str(s) for n, s in zip(model.names_, model.symbols_)},
            "complexity": int(model.best_.complexity),
            "loss": float(model.best_.loss), "r2_validation": float(model.best_.r2),
            "equations": model.front_.rows(), "seconds": round(float(model.fit_seconds_), 2),
            **({} if getattr(model, "y_units_", None) is None else {"units": {
                **{n: format_dimension(u) for n, u in zip(model.names_, model.X_units_)},
                model.target_name_: format_dimension(model.y_units_)}})}


def write_outputs(model, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "formula.txt").write_text(str(model.sympy()) + "\n")
    (out / "formula.tex").write_text(model.latex(units=True) + "\n")
    model.front_.to_csv(out / "equations.csv")
    model.save(out / "model")
    fig = model.plot()
    fig.savefig(out / "network.png", dpi=150)
    return [str(out / n) for n in ("formula.txt", "formula.tex", "equations.csv", "model", "network.png")]


def target_dir(out: Path, name: str, k: int) -> Path:
    """The result folder of target k: its name when that is a plain file name, else target<k>."""
    return out / (name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) else f"target{k}")


def write_target_outputs(model, out: Path) -> list[str]:
    """The result files of a fit of several targets, each target's in its own folder."""
    return [f for k, (name, est) in enumerate(zip(model.target_names_, model.estimators_))
            for f in write_outputs(est, target_dir(out, name, k))]


def report_targets(model, args, files):
    """The report of a fit of several targets: each target's report (JSON: under
    ``"targets"``, by name)."""
    if args.json:
        info = {"targets": {name: summary(est) for name, est in zip(model.target_names_, model.estimators_)}}
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

    if args.json:
        info = summary(model)
        if files:
            info["files"] = files
        if true_formula is not None:
            info["true_formula"] = true_formula
        print(to_json(info, indent=2))
        return
    if true_formula is not None:
        print(f"true formula:  {true_formula}")
    print(f"best formula:  {model.sympy()}")
    note = rename_note(renamed(model.names_, model.symbols_))
    if note:
        print(note)
    print(f"validation R²: {model.best_.r2:.9f}   complexity: {model.best_.complexity}   "
          f"time: {model.fit_seconds_:.1f} s")
    if getattr(model, "y_units_", None) is not None:
        units = ", ".join(f"{n} [{format_dimension(u)}]" for n, u in zip(model.names_, model.X_units_))
        print(f"units:         {model.target_name_} [{format_dimension(model.y_units_)}] from {units}; "
              f"the best formula is {'' if model.best_.consistent else 'NOT '}dimensionally consistent")
    print("\nPareto front (held-out loss vs complexity):")
    print(model.front_.table())
    if files:
        print("\nwrote: " + ", ".join(files))
