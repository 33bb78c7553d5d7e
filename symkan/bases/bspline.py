"""B-spline basis of order k on a per-input grid of G cells (the original KAN basis).

φ_oi(x) = Σ_{k<G+order} coef[o,i,k] · B_k(x) with B_k the Cox–de Boor B-splines on a
knot vector extended by ``order`` knots each side. Outside the extended grid every
B_k is zero (the residual branch of the layer still carries the signal there).
Supports ``update_grid(x)`` (data-adaptive knots) and ``refine(G)`` (more cells), both
preserving the learned curves by a least-squares refit.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import torch
from torch.autograd.function import once_differentiable

from . import register_basis
from .bspline_local import uniform_expansion, uniform_knots
from ..tensor_memo import module_memo
from ..checks import check_int
from .grid import GridBasis, extend_knots


def knot_reciprocals(grid: torch.Tensor, order: int) -> list[torch.Tensor]:
    """1 / (t_{j+p} − t_j) for p = 1..order. grid: (in, M + 1) -> [(in, M + 1 − p, 1)]."""
    return [(1.0 / (grid[:, p:] - grid[:, :-p])).unsqueeze(-1) for p in range(1, order + 1)]


def _cox_de_boor(x: torch.Tensor, grid: torch.Tensor, order: int,
                 recip: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """B-splines of ``order`` and ``order − 1``, computed in the layout (in, knot, batch).

    x: (batch, in), grid: (in, M + 1) -> ((in, M − order, batch), (in, M − order + 1, batch)).

    Batch is the innermost axis so that every op runs over contiguous memory (a
    broadcast over a short trailing knot axis is several times slower on CPU). The
    recursion is written with w_{j,p} = (x − t_j)/(t_{j+p} − t_j):

        B_{j,p} = w_{j,p} B_{j,p−1} + (1 − w_{j+1,p}) B_{j+1,p−1}

    (the right-hand factor of Cox–de Boor equals 1 − w_{j+1,p}), so each order costs
    four elementwise ops on one difference tensor d = x − t computed once.
    """
    # without autograd recording (the usual case, inside _BSplineFeatures) temporaries are
    # updated in place: same values, one allocation less per order (5-8 % faster)
    inplace = not torch.is_grad_enabled()
    d = x.T.unsqueeze(1) - grid.unsqueeze(-1)  # (in, M + 1, batch)
    if order >= 2:
        # order 1 directly: the hat min(w_j, 1 − w_{j+1}) clipped at 0 (no boolean casts)
        w = d[:, :-1] * recip[0]
        bases = torch.minimum(w[:, :-1], 1.0 - w[:, 1:])
        bases = bases.clamp_min_(0.0) if inplace else bases.clamp_min(0.0)
        first = 2
    else:
        step = (d >= 0).to(x.dtype)  # knots increase: [t_j, t_{j+1}) = step_j − step_{j+1}
        bases = step[:, :-1] - step[:, 1:]
        first = 1
    lower = bases
    for p in range(first, order + 1):
        lower = bases
        w = d[:, : bases.shape[1]] * recip[p - 1]
        if inplace:
            wb = w.mul_(bases)
            bases = torch.add(wb[:, :-1], torch.sub(bases, wb)[:, 1:])  # fresh and contiguous
        else:
            wb = w * bases
            bases = wb[:, :-1] + (bases - wb)[:, 1:]
    return bases, lower


class _BSplineFeatures(torch.autograd.Function):
    """Cox–de Boor forward with the analytic derivative in backward:

        dB_{j,k}/dx = k · (B_{j,k−1} / (t_{j+k} − t_j) − B_{j+1,k−1} / (t_{j+k+1} − t_{j+1}))

    which replaces autograd's replay of the whole recursion (~3× faster fwd + bwd).
    Only x gets a gradient: the knots are a buffer (see :func:`bspline_features`).
    """

    @staticmethod
    def forward(ctx, x, grid, order, *recip):
        bases, lower = _cox_de_boor(x, grid, order, list(recip))
        if order >= 1:
            ctx.save_for_backward(lower, recip[-1] * order)
        ctx.order = order
        return bases.permute(2, 0, 1)  # (batch, in, K), a view of the (in, K, batch) result

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        grad_x = None
        if ctx.order >= 1 and ctx.needs_input_grad[0]:
            lower, scaled = ctx.saved_tensors
            grad_x = slope_dot(grad_out.permute(1, 2, 0), lower, scaled).T
        return (grad_x, None, None) + (None,) * ctx.order


def slope_dot(grad: torch.Tensor, lower: torch.Tensor, scaled: torch.Tensor) -> torch.Tensor:
    """Σ_k grad[i, k, b] · dB_k/dx(x_bi): the gradient that features with gradient
    ``grad`` (in, K, batch) pass to x, as (in, batch). ``lower``: the order − 1 bases
    (in, K + 1, batch) of :func:`_cox_de_boor`; ``scaled``: order / (t_{j+k} − t_j),
    (in, K + 1, 1)."""
    q = lower * scaled  # (in, K + 1, batch)
    return (grad * (q[:, :-1] - q[:, 1:])).sum(1)


def bspline_features(x: torch.Tensor, grid: torch.Tensor, order: int,
                     recip: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Cox–de Boor recursion. x: (batch, in), grid: (in, G + 2·order + 1) -> (batch, in, G + order).

    ``recip``: :func:`knot_reciprocals` of ``grid`` when the caller keeps them. The result
    is a (batch, in, K) view of an (in, K, batch) tensor (contiguous along batch).
    """
    if recip is None:
        recip = knot_reciprocals(grid, order)
    if grid.requires_grad and torch.is_grad_enabled():
        # trainable knots: plain autograd through the recursion (the Function differentiates x only)
        return _cox_de_boor(x, grid, order, recip)[0].permute(2, 0, 1)
    return _BSplineFeatures.apply(x, grid, order, *recip)


Expansion = Callable[[torch.Tensor], tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]]


class _ExpandedFeatures(torch.autograd.Function):
    """features (batch, in, K) of ``expand(x)`` (a view of its (in, K, batch) tensor), whose
    backward is the expansion's slope map. Only x gets a gradient."""

    @staticmethod
    def forward(ctx, x, expand: Expansion):
        feats, ctx.slope = expand(x)
        return feats.permute(2, 0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        grad_x = ctx.slope(grad_out.permute(1, 2, 0)).T if ctx.needs_input_grad[0] else None
        return grad_x, None


class _ExpandedLinear(torch.autograd.Function):
    """y = F @ W.T with F (batch, in·K) the features of ``expand(x)``, kept in their (in·K, batch)
    layout: the gradient on the features, W.T @ grad_y.T, comes out (in·K, batch) contiguous,
    the layout the slope map reads along. x: (batch, in), weight: (out, in·K) -> (batch, out)."""

    @staticmethod
    def forward(ctx, x, weight, expand: Expansion):
        feats, slope = expand(x)  # (in, K, batch)
        cols = feats.view(feats.shape[0] * feats.shape[1], feats.shape[2])  # (in·K, batch)
        ctx.save_for_backward(cols, weight)
        ctx.slope, ctx.feat_shape = slope, feats.shape
        return torch.mm(cols.T, weight.T)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        cols, weight = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = ctx.slope(torch.mm(weight.T, grad_y.T).view(ctx.feat_shape)).T
        if ctx.needs_input_grad[1]:
            grad_w = torch.mm(grad_y.T, cols.T)
        return grad_x, grad_w, None


def extended_grid(lo: torch.Tensor, hi: torch.Tensor, num: int, order: int) -> torch.Tensor:
    """Uniform knots on [lo, hi] per input, extended by ``order`` cells each side. -> (in, num + 2·order + 1)."""
    h = (hi - lo) / num
    steps = torch.arange(-order, num + order + 1, dtype=lo.dtype, device=lo.device)
    return lo[:, None] + steps[None, :] * h[:, None]


#: below this many values of x (batch · in) Cox–de Boor's dozen whole-tensor ops beat the
#: local evaluation's larger number of small ones (measured side by side, 1 thread:
#: 2 000 and 5 000 values 1.3x and 1.1x slower locally, 32 000 values 2.5x faster)
LOCAL_MIN_POINTS = 10_000


@register_basis
class BSplineBasis(GridBasis):
    """Options: ``grid_size`` G (cells, default 5), ``order`` k (default 3),
    ``grid_range`` (default (-1, 1)), ``grid_eps`` (blend of uniform vs quantile
    knots in ``update_grid``; 1 = uniform, default 0.02), ``init_scale``.

    Buffers: ``grid`` (in, G + 2k + 1). Parameters: ``coef`` (out, in, G + k).
    """

    name: ClassVar[str] = "bspline"
    premap_kind: ClassVar[str] = "identity"
    size_option: ClassVar[str] = "grid_size"
    has_grid: ClassVar[bool] = True
    # update_grid: knots at least 1e-4 of a mean cell apart, the last one at the top of the span
    regrid_min_gap: ClassVar[float] = 1e-4
    regrid_pins_top: ClassVar[bool] = True
    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None), "grid": ("in", None)}

    def __init__(self, in_features: int, out_features: int, *, grid_size: int = 5, order: int = 3,
                 grid_range=(-1.0, 1.0), grid_eps: float = 0.02, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        grid_size = self.check_size(grid_size)
        order = check_int("order", order, minimum=0)
        super().__init__(in_features, out_features, grid_size + order, grid_range=grid_range, grid_eps=grid_eps,
                         init_scale=init_scale, generator=generator, grid_size=grid_size, order=order)
        self.grid_size, self.order = grid_size, order
        lo, hi = self.options["grid_range"]
        ones = torch.ones(in_features)
        self.register_buffer("grid", extended_grid(lo * ones, hi * ones, grid_size, order))
        self.reset_coefficients(generator)

    def domain(self):
        k = self.order
        return self.grid[:, k].clone(), self.grid[:, -k - 1].clone()

    def _plain_autograd(self) -> bool:
        """Trainable knots: autograd through the Cox–de Boor recursion (the fast paths
        differentiate x and the coefficients only)."""
        return self.grid.requires_grad and torch.is_grad_enabled()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self._plain_autograd():
            return bspline_features(x, self.grid, self.order, self._knot_reciprocals())
        return _ExpandedFeatures.apply(x, self.expansion)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> (batch, out): one matmul on the features
        in their (in·K, batch) layout (:class:`_ExpandedLinear`)."""
        if self._plain_autograd():
            return super().forward(x, mask)
        weight = self.coef if mask is None else self.coef * mask[:, :, None]
        return _ExpandedLinear.apply(x, weight.reshape(self.out_features, -1), self.expansion)

    def expansion(self, x: torch.Tensor):
        """Features in the layout (in, K, batch), without autograd, and the function that
        maps a gradient on them, (in, K, batch), to the gradient on x, (in, batch) — what
        a hand-written backward (:mod:`symkan.analytic_backward`) needs.

        x: (batch, in). Knots must be a buffer (not trainable). On a uniform grid (the
        initial one), order >= 1 and at least ``LOCAL_MIN_POINTS`` values of x: the local
        evaluation of :mod:`~symkan.bases.bspline_local`; otherwise Cox–de Boor.
        """
        uniform = self._uniform_knots() if x.numel() >= LOCAL_MIN_POINTS else None
        if uniform is not None:
            return uniform_expansion(x, self.grid, self.order, *uniform)
        recip = self._knot_reciprocals()
        if recip is None:  # trainable knots, used without autograd
            recip = knot_reciprocals(self.grid.detach(), self.order)
        with torch.no_grad():
            bases, lower = _cox_de_boor(x, self.grid, self.order, recip)
        if self.order == 0:
            return bases, lambda grad: grad.new_zeros(grad.shape[0], grad.shape[2])
        scaled = recip[-1] * self.order
        return bases, lambda grad: slope_dot(grad, lower, scaled)

    def _knot_reciprocals(self) -> list[torch.Tensor] | None:
        """:func:`knot_reciprocals` of the current grid, recomputed only when the grid
        changes (see :class:`~symkan.tensor_memo.TensorMemo`); saves ~20 % of a small
        forward. None (computed per call, differentiably) for trainable knots."""
        if self.grid.requires_grad:
            return None

        def compute():
            with torch.no_grad():
                return knot_reciprocals(self.grid, self.order)

        return module_memo(self, "_recip_memo").get((self.grid,), compute)

    def _uniform_knots(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """:func:`~symkan.bases.bspline_local.uniform_knots` of the current grid, recomputed
        only when the grid changes (like :meth:`_knot_reciprocals`); None for order 0 (Cox–de
        Boor's step function) and for trainable knots."""
        if self.grid.requires_grad or self.order == 0:
            return None
        return module_memo(self, "_uniform_memo").get((self.grid,), lambda: uniform_knots(self.grid))

    # --- grid (update_grid / refine: GridBasis) ------------------------------------------
    def features_for(self, size: int) -> int:
        return size + self.order

    def set_grid(self, points: torch.Tensor) -> None:
        """Inner knots (in, G + 1) -> the knot vector, extended by ``order`` cells each side."""
        self.grid = extend_knots(points, self.order).to(self.grid.dtype)
