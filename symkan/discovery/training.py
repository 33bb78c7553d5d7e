"""Network stages of a rung: train → sparsify → prune (checked) → refit.

Each stage is ``stage(ctx, net, **knobs) -> net`` (see :mod:`.context`); seeds are
fixed per stage (dense training: the search's seed, sparsification: seed + 1, every
refit: seed + 2), so a rung's result depends only on the seed and the data.
"""
from __future__ import annotations

import copy
import logging
import math

import numpy as np
import torch

from ..nn import KAN
from ..pruning import prune as prune_network
from ..sample_weights import mean_square, weighted_var
from ..train import fit
from .attempt import Attempt
from .context import RungContext
from .noise import WHITE_SIGMAS, neighbour_correlation
from .separable import start_separable

log = logging.getLogger(__name__)

#: normalised held-out loss (1 − R²) below which a formula counts as exact and the
#: architecture search stops
EXACT_NMSE = 1e-9
#: ... and below which it is exact to float64 round-off: no smooth stand-in gets this
#: close (c·tanh(a·z + b) + d matches 1/(eᶻ − 1) to 1e-9, never to 1e-20), so nothing is
#: left for a snap, or a snap at other complexity weights, to improve
ROUND_OFF_NMSE = 1e-20
#: a pruned network may lose at most this factor of the dense network's held-out loss
PRUNE_TOLERANCE = 2.0
#: a sparsified network this many times the pruning allowance off its dense network
#: has erased a genuine effect: sparsification is retried ten times weaker
SPARSIFY_TOLERANCE = 10.0


def nmse(pred: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Normalised MSE (1 − R²) of pred against y, both (n,) (weighted MSE over weighted
    variance with ``weights`` (n,)); inf if pred is not finite."""
    var = weighted_var(y, weights)
    if not np.all(np.isfinite(pred)):
        return math.inf
    return mean_square(pred - y, weights) / (var if var > 0 else 1.0)


def val_nmse(ctx: RungContext, net: KAN) -> float:
    """The network's normalised loss on the held-out rows of its space."""
    space = ctx.space
    with torch.no_grad():
        pred = net(space.X_val.to(next(net.parameters()).dtype)).double().numpy()[:, 0]
    return nmse(pred, space.y_val.double().numpy()[:, 0], space.w_val)


def structure_nmse(ctx: RungContext, net: KAN, numeric_nmse: float) -> float:
    """The part of the network's held-out nmse ``numeric_nmse`` that is its own error
    rather than the data's noise: ``numeric_nmse`` times the correlation of its residuals
    between neighbouring rows (training and held-out rows of its space; :mod:`.noise`),
    at least that correlation's standard error. On noise-free data residuals are smooth
    (correlation near 1) and the nmse is kept; on σ = 0.01 data a network at the noise
    floor (nmse ~1e-4) is an oracle as accurate as its fit of the law, not of the noise."""
    space = ctx.space
    X = torch.cat([space.X, space.X_val]).double()
    with torch.no_grad():
        pred = net(X.to(next(net.parameters()).dtype)).double()[:, 0]
    r = (pred - torch.cat([space.y, space.y_val]).double()[:, 0]).numpy()
    rho = neighbour_correlation(X.numpy(), r)
    return numeric_nmse * min(1.0, max(rho, WHITE_SIGMAS / math.sqrt(max(len(r), 1))))


def trained_attempt(ctx: RungContext, net: KAN, seconds: float) -> Attempt:
    """The rung's :class:`Attempt` for its trained network ``net``: held-out nmse and its
    structure share (:func:`structure_nmse`), no formulas yet."""
    numeric = val_nmse(ctx, net)
    return Attempt(ctx.rung, net, [], numeric, seconds, structure_nmse=structure_nmse(ctx, net, numeric))


def new_network(ctx: RungContext) -> KAN:
    """The rung's untrained network (a separable rung: masked, started by ALS)."""
    s = ctx.settings
    net = KAN(ctx.rung.layers, basis=s.basis, seed=s.seed, **s.basis_options)
    if ctx.rung.separable:
        start_separable(net, ctx.space.X, ctx.space.y, seed=s.seed, deadline=ctx.budget.deadline)
    return net


def _fit(ctx: RungContext, net: KAN, seed: int, grid_every: int, lamb: float = 0.0) -> KAN:
    # a separable product's range moves a lot early in training; knots moved to it at
    # step 0 stalled the fit (train RMSE 0.37 with grid updates vs 9e-4 without on m·r·v·sin θ)
    grid = net.supports_grid_update and not ctx.rung.separable
    fit(net, ctx.space.X, ctx.space.y, steps=int(ctx.settings.steps), lamb=lamb,
        update_grid_every=grid_every if grid else None, seed=seed, callbacks=ctx.budget.stop_callbacks(),
        sample_weight=ctx.space.w)
    return net


def train(ctx: RungContext, net: KAN) -> KAN:
    """Dense training (in place), unless the budget is spent."""
    return net if ctx.budget.spent else _fit(ctx, net, ctx.settings.seed, 5)


def sparsify(ctx: RungContext, net: KAN, lamb: float) -> KAN:
    """Training with the L1 + entropy penalty of strength ``lamb`` (in place)."""
    return _fit(ctx, net, ctx.settings.seed + 1, 10, lamb)


def refit(ctx: RungContext, net: KAN) -> KAN:
    """Training after pruning (in place), unless the budget is spent."""
    return net if ctx.budget.spent else _fit(ctx, net, ctx.settings.seed + 2, 5)


def prune(ctx: RungContext, net: KAN, factor: float = 1.0) -> KAN:
    """A new, pruned network (thresholds × ``factor``)."""
    s = ctx.settings
    return prune_network(net, ctx.space.X, node_th=s.node_th * factor, edge_th=s.edge_th * factor)


def prune_checked(ctx: RungContext, net: KAN, allowed: float) -> KAN | None:
    """Prune ``net`` and refit; the result if its held-out loss is within ``allowed``
    (thresholds as set, then ten times lower), else None. Once the budget is spent the
    first pruned network is returned unchecked."""
    for factor in (1.0, 0.1):
        pruned = refit(ctx, prune(ctx, net, factor))
        if val_nmse(ctx, pruned) <= allowed or ctx.budget.spent:
            return pruned
        log.info("pruning %s to %s (thresholds x%g) lost accuracy on held-out rows", net.width, pruned.width,
                 factor)
    return None


def train_pruned(ctx: RungContext) -> KAN:
    """Train → sparsify → prune → refit the rung's network (in network units).

    Pruning is checked on the held-out rows: a pruned and refit network must stay within
    ``PRUNE_TOLERANCE`` × the dense network's held-out loss. Otherwise pruning removed
    something real (a small but genuine effect, like the relativistic factor next to a
    mass), and it is retried with thresholds ten times lower; when the sparsified network
    itself lost the accuracy (``SPARSIFY_TOLERANCE``) the whole is retried from a
    sparsification ten times weaker; then pruning is abandoned (the last sparsified,
    unpruned network is refit instead). Once the budget is spent, training stages stop
    early or are skipped. Raises FloatingPointError when training diverges.
    """
    s = ctx.settings
    model = train(ctx, new_network(ctx))
    allowed = max(PRUNE_TOLERANCE * val_nmse(ctx, model), EXACT_NMSE)
    if s.lamb <= 0:
        return prune_checked(ctx, model, allowed) or refit(ctx, model)
    # a sparsification strong enough to separate the terms of a law can also erase a
    # small genuine one (the relativistic factor beside a mass: 1 % of the variance in
    # the log space). When no pruned network keeps the accuracy and the sparsified
    # network itself is far off, try ten times weaker; not when only pruning lost it,
    # since a retry costs three training stages of the budget.
    for k, lamb in enumerate((s.lamb, s.lamb / 10)):
        sparse = sparsify(ctx, copy.deepcopy(model) if k == 0 else model, lamb)  # a retry starts from the dense net
        pruned = prune_checked(ctx, sparse, allowed)
        if pruned is not None:
            return pruned
        erased = val_nmse(ctx, sparse) > SPARSIFY_TOLERANCE * allowed
        log.info("no pruned network of %s sparsified with lamb=%g kept the held-out accuracy%s", ctx.rung, lamb,
                 " (the sparsification erased it)" if erased else "")
        if not erased or ctx.budget.spent:
            break
    return refit(ctx, sparse)
