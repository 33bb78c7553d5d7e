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


def envelope_cap(dtype: torch.dtype) -> float:
    """Largest |z| at which ψ is evaluated: beyond it z is clamped, so exp(−z²/2) stays a
    normal number of ``dtype`` (z² ≤ 0.9·(−2·log tiny): |z| ≤ 12.5 in float32, 35.7 in
    float64). Subnormal floats make x86 arithmetic 10-50× slower, and ψ(±cap) is below
    1e-30 (float32) or 1e-270 (float64), so the clamp changes ψ by less than that."""
    return math.sqrt(-1.8 * math.log(torch.finfo(dtype).tiny))


def power_of_two_gain(g: torch.Tensor) -> float:
    """2^−e such that the largest |g| times it lies in [0.5, 1) (e limited to ±100).
    Multiplying by a power of two is exact; it keeps the products of g with far-tail
    values of ψ (down to 1e-33 in float32) normal floats when g itself is small."""
    top = g.abs().max().item() if g.numel() else 0.0
    if not math.isfinite(top) or top == 0.0:
        return 1.0
    return math.ldexp(1.0, -min(100, max(-100, math.frexp(top)[1])))


def chunk_plan(n_rows: int, n_out: int, per_row: int, max_points: int) -> tuple[list[slice], list[slice]]:
    """Row blocks and output blocks of chunks of at most ``max_points`` points (but at
    least one row of one output, ``per_row`` = in·K points): whole batches of several
    outputs when a batch fits, else blocks of rows of one output."""
    if n_rows * per_row <= max_points:
        rows, cols = n_rows, max(1, max_points // (n_rows * per_row))
    else:
        rows, cols = max(1, max_points // per_row), 1
    return ([slice(r, min(r + rows, n_rows)) for r in range(0, n_rows, rows)],
            [slice(a, min(a + cols, n_out)) for a in range(0, n_out, cols)])


class _Chunk:
    """The points p = α·(x − t)/s of one chunk, (cols, rows, K, in), and the reused
    buffers the chunk kernels write into: ``buffer(i)`` is buffer i viewed flat as
    (cols, rows, K·in); buffer 0 holds p. Views are made once per chunk shape, since the
    per-op overhead of a small chunk is a sizeable part of its cost."""

    def __init__(self, x, t, s, basis, max_points: int):
        alpha, (n_out, n_in, n_k) = basis.point_scale, t.shape
        scale = (alpha / s).transpose(1, 2).contiguous()  # p = x·(α/s) − t·(α/s), (out, K, in)
        shift = torch.mul(t.transpose(1, 2), scale).neg_().contiguous()
        self.scale, self.shift = scale[:, None], shift[:, None]  # (out, 1, K, in)
        self.cap = alpha * envelope_cap(x.dtype)
        # outputs none of whose points can pass the cap skip the clamp
        reach = torch.addcmul(shift.abs(), x.abs().amax(0), scale.abs()).flatten(1).amax(1)
        self.clamp = (reach > self.cap).tolist()
        self.rows, self.cols = chunk_plan(x.shape[0], n_out, n_in * n_k, max_points)
        self.x_rows = [x[rows, None, :] for rows in self.rows]  # (rows, 1, in)
        rows, cols = self.rows[0], self.cols[0]
        self.store = x.new_empty(basis.num_buffers, (rows.stop - rows.start) * (cols.stop - cols.start) * n_k * n_in)
        self.zero = x.new_zeros(())
        self.n_k, self.n_in, self.views, self.flat, self.c = n_k, n_in, {}, None, 0
        self.shift_c = self.scale_c = self.clamp_c = None

    def select(self, cols: slice) -> None:
        """Make ``cols`` the outputs of the next chunks."""
        self.c = cols.stop - cols.start
        self.shift_c, self.scale_c, self.clamp_c = self.shift[cols], self.scale[cols], any(self.clamp[cols])

    def points(self, r: int) -> torch.Tensor:
        """Points of row block r and the selected outputs in buffer 0, clamped to ±cap, flat."""
        x_rows = self.x_rows[r]
        key = (self.c, x_rows.shape[0])
        if key not in self.views:
            n = math.prod(key) * self.n_k * self.n_in
            self.views[key] = (self.store[0, :n].view(*key, self.n_k, self.n_in),
                               [buf[:n].view(*key, -1) for buf in self.store])
        grid, self.flat = self.views[key]
        torch.addcmul(self.shift_c, x_rows, self.scale_c, out=grid)
        p = self.flat[0]
        return p.clamp_(-self.cap, self.cap) if self.clamp_c else p

    def buffer(self, i: int) -> torch.Tensor:
        return self.flat[i]

    def scaled_square(self, p: torch.Tensor, coef: float) -> torch.Tensor:
        """coef · p² into buffer 1."""
        return torch.addcmul(self.zero, p, p, value=coef, out=self.flat[1])


class WaveletSum(torch.autograd.Function):
    """y_bo = Σ_i Σ_k w_oik ψ((x_bi − t_oik)/s_oik), evaluated chunk by chunk.

    Inputs: x (batch, in), w, t, s (out, in, K), ``basis`` (a :class:`WaveletBasis`: its
    ``chunk_psi`` / ``chunk_psi_dpsi`` kernels), ``max_points`` points per chunk (see
    :func:`chunk_plan`). Output (batch, out). Saves only the inputs; backward recomputes
    ψ and ψ'. A chunk lives in a few reused cache-sized buffers, every elementwise step
    writes into one of them, and the chunk is laid out (outputs, rows, K, in), so each
    contraction with w or with the incoming gradient is one batched matrix product over
    the flattened (K, in) axis, written in place, and the sum over K for ∂x runs along a
    middle axis.
    """

    @staticmethod
    def forward(ctx, x, w, t, s, basis, max_points: int):
        ctx.save_for_backward(x, w, t, s)
        ctx.basis, ctx.max_points = basis, max_points
        n, n_out, n_in, n_k = x.shape[0], w.shape[0], w.shape[1], w.shape[2]
        chunk = _Chunk(x, t, s, basis, max_points)
        w_flat = (basis.psi_factor * w).transpose(1, 2).reshape(n_out, n_k * n_in, 1)
        out_t = x.new_empty(n_out, n, 1)  # transposed: each chunk's rows are contiguous
        for cols in chunk.cols:
            chunk.select(cols)
            out_cols, w_cols = out_t[cols], w_flat[cols]
            for r, rows in enumerate(chunk.rows):
                torch.bmm(basis.chunk_psi(chunk.points(r), chunk), w_cols, out=out_cols[:, rows])
        return out_t.view(n_out, n).t().contiguous()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, w, t, s = ctx.saved_tensors
        need_x, need_w, need_t, need_s = ctx.needs_input_grad[:4]
        basis = ctx.basis
        n, n_out, n_in, n_k = x.shape[0], w.shape[0], w.shape[1], w.shape[2]
        chunk = _Chunk(x, t, s, basis, ctx.max_points)
        w_over_s = w / s
        slope = w_over_s.transpose(1, 2).reshape(n_out, 1, n_k * n_in)  # w·∂z/∂x = w/s
        gx = x.new_zeros(n, n_in, 1) if need_x else None
        # Σ_b g_bo ψ, Σ_b g_bo ψ' and Σ_b g_bo ψ'·p per (o, K·in), up to the basis' factors
        sum_w, sum_t, sum_s = (x.new_zeros(n_out, 1, n_k * n_in) if need else None for need in (need_w, need_t, need_s))
        gain = power_of_two_gain(grad)
        grad_t = torch.mul(grad.t(), gain).contiguous()[:, None]  # (out, 1, batch), scaled by the gain
        gx_rows = [gx[rows] for rows in chunk.rows] if need_x else None
        for cols in chunk.cols:
            chunk.select(cols)
            g_cols, slope_cols = grad_t[cols], slope[cols]
            w_cols, t_cols, s_cols = (None if acc is None else acc[cols] for acc in (sum_w, sum_t, sum_s))
            for r, rows in enumerate(chunk.rows):
                g = g_cols[:, :, rows]  # (c, 1, rows)
                p = chunk.points(r)
                psi, dpsi = basis.chunk_psi_dpsi(p, chunk)
                if need_w:
                    w_cols.baddbmm_(g, psi)
                if need_t:
                    t_cols.baddbmm_(g, dpsi)
                if need_s:
                    s_cols.baddbmm_(g, p.mul_(dpsi))
                if need_x:  # Σ_o g_bo Σ_k (w/s)_oki ψ'_obki
                    per_out = dpsi.mul_(slope_cols).view(p.shape[0], p.shape[1], n_k, n_in).sum(2)  # (c, rows, in)
                    gx_rows[r].baddbmm_(per_out.permute(1, 2, 0), g.permute(2, 0, 1))
        f_psi, f_dpsi = basis.psi_factor / gain, basis.dpsi_factor / gain

        def gather(total, factor):  # (out, 1, K·in) -> (out, in, K), times the factor
            return total.view(n_out, n_k, n_in).transpose(1, 2).mul(factor)
        gw = gather(sum_w, f_psi) if need_w else None
        gt = gather(sum_t, -f_dpsi).mul_(w_over_s) if need_t else None  # ∂z/∂t = −1/s
        gs = gather(sum_s, -f_dpsi / basis.point_scale).mul_(w_over_s) if need_s else None  # ∂z/∂s = −z/s
        return gx.view(n, n_in).mul_(f_dpsi) if need_x else None, gw, gt, gs, None, None


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
    #: points evaluated per chunk in ``forward`` and ``backward`` (bounds the peak memory);
    #: 2¹⁶ measured fastest on CPU: each buffer (256 KiB in float32) stays in the L2 cache
    max_chunk_elements: ClassVar[int] = 2 ** 16
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

    def chunk_psi(self, p: torch.Tensor, chunk: _Chunk) -> torch.Tensor:
        """ψ / psi_factor at the clamped points p (buffer 0 of ``chunk``, may be overwritten),
        in one of the chunk's buffers."""
        raise NotImplementedError

    def chunk_psi_dpsi(self, p: torch.Tensor, chunk: _Chunk) -> tuple[torch.Tensor, torch.Tensor]:
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
        return WaveletSum.apply(x, w, self.translation, self.scale, self, self.max_chunk_elements)

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


__all__ = ["WaveletBasis", "WaveletSum", "envelope_cap", "chunk_plan", "MexicanHatBasis", "MorletBasis", "DoGBasis", "MIN_SCALE"]
