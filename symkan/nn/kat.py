"""Kolmogorov–Arnold Transformer layers (Yang & Wang 2024, "Kolmogorov-Arnold Transformer").

KAT replaces the MLP of a ViT block, ``fc2(GELU(fc1(x)))``, by a group-rational KAN
(GR-KAN): the fixed GELU becomes a learnable rational function F_g = P_g/Q_g shared by
every channel of a group (``groups`` contiguous groups of the hidden channels),

    GRKANMLP(x) = fc2(F(fc1(x))),   F_g(h) = P_g(h) / Q_g(h),

with the same rational P (degree 5) / Q = 1 + Σ_j |b_j||h|^j (j ≤ 4) as symkan's
``rational`` basis, evaluated by :func:`symkan.kernels.rational_activation` (the Triton
kernel on CUDA, the torch reference elsewhere). Each group adds 10 parameters.

Variance-preserving initialisation (the paper's): each group's rational starts as a
least-squares fit of a target activation (GELU by default; the fit and its cache are
:func:`symkan.bases.rational.init_coefficients`), fc1 ~ N(0, 1/in) keeps unit-variance
inputs at unit variance, and fc2 ~ N(0, gain²/(hidden · E[F(z)²])) with z ~ N(0, 1)
(E[F(z)²] by Gauss–Hermite quadrature, no random numbers) makes Var(out) ≈ gain²·Var(x).

Modules are laid out like timm's ViT (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``,
``mlp.fc1``, ``mlp.act``, ``mlp.fc2``), so ViT weights load by name. Nothing here draws
from the global RNG: initial values come from the ``generator`` argument (default: a
private generator seeded 0).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..bases.rational import INIT_TARGETS, init_coefficients
from ..kernels import BACKENDS, rational_activation

#: default range of the rational's least-squares fit: the GELU fit error is ~4e-3 (max)
#: on all of it, so pre-activations of pretrained ViTs (|h| up to ~6) stay well fitted
DEFAULT_INIT_RANGE = (-6.0, 6.0)
#: Gauss–Hermite nodes for E[F(z)²], z ~ N(0, 1)
_QUADRATURE_NODES = 64
MLP_KINDS = ("grkan", "gelu")
MLP_INITS = ("trunc_normal", "variance_preserving")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _fraction(name: str, value) -> float:
    if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _private(generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def linear(in_features: int, out_features: int, *, bias: bool = True, std: float = 0.02,
           truncated: bool = True, generator: torch.Generator | None = None) -> nn.Linear:
    """An ``nn.Linear`` initialised from ``generator`` only (never the global RNG):
    weight ~ N(0, std²) (truncated at ±2·std when ``truncated``, as in ViT), bias 0."""
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias)
    with torch.no_grad():
        if truncated:
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std, generator=_private(generator))
        else:
            nn.init.normal_(layer.weight, std=std, generator=_private(generator))
        if bias:
            layer.bias.zero_()
    return layer


def gaussian_second_moment(fn, std: float = 1.0, device=None) -> torch.Tensor:
    """E[fn(z)²] for z ~ N(0, std²) by Gauss–Hermite quadrature (float64, no random numbers).
    ``fn`` maps the nodes (nodes,) to (nodes,) or (nodes, k); returns () or (k,)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    z = torch.as_tensor(nodes * std, dtype=torch.float64, device=device)
    w = torch.as_tensor(weights / weights.sum(), dtype=torch.float64, device=device)
    values = fn(z)
    return (w.reshape(-1, *[1] * (values.ndim - 1)) * values.pow(2)).sum(0)


@torch.no_grad()
def variance_preserving_init_(fc1: nn.Linear, fc2: nn.Linear, act_second_moment: float, *, gain: float = 1.0,
                              generator: torch.Generator | None = None) -> None:
    """The KAT paper's init of ``fc2(act(fc1(x)))`` for unit-variance x: fc1 ~ N(0, 1/in) (so
    the pre-activations are ~N(0, 1)), fc2 ~ N(0, gain²/(hidden · E[act(z)²])), biases 0;
    then Var(out) ≈ gain²."""
    gen = _private(generator)
    nn.init.normal_(fc1.weight, std=math.sqrt(1.0 / fc1.in_features), generator=gen)
    nn.init.normal_(fc2.weight, std=gain * math.sqrt(1.0 / (fc2.in_features * act_second_moment)), generator=gen)
    for fc in (fc1, fc2):
        if fc.bias is not None:
            fc.bias.zero_()


class GroupRational(nn.Module):
    """Learnable group-rational activation: F_{g(c)}(x[..., c]) for ``groups`` contiguous
    equal groups of the ``channels`` channels.

    Parameters: ``numerator`` (groups, 6) = a_0..a_5, ``denominator`` (groups, 4) = b_1..b_4.
    Options: ``init`` (target activation of the initial fit: "gelu", "silu", "tanh",
    "identity"), ``init_range`` (fit interval), ``backend`` ("auto" | "torch" | "triton").

    forward: x (..., channels) -> (..., channels), in x's dtype.
    """

    def __init__(self, channels: int, groups: int = 8, *, init: str = "gelu",
                 init_range=DEFAULT_INIT_RANGE, backend: str = "auto"):
        super().__init__()
        self.channels = _positive_int("channels", channels)
        self.groups = _positive_int("groups", groups)
        if self.channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide channels={self.channels} "
                             f"(the rational is shared by equal contiguous channel groups)")
        if init not in INIT_TARGETS:
            raise ValueError(f"init must be one of {sorted(INIT_TARGETS)}, got {init!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        try:
            lo, hi = (float(v) for v in init_range)
        except (TypeError, ValueError):
            raise ValueError(f"init_range must be a pair (lo, hi), got {init_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"init_range must be finite (lo, hi) with hi > lo, got {init_range!r}")
        self.init, self.init_range, self.backend = init, (lo, hi), backend
        self.numerator = nn.Parameter(torch.empty(self.groups, 6))
        self.denominator = nn.Parameter(torch.empty(self.groups, 4))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Every group's rational := the least-squares fit of ``init`` on ``init_range``."""
        a, b = init_coefficients(self.init, self.init_range)
        self.numerator.copy_(a.to(self.numerator).expand_as(self.numerator))
        self.denominator.copy_(b.to(self.denominator).expand_as(self.denominator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != self.channels:
            raise ValueError(f"GroupRational expects (..., {self.channels}) input, got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        return rational_activation(x, self.numerator, self.denominator, backend=self.backend)

    @torch.no_grad()
    def second_moment(self, std: float = 1.0) -> torch.Tensor:
        """E[F_g(z)²] for z ~ N(0, std²), per group: (groups,) float64 (Gauss–Hermite)."""
        num = self.numerator.detach().to(torch.float64)
        den = self.denominator.detach().to(torch.float64)
        # every group evaluated on every node: one channel per group
        return gaussian_second_moment(
            lambda z: rational_activation(z[:, None].expand(-1, self.groups), num, den, backend="torch"),
            std, device=num.device)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, groups={self.groups}, init={self.init!r}, init_range={self.init_range}"


class GRKANMLP(nn.Module):
    """GR-KAN MLP of the Kolmogorov–Arnold Transformer: fc1 → group rational → fc2.

    Args:
        in_features: input channels; ``hidden_features`` (default 4·in) and
            ``out_features`` (default in).
        groups: rational groups over the hidden channels (must divide ``hidden_features``).
        act_init: activation the rationals start as ("gelu", "silu", "tanh", "identity").
        init_range: interval of the rationals' least-squares fit.
        pre_rational: also put a group rational (initialised to the identity, exact) before
            fc1, as the paper's GR-KAN does (each linear layer preceded by a rational).
        bias: biases of fc1 and fc2.  drop: dropout after the rational and after fc2.
        init_scale: gain of the variance-preserving init (Var(out) ≈ gain²·Var(x)).
        backend: kernel backend of the rationals.  generator: source of the initial weights.

    Modules: ``pre_act`` (or None), ``fc1``, ``act`` (:class:`GroupRational`), ``drop``, ``fc2``.
    forward: x (..., in) -> (..., out).
    """

    def __init__(self, in_features: int, hidden_features: int | None = None, out_features: int | None = None,
                 *, groups: int = 8, act_init: str = "gelu", init_range=DEFAULT_INIT_RANGE,
                 pre_rational: bool = False, bias: bool = True, drop: float = 0.0, init_scale: float = 1.0,
                 backend: str = "auto", generator: torch.Generator | None = None):
        super().__init__()
        in_features = _positive_int("in_features", in_features)
        hidden = _positive_int("hidden_features", 4 * in_features if hidden_features is None else hidden_features)
        out = _positive_int("out_features", in_features if out_features is None else out_features)
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
        self.init_scale = float(init_scale)
        generator = _private(generator)  # one stream for every tensor of the module
        self.pre_act = (GroupRational(in_features, groups, init="identity", backend=backend)
                        if pre_rational else None)
        self.fc1 = linear(in_features, hidden, bias=bias, generator=generator)
        self.act = GroupRational(hidden, groups, init=act_init, init_range=init_range, backend=backend)
        self.drop = nn.Dropout(_fraction("drop", drop))
        self.fc2 = linear(hidden, out, bias=bias, generator=generator)
        self.reset_parameters(generator)

    @property
    def in_features(self) -> int:
        return self.fc1.in_features

    @property
    def hidden_features(self) -> int:
        return self.fc1.out_features

    @property
    def out_features(self) -> int:
        return self.fc2.out_features

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Variance-preserving init (see the module docstring); biases 0, rationals refit."""
        self.act.reset_parameters()
        if self.pre_act is not None:
            self.pre_act.reset_parameters()  # identity: E[F(x)²] = Var(x), fc1 keeps 1/in
        variance_preserving_init_(self.fc1, self.fc2, float(self.act.second_moment().mean()),
                                  gain=self.init_scale, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_act is not None:
            x = self.pre_act(x)
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MLP(nn.Module):
    """The ViT MLP GR-KAN replaces: fc1 → GELU → fc2. ``init``: "trunc_normal" (ViT's:
    weights ~ N(0, 0.02²) truncated at ±0.04) or "variance_preserving" (the same init as
    :class:`GRKANMLP`, with E[GELU(z)²]: the control that separates the init from the rational).
    forward: x (..., in) -> (..., out)."""

    def __init__(self, in_features: int, hidden_features: int | None = None, out_features: int | None = None,
                 *, bias: bool = True, drop: float = 0.0, init: str = "trunc_normal",
                 generator: torch.Generator | None = None):
        super().__init__()
        in_features = _positive_int("in_features", in_features)
        hidden = _positive_int("hidden_features", 4 * in_features if hidden_features is None else hidden_features)
        out = _positive_int("out_features", in_features if out_features is None else out_features)
        generator = _private(generator)  # one stream for every tensor of the module
        self.fc1 = linear(in_features, hidden, bias=bias, generator=generator)
        self.act = nn.GELU()
        self.drop = nn.Dropout(_fraction("drop", drop))
        self.fc2 = linear(hidden, out, bias=bias, generator=generator)
        if init not in MLP_INITS:
            raise ValueError(f"init must be one of {MLP_INITS}, got {init!r}")
        if init == "variance_preserving":
            variance_preserving_init_(self.fc1, self.fc2, float(gaussian_second_moment(F.gelu)), generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention (timm layout: ``qkv`` (dim → 3·dim), ``proj``), computed by
    ``F.scaled_dot_product_attention``. forward: x (batch, tokens, dim) -> same shape."""

    def __init__(self, dim: int, num_heads: int = 8, *, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, generator: torch.Generator | None = None):
        super().__init__()
        dim, num_heads = _positive_int("dim", dim), _positive_int("num_heads", num_heads)
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}")
        self.num_heads = num_heads
        self.attn_drop = _fraction("attn_drop", attn_drop)
        generator = _private(generator)  # one stream for every tensor of the module
        self.qkv = linear(dim, 3 * dim, bias=qkv_bias, generator=generator)
        self.proj = linear(dim, dim, generator=generator)
        self.proj_drop = nn.Dropout(_fraction("proj_drop", proj_drop))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(f"Attention expects (batch, tokens, dim) input, got shape {tuple(x.shape)}")
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2],
                                             dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))


class KATBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).

    Args:
        dim, num_heads: width and attention heads (num_heads must divide dim).
        mlp_ratio: hidden width of the MLP / dim.
        mlp: "grkan" (:class:`GRKANMLP`, the KAT block) or "gelu" (:class:`MLP`, the ViT block).
        mlp_init: init of a "gelu" MLP (see :class:`MLP`; default "trunc_normal"); a GR-KAN
            MLP always has the variance-preserving init.
        groups, act_init, init_range, pre_rational, backend: GR-KAN options (mlp="grkan").
        qkv_bias, drop, attn_drop, norm_eps: as in ViT.

    forward: x (batch, tokens, dim) -> (batch, tokens, dim).
    """

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 4.0, *, mlp: str = "grkan",
                 mlp_init: str | None = None, groups: int = 8, act_init: str = "gelu", init_range=DEFAULT_INIT_RANGE,
                 pre_rational: bool = False, qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0,
                 norm_eps: float = 1e-6, backend: str = "auto", generator: torch.Generator | None = None):
        super().__init__()
        if mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {MLP_KINDS}, got {mlp!r}")
        if mlp == "grkan" and mlp_init not in (None, "variance_preserving"):
            raise ValueError(f"a GR-KAN MLP has the variance-preserving init; got mlp_init={mlp_init!r}")
        if not (isinstance(mlp_ratio, (int, float)) and mlp_ratio > 0):
            raise ValueError(f"mlp_ratio must be a number > 0, got {mlp_ratio!r}")
        gen = _private(generator)
        dim = _positive_int("dim", dim)
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop, generator=gen)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        if mlp == "grkan":
            self.mlp = GRKANMLP(dim, hidden, groups=groups, act_init=act_init, init_range=init_range,
                                pre_rational=pre_rational, drop=drop, backend=backend, generator=gen)
        else:
            self.mlp = MLP(dim, hidden, drop=drop, init=mlp_init or "trunc_normal", generator=gen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


__all__ = ["GroupRational", "GRKANMLP", "MLP", "Attention", "KATBlock", "linear", "gaussian_second_moment",
           "variance_preserving_init_", "DEFAULT_INIT_RANGE", "MLP_KINDS", "MLP_INITS"]
