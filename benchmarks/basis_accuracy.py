"""Accuracy of KAN([2, 5, 1]) per basis on f(x, y) = exp(sin(πx) + y²).

    python benchmarks/basis_accuracy.py                 # every registered basis
    python benchmarks/basis_accuracy.py --bases bspline,chebyshev --steps 100
    python benchmarks/basis_accuracy.py --threads 1 --seeds 0,1,2   # + a summary over seeds

1000 training and 1000 test rows drawn uniformly on [-1, 1]² (seed 0), the same
network seed and the same step budget for every basis: LBFGS (full batch, strong Wolfe
line search, up to 20 iterations per step), with the knots moved to the data every 10
steps during the first half for the bases that have a grid (or a min-max pre-map range).
Per-basis runs are in ``SETTINGS``; a basis registered later runs with its defaults.
Prints the commit, CPU and load average, then one Markdown table per network seed:
basis, options, parameters, test RMSE, train RMSE, seconds (wall clock of ``fit``). With
several seeds, a summary follows: the first seed's test RMSE and the range over seeds.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys

import torch

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from symkan.bases import available_bases  # noqa: E402
from symkan.nn import KAN  # noqa: E402
from symkan.train import fit, rmse  # noqa: E402
from machine_info import cpu_name, load_average  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: basis -> runs, each (constructor options, fit options); fixed for this task, not tuned
#: per run. The polynomial families and Fourier also run with the min-max pre-map (its
#: range moves with the grid updates); RBF also without grid updates.
SETTINGS: dict[str, list[tuple[dict, dict]]] = {
    "bspline": [({"grid_size": 5}, {})],
    "relukan": [({"grid_size": 5}, {})],
    "rbf": [({"num_centers": 8}, {}), ({"num_centers": 8}, {"update_grid_every": None})],
    **{name: [({"degree": 5}, {}), ({"degree": 5, "premap": "minmax"}, {})]
       for name in ("chebyshev", "legendre", "gram", "jacobi", "bernstein")},
    "fourier": [({"num_frequencies": 4}, {}), ({"num_frequencies": 4, "premap": "minmax"}, {})],
    "mexican_hat": [({"num_wavelets": 2}, {})],
    "morlet": [({"num_wavelets": 2}, {})],
    "dog": [({"num_wavelets": 2}, {})],
}


def exp_sin_data(seed: int = 0):
    """(X_train, y_train, X_test, y_test), 1000 rows each."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(2000, 2, generator=g) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)
    return X[:1000], y[:1000], X[1000:], y[1000:]


def run(name: str, steps: int, data, opts: dict | None = None, fit_opts: dict | None = None,
        seed: int = 0) -> dict:
    """Train KAN([2, 5, 1]) with basis ``name`` (network seed ``seed``) and return its scores."""
    X, y, X_test, y_test = data
    opts, fit_opts = dict(opts or {}), dict(fit_opts or {})
    model = KAN([2, 5, 1], basis=name, seed=seed, **opts)
    if model.supports_grid_update:
        fit_opts = {"update_grid_every": 10, **fit_opts}
    hist = fit(model, X, y, steps=steps, **fit_opts)
    return {"basis": name, "options": opts, "fit": fit_opts, "params": sum(p.numel() for p in model.parameters()),
            "test_rmse": rmse(model, X_test, y_test), "train_rmse": hist.train_rmse, "seconds": hist.seconds}


def git_commit() -> str:
    """HEAD's short hash, and the files under symkan/ (or this script) that differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=True).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--", "symkan", "benchmarks/basis_accuracy.py")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    paths = [line[3:] for line in changed.splitlines()]
    return head + (f" + local changes in {', '.join(paths)}" if paths else "")


def label_of(r: dict) -> str:
    """'degree=5, premap=minmax; grid update every 10' for a result of :func:`run`."""
    label = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "defaults"
    if r["fit"].get("update_grid_every"):
        label += f"; grid update every {r['fit']['update_grid_every']}"
    elif "update_grid_every" in r["fit"]:
        label += "; no grid update"
    return label


def run_seed(names: list[str], steps: int, data, seed: int) -> dict[tuple[str, str], float]:
    """Print one seed's table; return (basis, label) -> test RMSE of the runs that finished."""
    print(f"## network seed {seed}")
    print()
    print("| basis | options | parameters | test RMSE | train RMSE | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    scores = {}
    for name in names:
        for opts, fit_opts in SETTINGS.get(name, [({}, {})]):
            try:
                r = run(name, steps, data, opts, fit_opts, seed=seed)
            except (FloatingPointError, RuntimeError) as err:  # report a failed basis, keep going
                print(f"| {name} | {opts} | — | failed: {type(err).__name__}: {err} | — | — |", flush=True)
                continue
            label = label_of(r)
            scores[(name, label)] = r["test_rmse"]
            print(f"| {name} | {label} | {r['params']:,} | {r['test_rmse']:.2e} | {r['train_rmse']:.2e} | "
                  f"{r['seconds']:.1f} |", flush=True)
    print()
    return scores


def print_summary(per_seed: dict[int, dict[tuple[str, str], float]]) -> None:
    """Test RMSE of the first seed and its range over all seeds, per run."""
    seeds = list(per_seed)
    print(f"## summary: test RMSE, seed {seeds[0]} and the range over seeds {', '.join(map(str, seeds))}")
    print()
    print(f"| basis | options | seed {seeds[0]} | min | max |")
    print("|---|---|---:|---:|---:|")
    for key, first in per_seed[seeds[0]].items():
        values = [per_seed[s][key] for s in seeds if key in per_seed[s]]
        print(f"| {key[0]} | {key[1]} | {first:.2e} | {min(values):.2e} | {max(values):.2e} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bases", default=None, help="comma-separated subset of the registry")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--seed", type=int, default=0, help="network initialisation seed (the data stay fixed)")
    ap.add_argument("--seeds", default=None, help="comma-separated network seeds (overrides --seed), "
                                                  "followed by a summary over them")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.bases.split(",") if args.bases else available_bases()
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]
    data = exp_sin_data()
    print(f"# KAN([2, 5, 1]) on exp(sin(pi x) + y^2), 1000 train / 1000 test, {args.steps} LBFGS steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print(f"commit {git_commit()}; {cpu_name()}, {os.cpu_count()} cores; load average {load_average()} at the start")
    print()
    per_seed = {seed: run_seed(names, args.steps, data, seed) for seed in seeds}
    print(f"load average {load_average()} at the end")
    print()
    if len(seeds) > 1:
        print_summary(per_seed)


if __name__ == "__main__":
    main()
