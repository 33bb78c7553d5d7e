"""Pre-maps: how a basis maps raw edge inputs x into its working domain u, and the
feature bases evaluated on u (:class:`PreMappedBasis`: polynomials, Fourier).

Declared explicitly because the symbolic phase must reproduce the edge function
exactly: φ(x) = Σ_k c_k B_k(premap(x)).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import ClassVar

import torch
from torch import nn

from .base import FeatureBasis

PREMAPS = ("identity", "tanh", "minmax")


class PreMap(nn.Module):
    """u = premap(x), elementwise per input. x: (batch, in) -> u: (batch, in).

    * ``identity``: u = x
    * ``tanh``: u = tanh(x) ∈ (-1, 1)
    * ``minmax``: u = clamp(2 (x - lo) / (hi - lo) - 1, -1, 1) with per-input (lo, hi)
      taken from the first training-mode batch, then moved only by :meth:`set_range`
      (a basis calls it from ``update_grid``) or, with ``momentum`` > 0, a running
      average in training mode. The default momentum is 0: a range that drifts on every
      call changes the function between the evaluations of one LBFGS step, and training
      stalls (measured, Chebyshev KAN([2,5,1]) on exp(sin(πx)+y²), 50 LBFGS steps: test
      RMSE 0.44 with momentum 0.1, 0.013 frozen after the first batch, 0.0033 with
      ``update_grid`` every 10 steps).
    """

    def __init__(self, kind: str, in_features: int, momentum: float = 0.0):
        super().__init__()
        if kind not in PREMAPS:
            raise ValueError(f"premap must be one of {PREMAPS}, got {kind!r}")
        self.kind = kind
        self.momentum = float(momentum)
        self.register_buffer("running_min", -torch.ones(in_features))
        self.register_buffer("running_max", torch.ones(in_features))
        self.register_buffer("num_batches", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "identity":
            return x
        if self.kind == "tanh":
            return torch.tanh(x)
        if self.training and x.shape[0] > 1:
            with torch.no_grad():
                lo, hi = x.min(0).values, x.max(0).values
                if int(self.num_batches) == 0:
                    self.running_min.copy_(lo)
                    self.running_max.copy_(hi)
                else:
                    m = self.momentum
                    self.running_min.mul_(1 - m).add_(m * lo)
                    self.running_max.mul_(1 - m).add_(m * hi)
                self.num_batches += 1
        span = (self.running_max - self.running_min).clamp_min(1e-8)
        return (2.0 * (x - self.running_min) / span - 1.0).clamp(-1.0, 1.0)

    @torch.no_grad()
    def set_range(self, x: torch.Tensor) -> None:
        """Set the min-max range to the per-input range of x: (batch, in)."""
        self.running_min.copy_(x.min(0).values)
        self.running_max.copy_(x.max(0).values)
        self.num_batches += 1

    def extra_repr(self) -> str:
        return self.kind

    def domain(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw-x range that maps onto the working domain (for probes and plots)."""
        if self.kind == "minmax":
            return self.running_min.clone(), self.running_max.clone()
        ones = torch.ones_like(self.running_min)
        return -ones, ones


class PreMappedBasis(FeatureBasis):
    """A feature basis on u = premap(x) (polynomials, Fourier): pre-map handling, domain,
    and the data-adaptive parts.

    * ``update_grid(x)`` — only with the min-max pre-map (``supports_grid_update`` is
      true per instance; a global basis has no grid, ``has_grid`` is False): the range moves to the data and the curves are kept by a
      least-squares refit (exact up to clamping, since a polynomial of an affine
      function of u is a polynomial of the same degree).
    * ``refine(n, x=None)`` — a new size (degree / number of frequencies), the curves
      refit on x or on dense points over :meth:`domain`.

    Subclasses implement :meth:`features_of` (u -> features) and :meth:`_resize`.
    """

    has_grid: ClassVar[bool] = False
    edge_axes: ClassVar[dict[str, tuple]] = {
        "coef": ("out", "in", None),
        "premap.running_min": ("in",),
        "premap.running_max": ("in",),
    }

    @property
    def premap_kind(self) -> str:
        """The pre-map chosen by the ``premap`` option: "identity", "tanh" or "minmax"."""
        return self.premap.kind

    def _init_premap(self, kind: str) -> None:
        self.premap = PreMap(kind, self.in_features)

    @property
    def supports_grid_update(self) -> bool:
        """A min-max range is data-dependent like a grid; tanh / identity have nothing to move."""
        return self.premap.kind == "minmax"

    @contextmanager
    def _frozen_premap(self):
        """Evaluate without moving the min-max range (probes, refits)."""
        was_training = self.premap.training
        self.premap.eval()
        try:
            yield
        finally:
            self.premap.train(was_training)

    def reset_coefficients(self, generator: torch.Generator | None = None, gain: float | None = None):
        with self._frozen_premap():  # the init probe must not set the min-max range
            super().reset_coefficients(generator, gain)

    def domain(self) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.premap.domain()
        return lo.to(self.coef.dtype), hi.to(self.coef.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, in, K)."""
        return self.features_of(self.premap(x))

    def features_of(self, u: torch.Tensor) -> torch.Tensor:
        """u: (batch, in) in the working domain -> (batch, in, K)."""
        raise NotImplementedError

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Min-max pre-map only: set the range to the data x (batch, in), keep the curves."""
        if self.premap.kind != "minmax":
            raise NotImplementedError(f"basis {self.name!r} with premap={self.premap.kind!r} has no range to "
                                      f"update; use premap='minmax'")
        x = x.to(self.coef.dtype)
        with self._frozen_premap():
            target = self.edge_activations(x)
            self.premap.set_range(x)
            self.fit_coefficients(x, target)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        """Change the size to ``num`` (degree or frequencies) keeping the curves; x: (batch, in)."""
        if x is None:
            x = self.probe_inputs(max(64, 8 * (int(num) + 2)))
        x = x.to(self.coef.dtype)
        with self._frozen_premap():
            target = self.edge_activations(x)
            self._resize(num)
            self.coef = torch.nn.Parameter(self.coef.new_zeros(self.out_features, self.in_features,
                                                               self.num_features))
            self.fit_coefficients(x, target)

    def _resize(self, num: int) -> None:
        """Set the new size: options, attributes and ``num_features`` (not ``coef``)."""
        raise NotImplementedError


__all__ = ["PREMAPS", "PreMap", "PreMappedBasis"]
