"""Triton kernels of the group rational F_g(x) = P_g(x)/Q_g(x) (forward and backward).

Imported lazily (it imports triton). Same math as
:func:`symkan.kernels.reference.rational_reference`.

Layout: x is viewed as (rows, C). Channels are visited group by group through
``order`` (C,) — the channels sorted by group — and ``ptr`` (G+1,) — group g owns
``order[ptr[g]:ptr[g+1]]`` — so any channel→group map works (contiguous groups of any
count, or the scattered map a pruned layer keeps).

Launch (flat 1-D grid, so no count is capped; geometry from
:func:`symkan.kernels.configs.rational_launch`): row programs × group programs. A
program covers a span of rows and ``groups_per_prog`` consecutive groups, i.e. the
sorted channel positions ``ptr[g0] .. ptr[g1]``, in (BLOCK_R, BLOCK_C) tiles. Narrow
groups (one channel each, the basis default) therefore still give tiles BLOCK_C
channels wide: for contiguous groups those are adjacent in memory and the loads
coalesce. Each column's coefficients are gathered once per channel block and reused for
all the program's rows.

Coefficient gradients: per column, summed in registers over the program's rows; then,
per channel block, folded into the program's groups by a (BLOCK_C, BLOCK_G) one-hot
reduction, still in registers; finally written once per coefficient per group to
``partial[row_program, g, :]``. A deterministic torch sum over row programs finishes
them. No atomics anywhere (the original KAT kernel's bottleneck was per-element atomics
on the same handful of coefficient addresses).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import configs


@triton.jit
def _program_span(gptr_ptr, n_rows, n_groups, groups_per_prog, n_group_progs, rows_per_prog):
    """This program's rows [r_lo, r_hi), groups [g0, g1) and sorted positions [c_lo, c_hi)."""
    pid = tl.program_id(0)
    pid_r = pid // n_group_progs
    g0 = (pid % n_group_progs) * groups_per_prog
    g1 = tl.minimum(g0 + groups_per_prog, n_groups)
    r_lo = pid_r * rows_per_prog
    r_hi = tl.minimum(r_lo + rows_per_prog, n_rows)
    return pid_r, r_lo, r_hi, g0, g1, tl.load(gptr_ptr + g0), tl.load(gptr_ptr + g1)


@triton.jit
def _column_groups(gptr_ptr, g0, g1, pos, BLOCK_G: tl.constexpr):
    """(BLOCK_C,) sorted positions -> the owning group minus g0, for groups g0 ≤ g < g1: the
    number of those groups that end at or before the position."""
    j = tl.arange(0, BLOCK_G)
    ends = tl.load(gptr_ptr + g0 + 1 + j, mask=g0 + j < g1, other=2147483647)
    return tl.sum((pos[:, None] >= ends[None, :]).to(tl.int32), axis=1)


@triton.jit
def _coefficients(num_ptr, den_ptr, g, mask):
    """(1, BLOCK_C) coefficients of each column's group g: a_0..a_5 and b_1..b_4 (signed)."""
    g = g[None, :]
    mask = mask[None, :]
    a0 = tl.load(num_ptr + g * 6 + 0, mask=mask, other=0.0).to(tl.float32)
    a1 = tl.load(num_ptr + g * 6 + 1, mask=mask, other=0.0).to(tl.float32)
    a2 = tl.load(num_ptr + g * 6 + 2, mask=mask, other=0.0).to(tl.float32)
    a3 = tl.load(num_ptr + g * 6 + 3, mask=mask, other=0.0).to(tl.float32)
    a4 = tl.load(num_ptr + g * 6 + 4, mask=mask, other=0.0).to(tl.float32)
    a5 = tl.load(num_ptr + g * 6 + 5, mask=mask, other=0.0).to(tl.float32)
    r1 = tl.load(den_ptr + g * 4 + 0, mask=mask, other=0.0).to(tl.float32)
    r2 = tl.load(den_ptr + g * 4 + 1, mask=mask, other=0.0).to(tl.float32)
    r3 = tl.load(den_ptr + g * 4 + 2, mask=mask, other=0.0).to(tl.float32)
    r4 = tl.load(den_ptr + g * 4 + 3, mask=mask, other=0.0).to(tl.float32)
    return a0, a1, a2, a3, a4, a5, r1, r2, r3, r4


@triton.jit
def _sign(v):
    """d|v|/dv: sign(v), 0 at 0 (as torch.abs' backward)."""
    return tl.where(v > 0, 1.0, tl.where(v < 0, -1.0, 0.0))


@triton.jit
def rational_fwd_kernel(x_ptr, y_ptr, num_ptr, den_ptr, order_ptr, gptr_ptr,
                         n_rows, n_groups, groups_per_prog, n_group_progs, rows_per_prog,
                         sx_r, sx_c, sy_r, sy_c,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_G: tl.constexpr):
    _, r_lo, r_hi, g0, g1, c_lo, c_hi = _program_span(gptr_ptr, n_rows, n_groups, groups_per_prog,
                                                      n_group_progs, rows_per_prog)
    for c0 in range(c_lo, c_hi, BLOCK_C):
        pos = c0 + tl.arange(0, BLOCK_C)
        cmask = pos < c_hi
        ch = tl.load(order_ptr + pos, mask=cmask, other=0).to(tl.int64)[None, :]
        g = g0 + _column_groups(gptr_ptr, g0, g1, pos, BLOCK_G)
        a0, a1, a2, a3, a4, a5, r1, r2, r3, r4 = _coefficients(num_ptr, den_ptr, g, cmask)
        b1 = tl.abs(r1)
        b2 = tl.abs(r2)
        b3 = tl.abs(r3)
        b4 = tl.abs(r4)
        for r0 in range(r_lo, r_hi, BLOCK_R):
            rows = (r0 + tl.arange(0, BLOCK_R)).to(tl.int64)[:, None]
            m = (rows < r_hi) & cmask[None, :]
            x = tl.load(x_ptr + rows * sx_r + ch * sx_c, mask=m, other=0.0).to(tl.float32)
            p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))))
            ax = tl.abs(x)
            q = 1.0 + ax * (b1 + ax * (b2 + ax * (b3 + ax * b4)))
            tl.store(y_ptr + rows * sy_r + ch * sy_c, (p / q).to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _to_groups(col, onehot):
    """(BLOCK_C,) column sums -> (BLOCK_G,) sums per group, by the (BLOCK_C, BLOCK_G) one-hot."""
    return tl.sum(col[:, None] * onehot, axis=0)


@triton.jit
def rational_bwd_kernel(x_ptr, gy_ptr, gx_ptr, num_ptr, den_ptr, order_ptr, gptr_ptr, part_ptr,
                         n_rows, n_groups, groups_per_prog, n_group_progs, rows_per_prog,
                         sx_r, sx_c, sg_r, sg_c, sgx_r, sgx_c,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_G: tl.constexpr):
    pid_r, r_lo, r_hi, g0, g1, c_lo, c_hi = _program_span(gptr_ptr, n_rows, n_groups, groups_per_prog,
                                                          n_group_progs, rows_per_prog)
    jg = tl.arange(0, BLOCK_G)
    # coefficient-gradient sums of this program's groups g0 + jg, kept in registers
    ga0 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    ga1 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    ga2 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    ga3 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    ga4 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    ga5 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    gb1 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    gb2 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    gb3 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    gb4 = tl.zeros((BLOCK_G,), dtype=tl.float32)
    for c0 in range(c_lo, c_hi, BLOCK_C):
        pos = c0 + tl.arange(0, BLOCK_C)
        cmask = pos < c_hi
        ch = tl.load(order_ptr + pos, mask=cmask, other=0).to(tl.int64)[None, :]
        rel = _column_groups(gptr_ptr, g0, g1, pos, BLOCK_G)
        a0, a1, a2, a3, a4, a5, r1, r2, r3, r4 = _coefficients(num_ptr, den_ptr, g0 + rel, cmask)
        b1 = tl.abs(r1)
        b2 = tl.abs(r2)
        b3 = tl.abs(r3)
        b4 = tl.abs(r4)
        # per-column sums over this program's rows
        ca0 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        ca1 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        ca2 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        ca3 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        ca4 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        ca5 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        cb1 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        cb2 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        cb3 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        cb4 = tl.zeros((BLOCK_C,), dtype=tl.float32)
        for r0 in range(r_lo, r_hi, BLOCK_R):
            rows = (r0 + tl.arange(0, BLOCK_R)).to(tl.int64)[:, None]
            m = (rows < r_hi) & cmask[None, :]
            # masked lanes load x = 0, gy = 0: they add nothing to any sum
            x = tl.load(x_ptr + rows * sx_r + ch * sx_c, mask=m, other=0.0).to(tl.float32)
            gy = tl.load(gy_ptr + rows * sg_r + ch * sg_c, mask=m, other=0.0).to(tl.float32)
            p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))))
            dp = a1 + x * (2.0 * a2 + x * (3.0 * a3 + x * (4.0 * a4 + x * (5.0 * a5))))
            ax = tl.abs(x)
            q = 1.0 + ax * (b1 + ax * (b2 + ax * (b3 + ax * b4)))
            # d|x|/dx = sign(x), 0 at x = 0: no |x|^j / x division
            dq = _sign(x) * (b1 + ax * (2.0 * b2 + ax * (3.0 * b3 + ax * (4.0 * b4))))
            inv = 1.0 / q
            f = p * inv
            gx = gy * (dp - f * dq) * inv
            tl.store(gx_ptr + rows * sgx_r + ch * sgx_c, gx.to(gx_ptr.dtype.element_ty), mask=m)
            t = gy * inv  # dF/da_k = x^k / Q
            ca0 += tl.sum(t, axis=0)
            t = t * x
            ca1 += tl.sum(t, axis=0)
            t = t * x
            ca2 += tl.sum(t, axis=0)
            t = t * x
            ca3 += tl.sum(t, axis=0)
            t = t * x
            ca4 += tl.sum(t, axis=0)
            t = t * x
            ca5 += tl.sum(t, axis=0)
            u = -gy * f * inv  # dF/d|b_j| = −P/Q² · |x|^j
            u = u * ax
            cb1 += tl.sum(u, axis=0)
            u = u * ax
            cb2 += tl.sum(u, axis=0)
            u = u * ax
            cb3 += tl.sum(u, axis=0)
            u = u * ax
            cb4 += tl.sum(u, axis=0)
        onehot = ((rel[:, None] == jg[None, :]) & cmask[:, None]).to(tl.float32)  # (BLOCK_C, BLOCK_G)
        ga0 += _to_groups(ca0, onehot)
        ga1 += _to_groups(ca1, onehot)
        ga2 += _to_groups(ca2, onehot)
        ga3 += _to_groups(ca3, onehot)
        ga4 += _to_groups(ca4, onehot)
        ga5 += _to_groups(ca5, onehot)
        gb1 += _to_groups(cb1, onehot)
        gb2 += _to_groups(cb2, onehot)
        gb3 += _to_groups(cb3, onehot)
        gb4 += _to_groups(cb4, onehot)
    gmask = g0 + jg < g1
    den = den_ptr + (g0 + jg) * 4  # d|b|/db = sign(b)
    base = part_ptr + (pid_r.to(tl.int64) * n_groups + g0 + jg) * 10
    tl.store(base + 0, ga0, mask=gmask)
    tl.store(base + 1, ga1, mask=gmask)
    tl.store(base + 2, ga2, mask=gmask)
    tl.store(base + 3, ga3, mask=gmask)
    tl.store(base + 4, ga4, mask=gmask)
    tl.store(base + 5, ga5, mask=gmask)
    tl.store(base + 6, gb1 * _sign(tl.load(den + 0, mask=gmask, other=0.0).to(tl.float32)), mask=gmask)
    tl.store(base + 7, gb2 * _sign(tl.load(den + 1, mask=gmask, other=0.0).to(tl.float32)), mask=gmask)
    tl.store(base + 8, gb3 * _sign(tl.load(den + 2, mask=gmask, other=0.0).to(tl.float32)), mask=gmask)
    tl.store(base + 9, gb4 * _sign(tl.load(den + 3, mask=gmask, other=0.0).to(tl.float32)), mask=gmask)


#: True when the kernels were built for Triton's CPU interpreter (TRITON_INTERPRET=1 at import)
INTERPRETED = not isinstance(rational_fwd_kernel, triton.runtime.JITFunction)


def _as_rows(t: torch.Tensor) -> torch.Tensor:
    """(..., C) -> a (rows, C) view when the strides allow it, else a contiguous copy."""
    c = t.shape[-1]
    try:
        return t.view(-1, c)
    except RuntimeError:
        return t.reshape(-1, c)


def _launch(n_rows: int, order: torch.Tensor, ptr: torch.Tensor, device: torch.device) -> configs.RationalLaunch:
    return configs.rational_launch(n_rows, order.numel(), ptr.numel() - 1, configs.sm_count(device))


def rational_forward(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
                     order: torch.Tensor, ptr: torch.Tensor) -> torch.Tensor:
    """x: (..., C) -> F(x): (..., C) contiguous, in x's dtype."""
    xr = _as_rows(x)
    n_rows, _ = xr.shape
    y = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    yr = y.view(-1, x.shape[-1])
    n_groups = ptr.numel() - 1
    if n_rows == 0 or n_groups == 0:
        return y
    ln = _launch(n_rows, order, ptr, x.device)
    rational_fwd_kernel[(ln.row_programs * ln.group_programs,)](
        xr, yr, numerator.contiguous(), denominator.contiguous(), order, ptr,
        n_rows, n_groups, ln.groups_per_program, ln.group_programs, ln.rows_per_program,
        xr.stride(0), xr.stride(1), yr.stride(0), yr.stride(1), **ln.meta)
    return y


def rational_backward(grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
                      order: torch.Tensor, ptr: torch.Tensor):
    """-> (dx (..., C) in x's dtype, dnumerator (G, 6), ddenominator (G, 4)); coefficient
    gradients are accumulated in float32 and returned in the coefficients' dtype."""
    xr = _as_rows(x)
    gr = _as_rows(grad)
    n_rows = xr.shape[0]
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    gxr = gx.view(-1, x.shape[-1])
    n_groups = ptr.numel() - 1
    if n_rows == 0 or n_groups == 0:
        gx.zero_()
        return gx, torch.zeros_like(numerator), torch.zeros_like(denominator)
    ln = _launch(n_rows, order, ptr, x.device)
    # every (row program, group) entry is written by exactly one program
    partial = torch.empty(ln.row_programs, n_groups, 10, dtype=torch.float32, device=x.device)
    rational_bwd_kernel[(ln.row_programs * ln.group_programs,)](
        xr, gr, gxr, numerator.contiguous(), denominator.contiguous(), order, ptr, partial,
        n_rows, n_groups, ln.groups_per_program, ln.group_programs, ln.rows_per_program,
        xr.stride(0), xr.stride(1), gr.stride(0), gr.stride(1), gxr.stride(0), gxr.stride(1), **ln.meta)
    total = partial.sum(0)  # deterministic second pass: (G, 10)
    # copies: outputs of a custom op may not alias each other
    return gx, total[:, :6].to(numerator.dtype, copy=True), total[:, 6:].to(denominator.dtype, copy=True)
