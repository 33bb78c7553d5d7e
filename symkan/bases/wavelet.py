"""Wavelet bases with a learnable scale and translation per edge (Wav-KAN style).

φ_oi(x) = Σ_{k<K} w_oik · ψ((x − t_oik) / s_oik)

with K = ``num_wavelets`` wavelets per edge and the mother wavelet ψ one of

* ``mexican_hat``: ψ(z) = 2/(√3·π^¼) · (1 − z²) · exp(−z²/2)  (Ricker)
* ``morlet``:      ψ(z) = cos(ω₀ z) · exp(−z²/2)               (real Morlet, ω₀ = 5)
* ``dog``:         ψ(z) = −z · exp(−z²/2)                       (derivative of Gaussian)

Every edge has its own scales and translations, so this does not factor into "shared
features then matmul": the layer evaluates ψ on all (batch, out, in, K) points.

Memory and speed. ``forward`` runs through :class:`WaveletSum`, a custom autograd
function that evaluates the (batch, out, in, K) points in chunks of batch rows × outputs
(at most ``max_chunk_elements`` points, 2¹⁶ on CPU, but at least one row of one output)
and saves only x and the parameters for backward; backward recomputes each chunk with
the closed-form ψ'. Each chunk lives in 3 (Morlet: 4) buffers of that size, reused from
chunk to chunk and small enough for the L2 cache, and every step writes into one of them
in place. Peak extra memory is therefore ≈ 4 · max(max_chunk_elements, in·K) floats plus
a few tensors the size of the parameters, the (batch, out) output and the input
gradient: it grows with neither ``out`` nor the batch. ``edge_activations`` returns
(batch, out, in) and uses plain autograd, which keeps a few (batch, out, in, K) tensors.

Subnormals. z is clamped to ±:func:`envelope_cap` (12.5 in float32, 35.7 in float64)
before ψ, so the Gaussian envelope stays a normal float; this changes ψ by less than
1e-30 (float32) and 1e-270 (float64). Backward also multiplies the incoming gradient by
a power of two (:func:`power_of_two_gain`, exact) so that its products with those tail
values stay normal too. Subnormal arithmetic is many times slower on x86: at the
starting scale 1/K most points of the mexican hat and DoG lie in the far tails.

Parameters: ``weight``, ``translation``, ``scale_raw`` — each (out, in, K); the scale is
s = softplus(scale_raw) + ``MIN_SCALE`` so it stays positive under any optimiser step.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn
import torch.nn.functional as F

from . import register_basis
from ..checks import check_int
from .base import Basis, inverse_softplus
from .wavelet_sum import WaveletChunk, WaveletSum, envelope_cap

#: lower bound of every wavelet scale; keeps (x − t)/s finite
MIN_SCALE = 1e-3

_MEXICAN_HAT_NORM = 2.0 / (math.sqrt(3.0) * math.pi ** 0.25)


class WaveletBasis(Basis):
    """Shared machinery of the per-edge wavelet bases. Subclasses define the closed form
    ``mother`` (elementwise on z) and the in-place chunk kernels ``chunk_psi`` and
    ``chunk_psi_dpsi`` that :class:`WaveletSum` runs on the points p = α·z (α =
    ``point_scale``), with the constant factors ``psi_factor`` and ``dpsi_factor`` left
    out (they are applied to the small weight and gradient tensors instead).

    Options: ``num_wavelets`` K (default 2), ``init_scale`` (output gain). Initial
    translations tile the domain [-1, 1] (t_k = −1 + (2k+1)/K) with scale
    :meth:`initial_scale` (1/K, so the K main lobes cover the domain; 1 for Morlet);
    weights are drawn from the passed generator with a variance-preserving standard
    deviation measured on the domain.
    """

    edge_axes: ClassVar[dict[str, tuple]] = {"weight": ("out", "in", None), "translation": ("out", "in", None),
                                             "scale_raw": ("out", "in", None)}
    #: ψ((x − t)/s) on raw x: the per-edge scale and translation play the pre-map's role
    premap_kind: ClassVar[str] = "identity"
    size_option: ClassVar[str] = "num_wavelets"
    #: no grid: each edge moves its own wavelets (translations and scales are trained)
    has_grid: ClassVar[bool] = False
    #: points evaluated per chunk in ``forward`` and ``backward`` on CPU (bounds the peak
    #: memory); 2¹⁶ measured fastest: each buffer (256 KiB in float32) stays in the L2 cache
    max_chunk_elements: ClassVar[int] = 2 ** 16
    #: the same on other devices, where every op is a kernel launch: fewer, larger chunks
    max_chunk_elements_accelerator: ClassVar[int] = 2 ** 21
    #: chunk kernels' constants: p = α·z, ψ(z) = psi_factor · chunk value, ψ'(z) = dpsi_factor · chunk value
    point_scale: float = 1.0
    psi_factor: float = 1.0
    dpsi_factor: float = 1.0
    #: buffers of ``max_chunk_elements`` floats the chunk kernels use (buffer 0 holds p)
    num_buffers: ClassVar[int] = 3

    def __init__(self, in_features: int, out_features: int, *, num_wavelets: int = 2, init_scale: float = 1.0,
                 generator: torch.Generator | None = None, _family_options: dict | None = None):
        num_wavelets = check_int("num_wavelets", num_wavelets)
        if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not init_scale >= 0:
            raise ValueError(f"init_scale must be a number >= 0, got {init_scale!r}")
        super().__init__(in_features, out_features, num_wavelets=num_wavelets, init_scale=float(init_scale),
                         **(_family_options or {}))
        self.num_wavelets = num_wavelets
        shape = (out_features, in_features, num_wavelets)
        k = torch.arange(num_wavelets, dtype=torch.float32)
        centres = -1.0 + (2 * k + 1) / num_wavelets
        self.translation = nn.Parameter(centres.expand(shape).clone())
        scale0 = torch.full(shape, self.initial_scale(num_wavelets))
        self.scale_raw = nn.Parameter(inverse_softplus(scale0 - MIN_SCALE))
        self.weight = nn.Parameter(torch.zeros(shape))
        self.reset_parameters(generator)

    # --- mother wavelet ---------------------------------------------------------------
    def initial_scale(self, num_wavelets: int) -> float:
        """Starting scale of every wavelet: 1/K, so the K main lobes tile [-1, 1]."""
        return 1.0 / num_wavelets

    def mother(self, z: torch.Tensor) -> torch.Tensor:
        """The closed-form ψ(z), elementwise, without the clamp of :meth:`psi`."""
        raise NotImplementedError

    def psi(self, z: torch.Tensor) -> torch.Tensor:
        """ψ(z) elementwise, with z clamped to ±:func:`envelope_cap` (no subnormals)."""
        cap = envelope_cap(z.dtype)
        return self.mother(z.clamp(-cap, cap))

    def chunk_psi(self, p: torch.Tensor, chunk: WaveletChunk) -> torch.Tensor:
        """ψ / psi_factor at the clamped points p (buffer 0 of ``chunk``, may be overwritten),
        in one of the chunk's buffers."""
        raise NotImplementedError

    def chunk_psi_dpsi(self, p: torch.Tensor, chunk: WaveletChunk) -> tuple[torch.Tensor, torch.Tensor]:
        """(ψ / psi_factor, ψ' / dpsi_factor) at the clamped points p, in two of the
        chunk's buffers other than buffer 0; p is left unchanged."""
        raise NotImplementedError

    # --- parameters -------------------------------------------------------------------
    @property
    def scale(self) -> torch.Tensor:
        """Positive scales s (out, in, K)."""
        return F.softplus(self.scale_raw) + MIN_SCALE

    def domain(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Typical input range (lo, hi), each (in,): [-1, 1], where the wavelets start."""
        ones = torch.ones(self.in_features, dtype=self.weight.dtype, device=self.weight.device)
        return -ones, ones

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None, gain: float | None = None) -> None:
        """Variance-preserving weights: Var(Σ_i φ_oi) ≈ gain² · E[x²] given E[ψ(z)²] on
        the domain with the current scales and translations. Only ``generator`` is used."""
        gain = self.options.get("init_scale", 1.0) if gain is None else gain
        probe = self.probe_inputs()  # (n, in)
        scale = self.scale
        power = torch.zeros_like(probe[0])  # (in,): E[ψ(z)²] over probe, outputs and K
        step = max(1, self.max_chunk_elements // (probe.numel() * self.num_wavelets))
        for a in range(0, self.out_features, step):  # chunks over outputs bound the memory
            z = (probe[:, None, :, None] - self.translation[None, a:a + step]) / scale[None, a:a + step]
            power += self.psi(z).pow(2).sum(dim=(0, 1, 3))
        power = (power / (probe.shape[0] * self.out_features * self.num_wavelets)).clamp_min(1e-12)
        var_in = probe.pow(2).mean(0).clamp_min(1e-12)
        std = gain * torch.sqrt(var_in / (self.in_features * self.num_wavelets * power))
        draws = self._randn(self.weight.shape, generator).to(self.weight)
        self.weight.copy_(draws * std[None, :, None])

    # --- contract ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> (batch, out)."""
        w = self.weight if mask is None else self.weight * mask[:, :, None].to(self.weight.dtype)
        if x.shape[0] == 0:  # no points to chunk; plain autograd keeps the graph
            return self.edge_activations(x).sum(-1)
        budget = self.max_chunk_elements if x.device.type == "cpu" else self.max_chunk_elements_accelerator
        return WaveletSum.apply(x, w, self.translation, self.scale, self, budget)

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out, in)."""
        z = (x[:, None, :, None] - self.translation) / self.scale  # (batch, out, in, K)
        return (self.psi(z) * self.weight).sum(-1)


@register_basis
class MexicanHatBasis(WaveletBasis):
    """Mexican hat (Ricker): ψ(z) = 2/(√3·π^¼) · (1 − z²) · exp(−z²/2)."""

    name: ClassVar[str] = "mexican_hat"
    psi_factor = _MEXICAN_HAT_NORM
    dpsi_factor = -_MEXICAN_HAT_NORM  # ψ' = N·z·(z² − 3)·e^{−z²/2}

    def mother(self, z):
        z2 = z * z
        return _MEXICAN_HAT_NORM * (1.0 - z2) * torch.exp(-0.5 * z2)

    def chunk_psi(self, p, chunk):
        half = chunk.scaled_square(p, -0.5)  # −z²/2
        env = torch.exp(half, out=chunk.buffer(2))
        return torch.addcmul(env, half, env, value=2.0, out=env)  # (1 − z²)·env

    def chunk_psi_dpsi(self, p, chunk):
        half = chunk.scaled_square(p, -0.5)
        env = torch.exp(half, out=chunk.buffer(2))
        psi = torch.addcmul(env, half, env, value=2.0, out=half)  # (1 − z²)·env
        dpsi = torch.add(psi, env, alpha=2.0, out=env).mul_(p)  # z·(3 − z²)·env
        return psi, dpsi


@register_basis
class MorletBasis(WaveletBasis):
    """Real Morlet: ψ(z) = cos(ω₀ z) · exp(−z²/2). Extra option ``omega0`` (default 5)."""

    name: ClassVar[str] = "morlet"
    num_buffers = 4

    def __init__(self, in_features: int, out_features: int, *, num_wavelets: int = 2, omega0: float = 5.0,
                 init_scale: float = 1.0, generator: torch.Generator | None = None):
        if isinstance(omega0, bool) or not isinstance(omega0, (int, float)) or not math.isfinite(omega0) or omega0 <= 0:
            raise ValueError(f"omega0 must be a finite number > 0, got {omega0!r}")
        self.omega0 = float(omega0)
        # chunk points are the phases p = ω₀·z; ψ' = −ω₀·(sin p + p·cos p/ω₀²)·e^{−z²/2}
        self.point_scale, self.dpsi_factor = self.omega0, -self.omega0
        super().__init__(in_features, out_features, num_wavelets=num_wavelets, init_scale=init_scale,
                         generator=generator, _family_options={"omega0": float(omega0)})

    def initial_scale(self, num_wavelets: int) -> float:
        # narrow Morlet windows are high-frequency filters that fit smooth curves badly
        # (measured: K=4 at scale 1/4 did not train on exp(sin(πx)+y²), scale 1 did)
        return 1.0

    def mother(self, z):
        return torch.cos(self.omega0 * z) * torch.exp(-0.5 * z * z)

    def _envelope(self, p, chunk):
        return chunk.scaled_square(p, -0.5 / self.omega0 ** 2).exp_()  # e^{−z²/2}, buffer 1

    def chunk_psi(self, p, chunk):
        return self._envelope(p, chunk).mul_(p.cos_())

    def chunk_psi_dpsi(self, p, chunk):
        env = self._envelope(p, chunk)
        cos = torch.cos(p, out=chunk.buffer(2))
        sin = torch.sin(p, out=chunk.buffer(3))
        dpsi = torch.addcmul(sin, p, cos, value=self.omega0 ** -2, out=sin).mul_(env)
        return cos.mul_(env), dpsi


@register_basis
class DoGBasis(WaveletBasis):
    """Derivative of Gaussian: ψ(z) = −z · exp(−z²/2)."""

    name: ClassVar[str] = "dog"
    psi_factor = -1.0
    dpsi_factor = -1.0  # ψ' = (z² − 1)·e^{−z²/2}

    def mother(self, z):
        return -z * torch.exp(-0.5 * z * z)

    def chunk_psi(self, p, chunk):
        return chunk.scaled_square(p, -0.5).exp_().mul_(p)  # z·env

    def chunk_psi_dpsi(self, p, chunk):
        half = chunk.scaled_square(p, -0.5)
        env = torch.exp(half, out=chunk.buffer(2))
        dpsi = torch.addcmul(env, half, env, value=2.0, out=half)  # (1 − z²)·env
        return env.mul_(p), dpsi


__all__ = ["WaveletBasis", "WaveletSum", "MexicanHatBasis", "MorletBasis", "DoGBasis", "MIN_SCALE"]
