"""The chunked evaluation behind the wavelet bases (symkan/bases/wavelet.py).

:class:`WaveletSum` computes y_bo = Σ_i Σ_k w_oik ψ((x_bi − t_oik)/s_oik) and its
gradients chunk by chunk, for any basis that provides the in-place chunk kernels
(``chunk_psi``, ``chunk_psi_dpsi``) and their constants (``point_scale``, ``psi_factor``,
``dpsi_factor``, ``num_buffers``); :class:`WaveletChunk` holds one chunk's points and
buffers. :func:`envelope_cap` and :func:`power_of_two_gain` keep every float of the
computation normal (subnormal arithmetic is many times slower on x86).
"""
from __future__ import annotations

import math

import torch


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


class WaveletChunk:
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
        chunk = WaveletChunk(x, t, s, basis, max_points)
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
        chunk = WaveletChunk(x, t, s, basis, ctx.max_points)
        w_over_s = w / s
        slope = w_over_s.transpose(1, 2).reshape(n_out, 1, n_k * n_in)  # w·∂z/∂x = w/s
        gx = torch.zeros_like(x) if need_x else None
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
                    if p.shape[0] == 1:
                        gx_rows[r].addcmul_(per_out[0], g[0].t())
                    else:
                        gx_rows[r].add_(per_out.mul_(g.transpose(1, 2)).sum(0))
        f_psi, f_dpsi = basis.psi_factor / gain, basis.dpsi_factor / gain

        def gather(total, factor):  # (out, 1, K·in) -> (out, in, K), times the factor
            return total.view(n_out, n_k, n_in).transpose(1, 2).mul(factor)
        gw = gather(sum_w, f_psi) if need_w else None
        gt = gather(sum_t, -f_dpsi).mul_(w_over_s) if need_t else None  # ∂z/∂t = −1/s
        gs = gather(sum_s, -f_dpsi / basis.point_scale).mul_(w_over_s) if need_s else None  # ∂z/∂s = −z/s
        return gx.mul_(f_dpsi) if need_x else None, gw, gt, gs, None, None


__all__ = ["WaveletChunk", "WaveletSum", "chunk_plan", "envelope_cap", "power_of_two_gain"]
