"""The ``symkan`` command line.

    symkan fit data.csv --target y [--out DIR] [--basis B] [--time-budget S] [--seed N]
    symkan predict DIR/model data.csv [--out predictions.csv]
    symkan plot DIR/model [--out network.png]
    symkan demo

Every command takes ``--json`` (machine-readable output on stdout), ``--quiet`` (no
progress bar) and ``--verbose`` (log the stages). Problems with the input or the files
(bad CSV, unreadable or corrupt model, an output path that cannot be written, a search
that finds no formula) end in a one-line ``error: ...`` on stderr and exit code 2;
``--verbose`` adds the traceback. Anything else is a bug in symkan and shows its
traceback (exit code 1).

Formulas are printed in the symbols of :mod:`symkan.symbolic.names`: a column whose
name would print ambiguously (``E``, ``pi``, ``x-1``, ``c d`` ...) appears under a safe
name (``E_``, ``pi_``, ``x_1``, ``c_d``), shown once below the best formula (and under
``"symbols"`` of ``--json``: column name -> symbol). ``formula.txt`` holds the formula's
text, which ``sympy.sympify`` reads back as the same function. ``--json`` output is
strict JSON: a value that is not finite (a prediction of inf or nan) is written as null,
with a warning on stderr.

``python -m symkan.cli`` runs the same command (``__main__.py``); the CSV reader is
:mod:`symkan.cli.tabular`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import traceback
from pathlib import Path

from ..checks import existing_file
from ..units.parsing import format_dimension

EXIT_BAD_INPUT = 2

log = logging.getLogger(__name__)

#: the built-in dataset of ``symkan demo``: name, rows, seed
DEMO_EQUATION = "exp_sin"


class CLIError(Exception):
    """A problem to report in one line."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--verbose", action="store_true", help="log the stages (to stderr)")

    p = argparse.ArgumentParser(prog="symkan", description="Symbolic regression with Kolmogorov-Arnold Networks.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fit,predict,plot,demo}")

    f = sub.add_parser("fit", parents=[common], help="discover a formula for one column of a CSV file",
                       description="Fit y = f(other columns) and print the best formula and the Pareto front.")
    f.add_argument("csv", help="CSV file with a header row and numeric columns")
    f.add_argument("--target", required=True, help="name of the column to explain")
    f.add_argument("--out", help="directory for formula.txt, formula.tex, equations.csv, model, network.png")
    f.add_argument("--units", metavar="FILE|SPEC",
                   help="units of the columns: a units CSV (first column the variable, numeric columns the "
                        "exponents of base dimensions, as in the AI-Feynman units.csv) or inline text like "
                        "\"x=m, t=s, y=m/s\"; every input column and the target need one (docs/units.md)")
    _add_fit_options(f)

    pr = sub.add_parser("predict", parents=[common], help="evaluate a saved model on a CSV file")
    pr.add_argument("model", help="model file written by 'symkan fit --out DIR' (DIR/model)")
    pr.add_argument("csv", help="CSV file with the model's input columns (extra columns are ignored)")
    pr.add_argument("--out", help="write predictions to this CSV file instead of stdout")

    pl = sub.add_parser("plot", parents=[common], help="draw the network diagram of a saved model")
    pl.add_argument("model", help="model file (DIR/model)")
    pl.add_argument("--out", help="PNG/SVG/PDF file (default: network.png next to the model)")
    pl.add_argument("--beta", type=float, default=3.0, help="edge opacity = tanh(beta * score)")

    d = sub.add_parser("demo", parents=[common], help=f"run the whole pipeline on a built-in dataset "
                                                      f"({DEMO_EQUATION})")
    d.add_argument("--out", help="also write the result files to this directory")
    _add_fit_options(d)
    return p


def _add_fit_options(p):
    p.add_argument("--basis", default="bspline", help="KAN basis (default: bspline)")
    p.add_argument("--time-budget", type=float, default=None, help="seconds for the search (default: no limit)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _regressor(args, target_name=None):
    from ..regressor import SymKANRegressor

    return SymKANRegressor(basis=args.basis, time_budget=args.time_budget, random_state=args.seed,
                           progress=not (args.quiet or args.json), target_name=target_name)


@contextlib.contextmanager
def _output_dir(out):
    """The ``--out`` directory (None without one), checked before a long fit: created
    (with missing parents) and written to (a probe file created and removed), since
    permission bits can lie (root passes ``os.access`` on /proc). Directories made here
    are removed again if they stay empty because the check or the command fails."""
    if not out:
        yield None
        return
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {str(out)!r} exists and is not a directory")
    created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".symkan-probe-", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        _remove_empty(created)
        raise CLIError(f"--out {str(out)!r} is not a writable directory: {err.strerror or err}") from None
    try:
        yield out
    except BaseException:
        _remove_empty(created)
        raise


def _remove_empty(dirs) -> None:
    for d in dirs:
        try:
            d.rmdir()  # only if empty
        except OSError:
            pass


def _json(info, indent=None) -> str:
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


def _summary(model) -> dict:
    return {"formula": str(model.sympy()), "latex": model.latex(),
            "symbols": {n: str(s) for n, s in zip(model.names_, model.symbols_)},
            "complexity": int(model.best_.complexity),
            "loss": float(model.best_.loss), "r2_validation": float(model.best_.r2),
            "equations": model.equations_.rows(), "seconds": round(float(model.fit_seconds_), 2),
            **({} if getattr(model, "y_units_", None) is None else {"units": {
                **{n: format_dimension(u) for n, u in zip(model.names_, model.X_units_)},
                model.target_name_: format_dimension(model.y_units_)}})}


def _write_outputs(model, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "formula.txt").write_text(str(model.sympy()) + "\n")
    (out / "formula.tex").write_text(model.latex(units=True) + "\n")
    model.equations_.to_csv(out / "equations.csv")
    model.save(out / "model")
    fig = model.plot()
    fig.savefig(out / "network.png", dpi=150)
    return [str(out / n) for n in ("formula.txt", "formula.tex", "equations.csv", "model", "network.png")]


def _report_fit(model, args, files, true_formula=None):
    from ..symbolic.names import rename_note, renamed

    if args.json:
        info = _summary(model)
        if files:
            info["files"] = files
        if true_formula is not None:
            info["true_formula"] = true_formula
        print(_json(info, indent=2))
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
    print(model.equations_.table())
    if files:
        print("\nwrote: " + ", ".join(files))


def _column_units(spec, names, target):
    """(X_units, y_units) of ``--units`` (a units CSV file or inline text), or (None, None)."""
    from ..units import column_units, parse_inline, read_units

    if spec is None:
        return None, None
    looks_like_file = "=" not in spec or Path(spec).suffix.lower() in (".csv", ".tsv", ".txt")
    units = read_units(existing_file(spec, "units file", "a units CSV file")) if looks_like_file else parse_inline(spec)
    return column_units(units, names, target)


def cmd_fit(args) -> int:
    from .tabular import read_csv

    with _output_dir(args.out) as out:
        table = read_csv(args.csv, min_rows=2)
        X, y, names = table.split_target(args.target)
        X_units, y_units = _column_units(args.units, names, args.target)
        model = _regressor(args, target_name=args.target).set_params(variable_names=names).fit(
            X, y, X_units=X_units, y_units=y_units)
        files = _write_outputs(model, out) if out else []
    _report_fit(model, args, files)
    return 0


def cmd_demo(args) -> int:
    from ..datasets import make_dataset

    with _output_dir(args.out) as out:
        ds = make_dataset(DEMO_EQUATION, n=1000, seed=args.seed)
        if not args.json:
            print(f"demo: {len(ds.y)} noise-free samples of an unknown function of {', '.join(ds.names)} "
                  f"on [-1, 1]²; discovering its formula...\n", flush=True)
        model = _regressor(args, target_name="f").set_params(variable_names=ds.names).fit(ds.X, ds.y)
        files = _write_outputs(model, out) if out else []
    _report_fit(model, args, files, true_formula=str(ds.expr))
    return 0


def _load(path):
    from ..regressor import SymKANRegressor

    return SymKANRegressor.load(path)


def cmd_predict(args) -> int:
    import numpy as np

    from .tabular import read_csv, write_csv

    model = _load(args.model)
    table = read_csv(args.csv)
    missing = [n for n in model.names_ if n not in table.columns]
    if missing:
        raise CLIError(f"{args.csv}: missing input column(s) {missing}; the model needs {model.names_}")
    X = np.column_stack([table.column(n) for n in model.names_])
    pred = model.predict(X)
    if args.out:
        write_csv(args.out, ["prediction"], pred[:, None])
        if args.json:
            print(_json({"rows": int(len(pred)), "file": args.out}))
    elif args.json:
        print(_json({"predictions": [float(v) for v in pred]}))
    else:
        print("prediction")
        for v in pred:
            print(repr(float(v)))
    return 0


def cmd_plot(args) -> int:
    model = _load(args.model)
    out = Path(args.out) if args.out else Path(args.model).with_name("network.png")
    fig = model.plot(beta=args.beta)
    fig.savefig(out, dpi=150)
    if args.json:
        print(_json({"file": str(out)}))
    else:
        print(f"wrote {out}")
    return 0


COMMANDS = {"fit": cmd_fit, "predict": cmd_predict, "plot": cmd_plot, "demo": cmd_demo}


def _expected_errors() -> tuple:
    """Failures that are the input's or the environment's, not symkan's: reported in one
    line. ValueError is what every public symkan function raises for bad input; OSError
    covers files (missing, not writable, disk full); FitError a search without a result."""
    from ..regressor import FitError

    return CLIError, ValueError, OSError, FitError


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror}"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    # symkan's log records go to stderr through a handler of our own (not basicConfig, which
    # does nothing when the host process has configured logging), for this command only
    logger = logging.getLogger("symkan")
    saved = logger.level, logger.propagate
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # e.g. `symkan predict ... | head`: the reader left, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python flushes stdout at exit
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as err:
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
