"""Arguments and geometry of the KAN convolutions, with the semantics of ``nn.Conv{1,2,3}d``.

* :func:`conv_tuple` — an int or a tuple of ``n`` ints (kernel size, stride, dilation,
  padding), checked;
* :func:`padding_pairs` — ``padding`` (int, tuple, ``"same"`` or ``"valid"``) as one
  (before, after) pair per spatial dimension, exactly as ``nn.Conv*d`` pads ("same" puts
  the odd element of ``dilation·(kernel − 1)`` after, and needs stride 1);
* :func:`pad_input` — the input padded in one of :data:`PADDING_MODES`;
* :func:`output_size` — ⌊(S + before + after − dilation·(k − 1) − 1) / stride⌋ + 1;
* :func:`patches` — the im2col view (N, C, *out, *kernel) of a padded input (strided
  views, no copy, no loop over kernel positions);
* :func:`shifted_sum` — the adjoint layout: Σ_p z[n, pos·stride + p·dilation, o, p] from
  per-pixel, per-kernel-position values z, through one strided view.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch
import torch.nn.functional as F

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def conv_tuple(name: str, value, n: int, minimum: int) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``n`` ints) -> tuple of ``n`` ints, each >= minimum."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * n
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == n and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        values = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in every dimension, got {value!r}")
    return values


def padding_pairs(padding, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(before, after) padding per spatial dimension, as ``nn.Conv*d`` computes it."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ValueError(f"padding must be an int, a tuple of {n} ints, 'same' or 'valid', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' needs stride=1 in every dimension (as nn.Conv{n}d), got "
                             f"stride={stride}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in conv_tuple("padding", padding, n, 0))


def pad_input(x: torch.Tensor, pairs: tuple[tuple[int, int], ...], mode: str) -> torch.Tensor:
    """x: (N, C, *S) -> padded (N, C, *(S + before + after)); ``mode`` one of PADDING_MODES."""
    flat = [v for pair in reversed(pairs) for v in pair]  # F.pad: last dimension first
    if not any(flat):
        return x
    if mode == "zeros":
        return F.pad(x, flat)
    return F.pad(x, flat, mode=mode)


def output_size(spatial: Sequence[int], kernel, stride, dilation, pairs) -> tuple[int, ...]:
    """Output spatial size of a convolution of an unpadded input of size ``spatial``."""
    return tuple((s + a + b - d * (k - 1) - 1) // st + 1
                 for s, k, st, d, (a, b) in zip(spatial, kernel, stride, dilation, pairs))


def patches(x: torch.Tensor, kernel, stride, dilation) -> torch.Tensor:
    """Padded x: (N, C, *S) -> view (N, C, *out, *kernel) with
    ``[n, c, pos, p] = x[n, c, pos·stride + p·dilation]`` (no copy)."""
    n_dims = len(kernel)
    for i, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        x = x.unfold(2 + i, (k - 1) * d + 1, s)  # appends the window as the last dimension
        if d > 1:
            x = x[..., ::d]
    assert x.dim() == 2 + 2 * n_dims
    return x


def shifted_sum(z: torch.Tensor, kernel, stride, dilation, out: tuple[int, ...]) -> torch.Tensor:
    """z: (N, *S, O, *kernel), S the padded input size -> (N, O, *out) with
    ``y[n, o, pos] = Σ_p z[n, pos·stride + p·dilation, o, p]``: one strided view of z, summed
    over the kernel dimensions (no loop over kernel positions)."""
    n_dims = len(kernel)
    z = z.contiguous()
    st = z.stride()
    s_pix, s_out, s_ker = st[1:1 + n_dims], st[1 + n_dims], st[2 + n_dims:]
    size = (z.shape[0], z.shape[1 + n_dims], *out, *kernel)
    strides = (st[0], s_out, *(a * b for a, b in zip(s_pix, stride)),
               *(k + d * s for k, d, s in zip(s_ker, dilation, s_pix)))
    view = z.as_strided(size, strides, z.storage_offset())
    return view.sum(dim=tuple(range(2 + n_dims, 2 + 2 * n_dims)))


__all__ = ["PADDING_MODES", "conv_tuple", "padding_pairs", "pad_input", "output_size", "patches", "shifted_sum"]
