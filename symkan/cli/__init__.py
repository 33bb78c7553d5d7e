"""The ``symkan`` command line.

    symkan fit data.csv --target y [--target y2 ...] [--features A,B | --drop C,D] [--sep SEP] [--out DIR]
               [--basis B] [--time-budget S] [--max-evaluations N] [--seed N] [--precision N]
               [--model-selection {best,accuracy,score}] [--jobs N] [--scheduler ADDRESS]
    symkan predict DIR/model data.csv [--sep SEP] [--out predictions.csv]
    symkan --version
    symkan plot DIR [--what network|front|residuals] [--data data.csv] [--out FILE]
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

``python -m symkan.cli`` runs the same command (``__main__.py``); the commands are in
:mod:`symkan.cli.commands`, the report and result files in :mod:`symkan.cli.report`, the
table reader (CSV/TSV/TXT with a detected separator, .xlsx, .parquet) is
:mod:`symkan.cli.tabular`, the checked option values :mod:`symkan.cli.options`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from . import options
from .commands import COMMANDS, DEMO_EQUATION, PLOTS
from .errors import EXIT_BAD_INPUT, CLIError
from .report import PNG_DPI

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in symkan's one-line form (``error: ...``, exit code 2)
    and a pointer to the command's ``--help`` instead of the usage block."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_argument("--verbose", action="store_true", help="log the stages (to stderr)")

    p = _Parser(prog="symkan", description="Symbolic regression with Kolmogorov-Arnold Networks.")
    p.add_argument("--version", action="version", version=f"%(prog)s {options.version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fit,predict,plot,demo}")

    f = sub.add_parser("fit", parents=[common], help="discover a formula for one column of a table file",
                       description="Fit y = f(other columns) and print the best formula and the Pareto front.")
    f.add_argument("csv", metavar="table", help="table with a header row: CSV, TSV or TXT (separator detected), "
                                                ".xlsx or .parquet; the target and input columns must be numeric")
    f.add_argument("--target", required=True, action="append",
                   help="name of the column to explain; repeat it for several targets (one formula each, "
                        "the time budget split evenly)")
    options.add_table_options(f, choose_columns=True)
    f.add_argument("--out", help="directory for formula.txt, formula.tex, equations.csv, model, network.png, "
                                 "front.png, result.json")
    f.add_argument("--units", metavar="FILE|SPEC",
                   help="units of the columns: a units CSV (first column the variable, numeric columns the "
                        "exponents of base dimensions, as in the AI-Feynman units.csv) or inline text like "
                        "\"x=m, t=s, y=m/s\"; every input column and the target need one (docs/units.md)")
    _add_fit_options(f)

    pr = sub.add_parser("predict", parents=[common], help="evaluate a saved model on a CSV file")
    pr.add_argument("model", help="model file written by 'symkan fit --out DIR' (DIR/model)")
    pr.add_argument("csv", metavar="table", help="table file (as for fit) with the model's input columns "
                                                 "(extra columns, text included, are ignored)")
    options.add_table_options(pr, choose_columns=False)
    pr.add_argument("--out", help="write predictions to this CSV file instead of stdout")

    pl = sub.add_parser("plot", parents=[common], help="draw a saved model's network, Pareto front or residuals")
    pl.add_argument("path", metavar="RESULTS_DIR|MODEL", help="a 'symkan fit --out' directory or its model file")
    pl.add_argument("--what", choices=PLOTS, default="network",
                    help="network diagram (default), Pareto front, or residuals on --data")
    pl.add_argument("--out", help="PNG/SVG/PDF file (default: WHAT.png next to the model)")
    pl.add_argument("--data", metavar="CSV", help="for --what residuals: rows with the model's inputs and target")
    pl.add_argument("--dpi", type=options.positive_number, default=PNG_DPI, help=f"resolution of a PNG (default: {PNG_DPI})")
    pl.add_argument("--beta", type=options.positive_number, default=3.0, help="network: edge opacity = tanh(beta * score)")

    d = sub.add_parser("demo", parents=[common], help=f"run the whole pipeline on a built-in dataset "
                                                      f"({DEMO_EQUATION})")
    d.add_argument("--out", help="also write the result files to this directory")
    _add_fit_options(d)
    return p


def _add_fit_options(p):
    p.add_argument("--basis", type=options.basis, default="bspline", help="KAN basis (default: bspline)")
    p.add_argument("--time-budget", type=options.positive_seconds, default=None, metavar="SECONDS",
                   help="seconds for the search (default: no limit)")
    p.add_argument("--max-evaluations", type=options.positive_count, default=None, metavar="N",
                   help="loss evaluations for the search: a work budget that stops it at the same point on "
                        "every machine (default: no limit)")
    p.add_argument("--seed", type=options.seed, default=0, help="random seed, a whole number (default: 0)")
    p.add_argument("--model-selection", choices=("best", "accuracy", "score"), default="best",
                   help="which formula of the Pareto front is reported: best (the simplest within 1.5x of the "
                        "lowest loss, the default), accuracy (the lowest loss) or score (the largest drop of "
                        "log loss per unit of complexity)")
    p.add_argument("--jobs", type=options.jobs, default=None, metavar="N",
                   help="processes at once (-1: every core): the rungs of the search or, with several --target, "
                        "the targets; each with one torch thread; the same formulas as without it when there is "
                        "no --time-budget (default: 1; needs symkan[parallel])")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786): the targets "
                        "or rungs go to its workers (needs symkan[parallel])")
    p.add_argument("--precision", type=options.precision, default=None, metavar="N",
                   help="significant digits of the float constants in the printed equation, formula.tex and the "
                        "JSON's equation texts, 1 to 15 (default: the digits the held-out data support); "
                        "formula.txt and the JSON's \"formula\" keep every digit")


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
