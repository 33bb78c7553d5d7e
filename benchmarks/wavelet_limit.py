"""How close the wavelet layers are to the cost of evaluating ψ once.

    python benchmarks/wavelet_limit.py --threads 1

Times (median of ``--repeats`` calls, 1 thread): one torch.exp / torch.cos / in-place
multiply over as many floats as the layer has points (batch · out · in · K), as one
tensor and in cached chunks of the size ``WaveletSum`` uses; ψ alone at every point
(points and chunk kernel, no contraction); the layer's forward; its forward + backward.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from symkan.bases.wavelet_sum import WaveletChunk
from symkan.nn import KANLayer


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def layer_timings(layer: KANLayer, x: torch.Tensor) -> list:
    """(label, callable) for ψ alone at every point, the forward, the forward + backward."""
    basis = layer.basis

    @torch.no_grad()
    def psi_once():
        state = WaveletChunk(x, basis.translation, basis.scale, basis, basis.max_chunk_elements)
        for cols in state.cols:
            state.select(cols)
            for r in range(len(state.rows)):
                basis.chunk_psi(state.points(r), state)

    @torch.no_grad()
    def forward():
        layer(x)

    def forward_backward():
        for p in layer.parameters():
            p.grad = None
        layer(x).square().mean().backward()
    return [("ψ once (points + kernel)", psi_once), ("layer forward", forward),
            ("layer forward + backward", forward_backward)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--in-features", type=int, default=64)
    ap.add_argument("--out-features", type=int, default=64)
    ap.add_argument("--num-wavelets", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    n, d_in, d_out, k = args.batch, args.in_features, args.out_features, args.num_wavelets
    points = n * d_in * d_out * k
    x = torch.rand(n, d_in, generator=torch.Generator().manual_seed(0)) * 2 - 1
    chunk = KANLayer(1, 1, "dog").basis.max_chunk_elements
    whole, whole_out = torch.randn(points), torch.empty(points)
    part, part_out = torch.randn(chunk), torch.empty(chunk)
    reps = range(max(1, points // chunk))
    print(f"# {points:,} points (batch {n} × out {d_out} × in {d_in} × K {k}), chunks of {chunk} points, "
          f"{torch.get_num_threads()} thread(s)")
    print("| quantity | ms |\n|---|---:|")
    rows = [("one torch.exp over all points as one tensor", lambda: torch.exp(whole, out=whole_out)),
            ("one torch.exp over all points in cached chunks", lambda: [torch.exp(part, out=part_out) for _ in reps]),
            ("one torch.cos over all points in cached chunks", lambda: [torch.cos(part, out=part_out) for _ in reps]),
            ("one in-place multiply over all points in cached chunks", lambda: [part_out.mul_(1.0) for _ in reps])]
    for label, fn in rows:
        print(f"| {label} | {median_ms(fn, args.repeats):.1f} |")
    for name in ("dog", "mexican_hat", "morlet"):
        layer = KANLayer(d_in, d_out, name, generator=torch.Generator().manual_seed(0), num_wavelets=k)
        for label, fn in layer_timings(layer, x):
            print(f"| {name}: {label} | {median_ms(fn, args.repeats):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
