"""Wavelet bases with a learnable scale and translation per edge (Wav-KAN style).

φ_oi(x) = Σ_{k<K} w_oik · ψ((x − t_oik) / s_oik)

with K = ``num_wavelets`` wavelets per edge and the mother wavelet ψ one of

* ``mexican_hat``: ψ(z) = 2/(√3·π^¼) · (1 − z²) · exp(−z²/2)  (Ricker)
* ``morlet``:      ψ(z) = cos(ω₀ z) · exp(−z²/2)               (real Morlet, ω₀ = 5)
* ``dog``:         ψ(z) = −z · exp(−z²/2)                       (derivative of Gaussian)

Every edge has its own scales and translations, so this does not factor into "shared
features then matmul": the layer evaluates ψ on all (batch, out, in, K) points.

Memory. ``forward`` runs through :class:`WaveletSum`, a custom autograd function that
evaluates the (batch, out, in, K) points in chunks over outputs (at most
``max_chunk_elements`` points per chunk, 2¹⁹ by default, but at least one output) and
saves only x and the parameters for backward; backward recomputes each chunk with the
closed-form ψ'. Peak extra memory is therefore ≈ 4 · max(max_chunk_elements,
batch·in·K) floats plus the (batch, out) output and the parameter gradients — it does
not grow with ``out``. ``edge_activations`` returns (batch, out, in) and uses
plain autograd, which keeps a few (batch, out, in, K) tensors for backward.

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

#: lower bound of every wavelet scale; keeps (x − t)/s finite
MIN_SCALE = 1e-3

_MEXICAN_HAT_NORM = 2.0 / (math.sqrt(3.0) * math.pi ** 0.25)


class WaveletSum(torch.autograd.Function):
    """y_bo = Σ_i Σ_k w_oik ψ((x_bi − t_oik)/s_oik), chunked over outputs.

    Inputs: x (batch, in), w, t, s (out, in, K), ``basis`` (gives ``psi`` and
    ``psi_and_dpsi`` on z), ``chunk`` outputs per chunk. Output (batch, out). Saves only
    the inputs; backward recomputes ψ and ψ' chunk by chunk and contracts them with the
    incoming gradient by matrix products (einsum), not by broadcasting it.
    """

    @staticmethod
    def forward(ctx, x, w, t, s, basis, chunk: int):
        ctx.save_for_backward(x, w, t, s)
        ctx.basis, ctx.chunk = basis, chunk
        n, n_in, n_k = x.shape[0], w.shape[1], w.shape[2]
        inv = s.reciprocal()
        shift = -t * inv  # z = x·(1/s) − t/s in one fused op below
        out = x.new_empty(n, w.shape[0])
        xe = x[:, None, :, None]
        for a in range(0, w.shape[0], chunk):
            b = min(a + chunk, w.shape[0])
            z = torch.addcmul(shift[a:b], xe, inv[a:b])  # (batch, c, in, K)
            psi = basis.psi(z).reshape(n, b - a, n_in * n_k)
            out[:, a:b] = torch.einsum("bcj,cj->bc", psi, w[a:b].reshape(b - a, -1))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, w, t, s = ctx.saved_tensors
        need_x, need_w, need_t, need_s = ctx.needs_input_grad[:4]
        n, n_in, n_k = x.shape[0], w.shape[1], w.shape[2]
        gx = torch.zeros_like(x) if need_x else None
        gw = torch.empty_like(w) if need_w else None
        gt = torch.empty_like(t) if need_t else None
        gs = torch.empty_like(s) if need_s else None
        inv = s.reciprocal()
        shift = -t * inv
        xe = x[:, None, :, None]
        grad = grad.contiguous()
        for a in range(0, w.shape[0], ctx.chunk):
            b = min(a + ctx.chunk, w.shape[0])
            c = b - a
            g = grad[:, a:b]  # (batch, c)
            z = torch.addcmul(shift[a:b], xe, inv[a:b])  # (batch, c, in, K)
            psi, dpsi = ctx.basis.psi_and_dpsi(z)
            if need_w:
                gw[a:b] = torch.einsum("bcj,bc->cj", psi.reshape(n, c, -1), g).reshape(c, n_in, n_k)
            if need_x or need_t or need_s:
                dz = dpsi.mul_(w[a:b] * inv[a:b])  # ∂y/∂x per unit gradient: w·ψ'(z)/s
                if need_x:
                    gx += torch.einsum("bcik,bc->bi", dz, g)
                if need_t:  # ∂z/∂t = −1/s
                    gt[a:b] = -torch.einsum("bcj,bc->cj", dz.reshape(n, c, -1), g).reshape(c, n_in, n_k)
                if need_s:  # ∂z/∂s = −z/s
                    gs[a:b] = -torch.einsum("bcj,bc->cj", dz.mul_(z).reshape(n, c, -1), g).reshape(c, n_in, n_k)
        return gx, gw, gt, gs, None, None


class WaveletBasis(Basis):
    """Shared machinery of the per-edge wavelet bases. Subclasses define ``psi`` and
    its derivative via ``psi_and_dpsi`` (elementwise on z).

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
    #: points evaluated per chunk in ``forward`` (bounds the peak memory)
    #: 2¹⁹ measured fastest on CPU (each temporary stays cache-sized: 2 MiB in float32)
    max_chunk_elements: ClassVar[int] = 2 ** 19

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

    def psi(self, z: torch.Tensor) -> torch.Tensor:
        """ψ(z), elementwise."""
        raise NotImplementedError

    def psi_and_dpsi(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ψ(z), ψ'(z)) sharing the Gaussian envelope; ψ' is a fresh tensor (callers
        may modify it in place)."""
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
        per_output = max(1, x.shape[0] * self.in_features * self.num_wavelets)
        chunk = max(1, self.max_chunk_elements // per_output)
        return WaveletSum.apply(x, w, self.translation, self.scale, self, chunk)

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> (batch, out, in)."""
        z = (x[:, None, :, None] - self.translation) / self.scale  # (batch, out, in, K)
        return (self.psi(z) * self.weight).sum(-1)


@register_basis
class MexicanHatBasis(WaveletBasis):
    """Mexican hat (Ricker): ψ(z) = 2/(√3·π^¼) · (1 − z²) · exp(−z²/2)."""

    name: ClassVar[str] = "mexican_hat"

    def psi(self, z):
        z2 = z * z
        return _MEXICAN_HAT_NORM * (1.0 - z2) * torch.exp(-0.5 * z2)

    def psi_and_dpsi(self, z):
        z2 = z * z
        env = torch.exp(-0.5 * z2).mul_(_MEXICAN_HAT_NORM)
        return (1.0 - z2).mul_(env), (z2 - 3.0).mul_(z).mul_(env)


@register_basis
class MorletBasis(WaveletBasis):
    """Real Morlet: ψ(z) = cos(ω₀ z) · exp(−z²/2). Extra option ``omega0`` (default 5)."""

    name: ClassVar[str] = "morlet"

    def __init__(self, in_features: int, out_features: int, *, num_wavelets: int = 2, omega0: float = 5.0,
                 init_scale: float = 1.0, generator: torch.Generator | None = None):
        if isinstance(omega0, bool) or not isinstance(omega0, (int, float)) or not math.isfinite(omega0) or omega0 <= 0:
            raise ValueError(f"omega0 must be a finite number > 0, got {omega0!r}")
        self.omega0 = float(omega0)
        super().__init__(in_features, out_features, num_wavelets=num_wavelets, init_scale=init_scale,
                         generator=generator, _family_options={"omega0": float(omega0)})

    def initial_scale(self, num_wavelets: int) -> float:
        # narrow Morlet windows are high-frequency filters that fit smooth curves badly
        # (measured: K=4 at scale 1/4 did not train on exp(sin(πx)+y²), scale 1 did)
        return 1.0

    def psi(self, z):
        return torch.cos(self.omega0 * z) * torch.exp(-0.5 * z * z)

    def psi_and_dpsi(self, z):
        w0 = self.omega0
        env = torch.exp(-0.5 * z * z)
        phase = w0 * z
        cos = torch.cos(phase)
        dpsi = torch.sin(phase).mul_(-w0).sub_(z * cos).mul_(env)
        return cos.mul_(env), dpsi


@register_basis
class DoGBasis(WaveletBasis):
    """Derivative of Gaussian: ψ(z) = −z · exp(−z²/2)."""

    name: ClassVar[str] = "dog"

    def psi(self, z):
        return -z * torch.exp(-0.5 * z * z)

    def psi_and_dpsi(self, z):
        z2 = z * z
        env = torch.exp(-0.5 * z2)
        return -z * env, (z2 - 1.0).mul_(env)


__all__ = ["WaveletBasis", "WaveletSum", "MexicanHatBasis", "MorletBasis", "DoGBasis", "MIN_SCALE"]
