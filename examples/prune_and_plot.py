"""Train, sparsify, prune, refit and draw a KAN on exp(sin(πx) + y²).

    python examples/prune_and_plot.py [OUT_DIR]

Trains [2, 5, 1] with L1 + entropy sparsification and grid updates, then prunes and
refits twice. Writes ``before_prune.png`` and ``after_prune.png`` into OUT_DIR
(default ``./out``, which git ignores) and logs the RMSEs. ``--products`` adds
``products.png``: a pruned network with a product node and snapped edges.
"""
from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import torch

from symkan import KAN, fit, plot_network
from symkan.pruning import prune
from symkan.train import rmse

log = logging.getLogger("prune_and_plot")


def make_data(n: int = 1000, seed: int = 0):
    """Train and test rows of exp(sin(πx) + y²) on [-1, 1]², from a private generator."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(2 * n, 2, generator=g) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)
    return X[:n], y[:n], X[n:], y[n:]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="out", help="directory for the PNGs (default ./out)")
    parser.add_argument("--steps", type=int, default=50, help="LBFGS steps of the sparsified fit")
    parser.add_argument("--lamb", type=float, default=1e-2, help="sparsification strength")
    parser.add_argument("--refit-steps", type=int, default=20, help="LBFGS steps after each pruning")
    parser.add_argument("--rounds", type=int, default=2, help="prune + refit rounds")
    parser.add_argument("--products", action="store_true",
                        help="also draw products.png: a pruned network with a product node and snapped edges")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    Xtr, ytr, Xte, yte = make_data()
    names = ["x", "y"]
    model = KAN([2, 5, 1], seed=0)
    fit(model, Xtr, ytr, steps=args.steps, lamb=args.lamb, update_grid_every=5)
    before = rmse(model, Xte, yte)

    # prune -> short refit, twice: the refit concentrates the function on fewer nodes,
    # which the second round then removes
    small, widths, pruned = model, [], []
    for _ in range(args.rounds):
        small = prune(small, Xtr)  # node_th=1e-2, edge_th=3e-2, attribution scores
        widths.append(small.width)
        pruned.append(rmse(small, Xte, yte))
        fit(small, Xtr, ytr, steps=args.refit_steps)
    after = rmse(small, Xte, yte)

    fig = plot_network(model, Xtr, in_names=names, out_names=["f"],
                       title=f"trained [2, 5, 1] with L1+entropy: test RMSE {before:.2e}")
    fig.savefig(out / "before_prune.png", dpi=150)
    fig = plot_network(small, Xtr, in_names=names, out_names=["f"],
                       title=f"pruned to {small.width} and refit: test RMSE {after:.2e}")
    fig.savefig(out / "after_prune.png", dpi=150)
    if args.products:
        result_products = products_demo(out)
    result = {"width_before": model.width, "widths_after_each_round": widths, "rmse_trained": before,
              "rmse_after_each_prune_before_refit": pruned, "rmse_final": after, "out_dir": str(out)}
    if args.products:
        result["products"] = result_products
    log.info("%s", result)
    return result


def products_demo(out: Path) -> dict:
    """x·y + sin(πx) on [2, [1, 1], 1] (a sum node and a product node): sparsify, prune,
    refit, snap the edges into the product's factors, refit, draw -> ``products.png``."""
    from symkan.symbolic import fix, suggest

    g = torch.Generator().manual_seed(1)
    X = torch.rand(1000, 2, generator=g) * 2 - 1
    y = X[:, 0] * X[:, 1] + torch.sin(math.pi * X[:, 0])
    model = KAN([2, [1, 1], 1], seed=0)
    fit(model, X, y, steps=50, lamb=3e-2, update_grid_every=5)
    small = prune(model, X)
    fit(small, X, y, steps=20)
    spec = small.specs[1]
    snapped = []
    for j in range(spec.n_sum, spec.n_subnodes):  # the factors of the product node
        for i in range(small.n_inputs):
            if float(small.layers[0].mask[j, i]) > 0:
                name = suggest(small, 0, i, j, X, k=1)[0].name
                fix(small, 0, i, j, name, X)
                snapped.append((i, j, name))
    fit(small, X, y, steps=20)  # the symbolic constants and the other edges adapt
    err = rmse(small, X, y)
    fig = plot_network(small, X, in_names=["x", "y"], out_names=["f"],
                       title=f"x·y + sin(πx), factors snapped\ntrain RMSE {err:.1e}")
    fig.savefig(out / "products.png", dpi=150)
    return {"width": small.width, "snapped": snapped, "rmse_train": err}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
