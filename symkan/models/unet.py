"""U-Net-style KAN convolution network (dense, per-pixel outputs)."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ..nn.bottleneck import seeded_conv
from ..nn.conv import positive_int
from .blocks import conv_unit


class KANUNet(nn.Module):
    """Encoder: a 3×3 unit per level at ``widths[l]``, a 2×2 max-pool between levels.
    Decoder: nearest-neighbour ×2 upsampling, concatenation with the encoder's skip at that
    level, a 3×3 unit. A plain 1×1 convolution maps to ``out_channels``.

    Args: in_channels, out_channels, ``widths`` (one per level, at least 2), ``basis``
    (None: the plain U-Net with ReLU units), ``norm``, ``seed``, and the basis options.

    Shapes: (N, in_channels, H, W), H and W divisible by 2^(len(widths) − 1) ->
    (N, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, widths=(8, 16, 32), *, basis: str | None = "bspline",
                 norm="batch", seed: int = 0, **basis_options):
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths needs at least 2 levels, got {widths!r}")
        gen = torch.Generator().manual_seed(seed)
        unit = dict(basis=basis, norm=norm, generator=gen, **basis_options)
        ins = [positive_int("in_channels", in_channels)] + list(widths[:-1])
        self.down = nn.ModuleList(conv_unit(c, w, 3, **unit) for c, w in zip(ins, widths))
        self.up = nn.ModuleList(conv_unit(widths[l + 1] + widths[l], widths[l], 3, **unit)
                                for l in reversed(range(len(widths) - 1)))
        self.out = seeded_conv(2, widths[0], positive_int("out_channels", out_channels), generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2 ** (len(self.down) - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"KANUNet needs H and W divisible by {factor}, got {tuple(x.shape[-2:])}")
        skips = []
        for l, unit in enumerate(self.down):
            x = unit(x if l == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for unit, skip in zip(self.up, reversed(skips[:-1])):
            x = unit(torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], dim=1))
        return self.out(x)


__all__ = ["KANUNet"]
