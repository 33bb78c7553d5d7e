"""Torch reference twins of the Triton kernels: the specification of their math.

Everything here is plain differentiable torch (autograd gives the gradients), works on
any device and dtype (float64 included) and is what runs wherever the kernels do not.

Group rational (GR-KAN, Kolmogorov–Arnold Transformer), one function per group g:

    F_g(x) = P_g(x) / Q_g(x),   P_g(x) = Σ_{k=0..5} a_gk x^k,
                                Q_g(x) = 1 + Σ_{j=1..4} |b_gj| · |x|^j.

Q ≥ 1 everywhere, so F_g has no poles. This is the only denominator in the package:
the basis forward, both kernels and the initial fit all evaluate :func:`rational_reference`
or its exact transcription.

ReLU-KAN (Qiu et al. 2024), feature j of input i with knots s_ij < e_ij = s_ij + w_ij:

    R_ij(x) = [relu(e_ij − x) · relu(x − s_ij)]² · 16 / w_ij⁴

which peaks at 1 in the cell midpoint and vanishes outside [s_ij, e_ij]. The
normalisation is recomputed from the current widths on every call.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: numerator degree + 1 and denominator terms of the group rational
NUM_COEFFS = 6
DEN_COEFFS = 4


def horner(x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Σ_k coeffs[..., k] · x^k by Horner's rule. x: (..., C), coeffs: (C, n) or (n,) -> (..., C)."""
    out = coeffs[..., -1]
    for k in range(coeffs.shape[-1] - 2, -1, -1):
        out = out * x + coeffs[..., k]
    return out


def rational_denominator(x: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Q(x) = 1 + Σ_{j=1..4} |b_j|·|x|^j. x: (..., C), denominator: (C, 4) or (4,) -> (..., C)."""
    ax = x.abs()
    b = denominator.abs()
    q = b[..., 3]
    for j in (2, 1, 0):
        q = q * ax + b[..., j]
    return 1.0 + q * ax


def rational_reference(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor,
                       group_index: torch.Tensor) -> torch.Tensor:
    """F_{g(c)}(x[..., c]) for every channel c.

    x: (..., C); numerator: (G, 6) = a_0..a_5; denominator: (G, 4) = b_1..b_4;
    group_index: (C,) long, the group of each channel. Returns (..., C) in x's dtype
    (computed in the promoted dtype of x and the coefficients).
    """
    a = numerator[group_index]  # (C, 6)
    b = denominator[group_index]  # (C, 4)
    return horner(x, a) / rational_denominator(x, b)


def relukan_features(x: torch.Tensor, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """ReLU-KAN features. x: (batch, in), start/width: (in, K), width > 0 -> (batch, in, K)."""
    xe = x.unsqueeze(-1)
    up = torch.relu(xe - start)  # x − s
    down = torch.relu(start + width - xe)  # e − x
    # (up·down)²·16/w⁴ written as (4·up·down/w²)²: up·down ≤ w²/4, so nothing overflows
    # for narrow cells. The normalisation is recomputed every call: it follows trained knots.
    return (4.0 * up * down / width.pow(2)).pow(2)


def relukan_linear_reference(x: torch.Tensor, weight: torch.Tensor, start: torch.Tensor,
                             width: torch.Tensor) -> torch.Tensor:
    """Unfused ReLU-KAN layer: y = features(x).flatten(1) @ weightᵀ.

    x: (batch, in); weight: (out, in·K) with feature index i·K + j; start/width: (in, K)
    -> (batch, out) in weight's dtype. Materialises the (batch, in, K) features (the fused
    kernel does not).
    """
    feats = relukan_features(x, start, width)
    return F.linear(feats.reshape(x.shape[0], -1).to(weight.dtype), weight)


__all__ = ["NUM_COEFFS", "DEN_COEFFS", "horner", "rational_denominator", "rational_reference",
           "relukan_features", "relukan_linear_reference"]
