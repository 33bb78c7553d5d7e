"""A check on formulas that are not AI-Feynman equations: one search per formula, SRBench's
symbolic criterion, one JSON row per formula.

    python benchmarks/own_formulas.py --time-budget 30 --out rows.jsonl
    python benchmarks/own_formulas.py --time-budget 60 --seeds 0,1,2 --out rows.jsonl   # repeatability
    python benchmarks/own_formulas.py --noise 0.01 --seeds 0,1,2 --out rows.jsonl     # noisy targets
    python benchmarks/own_formulas.py --summary before.jsonl after.jsonl

The formulas are textbook compositions and the cases issue 16 names (separable products
of two inputs, x/(1 + y²) ratios, an identity beside a product, laws of three inputs
with a factor or a term that splits off); inputs are drawn
uniformly from [0.5, 2.5] (1 000 training and 1 000 test rows, seed 0; with ``--noise σ``
SRBench's noise N(0, σ·RMS(y)) on the training targets, the test rows exact). They
were not used to tune anything: a speed change is checked on them beside AI-Feynman. The
held-back set (``--set held-back``) is run only before an issue is resolved.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __package__ in (None, ""):
    sys.path.insert(0, ROOT)

FORMULAS = {
    "separable_gauss_cos": "exp(-x0**2)*cos(2*x1)",
    "product_plus_identity": "x0*x1 + x2",
    "ratio_quadratic": "x0/(1 + x1**2)",
    "sin_times_exp": "sin(x0)*exp(x1/2)",
    "inverse_quadratic": "1/(1 + x0**2 + x1**2)",
    "atan_of_product": "atan(x0*x1)",
    "log_of_quadratic": "log(1 + x0**2 + x1**2)",
    "predator_prey_term": "x0*(1 - x1/3)",
    "damped_sine": "exp(-x0/2)*sin(3*x0)",
    "hypotenuse_plus_one": "sqrt(x0**2 + x1**2 + 1)",
    "cubic_minus_product": "x0**3 - 2*x0*x1",
    "michaelis_menten": "2*x0/(0.5 + x0)",
    # three inputs: a factor or a term that splits off, and a core that does not
    "drag_force": "x0*x1**2*x2/2",
    "arrhenius": "x0*exp(-x1/x2)",
    "logistic_growth": "x0*x1*(1 - x1/(2*x2))",
    "parallel_plus_series": "x2 + x0*x1/(x0 + x1)",
    "holling_type2": "x0*x1/(1 + x1*x2)",
    "wave_energy": "x0*x1**2*sin(x2)**2",
    "decay_plus_offset": "x0*exp(-x1) + x2",
    "driven_amplitude": "x0/sqrt((x1**2 - x2**2)**2 + 1)",
    "scaled_hypotenuse": "x0*sqrt(x1**2 + x2**2)",
    "power_law_ratio": "x0**2*x1/x2**3",
}

#: the held-back set: run only before an issue is resolved, never while developing (so
#: that a mechanism tuned on the formulas above is checked on laws it was not tuned on)
HELD_BACK = {
    "sigmoid_gate": "x0/(1 + exp(-x1))",
    "softened_inverse_square": "x0*x1/(x2**2 + 1)",
    "poiseuille": "x0*x1**4/x2",
    "doppler_ratio": "x0*(1 + x1)/(1 - x2/4)",
    "tanh_of_product": "tanh(x0*x1)",
    "cos_of_difference": "x0*cos(x1 - x2)",
    "log_of_ratio": "x0*log(x1/x2)",
    "gaussian_times_power": "x0**2*exp(-x1**2/2)*x2",
}


def run_one(name: str, formula: str, budget: float, seed: int, noise: float = 0.0) -> dict:
    import sympy
    import torch

    from symkan import SymKANRegressor
    from symkan.datasets.metrics import is_symbolic_solution, r2_score

    torch.set_num_threads(1)
    expr = sympy.sympify(formula)
    names = sorted(s.name for s in expr.free_symbols)
    fn = sympy.lambdify([sympy.Symbol(n) for n in names], expr, "numpy")
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.5, size=(2000, len(names)))
    y = np.asarray(fn(*X.T), dtype=np.float64)
    y_train = y[:1000] + rng.normal(0.0, noise * float(np.sqrt(np.mean(y[:1000] ** 2))), 1000) if noise else y[:1000]
    row = {"name": name, "true": formula, "time_budget": budget, "seed": seed, "noise": noise}
    t0 = time.perf_counter()
    model = SymKANRegressor(time_budget=budget, random_state=seed, variable_names=names).fit(X[:1000], y_train)
    row["seconds"] = time.perf_counter() - t0
    found = model.sympy().xreplace({s: sympy.Symbol(n) for s, n in zip(model.symbols_, model.names_)})
    row["found"] = str(found)
    row["r2_test"] = r2_score(y[1000:], model.predict(X[1000:]))
    row["symbolic"] = bool(is_symbolic_solution(found, expr, names=names, positive=True))
    return row


def summary(paths) -> None:
    """A markdown table of result files: per formula, symbolic solutions over the seeds
    each file ran (hits/seeds) and the median seconds; then each file's totals."""
    tables = []
    for p in paths:
        by_name: dict = {}
        for line in open(p):
            row = json.loads(line)
            by_name.setdefault(row["name"], []).append(row)
        tables.append(by_name)
    names = [n for n in {**FORMULAS, **HELD_BACK} if any(n in t for t in tables)]
    print("| formula | " + " | ".join(f"{os.path.basename(p)}: symbolic (seeds) / median s" for p in paths) + " |")
    print("| --- |" + " ---: |" * len(paths))
    for name in names:
        cells = []
        for t in tables:
            rows = t.get(name)
            if rows is None:
                cells.append("—")
                continue
            hits = sum(r["symbolic"] for r in rows)
            cells.append(f"{'**' if hits else ''}{hits}/{len(rows)}{'**' if hits else ''} / "
                         f"{float(np.median([r['seconds'] for r in rows])):.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for p, t in zip(paths, tables):
        rows = [r for group in t.values() for r in group]
        solved = sum(any(r["symbolic"] for r in group) for group in t.values())
        print(f"{os.path.basename(p)}: {sum(r['symbolic'] for r in rows)} of {len(rows)} runs symbolic; "
              f"{solved} of {len(t)} formulas solved at least once; median "
              f"{float(np.median([r['seconds'] for r in rows])):.1f} s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-budget", type=float, default=30.0)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (data and search); each formula runs once per seed")
    ap.add_argument("--set", choices=("development", "held-back"), default="development",
                    help="the formulas: the development set, or the held-back set (only before resolving an issue)")
    ap.add_argument("--only", help="comma-separated names of the set to run")
    ap.add_argument("--noise", type=float, default=0.0, help="σ of the noise N(0, σ·RMS(y)) on the training targets")
    ap.add_argument("--out", help="JSON lines, one row per formula (appended)")
    ap.add_argument("--summary", nargs="+", help="print a table of these result files and stop")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return
    formulas = FORMULAS if args.set == "development" else HELD_BACK
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(formulas))
        if unknown:
            ap.error(f"not in the {args.set} set: {', '.join(unknown)}")
        formulas = {n: f for n, f in formulas.items() if n in args.only.split(",")}
    for seed in (int(s) for s in args.seeds.split(",")):
        for name, formula in formulas.items():
            row = run_one(name, formula, args.time_budget, seed, args.noise)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
