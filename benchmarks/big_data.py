"""Time, CPU time, peak memory and accuracy of one fit on a large table (issue 18, item 5).

    python benchmarks/big_data.py --law product --rows 200000 --budget 10

Prints one JSON line: wall and CPU seconds of the fit, the process's peak RSS (MB), the
load average around it, the formula and its R² on 20 000 fresh noise-free rows.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

LAWS = {
    # y = x0·x1 + sin(x2) on [-2, 2]^5 (x3, x4 are distractors): the linear space
    "sum": (lambda X: X[:, 0] * X[:, 1] + np.sin(X[:, 2]), (-2.0, 2.0)),
    # y = x0²·x1/x3 on [1, 3]^5: a product of powers, found in the log space
    "product": (lambda X: X[:, 0] ** 2 * X[:, 1] / X[:, 3], (1.0, 3.0)),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--law", choices=sorted(LAWS), default="sum")
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--cols", type=int, default=5)
    p.add_argument("--budget", type=float, default=10.0, help="time_budget in seconds (0: None)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from symkan import SymKANRegressor

    law, (lo, hi) = LAWS[args.law]
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(lo, hi, size=(args.rows, args.cols))
    y = law(X)
    X_test = rng.uniform(lo, hi, size=(20_000, args.cols))
    y_test = law(X_test)
    load0 = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model = SymKANRegressor(time_budget=args.budget or None, random_state=args.seed).fit(X, y)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({
        "law": args.law, "rows": args.rows, "budget": args.budget, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_before": load0, "load_after": os.getloadavg()[0], "formula": str(model.sympy()),
        "r2_test": float(model.score(X_test, y_test)),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
