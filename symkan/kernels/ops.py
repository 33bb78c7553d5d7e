"""torch.library registration of the Triton kernels (custom ops + autograd + fake impls).

Registered as ``symkan::rational``, ``symkan::rational_backward``,
``symkan::relukan_linear`` and ``symkan::relukan_linear_backward``. The fake (meta)
implementations let ``torch.compile`` trace through the ops without running them; the
real implementations import the Triton modules on first call, so importing this
module does not import triton.
"""
from __future__ import annotations

import importlib

import torch
from torch import Tensor


def _triton_module(name: str):
    return importlib.import_module(f"symkan.kernels.{name}")


# --- group rational ---------------------------------------------------------------------
@torch.library.custom_op("symkan::rational", mutates_args=())
def rational_op(x: Tensor, numerator: Tensor, denominator: Tensor, order: Tensor, ptr: Tensor) -> Tensor:
    """x: (..., C); numerator (G, 6); denominator (G, 4); order (C,) int32 channels sorted by
    group; ptr (G+1,) int32 group boundaries in ``order`` -> (..., C)."""
    return _triton_module("rational").rational_forward(x, numerator, denominator, order, ptr)


@rational_op.register_fake
def _(x, numerator, denominator, order, ptr):
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


@torch.library.custom_op("symkan::rational_backward", mutates_args=())
def rational_backward_op(grad: Tensor, x: Tensor, numerator: Tensor, denominator: Tensor, order: Tensor,
                         ptr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return _triton_module("rational").rational_backward(grad, x, numerator, denominator, order, ptr)


@rational_backward_op.register_fake
def _(grad, x, numerator, denominator, order, ptr):
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device), torch.empty_like(numerator),
            torch.empty_like(denominator))


def _rational_setup(ctx, inputs, output):
    x, numerator, denominator, order, ptr = inputs
    ctx.save_for_backward(x, numerator, denominator, order, ptr)


def _rational_grad(ctx, grad):
    x, numerator, denominator, order, ptr = ctx.saved_tensors
    gx, gnum, gden = rational_backward_op(grad, x, numerator, denominator, order, ptr)
    return gx, gnum, gden, None, None


rational_op.register_autograd(_rational_grad, setup_context=_rational_setup)


# --- fused ReLU-KAN layer ---------------------------------------------------------------
@torch.library.custom_op("symkan::relukan_linear", mutates_args=())
def relukan_linear_op(x: Tensor, weight: Tensor, start: Tensor, width: Tensor) -> Tensor:
    """x: (B, I); weight: (O, I·K); start, width: (I, K) -> (B, O)."""
    return _triton_module("relukan").relukan_forward(x, weight, start, width)


@relukan_linear_op.register_fake
def _(x, weight, start, width):
    return x.new_empty(x.shape[0], weight.shape[0])


@torch.library.custom_op("symkan::relukan_linear_backward", mutates_args=())
def relukan_linear_backward_op(grad: Tensor, x: Tensor, weight: Tensor, start: Tensor, width: Tensor,
                               need_knot_grad: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return _triton_module("relukan").relukan_backward(grad, x, weight, start, width, need_knot_grad)


@relukan_linear_backward_op.register_fake
def _(grad, x, weight, start, width, need_knot_grad):
    return (torch.empty(x.shape, dtype=x.dtype, device=x.device), torch.empty_like(weight),
            torch.empty_like(start), torch.empty_like(width))


def _relukan_setup(ctx, inputs, output):
    x, weight, start, width = inputs
    ctx.save_for_backward(x, weight, start, width)


def _relukan_grad(ctx, grad):
    x, weight, start, width = ctx.saved_tensors
    need_knots = bool(ctx.needs_input_grad[2] or ctx.needs_input_grad[3])
    gx, gw, gs, gwd = relukan_linear_backward_op(grad, x, weight, start, width, need_knots)
    return gx, gw, (gs if need_knots else None), (gwd if need_knots else None)


relukan_linear_op.register_autograd(_relukan_grad, setup_context=_relukan_setup)
