"""GR-KAN MLP (fc1 → group rational → fc2) vs the GELU MLP it replaces: forward and
forward + backward time.

    python benchmarks/kat_speed.py                      # 64×197 tokens, dim 192, hidden 768, CPU, 1 thread
    python benchmarks/kat_speed.py --compile            # both MLPs under torch.compile (inductor)
    python benchmarks/kat_speed.py --device cuda --repeats 50

ViT-Tiny's MLP shape by default (dim 192, ratio 4, 197 tokens), batch 64, 8 rational groups.
Time: median over ``--repeats`` timed calls after ``--warmup`` calls, of the forward alone
and of forward + ``out.square().mean().backward()`` (gradients cleared between calls); also
the activation alone (GELU vs the group rational) on the (batch, tokens, hidden) tensor.
On CPU the rational runs as the torch reference (symkan.kernels.reference: ~20 separate
elementwise ops), on CUDA as the Triton kernel when triton is installed; ``--compile``
lets inductor fuse the reference into one loop on CPU (compilation, ~30 s per module, is
done in the warm-up calls and not timed).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from symkan.nn.kat import MLP, GroupRational, GRKANMLP  # noqa: E402
from machine_info import cpu_name  # noqa: E402


def timed(fn, device, warmup: int, repeats: int) -> float:
    """Median seconds of fn() over ``repeats`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_backward(module, x):
    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).square().mean().backward()
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=197)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--ratio", type=int, default=4)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--compile", action="store_true", help="torch.compile every module (both MLPs alike)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    hidden = args.dim * args.ratio
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.tokens, args.dim, generator=gen).to(device).requires_grad_()
    h = torch.randn(args.batch, args.tokens, hidden, generator=gen).to(device)
    mlps = {"GELU MLP": MLP(args.dim, hidden).to(device),
            "GR-KAN MLP": GRKANMLP(args.dim, hidden, groups=args.groups).to(device)}
    rational = GroupRational(hidden, args.groups).to(device)
    if args.compile:
        mlps = {name: torch.compile(m) for name, m in mlps.items()}
        rational = torch.compile(rational)
    where = cpu_name() if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"x: {tuple(x.shape)}, hidden {hidden}, {args.groups} groups; {where}, {args.threads} thread(s), "
          f"torch {torch.__version__}; median of {args.repeats}" + ("; torch.compile" if args.compile else ""))
    rows = {}
    for name, mlp in mlps.items():
        with torch.no_grad():
            fwd = timed(lambda: mlp(x), device, args.warmup, args.repeats)
        rows[name] = (fwd, timed(forward_backward(mlp, x), device, args.warmup, args.repeats))
    gelu = torch.compile(F.gelu) if args.compile else F.gelu
    with torch.no_grad():
        acts = {"GELU": timed(lambda: gelu(h), device, args.warmup, args.repeats),
                "group rational": timed(lambda: rational(h), device, args.warmup, args.repeats)}
    base = rows["GELU MLP"]
    print(f"{'module':12s} {'forward ms':>11s} {'fwd+bwd ms':>11s} {'fwd+bwd / GELU MLP':>19s}")
    for name, (fwd, both) in rows.items():
        print(f"{name:12s} {1e3 * fwd:11.1f} {1e3 * both:11.1f} {both / base[1]:19.2f}")
    for name, t in acts.items():
        print(f"activation alone, {name}: {1e3 * t:.1f} ms forward")


if __name__ == "__main__":
    main()
