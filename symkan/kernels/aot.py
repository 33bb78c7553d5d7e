"""Ahead-of-time compilation of every kernel variant for a CUDA architecture, without a GPU.

Triton's interpreter checks the kernels' math on CPU but not that they lower to GPU
code (types of loop-carried values, dot shapes, layouts). This compiles the kernels
down to a cubin for ``sm_<arch>`` on any machine that has triton's bundled NVIDIA
toolchain, so CI without a GPU still catches lowering errors:

    python -m symkan.kernels.aot --arch 90 80            # every variant
    python -m symkan.kernels.aot --arch 90 --cover       # a covering subset (the test)

The variants are not a second hand-written list: the block sizes are every set the
launchers' own choosers in :mod:`symkan.kernels.configs` can return
(``*_variants``), the dtypes are :data:`symkan.kernels.TRITON_DTYPES`, the dot
precisions :func:`~symkan.kernels.configs.dot_precisions` of each dtype, and the knot
gradient both on and off. ``--cover`` compiles only enough of them that every value of
every parameter of every kernel occurs at least once.

Must run in a process where ``TRITON_INTERPRET`` is unset (interpreted kernels cannot be
compiled).
"""
from __future__ import annotations

import argparse
import logging
import os

import torch

log = logging.getLogger(__name__)

#: triton's pointer element type of each kernel dtype
_TRITON_TYPE = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def _signature(args: dict, meta: dict) -> dict:
    return {**args, **{name: "constexpr" for name in meta}}


def variants() -> list[tuple]:
    """(kernel, signature, constexprs) for every variant the launchers can launch."""
    from . import TRITON_DTYPES
    from . import configs as C
    from . import rational as R
    from . import relukan as K

    out = []
    rat_meta, fwd_meta, dw_meta, dx_meta = (C.rational_variants(), C.relukan_forward_variants(),
                                            C.relukan_dweight_variants(), C.relukan_dinput_variants())
    for dtype in TRITON_DTYPES:
        ptr = f"*{_TRITON_TYPE[dtype]}"
        span = {"n_rows": "i32", "n_groups": "i32", "groups_per_prog": "i32", "n_group_progs": "i32",
                "rows_per_prog": "i32", "sx_r": "i64", "sx_c": "i64"}
        layout = {"num_ptr": "*fp32", "den_ptr": "*fp32", "order_ptr": "*i32", "gptr_ptr": "*i32"}
        for meta in rat_meta:
            out.append((R.rational_fwd_kernel,
                        _signature({"x_ptr": ptr, "y_ptr": ptr, **layout, **span, "sy_r": "i64", "sy_c": "i64"}, meta),
                        meta))
            out.append((R.rational_bwd_kernel,
                        _signature({"x_ptr": ptr, "gy_ptr": ptr, "gx_ptr": ptr, **layout, "part_ptr": "*fp32", **span,
                                    "sg_r": "i64", "sg_c": "i64", "sgx_r": "i64", "sgx_c": "i64"}, meta),
                        meta))
        dims = {"B": "i32", "I": "i32", "O": "i32", "K": "i32"}
        knots = {"s_ptr": "*fp32", "wd_ptr": "*fp32"}
        for prec in C.dot_precisions(dtype):
            for meta in fwd_meta:
                meta = {**meta, "PRECISION": prec}
                out.append((K.relukan_fwd_kernel,
                            _signature({"x_ptr": ptr, "w_ptr": ptr, **knots, "y_ptr": ptr, **dims, "sx_b": "i64",
                                        "sx_i": "i64", "sw_o": "i64", "sw_k": "i64", "sy_b": "i64", "sy_o": "i64"},
                                       meta), meta))
            for meta in dw_meta:
                meta = {**meta, "PRECISION": prec}
                out.append((K.relukan_dweight_kernel,
                            _signature({"x_ptr": ptr, "gy_ptr": ptr, **knots, "gw_ptr": "*fp32", **dims,
                                        "rows_per_prog": "i32", "sx_b": "i64", "sx_i": "i64", "sg_b": "i64",
                                        "sg_o": "i64", "sgw_p": "i64", "sgw_o": "i64", "sgw_k": "i64"}, meta), meta))
            for meta in dx_meta:
                for need in (False, True):
                    m = {**meta, "NEED_KNOTS": need, "PRECISION": prec}
                    out.append((K.relukan_dinput_kernel,
                                _signature({"x_ptr": ptr, "gy_ptr": ptr, "w_ptr": ptr, **knots, "gx_ptr": ptr,
                                            "ps_ptr": "*fp32", "pw_ptr": "*fp32", **dims, "sx_b": "i64",
                                            "sx_i": "i64", "sg_b": "i64", "sg_o": "i64", "sw_o": "i64",
                                            "sw_k": "i64", "sgx_b": "i64", "sgx_i": "i64"}, m), m))
    return out


def _features(variant) -> set:
    fn, sig, const = variant
    return {(fn.__name__, "x_ptr", sig["x_ptr"])} | {(fn.__name__, k, repr(v)) for k, v in const.items()}


def covering_subset(all_variants: list[tuple]) -> list[tuple]:
    """A few variants in which every (kernel, parameter, value) of ``all_variants`` occurs
    at least once, parameters being the pointer dtype and each constexpr (greedy,
    deterministic)."""
    need = set().union(*(_features(v) for v in all_variants))
    chosen = []
    while need:
        best = max(all_variants, key=lambda v: len(_features(v) & need))
        chosen.append(best)
        need -= _features(best)
    return chosen


def compile_all(arch: int = 90, cover: bool = False) -> list[str]:
    """Compile every kernel variant (``cover``: the covering subset) for ``sm_<arch>``;
    returns one line per variant. Raises whatever Triton raises on the first variant
    that fails to lower."""
    if os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes"):
        raise ValueError("unset TRITON_INTERPRET: interpreted kernels cannot be compiled")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    target = GPUTarget("cuda", int(arch), 32)
    lines = []
    todo = variants()
    if cover:
        todo = covering_subset(todo)
    for fn, sig, const in todo:
        compiled = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=const), target=target)
        dtype = sig.get("x_ptr", "?")
        lines.append(f"sm_{arch} {fn.__name__} x={dtype} {const} shared={compiled.metadata.shared}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, nargs="+", default=[90])
    parser.add_argument("--cover", action="store_true",
                        help="compile only a subset in which every parameter value occurs at least once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for arch in args.arch:
        lines = compile_all(arch, cover=args.cover)
        for line in lines:
            log.info(line)
        log.info("sm_%d: %d variants compiled", arch, len(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
