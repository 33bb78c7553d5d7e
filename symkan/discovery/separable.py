"""Alternating least squares for separable product networks.

A separable product network ``[d, [0, [d]], 1]`` (factor j sees input j only) computes
y = g(f₁(x₁)·…·f_d(x_d)). Each factor of a feature basis is linear in its parameters
(bias, residual weight, basis coefficients) when the other factors are fixed, so the
rank-one fit y ≈ α + Π_j f_j(x_j) is a sequence of small linear least-squares problems
(alternating least squares, as for a rank-one CP tensor decomposition). Gradient
training from a random start stalls on such products when a factor must cross zero
(−B·μ·cos θ on θ ∈ [1, 5]: normalised MSE 0.03–0.39 over four seeds); ALS from
constant factors does not need to cross anything.
"""
from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F

from .. import work
from ..bases.base import FeatureBasis

log = logging.getLogger(__name__)


def is_separable_product(model) -> bool:
    """True for ``[d, [0, [d]], 1]`` networks whose first layer keeps only edge j -> j
    and whose layers use a feature basis (the ALS below applies)."""
    if len(model.layers) != 2 or model.n_outputs != 1:
        return False
    spec = model.specs[1]
    d = model.n_inputs
    if spec.n_sum != 0 or tuple(spec.arities) != (d,):
        return False
    first = model.layers[0]
    eye = torch.eye(d, dtype=first.mask.dtype, device=first.mask.device)
    return bool(torch.equal(first.mask, eye)) and all(isinstance(layer.basis, FeatureBasis)
                                                       for layer in model.layers)


def _design(layer, x: torch.Tensor, column: int) -> torch.Tensor:
    """[1, silu(x_i), B_1(x_i), …, B_K(x_i)] of input ``column``: (n, K + 1 or 2), float64."""
    feats = layer.basis.features(x)[:, column, :]
    parts = [torch.ones_like(x[:, :1])]
    if layer.residual:
        parts.append(F.silu(x[:, column : column + 1]))
    return torch.cat(parts + [feats], dim=1).to(torch.float64)


def _lstsq(a: torch.Tensor, b: torch.Tensor, ridge: float) -> torch.Tensor:
    """Ridge-regularised least squares a·w ≈ b (never fails on rank-deficient a)."""
    ata = a.T @ a
    scale = ata.diagonal().mean().clamp_min(1e-12)
    eye = torch.eye(ata.shape[0], dtype=ata.dtype, device=ata.device)
    return torch.linalg.solve(ata + ridge * scale * eye, a.T @ b)


def _write(layer, out: int, column: int, w: torch.Tensor) -> None:
    """Set edge (out, column) of ``layer`` and the bias of node ``out`` from w (see _design)."""
    layer.bias[out] = w[0]
    k = 1
    if layer.residual:
        layer.base_weight[out, column] = w[1]
        k = 2
    layer.basis.coef[out, column] = w[k:].to(layer.basis.coef.dtype)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _spent(deadline: float | None) -> str | None:
    """Which budget is spent: "time" (past ``deadline``), "work" (the active work
    meter's limit, :mod:`symkan.work`) or None."""
    return "time" if _past(deadline) else "work" if work.spent() else None


def _als(designs, target, factors, sweeps, ridge, tol, deadline=None):
    """ALS sweeps from ``factors`` (list of (n,) values), the first always, the others
    until ``deadline`` (a ``time.monotonic()`` value); -> (weights, α, normalised loss)."""
    d = len(designs)
    var = float(target.var()) if target.numel() > 1 else 1.0
    weights: list = [None] * d
    alpha = torch.zeros((), dtype=torch.float64)
    prev = loss = float("inf")
    for sweep in range(int(sweeps)):
        for j in range(d):
            rest = torch.ones_like(target)
            for k in range(d):
                if k != j:
                    rest = rest * factors[k]
            a = torch.cat([rest[:, None] * designs[j], torch.ones_like(target)[:, None]], dim=1)
            sol = _lstsq(a, target, ridge)
            weights[j], alpha = sol[:-1], sol[-1]
            factors[j] = designs[j] @ weights[j]
        # keep the factors at unit RMS (factor 0 carries the scale), so none drifts to 0 or ∞
        for j in range(1, d):
            s = factors[j].pow(2).mean().sqrt().clamp_min(1e-300)
            factors[j], weights[j] = factors[j] / s, weights[j] / s
            factors[0], weights[0] = factors[0] * s, weights[0] * s
        prod = torch.ones_like(target)
        for f in factors:
            prod = prod * f
        loss = float((alpha + prod - target).pow(2).mean()) / var
        if sweep and prev - loss <= tol * prev:
            break
        if _past(deadline):
            log.info("ALS stopped by the time budget after %d sweep(s)", sweep + 1)
            break
        prev = loss
    return weights, alpha, loss


@torch.no_grad()
def als_init(model, X: torch.Tensor, y: torch.Tensor, restarts: int = 4, sweeps: int = 100,
             ridge: float = 1e-8, tol: float = 1e-10, seed: int = 0, deadline: float | None = None) -> float:
    """Set a separable product network's parameters by alternating least squares.

    X: (n, d) inputs as the network sees them; y: (n,) or (n, 1) targets. The factors
    are fitted to y ≈ α + Π_j f_j(x_j) (first-layer grids moved to the data first), then
    the output edge g to y on the product's values. ALS from constant factors can stall
    at a saddle (II.15.4: normalised MSE 0.23, where two of three random starts reach
    2e-7), so it runs from constant factors and ``restarts`` − 1 random ones (drawn
    from a private generator seeded with ``seed``) and keeps the best. Past ``deadline``
    (a ``time.monotonic()`` value) no further sweep or start is begun, past the active
    work meter's limit (:mod:`symkan.work`; each start is charged ``sweeps``) no further
    start: the best factors so far are kept (the first start always does one sweep). Returns the
    normalised MSE of the network afterwards. Raises ValueError for networks
    :func:`is_separable_product` rejects.
    """
    if not is_separable_product(model):
        raise ValueError("als_init needs a [d, [0, [d]], 1] network with an identity first-layer mask "
                         "and a feature basis")
    first, last = model.layers
    x = X.to(first.bias.dtype)
    target = y.reshape(-1).to(torch.float64)
    var = float(target.var()) if target.numel() > 1 else 1.0
    if first.basis.supports_grid_update:
        first.basis.update_grid(x)
    d = x.shape[1]
    designs = [_design(first, x, j) for j in range(d)]
    gen = torch.Generator().manual_seed(int(seed))
    best = None
    for r in range(max(1, int(restarts))):
        spent = _spent(deadline) if r else None
        if spent:
            log.info("ALS: %s budget spent; skipping %d random start(s)", spent, int(restarts) - r)
            break
        if r == 0:
            start = [torch.ones_like(target) for _ in range(d)]
        else:
            start = [designs[j] @ torch.randn(designs[j].shape[1], generator=gen, dtype=torch.float64)
                     for j in range(d)]
        work.record(int(sweeps))  # a start is charged the sweeps it may make (see symkan.work)
        weights, _, loss = _als(designs, target, start, sweeps, ridge, tol, deadline)
        log.debug("ALS start %d: normalised MSE %.3g", r, loss)
        if best is None or loss < best[1]:
            best = (weights, loss)
    for j in range(d):
        _write(first, j, j, best[0][j])
    # the output edge g: fitted to y on the product's values (g ≈ α + identity)
    p = first(x).prod(dim=1, keepdim=True)
    if last.basis.supports_grid_update:
        last.basis.update_grid(p)
    _write(last, 0, 0, _lstsq(_design(last, p, 0), target, ridge))
    out = model(x).reshape(-1).to(torch.float64)
    return float((out - target).pow(2).mean()) / var


def start_separable(model, X: torch.Tensor, y: torch.Tensor, seed: int = 0, deadline: float | None = None) -> None:
    """Make ``model`` (width ``[d, [0, [d]], 1]``) a separable product in place: factor j
    of its product node sees input j only; then, when its layers allow
    (:func:`is_separable_product`), set its parameters by :func:`als_init` (until
    ``deadline``) — gradient training alone stalls when a factor must cross zero.
    X: (n, d), y: (n, 1)."""
    with torch.no_grad():
        model.layers[0].mask.copy_(torch.eye(model.n_inputs, dtype=model.layers[0].mask.dtype))
    if is_separable_product(model):
        nmse = als_init(model, X, y, seed=seed, deadline=deadline)
        log.info("separable %s: ALS start at normalised MSE %.3g", model.width, nmse)
