"""Joint refit of a (partially) snapped network: all affine constants of the symbolic
edges and the node biases together, by LBFGS on the whole-network loss.

Each symbolic edge only frees the parameters its function's ``mode`` allows (a = ±1
stays for shift-type functions, b = 0 for exp); its offset d stays 0 because the node
bias carries it (see :func:`fold_offsets`). Optionally the numeric parameters of later
layers are refitted too, so numeric edges adapt to their new, snapped inputs.

A refit given a ``deadline`` stops at the first loss evaluation after it and keeps
the best parameters evaluated so far. Each LBFGS run is charged its evaluation
allowance on the active work meter (:mod:`symkan.work`); none starts past its cutoff.

After a refit every domain-restricted edge (log, √, 1/x, ...) is checked on the data;
a refit that pushed some argument out of its domain is undone and repeated with the
offending edges' (a, b) frozen.
"""
from __future__ import annotations

import copy
import logging
import math
import time

import torch

from .. import work
from ..functions.library import get_function
from ..lbfgs import FlatLBFGS, FlatParameters, usable as flat_lbfgs_usable
from ..nn.kan import combine_nodes
from ..sample_weights import torch_mean_square, torch_weighted_var

log = logging.getLogger(__name__)

_FREE_ABC = {  # (a, b, c) freed during a joint refit; d is carried by the node bias
    "zero": (False, False, False),
    "linear": (False, False, True),
    "shift": (False, True, True),
    "scale": (True, False, True),
    "full": (True, True, True),
}


def free_mask(layer, frozen_ab: torch.Tensor | None = None) -> torch.Tensor:
    """(out, in, 4) float mask of the affine entries a joint refit may change."""
    sym = layer.symbolic
    mask = torch.zeros_like(sym.affine)
    for name, o_idx, i_idx in sym.groups(layer.mask > 0):
        mask[o_idx, i_idx, :3] = torch.tensor(_FREE_ABC[get_function(name).mode], dtype=mask.dtype, device=mask.device)
    if frozen_ab is not None:
        mask[..., :2] = mask[..., :2] * (~frozen_ab)[..., None].to(mask.dtype)
    return mask


@torch.no_grad()
def fold_offsets(model) -> None:
    """Move every symbolic edge's offset d into the bias of the node it feeds (exact)."""
    for layer in model.layers:
        sym = layer.symbolic
        alive = (sym.fixed & (layer.mask > 0)).to(sym.affine.dtype)
        layer.bias.add_((sym.affine[..., 3] * alive).sum(1).to(layer.bias.dtype))
        sym.affine[..., 3].mul_(1.0 - alive)


@torch.no_grad()
def domain_violations(model, X: torch.Tensor) -> list[tuple[int, int, int, str]]:
    """Symbolic edges whose argument a·x + b leaves the function's domain on X.
    Returns (layer, i, j, name) tuples (pykan's edge convention)."""
    out = []
    restricted = any(get_function(name).restricted
                     for layer in model.layers for name, _, _ in layer.symbolic.groups(layer.mask > 0))
    if not restricted:
        return out
    x = X
    for l, (layer, spec) in enumerate(zip(model.layers, model.specs[1:])):
        sym = layer.symbolic
        alive = sym.fixed & (layer.mask > 0)
        if alive.any():
            lo, hi = x.min(0).values, x.max(0).values
            for o, i in torch.nonzero(alive).tolist():
                fn = get_function(sym.function_name(o, i))
                if not fn.restricted:
                    continue
                a, b = float(sym.affine[o, i, 0]), float(sym.affine[o, i, 1])
                u1, u2 = a * float(lo[i]) + b, a * float(hi[i]) + b
                ok = fn.feasible(torch.tensor(min(u1, u2), dtype=torch.float64),
                                 torch.tensor(max(u1, u2), dtype=torch.float64))
                if not bool(ok):
                    out.append((l, i, o, fn.name))
        x = combine_nodes(layer(x), spec)
    return out


def mse(model, X: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """Mean squared error of model(X) against y (rows weighted by ``weight`` (n,) when
    given, :mod:`symkan.sample_weights`); inf when it is not finite."""
    with torch.no_grad():
        val = float(torch_mean_square(model(X) - y, weight))
    return val if math.isfinite(val) else math.inf


class _TimeUp(Exception):
    """Raised inside the LBFGS closure once the deadline has passed."""


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def joint_refit(model, X: torch.Tensor, y: torch.Tensor, *, numeric_layers=(), max_iter: int = 100,
                frozen_ab: list[torch.Tensor] | None = None, deadline: float | None = None,
                weight: torch.Tensor | None = None) -> float:
    """Refit symbolic constants, biases and (optionally) numeric layers in place.

    X: (n, in), y: (n, out) in the model's dtype (float64 recommended).
    ``numeric_layers``: indices of layers whose numeric edge parameters are refitted.
    ``deadline``: a ``time.monotonic()`` value after which no further loss is evaluated
    (the best parameters so far are kept; past it already, nothing is refitted); past
    the active work meter's cutoff (:mod:`symkan.work`) nothing is refitted either.
    ``weight`` (n,): the rows' weights in the loss (None: the plain mean).
    Returns the final mean squared error; a refit that does not lower the loss, or
    breaks a domain, is undone.
    """
    frozen = [torch.zeros_like(layer.symbolic.fixed) for layer in model.layers] if frozen_ab is None \
        else [f.clone() for f in frozen_ab]
    start_loss = mse(model, X, y, weight)
    for attempt in range(3):
        if _past(deadline) or work.past_cutoff():
            log.debug("joint refit: budget spent")
            return start_loss
        saved = copy.deepcopy(model.state_dict())
        loss = _lbfgs(model, X, y, numeric_layers, max_iter, frozen, deadline, weight)
        bad = domain_violations(model, X)
        if math.isfinite(loss) and loss <= start_loss and not bad:
            return loss
        model.load_state_dict(saved)
        if not bad:
            return start_loss
        for l, i, o, _ in bad:  # keep those arguments where they were and try again
            frozen[l][o, i] = True
        log.debug("refit pushed %d edge(s) out of their domain; retrying with them frozen", len(bad))
    return start_loss


def _lbfgs(model, X, y, numeric_layers, max_iter, frozen, deadline=None, weight=None) -> float:
    scale = torch_weighted_var(y, weight) if y.numel() > 1 else 1.0
    scale = scale if math.isfinite(scale) and scale > 0 else 1.0
    masks, params = [], []
    for l, layer in enumerate(model.layers):
        masks.append(free_mask(layer, frozen[l]))
        params += [layer.symbolic.affine, layer.bias]
        if l in numeric_layers:
            params += [p for name, p in layer.named_parameters()
                       if not name.startswith("symbolic.") and name != "bias"]
    chosen = {id(p) for p in params}
    previous = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():  # no gradients for what is not refitted
        p.requires_grad_(id(p) in chosen)
    try:
        return _run_lbfgs(model, X, y, params, masks, max_iter, scale, deadline, weight)
    finally:
        for p in model.parameters():
            p.requires_grad_(previous[id(p)])


def _optimizer(params, max_iter: int):
    """LBFGS over ``params`` (the loss is normalised by Var(y): stop once it changes by less
    than 1e-18 of it): the NumPy one on a flat view of them on the CPU (no torch optimizer:
    its first construction in a process imports torch._dynamo, 2-20 s), else torch's.
    Returns (optimizer, zero_grad, release)."""
    settings = dict(lr=1.0, max_iter=int(max_iter), history_size=20, tolerance_grad=1e-15, tolerance_change=1e-18)
    if FlatParameters.usable(params):
        flat = FlatParameters(params)
        if flat_lbfgs_usable(flat.flat):
            return FlatLBFGS(flat.flat, **settings), flat.zero_grad, flat.release
        flat.release()
    opt = torch.optim.LBFGS(params, line_search_fn="strong_wolfe", **settings)
    return opt, lambda: opt.zero_grad(set_to_none=False), lambda: None


def _run_lbfgs(model, X, y, params, masks, max_iter, scale, deadline=None, weight=None) -> float:
    opt, zero_grad, release = _optimizer(params, max_iter)
    best = [math.inf, None]  # with a deadline: the lowest loss evaluated and its parameters

    def closure():
        if best[1] is not None and _past(deadline):
            raise _TimeUp
        zero_grad()
        # a fully snapped layer evaluates only its symbolic edges (KANLayer's fast path)
        loss = torch_mean_square(model(X) - y, weight) / scale
        if not torch.isfinite(loss):
            return loss
        if deadline is not None and float(loss.detach()) < best[0]:
            best[:] = [float(loss.detach()), [p.detach().clone() for p in params]]
        loss.backward()
        for layer, m in zip(model.layers, masks):
            if layer.symbolic.affine.grad is not None:
                layer.symbolic.affine.grad.mul_(m)
        return loss

    work.record(int(max_iter) * 5 // 4)  # what this run may evaluate: LBFGS's max_eval (see symkan.work)
    try:
        opt.step(closure)
    except _TimeUp:  # the parameters may be a line-search trial: go back to the best seen
        log.debug("LBFGS stopped by the time budget")
        with torch.no_grad():
            for p, v in zip(params, best[1]):
                p.copy_(v)
    except (RuntimeError, IndexError) as err:
        # singular line search, or torch's strong-Wolfe search indexing an empty bracket
        # after a non-finite trial loss: keep what we have (joint_refit undoes a bad end)
        log.debug("LBFGS stopped: %s", err)
    finally:
        release()
    return mse(model, X, y, weight)
