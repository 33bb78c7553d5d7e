"""Group-rational basis: GR-KAN of the Kolmogorov–Arnold Transformer (Yang & Wang 2024).

    φ_oi(x) = w_oi · F_{g(i)}(x),   F_g(x) = P_g(x) / Q_g(x),
    P_g(x) = Σ_{k=0..5} a_gk x^k,   Q_g(x) = 1 + Σ_{j=1..4} |b_gj| · |x|^j.

Inputs are split into ``groups`` contiguous groups; the inputs of a group share one
rational (a, b), and every edge scales it by its own weight. So the layer is
``F.linear(F(x), w · mask)`` — one elementwise rational (a Triton kernel on CUDA, see
:mod:`symkan.kernels`) and one matmul — and ``edge_activations`` is w[None]·F(x)[:, None, :].

Q is the single denominator used everywhere in the package (forward, kernel, torch
fallback and the initial fit): all of them call or transcribe
:func:`symkan.kernels.reference.rational_reference`. Q ≥ 1, so F has no poles.

``init`` fits P/Q to a target activation ("identity", "silu", "gelu", "tanh") on
``init_range`` by least squares — linearised (P − f·(Q − 1) = f with |b| ≥ 0), then a
trust-region Gauss–Newton refinement of the true residual P/Q − f, in float64. The fit
is deterministic and cached per (target, range) for the life of the process.
"""
from __future__ import annotations

import math
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from . import register_basis
from ..checks import check_choice, check_int, check_range
from .base import Basis
from ..kernels import (BACKENDS, DEN_COEFFS, NUM_COEFFS, contiguous_group_index, group_layout,
                       rational_activation, rational_reference)

#: target activations the initial fit can reproduce
INIT_TARGETS = {
    "identity": lambda x: x,
    "silu": F.silu,
    "gelu": F.gelu,
    "tanh": torch.tanh,
}

_FIT_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
_FIT_POINTS = 1001


def _fit_rational(target: str, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares P/Q ≈ target on [lo, hi] -> (a (6,), b (4,)) float64, b ≥ 0."""
    if target == "identity":  # exact: P = x, Q = 1 (the fit below is degenerate for it)
        a = torch.zeros(NUM_COEFFS, dtype=torch.float64)
        a[1] = 1.0
        return a, torch.zeros(DEN_COEFFS, dtype=torch.float64)
    from scipy.optimize import least_squares, lsq_linear

    x = torch.linspace(lo, hi, _FIT_POINTS, dtype=torch.float64)
    f = INIT_TARGETS[target](x)
    ax = x.abs()
    powers = torch.stack([x ** k for k in range(NUM_COEFFS)], dim=1)  # (n, 6)
    abs_powers = torch.stack([ax ** j for j in range(1, DEN_COEFFS + 1)], dim=1)  # (n, 4)
    # linearised: P(x) − f(x)·(Q(x) − 1) = f(x), unknowns (a, |b|) with |b| ≥ 0
    design = torch.cat([powers, -f[:, None] * abs_powers], dim=1).numpy()
    lower = np.r_[np.full(NUM_COEFFS, -np.inf), np.zeros(DEN_COEFFS)]
    upper = np.full(NUM_COEFFS + DEN_COEFFS, np.inf)
    p0 = lsq_linear(design, f.numpy(), bounds=(lower, upper), method="bvls").x
    zero = torch.zeros(x.shape[0], dtype=torch.long)

    def residual(p):
        t = torch.from_numpy(p)
        return (rational_reference(x, t[None, :NUM_COEFFS], t[None, NUM_COEFFS:], zero) - f).numpy()

    def jacobian(p):
        t = torch.from_numpy(p)
        num = powers @ t[:NUM_COEFFS]
        den = 1.0 + abs_powers @ t[NUM_COEFFS:]  # b ≥ 0 here, so |b| = b
        return torch.cat([powers / den[:, None], -(num / den ** 2)[:, None] * abs_powers], dim=1).numpy()

    p = least_squares(residual, p0, jac=jacobian, bounds=(lower, upper), method="trf",
                      xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=200).x
    t = torch.from_numpy(p)
    return t[:NUM_COEFFS].clone(), t[NUM_COEFFS:].clone()


def init_coefficients(target: str, init_range=(-3.0, 3.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """Fitted (numerator (6,), denominator (4,)) float64 for ``target`` on ``init_range``.

    Computed once per (target, range) and cached; returns copies.
    """
    check_choice("init", target, INIT_TARGETS)
    lo, hi = (float(v) for v in init_range)
    key = (target, lo, hi)
    if key not in _FIT_CACHE:
        _FIT_CACHE[key] = _fit_rational(target, lo, hi)
    a, b = _FIT_CACHE[key]
    return a.clone(), b.clone()


def _refresh_layout_hook(module, incompatible_keys) -> None:
    module._refresh_layout()


@register_basis
class RationalBasis(Basis):
    """Options: ``groups`` (contiguous input groups sharing one rational; default one
    group per input; must divide ``in_features``), ``group_index`` (an explicit
    input → group list instead, as pruned layers keep), ``init`` ("identity" | "silu" |
    "gelu" | "tanh"; default "identity", since the layer's residual branch already adds
    silu), ``init_range`` (default (-3, 3)), ``backend`` ("auto" | "torch" | "triton"),
    ``init_scale``.

    Parameters: ``numerator`` (G, 6) = a_0..a_5, ``denominator`` (G, 4) = b_1..b_4,
    ``weight`` (out, in). Buffer: ``group_index`` (in,) long.
    """

    name: ClassVar[str] = "rational"
    premap_kind: ClassVar[str] = "identity"
    #: no size option: numerator and denominator degrees are fixed (5 and 4)
    size_option: ClassVar[str | None] = None
    has_grid: ClassVar[bool] = False
    edge_axes: ClassVar[dict[str, tuple]] = {"weight": ("out", "in"), "group_index": ("in",)}

    def __init__(self, in_features: int, out_features: int, *, groups: int | None = None,
                 group_index: Sequence[int] | None = None, init: str = "identity", init_range=(-3.0, 3.0),
                 backend: str = "auto", init_scale: float = 1.0, generator: torch.Generator | None = None):
        in_features = check_int("in_features", in_features)
        if group_index is not None:
            gi = torch.as_tensor(list(group_index), dtype=torch.long)
            if gi.shape != (in_features,):
                raise ValueError(f"group_index needs one entry per input ({in_features}), got {len(gi)}")
            if gi.numel() and int(gi.min()) < 0:
                raise ValueError("group_index entries must be >= 0")
            n_groups = int(gi.max()) + 1 if groups is None else check_int("groups", groups)
            if int(gi.max()) >= n_groups:
                raise ValueError(f"group_index entries must be < groups={n_groups}")
            group_index = [int(v) for v in gi]
        else:
            n_groups = in_features if groups is None else check_int("groups", groups)
            if in_features % n_groups:
                raise ValueError(f"in_features={in_features} is not divisible by groups={n_groups}: "
                                 f"the rational basis splits its inputs into equal contiguous groups")
            gi = contiguous_group_index(in_features, n_groups)
        check_choice("init", init, INIT_TARGETS)
        check_choice("backend", backend, BACKENDS)
        lo, hi = check_range("init_range", init_range)
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
        super().__init__(in_features, out_features, groups=n_groups, group_index=group_index, init=init,
                         init_range=[lo, hi], backend=backend, init_scale=float(init_scale))
        self.groups, self.backend = n_groups, backend
        a, b = init_coefficients(init, (lo, hi))
        dtype = torch.get_default_dtype()
        self.numerator = nn.Parameter(a.to(dtype).repeat(n_groups, 1))
        self.denominator = nn.Parameter(b.to(dtype).repeat(n_groups, 1))
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.register_buffer("group_index", gi)
        # the kernel's channel layout, derived from group_index (kept in sync by the hook)
        self.register_buffer("_order", torch.zeros(in_features, dtype=torch.int32), persistent=False)
        self.register_buffer("_ptr", torch.zeros(n_groups + 1, dtype=torch.int32), persistent=False)
        self._refresh_layout()
        self.register_load_state_dict_post_hook(_refresh_layout_hook)
        # a private default generator: constructing a basis never touches the global RNG
        self.reset_weight(generator if generator is not None else torch.Generator().manual_seed(0))

    def _refresh_layout(self) -> None:
        order, ptr = group_layout(self.group_index, self.groups)
        self._order, self._ptr = order.to(self.group_index.device), ptr.to(self.group_index.device)

    @torch.no_grad()
    def reset_weight(self, generator: torch.Generator | None = None, gain: float | None = None) -> None:
        """Variance-preserving init: Var(Σ_i w_oi F(x_i)) ≈ gain² · E[x²] for x spread over
        [-1, 1], given E[F(x)²] measured on the same fixed grid (no random numbers used)."""
        gain = self.options["init_scale"] if gain is None else gain
        probe = torch.linspace(-1.0, 1.0, 257, dtype=self.weight.dtype, device=self.weight.device)
        probe = probe[:, None].expand(-1, self.in_features)
        power = self.activation(probe, backend="torch").pow(2).mean(0).clamp_min(1e-12)  # (in,)
        var_in = probe.pow(2).mean(0)
        std = gain * torch.sqrt(var_in / (self.in_features * power))
        draws = self._randn(self.weight.shape, generator).to(self.weight)
        self.weight.copy_(draws * std[None, :])

    # --- evaluation ----------------------------------------------------------------------
    def activation(self, x: torch.Tensor, backend: str | None = None) -> torch.Tensor:
        """F_{g(i)}(x_i). x: (batch, in) -> (batch, in)."""
        return rational_activation(x, self.numerator, self.denominator, group_index=self.group_index,
                                   layout=(self._order, self._ptr), backend=backend or self.backend)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> (batch, out)."""
        weight = self.weight if mask is None else self.weight * mask
        return F.linear(self.activation(x), weight)

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> w_oi · F(x_i): (batch, out, in)."""
        return self.weight[None] * self.activation(x)[:, None, :]

    # --- rebuilding ----------------------------------------------------------------------
    def subset(self, out_idx: Sequence[int], in_idx: Sequence[int]) -> "RationalBasis":
        """Edges ``out_idx × in_idx`` with the same functions: each kept input keeps its
        group's rational; groups no input uses any more are dropped."""
        out_idx = torch.as_tensor(list(out_idx), dtype=torch.long)
        in_idx = torch.as_tensor(list(in_idx), dtype=torch.long)
        dev = self.weight.device
        kept = self.group_index[in_idx.to(dev)].cpu()
        used = torch.unique(kept)  # sorted
        remap = torch.searchsorted(used, kept)
        opts = self.config()
        opts.update(groups=len(used), group_index=remap.tolist())
        n_in, n_used = len(in_idx), len(used)
        if n_in % n_used == 0 and torch.equal(remap, contiguous_group_index(n_in, n_used)):
            opts["group_index"] = None  # still contiguous equal groups
        new = type(self)(len(in_idx), len(out_idx), **opts).to(device=dev, dtype=self.weight.dtype)
        with torch.no_grad():
            new.numerator.copy_(self.numerator[used.to(dev)])
            new.denominator.copy_(self.denominator[used.to(dev)])
            new.weight.copy_(self.weight[out_idx.to(dev)][:, in_idx.to(dev)])
        return new


__all__ = ["RationalBasis", "INIT_TARGETS", "init_coefficients"]
