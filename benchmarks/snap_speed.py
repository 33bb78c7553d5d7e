"""Time to snap a trained KAN to symbolic edges: symkan's auto_snap vs pykan's auto_symbolic.

Both libraries train the same width on the same data with their own API (LBFGS, the
same number of steps), then one timed run of the snapping step each:

* symkan: ``auto_snap(model, X, y)`` — batched fits of all edges × all functions,
  selection, joint LBFGS refits, (for ≤ 40 edges) the polish pass, and the formula
  (simplification + constant snapping). It does strictly more than pykan's step.
* pykan 0.2.8: its ``auto_symbolic`` loop (``suggest_symbolic`` + ``fix_symbolic``
  per edge, defaults unchanged — run by this script so that ``--pykan-budget`` can stop
  it and report how many edges were done) and then ``model.symbolic_formula()``.

Cases: a 6-edge network ([2, 2, 1] on exp(sin(πx) + y²)) and a 110-edge network
([10, 10, 1] on a sum of ten one-dimensional functions plus a product). The formula's
1 − R² on 1000 held-out rows is reported for each library (nan: not finished).

Usage::

    python benchmarks/snap_speed.py [--threads 1] [--steps 50] [--cases small,large] [--pykan-budget S]

Needs ``pip install pykan==0.2.8`` (benchmark only). pykan's checkpoints go to a
temporary directory and its printing is silenced.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import tempfile
import time

import numpy as np
import sympy
import torch


def _target_small(X):
    return torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)


def _target_large(X):
    parts = [torch.sin(math.pi * X[:, 0]), X[:, 1] ** 2, torch.exp(0.5 * X[:, 2]), torch.cos(2 * X[:, 3]),
             X[:, 4] ** 3, torch.tanh(2 * X[:, 5]), torch.abs(X[:, 6]), X[:, 7], torch.exp(-X[:, 8] ** 2),
             X[:, 0] * X[:, 9]]
    return sum(parts)


CASES = {
    "small": ([2, 2, 1], _target_small, 2),
    "large": ([10, 10, 1], _target_large, 10),
}


def _r2(pred, y):
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if pred.shape != y.shape or not np.all(np.isfinite(pred)):
        return float("-inf")
    return 1.0 - float(np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2))


def run_symkan(width, X, y, Xt, yt, steps):
    from symkan.nn import KAN
    from symkan.symbolic import auto_snap
    from symkan.train import fit

    m = KAN(list(width), seed=0, grid_size=5)
    t0 = time.perf_counter()
    fit(m, X, y, steps=steps, update_grid_every=10)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = auto_snap(m, X, y)
    snap_s = time.perf_counter() - t0
    pred = res.formula.evaluate(Xt.double().numpy())
    return {"train_s": train_s, "snap_s": snap_s, "r2": _r2(pred, yt.numpy()), "formula": str(res.formula),
            "edges": m.n_edges()}


def run_pykan(width, X, y, Xt, yt, steps, budget=None):
    from kan import KAN as PyKAN

    width = [list(w) if isinstance(w, list) else w for w in width]  # pykan edits it in place
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        cwd = os.getcwd()
        os.chdir(tmp)  # pykan writes ./model checkpoints and ./video frames
        try:
            m = PyKAN(width=width, grid=5, k=3, seed=0, auto_save=False, ckpt_path=os.path.join(tmp, "model"))
            data = {"train_input": X, "train_label": y[:, None], "test_input": Xt, "test_label": yt[:, None]}
            t0 = time.perf_counter()
            m.fit(data, opt="LBFGS", steps=steps, update_grid=True, grid_update_num=max(1, steps // 10))
            train_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            done, total = _pykan_auto_symbolic(m, budget, t0)
            expr = m.symbolic_formula()[0][0] if done == total else None
            snap_s = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
    if expr is None:
        return {"train_s": train_s, "snap_s": snap_s, "r2": float("nan"), "done": f"{done}/{total}",
                "formula": f"(stopped after {done} of {total} edges)"}
    syms = [sympy.Symbol(f"x_{k + 1}") for k in range(X.shape[1])]
    fn = sympy.lambdify(syms, expr, modules="numpy")
    with np.errstate(all="ignore"):
        pred = np.broadcast_to(np.asarray(fn(*Xt.double().numpy().T), dtype=np.float64), (Xt.shape[0],))
    return {"train_s": train_s, "snap_s": snap_s, "r2": _r2(pred, yt.numpy()), "formula": str(expr),
            "done": f"{done}/{total}"}


def _pykan_auto_symbolic(m, budget, t0):
    """pykan's auto_symbolic loop (same calls, same defaults: suggest_symbolic then
    fix_symbolic per edge), stopped once ``budget`` seconds have passed."""
    edges = [(l, i, j) for l in range(len(m.width_in) - 1) for i in range(m.width_in[l])
             for j in range(m.width_out[l + 1])]
    for k, (l, i, j) in enumerate(edges):
        if budget is not None and time.perf_counter() - t0 > budget:
            return k, len(edges)
        name, fun, r2, c = m.suggest_symbolic(l, i, j, verbose=False)
        m.fix_symbolic(l, i, j, name, verbose=False, log_history=False)
    return len(edges), len(edges)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cases", default="small,large")
    ap.add_argument("--no-pykan", action="store_true")
    ap.add_argument("--pykan-budget", type=float, default=None,
                    help="stop pykan's edge loop after this many seconds and report the edges done")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, threads={args.threads}, steps={args.steps}")
    rows = []
    for name in args.cases.split(","):
        width, target, d = CASES[name]
        g = torch.Generator().manual_seed(0)
        X = torch.rand(1000, d, generator=g) * 2 - 1
        Xt = torch.rand(1000, d, generator=g) * 2 - 1
        y, yt = target(X), target(Xt)
        s = run_symkan(width, X, y, Xt, yt, args.steps)
        s["done"] = f"{s['edges']}/{s['edges']}"
        rows.append((name, width, s["edges"], "symkan auto_snap", s))
        print(f"{name} symkan: {s}", flush=True)
        if not args.no_pykan:
            p = run_pykan(width, X, y, Xt, yt, args.steps, args.pykan_budget)
            rows.append((name, width, s["edges"], "pykan auto_symbolic", p))
            print(f"{name} pykan: {p}", flush=True)
    print()
    print("| case | width | edges | library | train (s) | snap (s) | edges snapped | formula 1 − R² (test) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, width, edges, lib, r in rows:
        print(f"| {name} | {width} | {edges} | {lib} | {r['train_s']:.1f} | {r['snap_s']:.2f} | {r['done']} "
              f"| {1 - r['r2']:.2e} |")
    print()
    for name, width, edges, lib, r in rows:
        text = r["formula"]
        print(f"{name} / {lib}: {text if len(text) < 300 else text[:300] + ' ...'}")


if __name__ == "__main__":
    main()
