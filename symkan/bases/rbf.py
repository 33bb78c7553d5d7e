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
from .grid import GridBasis


def local_widths(centers: torch.Tensor) -> torch.Tensor:
    """Width of each centre = mean distance to its neighbours (one-sided at the ends).
    centers: (in, G) increasing -> (in, G)."""
    gaps = torch.diff(centers, dim=1)  # (in, G-1)
    left = torch.cat([gaps[:, :1], gaps], dim=1)
    right = torch.cat([gaps, gaps[:, -1:]], dim=1)
    return 0.5 * (left + right)


@register_basis
class RBFBasis(GridBasis):
    """Options: ``num_centers`` G (≥ 2, default 8), ``grid_range`` (default (-1, 1)),
    ``grid_eps`` (blend of uniform vs quantile centres in ``update_grid``; 1 = uniform,
    default 0.02), ``init_scale``."""

    name: ClassVar[str] = "rbf"
    premap_kind: ClassVar[str] = "identity"
    size_option: ClassVar[str] = "num_centers"
    has_grid: ClassVar[bool] = True
    points_per_size: ClassVar[int] = 0  # one grid point per centre
    min_size: ClassVar[int] = 2  # the width of a centre is its distance to a neighbour
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "centers": ("in", None),
                                             "widths": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, num_centers: int = 8, grid_range=(-1.0, 1.0),
                 grid_eps: float = 0.02, init_scale: float = 1.0, generator: torch.Generator | None = None):
        num_centers = self.check_size(num_centers)
        super().__init__(in_features, out_features, num_centers, grid_range=grid_range, grid_eps=grid_eps,
                         init_scale=init_scale, generator=generator, num_centers=num_centers)
        self.num_centers = num_centers
        lo, hi = self.options["grid_range"]
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

    # --- grid (update_grid / refine: GridBasis) ------------------------------------------
    def features_for(self, size: int) -> int:
        return size

    def set_grid(self, points: torch.Tensor) -> None:
        """New centres (in, G); each width is the local spacing."""
        self.centers = points.to(self.centers.dtype)
        self.widths = local_widths(self.centers)


__all__ = ["RBFBasis", "local_widths"]
