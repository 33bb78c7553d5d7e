"""The unit every reference network is made of: a KAN convolution, or its plain counterpart."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.bottleneck import BottleneckKANConv2d, seeded_conv
from ..nn.conv import KANConv2d, make_norm


def conv_unit(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, *,
              basis: str | None, norm="batch", bottleneck: bool = False, reduction: int = 4,
              separable: bool = False, generator: torch.Generator, **basis_options) -> nn.Module:
    """(N, in, H, W) -> (N, out, ⌈H/stride⌉, ⌈W/stride⌉), "same"-style padding k // 2 (odd k).

    With a ``basis``: a :class:`~symkan.nn.KANConv2d` (or, with ``bottleneck``, a
    :class:`~symkan.nn.BottleneckKANConv2d`) followed by ``norm``; no activation, the
    edges are the nonlinearity. With ``basis=None``: conv → norm → ReLU (the bottleneck
    variant: 1×1 → ReLU → k×k → ReLU → 1×1 → norm → ReLU, as a ResNet bottleneck).

    ``separable``: a plain 1×1 convolution mixes the channels (in → out, no bias), then a
    depthwise k×k convolution (groups = out) filters each channel on its own — a KAN one
    (each channel its own learned functions of its k×k neighbourhood) → norm, or, plain,
    a depthwise conv → norm → ReLU. The KAN part then costs out·k²·(K + 1) parameters
    instead of in·out·k²·(K + 1), so a KAN network of a given size can be several times
    wider. Not combined with ``bottleneck``.
    """
    if separable and bottleneck:
        raise ValueError("separable and bottleneck units exclude each other; choose one")
    pad = kernel_size // 2
    if basis is not None:
        if separable:
            mix = seeded_conv(2, in_channels, out_channels, bias=False, generator=generator)
            return nn.Sequential(mix, KANConv2d(out_channels, out_channels, kernel_size, stride, pad,
                                                groups=out_channels, basis=basis, norm=norm, generator=generator,
                                                **basis_options))
        cls = BottleneckKANConv2d if bottleneck else KANConv2d
        extra = {"reduction": reduction} if bottleneck else {}
        return cls(in_channels, out_channels, kernel_size, stride, pad, basis=basis, norm=norm,
                   generator=generator, **extra, **basis_options)
    if basis_options:
        raise ValueError(f"basis options {sorted(basis_options)} given for a plain unit (basis=None)")
    parts = []
    if bottleneck:
        mid_in, mid_out = max(1, in_channels // reduction), max(1, out_channels // reduction)
        parts += [seeded_conv(2, in_channels, mid_in, generator=generator), nn.ReLU(),
                  seeded_conv(2, mid_in, mid_out, kernel_size, stride=stride, padding=pad, generator=generator),
                  nn.ReLU(), seeded_conv(2, mid_out, out_channels, generator=generator)]
    elif separable:
        parts += [seeded_conv(2, in_channels, out_channels, bias=False, generator=generator),
                  seeded_conv(2, out_channels, out_channels, kernel_size, stride=stride, padding=pad,
                              groups=out_channels, generator=generator)]
    else:
        parts.append(seeded_conv(2, in_channels, out_channels, kernel_size, stride=stride, padding=pad,
                                 generator=generator))
    norm_module = make_norm(norm, 2, out_channels)
    return nn.Sequential(*parts, *([norm_module] if norm_module is not None else []), nn.ReLU())


class Residual(nn.Module):
    """x + body(x) (body keeps the shape)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


__all__ = ["conv_unit", "Residual"]
