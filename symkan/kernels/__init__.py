"""Fast paths for the ReLU-KAN and group-rational bases: Triton kernels + torch twins.

>>> from symkan.kernels import rational_activation, relukan_linear
>>> y = rational_activation(x, numerator, denominator, groups=8)          # x: (..., C)
>>> y = relukan_linear(x, weight, start, width)                 # x: (B, I) -> (B, O)

Backend choice (``backend=`` argument, or the ``SYMKAN_KERNEL_BACKEND`` environment
variable when the argument is ``"auto"``):

* ``"auto"``: the Triton kernel on CUDA tensors of a supported dtype when triton is
  installed, the torch reference otherwise;
* ``"torch"``: always the reference (:mod:`symkan.kernels.reference`);
* ``"triton"``: always the kernel. On CPU tensors this works only under Triton's
  interpreter (``TRITON_INTERPRET=1`` set before triton is first imported, and while the
  kernels run) — it is how the tests check the kernels without a GPU — and raises
  ValueError otherwise.

The kernels are registered as ``torch.library`` custom ops with autograd and fake
implementations (see :mod:`symkan.kernels.ops`), so they train and trace under
``torch.compile``. Nothing here imports triton until a kernel actually runs.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import torch

from ..checks import check_choice, check_int
from . import ops as _ops  # registers the custom ops; imports torch only, never triton
from .reference import (DEN_COEFFS, NUM_COEFFS, rational_reference, relukan_features,
                        relukan_linear_reference)

BACKENDS = ("auto", "torch", "triton")
#: environment variable that overrides ``backend="auto"``
ENV_VAR = "SYMKAN_KERNEL_BACKEND"
#: dtypes the Triton kernels accept (they compute in float32)
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


_HAS_TRITON = importlib.util.find_spec("triton") is not None


def triton_available() -> bool:
    """Whether the triton package is installed (checked once, without importing it)."""
    return _HAS_TRITON


def _interpreter_active(module: str) -> bool:
    """Will a kernel of ``symkan.kernels.<module>`` run in Triton's CPU interpreter?

    Triton fixes interpreted vs compiled when a jit function is defined: its own helpers
    (``tl.sum``, ...) when triton is imported, ours when the kernel module is imported.
    Both must be interpreted; before they exist the environment variable decides.
    """
    tri = sys.modules.get("triton")
    if tri is not None and isinstance(tri.language.sum, tri.runtime.JITFunction):
        return False  # triton was imported in compiled mode
    loaded = sys.modules.get(f"{__name__}.{module}")
    if loaded is not None:
        return bool(loaded.INTERPRETED)
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def resolve_backend(backend: str, x: torch.Tensor, *, dtype_ok: bool = True, module: str = "rational") -> str:
    """"torch" or "triton" for input ``x`` (see the module docstring for the rules)."""
    check_choice("backend", backend, BACKENDS)
    if backend == "auto":
        backend = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        if backend not in BACKENDS:
            raise ValueError(f"environment variable {ENV_VAR} must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if (x.is_cuda and dtype_ok and triton_available()) else "torch"
    if backend == "triton":
        if not triton_available():
            raise ValueError("backend='triton' needs the triton package (pip install triton)")
        if not dtype_ok:
            raise ValueError(f"backend='triton' supports dtypes {[str(d) for d in TRITON_DTYPES]} "
                             f"(with matching weights); got {x.dtype}")
        if not x.is_cuda and not _interpreter_active(module):
            raise ValueError("backend='triton' on CPU tensors runs only under Triton's interpreter: set "
                             "TRITON_INTERPRET=1 before triton is first imported, or use a CUDA tensor, "
                             "or backend='torch'")
    return backend


# --- group rational ---------------------------------------------------------------------
def contiguous_group_index(channels: int, groups: int, device=None) -> torch.Tensor:
    """(C,) long: channel c belongs to group c // (C / groups). ValueError unless groups divides C."""
    groups = check_int("groups", groups)
    if channels % groups:
        raise ValueError(f"{channels} channels cannot be split into {groups} equal groups: "
                         f"groups must divide the number of channels")
    size = channels // int(groups)
    return torch.arange(channels, device=device) // size


def group_layout(group_index: torch.Tensor, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Channels sorted by group, for the kernel.

    group_index: (C,) -> (order (C,) int32, ptr (G+1,) int32) with group g owning the
    channels ``order[ptr[g]:ptr[g+1]]``.
    """
    gi = group_index.to(torch.long)
    order = torch.argsort(gi, stable=True).to(torch.int32)
    counts = torch.bincount(gi, minlength=groups)
    ptr = torch.zeros(groups + 1, dtype=torch.int32, device=gi.device)
    ptr[1:] = torch.cumsum(counts, 0).to(torch.int32)
    return order, ptr


def _check_rational_args(x, numerator, denominator, group_index):
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor (..., channels), got {type(x).__name__}"
                         + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    if numerator.ndim != 2 or numerator.shape[1] != NUM_COEFFS:
        raise ValueError(f"numerator must have shape (groups, {NUM_COEFFS}), got {tuple(numerator.shape)}")
    if denominator.shape != (numerator.shape[0], DEN_COEFFS):
        raise ValueError(f"denominator must have shape ({numerator.shape[0]}, {DEN_COEFFS}), "
                         f"got {tuple(denominator.shape)}")
    if group_index.shape != (x.shape[-1],):
        raise ValueError(f"group_index must have shape ({x.shape[-1]},) (one group per channel), "
                         f"got {tuple(group_index.shape)}")


def rational_activation(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, *,
             groups: int | None = None, group_index: torch.Tensor | None = None,
             layout: tuple[torch.Tensor, torch.Tensor] | None = None, backend: str = "auto") -> torch.Tensor:
    """Group rational activation F_{g(c)}(x[..., c]) = P/Q (see :mod:`symkan.kernels.reference`).

    Args:
        x: (..., C) float tensor, any strides.
        numerator: (G, 6) a_0..a_5; denominator: (G, 4) b_1..b_4.
        groups: contiguous equal groups (default G = numerator.shape[0]); ValueError if it
            does not divide C. Ignored when ``group_index`` is given.
        group_index: (C,) long, an arbitrary channel -> group map.
        layout: precomputed :func:`group_layout` of ``group_index`` (saves a sort and a
            host sync per call; needed under ``torch.compile`` with a ``group_index``).
        backend: "auto" | "torch" | "triton".

    Returns: (..., C) in x's dtype. Differentiable in x, numerator and denominator on both
    paths (float32 coefficient-gradient accumulation in the kernel).
    """
    n_groups = int(numerator.shape[0]) if numerator.ndim == 2 else -1
    contiguous = group_index is None
    if contiguous:
        if groups is not None and groups != n_groups:
            raise ValueError(f"groups={groups} but numerator holds {n_groups} groups")
        if not isinstance(x, torch.Tensor) or x.ndim < 1:
            raise ValueError("x must be a tensor (..., channels)")
        group_index = contiguous_group_index(x.shape[-1], max(n_groups, 1), device=x.device)
    _check_rational_args(x, numerator, denominator, group_index)
    name = resolve_backend(backend, x, dtype_ok=x.dtype in TRITON_DTYPES, module="rational")
    if name == "torch":
        return rational_reference(x, numerator, denominator, group_index).to(x.dtype)
    if layout is None:
        if contiguous:  # known without looking at values: stays traceable by torch.compile
            size = x.shape[-1] // n_groups
            layout = (torch.arange(x.shape[-1], dtype=torch.int32, device=x.device),
                      torch.arange(0, x.shape[-1] + 1, size, dtype=torch.int32, device=x.device))
        else:
            if group_index.numel() and (int(group_index.min()) < 0 or int(group_index.max()) >= n_groups):
                raise ValueError(f"group_index values must lie in [0, {n_groups})")
            layout = group_layout(group_index.to(x.device), n_groups)
    order, ptr = layout
    return _ops.rational_op(x, numerator, denominator, order, ptr)


# --- fused ReLU-KAN layer ---------------------------------------------------------------
def relukan_linear(x: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor, *,
                   backend: str = "auto") -> torch.Tensor:
    """ReLU-KAN layer y = features(x) @ weightᵀ, fused on the Triton path.

    x: (B, I); weight: (O, I·K) (feature i·K + j); start, width: (I, K) knots with
    width > 0. Returns (B, O) in weight's dtype. Differentiable in x, weight, start, width.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise ValueError(f"x must be a 2-D float tensor (batch, in), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if start.ndim != 2 or start.shape[0] != x.shape[1] or width.shape != start.shape:
        raise ValueError(f"start and width must both have shape (in={x.shape[1]}, K), got "
                         f"{tuple(start.shape)} and {tuple(width.shape)}")
    if weight.ndim != 2 or weight.shape[1] != start.numel():
        raise ValueError(f"weight must have shape (out, in·K = {start.numel()}), got {tuple(weight.shape)}")
    dtype_ok = x.dtype in TRITON_DTYPES and weight.dtype == x.dtype
    name = resolve_backend(backend, x, dtype_ok=dtype_ok, module="relukan")
    if name == "torch":
        return relukan_linear_reference(x, weight, start, width)
    return _ops.relukan_linear_op(x, weight, start, width)


__all__ = ["BACKENDS", "ENV_VAR", "TRITON_DTYPES", "triton_available", "resolve_backend",
           "contiguous_group_index", "group_layout", "rational_activation", "relukan_linear",
           "rational_reference", "relukan_features", "relukan_linear_reference"]
