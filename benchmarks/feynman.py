"""Symbolic recovery on the AI-Feynman equations, scored by SRBench's criteria.

    python benchmarks/feynman.py --method symkan --time-budget 60 --out runs/feynman.jsonl
    python benchmarks/feynman.py --method pykan  --time-budget 60 --out runs/feynman.jsonl
    python benchmarks/feynman.py --summary runs/feynman.jsonl     # tables only
    python benchmarks/feynman.py --units --time-budget 60 --out runs/units.jsonl  # with the variables' units
    python benchmarks/feynman.py --jobs -1 --out runs/feynman.jsonl       # every core, one equation each
    python benchmarks/feynman.py --scheduler tcp://host:8786 --out runs/feynman.jsonl  # a Dask cluster

``--units`` gives the fit the SI units of every variable (``symkan/datasets/data/units.csv``,
the AI-Feynman table); its rows are recorded as method ``symkan+units``.

Each equation runs in its own worker process (a hung simplification or a crash costs
one equation, not the run), with a hard wall-clock limit of ``--hard-limit`` seconds.
``--jobs N`` runs N equations at once (-1: one per core); ``--scheduler ADDRESS`` sends
them to the workers of a Dask cluster through joblib's Dask backend (``symkan[parallel]``):
there each equation runs in a worker's process (give workers one thread each), stopped
by its time budget only — the hard limit needs a process of its own, which a Dask
worker cannot start. Results are appended to a JSONL file as they finish; equations already there (same
method, noise and seed) are skipped, so an interrupted run resumes where it stopped.

Data: ``--n`` training rows sampled uniformly in the published ranges, noise
``y += N(0, σ·RMS(y))`` on the training rows only, ``--n-test`` noise-free test rows.
Scoring: accuracy solution = test R² > 0.999; symbolic solution = SRBench's sympy
test (see symkan.datasets.metrics), with every variable assumed positive (all Feynman ranges
are positive).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

METHODS = ("symkan", "pykan")
SYMBOLIC_CHECK_SECONDS = 60


# --- one equation -----------------------------------------------------------------------
def _run_symkan(ds, budget, seed, units=None, fit_jobs=1):
    import sympy

    from symkan import SymKANRegressor

    X_units, y_units = units or (None, None)
    model = SymKANRegressor(time_budget=budget, random_state=seed, variable_names=ds.names,
                            n_jobs=fit_jobs).fit(
        ds.X, ds.y, X_units=X_units, y_units=y_units)
    # the formula in the dataset's names (columns such as I or beta get safe symbols I_, beta_)
    found = model.sympy().xreplace({s: sympy.Symbol(n) for s, n in zip(model.symbols_, model.names_)})
    return found, model.predict, {"front_size": len(model.front_), "consistent": model.best_.consistent,
                                  "architectures": [a["pruned_width"] for a in model.attempts_]}


def _run_pykan(ds, budget, seed, units=None, fit_jobs=1):
    """pykan 0.2.8's documented recipe: fit with sparsification, prune, fit, auto_symbolic,
    fit, symbolic_formula — at its default width [d, 5, 1], grid 5, k 3."""
    import sympy
    import torch
    from kan import KAN

    d = ds.X.shape[1]
    workdir = tempfile.mkdtemp(prefix="pykan-")  # pykan writes checkpoints and logs to its cwd
    os.chdir(workdir)
    os.makedirs("model", exist_ok=True)  # prune() appends to ./model/history.txt even without auto_save
    dataset = {"train_input": torch.tensor(ds.X, dtype=torch.float32),
               "train_label": torch.tensor(ds.y[:, None], dtype=torch.float32),
               "test_input": torch.tensor(ds.X_test, dtype=torch.float32),
               "test_label": torch.tensor(ds.y_test[:, None], dtype=torch.float32)}
    model = KAN(width=[d, 5, 1], grid=5, k=3, seed=seed, auto_save=False)
    model.fit(dataset, opt="LBFGS", steps=50, lamb=0.001)
    model = model.prune()
    model.fit(dataset, opt="LBFGS", steps=50)
    model.auto_symbolic(lib=["x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "sqrt", "exp", "log", "sin", "cos",
                             "tan", "tanh", "abs", "arcsin", "arctan", "0"])
    model.fit(dataset, opt="LBFGS", steps=50)
    expr = model.symbolic_formula()[0][0]
    pyk_vars = [sympy.Symbol(f"x_{k + 1}") for k in range(d)]
    expr = sympy.sympify(expr).xreplace({v: sympy.Symbol(n) for v, n in zip(pyk_vars, ds.names)})

    def predict(X):
        with torch.no_grad():
            return model(torch.tensor(X, dtype=torch.float32)).numpy()[:, 0].astype(np.float64)

    return expr, predict, {}


def _is_symbolic(found, true, names) -> bool | None:
    """SRBench's test under a time limit (sympy can hang; in any thread, a Dask worker's
    task thread too: :mod:`symkan.symbolic.time_limit`); None on timeout."""
    from symkan.datasets.metrics import is_symbolic_solution
    from symkan.symbolic.time_limit import TimeLimitExceeded, call_with_time_limit

    try:
        return bool(call_with_time_limit(lambda: is_symbolic_solution(found, true, names=names, positive=True),
                                         SYMBOLIC_CHECK_SECONDS))
    except TimeLimitExceeded:
        return None


def run_one(job: dict) -> dict:
    """Fit one equation; returns the JSON row (never raises)."""
    import torch

    torch.set_num_threads(job["threads"])
    from symkan.datasets import make_dataset
    from symkan.datasets.metrics import r2_score

    row = {k: job[k] for k in ("method", "name", "noise", "seed", "time_budget", "n")}
    if job.get("fit_jobs", 1) != 1:
        row["fit_jobs"] = job["fit_jobs"]
    t0 = time.perf_counter()
    try:
        ds = make_dataset(job["name"], n=job["n"], noise=job["noise"], seed=job["seed"], n_test=job["n_test"])
        row["true"] = str(ds.expr)
        runner = _run_pykan if job["method"] == "pykan" else _run_symkan
        units = None
        if job["method"].endswith("+units"):
            from symkan.datasets import equation_units

            units = equation_units(job["name"])
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            found, predict, extra = runner(ds, job["time_budget"], job["seed"], units,
                                           job.get("fit_jobs", 1))  # silence progress bars
        row["seconds"] = time.perf_counter() - t0
        row["found"] = str(found)
        row["r2_test"] = r2_score(ds.y_test, predict(ds.X_test))
        row["symbolic"] = _is_symbolic(found, ds.expr, ds.names)
        row.update(extra)
    except Exception as err:  # noqa: BLE001 — a benchmark records failures, it does not stop
        row["seconds"] = time.perf_counter() - t0
        row["error"] = f"{type(err).__name__}: {err}"
        row["traceback"] = traceback.format_exc(limit=-12)  # the innermost frames
    return row


# --- the run ------------------------------------------------------------------------------
def _key(row) -> tuple:
    return row["method"], row["name"], float(row["noise"]), int(row["seed"])


def load_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted write
    return rows


def _select(args) -> list[str]:
    from symkan.datasets import TOY_EQUATIONS, feynman_equations

    names = [e.name for e in feynman_equations()]
    if args.subset == "toy":
        names = list(TOY_EQUATIONS)
    elif args.subset not in (None, "all", "feynman"):
        wanted = [s.strip() for s in args.subset.split(",") if s.strip()]
        known = set(names) | set(TOY_EQUATIONS)
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise SystemExit(f"error: unknown equations {unknown}")
        names = wanted
    if args.max_vars:
        from symkan.datasets import get_equation

        names = [n for n in names if get_equation(n).n_variables <= args.max_vars]
    return names[: args.limit] if args.limit else names


def _worker(job, queue):
    queue.put(run_one(job))


def _run_with_limit(job, limit):
    """run_one(job) in a fresh process, killed after ``limit`` seconds."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(job, queue))
    proc.start()
    try:
        return queue.get(timeout=limit)
    except Exception:  # noqa: BLE001 — queue.Empty on timeout, or the worker died
        return {**{k: job[k] for k in ("method", "name", "noise", "seed", "time_budget", "n")},
                "seconds": float(limit), "error": f"no result within the hard limit ({limit:.0f} s) "
                                                  f"or the worker died (exit code {proc.exitcode})"}
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _on_cluster(address, jobs):
    """The rows of ``jobs``, each ``run_one`` on a worker of the Dask cluster at
    ``address`` (joblib's Dask backend), yielded as they finish."""
    try:
        import joblib
        from dask.distributed import Client
    except ImportError:
        raise SystemExit("error: --scheduler needs dask.distributed and joblib: pip install symkan[parallel]")
    with Client(address) as client, joblib.parallel_config(backend="dask"):
        print(f"Dask cluster at {address}: {len(client.scheduler_info()['workers'])} workers", file=sys.stderr)
        yield from joblib.Parallel(n_jobs=-1, batch_size=1, return_as="generator_unordered")(
            joblib.delayed(run_one)(job) for job in jobs)


def summarize(rows: list[dict], method: str | None = None, noise: float | None = None) -> str:
    sel = [r for r in rows if (method is None or r["method"] == method) and (noise is None or r["noise"] == noise)]
    if not sel:
        return "no results"
    lines = []
    groups = list(dict.fromkeys((r.get("run", ""), r["method"], r["noise"]) for r in sel))
    for run, m, s in groups:
        g = [r for r in sel if (r.get("run", ""), r["method"], r["noise"]) == (run, m, s)]
        sym = sum(bool(r.get("symbolic")) for r in g)
        acc = sum(r.get("r2_test", -math.inf) > 0.999 for r in g)
        med = statistics.median(r["seconds"] for r in g)
        errs = sum("error" in r for r in g)
        lines.append((f"[{run}] " if run else "") + f"{m:7s} noise={s:<5g} equations={len(g):3d}  symbolic solutions={sym:3d} "
                     f"({100 * sym / len(g):5.1f} %)  accuracy solutions={acc:3d} ({100 * acc / len(g):5.1f} %)  "
                     f"median time={med:6.1f} s  errors={errs}")
    return "\n".join(lines)


def _cell(r: dict | None, max_chars: int) -> str:
    """'found` · R² · solved · seconds' cells of one result row (or dashes if missing)."""
    if r is None:
        return "| not run | | | "
    found = r.get("found", r.get("error", "?"))
    if max_chars and len(found) > max_chars:
        found = found[:max_chars] + " …"
    found = found.replace("|", "\\|")
    r2 = r.get("r2_test")
    r2s = "—" if r2 is None else (f"{r2:.6f}" if math.isfinite(r2) else str(r2))
    sym = {True: "**yes**", False: "no", None: "timeout"}[r.get("symbolic")] if "error" not in r else "error"
    return f"| `{found}` | {r2s} | {sym} | {r['seconds']:.1f} "


def table(rows: list[dict], max_chars: int = 0) -> str:
    """Markdown, one line per equation, one block of columns per (run, method, noise)
    group, in the order the groups first appear (side by side when several results files
    are summarised together: ``run`` is the file's name then); found formulas longer
    than ``max_chars`` are cut (0 = never)."""
    groups = list(dict.fromkeys((r.get("run", ""), r["method"], r["noise"]) for r in rows))
    by_key = {(r["name"], r.get("run", ""), r["method"], r["noise"]): r for r in rows}
    names = list(dict.fromkeys(r["name"] for r in rows))
    true = {r["name"]: r.get("true", "") for r in rows}
    head = "| equation | true "
    rule = "|---|---"
    for run, m, s in groups:
        tag = (f"{run}: " if run else "") + m + (f" σ={s:g}" if s else "")
        head += f"| {tag} found | R² | symbolic | s "
        rule += "|---|---|---|---"
    out = [head + "|", rule + "|"]
    for n in names:
        line = f"| {n} | `{true[n]}` "
        for run, m, s in groups:
            line += _cell(by_key.get((n, run, m, s)), max_chars)
        out.append(line + "|")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", choices=METHODS, default="symkan")
    p.add_argument("--subset", default="all", help="'all', 'toy', or comma-separated names (e.g. I.6.2a,II.3.24)")
    p.add_argument("--limit", type=int, default=None, help="only the first N selected equations")
    p.add_argument("--max-vars", type=int, default=None, help="only equations with at most this many variables")
    p.add_argument("--units", action="store_true", help="give symkan the variables' SI units (method symkan+units)")
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--time-budget", type=float, default=60.0, help="seconds per equation given to the method")
    p.add_argument("--hard-limit", type=float, default=None, help="kill an equation after this many seconds "
                                                                   "(default: 5 x budget + 120)")
    p.add_argument("--n", type=int, default=1000, help="training rows")
    p.add_argument("--n-test", type=int, default=1000, help="noise-free test rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="equations in parallel (-1: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the equations on the Dask cluster of this scheduler "
                                                          "(tcp://host:8786), one task each")
    p.add_argument("--fit-jobs", type=int, default=1,
                   help="n_jobs of each symkan fit: rungs of its ladder in parallel processes")
    p.add_argument("--threads", type=int, default=1, help="torch threads per equation (default 1: the networks "
                                                           "are tiny and extra threads only add contention)")
    p.add_argument("--out", default="runs/feynman.jsonl", help="JSONL results file (appended; resumable)")
    p.add_argument("--summary", metavar="JSONL", nargs="+",
                   help="only print the summary and table of results files (several: side by side; "
                        "a+b: two files of one run)")
    p.add_argument("--markdown", action="store_true", help="print the per-equation table as markdown")
    p.add_argument("--max-chars", type=int, default=0, help="cut found formulas longer than this in the table")
    args = p.parse_args(argv)

    if args.summary:
        # "a.jsonl+b.jsonl" is one run split over two files (a resumed run, or a run
        # completed by another on the equations it did not reach)
        runs = [[Path(f) for f in arg.split("+")] for arg in args.summary]
        rows = [dict(r, run="+".join(f.stem for f in files)) if len(runs) > 1 else r
                for files in runs for f in files for r in load_rows(f)]
        print(summarize(rows))
        if args.markdown:
            print(table(rows, args.max_chars))
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {_key(r) for r in load_rows(out)}
    names = _select(args)
    limit = args.hard_limit or 5 * args.time_budget + 120
    threads = args.threads
    method = args.method + ("+units" if args.units else "")
    if args.units and args.method != "symkan":
        raise SystemExit("error: --units works with --method symkan")
    jobs = [dict(method=method, name=n, noise=args.noise, seed=args.seed, time_budget=args.time_budget,
                 n=args.n, n_test=args.n_test, threads=threads, fit_jobs=args.fit_jobs) for n in names]
    jobs = [j for j in jobs if _key(j) not in done]
    print(f"{len(names)} equations selected, {len(names) - len(jobs)} already in {out}, {len(jobs)} to run",
          file=sys.stderr)

    def record(row):
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        status = "error" if "error" in row else ("SOLVED" if row.get("symbolic") else "-")
        print(f"{row['name']:10s} {status:6s} R²={row.get('r2_test', float('nan')):.6f} "
              f"{row['seconds']:6.1f}s  found: {row.get('found', row.get('error', ''))[:100]}", file=sys.stderr)

    n_jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    if args.scheduler:
        for row in _on_cluster(args.scheduler, jobs):
            record(row)
    elif n_jobs <= 1:
        for job in jobs:
            record(_run_with_limit(job, limit))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(n_jobs) as pool:
            for row in pool.map(lambda j: _run_with_limit(j, limit), jobs):
                record(row)
    rows = [r for r in load_rows(out) if r["method"] == method and r["noise"] == args.noise
            and r["name"] in set(names)]
    print(summarize(rows))
    if args.markdown:
        print(table(rows, args.max_chars))
    return 0


if __name__ == "__main__":
    sys.exit(main())
