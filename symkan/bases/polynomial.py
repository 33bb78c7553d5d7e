"""Global polynomial bases: Chebyshev, Legendre, Gram, Jacobi and Bernstein.

φ_oi(x) = Σ_{k=0..n} coef[o,i,k] · P_k(u),  u = premap(x_i) ∈ [-1, 1]

Every family is evaluated by its three-term (or de Casteljau) recurrence, never by a
power sum, so high degrees stay well conditioned. The pre-map is explicit
(``premap="tanh"`` by default, or ``"minmax"`` / ``"identity"``) because the symbolic
phase must reproduce the edge function exactly.

With ``premap="minmax"`` the range is a data-dependent "grid": set by the first
training batch and moved by ``update_grid`` (``fit(..., update_grid_every=...)``).
``refine(n)`` changes the degree, keeping the curves by least squares.

Parameters: ``coef`` (out, in, n + 1). Buffers: ``premap.running_min`` /
``premap.running_max`` (in,) — used by the min-max pre-map only.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from . import register_basis
from ..checks import check_choice, check_int
from .premap import PREMAPS, PreMappedBasis


class PolynomialBasis(PreMappedBasis):
    """Shared machinery: degree, pre-map, and the feature evaluation u -> (P_0..P_n)(u).

    Subclasses implement :meth:`polynomials` (u: (batch, in) -> (batch, in, n + 1)).
    ``refine(n)`` changes the degree to n.
    """

    size_option: ClassVar[str] = "degree"
    default_premap: ClassVar[str] = "tanh"

    def __init__(self, in_features: int, out_features: int, *, degree: int = 5, premap: str | None = None,
                 init_scale: float = 1.0, generator: torch.Generator | None = None,
                 _family_options: dict | None = None):
        # _family_options: the subclass' own options (alpha, beta, ...) so config() rebuilds it
        degree = check_int("degree", degree, minimum=1)
        premap = self.default_premap if premap is None else premap
        check_choice("premap", premap, PREMAPS)
        super().__init__(in_features, out_features, degree + 1, init_scale=init_scale, generator=generator,
                         degree=degree, premap=premap, **(_family_options or {}))
        self.degree = degree
        self._init_premap(premap)
        self.reset_coefficients(generator)

    def features_of(self, u: torch.Tensor) -> torch.Tensor:
        return self.polynomials(u)

    def polynomials(self, u: torch.Tensor) -> torch.Tensor:
        """u: (batch, in) in the working domain -> (batch, in, degree + 1)."""
        raise NotImplementedError

    def _resize(self, num: int) -> None:
        num = check_int("degree", num, minimum=1)
        self.degree = num
        self.options["degree"] = num
        self.num_features = num + 1


@register_basis
class ChebyshevBasis(PolynomialBasis):
    """Chebyshev polynomials of the first kind, T_0..T_n:
    T_0 = 1, T_1 = u, T_{k+1} = 2u·T_k − T_{k−1}. Options: ``degree`` n, ``premap``."""

    name: ClassVar[str] = "chebyshev"

    def polynomials(self, u):
        out = [torch.ones_like(u), u]
        for _ in range(1, self.degree):
            out.append(2 * u * out[-1] - out[-2])
        return torch.stack(out[: self.degree + 1], dim=-1)


@register_basis
class LegendreBasis(PolynomialBasis):
    """Legendre polynomials P_0..P_n:
    (k+1)·P_{k+1} = (2k+1)·u·P_k − k·P_{k−1}. Options: ``degree`` n, ``premap``."""

    name: ClassVar[str] = "legendre"

    def polynomials(self, u):
        out = [torch.ones_like(u), u]
        for k in range(1, self.degree):
            out.append(((2 * k + 1) * u * out[-1] - k * out[-2]) / (k + 1))
        return torch.stack(out[: self.degree + 1], dim=-1)


@register_basis
class JacobiBasis(PolynomialBasis):
    """Jacobi polynomials P_k^(α,β), k = 0..n, orthogonal on [-1, 1] with weight
    (1−u)^α (1+u)^β. Options: ``degree`` n, ``alpha``, ``beta`` (both > −1, default 1),
    ``premap``. Legendre is α = β = 0, Gegenbauer/Chebyshev are special cases up to scale.

    Recurrence (k ≥ 2), with c = 2k + α + β:
    2k(k+α+β)(c−2)·P_k = (c−1)[c(c−2)u + α² − β²]·P_{k−1} − 2(k+α−1)(k+β−1)c·P_{k−2}.
    """

    name: ClassVar[str] = "jacobi"

    def __init__(self, in_features: int, out_features: int, *, degree: int = 5, alpha: float = 1.0,
                 beta: float = 1.0, premap: str | None = None, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        for label, v in (("alpha", alpha), ("beta", beta)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= -1:
                raise ValueError(f"{label} must be a finite number > -1, got {v!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        super().__init__(in_features, out_features, degree=degree, premap=premap, init_scale=init_scale,
                         generator=generator, _family_options={"alpha": float(alpha), "beta": float(beta)})

    def polynomials(self, u):
        a, b = self.alpha, self.beta
        out = [torch.ones_like(u), 0.5 * (a - b) + 0.5 * (a + b + 2) * u]
        for k in range(2, self.degree + 1):
            c = 2 * k + a + b
            lhs = 2 * k * (k + a + b) * (c - 2)
            p = ((c - 1) * (c * (c - 2) * u + a * a - b * b) * out[-1]
                 - 2 * (k + a - 1) * (k + b - 1) * c * out[-2]) / lhs
            out.append(p)
        return torch.stack(out[: self.degree + 1], dim=-1)


def gram_recurrence_coefficients(degree: int, num_points: int) -> list[float]:
    """β_1..β_n of the monic discrete orthogonal (Gram) polynomials on ``num_points``
    equispaced points x_j = −1 + 2j/(N−1) with uniform weights:
    p_{k+1} = x·p_k − β_k·p_{k−1},  β_k = h²·k²(N² − k²) / (4(4k² − 1)),  h = 2/(N−1)."""
    n_pts = num_points
    h = 2.0 / (n_pts - 1)
    return [h * h * k * k * (n_pts * n_pts - k * k) / (4.0 * (4 * k * k - 1)) for k in range(1, degree + 1)]


@register_basis
class GramBasis(PolynomialBasis):
    """Gram (discrete Chebyshev) polynomials, orthonormal under the mean over
    ``num_points`` N equispaced points on [-1, 1] (the GRAM-KAN family).

    Orthonormal recurrence: q_0 = 1, q_{k+1} = (u·q_k − √β_k·q_{k−1}) / √β_{k+1}
    with β from :func:`gram_recurrence_coefficients` (β_0 := 0). Needs N > n.
    Options: ``degree`` n, ``num_points`` N (default 2(n + 1)), ``premap``.
    As N → ∞ the q_k tend to √(2k+1)·P_k (normalised Legendre).
    """

    name: ClassVar[str] = "gram"

    def __init__(self, in_features: int, out_features: int, *, degree: int = 5, num_points: int | None = None,
                 premap: str | None = None, init_scale: float = 1.0, generator: torch.Generator | None = None):
        degree_checked = check_int("degree", degree, minimum=1)
        if num_points is None:
            num_points = 2 * (degree_checked + 1)
        num_points = check_int("num_points", num_points, minimum=2)
        if num_points <= degree_checked:
            raise ValueError(f"num_points must exceed degree for Gram polynomials, got num_points={num_points}, "
                             f"degree={degree_checked}")
        self.num_points = num_points
        # √β_k, k = 1..n; the recurrence for q_{k+1} divides by √β_{k+1}
        self._sqrt_beta = [math.sqrt(b) for b in gram_recurrence_coefficients(degree_checked, num_points)]
        super().__init__(in_features, out_features, degree=degree, premap=premap, init_scale=init_scale,
                         generator=generator, _family_options={"num_points": num_points})

    def _resize(self, num: int) -> None:
        super()._resize(num)
        if self.num_points <= num:  # keep the points > degree requirement
            self.num_points = 2 * (num + 1)
            self.options["num_points"] = self.num_points
        self._sqrt_beta = [math.sqrt(b) for b in gram_recurrence_coefficients(num, self.num_points)]

    def nodes(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """The N points the polynomials are orthonormal on, (N,)."""
        return torch.linspace(-1.0, 1.0, self.num_points, dtype=dtype, device=device)

    def polynomials(self, u):
        sb = self._sqrt_beta
        out = [torch.ones_like(u), u / sb[0]]
        for k in range(1, self.degree):
            out.append((u * out[-1] - sb[k - 1] * out[-2]) / sb[k])
        return torch.stack(out[: self.degree + 1], dim=-1)


@register_basis
class BernsteinBasis(PolynomialBasis):
    """Bernstein polynomials of degree n on t = (u + 1)/2 ∈ [0, 1]:
    B_{k,n}(t) = C(n,k)·t^k·(1−t)^{n−k}, k = 0..n — non-negative on [0, 1] and summing
    to 1 (partition of unity). Evaluated by the de Casteljau-style recursion
    B_{k,m} = (1−t)·B_{k,m−1} + t·B_{k−1,m−1}. Options: ``degree`` n (≥ 1), ``premap``
    (with ``"identity"`` the inputs must already lie in [-1, 1] for non-negativity).
    """

    name: ClassVar[str] = "bernstein"

    def polynomials(self, u):
        t = 0.5 * (u + 1.0)
        s = 1.0 - t
        cols = [torch.ones_like(u)]  # degree 0; each entry (batch, in)
        for m in range(1, self.degree + 1):  # raise the degree by one per pass
            cols = [s * cols[0]] + [s * cols[k] + t * cols[k - 1] for k in range(1, m)] + [t * cols[m - 1]]
        return torch.stack(cols, dim=-1)


__all__ = ["PolynomialBasis", "ChebyshevBasis", "LegendreBasis", "JacobiBasis", "GramBasis", "BernsteinBasis",
           "gram_recurrence_coefficients"]
