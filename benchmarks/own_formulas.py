"""A check on formulas that are not AI-Feynman equations: one search per formula, SRBench's
symbolic criterion, one JSON row per formula.

    python benchmarks/own_formulas.py --time-budget 30 --out rows.jsonl
    python benchmarks/own_formulas.py --summary before.jsonl after.jsonl

The formulas are textbook compositions and the cases issue 16 names (separable products
of two inputs, x/(1 + y²) ratios, an identity beside a product); inputs are drawn
uniformly from [0.5, 2.5] (1 000 training and 1 000 test rows, seed 0, no noise). They
were not used to tune anything: a speed change is checked on them beside AI-Feynman.
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
}


def run_one(name: str, formula: str, budget: float, seed: int) -> dict:
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
    row = {"name": name, "true": formula, "time_budget": budget, "seed": seed}
    t0 = time.perf_counter()
    model = SymKANRegressor(time_budget=budget, random_state=seed, variable_names=names).fit(X[:1000], y[:1000])
    row["seconds"] = time.perf_counter() - t0
    found = model.sympy().xreplace({s: sympy.Symbol(n) for s, n in zip(model.symbols_, model.names_)})
    row["found"] = str(found)
    row["r2_test"] = r2_score(y[1000:], model.predict(X[1000:]))
    row["symbolic"] = bool(is_symbolic_solution(found, expr, names=names, positive=True))
    return row


def summary(paths) -> None:
    rows = [{json.loads(line)["name"]: json.loads(line) for line in open(p)} for p in paths]
    print("| formula | " + " | ".join(f"{os.path.basename(p)}: symbolic / s" for p in paths) + " |")
    print("| --- |" + " ---: |" * len(paths))
    for name in FORMULAS:
        cells = []
        for r in rows:
            row = r.get(name)
            cells.append("—" if row is None else f"{'**yes**' if row['symbolic'] else 'no'} / {row['seconds']:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for p, r in zip(paths, rows):
        times = sorted(row["seconds"] for row in r.values())
        print(f"{os.path.basename(p)}: {sum(row['symbolic'] for row in r.values())} of {len(r)} symbolic, "
              f"median {times[len(times) // 2]:.1f} s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-budget", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON lines, one row per formula (appended)")
    ap.add_argument("--summary", nargs="+", help="print a table of these result files and stop")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return
    for name, formula in FORMULAS.items():
        row = run_one(name, formula, args.time_budget, args.seed)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
