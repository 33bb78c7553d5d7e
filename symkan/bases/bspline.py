"""B-spline basis of order k on a per-input grid of G cells (the original KAN basis).

φ_oi(x) = Σ_{k<G+order} coef[o,i,k] · B_k(x) with B_k the Cox–de Boor B-splines on a
knot vector extended by ``order`` knots each side. Outside the extended grid every
B_k is zero (the residual branch of the layer still carries the signal there).
Supports ``update_grid(x)`` (data-adaptive knots) and ``refine(G)`` (more cells), both
preserving the learned curves by a least-squares refit.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from . import register_basis
from .base import FeatureBasis, check_positive_int


def bspline_features(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """Cox–de Boor recursion. x: (batch, in), grid: (in, G + 2·order + 1) -> (batch, in, G + order)."""
    x = x.unsqueeze(-1)
    g = grid.unsqueeze(0)
    bases = ((x >= g[..., :-1]) & (x < g[..., 1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - g[..., : -(p + 1)]) / (g[..., p:-1] - g[..., : -(p + 1)])
        right = (g[..., p + 1 :] - x) / (g[..., p + 1 :] - g[..., 1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


def extended_grid(lo: torch.Tensor, hi: torch.Tensor, num: int, order: int) -> torch.Tensor:
    """Uniform knots on [lo, hi] per input, extended by ``order`` cells each side. -> (in, num + 2·order + 1)."""
    h = (hi - lo) / num
    steps = torch.arange(-order, num + order + 1, dtype=lo.dtype, device=lo.device)
    return lo[:, None] + steps[None, :] * h[:, None]


@register_basis
class BSplineBasis(FeatureBasis):
    """Options: ``grid_size`` G (cells, default 5), ``order`` k (default 3),
    ``grid_range`` (default (-1, 1)), ``grid_eps`` (blend of uniform vs quantile
    knots in ``update_grid``; 1 = uniform, default 0.02), ``init_scale``.

    Buffers: ``grid`` (in, G + 2k + 1). Parameters: ``coef`` (out, in, G + k).
    """

    name: ClassVar[str] = "bspline"
    supports_grid_update: ClassVar[bool] = True
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "grid": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, grid_size: int = 5, order: int = 3,
                 grid_range=(-1.0, 1.0), grid_eps: float = 0.02, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        grid_size = check_positive_int("grid_size", grid_size)
        order = check_positive_int("order", order, minimum=0)
        lo, hi = (float(v) for v in grid_range)
        if not hi > lo:
            raise ValueError(f"grid_range must be (lo, hi) with hi > lo, got {grid_range!r}")
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps!r}")
        super().__init__(in_features, out_features, grid_size + order, init_scale=init_scale,
                         generator=generator, grid_size=grid_size, order=order,
                         grid_range=[lo, hi], grid_eps=float(grid_eps))
        self.grid_size, self.order, self.grid_eps = grid_size, order, float(grid_eps)
        ones = torch.ones(in_features)
        self.register_buffer("grid", extended_grid(lo * ones, hi * ones, grid_size, order))
        self.reset_coefficients(generator)

    def domain(self):
        k = self.order
        return self.grid[:, k].clone(), self.grid[:, -k - 1].clone()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return bspline_features(x, self.grid, self.order)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the knots to the data: a blend of per-input quantiles and a uniform grid
        over the observed range; the curves are preserved by a least-squares refit.
        x: (batch, in)."""
        self._regrid(x, self.grid_size)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        """Change the number of grid cells to ``num`` preserving the learned curves.
        Without data, the curves are refit on dense points over the current grid range."""
        num = check_positive_int("grid_size", num)
        self._regrid(x, num, adaptive=x is not None)

    def _regrid(self, x: torch.Tensor | None, num: int, adaptive: bool = True) -> None:
        lo, hi = self.domain()
        if x is None:
            n = max(64, 8 * (num + self.order))
            t = torch.linspace(0, 1, n, dtype=lo.dtype, device=lo.device)[:, None]
            x = lo[None] + (hi - lo)[None] * t
        x = x.to(self.grid.dtype)
        target = self.edge_activations(x)  # old curves, (n, out, in)
        if adaptive:
            xs = torch.sort(x, dim=0).values
            n = xs.shape[0]
            idx = torch.linspace(0, n - 1, num + 1, device=x.device).round().long()
            quant = xs[idx].T  # (in, num + 1)
            lo, hi = xs[0], xs[-1]
            span = (hi - lo).clamp_min(1e-4)
            hi = lo + span
            uniform = lo[:, None] + (hi - lo)[:, None] * torch.linspace(0, 1, num + 1, dtype=x.dtype, device=x.device)
            inner = self.grid_eps * uniform + (1 - self.grid_eps) * quant
            inner[:, -1] = torch.maximum(inner[:, -1], hi)
            # keep knots strictly increasing even when data repeat values
            gaps = torch.diff(inner, dim=1).clamp_min(1e-4 * span[:, None] / num)
            inner = torch.cat([inner[:, :1], inner[:, :1] + torch.cumsum(gaps, dim=1)], dim=1)
        else:
            inner = lo[:, None] + (hi - lo)[:, None] * torch.linspace(0, 1, num + 1, dtype=x.dtype, device=x.device)
        h_lo = (inner[:, 1] - inner[:, 0])[:, None]
        h_hi = (inner[:, -1] - inner[:, -2])[:, None]
        k = self.order
        steps = torch.arange(1, k + 1, dtype=x.dtype, device=x.device)[None]
        grid = torch.cat([inner[:, :1] - h_lo * steps.flip(-1), inner, inner[:, -1:] + h_hi * steps], dim=1)
        if num != self.grid_size:
            self.grid_size = num
            self.options["grid_size"] = num
            self.num_features = num + k
            self.coef = torch.nn.Parameter(self.coef.new_zeros(self.out_features, self.in_features, num + k))
        self.grid = grid.to(self.grid.dtype)
        self.fit_coefficients(x, target)
