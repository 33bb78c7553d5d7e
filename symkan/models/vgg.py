"""VGG-style KAN convolution network."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.bottleneck import seeded_linear
from ..nn.conv import make_dropout, positive_int
from .blocks import conv_unit


class KANVGG(nn.Module):
    """Stages of ``convs_per_stage`` 3×3 units (padding 1), each stage ending in a 2×2 max-pool;
    then a global average pool, dropout and a linear head.

    Args: in_channels, num_classes, ``widths`` (channels per stage), ``convs_per_stage``,
    ``basis`` (a registered name, or None for the plain CNN), ``norm`` (after every unit),
    ``bottleneck`` / ``reduction`` (bottleneck units), ``separable`` (plain 1×1 mixing
    + depthwise KAN convolution units, see :func:`~symkan.models.conv_unit`), ``dropout``
    (before the head), ``seed``, and the basis options.

    Shapes: (N, in_channels, H, W), H and W >= 2^len(widths) -> (N, num_classes) logits.
    """

    def __init__(self, in_channels: int, num_classes: int, widths=(16, 32), convs_per_stage: int = 1, *,
                 basis: str | None = "bspline", norm="batch", bottleneck: bool = False, reduction: int = 4,
                 separable: bool = False,
                 dropout: float = 0.0, seed: int = 0, **basis_options):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        layers, c = [], positive_int("in_channels", in_channels)
        for w in widths:
            for _ in range(positive_int("convs_per_stage", convs_per_stage)):
                layers.append(conv_unit(c, positive_int("widths entry", w), 3, basis=basis, norm=norm,
                                        bottleneck=bottleneck, reduction=reduction, separable=separable,
                                        generator=gen, **basis_options))
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = make_dropout(dropout, 1)
        self.head = seeded_linear(c, positive_int("num_classes", num_classes), generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x).mean(dim=(2, 3))  # (N, C)
        return self.head(z if self.dropout is None else self.dropout(z))


__all__ = ["KANVGG"]
