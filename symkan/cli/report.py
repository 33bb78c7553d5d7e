"""What the command line prints and writes after a fit: the report, strict JSON and the
result files of ``--out``."""
from __future__ import annotations

import json
import logging
import math
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
            "validation": getattr(model, "validation_", "held-out"),
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
