"""Fused ReLU-KAN layer in Triton: basis expansion inside the matmul's K-loop.

Imported lazily (it imports triton). Same math as
:func:`symkan.kernels.reference.relukan_linear_reference`:

    y[b, o] = Σ_{i, j} W[o, i·K + j] · R_ij(x[b, i]),
    R_ij(x) = [relu(x − s_ij) · relu(s_ij + w_ij − x)]² · 16 / w_ij⁴ = t², t = 4·up·down/w².

Forward: one GEMM-shaped kernel whose A operand (the (batch, in·K) features) is
computed tile by tile from x and the knots and never written to memory.

Backward (features are recomputed tile-wise, never stored):
* ``relukan_dweight_kernel``: dW = gyᵀ · R. The batch is the reduction: it is split
  into ``n_splits`` row ranges (grid axis 2, :func:`symkan.kernels.configs.relukan_dweight_split`)
  so that even small weights give the GPU enough programs; each program reduces its
  rows in registers and writes one float32 partial (split, O, I·K), which torch sums
  deterministically (no atomics). With one split the program writes dW itself.
* ``relukan_dinput_kernel``: per (batch block, input block) tile, dR = gy · W for the
  features of the inputs in the block, KP at a time (one pass when K ≤ KP), then
  dx = Σ_j dR·∂R/∂x (a register reduction over j, so each x gradient is written
  exactly once) and, when the knots train, per-program column sums of dR·∂R/∂s and
  dR·∂R/∂w written to a (programs, in·K) buffer that torch sums deterministically
  (no atomics).

Block sizes come from :mod:`symkan.kernels.configs`, which :mod:`symkan.kernels.aot`
enumerates to compile every variant ahead of time.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from . import configs


@triton.jit
def _features(xv, s, wd):
    """xv: (M, T) inputs, s/wd: (T,) knots -> (M, T) features R = t², and t = 4·up·down/w²,
    up, down, 1/w². Same overflow-free form as the reference: up·down ≤ w²/4."""
    inv_w2 = 1.0 / (wd * wd)
    up = tl.maximum(xv - s[None, :], 0.0)
    down = tl.maximum(s[None, :] + wd[None, :] - xv, 0.0)
    t = 4.0 * up * down * inv_w2[None, :]
    return t * t, t, up, down, inv_w2


@triton.jit
def relukan_fwd_kernel(x_ptr, w_ptr, s_ptr, wd_ptr, y_ptr, B, I, O, K,
                        sx_b, sx_i, sw_o, sw_k, sy_b, sy_o,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                        PRECISION: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    rn = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)).to(tl.int64)
    mmask = rm < B
    nmask = rn < O
    total = I * K
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, total, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)
        kmask = kk < total
        inp = (kk // K).to(tl.int64)
        s = tl.load(s_ptr + kk, mask=kmask, other=0.0).to(tl.float32)
        wd = tl.load(wd_ptr + kk, mask=kmask, other=1.0).to(tl.float32)
        xv = tl.load(x_ptr + rm[:, None] * sx_b + inp[None, :] * sx_i,
                     mask=mmask[:, None] & kmask[None, :], other=0.0).to(tl.float32)
        feats, _, _, _, _ = _features(xv, s, wd)
        wt = tl.load(w_ptr + rn[None, :] * sw_o + kk[:, None].to(tl.int64) * sw_k,
                     mask=kmask[:, None] & nmask[None, :], other=0.0)  # (BLOCK_K, BLOCK_N)
        acc = tl.dot(feats.to(wt.dtype), wt, acc, input_precision=PRECISION)
    tl.store(y_ptr + rm[:, None] * sy_b + rn[None, :] * sy_o, acc.to(y_ptr.dtype.element_ty),
             mask=mmask[:, None] & nmask[None, :])


@triton.jit
def relukan_dweight_kernel(x_ptr, gy_ptr, s_ptr, wd_ptr, gw_ptr, B, I, O, K, rows_per_prog,
                            sx_b, sx_i, sg_b, sg_o, sgw_p, sgw_o, sgw_k,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                            PRECISION: tl.constexpr):
    """gw[split] (float32) = gy[rows]ᵀ · R(x[rows]) over this split's rows."""
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    pid_b = tl.program_id(2)
    rn = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)).to(tl.int64)
    kk = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    nmask = rn < O
    total = I * K
    kmask = kk < total
    inp = (kk // K).to(tl.int64)
    s = tl.load(s_ptr + kk, mask=kmask, other=0.0).to(tl.float32)
    wd = tl.load(wd_ptr + kk, mask=kmask, other=1.0).to(tl.float32)
    b_lo = pid_b * rows_per_prog
    b_hi = tl.minimum(b_lo + rows_per_prog, B)
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
    for b0 in range(b_lo, b_hi, BLOCK_M):
        rb = (b0 + tl.arange(0, BLOCK_M)).to(tl.int64)
        bmask = rb < b_hi
        xv = tl.load(x_ptr + rb[:, None] * sx_b + inp[None, :] * sx_i,
                     mask=bmask[:, None] & kmask[None, :], other=0.0).to(tl.float32)
        feats, _, _, _, _ = _features(xv, s, wd)
        gyt = tl.load(gy_ptr + rn[:, None] * sg_o + rb[None, :] * sg_b,
                      mask=nmask[:, None] & bmask[None, :], other=0.0)  # (BLOCK_N, BLOCK_M)
        acc = tl.dot(gyt, feats.to(gyt.dtype), acc, input_precision=PRECISION)
    tl.store(gw_ptr + pid_b.to(tl.int64) * sgw_p + rn[:, None] * sgw_o + kk[None, :].to(tl.int64) * sgw_k, acc,
             mask=nmask[:, None] & kmask[None, :])


@triton.jit
def relukan_dinput_kernel(x_ptr, gy_ptr, w_ptr, s_ptr, wd_ptr, gx_ptr, ps_ptr, pw_ptr, B, I, O, K,
                           sx_b, sx_i, sg_b, sg_o, sw_o, sw_k, sgx_b, sgx_i,
                           BLOCK_M: tl.constexpr, BLOCK_O: tl.constexpr, BLOCK_I: tl.constexpr,
                           KP: tl.constexpr, NEED_KNOTS: tl.constexpr, PRECISION: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_i = tl.program_id(1)
    rm = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mmask = rm < B
    t = tl.arange(0, BLOCK_I * KP)
    inp = pid_i * BLOCK_I + t // KP  # column t: input inp, feature j0 + t % KP
    xv = tl.load(x_ptr + rm[:, None] * sx_b + inp[None, :].to(tl.int64) * sx_i,
                 mask=mmask[:, None] & (inp < I)[None, :], other=0.0).to(tl.float32)
    gx = tl.zeros((BLOCK_M, BLOCK_I), dtype=tl.float32)
    for j0 in range(0, K, KP):  # one pass when K ≤ KP
        j = j0 + t % KP
        valid = (inp < I) & (j < K)
        kk = inp * K + j
        s = tl.load(s_ptr + kk, mask=valid, other=0.0).to(tl.float32)
        wd = tl.load(wd_ptr + kk, mask=valid, other=1.0).to(tl.float32)
        # dL/dR for this tile: gy (BLOCK_M, O) · W[:, kk] (O, BLOCK_I·KP); invalid columns get 0
        gf = tl.zeros((BLOCK_M, BLOCK_I * KP), dtype=tl.float32)
        for o0 in range(0, O, BLOCK_O):
            ro = (o0 + tl.arange(0, BLOCK_O)).to(tl.int64)
            omask = ro < O
            gy = tl.load(gy_ptr + rm[:, None] * sg_b + ro[None, :] * sg_o,
                         mask=mmask[:, None] & omask[None, :], other=0.0)
            wt = tl.load(w_ptr + ro[:, None] * sw_o + kk[None, :].to(tl.int64) * sw_k,
                         mask=omask[:, None] & valid[None, :], other=0.0)
            gf = tl.dot(gy, wt.to(gy.dtype), gf, input_precision=PRECISION)
        _, t4, up, down, inv_w2 = _features(xv, s, wd)
        # ∂R/∂x = 2t · 4(down − up)/w²
        gdx = gf * (8.0 * t4 * (down - up) * inv_w2[None, :])  # dL/dR · ∂R/∂x
        gx += tl.sum(tl.reshape(gdx, (BLOCK_M, BLOCK_I, KP)), axis=2)  # Σ over the features of each input
        if NEED_KNOTS:
            # ∂R/∂s = −∂R/∂x;  ∂R/∂w = 2t · (4·up/w² − 2t/w)  (e = s + w moves with w).
            # Rows past B have gf = 0.
            gs = -tl.sum(gdx, axis=0)
            gw = tl.sum(gf * (2.0 * t4 * (4.0 * up * inv_w2[None, :] - 2.0 * t4 / wd[None, :])), axis=0)
            base = pid_m.to(tl.int64) * I * K
            tl.store(ps_ptr + base + kk, gs, mask=valid)
            tl.store(pw_ptr + base + kk, gw, mask=valid)
    ri = (pid_i * BLOCK_I + tl.arange(0, BLOCK_I)).to(tl.int64)
    tl.store(gx_ptr + rm[:, None] * sgx_b + ri[None, :] * sgx_i, gx.to(gx_ptr.dtype.element_ty),
             mask=mmask[:, None] & (ri < I)[None, :])


def _precision(x: torch.Tensor) -> str:
    """TF32 tensor cores for float32 exactly when torch's own matmuls may use them."""
    if x.dtype == torch.float32 and x.is_cuda and torch.backends.cuda.matmul.allow_tf32:
        return "tf32"
    return "ieee"


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(-1)


def relukan_forward(x: torch.Tensor, weight: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """x: (B, I), weight: (O, I·K), start/width: (I, K) -> y: (B, O) in x's dtype."""
    n_b, n_i = x.shape
    n_o = weight.shape[0]
    n_k = start.shape[1]
    y = torch.empty(n_b, n_o, dtype=x.dtype, device=x.device)
    if n_b == 0:
        return y
    meta = configs.relukan_forward_blocks(n_o)
    grid = (triton.cdiv(n_b, meta["BLOCK_M"]), triton.cdiv(n_o, meta["BLOCK_N"]))
    relukan_fwd_kernel[grid](x, weight, _flat(start), _flat(width), y, n_b, n_i, n_o, n_k,
                              x.stride(0), x.stride(1), weight.stride(0), weight.stride(1), y.stride(0), y.stride(1),
                              PRECISION=_precision(x), **meta)
    return y


def relukan_backward(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, start: torch.Tensor,
                     width: torch.Tensor, need_knot_grad: bool):
    """-> (dx (B, I), dweight (O, I·K), dstart (I, K), dwidth (I, K)); the knot
    gradients are zeros unless ``need_knot_grad``."""
    n_b, n_i = x.shape
    n_o = weight.shape[0]
    n_k = start.shape[1]
    s, wd = _flat(start), _flat(width)
    prec = _precision(x)
    gx = torch.empty_like(x, memory_format=torch.contiguous_format)
    if n_b == 0:
        return (gx, torch.zeros(weight.shape, dtype=weight.dtype, device=weight.device),
                torch.zeros_like(start), torch.zeros_like(width))

    # dW: the batch reduction split over programs; float32 partials summed by torch, or
    # with a single float32 split the kernel writes dW itself
    meta = configs.relukan_dweight_blocks(n_o)
    rows, n_split = configs.relukan_dweight_split(n_b, n_o, n_i * n_k, configs.sm_count(x.device))
    direct = n_split == 1 and weight.dtype == torch.float32
    if direct:
        gw = torch.empty(weight.shape, dtype=weight.dtype, device=weight.device)
        part = gw.view(1, n_o, n_i * n_k)
    else:
        part = torch.empty(n_split, n_o, n_i * n_k, dtype=torch.float32, device=x.device)
    relukan_dweight_kernel[(triton.cdiv(n_o, meta["BLOCK_N"]), triton.cdiv(n_i * n_k, meta["BLOCK_K"]), n_split)](
        x, grad, s, wd, part, n_b, n_i, n_o, n_k, rows,
        x.stride(0), x.stride(1), grad.stride(0), grad.stride(1), part.stride(0), part.stride(1), part.stride(2),
        PRECISION=prec, **meta)
    if not direct:
        gw = part.sum(0).to(weight.dtype)

    meta = configs.relukan_dinput_blocks(n_k)
    n_prog_m = triton.cdiv(n_b, meta["BLOCK_M"])
    if need_knot_grad:
        part_s = torch.empty(n_prog_m, n_i * n_k, dtype=torch.float32, device=x.device)
        part_w = torch.empty_like(part_s)
    else:
        part_s = part_w = torch.empty(1, dtype=torch.float32, device=x.device)
    relukan_dinput_kernel[(n_prog_m, triton.cdiv(n_i, meta["BLOCK_I"]))](
        x, grad, weight, s, wd, gx, part_s, part_w, n_b, n_i, n_o, n_k,
        x.stride(0), x.stride(1), grad.stride(0), grad.stride(1), weight.stride(0), weight.stride(1),
        gx.stride(0), gx.stride(1), NEED_KNOTS=bool(need_knot_grad), PRECISION=prec, **meta)
    if need_knot_grad:
        gs = part_s.sum(0).view(n_i, n_k).to(start.dtype)
        gwd = part_w.sum(0).view(n_i, n_k).to(width.dtype)
    else:
        gs, gwd = torch.zeros_like(start), torch.zeros_like(width)
    return gx, gw, gs, gwd


#: True when the kernels were built for Triton's CPU interpreter (TRITON_INTERPRET=1 at import)
INTERPRETED = not isinstance(relukan_fwd_kernel, triton.runtime.JITFunction)
