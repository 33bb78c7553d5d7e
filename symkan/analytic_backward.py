"""Loss and gradients of a plain KAN written out by hand: the fast path of :func:`symkan.train.fit`.

A search trains many tiny networks ([2, 5, 1] on 1 000 rows: one evaluation moves ~50 k
numbers), where autograd's graph building and replay cost more than the arithmetic.
Here one evaluation is the forward pass, the loss, the L1 + entropy penalty
(:mod:`symkan.regularize`) and their gradients with respect to every layer's ``coef``,
``base_weight`` and ``bias``, as a fixed sequence of matrix products and elementwise ops
with no autograd graph. The autograd path (``fit(..., analytic=False)``) is the
reference this module is tested against, to float round-off.

It applies to a :class:`~symkan.nn.KAN` whose layers all have a basis with
``expansion(x)`` (features and their slope map, e.g. B-splines), no fixed symbolic edges
and sum or product nodes; :func:`supports` says whether a model qualifies.

Layouts: features are (in, K, batch) (batch innermost, as the basis computes them);
per-edge activations for the penalty are (in, out, batch).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .nn import KAN
from .nn.kan import combine_nodes
from .regularize import INPUT_SPREAD_EPS, ENTROPY_EPS
from .tensor_memo import TensorMemo


def supports(model) -> bool:
    """Whether :class:`AnalyticObjective` can evaluate ``model``: a KAN whose every layer
    has a basis with ``expansion`` (and fixed knots) and no fixed symbolic edge."""
    if not isinstance(model, KAN):
        return False
    for layer in model.layers:
        basis = layer.basis
        grid = getattr(basis, "grid", None)
        if not hasattr(basis, "expansion") or (grid is not None and grid.requires_grad):
            return False
        if bool(layer.symbolic.fixed.any()):
            return False
    return True


class _LayerPass:
    """What one layer's forward keeps for the backward. x: (batch, in); feats
    (in, K, batch); slope: the features' slope map (None for the first layer); silu
    (batch, in) or None; coef (out, in, K) and base_weight (out, in) with the mask
    applied; sub (batch, out); ``centred``: for the first layer with the penalty on, its
    :func:`_centred_inputs` (None otherwise); the penalty's intermediates when it is on."""

    __slots__ = ("x", "feats", "slope", "silu", "coef", "base_weight", "sub", "centred", "penalty_grad")

    def __init__(self, x, feats, slope, silu, coef, base_weight, sub, centred=None):
        self.x, self.feats, self.slope, self.silu = x, feats, slope, silu
        self.coef, self.base_weight, self.sub = coef, base_weight, sub
        self.centred, self.penalty_grad = centred, None


def _centred_inputs(feats: torch.Tensor, silu: torch.Tensor | None, x: torch.Tensor):
    """The first layer's features centred over the batch, (in, K', batch) with the residual
    branch's silu as feature K when present (K' = K + 1), and x's spread (in,): the data's
    part of the penalty, the same at every evaluation."""
    ext = feats if silu is None else torch.cat([feats, silu.T[:, None, :]], 1)
    return ext - ext.mean(2, keepdim=True), _spread(x)[1]


def _spread(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x centred over the batch (batch, in) and its spread, the population std (in,)."""
    x_c = x - x.mean(0, keepdim=True)
    return x_c, torch.linalg.vector_norm(x_c, 2, dim=0).div_(x_c.shape[0] ** 0.5)


class _LayerHandles:
    """One layer's modules and parameters, looked up once (module attribute access costs
    microseconds, and an evaluation makes dozens)."""

    __slots__ = ("layer", "basis", "coef", "base_weight", "bias", "spec", "mask_memo")

    def __init__(self, layer, spec):
        self.layer, self.basis, self.spec = layer, layer.basis, spec
        self.coef, self.base_weight, self.bias = layer.basis.coef, layer.base_weight, layer.bias
        self.mask_memo = TensorMemo()

    def mask(self) -> torch.Tensor | None:
        """The edge mask, or None when every edge is alive (recomputed when it changes)."""
        mask = self.layer.mask
        return self.mask_memo.get((mask,), lambda: None if bool((mask == 1).all()) else mask)


class AnalyticObjective:
    """``objective(x, y, w) -> (total, mse, penalty)`` for ``model``, with the gradient of
    ``total = mse + lamb · penalty`` written into the parameters' ``.grad``.

    mse is the (weighted, with ``w`` (batch,)) mean square error of ``model(x)`` against
    y (batch, n_out); penalty is :func:`symkan.regularize.sparsity_penalty` of the
    layers' masked edge activations (None when ``lamb`` is 0), as in ``fit``.
    """

    def __init__(self, model: KAN, lamb: float = 0.0, lamb_l1: float = 1.0, lamb_entropy: float = 2.0):
        if not supports(model):
            raise ValueError("the model has a layer this path cannot evaluate (see analytic_backward.supports)")
        self.model = model
        self.lamb, self.lamb_l1, self.lamb_entropy = float(lamb), float(lamb_l1), float(lamb_entropy)
        self._layers = [_LayerHandles(layer, spec) for layer, spec in zip(model.layers, model.specs[1:])]
        # the first layer's features depend on the data and the knots only: full-batch
        # training evaluates them once per grid instead of once per evaluation
        self._input_memo, self._predict_memo, self._centred_memo = TensorMemo(), TensorMemo(), TensorMemo()

    # --- forward --------------------------------------------------------------------
    def _layer_forward(self, h: _LayerHandles, x: torch.Tensor, mask, memo: TensorMemo | None,
                       centred_memo: TensorMemo | None = None) -> _LayerPass:
        """``memo``: for the first layer, which sees data (no gradient flows to it: no
        slope map), the memo of its features; ``centred_memo``: with the penalty on, the
        memo of their :func:`_centred_inputs`."""
        basis = h.basis
        if memo is not None:
            feats, silu = memo.get(
                (x, basis.grid), lambda: (basis.expansion(x)[0], F.silu(x) if h.base_weight is not None else None))
            slope = None
        else:
            feats, slope = basis.expansion(x)  # (in, K, batch)
            silu = F.silu(x) if h.base_weight is not None else None
        n_in, n_k, n = feats.shape
        coef = h.coef if mask is None else h.coef * mask[:, :, None]
        # bias + (batch, in·K) @ (in·K, out), the features a transposed view of their
        # computed layout (no copy)
        sub = torch.addmm(h.bias, feats.view(n_in * n_k, n).T, coef.view(coef.shape[0], -1).T)
        base_weight = None
        if silu is not None:
            base_weight = h.base_weight if mask is None else h.base_weight * mask
            sub.addmm_(silu, base_weight.T)
        centred = None
        if centred_memo is not None:
            centred = centred_memo.get((x, basis.grid), lambda: _centred_inputs(feats, silu, x))
        return _LayerPass(x, feats, slope, silu, coef, base_weight, sub, centred)

    def _penalty(self, p: _LayerPass) -> float | torch.Tensor:
        """The layer's L1 + entropy penalty (a float on CPU, a 0-dim tensor elsewhere);
        keeps what its gradient needs on ``p``."""
        if p.centred is not None:  # first layer: centred edge activations in one product
            feats_c, std = p.centred
            weights = p.coef.transpose(0, 1)  # (in, out, K)
            if p.silu is not None:
                weights = torch.cat([weights, p.base_weight.T[:, :, None]], 2)
            centred = torch.bmm(weights, feats_c)  # (in, out, batch)
        else:
            centred = torch.bmm(p.coef.transpose(0, 1), p.feats)  # (in, out, batch)
            if p.silu is not None:
                centred.addcmul_(p.base_weight.T[:, :, None], p.silu.T[:, None, :])
            centred.sub_(centred.mean(2, keepdim=True))
            x_c, std = _spread(p.x)  # x_c kept for the spread's gradient
        n = centred.shape[2]
        abs_mean = torch.linalg.vector_norm(centred, 1, dim=2)  # (in, out), times n
        sign = torch.sign(centred)
        need_spread = p.centred is None  # the first layer passes no gradient on to its inputs
        if centred.device.type == "cpu" and centred.dtype in (torch.float32, torch.float64):
            # (in, out) arithmetic: a NumPy op costs ~1 µs here, a torch op ~5 µs
            value, scale, grad_spread = _magnitude_terms(
                abs_mean.numpy().astype(np.float64) / n, std.numpy().astype(np.float64), n,
                self.lamb, self.lamb_l1, self.lamb_entropy, np.log, need_spread)
            scale = torch.from_numpy(scale).to(centred.dtype)
            if need_spread:
                grad_spread = torch.from_numpy(grad_spread).to(centred.dtype)
            value = float(value)
        else:
            value, scale, grad_spread = _magnitude_terms(
                abs_mean / n, std, n, self.lamb, self.lamb_l1, self.lamb_entropy, torch.log, need_spread)
        p.penalty_grad = (sign, scale[:, :, None], grad_spread, None if p.centred is not None else (std, x_c))
        return value

    # --- backward -------------------------------------------------------------------
    def _layer_backward(self, h: _LayerHandles, p: _LayerPass, mask, grad_sub: torch.Tensor,
                        need_x: bool) -> torch.Tensor | None:
        """Write the layer's parameter gradients; return the gradient on its input (batch, in)
        when ``need_x``. grad_sub: (batch, out) = d total / d sub."""
        n_in, n_k, n = p.feats.shape
        n_out = grad_sub.shape[1]
        grad_t = grad_sub.T  # (out, batch)
        feats2 = p.feats.view(n_in * n_k, n)
        grad_coef = _product_into(h.coef, grad_t, feats2.T)
        grad_base = _product_into(h.base_weight, grad_t, p.silu) if p.silu is not None else None
        grad_feats = grad_silu = grad_x_extra = None
        if need_x:
            grad_feats = torch.mm(p.coef.view(n_out, -1).T, grad_t).view(n_in, n_k, n)
            if p.silu is not None:
                grad_silu = torch.mm(grad_sub, p.base_weight)  # (batch, in)
        if p.penalty_grad is not None and p.centred is not None:
            # Σ_b (sign − mean sign)·f = Σ_b sign·(f − mean f): through the centred features
            sign, scale, _, _ = p.penalty_grad
            grads = torch.bmm(sign, p.centred[0].transpose(1, 2)).mul_(scale)  # (in, out, K')
            grad_coef.add_(grads[:, :, :n_k].transpose(0, 1))
            if p.silu is not None:
                grad_base.add_(grads[:, :, n_k].T)
        elif p.penalty_grad is not None:
            sign, scale, grad_spread, (std, x_c) = p.penalty_grad
            grad_acts = sign.sub_(sign.mean(2, keepdim=True)).mul_(scale)  # (in, out, batch)
            grad_coef.add_(torch.bmm(grad_acts, p.feats.transpose(1, 2)).transpose(0, 1))
            if p.silu is not None:
                grad_base.add_(torch.bmm(grad_acts, p.silu.T[:, :, None])[:, :, 0].T)
            if need_x:
                grad_feats = grad_feats + torch.bmm(p.coef.permute(1, 2, 0), grad_acts)  # (in, K, batch)
                if p.silu is not None:
                    grad_silu = grad_silu + torch.bmm(p.base_weight.T[:, None, :], grad_acts)[:, 0].T
                # d spread_i / d x_bi = (x_bi − mean_i) / (batch · std_i); 0 for a constant input
                factor = torch.where(std > 0, grad_spread / (n * std.clamp_min(1e-300)), 0.0)
                grad_x_extra = x_c * factor
        if mask is not None:
            grad_coef.mul_(mask[:, :, None])
            if grad_base is not None:
                grad_base.mul_(mask)
        _sum_into(h.bias, grad_sub)
        if not need_x:
            return None
        grad_x = p.slope(grad_feats).T  # (batch, in)
        if grad_silu is not None:
            grad_x = grad_x + torch.ops.aten.silu_backward(grad_silu, p.x)
        return grad_x if grad_x_extra is None else grad_x + grad_x_extra

    # --- the objective --------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """model(x) without autograd (batch, n_out); the first layer's features of the last
        x seen are kept (fit's validation rows: once per grid, not once per step)."""
        nodes = x
        for l, h in enumerate(self._layers):
            p = self._layer_forward(h, nodes, h.mask(), memo=self._predict_memo if l == 0 else None)
            nodes = combine_nodes(p.sub, h.spec)
        return nodes

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None):
        passes, masks, nodes = [], [], x
        penalty = 0.0 if self.lamb > 0 else None
        for l, h in enumerate(self._layers):
            mask = h.mask()
            p = (self._layer_forward(h, nodes, mask, self._input_memo, self._centred_memo if self.lamb > 0 else None)
                 if l == 0 else self._layer_forward(h, nodes, mask, None))
            if penalty is not None:
                penalty = penalty + self._penalty(p)
            passes.append(p)
            masks.append(mask)
            nodes = combine_nodes(p.sub, h.spec)
        r = nodes - y
        if w is None:
            mse = (r * r).mean()
            grad = r * (2.0 / r.numel())
        else:
            w = w.to(r.dtype)
            denom = r.shape[1] * w.sum()
            mse = (w @ (r * r)).sum() / denom
            grad = r * (2.0 * w / denom)[:, None]
        if isinstance(penalty, float):
            penalty = mse.new_tensor(penalty)
        total = mse if penalty is None else mse + self.lamb * penalty
        for l in range(len(passes) - 1, -1, -1):
            h, p = self._layers[l], passes[l]
            grad_sub = _combine_backward(p.sub, h.spec, grad)
            grad = self._layer_backward(h, p, masks[l], grad_sub, need_x=l > 0)
        return total, mse, penalty


def _magnitude_terms(abs_mean, std, n: int, lamb: float, lamb_l1: float, lamb_entropy: float, log,
                     need_spread: bool):
    """One layer's L1 + entropy penalty from its edges' mean absolute centred activations
    ``abs_mean`` (in, out) and its inputs' spread ``std`` (in,), with the gradients of
    lamb · penalty: ``scale`` (in, out), the gradient on each centred activation over its
    sign, and, when ``need_spread``, the gradient on ``std`` (in,). Plain arithmetic on
    NumPy arrays or torch tensors (``log`` the matching logarithm)."""
    spread = (std + INPUT_SPREAD_EPS)[:, None]  # (in, 1)
    mag = abs_mean / spread
    mag_sum = mag.sum()
    total = mag_sum + ENTROPY_EPS
    prob = mag / total
    log_p = log(prob + ENTROPY_EPS)
    penalty = lamb_l1 * mag_sum - lamb_entropy * (prob * log_p).sum()
    # dS/dp_j = −(log(p_j + ε) + p_j/(p_j + ε)) =: s_j; dS/dmag_m = (s_m − Σ_j s_j p_j) / T
    ds_dp = -(log_p + prob / (prob + ENTROPY_EPS))
    grad_mag = (ds_dp - (ds_dp * prob).sum()) * (lamb * lamb_entropy / total) + lamb * lamb_l1
    grad_spread = -(grad_mag * abs_mean).sum(1) / spread[:, 0] ** 2 if need_spread else None
    return penalty, grad_mag / (spread * n), grad_spread


def _combine_backward(sub: torch.Tensor, spec, grad_nodes: torch.Tensor) -> torch.Tensor:
    """d/d sub from d/d nodes (batch, n_nodes) -> (batch, n_subnodes): a product node's
    gradient times the product of the other members of its group."""
    if not spec.arities:
        return grad_nodes
    cols, start = [grad_nodes[:, : spec.n_sum]], spec.n_sum
    for g, r in enumerate(spec.arities):
        group = sub[:, start:start + r]
        node_grad = grad_nodes[:, spec.n_sum + g: spec.n_sum + g + 1]
        for j in range(r):
            others = torch.cat([group[:, :j], group[:, j + 1:]], dim=1).prod(dim=1, keepdim=True)
            cols.append(node_grad * others)
        start += r
    return torch.cat(cols, dim=1)


def _product_into(param: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``param.grad`` = a @ b reshaped to param's shape, written in place when the gradient
    exists (fit's flat gradient views); returns the gradient tensor."""
    grad = param.grad
    if grad is not None and param.requires_grad:
        torch.mm(a, b, out=grad.view(a.shape[0], -1))
        return grad
    value = torch.mm(a, b).view(param.shape)
    if param.requires_grad:
        param.grad = value
    return value


def _sum_into(param: torch.Tensor, grad_sub: torch.Tensor) -> None:
    """``param.grad`` = the column sums of grad_sub (batch, out)."""
    if not param.requires_grad:
        return
    if param.grad is None:
        param.grad = grad_sub.sum(0)
    else:
        torch.sum(grad_sub, 0, out=param.grad)


__all__ = ["AnalyticObjective", "supports"]
