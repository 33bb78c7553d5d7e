"""ReLU-KAN basis (Qiu et al. 2024): squared products of ReLUs on a grid of G cells.

    R_ij(x) = [relu(e_ij − x) · relu(x − s_ij)]² · 16 / (e_ij − s_ij)⁴,   j < G + k

A bell on [s_ij, e_ij] peaking at 1 in the midpoint, zero outside. With the uniform
grid of G cells on ``grid_range`` extended by k cells each side (t_0 < … < t_{G+2k}),
feature j spans k + 1 cells: s_j = t_j, e_j = t_{j+k+1}. No pre-map (identity): outside
the grid every feature is 0 and the layer's residual branch carries the signal.

Knots are stored as a start s and a raw width ρ with e − s = 10⁻⁶ + softplus(ρ) > 0, so
e > s holds whatever an optimiser does; ``train_knots=True`` makes (s, ρ) parameters. The
normalisation 16/(e − s)⁴ is recomputed from the current knots on every call.

The fast forward goes through :func:`symkan.kernels.relukan_linear` (fused Triton
kernel on CUDA, the unfused torch reference elsewhere; option ``backend``).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
import torch.nn.functional as F

from . import register_basis
from ..checks import check_choice, check_int
from .base import FeatureBasis, regrid_floors
from ..kernels import BACKENDS, relukan_features, relukan_linear


#: floor of every cell width e − s = MIN_WIDTH + softplus(ρ): a width that underflowed to 0
#: would make 16/(e − s)⁴ infinite (seen with large optimiser steps on trainable knots)
MIN_WIDTH = 1e-6


def inverse_softplus(w: torch.Tensor) -> torch.Tensor:
    """ρ with softplus(ρ) = w, for w > 0 (stable for small and large w)."""
    return w + torch.log(-torch.expm1(-w))


def width_to_raw(width: torch.Tensor) -> torch.Tensor:
    """ρ with MIN_WIDTH + softplus(ρ) = width (widths at or below the floor map to ~the floor)."""
    return inverse_softplus((width - MIN_WIDTH).clamp_min(MIN_WIDTH))


def extend_knots(inner: torch.Tensor, k: int) -> torch.Tensor:
    """Inner knots (in, G + 1), increasing -> (in, G + 2k + 1): k more cells each side,
    as wide as the outermost inner cells."""
    steps = torch.arange(1, k + 1, dtype=inner.dtype, device=inner.device)[None]
    h_lo = (inner[:, 1] - inner[:, 0])[:, None]
    h_hi = (inner[:, -1] - inner[:, -2])[:, None]
    return torch.cat([inner[:, :1] - h_lo * steps.flip(-1), inner, inner[:, -1:] + h_hi * steps], dim=1)


@register_basis
class ReLUKANBasis(FeatureBasis):
    """Options: ``grid_size`` G (cells, default 5), ``k`` (overlap: each feature spans
    k + 1 cells, default 3), ``grid_range`` (default (-1, 1)), ``train_knots`` (default
    False), ``grid_eps`` (uniform vs quantile knots in ``update_grid``; 1 = uniform,
    default 0.02), ``backend`` ("auto" | "torch" | "triton"), ``init_scale``.

    Knots: ``knot_start`` (in, G + k) and ``knot_width_raw`` (in, G + k) — parameters when
    ``train_knots`` else buffers. Parameters: ``coef`` (out, in, G + k).
    """

    name: ClassVar[str] = "relukan"
    premap_kind: ClassVar[str] = "identity"
    supports_grid_update: ClassVar[bool] = True
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "knot_start": ("in", None),
                                             "knot_width_raw": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, grid_size: int = 5, k: int = 3,
                 grid_range=(-1.0, 1.0), train_knots: bool = False, grid_eps: float = 0.02,
                 backend: str = "auto", init_scale: float = 1.0, generator: torch.Generator | None = None):
        grid_size = check_int("grid_size", grid_size)
        k = check_int("k", k, minimum=0)
        try:
            lo, hi = (float(v) for v in grid_range)
        except (TypeError, ValueError):
            raise ValueError(f"grid_range must be a pair (lo, hi), got {grid_range!r}") from None
        if not hi > lo:
            raise ValueError(f"grid_range must be (lo, hi) with hi > lo, got {grid_range!r}")
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps!r}")
        check_choice("backend", backend, BACKENDS)
        super().__init__(in_features, out_features, grid_size + k, init_scale=init_scale, generator=generator,
                         grid_size=grid_size, k=k, grid_range=[lo, hi], train_knots=bool(train_knots),
                         grid_eps=float(grid_eps), backend=backend)
        self.grid_size, self.k, self.grid_eps = grid_size, k, float(grid_eps)
        self.train_knots, self.backend = bool(train_knots), backend
        inner = torch.linspace(lo, hi, grid_size + 1).repeat(in_features, 1)
        start, width = self._knots_from_grid(extend_knots(inner, k))
        self._register_knots(start, width_to_raw(width))
        # a private default generator: constructing a basis never touches the global RNG
        self.reset_coefficients(generator if generator is not None else torch.Generator().manual_seed(0))

    # --- knots ---------------------------------------------------------------------------
    def _knots_from_grid(self, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """grid (in, G + 2k + 1) -> start s_j = t_j and width t_{j+k+1} − t_j, each (in, G + k)."""
        n = grid.shape[1] - self.k - 1
        return grid[:, :n].clone(), grid[:, self.k + 1:] - grid[:, :n]

    def _register_knots(self, start: torch.Tensor, width_raw: torch.Tensor) -> None:
        for name, value in (("knot_start", start), ("knot_width_raw", width_raw)):
            current = getattr(self, name, None)
            if current is not None and current.shape == value.shape:
                with torch.no_grad():  # in place: keeps parameter identity
                    current.copy_(value)
                continue
            if name in self._parameters:
                del self._parameters[name]
            if name in self._buffers:
                del self._buffers[name]
            if self.train_knots:
                self.register_parameter(name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    @property
    def start(self) -> torch.Tensor:
        """s_ij, (in, G + k)."""
        return self.knot_start

    @property
    def width(self) -> torch.Tensor:
        """e_ij − s_ij = MIN_WIDTH + softplus(ρ_ij) > 0, (in, G + k)."""
        return MIN_WIDTH + F.softplus(self.knot_width_raw)

    @property
    def end(self) -> torch.Tensor:
        """e_ij, (in, G + k)."""
        return self.knot_start + self.width

    def domain(self):
        """The inner grid [t_k, t_{G+k}] per input (where k + 1 features overlap)."""
        with torch.no_grad():
            return self.start[:, self.k].clone(), self.end[:, self.grid_size - 1].clone()

    # --- evaluation ----------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> R_ij(x_i): (batch, in, G + k)."""
        return relukan_features(x, self.start, self.width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> (batch, out); fused kernel on CUDA."""
        weight = self.coef if mask is None else self.coef * mask[:, :, None]
        return relukan_linear(x, weight.reshape(self.out_features, -1), self.start, self.width,
                              backend=self.backend)

    # --- grid ----------------------------------------------------------------------------
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the knots to the data (x: (batch, in)) keeping the curves (least squares).
        Trained knots are replaced by the new grid."""
        self._regrid(x, self.grid_size)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        """Change the number of cells to ``num`` keeping the curves. Without data the
        curves are refit on dense points over the current grid range."""
        num = check_int("grid_size", num)
        self._regrid(x, num, adaptive=x is not None)

    def _regrid(self, x: torch.Tensor | None, num: int, adaptive: bool = True) -> None:
        lo, hi = self.domain()
        if x is None:
            n = max(64, 8 * (num + self.k))
            t = torch.linspace(0, 1, n, dtype=lo.dtype, device=lo.device)[:, None]
            x = lo[None] + (hi - lo)[None] * t
        x = x.to(self.knot_start.dtype)
        target = self.edge_activations(x)  # old curves, (n, out, in)
        ramp = torch.linspace(0, 1, num + 1, dtype=x.dtype, device=x.device)
        if adaptive:
            xs = torch.sort(x, dim=0).values
            idx = torch.linspace(0, xs.shape[0] - 1, num + 1, device=x.device).round().long()
            quant = xs[idx].T  # (in, num + 1)
            lo, hi = xs[0], xs[-1]
            span, min_gap = regrid_floors(lo, hi, num, rel_gap=1e-2)
            inner = self.grid_eps * (lo[:, None] + span[:, None] * ramp) + (1 - self.grid_eps) * quant
            # strictly increasing even when the data repeat values
            gaps = torch.maximum(torch.diff(inner, dim=1), min_gap)
            inner = torch.cat([inner[:, :1], inner[:, :1] + torch.cumsum(gaps, dim=1)], dim=1)
        else:
            inner = lo[:, None] + (hi - lo)[:, None] * ramp
        start, width = self._knots_from_grid(extend_knots(inner, self.k))
        if num != self.grid_size:
            self.grid_size = num
            self.options["grid_size"] = num
            self.num_features = num + self.k
            self.coef = nn.Parameter(self.coef.new_zeros(self.out_features, self.in_features, num + self.k))
        self._register_knots(start.to(self.coef.dtype), width_to_raw(width).to(self.coef.dtype))
        self.fit_coefficients(x, target)


__all__ = ["ReLUKANBasis", "MIN_WIDTH", "extend_knots", "inverse_softplus", "width_to_raw"]
