"""Benchmark the Triton kernels against their torch reference twins and an equal-FLOP GEMM.

    python benchmarks/kernels.py --device cuda                 # the GPU run (all shapes)
    python benchmarks/kernels.py --device cpu                  # torch paths, small shapes
    python benchmarks/kernels.py --device cuda --json out.json # also write the rows and targets as JSON

For every shape (batch B, channels C; groups 8 for the rational unless ``--groups`` says
otherwise, ``--groups 0`` = one group per channel as the basis default; G=5 cells and k=3 for
ReLU-KAN, i.e. K=8 features per input and C outputs) it reports, per implementation,
the median time of a forward (no grad) and of a forward+backward, and the peak memory
each adds on top of its inputs:

* rational ``F(x)`` on (B, C): ``triton`` kernel, ``torch`` reference, ``gelu`` (an
  elementwise op with the same memory traffic), ``linear`` = ``nn.Linear(C, 10)``, the
  GEMM with the rational's ~20 FLOPs per element;
* ReLU-KAN layer (B, C) -> (B, C): ``triton`` fused kernel, ``torch`` unfused reference
  (materialises the (B, C·K) features), ``linear`` = ``nn.Linear(C·K, C)`` applied to a
  ready (B, C·K) input: the same GEMM FLOPs without any basis work. The knots get
  gradients too (trained knots, the harder case) unless ``--frozen-knots`` (the basis
  default, ``train_knots=False``).

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU, the growth of the
peak resident set size (VmHWM) of a fresh child process over one call (Linux); small
cases can read 0 when the call fits in memory the allocator already holds.
One run, no retries; the lines under "targets" compare with the goals in docs/kernels.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from symkan.kernels import rational_activation, relukan_linear, triton_available  # noqa: E402

GROUPS = 8  # rational groups; --groups replaces it (0: one per channel)
GRID, ORDER = 5, 3
K_FEAT = GRID + ORDER
TRAIN_KNOTS = True  # --frozen-knots: ReLU-KAN knots without gradients (the basis default)
RATIONAL_FLOPS_PER_ELEMENT = 20  # Horner P (10) + |x| and Horner Q (9) + division (1)
GPU_SHAPES = [(4096, 256), (16384, 512), (65536, 256), (65536, 1024)]
CPU_SHAPES = [(1024, 64), (4096, 256)]


# --- measurement ---------------------------------------------------------------------------
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn, device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def peak_mb(fn, device) -> float | None:
    """Extra GPU memory at the peak of one call, in MB."""
    _sync(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    _sync(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def peak_mb_subprocess(op, batch, channels, impl, grad, dtype) -> float | None:
    """CPU: growth of the peak RSS over one call, in a fresh process (a fork would
    deadlock in OpenMP); the child rebuilds the same case and warms up on a tiny batch."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_peak", op, str(batch), str(channels), impl,
           str(int(grad)), dtype, "--threads", str(torch.get_num_threads()), "--groups", str(GROUPS)]
    cmd += [] if TRAIN_KNOTS else ["--frozen-knots"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        return float(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _child_peak(op, batch, channels, impl, grad, dtype) -> None:
    build = rational_cases if op == "rational" else relukan_cases
    device = torch.device("cpu")
    # warm up code paths on a small batch so lazy initialisation is not counted
    build(64, channels, device, getattr(torch, dtype), [impl], torch.Generator().manual_seed(0))[impl](grad)()
    call = build(batch, channels, device, getattr(torch, dtype), [impl], torch.Generator().manual_seed(0))[impl](grad)
    before = _peak_rss_kb()
    call()
    after = _peak_rss_kb()
    sys.stdout.write(f"{(after - before) / 1024}\n")


def _peak_rss_kb() -> int:
    """This process' peak resident set (KB). VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over from the parent across fork + exec, which would hide the child's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(make_call, device, repeats, warmup, key):
    """make_call(grad: bool) -> a no-argument callable. -> dict of times and peaks."""
    fwd = make_call(False)
    fwd_bwd = make_call(True)
    res = {"fwd_ms": median_ms(fwd, device, repeats, warmup), "fwdbwd_ms": median_ms(fwd_bwd, device, repeats, warmup)}
    if device.type == "cuda":
        res["fwd_mb"], res["fwdbwd_mb"] = peak_mb(fwd, device), peak_mb(fwd_bwd, device)
    else:
        op, batch, channels, impl, dtype = key
        res["fwd_mb"] = peak_mb_subprocess(op, batch, channels, impl, False, dtype)
        res["fwdbwd_mb"] = peak_mb_subprocess(op, batch, channels, impl, True, dtype)
    return res


# --- cases ---------------------------------------------------------------------------------
def _runner(fn, leaves):
    def make(grad):
        if not grad:
            def call():
                with torch.no_grad():
                    fn()
            return call

        def call():
            for t in leaves:
                t.grad = None
            fn().sum().backward()
        return call
    return make


def rational_cases(batch, channels, device, dtype, impls, gen):
    """impls ⊆ {"triton", "torch", "gelu", "linear"} -> {impl: runner}."""
    x = (torch.randn(batch, channels, generator=gen) * 2).to(device, dtype).requires_grad_()
    groups = GROUPS or channels
    num = (torch.randn(groups, 6, generator=gen) * 0.3).to(device).requires_grad_()
    den = torch.randn(groups, 4, generator=gen).to(device).requires_grad_()
    cases = {}
    for impl in impls:
        if impl in ("triton", "torch"):
            cases[impl] = _runner(lambda be=impl: rational_activation(x, num, den, backend=be), [x, num, den])
        elif impl == "gelu":
            cases[impl] = _runner(lambda: torch.nn.functional.gelu(x), [x])
        elif impl == "linear":
            lin = nn.Linear(channels, RATIONAL_FLOPS_PER_ELEMENT // 2, bias=False).to(device, dtype)
            cases[impl] = _runner(lambda: lin(x), [x, lin.weight])
    return cases


def relukan_cases(batch, channels, device, dtype, impls, gen):
    """impls ⊆ {"triton", "torch", "linear"} -> {impl: runner}."""
    cases = {}
    if "linear" in impls:
        feats = torch.rand(batch, channels * K_FEAT, generator=gen).to(device, dtype).requires_grad_()
        lin = nn.Linear(channels * K_FEAT, channels, bias=False).to(device, dtype)
        cases["linear"] = _runner(lambda: lin(feats), [feats, lin.weight])
    if not {"triton", "torch"} & set(impls):
        return cases
    x = (torch.rand(batch, channels, generator=gen) * 2 - 1).to(device, dtype).requires_grad_()
    steps = torch.arange(-ORDER, GRID, dtype=torch.float32) * (2.0 / GRID) - 1.0
    start = steps.repeat(channels, 1).to(device).requires_grad_(TRAIN_KNOTS)
    width = torch.full((channels, K_FEAT), (ORDER + 1) * 2.0 / GRID, device=device).requires_grad_(TRAIN_KNOTS)
    weight = (torch.randn(channels, channels * K_FEAT, generator=gen) / (channels * K_FEAT) ** 0.5)
    weight = weight.to(device, dtype).requires_grad_()
    for impl in impls:
        if impl in ("triton", "torch"):
            cases[impl] = _runner(lambda be=impl: relukan_linear(x, weight, start, width, backend=be),
                                  [x, weight, start, width])
    return {impl: cases[impl] for impl in impls if impl in cases}


# --- report --------------------------------------------------------------------------------
def fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def run(args) -> int:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch sees no CUDA device")
    dtype = getattr(torch, args.dtype)
    backends = ["torch"]
    if device.type == "cuda" and triton_available() and not args.torch_only:
        backends.insert(0, "triton")
    shapes = args.shapes or (GPU_SHAPES if device.type == "cuda" else CPU_SHAPES)
    repeats = args.repeats or (20 if device.type == "cuda" else 3)
    warmup = args.warmup if args.warmup is not None else (5 if device.type == "cuda" else 1)
    gen = torch.Generator().manual_seed(0)

    out = sys.stdout
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    out.write(f"# command: python {' '.join(sys.argv)}\n")
    out.write(f"# device: {device.type} ({name}), torch {torch.__version__}, dtype {args.dtype}, "
              f"threads {torch.get_num_threads()}, repeats {repeats} (median), warmup {warmup}, "
              f"rational groups {GROUPS or 'one per channel'}, ReLU-KAN knots {'trained' if TRAIN_KNOTS else 'frozen'}\n")
    if device.type != "cuda":
        out.write("# triton kernels are not timed on CPU (the interpreter is a correctness tool)\n")
    out.write("| op | B×C | impl | fwd ms | fwd+bwd ms | fwd peak MB | fwd+bwd peak MB | fwd+bwd vs torch | fwd+bwd vs linear |\n")
    out.write("|---|---|---|---|---|---|---|---|---|\n")
    rows, targets = [], []
    for batch, channels in shapes:
        for op, build in (("rational", rational_cases), ("relukan", relukan_cases)):
            if op not in args.ops:
                continue
            results = {}
            impls = backends + (["gelu", "linear"] if op == "rational" else ["linear"])
            for impl, make in build(batch, channels, device, dtype, impls, gen).items():
                key = (op, batch, channels, impl)
                results[impl] = measure(make, device, repeats, warmup, key + (args.dtype,))
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            ref = results["torch"]["fwdbwd_ms"]
            lin = results["linear"]["fwdbwd_ms"]
            for impl, r in results.items():
                rows.append(dict(op=op, batch=batch, channels=channels, impl=impl, **r,
                                 vs_torch=ref / r["fwdbwd_ms"], vs_linear=r["fwdbwd_ms"] / lin))
                out.write(f"| {op} | {batch}×{channels} | {impl} | {fmt(r['fwd_ms'])} | {fmt(r['fwdbwd_ms'])} | "
                          f"{fmt(r['fwd_mb'], '.1f')} | {fmt(r['fwdbwd_mb'], '.1f')} | "
                          f"{ref / r['fwdbwd_ms']:.2f}× | {r['fwdbwd_ms'] / lin:.2f}× |\n")
            out.flush()
            if "triton" in results:
                targets.extend(target_lines(op, batch, channels, results))
    summary = [t["text"] for t in targets if t["text"]]
    out.write("\n# targets\n" + ("\n".join(summary) if summary else "(no triton run on this device)") + "\n")
    if args.json:
        info = dict(command="python " + " ".join(sys.argv), device=device.type, device_name=name,
                    torch=torch.__version__, dtype=args.dtype, repeats=repeats, warmup=warmup,
                    rational_groups=GROUPS or "one per channel", relukan_knot_grad=TRAIN_KNOTS,
                    tf32=bool(device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32))
        with open(args.json, "w") as fh:
            json.dump(dict(info, rows=rows, targets=targets), fh, indent=1)
    return 0


def target_lines(op, batch, channels, results) -> list[dict]:
    """The docs/kernels.md targets for one shape: [{name, value, goal, met, text}]."""
    t, ref, lin = results["triton"], results["torch"], results["linear"]
    shape = f"{batch}×{channels}"
    if op == "rational":
        speedup = ref["fwdbwd_ms"] / t["fwdbwd_ms"]
        return [dict(name="rational_speedup", shape=shape, value=speedup, goal=">= 5", met=speedup >= 5,
                     text=f"rational {shape}: kernel fwd+bwd speed-up over torch {speedup:.2f}× (target ≥ 5×)")]
    ratio = t["fwdbwd_ms"] / lin["fwdbwd_ms"]
    fused, unfused = t["fwdbwd_mb"], ref["fwdbwd_mb"]
    mem_ok = fused is not None and unfused is not None and fused < unfused
    knots = "" if TRAIN_KNOTS else ", frozen knots"
    return [dict(name="relukan_vs_linear", shape=shape, value=ratio, goal="<= 1.5", met=ratio <= 1.5,
                 knot_grad=TRAIN_KNOTS,
                 text=f"relukan {shape}{knots}: fused fwd+bwd / equal-FLOP GEMM {ratio:.2f}× (target ≤ 1.5×); "
                      f"peak {fmt(fused, '.0f')} MB vs unfused {fmt(unfused, '.0f')} MB "
                      f"({'below' if mem_ok else 'NOT below'})"),
            dict(name="relukan_peak_memory", shape=shape, value=fused, unfused=unfused, goal="< unfused",
                 met=mem_ok, knot_grad=TRAIN_KNOTS, text="")]


def parse_shape(text: str) -> tuple[int, int]:
    try:
        b, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like 4096x256, got {text!r}") from None
    return b, c


def main(argv=None) -> int:
    global GROUPS, TRAIN_KNOTS
    p = argparse.ArgumentParser(description="symkan kernels vs torch reference vs equal-FLOP GEMM")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--shapes", type=parse_shape, nargs="+", help="BxC, e.g. 4096x256 65536x1024")
    p.add_argument("--ops", nargs="+", default=["rational", "relukan"], choices=["rational", "relukan"])
    p.add_argument("--repeats", type=int, help="timed calls per case (median); default 20 on CUDA, 3 on CPU")
    p.add_argument("--warmup", type=int)
    p.add_argument("--torch-only", action="store_true", help="skip the Triton kernels even on CUDA")
    p.add_argument("--threads", type=int, help="torch intra-op threads (CPU); default: torch's choice")
    p.add_argument("--groups", type=int, default=GROUPS,
                   help=f"rational groups (default {GROUPS}); 0 = one group per channel (the basis default)")
    p.add_argument("--frozen-knots", action="store_true",
                   help="ReLU-KAN knots get no gradient (the basis default train_knots=False)")
    p.add_argument("--json", help="also write the rows and the targets to this JSON file")
    p.add_argument("--_peak", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    GROUPS = args.groups
    TRAIN_KNOTS = not args.frozen_knots
    if GROUPS < 0 or any(c % GROUPS for _, c in (args.shapes or []) if GROUPS):
        p.error(f"--groups must be 0 or divide every channel count, got {GROUPS}")
    if args._peak:
        if args.threads:
            torch.set_num_threads(args.threads)
        op, b, c, impl, grad, dtype = args._peak
        _child_peak(op, int(b), int(c), impl, bool(int(grad)), dtype)
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
