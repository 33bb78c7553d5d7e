"""Ahead-of-time compilation of every kernel for a CUDA architecture, without a GPU.

Triton's interpreter checks the kernels' math on CPU but not that they lower to GPU
code (types of loop-carried values, dot shapes, layouts). This compiles each kernel
variant the launchers use down to a cubin for ``sm_<arch>`` on any machine that has
triton's bundled NVIDIA toolchain, so CI without a GPU still catches lowering errors:

    python -m symkan.kernels.aot --arch 90 80

Must run in a process where ``TRITON_INTERPRET`` is unset (interpreted kernels cannot be
compiled).
"""
from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger(__name__)

_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def _variants():
    """(kernel, signature, constexprs) for every dtype / constexpr combination launched."""
    from . import rational as R
    from . import relukan as K

    out = []
    for tname in _DTYPES.values():
        ptr = f"*{tname}"
        rows = {"n_rows": "i32", "n_groups": "i32", "sx_r": "i64", "sx_c": "i64"}
        out.append((R._rational_fwd_kernel,
                    {"x_ptr": ptr, "y_ptr": ptr, "num_ptr": "*fp32", "den_ptr": "*fp32", "order_ptr": "*i32",
                     "gptr_ptr": "*i32", **rows, "sy_r": "i64", "sy_c": "i64",
                     "BLOCK_R": "constexpr", "BLOCK_C": "constexpr"},
                    {"BLOCK_R": 32, "BLOCK_C": 128}))
        out.append((R._rational_bwd_kernel,
                    {"x_ptr": ptr, "gy_ptr": ptr, "gx_ptr": ptr, "num_ptr": "*fp32", "den_ptr": "*fp32",
                     "order_ptr": "*i32", "gptr_ptr": "*i32", "part_ptr": "*fp32", **rows,
                     "sg_r": "i64", "sg_c": "i64", "sgx_r": "i64", "sgx_c": "i64",
                     "BLOCK_R": "constexpr", "BLOCK_C": "constexpr"},
                    {"BLOCK_R": 32, "BLOCK_C": 128}))
        precisions = ("ieee", "tf32") if tname == "fp32" else ("ieee",)
        dims = {"B": "i32", "I": "i32", "O": "i32", "K": "i32"}
        for prec in precisions:
            out.append((K._relukan_fwd_kernel,
                        {"x_ptr": ptr, "w_ptr": ptr, "s_ptr": "*fp32", "wd_ptr": "*fp32", "y_ptr": ptr, **dims,
                         "sx_b": "i64", "sx_i": "i64", "sw_o": "i64", "sw_k": "i64", "sy_b": "i64", "sy_o": "i64",
                         "BLOCK_M": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr",
                         "PRECISION": "constexpr"},
                        {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "PRECISION": prec}))
            out.append((K._relukan_dweight_kernel,
                        {"x_ptr": ptr, "gy_ptr": ptr, "s_ptr": "*fp32", "wd_ptr": "*fp32", "gw_ptr": ptr, **dims,
                         "sx_b": "i64", "sx_i": "i64", "sg_b": "i64", "sg_o": "i64", "sgw_o": "i64", "sgw_k": "i64",
                         "BLOCK_M": "constexpr", "BLOCK_N": "constexpr", "BLOCK_K": "constexpr",
                         "PRECISION": "constexpr"},
                        {"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 64, "PRECISION": prec}))
            for need in (False, True):
                out.append((K._relukan_dinput_kernel,
                            {"x_ptr": ptr, "gy_ptr": ptr, "w_ptr": ptr, "s_ptr": "*fp32", "wd_ptr": "*fp32",
                             "gx_ptr": ptr, "ps_ptr": "*fp32", "pw_ptr": "*fp32", **dims,
                             "sx_b": "i64", "sx_i": "i64", "sg_b": "i64", "sg_o": "i64", "sw_o": "i64", "sw_k": "i64",
                             "sgx_b": "i64", "sgx_i": "i64",
                             "BLOCK_M": "constexpr", "BLOCK_O": "constexpr", "BLOCK_I": "constexpr",
                             "KP": "constexpr", "NEED_KNOTS": "constexpr", "PRECISION": "constexpr"},
                            {"BLOCK_M": 32, "BLOCK_O": 32, "BLOCK_I": 8, "KP": 8, "NEED_KNOTS": need,
                             "PRECISION": prec}))
    return out


def compile_all(arch: int = 90) -> list[str]:
    """Compile every kernel variant for ``sm_<arch>``; returns one line per variant.
    Raises whatever Triton raises on the first variant that fails to lower."""
    if os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes"):
        raise ValueError("unset TRITON_INTERPRET: interpreted kernels cannot be compiled")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    target = GPUTarget("cuda", int(arch), 32)
    lines = []
    for fn, sig, const in _variants():
        compiled = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=const), target=target)
        dtype = sig.get("x_ptr", "?")
        lines.append(f"sm_{arch} {fn.__name__} x={dtype} {const} shared={compiled.metadata.shared}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, nargs="+", default=[90])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for arch in args.arch:
        for line in compile_all(arch):
            log.info(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
