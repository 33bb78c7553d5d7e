"""ResNet-style KAN convolution network."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.bottleneck import seeded_linear
from ..nn.conv import positive_int
from .blocks import Residual, conv_unit


class KANResNet(nn.Module):
    """A 3×3 stem unit (in_channels -> widths[0]); per stage, ``blocks`` residual units
    x + unit(x); every later stage starts with a 3×3 stride-2 unit (previous width -> its
    width; a bottleneck, or separable, unit too with ``bottleneck`` / ``separable``); then a
    global average pool and a linear head. The residual units are bottleneck KAN
    convolutions by default (``bottleneck=True``, ``reduction``), which keep a wide
    network's parameter count in check.

    Args: in_channels, num_classes, ``widths``, ``blocks`` (per stage), ``basis`` (None: the
    plain ResNet with ReLU units), ``bottleneck``, ``reduction``, ``separable`` (the residual
    and strided units as plain 1×1 mixing + depthwise KAN convolution, see
    :func:`~symkan.models.conv_unit`; needs ``bottleneck=False``), ``norm``, ``seed``, and the
    basis options.

    Shapes: (N, in_channels, H, W) -> (N, num_classes) logits.
    """

    def __init__(self, in_channels: int, num_classes: int, widths=(16, 32), blocks: int = 1, *,
                 basis: str | None = "bspline", bottleneck: bool = True, reduction: int = 4, norm="batch",
                 separable: bool = False, seed: int = 0, **basis_options):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        unit = dict(basis=basis, norm=norm, generator=gen, **basis_options)
        body = dict(bottleneck=bottleneck, reduction=reduction, separable=separable, **unit)
        layers = [conv_unit(positive_int("in_channels", in_channels), widths[0], 3, **unit)]
        for i, w in enumerate(widths):
            if i > 0:
                layers.append(conv_unit(widths[i - 1], w, 3, stride=2, **body))
            for _ in range(positive_int("blocks", blocks)):
                layers.append(Residual(conv_unit(w, w, 3, **body)))
        self.features = nn.Sequential(*layers)
        self.head = seeded_linear(widths[-1], positive_int("num_classes", num_classes), generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


__all__ = ["KANResNet"]
