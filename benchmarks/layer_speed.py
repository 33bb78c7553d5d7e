"""Forward + backward time and peak memory of one KANLayer per basis.

    python benchmarks/layer_speed.py                      # batch 1024, in 64, out 64, K = 8
    python benchmarks/layer_speed.py --device cuda --repeats 50 --json layers.json

Every registered basis runs at about K = 8 functions per edge (B-spline G=5 k=3,
polynomials of degree 7, 8 RBF centres, 4 Fourier frequencies, 8 wavelets per edge,
ReLU-KAN G=5 k=3; the group rational has one weight per edge), beside ``nn.Linear(in·K,
out)`` (the same matmul FLOPs as a feature-then-matmul basis) and, when importable,
pykan 0.2.8's ``kan.KANLayer(num=5, k=3)`` (install with ``pip install pykan==0.2.8
pyyaml``; its constructor draws from the global RNG, so its state is saved and restored
around it).

Time: median over ``--repeats`` timed calls (after ``--warmup`` calls) of
forward + ``out.square().mean().backward()``, gradients cleared between calls.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` minus the memory allocated
before the call. On CPU, the torch profiler's allocation events
(``profile_memory=True``) during one forward + backward, replayed in time order; the
peak of the running sum of allocated bytes. Both count only memory allocated during the
call (not parameters or the input) and include the gradients the call creates.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from symkan.bases import available_bases  # noqa: E402
from symkan.nn import KANLayer  # noqa: E402
from machine_info import cpu_name  # noqa: E402

#: basis options that give about 8 functions per edge
K8_OPTIONS = {
    "bspline": {"grid_size": 5, "order": 3},
    "relukan": {"grid_size": 5, "k": 3},
    "chebyshev": {"degree": 7},
    "legendre": {"degree": 7},
    "gram": {"degree": 7},
    "jacobi": {"degree": 7},
    "bernstein": {"degree": 7},
    "rbf": {"num_centers": 8},
    "fourier": {"num_frequencies": 4},
    "mexican_hat": {"num_wavelets": 8},
    "morlet": {"num_wavelets": 8},
    "dog": {"num_wavelets": 8},
}


def machine(device: torch.device) -> str:
    gpu = f"{torch.cuda.get_device_name(device)}, " if device.type == "cuda" else ""
    return (f"{gpu}{cpu_name()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}")


def peak_cpu_bytes(step) -> int:
    """Peak of the running sum of bytes allocated by torch on CPU during ``step()``."""
    from torch.profiler import ProfilerActivity, profile
    from torch._C._profiler import _EventType

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    allocs = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            allocs.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    allocs.sort()
    running, peak = 0, 0
    for _, size in allocs:
        running += size
        peak = max(peak, running)
    return peak


def peak_cuda_bytes(step, device) -> int:
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def measure(module: nn.Module, forward, x: torch.Tensor, repeats: int, warmup: int) -> tuple[float, int]:
    """Median seconds of forward + backward and peak bytes allocated during one call."""
    params = [p for p in module.parameters() if p.requires_grad]
    cuda = x.device.type == "cuda"

    def step():
        for p in params:
            p.grad = None
        forward(x).square().mean().backward()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(x.device)
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(x.device)
        times.append(time.perf_counter() - t0)
    for p in params:
        p.grad = None
    peak = peak_cuda_bytes(step, x.device) if cuda else peak_cpu_bytes(step)
    return statistics.median(times), peak


def pykan_layer(n_in: int, n_out: int, device):
    """pykan's KANLayer (num=5, k=3: K = 8) or None when pykan is not importable."""
    try:
        from kan.KANLayer import KANLayer as PyKANLayer
    except Exception as err:  # ImportError, or a missing optional dependency of pykan
        return None, f"pykan not importable ({type(err).__name__}: {err})"
    state = torch.random.get_rng_state()
    try:
        layer = PyKANLayer(in_dim=n_in, out_dim=n_out, num=5, k=3, device=str(device))
    finally:
        torch.random.set_rng_state(state)  # pykan draws its init noise from the global RNG
    return layer.to(device), None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--in-features", type=int, default=64)
    ap.add_argument("--out-features", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bases", default=None, help="comma-separated subset of the registry")
    ap.add_argument("--num-wavelets", type=int, default=8,
                    help="wavelets per edge for the wavelet bases (cost grows linearly with it)")
    ap.add_argument("--no-pykan", action="store_true")
    ap.add_argument("--no-linear", action="store_true")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_in, n_out, batch = args.in_features, args.out_features, args.batch
    x = (torch.rand(batch, n_in, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    names = args.bases.split(",") if args.bases else available_bases()

    rows, notes, failed = [], [], []
    for name in names:
        opts = dict(K8_OPTIONS.get(name, {}))
        if "num_wavelets" in opts:
            opts["num_wavelets"] = args.num_wavelets
        label = f"KANLayer {name}" + (f" ({', '.join(f'{a}={b}' for a, b in opts.items())})" if opts else "")
        try:  # one basis failing on a device (e.g. the first GPU run) must not lose the others' rows
            layer = KANLayer(n_in, n_out, name, generator=torch.Generator().manual_seed(0), **opts).to(device)
            k = getattr(layer.basis, "num_features", None) or getattr(layer.basis, "num_wavelets", None)
            sec, peak = measure(layer, layer, x, args.repeats, args.warmup)
        except Exception as err:  # noqa: BLE001 - reported below and in the exit status
            failed.append(f"{label} failed: {type(err).__name__}: {err}")
            continue
        rows.append((label, k, sum(p.numel() for p in layer.parameters()), sec, peak))

    if not args.no_linear:
        k = 8
        lin = nn.Linear(n_in * k, n_out).to(device)
        xk = x.repeat(1, k)  # same FLOPs as the matmul of a K = 8 feature basis
        sec, peak = measure(lin, lin, xk, args.repeats, args.warmup)
        rows.append((f"nn.Linear({n_in}·{k}, {n_out})", k, sum(p.numel() for p in lin.parameters()), sec, peak))

    if not args.no_pykan:
        cwd_before = set(os.listdir("."))
        layer, why = pykan_layer(n_in, n_out, device)
        if layer is None:
            notes.append(why)
        else:
            sec, peak = measure(layer, lambda t: layer(t)[0], x, args.repeats, args.warmup)
            rows.append(("pykan 0.2.8 kan.KANLayer(num=5, k=3)", 8, sum(p.numel() for p in layer.parameters()),
                         sec, peak))
        new_files = set(os.listdir(".")) - cwd_before
        if new_files:
            notes.append(f"pykan wrote files into the working directory: {sorted(new_files)}")

    print(f"# KANLayer forward+backward, batch {batch}, in {n_in}, out {n_out}, device {device}")
    print(f"# machine: {machine(device)}")
    print(f"# median of {args.repeats} after {args.warmup} warm-up calls; memory: "
          f"{'torch.cuda.max_memory_allocated' if device.type == 'cuda' else 'torch profiler allocation events'}")
    print()
    print("| layer | K | parameters | fwd+bwd ms (median) | peak MiB |")
    print("|---|---:|---:|---:|---:|")
    for label, k, n_par, sec, peak in rows:
        print(f"| {label} | {k if k else '—'} | {n_par:,} | {1e3 * sec:.2f} | {peak / 2 ** 20:.1f} |")
    for note in notes + failed:
        print(f"\nnote: {note}")
    if args.json:
        keys = ("layer", "K", "parameters", "fwdbwd_ms", "peak_mib")
        table = [dict(zip(keys, (label, k, n_par, 1e3 * sec, peak / 2 ** 20))) for label, k, n_par, sec, peak in rows]
        with open(args.json, "w") as fh:
            json.dump(dict(command="python " + " ".join(sys.argv), device=str(device), machine=machine(device),
                           batch=batch, in_features=n_in, out_features=n_out, rows=table, notes=notes,
                           failed=failed), fh, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
