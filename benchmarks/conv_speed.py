"""Forward + backward time and peak memory of KANConv2d per basis vs an equal-FLOP nn.Conv2d.

    python benchmarks/conv_speed.py --threads 1                 # batch 64, 32 -> 32, 28×28, 3×3
    python benchmarks/conv_speed.py --device cuda --repeats 20  # where a GPU exists

Setting: input (64, 32, 28, 28) that requires grad (a layer inside a network), 3×3 kernel,
padding 1, residual branch on. Every feature basis runs at K = 8 functions per edge (the
options of ``layer_speed.py``: B-spline G=5 k=3, polynomials of degree 7, 8 RBF centres,
4 Fourier frequencies, ReLU-KAN G=5 k=3); wavelets at ``--num-wavelets`` per edge (default
2: their cost grows with it and they are ~100× slower per edge than feature bases); the
group rational has one function per (channel, position) input and a weight per edge.

Equal FLOPs: a feature-basis KANConv2d ("expand" formulation) runs ONE convolution over
C·(K + 1) expanded input channels (K basis features and the residual's silu per channel),
so its convolution does exactly the multiply-adds of ``nn.Conv2d(32·(K+1), 32, 3)`` on a
(64, 32·(K+1), 28, 28) input; that convolution (input requiring grad too) is the reference,
and "× ref" is the ratio of medians. The KAN layer's extra cost is the basis expansion.
``nn.Conv2d(32, 32, 3)`` is listed for scale.

Time: median over ``--repeats`` calls (after ``--warmup``) of forward +
``out.square().mean().backward()``, gradients cleared between calls (``layer_speed.measure``).
Peak memory: on CPU, the torch profiler's allocation events during one call (running sum,
peak; ``layer_speed.peak_cpu_bytes``), on CUDA ``torch.cuda.max_memory_allocated``; both count
what the call allocates (activations, gradients), not the parameters or the input.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from symkan.bases import available_bases  # noqa: E402
from symkan.nn import KANConv2d  # noqa: E402
from layer_speed import K8_OPTIONS, machine, measure  # noqa: E402

WAVELETS = ("mexican_hat", "morlet", "dog")


def clearing(module: nn.Module):
    """forward that also clears the input's gradient, so every call allocates it afresh."""
    def forward(t: torch.Tensor) -> torch.Tensor:
        t.grad = None
        return module(t)
    return forward


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--slow-repeats", type=int, default=2,
                    help="repeats for the bases that are not feature bases (wavelets: ~25 s a call on 1 CPU thread)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bases", default=None, help="comma-separated subset of the registry")
    ap.add_argument("--num-wavelets", type=int, default=2)
    ap.add_argument("--shift", default="bspline,relukan",
                    help="feature bases also timed with formulation='shift' (comma-separated; '' for none)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n, c, s, k = args.batch, args.channels, args.size, args.kernel
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, s, s, generator=gen).to(device).requires_grad_()
    names = args.bases.split(",") if args.bases else available_bases()
    shift = [b for b in args.shift.split(",") if b]

    rows = []  # (label, K, parameters, seconds, peak bytes, K' of the matching reference or None)
    refs = {}  # K' -> list of (seconds, peak bytes, parameters): measured before and after the KAN rows

    def measure_reference(kp: int):
        conv = nn.Conv2d(c * kp, c, k, padding=k // 2).to(device)
        xr = torch.randn(n, c * kp, s, s, generator=gen).to(device).requires_grad_()
        sec, peak = measure(conv, clearing(conv), xr, args.repeats, args.warmup)
        refs.setdefault(kp, []).append((sec, peak, sum(p.numel() for p in conv.parameters())))

    def reference(kp: int) -> float:
        """Mean of the reference's medians (before and after the KAN rows, so load drifts average out)."""
        if kp not in refs:
            measure_reference(kp)
        return sum(r[0] for r in refs[kp]) / len(refs[kp])

    measure_reference(9)  # K = 8 feature bases with the residual

    for name in names:
        opts = dict(K8_OPTIONS.get(name, {}))
        if name in WAVELETS:
            opts = {"num_wavelets": args.num_wavelets}
        forms = ["auto"] + (["shift"] if name in shift else [])
        for form in forms:
            layer = KANConv2d(c, c, k, padding=k // 2, basis=name, formulation=form, seed=0, **opts).to(device)
            basis = layer.bases[0]
            kk = getattr(basis, "num_features", None) or getattr(basis, "num_wavelets", None) or 1
            reps = args.repeats if layer.feature_basis else min(args.repeats, args.slow_repeats)
            sec, peak = measure(layer, clearing(layer), x, reps, args.warmup)
            how = layer.resolved_formulation(x)
            label = f"{name} ({how}" + (", " + ", ".join(f"{a}={b}" for a, b in opts.items()) if opts else "") + ")"
            rows.append((label, kk, sum(p.numel() for p in layer.parameters()), sec, peak,
                         kk + 1 if layer.feature_basis else None))
            print(f"# {label}: {1e3 * sec:.0f} ms", file=sys.stderr, flush=True)

    for kp in list(refs):
        measure_reference(kp)
    plain = nn.Conv2d(c, c, k, padding=k // 2).to(device)
    p_sec, p_peak = measure(plain, clearing(plain), x, args.repeats, args.warmup)
    print(f"# KANConv2d forward+backward, batch {n}, {c} -> {c} channels, {s}×{s}, kernel {k}, padding {k // 2}, "
          f"device {device}")
    print(f"# machine: {machine(device)}")
    print(f"# median of {args.repeats} ({args.slow_repeats} for non-feature bases) after {args.warmup} warm-up "
          f"calls; load average {os.getloadavg()[0]:.1f}; memory: "
          f"{'torch.cuda.max_memory_allocated' if device.type == 'cuda' else 'torch profiler allocation events'}")
    print()
    print("| layer | K | parameters | fwd+bwd ms (median) | peak MiB | equal-FLOP nn.Conv2d ms | × ref |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, kk, n_par, sec, peak, kp in rows:
        if kp is None:
            ref_ms, ratio = "—", "—"
        else:
            r_sec = reference(kp)
            ref_ms, ratio = f"{1e3 * r_sec:.0f} ({c}·{kp} in)", f"{sec / r_sec:.2f}"
        print(f"| KANConv2d {label} | {kk} | {n_par:,} | {1e3 * sec:.0f} | {peak / 2 ** 20:.0f} | {ref_ms} | {ratio} |")
    for kp, runs in sorted(refs.items()):
        times = " / ".join(f"{1e3 * r[0]:.0f}" for r in runs)
        print(f"| nn.Conv2d({c}·{kp}, {c}, {k}) (equal FLOPs, K = {kp - 1}; before / after the KAN rows) | — | "
              f"{runs[0][2]:,} | {times} | {max(r[1] for r in runs) / 2 ** 20:.0f} | | 1 |")
    print(f"| nn.Conv2d({c}, {c}, {k}) | — | {sum(p.numel() for p in plain.parameters()):,} | {1e3 * p_sec:.0f} | "
          f"{p_peak / 2 ** 20:.0f} | | |")


if __name__ == "__main__":
    main()
