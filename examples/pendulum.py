"""Rediscover the period of a pendulum, T = 2π·√(L/g), from noisy measurements.

    python examples/pendulum.py [OUT_DIR] [--rows N] [--noise SIGMA] [--time-budget S]

Simulates measurements of the period T of pendulums of length L (0.2–2 m) on worlds
with surface gravity g (1.6–25 m/s², the Moon to Jupiter), with a relative measurement
noise, fits a SymKANRegressor and prints the formula, its LaTeX and the Pareto front.
Writes ``pendulum.csv`` and ``network.png`` into OUT_DIR (default ``./out``, which git
ignores). This is the example of docs/tutorial.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from symkan import SymKANRegressor


def measurements(n: int, noise: float, seed: int = 42):
    """(X, T): X (n, 2) columns L [m], g [m/s²]; T (n,) period [s] with relative noise."""
    rng = np.random.default_rng(seed)
    L = rng.uniform(0.2, 2.0, n)
    g = rng.uniform(1.6, 25.0, n)
    T = 2 * np.pi * np.sqrt(L / g) * (1 + rng.normal(0.0, noise, n))
    return np.column_stack([L, g]), T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="out")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--noise", type=float, default=1e-4, help="relative noise of the measured periods")
    parser.add_argument("--time-budget", type=float, default=None)
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    X, T = measurements(args.rows, args.noise)
    np.savetxt(out / "pendulum.csv", np.column_stack([X, T]), delimiter=",", header="L,g,T", comments="")
    model = SymKANRegressor(variable_names=["L", "g"], target_name="T", time_budget=args.time_budget).fit(X, T)
    print(f"formula: {model.equation()}")
    print(f"LaTeX:   {model.latex()}")
    print(f"R² on all rows: {model.score(X, T):.9f}")
    print(model.front_)
    model.plot().savefig(out / "network.png", dpi=150)
    print(f"wrote {out / 'pendulum.csv'} and {out / 'network.png'}")
    return model


if __name__ == "__main__":
    main()
