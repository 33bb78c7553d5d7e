"""Training speed: symkan vs pykan 0.2.8, side by side in one run.

    python benchmarks/train_speed.py                       # everything: 1 and 2 threads, 3 repeats
    python benchmarks/train_speed.py --threads 1           # what docs/benchmarks.md reports
    python benchmarks/train_speed.py --threads 2 --repeats 1 --no-import
    python benchmarks/train_speed.py --repeats 5 --cases lbfgs adam --lambs 0
    python benchmarks/train_speed.py --no-pykan            # symkan only (no comparison)

Workload (the KAN paper's running example): ``[2, 5, 1]``, B-splines with grid 5 and
order 3, 1000 training and 1000 test rows of exp(sin(πx) + y²) on [-1, 1]².

Cases, each with ``lamb`` = 0 and 1e-3 (sparsification penalty on) and each thread count:

* ``lbfgs``: 50 LBFGS steps, no grid updates: symkan ``fit(optimizer="lbfgs", steps=50)``
  vs pykan ``model.fit(dataset, opt="LBFGS", steps=50, update_grid=False)``.
* ``lbfgs_grid``: the same with grid updates every 5 steps until step 50 (pykan's
  defaults ``grid_update_num=10, stop_grid_update_step=50``; symkan
  ``update_grid_every=5, stop_grid_update_step=50``).
* ``adam``: 500 Adam steps, lr 1e-2 (pykan's ``fit`` defaults to lr=1 for Adam too; the
  rest of the Adam settings are torch's defaults in both).
* ``adam_wide``: the KAN paper's larger scale, ``[10, 32, 32, 1]`` on 1000 + 1000 rows of
  exp(Σ_i sin²(πx_i/2) / 10), 200 Adam steps at lr 1e-2.

Like for like: both libraries run full batch, evaluate the test set after every step
(pykan always does; symkan gets it as ``X_val``), and are timed around the ``fit`` call
only (model construction excluded). "evals" counts loss + gradient evaluations (an LBFGS
step makes up to 20 iterations and 25 evaluations), counted by a gradient hook on one
parameter that every evaluation differentiates. The final train/test RMSE are computed
afterwards by this script, the same way for both.

Repeats are interleaved (symkan, pykan, symkan, pykan, ...) so both see the same machine
load; the tables show medians and the ratio pykan / symkan. Import times are measured in
fresh subprocesses (inside the subprocess, interpreter start-up excluded).

pykan is a benchmark-only dependency (``pip install pykan==0.2.8``). It runs in a
temporary working directory (it writes ``./model``), with ``auto_save=False``, quiet
(its tqdm bar is swallowed), and the global torch / numpy / random states are saved
and restored around it (its constructor reseeds them, its ``fit`` draws batch indices
from numpy's global RNG).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __package__ in (None, ""):
    sys.path.insert(0, ROOT)

from symkan.nn import KAN  # noqa: E402
from symkan.train import fit  # noqa: E402
from machine_info import cpu_name, load_average  # noqa: E402

CASES = ("lbfgs", "lbfgs_grid", "adam", "adam_wide")
STEPS = {"lbfgs": 50, "lbfgs_grid": 50, "adam": 500, "adam_wide": 200}
#: the network of each case: the KAN paper's [2, 5, 1], and one at the paper's larger scale
WIDTHS = {"lbfgs": [2, 5, 1], "lbfgs_grid": [2, 5, 1], "adam": [2, 5, 1], "adam_wide": [10, 32, 32, 1]}

IMPORT_SNIPPETS = {
    "symkan: import symkan": "import symkan",
    "symkan: import + KAN([2,5,1])": "from symkan import KAN\nKAN([2, 5, 1], grid_size=5, order=3, seed=0)",
    "pykan: import kan": "import kan",
    "pykan: import + KAN([2,5,1])": ("from kan import KAN\nKAN(width=[2, 5, 1], grid=5, k=3, seed=0, "
                                     "auto_save=False)"),
}


def machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, Python {platform.python_version()}"


def make_data(seed: int = 0, n_inputs: int = 2):
    """1000 train + 1000 test rows on [-1, 1]^d, float32: exp(sin(πx) + y²) for d = 2, the
    KAN paper's exp(Σ_i sin²(πx_i/2) / d) otherwise."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(2000, n_inputs, generator=g) * 2 - 1
    if n_inputs == 2:
        y = torch.exp(torch.sin(math.pi * X[:, :1]) + X[:, 1:] ** 2)
    else:
        y = torch.exp(torch.sin(math.pi * X / 2).pow(2).mean(1, keepdim=True))
    return X[:1000], y[:1000], X[1000:], y[1000:]


@contextlib.contextmanager
def global_rng_preserved():
    """pykan reseeds / draws from torch's, numpy's and Python's global RNGs."""
    t, n, r = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.random.set_rng_state(t)
        np.random.set_state(n)
        random.setstate(r)


class EvalCounter:
    """Counts loss + gradient evaluations: backward passes through ``param`` (autograd), and
    with ``analytic`` the calls of symkan's hand-written objective, which has no backward
    pass to hook (:mod:`symkan.analytic_backward`)."""

    def __init__(self, param: torch.Tensor, analytic: bool = False):
        self.count = 0
        self._handle = param.register_hook(self._hook)
        self._restore = None
        if analytic:
            from symkan import analytic_backward
            cls, original = analytic_backward.AnalyticObjective, analytic_backward.AnalyticObjective.__call__

            def counted(objective, *args, **kwargs):
                self.count += 1
                return original(objective, *args, **kwargs)

            cls.__call__ = counted
            self._restore = lambda: setattr(cls, "__call__", original)

    def _hook(self, grad):
        self.count += 1

    def close(self) -> int:
        self._handle.remove()
        if self._restore is not None:
            self._restore()
        return self.count


class Timer:
    """Wall seconds and CPU seconds of this process (all threads) spent in the block."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def rmse(forward, X, y) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((forward(X) - y) ** 2)))


def fit_kwargs(case: str, lamb: float) -> dict:
    kw = {"steps": STEPS[case], "lamb": lamb}
    if case.startswith("adam"):
        kw.update(optimizer="adam", lr=1e-2)
    else:
        kw.update(optimizer="lbfgs", lr=1.0)
    if case == "lbfgs_grid":
        kw.update(update_grid_every=5, stop_grid_update_step=50)
    return kw


def run_symkan(case: str, lamb: float, data) -> dict:
    X, y, Xt, yt = data[case]
    model = KAN(WIDTHS[case], grid_size=5, order=3, seed=0)
    counter = EvalCounter(model.layers[0].bias, analytic=True)
    with Timer() as t:
        fit(model, X, y, X_val=Xt, y_val=yt, **fit_kwargs(case, lamb))
    return {"s": t.wall, "cpu": t.cpu, "evals": counter.close(), "train": rmse(model, X, y),
            "test": rmse(model, Xt, yt)}


def run_pykan(case: str, lamb: float, data, workdir: str) -> dict:
    from kan import KAN as PyKAN

    X, y, Xt, yt = data[case]
    dataset = {"train_input": X, "train_label": y, "test_input": Xt, "test_label": yt}
    kw = fit_kwargs(case, lamb)
    opt = "Adam" if kw["optimizer"] == "adam" else "LBFGS"
    grid = case == "lbfgs_grid"
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with global_rng_preserved(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            np.random.seed(0)  # pykan's fit draws (full-batch) indices from numpy's global RNG
            model = PyKAN(width=WIDTHS[case], grid=5, k=3, seed=0, auto_save=False)
            counter = EvalCounter(model.act_fun[0].scale_base)
            with Timer() as t:
                model.fit(dataset, opt=opt, steps=kw["steps"], lr=kw["lr"], lamb=lamb, update_grid=grid,
                          grid_update_num=10, stop_grid_update_step=50)
            out = {"s": t.wall, "cpu": t.cpu, "evals": counter.close(), "train": rmse(model, X, y),
                   "test": rmse(model, Xt, yt)}
    finally:
        os.chdir(cwd)
    return out


def import_time(snippet: str, workdir: str) -> float:
    """Seconds to run ``snippet`` in a fresh interpreter (timed inside it)."""
    code = ("import time\n_t0 = time.perf_counter()\n" + snippet +
            "\nprint(repr(time.perf_counter() - _t0))\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True,
                         text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def pykan_available() -> str | None:
    try:
        import kan  # noqa: F401
    except Exception as err:  # ImportError or a missing optional dependency of pykan
        return f"{type(err).__name__}: {err}"
    return None


def fmt_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per library and case")
    ap.add_argument("--import-repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    ap.add_argument("--lambs", type=float, nargs="+", default=[0.0, 1e-3])
    ap.add_argument("--no-pykan", action="store_true")
    ap.add_argument("--no-import", action="store_true", help="skip the import-time table")
    args = ap.parse_args(argv)

    why = None if args.no_pykan else pykan_available()
    use_pykan = not args.no_pykan and why is None
    libs = ["symkan"] + (["pykan"] if use_pykan else [])
    data = {case: make_data(n_inputs=WIDTHS[case][0]) for case in CASES}
    threads_before = torch.get_num_threads()
    print(f"# machine: {machine()}")
    print(f"# command: python benchmarks/train_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"# load average at start: {load_average()}")
    if why:
        print(f"# pykan not importable ({why}): symkan only")

    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "model"), exist_ok=True)
        if not args.no_import:
            snippets = [k for k in IMPORT_SNIPPETS if use_pykan or k.startswith("symkan")]
            times = {k: [] for k in snippets}
            for _ in range(args.import_repeats):
                for k in snippets:  # interleaved
                    times[k].append(import_time(IMPORT_SNIPPETS[k], tmp))
            print(f"\n## Import (fresh subprocess, median of {args.import_repeats}; load {load_average()})\n")
            print(fmt_row(["what", "median s", "min s", "max s"]))
            print(fmt_row(["---", "---:", "---:", "---:"]))
            for k in snippets:
                v = times[k]
                print(fmt_row([k, f"{statistics.median(v):.3f}", f"{min(v):.3f}", f"{max(v):.3f}"]))
            if use_pykan:
                ratio = (statistics.median(times["pykan: import + KAN([2,5,1])"])
                         / statistics.median(times["symkan: import + KAN([2,5,1])"]))
                print(f"\nratio pykan / symkan (import + KAN([2,5,1])): {ratio:.1f}x  "
                      "(`import symkan` alone is lazy: it does not import torch yet)")

        names = {"symkan": "symkan", "pykan": "pykan 0.2.8"}
        # the timing table is printed row by row (a long run that is cut short keeps its rows)
        print(f"\n## Training time (median of {args.repeats} interleaved repeats of the fit call)\n")
        header = ["threads", "case", "lamb"]
        for lib in libs:
            header += [f"{names[lib]} wall s", f"{names[lib]} CPU s"]
        if use_pykan:
            header += ["speed-up (wall)", "speed-up (CPU)"]
        header.append("load avg")
        print(fmt_row(header))
        print(fmt_row(["---:", "---", "---:"] + ["---:"] * (len(header) - 3)), flush=True)
        quality = []
        deterministic = True
        try:
            for n_threads in args.threads:
                torch.set_num_threads(n_threads)
                for lib in libs:  # warm-up (first calls pay one-off dispatcher / allocator costs)
                    warm = run_symkan if lib == "symkan" else (lambda c, l, d: run_pykan(c, l, d, tmp))
                    warm("lbfgs", 0.0, {"lbfgs": tuple(t[:100] for t in data["lbfgs"])})
                for case in args.cases:
                    for lamb in args.lambs:
                        res = {lib: [] for lib in libs}
                        for _ in range(args.repeats):  # interleaved: both see the same load
                            for lib in libs:
                                res[lib].append(run_symkan(case, lamb, data) if lib == "symkan"
                                                else run_pykan(case, lamb, data, tmp))
                        key = [n_threads, case, f"{lamb:g}"]
                        wall = {lib: statistics.median(r["s"] for r in res[lib]) for lib in libs}
                        cpu = {lib: statistics.median(r["cpu"] for r in res[lib]) for lib in libs}
                        row = list(key)
                        for lib in libs:
                            row += [f"{wall[lib]:.2f}", f"{cpu[lib]:.2f}"]
                        if use_pykan:
                            row += [f"{wall['pykan'] / wall['symkan']:.1f}x", f"{cpu['pykan'] / cpu['symkan']:.1f}x"]
                        row.append(load_average().split()[0])
                        print(fmt_row(row), flush=True)
                        qrow = list(key)
                        for lib in libs:
                            last = res[lib][-1]
                            evals = statistics.median(r["evals"] for r in res[lib])
                            qrow += [f"{evals:.0f}", f"{last['train']:.2e}", f"{last['test']:.2e}"]
                        quality.append(qrow)
                        print("  result:", fmt_row(qrow), flush=True, file=sys.stderr)
                        deterministic &= len({(r["train"], r["test"], r["evals"]) for r in res["symkan"]}) == 1
        finally:
            torch.set_num_threads(threads_before)

        print("\n## Training result (last repeat; RMSE computed after the fit, same code for both)\n")
        header = ["threads", "case", "lamb"]
        for lib in libs:
            header += [f"{names[lib]} evals", f"{names[lib]} train RMSE", f"{names[lib]} test RMSE"]
        print(fmt_row(header))
        print(fmt_row(["---:", "---", "---:"] + ["---:"] * (len(header) - 3)))
        for row in quality:
            print(fmt_row(row))
        print(f"\nsymkan repeats identical (final RMSEs and evals): {'yes' if deterministic else 'NO'}")
        print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
