"""Gaussian radial basis functions on a per-input grid (FastKAN style).

φ_oi(x) = Σ_k coef[o,i,k] · exp(−((x − c_ik) / h_ik)²)

Centres c start uniform on ``grid_range`` with width h = centre spacing, the FastKAN
choice that makes neighbouring bumps overlap enough to represent smooth curves. A local
basis: supports ``update_grid(x)`` (centres move to the data, a blend of quantiles and a
uniform grid; each width is the local spacing) and ``refine(G)`` (more centres), both
preserving the learned curves by a least-squares refit. No pre-map (identity): the
Gaussians decay to 0 outside the grid, and the layer's residual branch carries the signal
there, as for B-splines.

Buffers: ``centers`` (in, G), ``widths`` (in, G). Parameters: ``coef`` (out, in, G).
"""
from __future__ import annotations

from typing import ClassVar

import torch

from . import register_basis
from ..checks import check_int
from .base import FeatureBasis, regrid_floors


def local_widths(centers: torch.Tensor) -> torch.Tensor:
    """Width of each centre = mean distance to its neighbours (one-sided at the ends).
    centers: (in, G) increasing -> (in, G)."""
    gaps = torch.diff(centers, dim=1)  # (in, G-1)
    left = torch.cat([gaps[:, :1], gaps], dim=1)
    right = torch.cat([gaps, gaps[:, -1:]], dim=1)
    return 0.5 * (left + right)


@register_basis
class RBFBasis(FeatureBasis):
    """Options: ``num_centers`` G (≥ 2, default 8), ``grid_range`` (default (-1, 1)),
    ``grid_eps`` (blend of uniform vs quantile centres in ``update_grid``; 1 = uniform,
    default 0.02), ``init_scale``."""

    name: ClassVar[str] = "rbf"
    premap_kind: ClassVar[str] = "identity"
    supports_grid_update: ClassVar[bool] = True
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "centers": ("in", None),
                                             "widths": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, num_centers: int = 8, grid_range=(-1.0, 1.0),
                 grid_eps: float = 0.02, init_scale: float = 1.0, generator: torch.Generator | None = None):
        num_centers = check_int("num_centers", num_centers, minimum=2)
        try:
            lo, hi = (float(v) for v in grid_range)
        except (TypeError, ValueError):
            raise ValueError(f"grid_range must be a pair (lo, hi), got {grid_range!r}") from None
        if not hi > lo:
            raise ValueError(f"grid_range must be (lo, hi) with hi > lo, got {grid_range!r}")
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps!r}")
        super().__init__(in_features, out_features, num_centers, init_scale=init_scale, generator=generator,
                         num_centers=num_centers, grid_range=[lo, hi], grid_eps=float(grid_eps))
        self.num_centers, self.grid_eps = num_centers, float(grid_eps)
        centers = torch.linspace(lo, hi, num_centers).repeat(in_features, 1)
        self.register_buffer("centers", centers)
        self.register_buffer("widths", local_widths(centers))
        self.reset_coefficients(generator)

    def domain(self):
        return self.centers[:, 0].clone(), self.centers[:, -1].clone()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, in, G)."""
        z = (x[..., None] - self.centers) / self.widths
        return torch.exp(-z * z)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the centres to the data (x: (batch, in)) keeping the curves (least squares)."""
        self._regrid(x, self.num_centers)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        """Change the number of centres to ``num`` keeping the curves. Without data the
        curves are refit on dense points over the current centre range."""
        num = check_int("num_centers", num, minimum=2)
        self._regrid(x, num, adaptive=x is not None)

    def _regrid(self, x: torch.Tensor | None, num: int, adaptive: bool = True) -> None:
        lo, hi = self.domain()
        if x is None:
            n = max(64, 8 * num)
            t = torch.linspace(0, 1, n, dtype=lo.dtype, device=lo.device)[:, None]
            x = lo[None] + (hi - lo)[None] * t
        x = x.to(self.centers.dtype)
        target = self.edge_activations(x)  # old curves, (n, out, in)
        ramp = torch.linspace(0, 1, num, dtype=x.dtype, device=x.device)
        if adaptive:
            xs = torch.sort(x, dim=0).values
            idx = torch.linspace(0, xs.shape[0] - 1, num, device=x.device).round().long()
            quant = xs[idx].T  # (in, num)
            lo, hi = xs[0], xs[-1]
            span, min_gap = regrid_floors(lo, hi, num, rel_gap=1e-2)
            uniform = lo[:, None] + span[:, None] * ramp
            centers = self.grid_eps * uniform + (1 - self.grid_eps) * quant
            # strictly increasing even when the data repeat values
            gaps = torch.maximum(torch.diff(centers, dim=1), min_gap)
            centers = torch.cat([centers[:, :1], centers[:, :1] + torch.cumsum(gaps, dim=1)], dim=1)
        else:
            centers = lo[:, None] + (hi - lo)[:, None] * ramp
        if num != self.num_centers:
            self.num_centers = num
            self.options["num_centers"] = num
            self.num_features = num
            self.coef = torch.nn.Parameter(self.coef.new_zeros(self.out_features, self.in_features, num))
        self.centers = centers.to(self.centers.dtype)
        self.widths = local_widths(self.centers)
        self.fit_coefficients(x, target)


__all__ = ["RBFBasis", "local_widths"]
