"""Pruning on exp(sin(πx) + y²): symkan vs pykan 0.2.8, same data, same recipe.

    python benchmarks/prune_compare.py --seeds 0 1 2 3 4 [--libs symkan pykan]
    python benchmarks/prune_compare.py --prune-timing 30 [--threads 1]

Recipe for both (pykan's documented one): [2, 5, 1], grid 5, cubic; 50 LBFGS steps with
lamb=0.01 (L1 + entropy) and grid updates; then twice: prune(node_th=1e-2,
edge_th=3e-2) -> 20 LBFGS steps without sparsification. 1000 train / 1000 test rows on
[-1, 1]², from a private generator seeded by the seed. Reported per library: how often
the second prune reaches the formula's structure (1 hidden node), median test RMSE
after each prune (before its refit) and at the end, median wall time of one prune
call, and whether a prune call changed the global torch RNG state or wrote files.
A seed whose run raises is reported as crashed.

pykan is a benchmark-only dependency (``pip install pykan==0.2.8``); it runs in a
temporary working directory because it writes checkpoints there.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import tempfile
import time

import torch


def make_data(seed: int, n: int = 1000):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(2 * n, 2, generator=g) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)[:, None]
    return X[:n], y[:n], X[n:], y[n:]


def _rmse(pred, y) -> float:
    return float(torch.sqrt(torch.mean((pred - y) ** 2)))


def run_symkan(seed: int) -> dict:
    from symkan import KAN, fit
    from symkan.pruning import prune

    Xtr, ytr, Xte, yte = make_data(seed)
    model = KAN([2, 5, 1], seed=seed, grid_size=5, order=3)
    fit(model, Xtr, ytr, steps=50, lamb=1e-2, update_grid_every=5)
    out = {"hidden": [], "rmse_pruned": [], "prune_s": [], "rng_changed": False}
    for _ in range(2):
        state = torch.random.get_rng_state()
        t0 = time.perf_counter()
        model = prune(model, Xtr, node_th=1e-2, edge_th=3e-2)
        out["prune_s"].append(time.perf_counter() - t0)
        out["rng_changed"] |= not torch.equal(state, torch.random.get_rng_state())
        out["hidden"].append(model.specs[1].n_nodes)
        with torch.no_grad():
            out["rmse_pruned"].append(_rmse(model(Xte), yte))
        fit(model, Xtr, ytr, steps=20)
    with torch.no_grad():
        out["rmse_final"] = _rmse(model(Xte), yte)
    return out


def run_pykan(seed: int) -> dict:
    from kan import KAN as PyKAN

    Xtr, ytr, Xte, yte = make_data(seed)
    dataset = {"train_input": Xtr, "train_label": ytr, "test_input": Xte, "test_label": yte}
    out = {"hidden": [], "rmse_pruned": [], "prune_s": [], "rng_changed": False}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.makedirs(os.path.join(tmp, "model"))  # pykan's prune() logs there even with auto_save=False
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                model = PyKAN(width=[2, 5, 1], grid=5, k=3, seed=seed, auto_save=False,
                              ckpt_path=os.path.join(tmp, "model"))
                model.fit(dataset, opt="LBFGS", steps=50, lamb=1e-2, log=50)
                for _ in range(2):
                    state = torch.random.get_rng_state()
                    t0 = time.perf_counter()
                    model = model.prune(node_th=1e-2, edge_th=3e-2)
                    out["prune_s"].append(time.perf_counter() - t0)
                    out["rng_changed"] |= not torch.equal(state, torch.random.get_rng_state())
                    out["hidden"].append(int(model.width_out[1]))
                    with torch.no_grad():
                        out["rmse_pruned"].append(_rmse(model(Xte), yte))
                    model.fit(dataset, opt="LBFGS", steps=20, log=20)
                with torch.no_grad():
                    out["rmse_final"] = _rmse(model(Xte), yte)
            out["files_written"] = sorted(os.path.relpath(os.path.join(d, f), tmp)
                                          for d, _, fs in os.walk(tmp) for f in fs)
        finally:
            os.chdir(cwd)
    return out


def guarded(fn, seed: int) -> dict:
    """Run one seed; an exception is recorded (as a failed run), not raised."""
    try:
        return fn(seed)
    except Exception as err:  # a library crashing is a result here
        return {"error": f"{type(err).__name__}: {err}"}


def summarise(name: str, runs: list[dict]) -> str:
    def med(values):
        values = list(values)
        return f"{statistics.median(values):.2e}" if values else "n/a"

    ok = [r for r in runs if "error" not in r]
    hit = sum(r["hidden"][-1] == 1 for r in ok)
    widths = ", ".join("crashed" if "error" in r else "→".join(str(h) for h in [5] + r["hidden"]) for r in runs)
    files = {f for r in ok for f in r.get("files_written", [])}
    files_txt = f"{len(files)} files ({', '.join(sorted(files)[:3])}, …)" if len(files) > 3 else (
        ", ".join(sorted(files)) or "none")
    prune_ms = [1e3 * s for r in ok for s in r["prune_s"]]
    return (f"| {name} | {hit}/{len(runs)} | {widths} | {med(r['rmse_pruned'][0] for r in ok)} | "
            f"{med(r['rmse_pruned'][1] for r in ok)} | {med(r['rmse_final'] for r in ok)} | "
            f"{statistics.median(prune_ms) if prune_ms else float('nan'):.1f} | "
            f"{'yes' if any(r['rng_changed'] for r in ok) else 'no'} | {files_txt} |")


def prune_timing(repeats: int, seed: int = 0) -> str:
    """Median / min wall time of one prune call, both libraries trained the same way
    (20 sparsified LBFGS steps), calls interleaved so both see the same machine load."""
    from kan import KAN as PyKAN
    from symkan import KAN, fit
    from symkan.pruning import prune

    Xtr, ytr, Xte, yte = make_data(seed)
    ours = KAN([2, 5, 1], seed=seed)
    fit(ours, Xtr, ytr, steps=20, lamb=1e-2, update_grid_every=5)
    cwd = os.getcwd()
    times = {"symkan": [], "pykan 0.2.8": []}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.makedirs(os.path.join(tmp, "model"))
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                theirs = PyKAN(width=[2, 5, 1], grid=5, k=3, seed=seed, auto_save=False,
                               ckpt_path=os.path.join(tmp, "model"))
                theirs.fit({"train_input": Xtr, "train_label": ytr, "test_input": Xte, "test_label": yte},
                           opt="LBFGS", steps=20, lamb=1e-2, log=20)
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    prune(ours, Xtr)
                    times["symkan"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    theirs.prune()
                    times["pykan 0.2.8"].append(time.perf_counter() - t0)
        finally:
            os.chdir(cwd)
    rows = ["| library | prune call ms, median | min |", "|---|---|---|"]
    rows += [f"| {k} | {1e3 * statistics.median(v):.1f} | {1e3 * min(v):.1f} |" for k, v in times.items()]
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--libs", nargs="+", choices=["symkan", "pykan"], default=["symkan", "pykan"])
    ap.add_argument("--prune-timing", type=int, default=0, metavar="N",
                    help="only time N interleaved prune calls of each library (needs pykan)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.prune_timing:
        print(prune_timing(args.prune_timing))
        return
    runners = {"symkan": ("symkan", run_symkan), "pykan": ("pykan 0.2.8", run_pykan)}
    libs = [runners[name] for name in args.libs]
    lines = ["| library | 1 hidden node after 2nd prune | hidden nodes per seed | RMSE after 1st prune | "
             "RMSE after 2nd prune | final RMSE | prune call ms | global RNG changed | files written |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, fn in libs:
        runs = []
        for seed in args.seeds:
            runs.append(guarded(fn, seed))
            print(f"{name} seed {seed}: {runs[-1]}", flush=True)
        lines.append(summarise(name, runs))
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
