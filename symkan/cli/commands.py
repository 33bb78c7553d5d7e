"""The ``symkan`` commands: fit, demo, predict, plot (argument parsing and error
reporting are in :mod:`symkan.cli`)."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from ..checks import existing_file
from .errors import CLIError
from .report import (
    precision_of,
    report_fit,
    report_targets,
    to_json,
    write_outputs,
    write_target_outputs,
)

#: the built-in dataset of ``symkan demo``: name, rows, seed
DEMO_EQUATION = "exp_sin"


def regressor(args, target_name=None):
    from ..regressor import SymKANRegressor

    return SymKANRegressor(basis=args.basis, time_budget=args.time_budget, max_evaluations=args.max_evaluations,
                           random_state=args.seed, progress=not (args.quiet or args.json), target_name=target_name,
                           model_selection=args.model_selection, n_jobs=n_jobs(args))


def n_jobs(args) -> int:
    """``--jobs``; without it 1, or every worker of a ``--scheduler`` cluster (-1)."""
    jobs = args.jobs if args.jobs is not None else -1 if args.scheduler else 1
    if jobs != 1:
        try:
            import joblib  # noqa: F401
        except ImportError:
            raise CLIError(f"--jobs {jobs} needs joblib: pip install symkan[parallel]") from None
    return jobs


@contextlib.contextmanager
def cluster(address):
    """With ``--scheduler ADDRESS``: a Dask client of that scheduler and joblib's Dask
    backend, so the fit's parallel work goes to the cluster's workers; else nothing."""
    if not address:
        yield
        return
    try:
        import joblib
        from dask.distributed import Client
    except ImportError:
        raise CLIError("--scheduler needs dask.distributed and joblib: pip install symkan[parallel]") from None
    with Client(address, timeout="10s") as client, joblib.parallel_config(backend="dask"):
        yield client


@contextlib.contextmanager
def output_dir(out):
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

def column_units_of(spec, names, target):
    """(X_units, y_units) of ``--units`` (a units CSV file or inline text), or (None, None)."""
    from ..units import column_units, parse_inline, read_units

    if spec is None:
        return None, None
    looks_like_file = "=" not in spec or Path(spec).suffix.lower() in (".csv", ".tsv", ".txt")
    units = read_units(existing_file(spec, "units file", "a units CSV file")) if looks_like_file else parse_inline(spec)
    return column_units(units, names, target)


def cmd_fit(args) -> int:
    from .streaming import LiveEquations
    from .tabular import read_csv

    precision = precision_of(args)  # checked before a long fit
    if len(args.target) > 1:
        return fit_targets(args, precision)
    target = args.target[0]
    with output_dir(args.out) as out:
        table = read_csv(args.csv, min_rows=2, sep=args.sep)
        X, y, names = table.split_target(target, features=args.features, drop=args.drop)
        X_units, y_units = column_units_of(args.units, names, target)
        live = LiveEquations(out, args.model_selection) if out else None  # the front so far, on disk as the search goes
        try:
            with cluster(args.scheduler):
                model = regressor(args, target_name=target).set_params(variable_names=names).fit(
                    X, y, X_units=X_units, y_units=y_units, on_formula=live)
        except KeyboardInterrupt:
            if live is not None and len(live.front):
                print(f"interrupted: the {len(live.front)} formula(s) found so far are in {live.path}",
                      file=sys.stderr)
            raise
        files = write_outputs(model, out, precision) if out else []
    report_fit(model, args, files)
    return 0


def fit_targets(args, precision) -> int:
    """``symkan fit --target a --target b``: one search per target column, the inputs as
    for one target (every other column, or ``--features``, minus ``--drop``); the result
    files of target k go to ``--out``/<its name>/."""
    import pandas as pd

    from .tabular import read_csv

    targets = args.target
    if len(set(targets)) != len(targets):
        raise CLIError(f"--target names a column more than once: {targets}")
    with output_dir(args.out) as out:
        table = read_csv(args.csv, min_rows=2, sep=args.sep)
        for t in targets:
            if t not in table.columns:
                raise CLIError(f"target column {t!r} not found; columns are: {', '.join(table.columns)}")
        if args.features and set(args.features) & set(targets):
            raise CLIError(f"--features names a target column ({', '.join(set(args.features) & set(targets))}); "
                           f"list only the input columns")
        drop = None if args.features else [*(args.drop or []), *targets[1:]]
        X, _, names = table.split_target(targets[0], features=args.features, drop=drop)
        if not names:
            raise CLIError("every column is a target; no input columns to fit")
        Y = pd.DataFrame(table.numeric(targets), columns=targets)
        units = [column_units_of(args.units, names, t) for t in targets]
        with cluster(args.scheduler):
            model = regressor(args).set_params(variable_names=names).fit(
                X, Y, X_units=units[0][0], y_units=[u[1] for u in units])
        files = write_target_outputs(model, out, precision) if out else []
    report_targets(model, args, files)
    return 0


def cmd_demo(args) -> int:
    from ..datasets import make_dataset

    precision = precision_of(args)
    with output_dir(args.out) as out:
        ds = make_dataset(DEMO_EQUATION, n=1000, seed=args.seed)
        if not args.json:
            print(f"demo: {len(ds.y)} noise-free samples of an unknown function of {', '.join(ds.names)} "
                  f"on [-1, 1]²; discovering its formula...\n", flush=True)
        with cluster(args.scheduler):
            model = regressor(args, target_name="f").set_params(variable_names=ds.names).fit(ds.X, ds.y)
        files = write_outputs(model, out, precision) if out else []
    report_fit(model, args, files, true_formula=str(ds.expr))
    return 0


def needed_columns(table, path, names, what: str, why: str):
    """(n_rows, len(names)) values of the columns ``names`` of ``table`` (read from
    ``path``): a CLIError naming the missing ones (``what``, ``why`` word it); only these
    columns must be numeric, the others may hold anything."""
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise CLIError(f"{path}: missing {what} {missing}; {why}")
    return table.numeric(names)


def load(path):
    from ..regressor import SymKANRegressor

    return SymKANRegressor.load(path)


def cmd_predict(args) -> int:
    from .tabular import read_csv, write_csv

    model = load(args.model)
    X = needed_columns(read_csv(args.csv, sep=args.sep), args.csv, model.names_, "input column(s)",
                       f"the model needs {model.names_}")
    pred = model.predict(X)
    if args.out:
        write_csv(args.out, ["prediction"], pred[:, None])
        if args.json:
            print(to_json({"rows": len(pred), "file": args.out}))
    elif args.json:
        print(to_json({"predictions": [float(v) for v in pred]}))
    else:
        print("prediction")
        for v in pred:
            print(repr(float(v)))
    return 0


#: what ``symkan plot --what`` draws
PLOTS = ("network", "front", "residuals")


def model_path(path) -> Path:
    """The model file of ``symkan plot PATH``: PATH itself, or PATH/model for a
    ``symkan fit --out`` directory."""
    path = Path(path)
    if not path.is_dir():
        return path
    if not (path / "model").is_file():
        raise CLIError(f"{str(path)!r} has no model file: give a 'symkan fit --out' directory or its model file")
    return path / "model"


def residual_data(model, csv):
    """(X, y) of ``--data`` for a residual plot: the model's input columns and its target."""
    from .tabular import read_csv

    if csv is None:
        raise CLIError("--what residuals needs --data CSV (the model's input columns and its target)")
    needed = [*model.names_, model.target_name_]
    values = needed_columns(read_csv(csv), csv, needed, "column(s)", f"residuals need {needed}")
    return values[:, :-1], values[:, -1]


def cmd_plot(args) -> int:
    path = model_path(args.path)
    model = load(path)
    out = Path(args.out) if args.out else path.with_name(f"{args.what}.png")
    if args.what == "network":
        fig = model.plot(beta=args.beta)
    elif args.what == "front":
        fig = model.plot_front()
    else:
        fig = model.plot_residuals(*residual_data(model, args.data))
    fig.savefig(out, dpi=args.dpi)
    if args.json:
        print(to_json({"file": str(out)}))
    else:
        print(f"wrote {out}")
    return 0


COMMANDS = {"fit": cmd_fit, "predict": cmd_predict, "plot": cmd_plot, "demo": cmd_demo}