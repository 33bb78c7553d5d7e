"""Bottleneck KAN convolution: 1×1 squeeze → KAN convolution → 1×1 expand (as in ResNet).

A KAN convolution has C_g·P·(K + 1) parameters per output channel, K + 1 times a plain
convolution's. The bottleneck runs it on ``channels / reduction`` channels between two plain
1×1 convolutions, so its parameters drop by about reduction² while the kernel still sees
every input channel (through the squeeze).

Also here: :func:`seeded_conv` and :func:`seeded_linear`, plain layers whose initial values
come from a passed generator (``nn.Conv*d`` and ``nn.Linear`` draw theirs from the global RNG).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .conv import (KANConvNd, KANConv1d, KANConv2d, KANConv3d, layer_generator, make_dropout, make_norm,
                   positive_int)

_KAN = {1: KANConv1d, 2: KANConv2d, 3: KANConv3d}
_PLAIN = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@torch.no_grad()
def _init_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """weight ~ N(0, 1/fan_in) (variance-preserving for a linear map), bias 0."""
    w = module.weight
    fan_in = w[0].numel()
    w.copy_(torch.randn(w.shape, generator=generator) / math.sqrt(fan_in))
    if module.bias is not None:
        module.bias.zero_()
    return module


def seeded_conv(n_dims: int, in_channels: int, out_channels: int, kernel_size=1, *, stride=1, padding=0,
                groups: int = 1, bias: bool = True, generator: torch.Generator | None = None) -> nn.Module:
    """A plain ``nn.Conv{n}d`` drawn from ``generator`` (default seed 0), never the global RNG."""
    conv = nn.utils.skip_init(_PLAIN[n_dims], in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, groups=groups, bias=bias)
    return _init_(conv, layer_generator(generator, None))


def seeded_linear(in_features: int, out_features: int, *, bias: bool = True,
                  generator: torch.Generator | None = None) -> nn.Linear:
    """A plain ``nn.Linear`` drawn from ``generator`` (default seed 0), never the global RNG."""
    return _init_(nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias),
                  layer_generator(generator, None))


class BottleneckKANConvNd(nn.Module):
    """x -> expand(KANConv(squeeze(x))) -> norm, with plain 1×1 ``squeeze`` (in_channels ->
    max(1, in_channels // reduction)) and ``expand`` (-> out_channels), and ``conv`` a
    :class:`~symkan.nn.conv.KANConvNd` between them that takes kernel_size, stride, padding,
    dilation, groups, padding_mode, basis, residual and the basis options (groups must
    divide both reduced widths). ``norm`` and ``dropout`` (whole input channels) act on the
    block as on a KAN convolution; ``bias`` is the expand's. Every initial value is drawn from
    ``generator`` / ``seed`` (default seed 0).

    Shapes: x (N, C_in, *S) -> (N, C_out, *S_out), S_out as for ``nn.Conv{n}d``.
    """

    n_dims: int = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", basis: str = "bspline", *,
                 reduction: int = 4, residual: bool = True, norm=None, dropout: float = 0.0,
                 generator: torch.Generator | None = None, seed: int | None = None,
                 basis_kwargs: dict | None = None, **basis_options):
        super().__init__()
        n = self.n_dims
        if n not in _KAN:
            raise ValueError("BottleneckKANConvNd is the shared base: use BottleneckKANConv1d, 2d or 3d")
        in_channels = positive_int("in_channels", in_channels)
        out_channels = positive_int("out_channels", out_channels)
        self.reduction = positive_int("reduction", reduction)
        mid_in, mid_out = max(1, in_channels // self.reduction), max(1, out_channels // self.reduction)
        gen = layer_generator(generator, seed)
        self.dropout = make_dropout(dropout, n)
        self.squeeze = seeded_conv(n, in_channels, mid_in, bias=False, generator=gen)
        self.conv = _KAN[n](mid_in, mid_out, kernel_size, stride, padding, dilation, groups, True, padding_mode,
                            basis, residual=residual, generator=gen, basis_kwargs=basis_kwargs, **basis_options)
        self.expand = seeded_conv(n, mid_out, out_channels, bias=bias, generator=gen)
        self.norm = make_norm(norm, n, out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        y = self.expand(self.conv(self.squeeze(x)))
        return y if self.norm is None else self.norm(y)

    @property
    def kan_conv(self) -> KANConvNd:
        """The KAN convolution in the middle (for plots and scores)."""
        return self.conv


class BottleneckKANConv1d(BottleneckKANConvNd):
    """Bottleneck KAN convolution over (N, C, L); see :class:`BottleneckKANConvNd`."""
    n_dims = 1


class BottleneckKANConv2d(BottleneckKANConvNd):
    """Bottleneck KAN convolution over (N, C, H, W); see :class:`BottleneckKANConvNd`."""
    n_dims = 2


class BottleneckKANConv3d(BottleneckKANConvNd):
    """Bottleneck KAN convolution over (N, C, D, H, W); see :class:`BottleneckKANConvNd`."""
    n_dims = 3


__all__ = ["BottleneckKANConvNd", "BottleneckKANConv1d", "BottleneckKANConv2d", "BottleneckKANConv3d",
           "seeded_conv", "seeded_linear"]
