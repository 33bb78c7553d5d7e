"""Fourier basis: φ_oi(x) = [c_oi0] + Σ_{k=1..K} a_oik·cos(k·ω·u) + b_oik·sin(k·ω·u), u = premap(x_i).

With the default ω = π/2 the typical domain [-1, 1] is half of the base period 4, so a
non-periodic edge function on [-1, 1] is matched by the cosine series of its even
reflection (no forced jump at the domain ends, unlike ω = π).

Parameters: ``coef`` (out, in, 2K [+1]); feature order [1?, cos(ωu), sin(ωu), cos(2ωu), ...].
Buffers: ``premap.running_min`` / ``premap.running_max`` (in,) for the min-max pre-map.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from . import register_basis
from ..checks import check_choice, check_int
from .premap import PREMAPS, PreMappedBasis


@register_basis
class FourierBasis(PreMappedBasis):
    """Options: ``num_frequencies`` K (default 4), ``omega`` ω > 0 (default π/2),
    ``include_constant`` (default False — the node bias already carries constants),
    ``premap`` ("identity" default, "tanh", "minmax"), ``init_scale``.
    A global basis: ``update_grid`` only moves a min-max pre-map range; ``refine(K)``
    changes the number of frequencies (least-squares refit of the curves).
    """

    name: ClassVar[str] = "fourier"
    size_option: ClassVar[str] = "num_frequencies"

    def __init__(self, in_features: int, out_features: int, *, num_frequencies: int = 4,
                 omega: float = math.pi / 2, include_constant: bool = False, premap: str = "identity",
                 init_scale: float = 1.0, generator: torch.Generator | None = None):
        num_frequencies = check_int("num_frequencies", num_frequencies)
        if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not math.isfinite(omega) or omega <= 0:
            raise ValueError(f"omega must be a finite number > 0, got {omega!r}")
        check_choice("premap", premap, PREMAPS)
        include_constant = bool(include_constant)
        super().__init__(in_features, out_features, 2 * num_frequencies + int(include_constant),
                         init_scale=init_scale, generator=generator, num_frequencies=num_frequencies,
                         omega=float(omega), include_constant=include_constant, premap=premap)
        self.num_frequencies, self.omega, self.include_constant = num_frequencies, float(omega), include_constant
        self._init_premap(premap)
        self.reset_coefficients(generator)

    def features_of(self, u: torch.Tensor) -> torch.Tensor:
        """u: (batch, in) -> (batch, in, 2K [+1])."""
        # frequencies built in the input's dtype so float64 models get float64 ω·k
        k = torch.arange(1, self.num_frequencies + 1, dtype=u.dtype, device=u.device)
        phase = u[..., None] * (self.omega * k)  # (batch, in, K)
        # interleave cos/sin per frequency: [cos ω, sin ω, cos 2ω, sin 2ω, ...]
        feats = torch.stack([torch.cos(phase), torch.sin(phase)], dim=-1).flatten(-2)
        if self.include_constant:
            feats = torch.cat([torch.ones_like(feats[..., :1]), feats], dim=-1)
        return feats

    def _resize(self, num: int) -> None:
        num = check_int("num_frequencies", num)
        self.num_frequencies = num
        self.options["num_frequencies"] = num
        self.num_features = 2 * num + int(self.include_constant)


__all__ = ["FourierBasis"]
