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
from .base import inverse_softplus
from .grid import GridBasis, extend_knots
from ..kernels import BACKENDS, relukan_features, relukan_linear


#: floor of every cell width e − s = MIN_WIDTH + softplus(ρ): a width that underflowed to 0
#: would make 16/(e − s)⁴ infinite (seen with large optimiser steps on trainable knots)
MIN_WIDTH = 1e-6


def width_to_raw(width: torch.Tensor) -> torch.Tensor:
    """ρ with MIN_WIDTH + softplus(ρ) = width (widths at or below the floor map to ~the floor)."""
    return inverse_softplus((width - MIN_WIDTH).clamp_min(MIN_WIDTH))


@register_basis
class ReLUKANBasis(GridBasis):
    """Options: ``grid_size`` G (cells, default 5), ``k`` (overlap: each feature spans
    k + 1 cells, default 3), ``grid_range`` (default (-1, 1)), ``train_knots`` (default
    False), ``grid_eps`` (uniform vs quantile knots in ``update_grid``; 1 = uniform,
    default 0.02), ``backend`` ("auto" | "torch" | "triton"), ``init_scale``.

    Knots: ``knot_start`` (in, G + k) and ``knot_width_raw`` (in, G + k) — parameters when
    ``train_knots`` else buffers. Parameters: ``coef`` (out, in, G + k).
    """

    name: ClassVar[str] = "relukan"
    premap_kind: ClassVar[str] = "identity"
    size_option: ClassVar[str] = "grid_size"
    has_grid: ClassVar[bool] = True
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "knot_start": ("in", None),
                                             "knot_width_raw": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, grid_size: int = 5, k: int = 3,
                 grid_range=(-1.0, 1.0), train_knots: bool = False, grid_eps: float = 0.02,
                 backend: str = "auto", init_scale: float = 1.0, generator: torch.Generator | None = None):
        grid_size = self.check_size(grid_size)
        k = check_int("k", k, minimum=0)
        check_choice("backend", backend, BACKENDS)
        super().__init__(in_features, out_features, grid_size + k, grid_range=grid_range, grid_eps=grid_eps,
                         init_scale=init_scale, generator=generator, grid_size=grid_size, k=k,
                         train_knots=bool(train_knots), backend=backend)
        self.grid_size, self.k = grid_size, k
        self.train_knots, self.backend = bool(train_knots), backend
        lo, hi = self.options["grid_range"]
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

    # --- grid (update_grid / refine: GridBasis; trained knots are replaced) ---------------
    def features_for(self, size: int) -> int:
        return size + self.k

    def set_grid(self, points: torch.Tensor) -> None:
        """Inner knots (in, G + 1) -> starts and widths of the G + k features."""
        start, width = self._knots_from_grid(extend_knots(points, self.k))
        self._register_knots(start.to(self.coef.dtype), width_to_raw(width).to(self.coef.dtype))


__all__ = ["ReLUKANBasis", "MIN_WIDTH", "width_to_raw"]
