"""Triton kernels of the group rational F_g(x) = P_g(x)/Q_g(x) (forward and backward).

Imported lazily (it imports triton). Same math as
:func:`symkan.kernels.reference.rational_reference`.

Layout: x is viewed as (rows, C). Channels are visited group by group through
``order`` (C,) — the channels sorted by group — and ``ptr`` (G+1,) — group g owns
``order[ptr[g]:ptr[g+1]]`` — so any channel→group map works (contiguous groups of any
count, or the scattered map a pruned layer keeps). The launch grid is
row blocks × G programs (a flat 1-D grid, so neither count is capped): every
program sees one group only, so its coefficients are 10 scalars
in registers and its coefficient gradients reduce in registers to 10 numbers, written
once to ``partial[row_block, g, :]``; a deterministic torch sum over row blocks
finishes them. No atomics anywhere (the original KAT kernel's bottleneck was per-element
atomics on the same handful of coefficient addresses).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

@triton.jit
def _rational_fwd_kernel(x_ptr, y_ptr, num_ptr, den_ptr, order_ptr, gptr_ptr, n_rows, n_groups,
                         sx_r, sx_c, sy_r, sy_c,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)  # 1-D launch: no 65535 cap on groups or row blocks
    pid_r = pid // n_groups
    g = pid % n_groups
    rows = (pid_r * BLOCK_R + tl.arange(0, BLOCK_R)).to(tl.int64)
    rmask = rows < n_rows
    c_lo = tl.load(gptr_ptr + g)
    c_hi = tl.load(gptr_ptr + g + 1)
    a0 = tl.load(num_ptr + g * 6 + 0).to(tl.float32)
    a1 = tl.load(num_ptr + g * 6 + 1).to(tl.float32)
    a2 = tl.load(num_ptr + g * 6 + 2).to(tl.float32)
    a3 = tl.load(num_ptr + g * 6 + 3).to(tl.float32)
    a4 = tl.load(num_ptr + g * 6 + 4).to(tl.float32)
    a5 = tl.load(num_ptr + g * 6 + 5).to(tl.float32)
    b1 = tl.abs(tl.load(den_ptr + g * 4 + 0).to(tl.float32))
    b2 = tl.abs(tl.load(den_ptr + g * 4 + 1).to(tl.float32))
    b3 = tl.abs(tl.load(den_ptr + g * 4 + 2).to(tl.float32))
    b4 = tl.abs(tl.load(den_ptr + g * 4 + 3).to(tl.float32))
    for c0 in range(c_lo, c_hi, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        cmask = cols < c_hi
        ch = tl.load(order_ptr + cols, mask=cmask, other=0).to(tl.int64)
        m = rmask[:, None] & cmask[None, :]
        x = tl.load(x_ptr + rows[:, None] * sx_r + ch[None, :] * sx_c, mask=m, other=0.0).to(tl.float32)
        p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))))
        ax = tl.abs(x)
        q = 1.0 + ax * (b1 + ax * (b2 + ax * (b3 + ax * b4)))
        y = p / q
        tl.store(y_ptr + rows[:, None] * sy_r + ch[None, :] * sy_c, y.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _rational_bwd_kernel(x_ptr, gy_ptr, gx_ptr, num_ptr, den_ptr, order_ptr, gptr_ptr, part_ptr, n_rows,
                         n_groups, sx_r, sx_c, sg_r, sg_c, sgx_r, sgx_c,
                         BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)
    pid_r = pid // n_groups
    g = pid % n_groups
    rows = (pid_r * BLOCK_R + tl.arange(0, BLOCK_R)).to(tl.int64)
    rmask = rows < n_rows
    c_lo = tl.load(gptr_ptr + g)
    c_hi = tl.load(gptr_ptr + g + 1)
    a0 = tl.load(num_ptr + g * 6 + 0).to(tl.float32)
    a1 = tl.load(num_ptr + g * 6 + 1).to(tl.float32)
    a2 = tl.load(num_ptr + g * 6 + 2).to(tl.float32)
    a3 = tl.load(num_ptr + g * 6 + 3).to(tl.float32)
    a4 = tl.load(num_ptr + g * 6 + 4).to(tl.float32)
    a5 = tl.load(num_ptr + g * 6 + 5).to(tl.float32)
    r1 = tl.load(den_ptr + g * 4 + 0).to(tl.float32)
    r2 = tl.load(den_ptr + g * 4 + 1).to(tl.float32)
    r3 = tl.load(den_ptr + g * 4 + 2).to(tl.float32)
    r4 = tl.load(den_ptr + g * 4 + 3).to(tl.float32)
    b1 = tl.abs(r1)
    b2 = tl.abs(r2)
    b3 = tl.abs(r3)
    b4 = tl.abs(r4)
    # per-program coefficient-gradient sums, kept in registers
    ga0 = 0.0
    ga1 = 0.0
    ga2 = 0.0
    ga3 = 0.0
    ga4 = 0.0
    ga5 = 0.0
    gb1 = 0.0
    gb2 = 0.0
    gb3 = 0.0
    gb4 = 0.0
    for c0 in range(c_lo, c_hi, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        cmask = cols < c_hi
        ch = tl.load(order_ptr + cols, mask=cmask, other=0).to(tl.int64)
        m = rmask[:, None] & cmask[None, :]
        # masked lanes load x = 0, gy = 0: they add nothing to any sum
        x = tl.load(x_ptr + rows[:, None] * sx_r + ch[None, :] * sx_c, mask=m, other=0.0).to(tl.float32)
        gy = tl.load(gy_ptr + rows[:, None] * sg_r + ch[None, :] * sg_c, mask=m, other=0.0).to(tl.float32)
        p = a0 + x * (a1 + x * (a2 + x * (a3 + x * (a4 + x * a5))))
        dp = a1 + x * (2.0 * a2 + x * (3.0 * a3 + x * (4.0 * a4 + x * (5.0 * a5))))
        ax = tl.abs(x)
        q = 1.0 + ax * (b1 + ax * (b2 + ax * (b3 + ax * b4)))
        # d|x|/dx = sign(x), 0 at x = 0 (as torch.abs' backward): no |x|^j / x division
        sgn = tl.where(x > 0, 1.0, tl.where(x < 0, -1.0, 0.0))
        dq = sgn * (b1 + ax * (2.0 * b2 + ax * (3.0 * b3 + ax * (4.0 * b4))))
        inv = 1.0 / q
        f = p * inv
        gx = gy * (dp - f * dq) * inv
        tl.store(gx_ptr + rows[:, None] * sgx_r + ch[None, :] * sgx_c, gx.to(gx_ptr.dtype.element_ty), mask=m)
        t = gy * inv  # dF/da_k = x^k / Q
        ga0 += tl.sum(t)
        t = t * x
        ga1 += tl.sum(t)
        t = t * x
        ga2 += tl.sum(t)
        t = t * x
        ga3 += tl.sum(t)
        t = t * x
        ga4 += tl.sum(t)
        t = t * x
        ga5 += tl.sum(t)
        u = -gy * f * inv  # dF/d|b_j| = −P/Q² · |x|^j
        u = u * ax
        gb1 += tl.sum(u)
        u = u * ax
        gb2 += tl.sum(u)
        u = u * ax
        gb3 += tl.sum(u)
        u = u * ax
        gb4 += tl.sum(u)
    # d|b|/db = sign(b), 0 at b = 0 (as torch.abs' backward)
    s1 = tl.where(r1 > 0, 1.0, tl.where(r1 < 0, -1.0, 0.0))
    s2 = tl.where(r2 > 0, 1.0, tl.where(r2 < 0, -1.0, 0.0))
    s3 = tl.where(r3 > 0, 1.0, tl.where(r3 < 0, -1.0, 0.0))
    s4 = tl.where(r4 > 0, 1.0, tl.where(r4 < 0, -1.0, 0.0))
    base = part_ptr + (pid_r.to(tl.int64) * n_groups + g) * 10
    tl.store(base + 0, ga0)
    tl.store(base + 1, ga1)
    tl.store(base + 2, ga2)
    tl.store(base + 3, ga3)
    tl.store(base + 4, ga4)
    tl.store(base + 5, ga5)
    tl.store(base + 6, gb1 * s1)
    tl.store(base + 7, gb2 * s2)
    tl.store(base + 8, gb3 * s3)
    tl.store(base + 9, gb4 * s4)


#: True when the kernels were built for Triton's CPU interpreter (TRITON_INTERPRET=1 at import)
INTERPRETED = not isinstance(_rational_fwd_kernel, triton.runtime.JITFunction)


def _as_rows(t: torch.Tensor) -> torch.Tensor:
    """(..., C) -> a (rows, C) view when the strides allow it, else a contiguous copy."""
    c = t.shape[-1]
    try:
        return t.view(-1, c)
    except RuntimeError:
        return t.reshape(-1, c)


def _blocks(order: torch.Tensor, ptr: torch.Tensor) -> tuple[int, int]:
    """Tile (rows, channels): channel block covers a typical group, ~4096 elements per tile."""
    n_groups = ptr.numel() - 1
    per_group = max(1, -(-order.numel() // max(n_groups, 1)))
    block_c = min(128, triton.next_power_of_2(per_group))
    block_r = max(1, min(64, 4096 // block_c))
    return block_r, block_c


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
    block_r, block_c = _blocks(order, ptr)
    grid = (triton.cdiv(n_rows, block_r) * n_groups,)
    _rational_fwd_kernel[grid](xr, yr, numerator.contiguous(), denominator.contiguous(), order, ptr, n_rows, n_groups,
                               xr.stride(0), xr.stride(1), yr.stride(0), yr.stride(1),
                               BLOCK_R=block_r, BLOCK_C=block_c)
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
    block_r, block_c = _blocks(order, ptr)
    n_prog = triton.cdiv(n_rows, block_r) if n_rows else 0
    partial = torch.zeros(max(n_prog, 1), n_groups, 10, dtype=torch.float32, device=x.device)
    if n_prog and n_groups:
        _rational_bwd_kernel[(n_prog * n_groups,)](
            xr, gr, gxr, numerator.contiguous(), denominator.contiguous(), order, ptr, partial, n_rows, n_groups,
            xr.stride(0), xr.stride(1), gr.stride(0), gr.stride(1), gxr.stride(0), gxr.stride(1),
            BLOCK_R=block_r, BLOCK_C=block_c)
    else:
        gx.zero_()
    total = partial.sum(0)  # deterministic second pass: (G, 10)
    # copies: outputs of a custom op may not alias each other
    return gx, total[:, :6].to(numerator.dtype, copy=True), total[:, 6:].to(denominator.dtype, copy=True)
