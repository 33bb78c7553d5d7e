"""KAN convolutions: ``KANConv1d``, ``KANConv2d``, ``KANConv3d`` for every registered basis.

An edge is (output channel o, input channel c of o's group, kernel position p), and

    y[n, o, pos] = bias_o + Σ_{c, p} φ_{o,c,p}( x̃[n, g(o)·C_g + c, pos·stride + p·dilation] )
    φ_{o,c,p}(t) = basis function of the edge + w_b[o, c, p]·silu(t)   (residual branch)

with x̃ the input padded in ``padding_mode``, C_g = in_channels / groups and g(o) the group
of output o. Arguments, padding (``"same"``, ``"valid"``, the four modes) and the output
size are those of ``nn.Conv{1,2,3}d``. Padding pads the *input*: with ``"zeros"`` a padded
position holds 0 and contributes φ(0), as a padded zero would in ``nn.Conv``
(Torch-Conv-KAN instead pads the expanded features, so padded positions contribute nothing).

How it is computed (never a Python loop over kernel positions or output channels):

* Feature bases (``FeatureBasis``: φ = Σ_k coef_k B_k(x)): ONE basis with
  ``in_features = in_channels`` and ``out_features = (out_channels / groups)·P``, P the
  number of kernel positions. Edge (o, c, p), o = g·O_g + o', is the basis edge
  (o'·P + p, g·C_g + c). The per-input state of the basis (grid, knots, min-max range)
  belongs to an input channel, so the features depend on the channel only and the input is
  expanded once:

  - ``"expand"``: F = [silu(x̃), B_1(x̃), …, B_K(x̃)] per channel, (N, C·(K+1), *S), and
    one grouped convolution with weight (out, C_g·(K+1), *kernel) reshaped from ``coef``
    and ``base_weight``.
  - ``"shift"`` (groups = 1): Z = basis(x̃ per pixel), (N, *S, out·P), through the basis'
    own forward (so ReLU-KAN's fused Triton kernel runs on CUDA), then
    y[pos] = Σ_p Z[pos·stride + p·dilation, o·P + p] through one strided view. The same
    multiply-adds as "expand"; ``"auto"`` picks it for ReLU-KAN on its Triton backend.

* Other bases (per-edge wavelets, the group rational): one basis per group with
  ``in_features = C_g·P`` (input c·P + p) and ``out_features = O_g``, evaluated on the
  im2col patches (N·L, C_g·P) by the basis' own forward (the rational's Triton kernel on
  CUDA). With groups > 1 this is a loop over the groups: the groups have different
  per-edge parameters, and a single call would cost groups× the work. For the rational
  basis the conv's default is one rational per input channel (``groups=C_g`` of the basis,
  shared by the kernel positions; pass ``basis_kwargs={"groups": ...}`` to change it).

Then ``norm`` (None, "batch", "instance", "layer" or a module) is applied to the output,
and ``dropout`` > 0 drops whole input channels (``nn.Dropout{1,2,3}d``) before the
convolution, as in Torch-Conv-KAN's layers.
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import ClassVar, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..bases import FeatureBasis, get_basis
from ..kernels import TRITON_DTYPES, resolve_backend
from .conv_args import PADDING_MODES, conv_tuple, output_size, pad_input, padding_pairs, patches, shifted_sum

NORMS = ("batch", "instance", "layer")
FORMULATIONS = ("auto", "expand", "shift")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DROPOUT = {1: nn.Dropout1d, 2: nn.Dropout2d, 3: nn.Dropout3d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def make_dropout(p, n_dims: int) -> nn.Module | None:
    """Channel dropout ``nn.Dropout{n}d(p)`` for p in (0, 1), None for p = 0."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {p!r}")
    return _DROPOUT[n_dims](p) if p > 0 else None


def make_norm(norm, n_dims: int, channels: int) -> nn.Module | None:
    """None | "batch" | "instance" (affine) | "layer" (GroupNorm(1, C): over channels and
    space) | an ``nn.Module`` (used as given) -> the normalisation of a conv output."""
    if norm is None or isinstance(norm, nn.Module):
        return norm
    if norm == "batch":
        return _BATCH_NORM[n_dims](channels)
    if norm == "instance":
        return _INSTANCE_NORM[n_dims](channels, affine=True)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"norm must be None, one of {list(NORMS)} or an nn.Module, got {norm!r}")


def layer_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    """The private stream a layer draws its initial values from: ``generator``, or a new
    one seeded ``seed`` (default 0, as ``KANLayer``); never the global RNG."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def _silu_gain() -> float:
    """sqrt(E[t²] / E[silu(t)²]) for t uniform on [-1, 1]: the residual weight's gain."""
    t = torch.linspace(-1.0, 1.0, 257)
    return (t.pow(2).mean() / F.silu(t).pow(2).mean()).sqrt().item()


class KANConvNd(nn.Module):
    """Base of :class:`KANConv1d`, :class:`KANConv2d`, :class:`KANConv3d` (see the module
    docstring for the definition and the formulations).

    Args (as ``nn.Conv{n}d``): in_channels, out_channels, kernel_size, stride, padding
    (int, tuple, "same", "valid"), dilation, groups, bias, padding_mode ("zeros",
    "reflect", "replicate", "circular"). Then: ``basis`` (a registered name),
    ``residual`` (the w_b·silu branch, default on; basis and residual each start with
    half the output variance, as ``KANLayer``), ``norm``, ``dropout``, ``formulation``
    ("auto", "expand", "shift"; feature bases only), ``generator`` or ``seed`` (the private
    stream every initial value is drawn from; default seed 0), ``basis_kwargs`` (basis
    options whose names the conv takes itself, e.g. the rational's ``groups``) and
    ``**basis_options``.

    State: ``bases`` (ModuleList: one basis for feature bases, one per group otherwise),
    ``base_weight`` (out, C_g, *kernel) when residual, ``bias`` (out,) when bias, ``norm``.

    Shapes: x (N, C_in, *S) or unbatched (C_in, *S) -> (N, C_out, *S_out) (or (C_out, *S_out)).
    """

    n_dims: ClassVar[int] = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", basis: str = "bspline", *,
                 residual: bool = True, norm=None, dropout: float = 0.0, formulation: str = "auto",
                 generator: torch.Generator | None = None, seed: int | None = None,
                 basis_kwargs: dict | None = None, **basis_options):
        super().__init__()
        n = self.n_dims
        if n not in _CONV:
            raise ValueError("KANConvNd is the shared base: use KANConv1d, KANConv2d or KANConv3d")
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        self.groups = positive_int("groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must both be "
                             f"divisible by groups={groups}")
        self.kernel_size = conv_tuple("kernel_size", kernel_size, n, 1)
        self.stride = conv_tuple("stride", stride, n, 1)
        self.dilation = conv_tuple("dilation", dilation, n, 1)
        self.pad_pairs = padding_pairs(padding, self.kernel_size, self.stride, self.dilation)
        self.padding = padding if isinstance(padding, str) else conv_tuple("padding", padding, n, 0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {list(FORMULATIONS)}, got {formulation!r}")
        self.dropout = make_dropout(dropout, n)
        if not isinstance(basis, str):
            raise ValueError(f"basis must be the name of a registered basis, got {type(basis).__name__}")
        cls = get_basis(basis)  # ValueError naming the registered bases
        gen = layer_generator(generator, seed)
        options = dict(basis_options)
        clash = sorted(set(options) & set(basis_kwargs or {}))
        if clash:
            raise ValueError(f"basis option(s) {clash} given both as keywords and in basis_kwargs")
        options.update(basis_kwargs or {})
        self.residual, self.basis_name = bool(residual), basis
        self.feature_basis = issubclass(cls, FeatureBasis)
        if formulation == "shift" and not (self.feature_basis and self.groups == 1):
            raise ValueError("formulation='shift' needs a feature basis and groups=1, got "
                             f"basis={basis!r}, groups={groups}")
        self.formulation = formulation

        C, O, G = self.in_channels, self.out_channels, self.groups
        P = self.kernel_positions
        if self.residual:  # basis and residual each carry half of the output variance
            options.setdefault("init_scale", 0.5 ** 0.5)
        if self.feature_basis:
            built = [self._build_basis(cls, C, (O // G) * P, gen, options)]
            with torch.no_grad():  # the basis assumed fan-in C; an output here sums C_g·P edges
                built[0].coef.mul_(math.sqrt(C / ((C // G) * P)))
        else:
            if basis == "rational" and "groups" not in options and "group_index" not in options:
                options["groups"] = C // G  # one rational per input channel
            built = [self._build_basis(cls, (C // G) * P, O // G, gen, options) for _ in range(G)]
        self.basis_options = {k: v for k, v in options.items() if k != "generator"}
        self.bases = nn.ModuleList(built)
        if self.residual:
            std = _silu_gain() * math.sqrt(0.5 / ((C // G) * P))
            draws = torch.randn(O, C // G, *self.kernel_size, generator=gen) * std
            self.base_weight = nn.Parameter(draws.to(torch.get_default_dtype()))
        else:
            self.register_parameter("base_weight", None)
        self.bias = nn.Parameter(torch.zeros(O)) if bias else None
        self.norm_kind = norm if (norm is None or isinstance(norm, str)) else "module"
        self.norm = make_norm(norm, n, O)

    @staticmethod
    def _build_basis(cls, n_in: int, n_out: int, gen: torch.Generator, options: dict):
        try:
            return cls(n_in, n_out, generator=gen, **options)
        except TypeError as err:  # an unknown option: say so as a ValueError naming it
            raise ValueError(f"basis {cls.name!r} rejected its options {sorted(options)}: {err}") from None

    @property
    def kernel_positions(self) -> int:
        """P = prod(kernel_size)."""
        return math.prod(self.kernel_size)

    # --- forward -----------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        n = self.n_dims
        if not isinstance(x, torch.Tensor) or x.dim() not in (n + 1, n + 2):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__} expects input (N, C, {n} spatial) or (C, {n} spatial), "
                             f"got {got}")
        unbatched = x.dim() == n + 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"input has {x.shape[1]} channels, the layer expects in_channels={self.in_channels}")
        out = output_size(x.shape[2:], self.kernel_size, self.stride, self.dilation, self.pad_pairs)
        if min(out) < 1:
            raise ValueError(f"input of spatial size {tuple(x.shape[2:])} is smaller than the kernel: "
                             f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}")
        return x, unbatched

    def resolved_formulation(self, x: torch.Tensor) -> str:
        """"expand", "shift" or "unfold" (non-feature bases) for input ``x``."""
        if not self.feature_basis:
            return "unfold"
        if self.formulation != "auto":
            return self.formulation
        basis = self.bases[0]
        if self.groups == 1 and basis.name == "relukan":
            fused = resolve_backend(basis.backend, x, dtype_ok=x.dtype in TRITON_DTYPES, module="relukan")
            if fused == "triton":
                return "shift"
        return "expand"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = self._check_input(x)
        if self.dropout is not None:
            x = self.dropout(x)
        how = self.resolved_formulation(x)
        if how == "expand":
            y = self._expand_forward(x)
        else:
            xp = pad_input(x, self.pad_pairs, self.padding_mode)
            out = output_size(xp.shape[2:], self.kernel_size, self.stride, self.dilation, ((0, 0),) * self.n_dims)
            y = self._shifted(xp, out) if how == "shift" else self._unfolded(xp, out)
            if self.residual:
                y = y + self._conv(F.silu(xp), self.base_weight, None)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, *([1] * self.n_dims))
        if self.norm is not None:
            y = self.norm(y)
        return y[0] if unbatched else y

    def _conv(self, x, weight, bias, padding=0):
        return _CONV[self.n_dims](x, weight, bias, self.stride, padding, self.dilation, self.groups)

    def _expand_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The "expand" formulation. With zero padding on both sides alike, the features of
        the unpadded input go through the convolution's own zero padding (no padded copy),
        and the padded positions' φ(0) is added back as one tiny convolution of the border
        indicator: Σ_p border(pos + p)·Σ_{c,k} F_ck(0)·W[o, c, k, p]."""
        weight = self.expanded_weight()
        pads = [a for a, b in self.pad_pairs if a == b]
        if self.padding_mode != "zeros" or len(pads) != self.n_dims or not any(pads):
            return self._conv(self._expanded(pad_input(x, self.pad_pairs, self.padding_mode)), weight, self.bias)
        y = self._conv(self._expanded(x), weight, self.bias, padding=tuple(pads))
        f0 = self._expanded(x.new_zeros(1, self.in_channels, *([1] * self.n_dims)))  # (1, C·K', 1...)
        G, O = self.groups, self.out_channels
        f0 = f0.reshape(G, 1, -1).expand(G, O // G, -1).reshape(O, -1, *([1] * self.n_dims))
        at_zero = (weight * f0).sum(1, keepdim=True)  # (O, 1, *kernel)
        border = 1.0 - F.pad(x.new_ones(1, 1, *x.shape[2:]), [v for p in reversed(pads) for v in (p, p)])
        return y + _CONV[self.n_dims](border, at_zero, None, self.stride, 0, self.dilation)

    def _pixels(self, xp: torch.Tensor) -> torch.Tensor:
        """(N, C, *S) -> (N·prod(S), C), one row per pixel."""
        return xp.movedim(1, -1).reshape(-1, self.in_channels)

    def _expanded(self, xp: torch.Tensor) -> torch.Tensor:
        """x (N, C, *S) -> (N, C·K', *S): per channel [silu(x)] + B_1..B_K(x)."""
        pix = self._pixels(xp)
        feats = self.bases[0].features(pix)  # (M, C, K)
        if self.residual:
            feats = torch.cat([F.silu(pix)[..., None], feats], dim=-1)
        return feats.reshape(*xp.shape[:1], *xp.shape[2:], -1).movedim(-1, 1)

    def expanded_weight(self) -> torch.Tensor:
        """The grouped-conv weight of the "expand" formulation: (out, C_g·K', *kernel), K' =
        K + 1 with the residual (its weight first), K without."""
        O, G, P = self.out_channels, self.groups, self.kernel_positions
        coef = self.bases[0].coef  # (O_g·P, C, K): edge (o'·P + p, g·C_g + c)
        K = coef.shape[-1]
        w = coef.reshape(O // G, P, G, self.in_channels // G, K).permute(2, 0, 3, 4, 1)
        w = w.reshape(O, self.in_channels // G, K, P)
        if self.residual:
            w = torch.cat([self.base_weight.reshape(O, -1, 1, P), w], dim=2)
        return w.reshape(O, -1, *self.kernel_size)

    def _shifted(self, xp: torch.Tensor, out: tuple[int, ...]) -> torch.Tensor:
        z = self.bases[0](self._pixels(xp))  # (M, O·P), edge (o·P + p) summed over channels
        z = z.reshape(xp.shape[0], *xp.shape[2:], self.out_channels, *self.kernel_size)
        return shifted_sum(z, self.kernel_size, self.stride, self.dilation, out)

    def _unfolded(self, xp: torch.Tensor, out: tuple[int, ...]) -> torch.Tensor:
        n, cg = self.n_dims, self.in_channels // self.groups
        cols = patches(xp, self.kernel_size, self.stride, self.dilation)  # (N, C, *out, *kernel)
        ys = []
        for g, basis in enumerate(self.bases):  # one call unless groups > 1 (see the module docstring)
            part = cols[:, g * cg:(g + 1) * cg].movedim(1, 1 + n)  # (N, *out, C_g, *kernel)
            ys.append(basis(part.reshape(-1, cg * self.kernel_positions)))
        y = ys[0] if len(ys) == 1 else torch.cat(ys, dim=-1)  # (N·L, O)
        return y.reshape(xp.shape[0], *out, self.out_channels).movedim(-1, 1)

    # --- the edge functions ------------------------------------------------------------------
    def edge_functions(self, x: torch.Tensor) -> torch.Tensor:
        """φ_{o,c,p}(x_c) for one value per input channel: x (n, in_channels) ->
        (n, out_channels, C_g, P), channel c of output o's group at index c − g(o)·C_g, the
        kernel positions p in row-major order. Includes the residual branch, not the bias."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (n, in_channels={self.in_channels}), got {got}")
        n, O, G, P = x.shape[0], self.out_channels, self.groups, self.kernel_positions
        cg = self.in_channels // G
        if self.feature_basis:
            acts = self.bases[0].edge_activations(x)  # (n, O_g·P, C)
            acts = acts.reshape(n, O // G, P, G, cg).permute(0, 3, 1, 4, 2).reshape(n, O, cg, P)
        else:
            parts = [basis.edge_activations(x[:, g * cg:(g + 1) * cg, None].expand(n, cg, P).reshape(n, -1))
                     for g, basis in enumerate(self.bases)]
            acts = torch.cat([a.reshape(n, O // G, cg, P) for a in parts], dim=1)
        if self.residual:
            xo = x.reshape(n, G, 1, cg).expand(n, G, O // G, cg).reshape(n, O, cg)
            acts = acts + self.base_weight.reshape(1, O, cg, P) * F.silu(xo)[..., None]
        return acts

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, max_samples: int = 1024) -> None:
        """Move the basis grid (or min-max range) to the pixel values of x (N, C, *S),
        keeping the curves (the basis' least-squares refit); at most ``max_samples`` evenly
        spaced pixels are used. Feature bases with ``supports_grid_update`` only."""
        basis = self.bases[0]
        if not (self.feature_basis and basis.supports_grid_update):
            raise ValueError(f"basis {self.basis_name!r} (with these options) has no grid to update")
        x, _ = self._check_input(x)
        pix = self._pixels(x)
        idx = torch.linspace(0, pix.shape[0] - 1, min(int(max_samples), pix.shape[0]), device=pix.device)
        basis.update_grid(pix[idx.round().long()])

    # --- pruning -----------------------------------------------------------------------------
    def subset(self, in_idx: Sequence[int], out_idx: Sequence[int]) -> "KANConvNd":
        """A new layer on the input channels ``in_idx`` and output channels ``out_idx`` with
        the same edge functions (groups = 1; norm None, "batch" or "instance", which are per
        channel, so the kept outputs are unchanged)."""
        if self.groups != 1:
            raise ValueError(f"subset needs groups=1, the layer has groups={self.groups}")
        if self.norm_kind not in (None, "batch", "instance"):
            raise ValueError(f"subset keeps outputs exact only with norm None, 'batch' or 'instance', "
                             f"not {self.norm_kind!r}")
        in_idx, out_idx = [int(i) for i in in_idx], [int(o) for o in out_idx]
        for name, idx, size in (("in_idx", in_idx, self.in_channels), ("out_idx", out_idx, self.out_channels)):
            if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= size:
                raise ValueError(f"{name} must be distinct channel indices in [0, {size}), at least one; got {idx}")
        P = self.kernel_positions
        if self.feature_basis:
            basis = self.bases[0].subset([o * P + p for o in out_idx for p in range(P)], in_idx)
        else:
            basis = self.bases[0].subset(out_idx, [c * P + p for c in in_idx for p in range(P)])
        new = copy.deepcopy(self)
        new.in_channels, new.out_channels = len(in_idx), len(out_idx)
        new.bases = nn.ModuleList([basis])
        ref = next(self.parameters())
        i, o = torch.tensor(in_idx, device=ref.device), torch.tensor(out_idx, device=ref.device)
        with torch.no_grad():
            if self.residual:
                new.base_weight = nn.Parameter(self.base_weight[o][:, i].clone())
            if self.bias is not None:
                new.bias = nn.Parameter(self.bias[o].clone())
            if self.norm is not None:
                new.norm = make_norm(self.norm_kind, self.n_dims, len(out_idx)).to(device=ref.device, dtype=ref.dtype)
                new.norm.load_state_dict({k: v[o] if v.dim() else v for k, v in self.norm.state_dict().items()})
                new.norm.train(self.norm.training)
        return new

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
             f"padding_mode={self.padding_mode!r}, basis={self.basis_name!r}, residual={self.residual}")
        return s + (f", bias=False" if self.bias is None else "")


class KANConv1d(KANConvNd):
    """KAN convolution over (N, C, L) inputs; see :class:`KANConvNd`."""
    n_dims = 1


class KANConv2d(KANConvNd):
    """KAN convolution over (N, C, H, W) inputs; see :class:`KANConvNd`."""
    n_dims = 2


class KANConv3d(KANConvNd):
    """KAN convolution over (N, C, D, H, W) inputs; see :class:`KANConvNd`."""
    n_dims = 3


__all__ = ["KANConvNd", "KANConv1d", "KANConv2d", "KANConv3d", "NORMS", "FORMULATIONS", "make_norm",
           "make_dropout", "layer_generator", "positive_int"]
