"""KANLayer forward + backward of two checkouts of symkan side by side, in one process.

    git worktree add --detach /tmp/symkan-before 21982c9
    python benchmarks/layer_ab.py --before /tmp/symkan-before --after . --bases bspline,chebyshev

On a shared machine the load changes from one run to the next, so two runs of
``layer_speed.py`` can differ by 2×. Here both packages are imported at once (as
``symkan_before`` and ``symkan_after``: the package imports itself only relatively) and
every round times one call of each layer in turn, ``nn.Linear(in·K, out)`` included, so a
load change hits all of them alike. Same setting and step as ``layer_speed.py`` (batch
1024, in 64, out 64, K = 8, forward + ``out.square().mean().backward()``); the table
gives the median and the fastest call per layer, each also as a ratio to the same
statistic of ``nn.Linear`` (the fastest call is the least disturbed by other processes).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layer_speed import K8_OPTIONS  # noqa: E402


def load(root: str, alias: str):
    """symkan from the checkout at ``root`` as the package ``alias``."""
    init = os.path.join(root, "symkan", "__init__.py")
    spec = importlib.util.spec_from_file_location(alias, init, submodule_search_locations=[os.path.dirname(init)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{alias}.nn")


def stepper(module: nn.Module, x: torch.Tensor):
    params = [p for p in module.parameters() if p.requires_grad]

    def step():
        for p in params:
            p.grad = None
        x.grad = None
        module(x).square().mean().backward()
    return step


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="root of the first checkout")
    ap.add_argument("--after", required=True, help="root of the second checkout")
    ap.add_argument("--bases", default="bspline")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--x-grad", action="store_true", help="the input requires grad (a layer inside a network)")
    ap.add_argument("--update-grid", action="store_true", help="update_grid(x) first (unequal cells)")
    ap.add_argument("--scale", type=float, default=1.0, help="inputs uniform on [-scale, scale] (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    versions = {"before": load(args.before, "symkan_before"), "after": load(args.after, "symkan_after")}
    x = (torch.rand(1024, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1) * args.scale
    x.requires_grad_(args.x_grad)
    lin = nn.Linear(64 * 8, 64)
    steps = {"nn.Linear(64·8, 64)": stepper(lin, x.detach().repeat(1, 8).requires_grad_(args.x_grad))}
    for name in args.bases.split(","):
        for tag, mod in versions.items():
            layer = mod.KANLayer(64, 64, name, generator=torch.Generator().manual_seed(0), **K8_OPTIONS.get(name, {}))
            if args.update_grid:
                layer.basis.update_grid(x.detach())
            steps[f"KANLayer {name} ({tag})"] = stepper(layer, x)
    times = {label: [] for label in steps}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    for _ in range(args.rounds):
        for label, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - t0)
    ref = statistics.median(times["nn.Linear(64·8, 64)"])
    ref_min = min(times["nn.Linear(64·8, 64)"])
    print(f"# before: {args.before}, after: {args.after}; {args.rounds} interleaved rounds, {args.threads} thread(s), "
          f"x requires grad: {args.x_grad}, update_grid: {args.update_grid}, scale {args.scale}, load average {os.getloadavg()[0]:.1f}")
    print("| layer | fwd+bwd ms (median) | × nn.Linear | fastest ms | × nn.Linear (fastest) |")
    print("|---|---:|---:|---:|---:|")
    for label, ts in times.items():
        ms, fastest = statistics.median(ts), min(ts)
        print(f"| {label} | {1e3 * ms:.2f} | {ms / ref:.2f} | {1e3 * fastest:.2f} | {fastest / ref_min:.2f} |")


if __name__ == "__main__":
    main()
